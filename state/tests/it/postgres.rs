//! The PostgreSQL backend against the testkit's server: one server per test binary, one
//! database per test.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use slipway_state::{PostgresStore, StateError, StateStore, open_url};
use slipway_testkit::postgres::shared as server;

use crate::conformance::{Backend, CrashSemantics, conformance};
use crate::{request, resource, take_lock};

fn url(database: &str, namespace: &str) -> String {
    server().url(database, namespace)
}

/// A new empty database on the shared server.
fn database() -> String {
    server().create_database()
}

/// `url` as the store shows it: without the password.
fn shown(url: &str) -> String {
    url.replacen(&format!(":{}@", server().password()), "@", 1)
}

/// One database on the shared server, one namespace in it.
pub struct PostgresBackend {
    url: String,
}

/// A fresh, empty PostgreSQL state location.
pub async fn backend() -> PostgresBackend {
    PostgresBackend {
        url: url(&database(), "fleet"),
    }
}

#[async_trait]
impl Backend for PostgresBackend {
    async fn client(&self) -> Box<dyn StateStore> {
        Box::new(
            PostgresStore::connect(&self.url)
                .await
                .unwrap_or_else(|e| panic!("connect: {e}")),
        )
    }

    fn crash_semantics(&self) -> CrashSemantics {
        CrashSemantics::ReleasedOnDisconnect
    }

    /// Dropping the store closes its connections, as the kernel does for a killed process.
    async fn crash(&self, client: Box<dyn StateStore>) {
        drop(client);
    }

    fn secrets(&self) -> Vec<String> {
        vec![server().password().to_owned()]
    }
}

conformance!(conformance, super::backend());

async fn admin(database: &str) -> tokio_postgres::Client {
    // tokio-postgres takes the store's URL without the store's own `namespace` parameter.
    let url = url(database, "-");
    let config = url.split('?').next().expect("a URL");
    let (client, connection) = tokio_postgres::connect(config, tokio_postgres::NoTls)
        .await
        .expect("admin connection");
    tokio::spawn(connection);
    client
}

#[tokio::test]
async fn newer_schema_is_refused() {
    let db = database();
    drop(PostgresStore::connect(&url(&db, "a")).await.unwrap());
    admin(&db)
        .await
        .batch_execute("UPDATE slipway_schema SET version = 99")
        .await
        .unwrap();
    let err = PostgresStore::connect(&url(&db, "a")).await.unwrap_err();
    assert!(
        err.to_string().contains("schema version 99 is newer"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_in_one_database_are_independent() {
    let db = database();
    // Concurrent first connections: the migration runs once.
    let (prod_url, staging_url) = (url(&db, "prod"), url(&db, "staging"));
    let (prod, staging) = tokio::join!(
        PostgresStore::connect(&prod_url),
        PostgresStore::connect(&staging_url)
    );
    let (prod, staging) = (prod.unwrap(), staging.unwrap());
    let prod_lock = take_lock(&prod).await;
    let staging_lock = take_lock(&staging).await;
    assert_eq!(
        prod.put_resource(&prod_lock, &resource("a", None))
            .await
            .unwrap(),
        1
    );
    assert_eq!(staging.snapshot().await.unwrap().serial, 0);
    assert!(matches!(
        staging.put_resource(&prod_lock, &resource("a", None)).await,
        Err(StateError::LockLost(_))
    ));
    assert_eq!(
        staging
            .put_resource(&staging_lock, &resource("b", None))
            .await
            .unwrap(),
        1
    );
    assert_eq!(prod.current_lock().await.unwrap(), Some(prod_lock));
}

#[tokio::test]
async fn open_url_connects_lazily_and_shows_no_password() {
    let db = database();
    let dir = tempfile::tempdir().unwrap();
    for scheme in ["postgres", "postgresql"] {
        let url = url(&db, "ns").replacen("postgres", scheme, 1);
        let store = open_url(&url, dir.path()).unwrap();
        assert_eq!(store.describe(), shown(&url));
        let lock = store.lock(&request("ci", "apply")).await.unwrap();
        store.unlock(&lock).await.unwrap();
    }
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}

#[tokio::test]
async fn unreachable_or_refused_servers_fail_without_the_password() {
    let password = server().password();
    let wrong = url(&database(), "x").replace(password, "Wrong-Pass-1");
    let err = PostgresStore::connect(&wrong)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(!err.contains("Wrong-Pass-1"), "{err}");

    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let good = url("x", "x");
    let port = good
        .split("@127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("a port in the URL");
    let refused = good.replacen(&format!(":{port}/"), &format!(":{closed}/"), 1);
    let err = PostgresStore::connect(&refused)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("state backend error: cannot connect to"),
        "{err}"
    );
    assert!(!err.contains(password), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_holder_is_not_reported_and_its_row_is_replaced() {
    let db = database();
    let doomed = PostgresStore::connect(&url(&db, "f")).await.unwrap();
    let held = take_lock(&doomed).await;
    let other = PostgresStore::connect(&url(&db, "f")).await.unwrap();
    assert_eq!(other.current_lock().await.unwrap(), Some(held.clone()));
    drop(doomed);
    let deadline = Instant::now() + Duration::from_secs(10);
    while other.current_lock().await.unwrap().is_some() {
        assert!(
            Instant::now() < deadline,
            "the dead holder is still reported"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let taken = take_lock(&other).await;
    assert_eq!(other.current_lock().await.unwrap(), Some(taken));
    assert!(matches!(
        other.force_unlock(&held.id).await,
        Err(StateError::NoSuchLock(_))
    ));
}
