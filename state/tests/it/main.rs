//! Integration tests for the SQLite state backend, written against the `StateStore` trait so
//! they can serve as the conformance suite for other backends.

mod concurrency;
mod journal;
mod lock;
mod resources;
mod url;

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use slipway_provider::{Address, ResourceState, ResourceStatus, Value};
use slipway_state::{LockInfo, LockRequest, SqliteStore, StateStore};

/// A fresh database path in its own temporary directory (kept alive by the returned guard).
fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nested").join("state.db");
    (dir, path)
}

fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path).expect("open store")
}

fn request(holder: &str, operation: &str) -> LockRequest {
    LockRequest {
        holder: holder.to_owned(),
        operation: operation.to_owned(),
    }
}

async fn take_lock(store: &dyn StateStore) -> LockInfo {
    store
        .lock(&request("alice@host (pid 1)", "apply"))
        .await
        .expect("lock")
}

fn resource(name: &str, deposed: Option<&str>) -> ResourceState {
    let address = Address::new("prod-use1", "aws.subnet", name);
    ResourceState {
        address: address.clone(),
        deposed: deposed.map(str::to_owned),
        cloud_id: Some(format!("subnet-{name}")),
        properties: [("cidr".to_owned(), Value::String("10.0.0.0/24".to_owned()))].into(),
        resolved: [("cidr".to_owned(), Value::String("10.0.0.0/24".to_owned()))].into(),
        outputs: [("id".to_owned(), Value::String(format!("subnet-{name}")))].into(),
        depends_on: vec![Address::new("prod-use1", "aws.vpc", "main")],
        status: ResourceStatus::Ready,
    }
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_750_000_000 + seconds).expect("valid timestamp")
}
