use slipway_state::{StateError, open_url};

use crate::take_lock;

fn bad_url_reason(url: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    match open_url(url, dir.path()) {
        Err(StateError::BadUrl { url: u, reason }) => {
            assert!(!u.contains("hunter2"), "{u}");
            reason
        }
        Err(other) => panic!("expected BadUrl for {url}, got {other}"),
        Ok(store) => panic!("expected BadUrl for {url}, got {}", store.describe()),
    }
}

#[tokio::test]
async fn empty_url_opens_the_default_database() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_url("", dir.path()).unwrap();
    let expected = dir.path().join(".slipway").join("state.db");
    assert_eq!(store.describe(), format!("sqlite:{}", expected.display()));
    assert!(expected.is_file());
    take_lock(store.as_ref()).await;
}

#[tokio::test]
async fn sqlite_url_opens_that_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a").join("b.db");
    let url = format!("sqlite:{}", path.display());
    let store = open_url(&url, &dir.path().join("unused")).unwrap();
    assert_eq!(store.describe(), url);
    assert!(path.is_file());
    assert!(!dir.path().join("unused").exists());
}

#[test]
fn unknown_schemes_list_the_accepted_ones() {
    for url in ["file:/tmp/x", "state.db", "mysql://x", "sqlite:"] {
        let reason = bad_url_reason(url);
        assert!(reason.contains("sqlite:"), "{url}: {reason}");
    }
    assert!(bad_url_reason("gcs://b/k").contains("s3://"));
    assert!(bad_url_reason("mysql://ops:hunter2@db/state").contains("postgres://"));
}
