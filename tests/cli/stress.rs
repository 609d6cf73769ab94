//! Many runners at once on one fleet and one state backend: exactly one applies at a time, the
//! others exit 4 naming the holder, and what state records is exactly what the cloud holds.
//! Run against every backend: SQLite, PostgreSQL, S3 (moto) and Azure Blob (Azurite).

use std::process::{Command, Stdio};

use slipway_emulator::FaultConfig;

use crate::cloud::{Cloud, example, owned_by_address};
use crate::{TODAY, one_json_document};

const RUNNERS: usize = 8;

/// A state location and the environment a runner needs to reach it.
pub struct Backend {
    pub url: String,
    pub env: Vec<(String, String)>,
}

impl Backend {
    pub fn sqlite(dir: &std::path::Path) -> Self {
        Self {
            url: format!("sqlite:{}", dir.join("state.db").display()),
            env: Vec::new(),
        }
    }

    pub fn postgres() -> Self {
        let server = slipway_testkit::postgres::shared();
        let database = server.create_database();
        Self {
            url: server.url(&database, "shop"),
            env: Vec::new(),
        }
    }

    /// A fresh versioned bucket on the shared moto, reached with static credentials.
    pub fn s3(secret: &str) -> Self {
        let moto = slipway_testkit::moto::shared();
        let bucket = format!("state-{}", unique());
        let (status, body) = crate::cloud::http("PUT", &moto.url, &format!("/{bucket}"), "", "");
        assert_eq!(status, 200, "{body}");
        let versioning = "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>Enabled</Status></VersioningConfiguration>";
        let (status, body) = crate::cloud::http(
            "PUT",
            &moto.url,
            &format!("/{bucket}?versioning"),
            "",
            versioning,
        );
        assert_eq!(status, 200, "{body}");
        Self {
            url: format!(
                "s3://{bucket}/fleets/shop?region=us-east-1&endpoint={}",
                moto.url
            ),
            env: vec![
                ("AWS_ACCESS_KEY_ID".into(), "AKIDSTATE".into()),
                ("AWS_SECRET_ACCESS_KEY".into(), secret.into()),
                ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
            ],
        }
    }

    /// A fresh container on the shared Azurite, reached with an account SAS.
    pub fn azblob() -> Self {
        let azurite = slipway_testkit::azurite::shared();
        Self {
            url: format!(
                "azblob://devstoreaccount1/state-{}/shop?endpoint={}",
                unique(),
                azurite.endpoint
            ),
            env: vec![("SLIPWAY_AZBLOB_SAS".into(), azurite.sas.clone())],
        }
    }

    /// A `slipway` command aimed at this backend.
    pub fn slipway(&self, dir: &std::path::Path) -> assert_cmd::Command {
        let mut cmd = crate::slipway(dir);
        cmd.env("SLIPWAY_STATE", &self.url)
            .envs(self.env.iter().cloned());
        cmd
    }
}

/// A name part unique within this test process.
fn unique() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Starts `RUNNERS` applies at once against `backend` and checks the lock contract.
fn contend(backend: &Backend) {
    // Slow enough (an EKS create takes ~1 s) that the runners really overlap.
    let cloud = Cloud::start_scaled(FaultConfig::default(), 600.0);
    let (dir, fleet) = example("aws");
    let fleet = fleet.to_str().unwrap();
    let children: Vec<_> = (0..RUNNERS)
        .map(|_| {
            Command::new(assert_cmd::cargo::cargo_bin("slipway"))
                .current_dir(dir.path())
                .env("SLIPWAY_TODAY", TODAY)
                .env("NO_COLOR", "1")
                .env("SLIPWAY_STATE", &backend.url)
                .envs(backend.env.iter().cloned())
                .args(["--emulator-url", &cloud.url, "--output", "json"])
                .args(["apply", fleet, "--auto-approve", "--cluster", "dev-use1"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();

    let mut applied = 0;
    for out in &outputs {
        let stderr = String::from_utf8_lossy(&out.stderr);
        match out.status.code() {
            Some(0) => {
                if one_json_document(&out.stdout)["changes"] == true {
                    applied += 1;
                }
            }
            Some(4) => {
                let doc = one_json_document(&out.stdout);
                assert_eq!(doc["error"], "locked");
                assert!(
                    doc["lock"]["holder"]
                        .as_str()
                        .is_some_and(|h| h.contains("(pid ")),
                    "{doc}"
                );
                assert!(stderr.contains("state is locked by"), "{stderr}");
            }
            other => panic!("runner exited {other:?}: {stderr}"),
        }
    }
    assert_eq!(applied, 1, "exactly one runner may apply the changes");

    // The runs recorded never overlap in time.
    let history = one_json_document(
        &backend
            .slipway(dir.path())
            .args(["--output", "json", "state", "history", fleet])
            .assert()
            .code(0)
            .get_output()
            .stdout,
    );
    let mut spans: Vec<(String, String)> = history["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let end = r["finished_at"].as_str();
            let end = end.unwrap_or_else(|| panic!("unfinished run {r}"));
            (r["started_at"].as_str().unwrap().to_owned(), end.to_owned())
        })
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "runs overlap: {pair:?}");
    }

    // Nothing lost, nothing duplicated: state records exactly what the cloud holds.
    let listed = one_json_document(
        &backend
            .slipway(dir.path())
            .args(["--output", "json", "state", "list", fleet])
            .assert()
            .code(0)
            .get_output()
            .stdout,
    );
    let mut recorded: Vec<String> = listed["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["address"].as_str().unwrap().to_owned())
        .collect();
    recorded.sort();
    let owned: Vec<String> = owned_by_address(&cloud, "shop").into_keys().collect();
    assert!(!owned.is_empty());
    assert_eq!(owned, recorded, "state and cloud disagree");
}

#[test]
fn eight_runners_on_sqlite_apply_one_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    contend(&Backend::sqlite(dir.path()));
}

#[test]
fn eight_runners_on_postgres_apply_one_at_a_time() {
    contend(&Backend::postgres());
}

#[test]
fn eight_runners_on_s3_apply_one_at_a_time() {
    contend(&Backend::s3("not-a-real-secret"));
}

#[test]
fn eight_runners_on_azure_blob_apply_one_at_a_time() {
    contend(&Backend::azblob());
}
