//! The fleet lock as an S3 lease object: its record, and the task that renews it while held.
//! A lease is only ever written conditionally (created with `If-None-Match: *`, renewed or taken
//! over with `If-Match` on the ETag read), so this module must never write it blindly.

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use super::objects::{Bucket, Precondition, Written};
use crate::{LockInfo, StateError};

/// The body of `lock.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Lease {
    pub(super) id: String,
    pub(super) holder: String,
    pub(super) operation: String,
    pub(super) since: Timestamp,
    /// When the lease lapses unless renewed; judged by the clock of whoever reads it.
    pub(super) expires_at: Timestamp,
}

impl Lease {
    /// A lease for `lock` lasting `ttl` from now.
    pub(super) fn new(lock: &LockInfo, ttl: Duration) -> Result<Self, StateError> {
        Ok(Self {
            id: lock.id.clone(),
            holder: lock.holder.clone(),
            operation: lock.operation.clone(),
            since: lock.since,
            expires_at: expiry(ttl)?,
        })
    }

    /// The lock this lease stands for.
    pub(super) fn info(&self) -> LockInfo {
        LockInfo {
            id: self.id.clone(),
            holder: self.holder.clone(),
            operation: self.operation.clone(),
            since: self.since,
        }
    }

    /// Whether the holder stopped renewing long enough ago for anyone to take the lock.
    pub(super) fn expired(&self) -> bool {
        self.expires_at <= Timestamp::now()
    }

    pub(super) fn encode(&self) -> Result<Vec<u8>, StateError> {
        super::encode(self)
    }
}

fn expiry(ttl: Duration) -> Result<Timestamp, StateError> {
    Timestamp::now()
        .checked_add(ttl)
        .map_err(|e| StateError::Backend(format!("lease expiry out of range: {e}")))
}

/// Renews `lease` every `ttl / 3` with `If-Match` on the ETag of the last write, so that a
/// renewal can never resurrect a lease someone else took over or forced. Stops for good when
/// the lease is no longer this one; a failed call is retried at the next tick, which still
/// leaves a third of the TTL before the lease lapses.
pub(super) fn spawn_renewal(
    bucket: Bucket,
    key: String,
    mut lease: Lease,
    mut etag: String,
    ttl: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(ttl / 3).await;
            let Ok(expires_at) = expiry(ttl) else { return };
            lease.expires_at = expires_at;
            let Ok(body) = lease.encode() else { return };
            match bucket.put(&key, body, Precondition::Is(&etag)).await {
                Ok(Written::Done(stored)) => etag = stored.etag,
                Ok(Written::Conflict) => {
                    // Our own renewal may have landed with its answer lost (the SDK's retry
                    // then fails the precondition): keep going only if the lease is still ours.
                    match bucket.get_if_exists(&key).await {
                        Ok(Some(current))
                            if serde_json::from_slice::<Lease>(&current.body)
                                .is_ok_and(|held| held.id == lease.id) =>
                        {
                            etag = current.etag;
                        }
                        Ok(_) => return,
                        Err(_) => {}
                    }
                }
                Err(_) => {}
            }
        }
    })
}
