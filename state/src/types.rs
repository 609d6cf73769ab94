//! Types stored by every backend.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use slipway_provider::{Address, ResourceState};

/// A request for the fleet lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRequest {
    /// Who asks: `user@host (pid N)`.
    pub holder: String,
    /// What for: `apply`, `destroy`, `upgrade advance`…
    pub operation: String,
}

/// A held lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Unique id of this lock acquisition.
    pub id: String,
    /// Who holds it.
    pub holder: String,
    /// What for.
    pub operation: String,
    /// Since when.
    pub since: Timestamp,
}

/// Recorded resources at one serial.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// Incremented by every resource write; saved plans check it.
    pub serial: u64,
    /// Resources keyed by address; deposed objects are listed in [`Snapshot::deposed`].
    pub resources: BTreeMap<Address, ResourceState>,
    /// Old objects awaiting deletion after a create-before-destroy replacement.
    pub deposed: Vec<ResourceState>,
}

/// One run in the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Unique run id.
    pub id: String,
    /// `apply`, `destroy`…
    pub operation: String,
    /// Who ran it.
    pub holder: String,
    /// When it started.
    pub started_at: Timestamp,
    /// When it ended, if it did.
    pub finished_at: Option<Timestamp>,
    /// How it ended; `None` while running or when the run was killed.
    pub outcome: Option<RunOutcome>,
    /// SHA-256 of the blueprint sources.
    pub blueprint_digest: String,
    /// `git rev-parse HEAD` of the blueprint's repository, when inside one.
    pub git_commit: Option<String>,
    /// Digest of the plan applied.
    pub plan_digest: Option<String>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunOutcome {
    /// Everything planned succeeded.
    Succeeded,
    /// Some operations failed or were skipped.
    Failed,
}

/// One journal entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Sequence number assigned by the store (0 before appending).
    pub seq: u64,
    /// The run that wrote it.
    pub run_id: String,
    /// When.
    pub at: Timestamp,
    /// The resource concerned, if any.
    pub address: Option<Address>,
    /// What happened.
    pub event: JournalEvent,
}

/// What a journal entry records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum JournalEvent {
    /// A mutating cloud call is about to be sent.
    Intent {
        /// The cloud operation.
        operation: String,
        /// Parameters worth keeping (never credentials).
        detail: serde_json::Value,
    },
    /// A resource operation finished.
    Outcome {
        /// The engine action (`create`, `update`, `delete`…).
        action: String,
        /// Whether it succeeded.
        ok: bool,
        /// The error, when it failed.
        error: Option<String>,
    },
    /// Anything else worth keeping as evidence.
    Note {
        /// The note.
        message: String,
    },
    /// Progress of an upgrade rollout: the rollout's state is the fold of these events, so it
    /// lives wherever the journal lives and survives any runner dying between steps.
    Rollout {
        /// The rollout (its target version).
        rollout: String,
        /// The event, as the engine's rollout module defines it.
        detail: serde_json::Value,
    },
    /// A finished DR drill: its outcome and the SHA-256 digests of its evidence files, so a
    /// report altered after the fact is detectable.
    Drill {
        /// The drill id.
        drill: String,
        /// Summary and evidence digests, as the engine's DR module defines them.
        detail: serde_json::Value,
    },
}

/// State errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// Another run holds the lock.
    #[error("state is locked by {} for `{}` since {} (lock id {})", .0.holder, .0.operation, .0.since, .0.id)]
    Locked(LockInfo),
    /// A write was attempted under a lock that is no longer held.
    #[error("lock {0} is no longer held; another run may have forced it")]
    LockLost(String),
    /// `force_unlock` named a lock that is not the current one.
    #[error("no lock with id {0}")]
    NoSuchLock(String),
    /// A migration's destination already holds state.
    #[error("{0} already holds state; migrate only into an empty location")]
    NotEmpty(String),
    /// The state URL is malformed or names an unknown backend.
    #[error("invalid state location `{url}`: {reason}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// Why it is refused.
        reason: String,
    },
    /// The backend failed.
    #[error("state backend error: {0}")]
    Backend(String),
    /// Stored data could not be decoded.
    #[error("corrupt state record {what}: {source}")]
    Corrupt {
        /// Which record.
        what: String,
        /// The decode error.
        #[source]
        source: serde_json::Error,
    },
}
