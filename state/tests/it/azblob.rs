//! The Azure Blob backend against Azurite: the conformance suite, and what only blob leases
//! and ETags have (the lock as a lease on two blobs, a lapsed lease refusing writes by itself,
//! a stale cached ETag never overwriting a newer state, snapshots of previous versions).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::conformance::{Backend, CrashSemantics, conformance};
use crate::{resource, take_lock};
use async_trait::async_trait;
use azure_core::error::ErrorKind;
use azure_core::http::{ClientOptions, Transport};
use azure_storage_blob::models::BlobClientGetPropertiesResultHeaders;
use azure_storage_blob::{BlobClient, BlobClientOptions};
use slipway_state::{AzureBlobStore, StateError, StateStore, open_url};
use slipway_testkit::azurite::{ACCOUNT, ACCOUNT_KEY, shared as azurite};

/// The shortest lease Azure allows, so lapses are as quick as they can be.
const LEASE: Duration = Duration::from_secs(15);

/// A fresh container (created by the store on first lock) under a prefix, on the shared Azurite.
pub struct BlobBackend {
    container: String,
    url: String,
}

/// A fresh, empty Azure Blob state location.
pub async fn backend() -> BlobBackend {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let container = format!(
        "slipway-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let url = format!("azblob://{ACCOUNT}/{container}/fleets/prod");
    BlobBackend { container, url }
}

impl BlobBackend {
    /// A store on this location, configured as a user would through the environment.
    fn open(&self) -> AzureBlobStore {
        let server = azurite();
        let env = |name: &str| match name {
            "SLIPWAY_AZBLOB_ENDPOINT" => Some(server.endpoint.clone()),
            "SLIPWAY_AZBLOB_SAS" => Some(server.sas.clone()),
            _ => None,
        };
        AzureBlobStore::from_url_with_env(&self.url, &env)
            .expect("open store")
            .with_lease(LEASE)
            .expect("lease length")
    }
}

#[async_trait]
impl Backend for BlobBackend {
    async fn client(&self) -> Box<dyn StateStore> {
        Box::new(self.open())
    }

    fn crash_semantics(&self) -> CrashSemantics {
        CrashSemantics::ExpiresAfter(LEASE)
    }

    async fn crash(&self, client: Box<dyn StateStore>) {
        // Dropping the store stops its renewals; the lease lapses by itself.
        drop(client);
    }

    fn secrets(&self) -> Vec<String> {
        let server = azurite();
        let signature = server
            .sas
            .split('&')
            .find_map(|pair| pair.strip_prefix("sig="))
            .expect("the SAS has a signature");
        vec![
            signature.to_owned(),
            server.sas.clone(),
            ACCOUNT_KEY.to_owned(),
        ]
    }
}

conformance!(conformance, super::backend());

/// A blob client of our own on Azurite, to look under the store.
fn raw_blob(container: &str, name: &str) -> BlobClient {
    let server = azurite();
    let url = format!("{}/{container}/{name}?{}", server.endpoint, server.sas);
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .expect("HTTP client");
    let options = BlobClientOptions {
        client_options: ClientOptions {
            transport: Some(Transport::new(Arc::new(http))),
            ..ClientOptions::default()
        },
        ..BlobClientOptions::default()
    };
    BlobClient::new(url.parse().expect("blob url"), None, Some(options)).expect("blob client")
}

fn error_code(e: &azure_core::Error) -> Option<String> {
    match e.kind() {
        ErrorKind::HttpResponse { error_code, .. } => error_code.clone(),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lock_is_a_lease_on_the_lock_and_state_blobs() {
    let b = backend().await;
    let store = b.open();
    let held = take_lock(&store).await;
    for name in ["fleets/prod/lock", "fleets/prod/state.json"] {
        let err = raw_blob(&b.container, name)
            .acquire_lease(15, None)
            .await
            .expect_err("a second lease is refused");
        assert_eq!(
            error_code(&err).as_deref(),
            Some("LeaseAlreadyPresent"),
            "{name}"
        );
    }
    store.unlock(&held).await.unwrap();
    // Released: anyone may lease the lock blob now.
    let raw = raw_blob(&b.container, "fleets/prod/lock");
    raw.acquire_lease(15, None)
        .await
        .expect("lease after unlock");
    match store.lock(&crate::request("bob", "apply")).await {
        Err(StateError::Locked(info)) => {
            panic!("a foreign lease without a holder record is not a slipway lock: {info:?}")
        }
        Err(StateError::Backend(message)) => {
            assert!(message.contains("never recorded itself"), "{message}");
        }
        Ok(info) => panic!("locked over a foreign lease: {info:?}"),
        Err(other) => panic!("unexpected {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lapsed_lease_refuses_writes_before_anyone_takes_over() {
    let b = backend().await;
    let doomed = b.open();
    let held = take_lock(&doomed).await;
    drop(doomed);
    tokio::time::sleep(LEASE + Duration::from_secs(2)).await;

    let zombie = b.open();
    assert_eq!(
        zombie.current_lock().await.unwrap(),
        None,
        "the lease lapsed"
    );
    assert!(matches!(
        zombie.put_resource(&held, &resource("a", None)).await,
        Err(StateError::LockLost(id)) if id == held.id
    ));
    assert_eq!(zombie.snapshot().await.unwrap().serial, 0);
    // The lapsed lease is simply acquirable.
    let next = take_lock(&zombie).await;
    assert_ne!(next.id, held.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_etag_never_overwrites_a_foreign_write() {
    let b = backend().await;
    let (mine, foreign) = (b.open(), b.open());
    let lock = take_lock(&mine).await;
    assert_eq!(
        mine.put_resource(&lock, &resource("a", None))
            .await
            .unwrap(),
        1
    );

    // Azure refuses a write conditioned on the ETag `mine` cached once `foreign` wrote.
    let raw = raw_blob(&b.container, "fleets/prod/state.json");
    let before = raw.get_properties(None).await.unwrap().etag().unwrap();
    assert_eq!(
        foreign
            .put_resource(&lock, &resource("b", None))
            .await
            .unwrap(),
        2
    );
    let options = azure_storage_blob::models::BlobClientUploadOptions {
        if_match: before,
        ..Default::default()
    };
    let refused = raw
        .upload(azure_core::Bytes::from_static(b"{}").into(), Some(options))
        .await
        .expect_err("a write under a stale ETag is refused");
    assert_eq!(
        u16::from(refused.http_status().expect("an HTTP refusal")),
        412
    );

    // So `mine` rereads instead of writing its stale copy back: nothing is lost.
    assert_eq!(
        mine.put_resource(&lock, &resource("c", None))
            .await
            .unwrap(),
        3
    );
    let snapshot = b.open().snapshot().await.unwrap();
    assert_eq!(snapshot.serial, 3);
    let names: Vec<_> = snapshot.resources.keys().map(|a| a.name.clone()).collect();
    assert_eq!(names, ["a", "b", "c"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_lock_keeps_the_previous_state_as_a_snapshot() {
    let b = backend().await;
    let store = b.open();
    let first = take_lock(&store).await;
    store
        .put_resource(&first, &resource("a", None))
        .await
        .unwrap();
    store
        .put_resource(&first, &resource("b", None))
        .await
        .unwrap();
    store.unlock(&first).await.unwrap();
    let second = take_lock(&store).await;
    store
        .remove_resource(&second, &resource("a", None).address, None)
        .await
        .unwrap();

    let versions = store.versions().await.unwrap();
    assert_eq!(versions.len(), 1, "{versions:?}");
    assert_eq!(versions[0].serial, 2);
    assert_eq!(versions[0].lock_id, second.id);
    let old = store.version(&versions[0].snapshot).await.unwrap();
    assert_eq!(old.serial, 2);
    assert_eq!(old.resources.len(), 2);
    let now = store.snapshot().await.unwrap();
    assert_eq!((now.serial, now.resources.len()), (3, 1));
    assert!(store.version("2000-01-01T00:00:00.0000000Z").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_url_dispatches_azblob_locations() {
    let dir = tempfile::tempdir().unwrap();
    // Without a SAS, an Entra ID chain is used, which never sends tokens over plain http.
    let err = match open_url(
        &format!("azblob://{ACCOUNT}/c01/p?endpoint=http://127.0.0.1:1/{ACCOUNT}"),
        dir.path(),
    ) {
        Err(e) => e.to_string(),
        Ok(store) => panic!("opened {}", store.describe()),
    };
    assert!(err.contains("needs a SAS token"), "{err}");
    let store = open_url(&format!("azblob://{ACCOUNT}/c01/p/"), dir.path()).unwrap();
    assert_eq!(store.describe(), format!("azblob://{ACCOUNT}/c01/p"));
}
