//! The SQLite backend: the conformance suite on a temporary database file, and what only
//! SQLite has (schema encoding, corrupt rows).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use slipway_state::{SqliteStore, StateError, StateStore};

use crate::conformance::{Backend, CrashSemantics, conformance};
use crate::{resource, take_lock};

/// A database file in its own temporary directory, removed with the backend.
pub struct SqliteBackend {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

/// A fresh, empty SQLite state location.
pub async fn backend() -> SqliteBackend {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nested").join("state.db");
    SqliteBackend { _dir: dir, path }
}

#[async_trait]
impl Backend for SqliteBackend {
    async fn client(&self) -> Box<dyn StateStore> {
        Box::new(open(&self.path))
    }

    fn crash_semantics(&self) -> CrashSemantics {
        CrashSemantics::HeldUntilForced
    }

    async fn crash(&self, client: Box<dyn StateStore>) {
        drop(client);
    }

    fn secrets(&self) -> Vec<String> {
        Vec::new()
    }
}

fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path).expect("open store")
}

conformance!(conformance, super::backend());

#[tokio::test]
async fn empty_deposed_key_is_refused_without_bumping() {
    let b = backend().await;
    let store = open(&b.path);
    let lock = take_lock(&store).await;
    assert!(matches!(
        store.put_resource(&lock, &resource("a", Some(""))).await,
        Err(StateError::Backend(_))
    ));
    assert_eq!(store.snapshot().await.unwrap().serial, 0);
}

#[tokio::test]
async fn corrupt_resource_is_named() {
    let b = backend().await;
    let store = open(&b.path);
    let lock = take_lock(&store).await;
    store
        .put_resource(&lock, &resource("a", None))
        .await
        .unwrap();
    let conn = rusqlite::Connection::open(&b.path).unwrap();
    conn.execute("UPDATE resources SET body = '{\"address\": 1}'", [])
        .unwrap();
    drop(conn);

    match store.snapshot().await {
        Err(e @ StateError::Corrupt { .. }) => {
            assert!(
                e.to_string()
                    .starts_with("corrupt state record resource `prod-use1/aws.subnet/a`"),
                "{e}"
            );
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[tokio::test]
async fn journal_sequence_starts_at_one_and_is_dense() {
    let b = backend().await;
    let store = open(&b.path);
    let lock = take_lock(&store).await;
    let entry = slipway_state::JournalEntry {
        seq: 0,
        run_id: "r".to_owned(),
        at: crate::at(0),
        address: None,
        event: slipway_state::JournalEvent::Note {
            message: "n".to_owned(),
        },
    };
    let mut seqs = Vec::new();
    for _ in 0..3 {
        seqs.push(store.append_journal(&lock, &entry).await.unwrap());
    }
    assert_eq!(seqs, vec![1, 2, 3]);
}
