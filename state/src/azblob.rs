//! Azure Blob backend (`azblob://ACCOUNT/CONTAINER/PREFIX`): the team state in one container,
//! the fleet lock as a blob lease.
//!
//! Layout under the prefix:
//! - `lock`: the lock blob. The holder takes a lease on it (lease id = the lock id as a GUID)
//!   and writes its [`LockInfo`] as the content; unlock clears the content and releases.
//! - `state.json`: serial and every resource in one document, so a serial bump and the
//!   resource it counts are one write. While a lock is held this blob carries a lease with the
//!   same id, and every write sends that lease id and the ETag it read (`If-Match`): Azure
//!   itself refuses a write from a holder whose lock was forced or lapsed.
//! - `journal/NNNNNNNNNNNNNNNNNNNN.json`: one blob per entry, created with `If-None-Match: *`.
//! - `runs/ID.json`: one blob per run, created with `If-None-Match: *`, finished with `If-Match`.
//!
//! Previous state versions are kept as blob snapshots of `state.json`, one per lock
//! acquisition (the state as the previous holder left it), tagged with the serial and the lock
//! id; see [`AzureBlobStore::versions`]. A snapshot per write would copy the whole document for
//! every resource of an apply.
//!
//! The lease lasts [`DEFAULT_LEASE`] and a background task renews it every third of that while
//! the lock is held by this store; dropping the store stops renewing, so a crashed holder's lock
//! lapses after one lease period. Journal and run writes, which cannot carry the lease of
//! another blob, first renew the lock lease with the caller's id: that fails unless the lock is
//! still theirs. This module must never write without the caller's lease id or that check, and
//! never put a SAS signature or token in `describe()`, state, journal or messages.

mod credential;
mod location;

use std::collections::HashMap;
use std::num::NonZero;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use azure_core::Bytes;
use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::{ClientOptions, Etag, StatusCode, Transport};
use azure_storage_blob::models::{
    BlobClientAcquireLeaseOptions, BlobClientBreakLeaseOptions, BlobClientCreateSnapshotOptions,
    BlobClientCreateSnapshotResultHeaders, BlobClientDownloadOptions, BlobClientUploadOptions,
    BlobContainerClientListBlobsOptions, LeaseState, ListBlobsIncludeItem,
};
use azure_storage_blob::{BlobClient, BlobClientOptions, BlobContainerClient};
use futures::{StreamExt, TryStreamExt};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use slipway_provider::{Address, ResourceState};
use tokio::task::AbortHandle;

use self::credential::{Auth, Env, process_env};
use self::location::{ENDPOINT_ENV, Location, scrub};
use crate::lockid::new_lock_id;
use crate::{
    JournalEntry, LockInfo, LockRequest, RunOutcome, RunRecord, Snapshot, StateError, StateStore,
};

/// Lease length unless overridden: Azure's longest finite lease.
pub(crate) const DEFAULT_LEASE: Duration = Duration::from_secs(60);
/// Azure's shortest lease.
pub(crate) const MIN_LEASE: Duration = Duration::from_secs(15);

const LOCK_BLOB: &str = "lock";
const STATE_BLOB: &str = "state.json";
const JOURNAL_DIR: &str = "journal/";
const RUNS_DIR: &str = "runs/";
/// Version of the `state.json` document.
const FORMAT: u32 = 1;
/// Concurrent downloads when listing runs or journal entries.
const FETCH_PARALLEL: usize = 16;
/// Compare-and-swap attempts before a write gives up (each failure means another client with
/// the same lock wrote in between, i.e. made progress).
const CAS_ATTEMPTS: usize = 64;
/// Metadata on `state.json` snapshots.
const META_SERIAL: &str = "slipwayserial";
const META_LOCK: &str = "slipwaylock";
/// Metadata on journal blobs: the run id, percent-encoded (metadata is ASCII).
const META_RUN: &str = "slipwayrun";

/// The `state.json` document.
#[derive(Deserialize)]
struct StateDoc {
    format: u32,
    snapshot: Snapshot,
}

/// The `state.json` document, borrowed for writing.
#[derive(Serialize)]
struct StateDocRef<'a> {
    format: u32,
    snapshot: &'a Snapshot,
}

/// A previous version of the state, kept as a blob snapshot at a lock acquisition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobStateVersion {
    /// The blob snapshot id (a timestamp), to pass to [`AzureBlobStore::version`].
    pub snapshot: String,
    /// The state serial it holds.
    pub serial: u64,
    /// The lock whose acquisition took it.
    pub lock_id: String,
}

/// The state document as last read or written by this store, with its ETag.
type Cached = (Snapshot, Option<Etag>);

/// Azure Blob state store. See the module documentation for the layout and the rules.
pub struct AzureBlobStore {
    shared: Arc<Shared>,
    lease: Duration,
    /// The cached state document; the mutex also serialises this store's state writers.
    head: tokio::sync::Mutex<Option<Cached>>,
    /// The next journal sequence number to try, once known.
    journal_next: tokio::sync::Mutex<Option<u64>>,
    /// Lease renewal tasks of the locks this store took, by lock id.
    renewals: Mutex<HashMap<String, AbortHandle>>,
}

/// What the renewal tasks share with the store.
struct Shared {
    location: Location,
    sas: Option<String>,
    credential: Option<Arc<dyn TokenCredential>>,
    options: BlobClientOptions,
    lock: BlobClient,
    state: BlobClient,
}

impl std::fmt::Debug for AzureBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureBlobStore")
            .field("location", &self.shared.location.describe())
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl Drop for AzureBlobStore {
    fn drop(&mut self) {
        // A dropped store stops renewing: its locks lapse one lease period later.
        for task in self.renewals_guard().values() {
            task.abort();
        }
    }
}

impl AzureBlobStore {
    /// Opens `azblob://ACCOUNT/CONTAINER/PREFIX[?endpoint=URL]` with credentials and endpoint
    /// override from the process environment (`SLIPWAY_AZBLOB_SAS` or
    /// `AZURE_STORAGE_SAS_TOKEN`, else the Azure identity chain; `SLIPWAY_AZBLOB_ENDPOINT`).
    /// Nothing is sent until the first operation.
    pub fn from_url(url: &str) -> Result<Self, StateError> {
        Self::from_url_with_env(url, &process_env)
    }

    /// [`AzureBlobStore::from_url`] with an explicit environment lookup.
    pub fn from_url_with_env(
        url: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, StateError> {
        let env: Env<'_> = env;
        let location = Location::parse(url, env(ENDPOINT_ENV))?;
        let transport = Transport::new(Arc::new(credential::http_client()?));
        let (sas, credential) = match Auth::from_env(env, &transport) {
            Auth::Sas(sas) => (Some(sas), None),
            Auth::Token(_) if location.endpoint.scheme() != "https" => {
                return Err(StateError::BadUrl {
                    url: scrub(url),
                    reason: "a plain-http endpoint needs a SAS token in SLIPWAY_AZBLOB_SAS \
                             (Entra ID tokens are only sent over https)"
                        .to_owned(),
                });
            }
            Auth::Token(token) => (None, Some(token)),
        };
        let options = BlobClientOptions {
            client_options: ClientOptions {
                transport: Some(transport),
                ..ClientOptions::default()
            },
            ..BlobClientOptions::default()
        };
        let client = |name: &str| -> Result<BlobClient, StateError> {
            let url = location.blob_url(name, sas.as_deref())?;
            BlobClient::new(url, credential.clone(), Some(options.clone()))
                .map_err(|e| backend("cannot build the blob client", &e))
        };
        let shared = Shared {
            lock: client(LOCK_BLOB)?,
            state: client(STATE_BLOB)?,
            location,
            sas,
            credential,
            options,
        };
        Ok(Self {
            shared: Arc::new(shared),
            lease: DEFAULT_LEASE,
            head: tokio::sync::Mutex::new(None),
            journal_next: tokio::sync::Mutex::new(None),
            renewals: Mutex::new(HashMap::new()),
        })
    }

    /// Sets the lease length of the locks this store takes (renewed every third of it).
    /// Azure accepts 15 to 60 seconds.
    pub fn with_lease(mut self, lease: Duration) -> Result<Self, StateError> {
        if !(MIN_LEASE..=DEFAULT_LEASE).contains(&lease) || lease.subsec_nanos() != 0 {
            return Err(StateError::Backend(format!(
                "an Azure blob lease lasts 15 to 60 whole seconds, not {lease:?}"
            )));
        }
        self.lease = lease;
        Ok(self)
    }

    /// Previous state versions (blob snapshots of `state.json`), oldest first.
    pub async fn versions(&self) -> Result<Vec<BlobStateVersion>, StateError> {
        let items = self
            .list(
                STATE_BLOB,
                vec![
                    ListBlobsIncludeItem::Snapshots,
                    ListBlobsIncludeItem::Metadata,
                ],
            )
            .await?;
        let state_name = format!("{}{STATE_BLOB}", self.shared.location.prefix);
        let mut versions: Vec<BlobStateVersion> = items
            .into_iter()
            .filter(|item| item.name == state_name)
            .filter_map(|item| {
                let snapshot = item.snapshot?;
                let meta = |key: &str| item.metadata.get(key).cloned().unwrap_or_default();
                Some(BlobStateVersion {
                    serial: meta(META_SERIAL).parse().unwrap_or_default(),
                    lock_id: meta(META_LOCK),
                    snapshot,
                })
            })
            .collect();
        versions.sort_by(|a, b| a.snapshot.cmp(&b.snapshot));
        Ok(versions)
    }

    /// The state as kept in the blob snapshot `snapshot` (see [`AzureBlobStore::versions`]).
    pub async fn version(&self, snapshot: &str) -> Result<Snapshot, StateError> {
        let client = self
            .shared
            .state
            .with_snapshot(snapshot)
            .map_err(|e| backend("cannot address the state snapshot", &e))?;
        match download(&client).await? {
            Some((body, _)) => Ok(decode_state(&body.bytes)?),
            None => Err(StateError::Backend(format!(
                "no state version `{snapshot}`"
            ))),
        }
    }

    fn renewals_guard(&self) -> std::sync::MutexGuard<'_, HashMap<String, AbortHandle>> {
        self.renewals.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stop_renewing(&self, lock_id: &str) {
        if let Some(task) = self.renewals_guard().remove(lock_id) {
            task.abort();
        }
    }

    /// A client for blob `name` under the prefix.
    fn blob(&self, name: &str) -> Result<BlobClient, StateError> {
        let s = &self.shared;
        let url = s.location.blob_url(name, s.sas.as_deref())?;
        BlobClient::new(url, s.credential.clone(), Some(s.options.clone()))
            .map_err(|e| backend("cannot build the blob client", &e))
    }

    /// Creates the container if it does not exist (the first lock on a new location).
    async fn create_container(&self) -> Result<(), StateError> {
        let s = &self.shared;
        let url = s.location.container_url(s.sas.as_deref())?;
        let options = azure_storage_blob::BlobContainerClientOptions {
            client_options: s.options.client_options.clone(),
            ..Default::default()
        };
        let container = BlobContainerClient::new(url, s.credential.clone(), Some(options))
            .map_err(|e| backend("cannot build the container client", &e))?;
        match container.create(None).await {
            Ok(_) => Ok(()),
            Err(e) if code(&e) == Some("ContainerAlreadyExists") => Ok(()),
            Err(e) => Err(backend(
                &format!("cannot create container `{}`", s.location.container),
                &e,
            )),
        }
    }

    /// Creates an empty blob unless it exists, creating the container when needed.
    async fn create_if_absent(&self, client: &BlobClient, body: Vec<u8>) -> Result<(), StateError> {
        for _ in 0..2 {
            match client
                .upload(Bytes::from(body.clone()).into(), Some(if_absent()))
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if already_exists(&e) => return Ok(()),
                Err(e) if code(&e) == Some("ContainerNotFound") => self.create_container().await?,
                Err(e) => return Err(backend("cannot create a state blob", &e)),
            }
        }
        Err(StateError::Backend(
            "the state container vanished while it was being created".to_owned(),
        ))
    }

    /// The current lock: the lock blob's content while its lease is held.
    async fn read_lock(&self) -> Result<Option<LockInfo>, StateError> {
        // The holder writes its record just after taking the lease; an empty record under a
        // live lease means that write is in flight.
        for _ in 0..50 {
            let Some((body, _)) = download(&self.shared.lock).await? else {
                return Ok(None);
            };
            if body.lease_state != Some(LeaseState::Leased) {
                return Ok(None);
            }
            if !body.bytes.is_empty() {
                return serde_json::from_slice(&body.bytes)
                    .map(Some)
                    .map_err(|source| StateError::Corrupt {
                        what: "lock".to_owned(),
                        source,
                    });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(StateError::Backend(
            "the lock lease is held but its holder never recorded itself; \
             it lapses within a minute"
                .to_owned(),
        ))
    }

    /// Takes the lock lease with `lease_id`, creating the lock blob on first use.
    /// `Ok(false)`: someone else holds it.
    async fn acquire_lock_lease(&self, lease_id: &str) -> Result<bool, StateError> {
        for _ in 0..3 {
            match acquire(&self.shared.lock, self.lease, lease_id).await {
                Ok(()) => return Ok(true),
                Err(e) if code(&e) == Some("LeaseAlreadyPresent") => return Ok(false),
                Err(e) if is_not_found(&e) => {
                    self.create_if_absent(&self.shared.lock, Vec::new()).await?;
                }
                Err(e) => return Err(backend("cannot take the lock lease", &e)),
            }
        }
        Err(StateError::Backend(
            "the lock blob vanished while the lock was being taken".to_owned(),
        ))
    }

    /// After the lock lease: records the holder, leases `state.json` with the same id, and
    /// snapshots the state as the previous holder left it.
    async fn complete_lock(&self, info: &LockInfo, lease_id: &str) -> Result<(), StateError> {
        let record = to_json(info)?;
        let mut options = BlobClientUploadOptions {
            lease_id: Some(lease_id.to_owned()),
            ..Default::default()
        };
        options.blob_content_type = Some("application/json".to_owned());
        self.shared
            .lock
            .upload(Bytes::from(record).into(), Some(options))
            .await
            .map_err(|e| backend("cannot record the lock holder", &e))?;

        let state = &self.shared.state;
        let mut leased = false;
        for _ in 0..4 {
            match acquire(state, self.lease, lease_id).await {
                Ok(()) => {
                    leased = true;
                    break;
                }
                Err(e) if is_not_found(&e) => {
                    self.create_if_absent(state, empty_state()?).await?;
                }
                // A lapsed or forced holder's state lease: ours now that we hold the lock.
                Err(e) if is_lease_error(&e) => {
                    let options = BlobClientBreakLeaseOptions {
                        break_period: Some(0),
                        ..Default::default()
                    };
                    match state.break_lease(Some(options)).await {
                        Ok(_) => {}
                        Err(e) if is_lease_error(&e) => {}
                        Err(e) => return Err(backend("cannot break a stale state lease", &e)),
                    }
                }
                Err(e) => return Err(backend("cannot lease the state blob", &e)),
            }
        }
        if !leased {
            return Err(StateError::Backend(
                "cannot lease the state blob: another client keeps taking it".to_owned(),
            ));
        }

        let mut head = self.head.lock().await;
        let (snapshot, etag) = load_state(state).await?;
        if snapshot.serial > 0 {
            let options = BlobClientCreateSnapshotOptions {
                lease_id: Some(lease_id.to_owned()),
                metadata: Some(HashMap::from([
                    (META_SERIAL.to_owned(), snapshot.serial.to_string()),
                    (META_LOCK.to_owned(), info.id.clone()),
                ])),
                ..Default::default()
            };
            state
                .create_snapshot(Some(options))
                .await
                .map_err(|e| backend("cannot keep the previous state version", &e))?
                .snapshot()
                .map_err(|e| backend("cannot read the state snapshot id", &e))?;
        }
        *head = Some((snapshot, etag));
        Ok(())
    }

    /// Releases what a failed `lock` had taken (best effort: the lease lapses anyway).
    async fn abandon_lock(&self, lease_id: &str) {
        for client in [&self.shared.state, &self.shared.lock] {
            // Ignored: a failure here leaves a lease that lapses by itself.
            let _ = client.release_lease(lease_id.to_owned(), None).await;
        }
    }

    /// Renews the lease of `lock` and its state blob every third of the lease period until
    /// either renewal is refused or the task is aborted.
    fn start_renewing(&self, lock_id: &str, lease_id: &str) {
        let shared = Arc::clone(&self.shared);
        let lease_id = lease_id.to_owned();
        let period = self.lease / 3;
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            loop {
                ticks.tick().await;
                for client in [&shared.lock, &shared.state] {
                    match client.renew_lease(lease_id.clone(), None).await {
                        Ok(_) => {}
                        // The lock was released, forced or lapsed: nothing left to keep.
                        Err(e)
                            if e.http_status().is_some_and(|s| {
                                s != StatusCode::TooManyRequests && u16::from(s) < 500
                            }) =>
                        {
                            return;
                        }
                        // Transient (network, throttling, 5xx): try again at the next tick,
                        // well within the lease.
                        Err(_) => {}
                    }
                }
            }
        });
        self.renewals_guard()
            .insert(lock_id.to_owned(), task.abort_handle());
    }

    /// Fails with `LockLost` unless `lock` is still the held lock: renewing a lease succeeds
    /// only for its holder. Guards the writes that cannot carry the lease themselves.
    async fn fence(&self, lock: &LockInfo) -> Result<(), StateError> {
        let lease_id = lease_id(lock)?;
        match self.shared.lock.renew_lease(lease_id, None).await {
            Ok(_) => Ok(()),
            Err(e) if is_lease_error(&e) || is_not_found(&e) => {
                Err(StateError::LockLost(lock.id.clone()))
            }
            Err(e) => Err(backend("cannot check the lock", &e)),
        }
    }

    /// Applies `change` to the state document and writes it under `lock`'s lease with the
    /// ETag it was read at, rereading and reapplying when another client wrote in between.
    async fn update_state<T>(
        &self,
        lock: &LockInfo,
        mut change: impl FnMut(&mut Snapshot) -> T,
    ) -> Result<T, StateError> {
        let lease_id = lease_id(lock)?;
        let state = &self.shared.state;
        let mut head = self.head.lock().await;
        for _ in 0..CAS_ATTEMPTS {
            let (mut snapshot, etag) = match head.take() {
                Some(cached) => cached,
                None => load_state(state).await?,
            };
            let out = change(&mut snapshot);
            let body = to_json(&StateDocRef {
                format: FORMAT,
                snapshot: &snapshot,
            })?;
            let mut options = BlobClientUploadOptions {
                lease_id: Some(lease_id.clone()),
                blob_content_type: Some("application/json".to_owned()),
                ..Default::default()
            };
            match etag {
                Some(etag) => options.if_match = Some(etag),
                None => options.if_none_match = Some(Etag::from("*")),
            }
            match state
                .upload(Bytes::from(body.clone()).into(), Some(options))
                .await
            {
                Ok(written) => {
                    *head = Some((snapshot, written.etag));
                    return Ok(out);
                }
                Err(e) if is_lease_error(&e) => return Err(StateError::LockLost(lock.id.clone())),
                Err(e) if code(&e) == Some("ConditionNotMet") || already_exists(&e) => {}
                Err(e) => return Err(backend("cannot write the state", &e)),
            }
        }
        Err(StateError::Backend(format!(
            "the state kept changing under this write; gave up after {CAS_ATTEMPTS} attempts"
        )))
    }

    /// Lists blobs whose names start with `prefix + under`, with their snapshot and metadata.
    async fn list(
        &self,
        under: &str,
        include: Vec<ListBlobsIncludeItem>,
    ) -> Result<Vec<Listed>, StateError> {
        let s = &self.shared;
        let url = s.location.container_url(s.sas.as_deref())?;
        let options = azure_storage_blob::BlobContainerClientOptions {
            client_options: s.options.client_options.clone(),
            ..Default::default()
        };
        let container = BlobContainerClient::new(url, s.credential.clone(), Some(options))
            .map_err(|e| backend("cannot build the container client", &e))?;
        let options = BlobContainerClientListBlobsOptions {
            prefix: Some(format!("{}{under}", s.location.prefix)),
            include: Some(include),
            ..Default::default()
        };
        let mut pager = container
            .list_blobs(Some(options))
            .map_err(|e| backend("cannot list state blobs", &e))?;
        let mut out = Vec::new();
        loop {
            match pager.try_next().await {
                Ok(Some(item)) => {
                    let Some(name) = item.name else { continue };
                    out.push(Listed {
                        name,
                        snapshot: item.snapshot,
                        metadata: item.metadata.and_then(|m| m.values).unwrap_or_default(),
                    });
                }
                Ok(None) => return Ok(out),
                Err(e) if code(&e) == Some("ContainerNotFound") => return Ok(Vec::new()),
                Err(e) => return Err(backend("cannot list state blobs", &e)),
            }
        }
    }

    /// Downloads the named blobs (full names, as listed) concurrently, in order.
    async fn fetch_all(&self, names: Vec<String>) -> Result<Vec<(String, Bytes)>, StateError> {
        let prefix = self.shared.location.prefix.clone();
        futures::stream::iter(names)
            .map(|name| {
                let relative = name.strip_prefix(&prefix).unwrap_or(&name).to_owned();
                async move {
                    let client = self.blob(&relative)?;
                    let body = download(&client).await?;
                    Ok((name, body.map(|(b, _)| b.bytes)))
                }
            })
            .buffered(FETCH_PARALLEL)
            // A blob listed but gone by the time it is read (never deleted by us) is skipped.
            .try_filter_map(|(name, bytes)| async move { Ok(bytes.map(|b| (name, b))) })
            .try_collect()
            .await
    }

    /// The highest journal sequence number written so far (0 when none).
    async fn last_journal_seq(&self) -> Result<u64, StateError> {
        let items = self.list(JOURNAL_DIR, Vec::new()).await?;
        Ok(items
            .iter()
            .filter_map(|item| journal_seq(&item.name))
            .max()
            .unwrap_or(0))
    }
}

/// A listed blob.
struct Listed {
    name: String,
    snapshot: Option<String>,
    metadata: HashMap<String, String>,
}

/// A downloaded blob.
struct Body {
    bytes: Bytes,
    lease_state: Option<LeaseState>,
}

/// Downloads a blob in one request; `None` when it (or its container) does not exist.
async fn download(client: &BlobClient) -> Result<Option<(Body, Option<Etag>)>, StateError> {
    let options = BlobClientDownloadOptions {
        parallel: NonZero::new(1),
        ..Default::default()
    };
    let result = match client.download(Some(options)).await {
        Ok(result) => result,
        Err(e) if is_not_found(&e) => return Ok(None),
        Err(e) => return Err(backend("cannot read a state blob", &e)),
    };
    let etag = result.properties.etag.clone();
    let lease_state = result.properties.lease_state;
    let bytes = result
        .body
        .collect()
        .await
        .map_err(|e| backend("cannot read a state blob", &e))?;
    Ok(Some((Body { bytes, lease_state }, etag)))
}

/// Reads the state document and its ETag; an absent document is the empty state.
async fn load_state(client: &BlobClient) -> Result<Cached, StateError> {
    match download(client).await? {
        Some((body, etag)) => Ok((decode_state(&body.bytes)?, etag)),
        None => Ok((Snapshot::default(), None)),
    }
}

fn decode_doc(bytes: &[u8]) -> Result<StateDoc, StateError> {
    let doc: StateDoc = serde_json::from_slice(bytes).map_err(|source| StateError::Corrupt {
        what: STATE_BLOB.to_owned(),
        source,
    })?;
    if doc.format > FORMAT {
        return Err(StateError::Backend(format!(
            "{STATE_BLOB} has format {} but this build reads up to {FORMAT}; upgrade slipway",
            doc.format
        )));
    }
    Ok(doc)
}

fn decode_state(bytes: &[u8]) -> Result<Snapshot, StateError> {
    decode_doc(bytes).map(|doc| doc.snapshot)
}

fn empty_state() -> Result<Vec<u8>, StateError> {
    to_json(&StateDocRef {
        format: FORMAT,
        snapshot: &Snapshot::default(),
    })
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, StateError> {
    serde_json::to_vec(value).map_err(|e| StateError::Backend(format!("cannot encode record: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(what: String, bytes: &[u8]) -> Result<T, StateError> {
    serde_json::from_slice(bytes).map_err(|source| StateError::Corrupt { what, source })
}

/// Upload options that create the blob only if it does not exist.
fn if_absent() -> BlobClientUploadOptions<'static> {
    BlobClientUploadOptions {
        if_none_match: Some(Etag::from("*")),
        blob_content_type: Some("application/json".to_owned()),
        ..Default::default()
    }
}

async fn acquire(client: &BlobClient, lease: Duration, lease_id: &str) -> azure_core::Result<()> {
    let options = BlobClientAcquireLeaseOptions {
        proposed_lease_id: Some(lease_id.to_owned()),
        ..Default::default()
    };
    let seconds = i32::try_from(lease.as_secs()).unwrap_or(60);
    client.acquire_lease(seconds, Some(options)).await.map(drop)
}

/// The lease id of a lock: its 32 hex digits as a GUID, which is what Azure accepts. Any
/// other id cannot be a lock of this backend, so writes under it have lost the lock.
fn lease_id(lock: &LockInfo) -> Result<String, StateError> {
    guid(&lock.id).ok_or_else(|| StateError::LockLost(lock.id.clone()))
}

fn guid(id: &str) -> Option<String> {
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| {
        format!(
            "{}-{}-{}-{}-{}",
            &id[..8],
            &id[8..12],
            &id[12..16],
            &id[16..20],
            &id[20..]
        )
    })
}

/// The blob name of journal entry `seq`.
fn journal_name(seq: u64) -> String {
    format!("{JOURNAL_DIR}{seq:020}.json")
}

/// The sequence number of a listed journal blob.
fn journal_seq(name: &str) -> Option<u64> {
    let file = name.rsplit('/').next()?;
    file.strip_suffix(".json")?.parse().ok()
}

fn run_name(id: &str) -> String {
    format!("{RUNS_DIR}{id}.json")
}

fn encode_meta(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn code(e: &azure_core::Error) -> Option<&str> {
    match e.kind() {
        ErrorKind::HttpResponse { error_code, .. } => error_code.as_deref(),
        _ => None,
    }
}

fn is_not_found(e: &azure_core::Error) -> bool {
    e.http_status() == Some(StatusCode::NotFound)
}

/// A lease refused the operation (wrong id, no lease, broken, lapsed…).
fn is_lease_error(e: &azure_core::Error) -> bool {
    code(e).is_some_and(|c| c.starts_with("Lease"))
}

/// `If-None-Match: *` found the blob (Azure answers 409, some emulators 412).
fn already_exists(e: &azure_core::Error) -> bool {
    matches!(code(e), Some("BlobAlreadyExists" | "ConditionNotMet"))
        && e.http_status() != Some(StatusCode::NotFound)
}

/// A backend error with the SAS signature scrubbed out of the underlying message.
fn backend(what: &str, e: &azure_core::Error) -> StateError {
    let detail = match e.kind() {
        ErrorKind::HttpResponse {
            status, error_code, ..
        } => format!(
            "HTTP {} {}",
            u16::from(*status),
            error_code.as_deref().unwrap_or_default()
        ),
        _ => e.to_string(),
    };
    StateError::Backend(scrub(&format!("{what}: {}", detail.trim())))
}

#[async_trait]
impl StateStore for AzureBlobStore {
    fn describe(&self) -> String {
        self.shared.location.describe()
    }

    async fn lock(&self, request: &LockRequest) -> Result<LockInfo, StateError> {
        let info = LockInfo {
            id: new_lock_id(),
            holder: request.holder.clone(),
            operation: request.operation.clone(),
            since: Timestamp::now(),
        };
        let lease_id = lease_id(&info)?;
        // A lease that ends between our refused acquire and reading its holder is retried.
        for _ in 0..3 {
            if self.acquire_lock_lease(&lease_id).await? {
                if let Err(e) = self.complete_lock(&info, &lease_id).await {
                    self.abandon_lock(&lease_id).await;
                    return Err(e);
                }
                self.start_renewing(&info.id, &lease_id);
                return Ok(info);
            }
            if let Some(held) = self.read_lock().await? {
                return Err(StateError::Locked(held));
            }
        }
        Err(StateError::Backend(
            "the lock changed hands repeatedly while it was being taken; retry".to_owned(),
        ))
    }

    /// Releases `lock`: [`StateError::LockLost`] when it is no longer held (forced, lapsed or
    /// another id), so the caller learns its run was not exclusive to the end.
    async fn unlock(&self, lock: &LockInfo) -> Result<(), StateError> {
        let lease_id = lease_id(lock)?;
        self.stop_renewing(&lock.id);
        let lost = |e: azure_core::Error| {
            if is_lease_error(&e) || is_not_found(&e) {
                StateError::LockLost(lock.id.clone())
            } else {
                backend("cannot release the lock", &e)
            }
        };
        self.shared
            .state
            .release_lease(lease_id.clone(), None)
            .await
            .map_err(lost)?;
        let clear = BlobClientUploadOptions {
            lease_id: Some(lease_id.clone()),
            ..Default::default()
        };
        self.shared
            .lock
            .upload(Bytes::new().into(), Some(clear))
            .await
            .map_err(lost)?;
        self.shared
            .lock
            .release_lease(lease_id, None)
            .await
            .map_err(lost)?;
        Ok(())
    }

    async fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        let none = || StateError::NoSuchLock(id.to_owned());
        let Some((body, etag)) = download(&self.shared.lock).await? else {
            return Err(none());
        };
        if body.lease_state != Some(LeaseState::Leased) || body.bytes.is_empty() {
            return Err(none());
        }
        let held: LockInfo = from_json("lock".to_owned(), &body.bytes)?;
        if held.id != id {
            return Err(none());
        }
        // If-Match: break nothing if the lock changed hands since it was read.
        let options = BlobClientBreakLeaseOptions {
            break_period: Some(0),
            if_match: etag,
            ..Default::default()
        };
        match self.shared.lock.break_lease(Some(options)).await {
            Ok(_) => {}
            Err(e) if code(&e) == Some("ConditionNotMet") || is_lease_error(&e) => {
                return Err(none());
            }
            Err(e) => return Err(backend("cannot break the lock lease", &e)),
        }
        let options = BlobClientBreakLeaseOptions {
            break_period: Some(0),
            ..Default::default()
        };
        match self.shared.state.break_lease(Some(options)).await {
            Ok(_) => {}
            Err(e) if is_lease_error(&e) || is_not_found(&e) => {}
            Err(e) => return Err(backend("cannot break the state lease", &e)),
        }
        self.stop_renewing(id);
        Ok(())
    }

    async fn current_lock(&self) -> Result<Option<LockInfo>, StateError> {
        self.read_lock().await
    }

    async fn snapshot(&self) -> Result<Snapshot, StateError> {
        Ok(load_state(&self.shared.state).await?.0)
    }

    async fn put_resource(
        &self,
        lock: &LockInfo,
        resource: &ResourceState,
    ) -> Result<u64, StateError> {
        if resource.deposed.as_deref() == Some("") {
            return Err(StateError::Backend(
                "a deposed key must not be empty".to_owned(),
            ));
        }
        self.update_state(lock, |snapshot| {
            match &resource.deposed {
                None => {
                    snapshot
                        .resources
                        .insert(resource.address.clone(), resource.clone());
                }
                Some(key) => {
                    let at = deposed_position(&snapshot.deposed, &resource.address, key);
                    match at {
                        Ok(i) => snapshot.deposed[i] = resource.clone(),
                        Err(i) => snapshot.deposed.insert(i, resource.clone()),
                    }
                }
            }
            snapshot.serial += 1;
            snapshot.serial
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
        if deposed == Some("") {
            return Err(StateError::Backend(
                "a deposed key must not be empty".to_owned(),
            ));
        }
        self.update_state(lock, |snapshot| {
            match deposed {
                None => {
                    snapshot.resources.remove(address);
                }
                Some(key) => {
                    if let Ok(i) = deposed_position(&snapshot.deposed, address, key) {
                        snapshot.deposed.remove(i);
                    }
                }
            }
            snapshot.serial += 1;
            snapshot.serial
        })
        .await
    }

    async fn begin_run(&self, lock: &LockInfo, run: &RunRecord) -> Result<(), StateError> {
        self.fence(lock).await?;
        let client = self.blob(&run_name(&run.id))?;
        match client
            .upload(Bytes::from(to_json(run)?).into(), Some(if_absent()))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if already_exists(&e) => Err(StateError::Backend(format!(
                "cannot record run `{}`: a run with that id exists",
                run.id
            ))),
            Err(e) if code(&e) == Some("ContainerNotFound") => {
                self.create_container().await?;
                self.create_if_absent(&client, to_json(run)?).await
            }
            Err(e) => Err(backend(&format!("cannot record run `{}`", run.id), &e)),
        }
    }

    async fn finish_run(
        &self,
        lock: &LockInfo,
        run_id: &str,
        outcome: RunOutcome,
    ) -> Result<(), StateError> {
        self.fence(lock).await?;
        let client = self.blob(&run_name(run_id))?;
        for _ in 0..CAS_ATTEMPTS {
            let Some((body, etag)) = download(&client).await? else {
                return Err(StateError::Backend(format!("no run with id `{run_id}`")));
            };
            let mut run: RunRecord = from_json(format!("run `{run_id}`"), &body.bytes)?;
            run.finished_at = Some(Timestamp::now());
            run.outcome = Some(outcome);
            let options = BlobClientUploadOptions {
                if_match: etag,
                blob_content_type: Some("application/json".to_owned()),
                ..Default::default()
            };
            match client
                .upload(Bytes::from(to_json(&run)?).into(), Some(options))
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if code(&e) == Some("ConditionNotMet") => {}
                Err(e) => return Err(backend(&format!("cannot finish run `{run_id}`"), &e)),
            }
        }
        Err(StateError::Backend(format!(
            "run `{run_id}` kept changing; gave up after {CAS_ATTEMPTS} attempts"
        )))
    }

    async fn append_journal(
        &self,
        lock: &LockInfo,
        entry: &JournalEntry,
    ) -> Result<u64, StateError> {
        self.fence(lock).await?;
        let mut next = self.journal_next.lock().await;
        let mut seq = match *next {
            Some(seq) => seq,
            None => self.last_journal_seq().await? + 1,
        };
        for _ in 0..CAS_ATTEMPTS {
            let mut stored = entry.clone();
            stored.seq = seq;
            let mut options = if_absent();
            options.metadata = Some(HashMap::from([(
                META_RUN.to_owned(),
                encode_meta(&entry.run_id),
            )]));
            let client = self.blob(&journal_name(seq))?;
            match client
                .upload(Bytes::from(to_json(&stored)?).into(), Some(options))
                .await
            {
                Ok(_) => {
                    *next = Some(seq + 1);
                    return Ok(seq);
                }
                // Another client appended: continue after the newest entry.
                Err(e) if already_exists(&e) => {
                    seq = (self.last_journal_seq().await? + 1).max(seq + 1);
                }
                Err(e) if code(&e) == Some("ContainerNotFound") => {
                    self.create_container().await?;
                }
                Err(e) => return Err(backend("cannot append to the journal", &e)),
            }
        }
        Err(StateError::Backend(format!(
            "the journal kept growing under this append; gave up after {CAS_ATTEMPTS} attempts"
        )))
    }

    async fn history(&self, limit: usize) -> Result<Vec<RunRecord>, StateError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let names = self
            .list(RUNS_DIR, Vec::new())
            .await?
            .into_iter()
            .map(|item| item.name)
            .collect();
        let mut runs = self
            .fetch_all(names)
            .await?
            .into_iter()
            .map(|(name, bytes)| from_json::<RunRecord>(format!("run blob `{name}`"), &bytes))
            .collect::<Result<Vec<_>, _>>()?;
        runs.sort_by(|a, b| {
            b.started_at
                .cmp(&a.started_at)
                .then_with(|| b.id.cmp(&a.id))
        });
        runs.truncate(limit);
        Ok(runs)
    }

    async fn journal(&self, run_id: Option<&str>) -> Result<Vec<JournalEntry>, StateError> {
        let wanted = run_id.map(encode_meta);
        let mut items: Vec<(u64, String)> = self
            .list(JOURNAL_DIR, vec![ListBlobsIncludeItem::Metadata])
            .await?
            .into_iter()
            .filter(|item| {
                wanted
                    .as_ref()
                    .is_none_or(|w| item.metadata.get(META_RUN) == Some(w))
            })
            .filter_map(|item| journal_seq(&item.name).map(|seq| (seq, item.name)))
            .collect();
        items.sort_unstable();
        let names = items.into_iter().map(|(_, name)| name).collect();
        self.fetch_all(names)
            .await?
            .into_iter()
            .map(|(name, bytes)| {
                let entry: JournalEntry = from_json(format!("journal blob `{name}`"), &bytes)?;
                Ok(entry)
            })
            .filter(|entry| {
                entry
                    .as_ref()
                    .map_or(true, |e| run_id.is_none_or(|r| e.run_id == r))
            })
            .collect()
    }
}

/// Where deposed object (`address`, `key`) is, or would go, in the sorted deposed list
/// (ordered by address text, then deposed key, like every backend).
fn deposed_position(
    deposed: &[ResourceState],
    address: &Address,
    key: &str,
) -> Result<usize, usize> {
    let wanted = (address.to_string(), key);
    deposed.binary_search_by(|r| {
        (
            r.address.to_string(),
            r.deposed.as_deref().unwrap_or_default(),
        )
            .cmp(&(wanted.0.clone(), wanted.1))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_ids_map_to_lease_guids() {
        assert_eq!(
            guid("0123456789abcdef0123456789abcdef").as_deref(),
            Some("01234567-89ab-cdef-0123-456789abcdef")
        );
        assert_eq!(guid("nope"), None);
        assert_eq!(guid(&"g".repeat(32)), None);
        let lock = LockInfo {
            id: "x".to_owned(),
            holder: String::new(),
            operation: String::new(),
            since: Timestamp::UNIX_EPOCH,
        };
        assert!(matches!(lease_id(&lock), Err(StateError::LockLost(id)) if id == "x"));
    }

    #[test]
    fn journal_names_sort_by_sequence_and_parse_back() {
        assert_eq!(journal_name(7), "journal/00000000000000000007.json");
        assert!(journal_name(9) < journal_name(10));
        assert_eq!(
            journal_seq("p/q/journal/00000000000000000042.json"),
            Some(42)
        );
        assert_eq!(journal_seq("p/journal/x.json"), None);
    }

    #[test]
    fn newer_state_formats_are_refused() {
        let err = decode_state(
            br#"{"format": 2, "snapshot": {"serial": 0, "resources": {}, "deposed": []}}"#,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("format 2"), "{err}");
        assert!(matches!(
            decode_state(b"{"),
            Err(StateError::Corrupt { .. })
        ));
    }

    #[test]
    fn lease_lengths_outside_azure_limits_are_refused() {
        let env = |name: &str| (name == "SLIPWAY_AZBLOB_SAS").then(|| "sv=1&sig=abc".to_owned());
        let open = || AzureBlobStore::from_url_with_env("azblob://acct/c01/p", &env).unwrap();
        assert!(open().with_lease(Duration::from_secs(14)).is_err());
        assert!(open().with_lease(Duration::from_secs(61)).is_err());
        assert!(open().with_lease(Duration::from_millis(15_500)).is_err());
        assert_eq!(
            open().with_lease(Duration::from_secs(15)).unwrap().lease,
            MIN_LEASE
        );
        let store = open();
        assert_eq!(store.describe(), "azblob://acct/c01/p");
        assert!(!format!("{store:?}").contains("sig"));
    }

    #[test]
    fn plain_http_endpoints_need_a_sas() {
        let env = |name: &str| {
            (name == "SLIPWAY_AZBLOB_ENDPOINT")
                .then(|| "http://127.0.0.1:1/devstoreaccount1".to_owned())
        };
        let err = AzureBlobStore::from_url_with_env("azblob://devstoreaccount1/c01", &env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs a SAS token"), "{err}");
    }
}
