//! The S3 backend against moto: the conformance suite, and what only S3 has (the lease object
//! and its renewal and takeover, compare-and-swap on ETags, bucket-versioned history, the
//! object layout, the bucket versioning requirement).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use slipway_state::{
    JournalEvent, S3Credentials, S3Location, S3Options, S3Store, StateError, StateStore, open_url,
};

use crate::conformance::{Backend, CrashSemantics, conformance};
use crate::{request, resource, take_lock};

/// Moto accepts any credentials; these are the ones every test client signs with.
const ACCESS_KEY_ID: &str = "AKIDSTATETESTS";
/// See [`ACCESS_KEY_ID`]; checked never to appear in `describe()` or errors.
const SECRET_ACCESS_KEY: &str = "moto-state-tests-key-7d41c0";

/// Short enough that lapses and renewals are seen in seconds, long enough that a renewal
/// (every third of it) never misses under a loaded 2-core machine.
const TTL: Duration = Duration::from_secs(2);

/// A fresh versioned bucket on the shared moto, with a prefix.
pub struct S3Backend {
    location: S3Location,
    admin: aws_sdk_s3::Client,
}

/// A fresh, empty S3 state location.
pub async fn backend() -> S3Backend {
    at(true).await
}

async fn at(versioned: bool) -> S3Backend {
    let url = &slipway_testkit::moto::shared().url;
    let admin = admin(url);
    let bucket = fresh_bucket(&admin, versioned).await;
    let location =
        S3Location::parse(&format!("s3://{bucket}/fleets/prod?endpoint={url}"), None).unwrap();
    S3Backend { location, admin }
}

impl S3Backend {
    fn store(&self) -> S3Store {
        S3Store::new(
            self.location.clone(),
            S3Options {
                lease_ttl: TTL,
                credentials: Some(S3Credentials {
                    access_key_id: ACCESS_KEY_ID.to_owned(),
                    secret_access_key: SECRET_ACCESS_KEY.to_owned(),
                }),
            },
        )
        .expect("store")
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.location.prefix)
    }

    /// The raw object and its ETag, read behind the store's back.
    async fn object(&self, name: &str) -> (serde_json::Value, String) {
        let out = self
            .admin
            .get_object()
            .bucket(&self.location.bucket)
            .key(self.key(name))
            .send()
            .await
            .unwrap_or_else(|e| panic!("get {name}: {e:?}"));
        let etag = out.e_tag().unwrap().to_owned();
        let body = out.body.collect().await.unwrap().to_vec();
        (serde_json::from_slice(&body).unwrap(), etag)
    }

    /// Every key under the prefix, without it.
    async fn keys(&self) -> Vec<String> {
        let out = self
            .admin
            .list_objects_v2()
            .bucket(&self.location.bucket)
            .prefix(&self.location.prefix)
            .send()
            .await
            .unwrap();
        out.contents()
            .iter()
            .map(|o| o.key().unwrap()[self.location.prefix.len()..].to_owned())
            .collect()
    }
}

#[async_trait]
impl Backend for S3Backend {
    async fn client(&self) -> Box<dyn StateStore> {
        Box::new(self.store())
    }

    fn crash_semantics(&self) -> CrashSemantics {
        CrashSemantics::ExpiresAfter(TTL)
    }

    async fn crash(&self, client: Box<dyn StateStore>) {
        // Dropping the store aborts its renewal task, as a killed process would stop renewing.
        drop(client);
    }

    fn secrets(&self) -> Vec<String> {
        vec![SECRET_ACCESS_KEY.to_owned()]
    }
}

/// A plain SDK client on moto, for setting buckets up and looking under the store.
fn admin(url: &str) -> aws_sdk_s3::Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .force_path_style(true)
        .credentials_provider(Credentials::new(
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            None,
            None,
            "tests",
        ))
        .http_client(http)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Creates a bucket no other test uses, with versioning on unless told otherwise.
async fn fresh_bucket(client: &aws_sdk_s3::Client, versioned: bool) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "slipway-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    client
        .create_bucket()
        .bucket(&name)
        .send()
        .await
        .expect("create bucket");
    if versioned {
        client
            .put_bucket_versioning()
            .bucket(&name)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .expect("enable versioning");
    }
    name
}

conformance!(conformance, super::backend());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_racing_create_the_lease_once() {
    let b = backend().await;
    let clients = [Arc::new(b.store()), Arc::new(b.store())];
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let client = Arc::clone(&clients[i % 2]);
            tokio::spawn(async move { client.lock(&request(&format!("run {i}"), "apply")).await })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(info) => winners.push(info),
            Err(StateError::Locked(_)) => {}
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");

    // The lease object says who, what for, since when, and until when.
    let (lease, _) = b.object("lock.json").await;
    let won = &winners[0];
    assert_eq!(lease["id"], won.id.as_str());
    assert_eq!(lease["holder"], won.holder.as_str());
    assert_eq!(lease["operation"], "apply");
    assert_eq!(lease["since"], won.since.to_string().as_str());
    let expires: jiff::Timestamp = lease["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(expires > jiff::Timestamp::now());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_holder_renews_its_lease() {
    let b = backend().await;
    let store = b.store();
    let held = take_lock(&store).await;
    let expiry = |lease: serde_json::Value| -> jiff::Timestamp {
        lease["expires_at"].as_str().unwrap().parse().unwrap()
    };
    let (first, first_etag) = b.object("lock.json").await;
    tokio::time::sleep(TTL).await;
    let (later, later_etag) = b.object("lock.json").await;
    assert_ne!(first_etag, later_etag, "renewal rewrote the lease");
    assert!(expiry(later.clone()) > expiry(first));
    assert_eq!(later["id"], held.id.as_str());
    store.unlock(&held).await.unwrap();
    assert!(b.keys().await.iter().all(|k| k != "lock.json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_is_taken_over_and_the_takeover_journaled() {
    let b = backend().await;
    let doomed = b.store();
    let stale = take_lock(&doomed).await;
    drop(doomed);

    let survivor = b.store();
    assert!(matches!(
        survivor.lock(&request("bob", "destroy")).await,
        Err(StateError::Locked(info)) if info == stale
    ));
    tokio::time::sleep(TTL + Duration::from_millis(200)).await;
    let taken = survivor.lock(&request("bob", "destroy")).await.unwrap();
    assert_ne!(taken.id, stale.id);
    assert_eq!(survivor.current_lock().await.unwrap(), Some(taken.clone()));

    let journal = survivor.journal(Some(&taken.id)).await.unwrap();
    assert_eq!(journal.len(), 1, "{journal:?}");
    match &journal[0].event {
        JournalEvent::Note { message } => {
            assert!(
                message.contains(&stale.id)
                    && message.contains(&taken.id)
                    && message.contains("alice@host (pid 1)")
                    && message.contains("expired"),
                "{message}"
            );
        }
        other => panic!("expected a note, got {other:?}"),
    }

    // The stale holder, back from the dead, can neither write nor unlock.
    let zombie = b.store();
    assert!(matches!(
        zombie.put_resource(&stale, &resource("a", None)).await,
        Err(StateError::LockLost(_))
    ));
    assert!(matches!(
        zombie.unlock(&stale).await,
        Err(StateError::LockLost(_))
    ));
    survivor.unlock(&taken).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_state_version_is_retrievable() {
    let b = backend().await;
    let store = b.store();
    let lock = take_lock(&store).await;
    let (a, bee) = (resource("a", None), resource("b", None));
    store.put_resource(&lock, &a).await.unwrap();
    store.put_resource(&lock, &bee).await.unwrap();
    store
        .remove_resource(&lock, &a.address, None)
        .await
        .unwrap();

    let versions = b.store().state_versions().await.unwrap();
    assert_eq!(versions.len(), 3, "{versions:?}");
    assert!(versions[0].latest && !versions[1].latest && !versions[2].latest);
    let mut seen = Vec::new();
    for v in &versions {
        let snap = store.snapshot_version(&v.version_id).await.unwrap();
        let mut names: Vec<String> = snap.resources.keys().map(ToString::to_string).collect();
        names.sort();
        seen.push((snap.serial, names));
    }
    let addr = |r: &slipway_provider::ResourceState| r.address.to_string();
    assert_eq!(
        seen,
        vec![
            (3, vec![addr(&bee)]),
            (2, vec![addr(&a), addr(&bee)]),
            (1, vec![addr(&a)]),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_based_on_an_old_etag_is_refused() {
    let b = backend().await;
    let (one, two) = (b.store(), b.store());
    let lock = take_lock(&one).await;
    one.put_resource(&lock, &resource("a", None)).await.unwrap();
    let (_, old_etag) = b.object("state.json").await;
    two.put_resource(&lock, &resource("b", None)).await.unwrap();

    // Behind the stores' backs: S3 refuses a replace conditioned on the old ETag.
    let refused = b
        .admin
        .put_object()
        .bucket(&b.location.bucket)
        .key(b.key("state.json"))
        .if_match(&old_etag)
        .body(ByteStream::from_static(b"{}"))
        .send()
        .await
        .expect_err("stale If-Match is refused");
    assert_eq!(
        refused.raw_response().map(|r| r.status().as_u16()),
        Some(412)
    );

    // `one` still holds the old ETag in its cache: its write is refused, re-read and
    // retried on top of `two`'s, losing nothing.
    assert_eq!(
        one.put_resource(&lock, &resource("c", None)).await.unwrap(),
        3
    );
    let snap = b.store().snapshot().await.unwrap();
    assert_eq!(snap.serial, 3);
    assert_eq!(snap.resources.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_are_laid_out_under_the_prefix() {
    let b = backend().await;
    let store = b.store();
    let lock = take_lock(&store).await;
    store
        .put_resource(&lock, &resource("a", None))
        .await
        .unwrap();
    let run = slipway_state::RunRecord {
        id: "run-1".to_owned(),
        operation: "apply".to_owned(),
        holder: "alice".to_owned(),
        started_at: crate::at(0),
        finished_at: None,
        outcome: None,
        blueprint_digest: "ab".repeat(32),
        git_commit: None,
        plan_digest: None,
    };
    store.begin_run(&lock, &run).await.unwrap();
    let entry = slipway_state::JournalEntry {
        seq: 0,
        run_id: "run-1".to_owned(),
        at: crate::at(1),
        address: None,
        event: JournalEvent::Note {
            message: "hello".to_owned(),
        },
    };
    assert_eq!(store.append_journal(&lock, &entry).await.unwrap(), 1);
    assert_eq!(
        b.keys().await,
        vec![
            "journal/00000000000000000001.json",
            "lock.json",
            "runs/20250615T150640.000000Z-run-1.json",
            "state.json",
        ]
    );
    let (state, _) = b.object("state.json").await;
    assert_eq!(state["format"], 1);
    assert_eq!(state["serial"], 1);
    assert_eq!(state["resources"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_need_a_versioned_bucket() {
    let b = at(false).await;
    let store = b.store();
    let err = store.lock(&request("alice", "apply")).await.unwrap_err();
    assert!(
        err.to_string().contains("does not have versioning enabled"),
        "{err}"
    );
    // Reading works: an unversioned bucket is only refused for writing.
    assert_eq!(store.snapshot().await.unwrap().serial, 0);
    assert!(b.keys().await.is_empty());
}

#[test]
fn open_url_gives_an_s3_store_that_shows_no_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_url(
        "s3://team-state/fleets/prod?region=eu-west-1&endpoint=http://127.0.0.1:9",
        dir.path(),
    )
    .unwrap();
    assert_eq!(
        store.describe(),
        "s3://team-state/fleets/prod at http://127.0.0.1:9"
    );
    assert!(matches!(
        open_url("s3://Not_A_Bucket/x", dir.path()),
        Err(StateError::BadUrl { .. })
    ));
}
