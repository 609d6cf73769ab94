//! Integration tests of the state backends: one conformance suite (`conformance`) run against
//! every backend, plus each backend's own specifics in its module. The servers (moto, Azurite,
//! PostgreSQL) come from `slipway-testkit`, one of each per test binary.

#[cfg(feature = "azblob")]
mod azblob;
mod conformance;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "s3")]
mod s3;
mod sqlite;
mod url;

use jiff::Timestamp;
use slipway_provider::{Address, ResourceState, ResourceStatus, Value};
use slipway_state::{LockInfo, LockRequest, StateStore};

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
