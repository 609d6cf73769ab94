//! Slipway state: what exists in the cloud on the fleet's behalf, who is changing it, and the
//! journal of every intent and outcome.
//!
//! All backends implement [`StateStore`]. Every write takes the [`LockInfo`] of the lock it is
//! made under and fails unless that lock is still held, so two runs can never interleave writes.
//! Backends never interpret resource properties; they store them.

#[cfg(feature = "azblob")]
mod azblob;
mod lockid;
mod migrate;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "s3")]
mod s3;
mod sqlite;
mod types;
mod url;

#[cfg(feature = "azblob")]
pub use azblob::{AzureBlobStore, BlobStateVersion};
pub use migrate::{Migration, migrate};
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "s3")]
pub use s3::{DEFAULT_LEASE_TTL, S3Credentials, S3Location, S3Options, S3Store, StateVersion};
pub use sqlite::SqliteStore;
pub use types::*;
pub use url::open_url;

use async_trait::async_trait;
use slipway_provider::{Address, ResourceState};

/// A state backend.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// A human description of where the state lives, e.g. `sqlite:/path/.slipway/state.db`.
    fn describe(&self) -> String;

    /// Takes the fleet lock; fails with [`StateError::Locked`] naming the holder when another
    /// run holds it.
    async fn lock(&self, request: &LockRequest) -> Result<LockInfo, StateError>;

    /// Releases a lock this run holds.
    async fn unlock(&self, lock: &LockInfo) -> Result<(), StateError>;

    /// Releases the lock with this id whoever holds it (`slipway state unlock --force ID`).
    async fn force_unlock(&self, id: &str) -> Result<(), StateError>;

    /// The current lock, if any.
    async fn current_lock(&self) -> Result<Option<LockInfo>, StateError>;

    /// Every recorded resource and the state serial.
    async fn snapshot(&self) -> Result<Snapshot, StateError>;

    /// Records one resource (keyed by address and deposed key), bumping the serial.
    async fn put_resource(
        &self,
        lock: &LockInfo,
        resource: &ResourceState,
    ) -> Result<u64, StateError>;

    /// Forgets one resource, bumping the serial.
    async fn remove_resource(
        &self,
        lock: &LockInfo,
        address: &Address,
        deposed: Option<&str>,
    ) -> Result<u64, StateError>;

    /// Records the start of a run in the history.
    async fn begin_run(&self, lock: &LockInfo, run: &RunRecord) -> Result<(), StateError>;

    /// Records how a run ended.
    async fn finish_run(
        &self,
        lock: &LockInfo,
        run_id: &str,
        outcome: RunOutcome,
    ) -> Result<(), StateError>;

    /// Appends a journal entry durably, returning its sequence number. Intents are appended
    /// before the mutating call they announce.
    async fn append_journal(
        &self,
        lock: &LockInfo,
        entry: &JournalEntry,
    ) -> Result<u64, StateError>;

    /// Runs, newest first, at most `limit`.
    async fn history(&self, limit: usize) -> Result<Vec<RunRecord>, StateError>;

    /// Journal entries in sequence order, optionally of one run only.
    async fn journal(&self, run_id: Option<&str>) -> Result<Vec<JournalEntry>, StateError>;
}
