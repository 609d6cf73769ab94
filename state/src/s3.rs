//! S3 backend (`s3://bucket/prefix`): the team state in one bucket, made safe for many writers
//! by S3's conditional writes alone. This module must never write an object unconditionally,
//! never write state without first checking the caller's lease is current, and never keep or
//! show credentials (they come from the standard AWS chain on every start).
//!
//! Layout under the prefix:
//! - `lock.json`: the lease ([`lease::Lease`]), created with `If-None-Match: *` and renewed,
//!   taken over or deleted with `If-Match` on its ETag;
//! - `state.json`: serial and every resource, replaced by compare-and-swap (`If-Match` on the
//!   ETag the new serial was computed from). Every version is kept by **bucket versioning**,
//!   which the store requires before it grants a lock (the lease's PUT must come back with a
//!   version id, which needs no extra permission): S3 then keeps each state atomically with
//!   its write, and [`S3Store::state_versions`] / [`S3Store::snapshot_version`] read them back.
//!   Old versions are pruned (if at all) by the bucket's lifecycle rules, not by slipway;
//! - `runs/<start>-<id>.json`: one object per run, named so that a listing is in start order;
//! - `journal/<seq>.json`: one object per entry, created with `If-None-Match: *` so that no
//!   entry is ever overwritten and each sequence number has exactly one entry.

mod lease;
mod location;
mod objects;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{Credentials, Region, SharedHttpClient};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use slipway_provider::{Address, ResourceState};
use tokio::sync::OnceCell;
use tokio::task::{JoinHandle, JoinSet};

use self::lease::{Lease, spawn_renewal};
use self::objects::{Bucket, Fetched, Precondition, Stored, Written};
use crate::lockid::new_lock_id;
use crate::{
    JournalEntry, JournalEvent, LockInfo, LockRequest, RunOutcome, RunRecord, Snapshot, StateError,
    StateStore,
};

pub use self::location::S3Location;

/// How long a lease lasts without renewal unless [`S3Options::lease_ttl`] says otherwise.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(60);
/// The shortest lease accepted: renewals every third of it must fit a round trip to S3.
const MIN_LEASE_TTL: Duration = Duration::from_secs(1);
/// Conditional writes lost to other writers before giving up. Each loss means another writer
/// made progress, so this only trips under pathological contention.
const MAX_ATTEMPTS: usize = 64;
/// Objects read at once when listing runs or the journal.
const READ_CONCURRENCY: usize = 16;
/// Version of the `state.json` layout; a newer one is refused rather than misread.
const STATE_FORMAT: u32 = 1;

const LOCK: &str = "lock.json";
const STATE: &str = "state.json";
const RUNS: &str = "runs/";
const JOURNAL: &str = "journal/";

/// Fixed credentials for S3-compatible stores outside AWS's credential chain (moto, MinIO);
/// held in memory only and never shown.
#[derive(Clone)]
pub struct S3Credentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Credentials").finish_non_exhaustive()
    }
}

/// How an [`S3Store`] behaves.
#[derive(Debug, Clone)]
pub struct S3Options {
    /// How long the lease outlives its holder's last renewal; renewed every third of it.
    pub lease_ttl: Duration,
    /// Credentials to use instead of the standard AWS chain.
    pub credentials: Option<S3Credentials>,
}

impl Default for S3Options {
    fn default() -> Self {
        Self {
            lease_ttl: DEFAULT_LEASE_TTL,
            credentials: None,
        }
    }
}

/// One stored version of the state (a bucket version of `state.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateVersion {
    /// The S3 version id, for [`S3Store::snapshot_version`].
    pub version_id: String,
    /// When it was written.
    pub last_modified: Option<Timestamp>,
    /// Whether it is the current state.
    pub latest: bool,
}

/// S3 state store.
///
/// The SDK client is built on first use (resolving region and credentials needs the async
/// runtime), so opening a store does no I/O. The last `state.json` read or written is cached
/// with its ETag: reads revalidate it with `If-None-Match`, writes compare-and-swap against
/// it, so a stale cache costs a retry, never a lost update.
pub struct S3Store {
    location: S3Location,
    options: S3Options,
    http: SharedHttpClient,
    bucket: OnceCell<Bucket>,
    /// The last known `state.json`; the mutex also serialises this store's state writers.
    state: tokio::sync::Mutex<Option<Cached>>,
    /// The next journal sequence number to try, once known.
    journal_next: tokio::sync::Mutex<Option<u64>>,
    /// Renewal tasks of the leases this store took, by lock id.
    renewals: Mutex<HashMap<String, JoinHandle<()>>>,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("location", &self.location)
            .field("lease_ttl", &self.options.lease_ttl)
            .finish_non_exhaustive()
    }
}

impl Drop for S3Store {
    /// A dropped store stops renewing: its leases lapse after their TTL, as if it crashed.
    fn drop(&mut self) {
        let renewals = self
            .renewals
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        for (_, task) in renewals.drain() {
            task.abort();
        }
    }
}

/// `state.json` as last seen: its ETag (`None` when it does not exist yet) and contents.
#[derive(Debug)]
struct Cached {
    etag: Option<String>,
    doc: StateDoc,
}

/// The state in memory, resources keyed like SQLite's rows: (address, deposed key or `""`).
#[derive(Debug, Default)]
struct StateDoc {
    serial: u64,
    resources: BTreeMap<(String, String), ResourceState>,
}

/// `state.json` on the wire.
#[derive(Serialize)]
struct StateFileOut<'a> {
    format: u32,
    serial: u64,
    resources: Vec<&'a ResourceState>,
}

#[derive(Deserialize)]
struct StateFileIn {
    format: u32,
    serial: u64,
    resources: Vec<ResourceState>,
}

impl StateDoc {
    fn encode(&self) -> Result<Vec<u8>, StateError> {
        encode(&StateFileOut {
            format: STATE_FORMAT,
            serial: self.serial,
            resources: self.resources.values().collect(),
        })
    }

    fn decode(what: impl FnOnce() -> String, body: &[u8]) -> Result<Self, StateError> {
        let file: StateFileIn = decode(what, body)?;
        if file.format > STATE_FORMAT {
            return Err(StateError::Backend(format!(
                "state format {} is newer than this build supports ({STATE_FORMAT}); upgrade slipway",
                file.format
            )));
        }
        let mut resources = BTreeMap::new();
        for r in file.resources {
            resources.insert(key_of(&r.address, r.deposed.as_deref())?, r);
        }
        Ok(Self {
            serial: file.serial,
            resources,
        })
    }

    fn snapshot(&self) -> Snapshot {
        let mut snapshot = Snapshot {
            serial: self.serial,
            ..Snapshot::default()
        };
        for r in self.resources.values() {
            if r.deposed.is_some() {
                snapshot.deposed.push(r.clone());
            } else {
                snapshot.resources.insert(r.address.clone(), r.clone());
            }
        }
        snapshot
    }
}

/// A resource's key; an empty deposed key is refused as SQLite refuses it.
fn key_of(address: &Address, deposed: Option<&str>) -> Result<(String, String), StateError> {
    match deposed {
        Some("") => Err(StateError::Backend(
            "a deposed key must not be empty".to_owned(),
        )),
        other => Ok((address.to_string(), other.unwrap_or_default().to_owned())),
    }
}

fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, StateError> {
    serde_json::to_vec(value).map_err(|e| StateError::Backend(format!("cannot encode record: {e}")))
}

fn decode<T: DeserializeOwned>(
    what: impl FnOnce() -> String,
    body: &[u8],
) -> Result<T, StateError> {
    serde_json::from_slice(body).map_err(|source| StateError::Corrupt {
        what: what(),
        source,
    })
}

fn journal_key_name(seq: u64) -> String {
    format!("{JOURNAL}{seq:020}.json")
}

/// `runs/<start>-<id>.json` with a fixed-width UTC start, so key order is start order.
fn run_key_name(run: &RunRecord) -> String {
    let start = run.started_at;
    format!(
        "{RUNS}{}.{:06}Z-{}.json",
        start.strftime("%Y%m%dT%H%M%S"),
        start.subsec_microsecond().unsigned_abs(),
        run.id
    )
}

/// Length of the start time in a run key: `YYYYMMDDTHHMMSS.ffffffZ`.
const RUN_START_LEN: usize = 23;

/// The run id in a run key's name (the key without the prefix).
fn run_id_of(name: &str) -> Option<&str> {
    name.strip_prefix(RUNS)?
        .get(RUN_START_LEN..)?
        .strip_prefix('-')?
        .strip_suffix(".json")
}

impl S3Store {
    /// A store at `location`. No I/O happens until the first call.
    pub fn new(location: S3Location, options: S3Options) -> Result<Self, StateError> {
        if options.lease_ttl < MIN_LEASE_TTL {
            return Err(StateError::Backend(format!(
                "lease TTL {:?} is shorter than the minimum {MIN_LEASE_TTL:?}",
                options.lease_ttl
            )));
        }
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        Ok(Self {
            location,
            options,
            http,
            bucket: OnceCell::new(),
            state: tokio::sync::Mutex::new(None),
            journal_next: tokio::sync::Mutex::new(None),
            renewals: Mutex::new(HashMap::new()),
        })
    }

    /// Opens `s3://BUCKET/PREFIX[?region=R&endpoint=URL]` with default options; the endpoint
    /// defaults to `SLIPWAY_S3_ENDPOINT` when set.
    pub fn from_url(url: &str) -> Result<Self, StateError> {
        let env_endpoint = std::env::var("SLIPWAY_S3_ENDPOINT").ok();
        Self::new(
            S3Location::parse(url, env_endpoint.as_deref())?,
            S3Options::default(),
        )
    }

    /// Where the state lives.
    pub fn location(&self) -> &S3Location {
        &self.location
    }

    /// Every stored version of the state, newest first.
    pub async fn state_versions(&self) -> Result<Vec<StateVersion>, StateError> {
        let bucket = self.bucket().await?;
        let versions = bucket.versions(&self.location.key(STATE)).await?;
        Ok(versions
            .into_iter()
            .map(|v| StateVersion {
                version_id: v.version_id,
                last_modified: v.last_modified,
                latest: v.latest,
            })
            .collect())
    }

    /// The state as it was in one stored version.
    pub async fn snapshot_version(&self, version_id: &str) -> Result<Snapshot, StateError> {
        let bucket = self.bucket().await?;
        let key = self.location.key(STATE);
        let body = bucket.get_version(&key, version_id).await?;
        StateDoc::decode(|| format!("`{key}` version {version_id}"), &body).map(|d| d.snapshot())
    }

    /// The bucket client, built on first use from the AWS chain (region, credentials) and
    /// the location's overrides.
    async fn bucket(&self) -> Result<&Bucket, StateError> {
        self.bucket
            .get_or_try_init(|| async {
                let mut loader =
                    aws_config::defaults(BehaviorVersion::latest()).http_client(self.http.clone());
                if let Some(region) = &self.location.region {
                    loader = loader.region(Region::new(region.clone()));
                }
                if let Some(c) = &self.options.credentials {
                    loader = loader.credentials_provider(Credentials::new(
                        c.access_key_id.clone(),
                        c.secret_access_key.clone(),
                        None,
                        None,
                        "slipway-static",
                    ));
                }
                let sdk = loader.load().await;
                let mut config = aws_sdk_s3::config::Builder::from(&sdk);
                if sdk.region().is_none() {
                    if self.location.endpoint.is_none() {
                        return Err(StateError::Backend(format!(
                            "no AWS region for {}: add `?region=` to the state URL or set AWS_REGION",
                            self.location.describe()
                        )));
                    }
                    // S3-compatible stores ignore the region but SigV4 needs one.
                    config = config.region(Region::new("us-east-1"));
                }
                if let Some(endpoint) = &self.location.endpoint {
                    // Virtual-host addressing needs DNS per bucket, which local stores lack.
                    config = config.endpoint_url(endpoint).force_path_style(true);
                }
                Ok(Bucket {
                    client: aws_sdk_s3::Client::from_conf(config.build()),
                    name: self.location.bucket.clone(),
                })
            })
            .await
    }

    /// Refuses a lease written to a bucket that does not keep versions (S3 answered no version
    /// id): the state's history would be lost. The lease just written is deleted again.
    async fn require_versioning(&self, lease: &Stored) -> Result<(), StateError> {
        if lease.versioned {
            return Ok(());
        }
        let bucket = self.bucket().await?;
        bucket.delete(&self.location.key(LOCK), &lease.etag).await?;
        Err(StateError::Backend(format!(
            "bucket `{0}` does not have versioning enabled, which slipway needs to keep every \
             state version; enable it with `aws s3api put-bucket-versioning --bucket {0} \
             --versioning-configuration Status=Enabled`",
            self.location.bucket
        )))
    }

    /// The current lease and its ETag.
    async fn read_lease(&self, bucket: &Bucket) -> Result<Option<(Lease, String)>, StateError> {
        let key = self.location.key(LOCK);
        match bucket.get_if_exists(&key).await? {
            None => Ok(None),
            Some(object) => {
                let lease: Lease = decode(|| format!("`{key}`"), &object.body)?;
                Ok(Some((lease, object.etag)))
            }
        }
    }

    /// Fails with `LockLost` unless `lock` is the current, unexpired lease.
    async fn verify_lease(&self, bucket: &Bucket, lock: &LockInfo) -> Result<(), StateError> {
        match self.read_lease(bucket).await? {
            Some((lease, _)) if lease.id == lock.id && !lease.expired() => Ok(()),
            _ => Err(StateError::LockLost(lock.id.clone())),
        }
    }

    /// Starts renewing a lease this store now holds.
    fn hold(&self, bucket: &Bucket, lease: Lease, etag: String) {
        let id = lease.id.clone();
        let task = spawn_renewal(
            bucket.clone(),
            self.location.key(LOCK),
            lease,
            etag,
            self.options.lease_ttl,
        );
        let mut renewals = self.renewals.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = renewals.insert(id, task) {
            old.abort();
        }
    }

    fn stop_renewal(&self, id: &str) {
        let task = self
            .renewals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
        if let Some(task) = task {
            task.abort();
        }
    }

    /// Deletes the lease if its id is `id`; `Ok(false)` when it is not (or there is none).
    async fn delete_lease(&self, id: &str) -> Result<bool, StateError> {
        self.stop_renewal(id);
        let bucket = self.bucket().await?;
        let key = self.location.key(LOCK);
        for _ in 0..MAX_ATTEMPTS {
            match self.read_lease(bucket).await? {
                Some((lease, etag)) if lease.id == id => {
                    // A conflict means a renewal landed after the read: read again.
                    if let Written::Done(_) = bucket.delete(&key, &etag).await? {
                        return Ok(true);
                    }
                }
                _ => return Ok(false),
            }
        }
        Err(contention(&key))
    }

    /// Writes the takeover of an expired lease into the journal, under the new lock, with the
    /// new lock id as run id: evidence of who broke whose lock and when.
    async fn journal_takeover(&self, lock: &LockInfo, stale: &Lease) -> Result<(), StateError> {
        let entry = JournalEntry {
            seq: 0,
            run_id: lock.id.clone(),
            at: Timestamp::now(),
            address: None,
            event: JournalEvent::Note {
                message: format!(
                    "lock {} taken by {} for `{}` after lock {} of {} for `{}` (since {}) \
                     expired at {} without renewal",
                    lock.id,
                    lock.holder,
                    lock.operation,
                    stale.id,
                    stale.holder,
                    stale.operation,
                    stale.since,
                    stale.expires_at
                ),
            },
        };
        self.append_journal(lock, &entry).await.map(drop)
    }

    /// Reads `state.json` in full, with the raw body.
    async fn fetch_state(&self, bucket: &Bucket) -> Result<(Cached, Vec<u8>), StateError> {
        let key = self.location.key(STATE);
        match bucket.get(&key, None).await? {
            Fetched::Found(object) => {
                let doc = StateDoc::decode(|| format!("`{key}`"), &object.body)?;
                Ok((
                    Cached {
                        etag: Some(object.etag),
                        doc,
                    },
                    object.body,
                ))
            }
            Fetched::Missing | Fetched::Unchanged => Ok((
                Cached {
                    etag: None,
                    doc: StateDoc::default(),
                },
                Vec::new(),
            )),
        }
    }

    /// Applies `change` to the state and writes it with the next serial, by compare-and-swap
    /// on the ETag it was computed from. A lost race re-reads and retries, after checking the
    /// lease again; so a write lands only on the latest state and only under the current lock.
    async fn write_state<F>(&self, lock: &LockInfo, change: F) -> Result<u64, StateError>
    where
        F: Fn(&mut StateDoc),
    {
        let bucket = self.bucket().await?;
        let key = self.location.key(STATE);
        let mut cache = self.state.lock().await;
        for _ in 0..MAX_ATTEMPTS {
            self.verify_lease(bucket, lock).await?;
            // Taken out of the cache: an error below leaves it empty, forcing a re-read.
            let mut current = match cache.take() {
                Some(cached) => cached,
                None => self.fetch_state(bucket).await?.0,
            };
            change(&mut current.doc);
            current.doc.serial += 1;
            let serial = current.doc.serial;
            let body = current.doc.encode()?;
            let precondition = match &current.etag {
                Some(etag) => Precondition::Is(etag),
                None => Precondition::Absent,
            };
            match bucket.put(&key, body.clone(), precondition).await? {
                Written::Done(stored) => {
                    current.etag = Some(stored.etag);
                    *cache = Some(current);
                    return Ok(serial);
                }
                Written::Conflict => {
                    let (latest, latest_body) = self.fetch_state(bucket).await?;
                    // Our write may have landed with its answer lost and the SDK's retry
                    // refused: then the latest state is byte for byte ours.
                    let ours = latest_body == body;
                    *cache = Some(latest);
                    if ours {
                        return Ok(serial);
                    }
                }
            }
        }
        Err(contention(&key))
    }

    /// The sequence number after the last journal entry after `after` (or `after + 1`).
    async fn journal_end(&self, bucket: &Bucket, after: u64) -> Result<u64, StateError> {
        let start = (after > 0).then(|| self.location.key(&journal_key_name(after)));
        let prefix = self.location.key(JOURNAL);
        let keys = bucket.list(&prefix, start.as_deref()).await?;
        let last = keys
            .iter()
            .filter_map(|k| self.journal_seq(k))
            .max()
            .unwrap_or(after);
        Ok(last.max(after) + 1)
    }

    fn journal_seq(&self, key: &str) -> Option<u64> {
        key.strip_prefix(&self.location.prefix)?
            .strip_prefix(JOURNAL)?
            .strip_suffix(".json")?
            .parse()
            .ok()
    }

    /// Every run key, in start order.
    async fn run_keys(&self, bucket: &Bucket) -> Result<Vec<String>, StateError> {
        bucket.list(&self.location.key(RUNS), None).await
    }

    /// The key of run `id`, if recorded.
    async fn find_run(&self, bucket: &Bucket, id: &str) -> Result<Option<String>, StateError> {
        let keys = self.run_keys(bucket).await?;
        Ok(keys.into_iter().find(|k| {
            k.strip_prefix(&self.location.prefix)
                .and_then(run_id_of)
                .is_some_and(|found| found == id)
        }))
    }
}

/// Reads `keys` with bounded concurrency, in the order given; keys gone meanwhile are skipped.
async fn get_all(bucket: &Bucket, keys: Vec<String>) -> Result<Vec<(String, Vec<u8>)>, StateError> {
    let mut found: Vec<Option<(String, Vec<u8>)>> = Vec::new();
    found.resize_with(keys.len(), || None);
    let mut tasks = JoinSet::new();
    let mut pending = keys.into_iter().enumerate();
    loop {
        while tasks.len() < READ_CONCURRENCY {
            let Some((i, key)) = pending.next() else {
                break;
            };
            let bucket = bucket.clone();
            tasks.spawn(async move {
                let object = bucket.get_if_exists(&key).await;
                (i, key, object)
            });
        }
        let Some(done) = tasks.join_next().await else {
            break;
        };
        let (i, key, object) =
            done.map_err(|e| StateError::Backend(format!("state reader failed: {e}")))?;
        if let Some(object) = object? {
            found[i] = Some((key, object.body));
        }
    }
    Ok(found.into_iter().flatten().collect())
}

fn contention(key: &str) -> StateError {
    StateError::Backend(format!(
        "gave up writing `{key}` after {MAX_ATTEMPTS} conflicting concurrent writes"
    ))
}

#[async_trait]
impl StateStore for S3Store {
    fn describe(&self) -> String {
        self.location.describe()
    }

    /// Creates the lease; an expired lease is taken over (and the takeover journaled), a live
    /// one refuses with its holder.
    async fn lock(&self, request: &LockRequest) -> Result<LockInfo, StateError> {
        let bucket = self.bucket().await?;
        let key = self.location.key(LOCK);
        let ttl = self.options.lease_ttl;
        let info = LockInfo {
            id: new_lock_id(),
            holder: request.holder.clone(),
            operation: request.operation.clone(),
            since: Timestamp::now(),
        };
        for _ in 0..MAX_ATTEMPTS {
            let lease = Lease::new(&info, ttl)?;
            if let Written::Done(stored) = bucket
                .put(&key, lease.encode()?, Precondition::Absent)
                .await?
            {
                self.require_versioning(&stored).await?;
                self.hold(bucket, lease, stored.etag);
                return Ok(info);
            }
            let Some((held, etag)) = self.read_lease(bucket).await? else {
                continue; // released since: try again
            };
            if held.id == info.id {
                // Our create landed; the SDK's retry of it was refused.
                self.hold(bucket, held, etag);
                return Ok(info);
            }
            if !held.expired() {
                return Err(StateError::Locked(held.info()));
            }
            let lease = Lease::new(&info, ttl)?;
            if let Written::Done(stored) = bucket
                .put(&key, lease.encode()?, Precondition::Is(&etag))
                .await?
            {
                self.require_versioning(&stored).await?;
                self.hold(bucket, lease, stored.etag);
                if let Err(e) = self.journal_takeover(&info, &held).await {
                    // No evidence, no lock: release it rather than run unrecorded.
                    let _ = self.delete_lease(&info.id).await;
                    return Err(e);
                }
                return Ok(info);
            }
        }
        Err(contention(&key))
    }

    /// Deletes the lease with `If-Match`; `LockLost` when it is no longer `lock`.
    async fn unlock(&self, lock: &LockInfo) -> Result<(), StateError> {
        if self.delete_lease(&lock.id).await? {
            Ok(())
        } else {
            Err(StateError::LockLost(lock.id.clone()))
        }
    }

    async fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        if self.delete_lease(id).await? {
            Ok(())
        } else {
            Err(StateError::NoSuchLock(id.to_owned()))
        }
    }

    /// The lease, even when expired: it is the lock until someone takes it over.
    async fn current_lock(&self) -> Result<Option<LockInfo>, StateError> {
        let bucket = self.bucket().await?;
        Ok(self
            .read_lease(bucket)
            .await?
            .map(|(lease, _)| lease.info()))
    }

    async fn snapshot(&self) -> Result<Snapshot, StateError> {
        let bucket = self.bucket().await?;
        let key = self.location.key(STATE);
        let mut cache = self.state.lock().await;
        let known = cache.as_ref().and_then(|c| c.etag.clone());
        match bucket.get(&key, known.as_deref()).await? {
            Fetched::Unchanged => {}
            Fetched::Missing => {
                *cache = Some(Cached {
                    etag: None,
                    doc: StateDoc::default(),
                });
            }
            Fetched::Found(object) => {
                let doc = StateDoc::decode(|| format!("`{key}`"), &object.body)?;
                *cache = Some(Cached {
                    etag: Some(object.etag),
                    doc,
                });
            }
        }
        Ok(cache.as_ref().map(|c| c.doc.snapshot()).unwrap_or_default())
    }

    async fn put_resource(
        &self,
        lock: &LockInfo,
        resource: &ResourceState,
    ) -> Result<u64, StateError> {
        let key = key_of(&resource.address, resource.deposed.as_deref())?;
        self.write_state(lock, |doc| {
            doc.resources.insert(key.clone(), resource.clone());
        })
        .await
    }

    /// Removing what is not recorded still bumps the serial, as in every backend.
    async fn remove_resource(
        &self,
        lock: &LockInfo,
        address: &Address,
        deposed: Option<&str>,
    ) -> Result<u64, StateError> {
        let key = key_of(address, deposed)?;
        self.write_state(lock, |doc| {
            doc.resources.remove(&key);
        })
        .await
    }

    async fn begin_run(&self, lock: &LockInfo, run: &RunRecord) -> Result<(), StateError> {
        if run.id.is_empty() || run.id.contains('/') {
            return Err(StateError::Backend(format!(
                "run id `{}` must be non-empty and contain no `/`",
                run.id
            )));
        }
        let bucket = self.bucket().await?;
        self.verify_lease(bucket, lock).await?;
        let taken =
            || StateError::Backend(format!("cannot record run `{}`: id already used", run.id));
        if self.find_run(bucket, &run.id).await?.is_some() {
            return Err(taken());
        }
        let key = self.location.key(&run_key_name(run));
        match bucket.put(&key, encode(run)?, Precondition::Absent).await? {
            Written::Done(_) => Ok(()),
            Written::Conflict => Err(taken()),
        }
    }

    async fn finish_run(
        &self,
        lock: &LockInfo,
        run_id: &str,
        outcome: RunOutcome,
    ) -> Result<(), StateError> {
        let bucket = self.bucket().await?;
        self.verify_lease(bucket, lock).await?;
        let key = self
            .find_run(bucket, run_id)
            .await?
            .ok_or_else(|| StateError::Backend(format!("no run with id `{run_id}`")))?;
        for _ in 0..MAX_ATTEMPTS {
            let object = bucket
                .get_if_exists(&key)
                .await?
                .ok_or_else(|| StateError::Backend(format!("no run with id `{run_id}`")))?;
            let mut run: RunRecord = decode(|| format!("run `{run_id}`"), &object.body)?;
            run.finished_at = Some(Timestamp::now());
            run.outcome = Some(outcome);
            if let Written::Done(_) = bucket
                .put(&key, encode(&run)?, Precondition::Is(&object.etag))
                .await?
            {
                return Ok(());
            }
            self.verify_lease(bucket, lock).await?;
        }
        Err(contention(&key))
    }

    /// Claims the next free sequence number by creating its object with `If-None-Match: *`;
    /// losing the claim to another client moves past everything it wrote.
    async fn append_journal(
        &self,
        lock: &LockInfo,
        entry: &JournalEntry,
    ) -> Result<u64, StateError> {
        let bucket = self.bucket().await?;
        self.verify_lease(bucket, lock).await?;
        let mut entry = entry.clone();
        for _ in 0..MAX_ATTEMPTS {
            let seq = {
                let mut next = self.journal_next.lock().await;
                let seq = match *next {
                    Some(seq) => seq,
                    None => self.journal_end(bucket, 0).await?,
                };
                *next = Some(seq + 1);
                seq
            };
            entry.seq = seq;
            let body = encode(&entry)?;
            let key = self.location.key(&journal_key_name(seq));
            if let Written::Done(_) = bucket.put(&key, body.clone(), Precondition::Absent).await? {
                return Ok(seq);
            }
            // Our create may have landed with its answer lost: then the entry there is ours.
            if bucket
                .get_if_exists(&key)
                .await?
                .is_some_and(|existing| existing.body == body)
            {
                return Ok(seq);
            }
            let end = self.journal_end(bucket, seq).await?;
            let mut next = self.journal_next.lock().await;
            *next = Some(next.map_or(end, |n| n.max(end)));
        }
        Err(contention(&self.location.key(JOURNAL)))
    }

    async fn history(&self, limit: usize) -> Result<Vec<RunRecord>, StateError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let bucket = self.bucket().await?;
        let mut keys = self.run_keys(bucket).await?;
        keys.reverse();
        keys.truncate(limit);
        get_all(bucket, keys)
            .await?
            .into_iter()
            .map(|(key, body)| decode(|| format!("run `{key}`"), &body))
            .collect()
    }

    async fn journal(&self, run_id: Option<&str>) -> Result<Vec<JournalEntry>, StateError> {
        let bucket = self.bucket().await?;
        let mut keyed: Vec<(u64, String)> = bucket
            .list(&self.location.key(JOURNAL), None)
            .await?
            .into_iter()
            .filter_map(|k| Some((self.journal_seq(&k)?, k)))
            .collect();
        keyed.sort_unstable();
        let keys = keyed.into_iter().map(|(_, k)| k).collect();
        let mut entries = Vec::new();
        for (key, body) in get_all(bucket, keys).await? {
            let mut entry: JournalEntry = decode(|| format!("journal entry `{key}`"), &body)?;
            if let Some(seq) = self.journal_seq(&key) {
                entry.seq = seq;
            }
            if run_id.is_none_or(|id| id == entry.run_id) {
                entries.push(entry);
            }
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, started: Timestamp) -> RunRecord {
        RunRecord {
            id: id.to_owned(),
            operation: "apply".to_owned(),
            holder: "h".to_owned(),
            started_at: started,
            finished_at: None,
            outcome: None,
            blueprint_digest: String::new(),
            git_commit: None,
            plan_digest: None,
        }
    }

    #[test]
    fn run_keys_sort_by_start_and_give_back_the_id() {
        let early: Timestamp = "2025-06-15T12:00:00Z".parse().unwrap();
        let later: Timestamp = "2025-06-15T12:00:00.5Z".parse().unwrap();
        let a = run_key_name(&run("zz-9", early));
        let b = run_key_name(&run("aa-1", later));
        assert_eq!(a, "runs/20250615T120000.000000Z-zz-9.json");
        assert!(a < b);
        assert_eq!(run_id_of(&a), Some("zz-9"));
        assert_eq!(run_id_of(&b), Some("aa-1"));
        assert_eq!(run_id_of("runs/short-x.json"), None);
    }

    #[test]
    fn journal_keys_sort_numerically() {
        assert!(journal_key_name(9) < journal_key_name(10));
        assert_eq!(journal_key_name(1), "journal/00000000000000000001.json");
    }

    #[test]
    fn state_doc_round_trips_and_refuses_newer_formats() {
        let body = br#"{"format":1,"serial":7,"resources":[]}"#;
        let doc = StateDoc::decode(|| "s".to_owned(), body).unwrap();
        assert_eq!(doc.serial, 7);
        assert_eq!(doc.encode().unwrap(), body.to_vec());
        let newer = br#"{"format":2,"serial":7,"resources":[]}"#;
        let err = StateDoc::decode(|| "s".to_owned(), newer).unwrap_err();
        assert!(err.to_string().contains("newer than this build"), "{err}");
        assert!(matches!(
            StateDoc::decode(|| "s".to_owned(), b"{"),
            Err(StateError::Corrupt { .. })
        ));
    }

    #[test]
    fn short_leases_and_credentials_in_debug_are_refused() {
        let location = S3Location::parse("s3://b12/p", None).unwrap();
        let options = S3Options {
            lease_ttl: Duration::from_millis(10),
            credentials: Some(S3Credentials {
                access_key_id: "AKIDEXAMPLE".to_owned(),
                secret_access_key: "hunter2".to_owned(),
            }),
        };
        assert!(!format!("{options:?}").contains("hunter2"));
        assert!(S3Store::new(location, options).is_err());
    }
}
