//! State commands and the lock contract (exit code 4 naming the holder).

use predicates::prelude::*;
use slipway_state::{LockRequest, SqliteStore, StateStore};

use crate::{one_json_document, quickstart, slipway};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_held_lock_makes_apply_exit_4_naming_holder_operation_and_since() {
    let (dir, fleet) = quickstart();
    let rt = runtime();
    let store = SqliteStore::open(&dir.path().join(".slipway/state.db")).unwrap();
    let lock = rt
        .block_on(store.lock(&LockRequest {
            holder: "alice@ci-runner-7 (pid 42)".into(),
            operation: "apply".into(),
        }))
        .unwrap();
    slipway(dir.path())
        .args(["apply"])
        .arg(&fleet)
        .arg("--auto-approve")
        .assert()
        .code(4)
        .stderr(predicate::str::contains("alice@ci-runner-7 (pid 42)"))
        .stderr(predicate::str::contains("`apply`"))
        .stderr(predicate::str::contains(lock.since.to_string()))
        .stderr(predicate::str::contains(format!(
            "slipway state unlock --force {}",
            lock.id
        )));

    slipway(dir.path())
        .args(["state", "unlock"])
        .arg(&fleet)
        .args(["--force", &lock.id])
        .assert()
        .code(0);
    assert!(rt.block_on(store.current_lock()).unwrap().is_none());
}

#[test]
fn empty_state_lists_nothing() {
    let (dir, fleet) = quickstart();
    let assert = slipway(dir.path())
        .args(["--output", "json", "state", "list"])
        .arg(&fleet)
        .assert()
        .code(0);
    let doc = one_json_document(&assert.get_output().stdout);
    assert_eq!(doc["resources"].as_array().unwrap().len(), 0);
    assert_eq!(doc["serial"], 0);
    slipway(dir.path())
        .args(["state", "history"])
        .arg(&fleet)
        .assert()
        .code(0);
}

#[test]
fn showing_an_unknown_address_is_an_error() {
    let (dir, fleet) = quickstart();
    slipway(dir.path())
        .args(["state", "show"])
        .arg(&fleet)
        .arg("dev-use1/aws.vpc/main")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("is not in the state"));
    slipway(dir.path())
        .args(["state", "show"])
        .arg(&fleet)
        .arg("not-an-address")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("expected `cluster/kind/name`"));
}

#[test]
fn state_migrates_into_an_empty_backend_without_loss() {
    let (dir, fleet) = crate::cloud::example("aws");
    let fleet = fleet.to_str().unwrap();
    let emulate = [
        "--emulator",
        "--time-scale",
        "3000",
        "--cluster",
        "dev-use1",
    ];
    slipway(dir.path())
        .args(["apply", fleet, "--auto-approve"])
        .args(emulate)
        .assert()
        .code(0);
    let before = one_json_document(
        &slipway(dir.path())
            .args(["--output", "json", "state", "list", fleet])
            .assert()
            .code(0)
            .get_output()
            .stdout,
    );

    slipway(dir.path())
        .args(["state", "migrate", fleet, "--to", "sqlite:moved/state.db"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Migrated 23 resource(s)"));
    let moved = ["--state", "sqlite:moved/state.db"];
    let after = one_json_document(
        &slipway(dir.path())
            .args(moved)
            .args(["--output", "json", "state", "list", fleet])
            .assert()
            .code(0)
            .get_output()
            .stdout,
    );
    assert_eq!(before["resources"], after["resources"]);
    // The moved state drives the same cloud: nothing to do.
    slipway(dir.path())
        .args(moved)
        .args(["plan", fleet])
        .args(emulate)
        .assert()
        .code(0);
    let history = one_json_document(
        &slipway(dir.path())
            .args(moved)
            .args(["--output", "json", "state", "history", fleet])
            .assert()
            .code(0)
            .get_output()
            .stdout,
    );
    let operations: Vec<&str> = history["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["operation"].as_str().unwrap())
        .collect();
    assert_eq!(operations, ["state migrate", "apply"]);

    slipway(dir.path())
        .args(["state", "migrate", fleet, "--to", "sqlite:moved/state.db"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("already holds state"));
}

#[test]
fn state_migrates_between_team_backends_without_loss() {
    use crate::stress::Backend;
    let cloud = crate::cloud::Cloud::start(slipway_emulator::FaultConfig::default());
    let (dir, fleet) = crate::cloud::example("aws");
    let fleet = fleet.to_str().unwrap();
    let dump = |backend: &Backend| {
        let listed = backend
            .slipway(dir.path())
            .args(["--output", "json", "state", "list", fleet])
            .assert()
            .code(0);
        let history = backend
            .slipway(dir.path())
            .args(["--output", "json", "state", "history", fleet])
            .assert()
            .code(0);
        (
            one_json_document(&listed.get_output().stdout)["resources"].clone(),
            one_json_document(&history.get_output().stdout)["runs"]
                .as_array()
                .unwrap()
                .len(),
        )
    };

    let postgres = Backend::postgres();
    postgres
        .slipway(dir.path())
        .args(["--emulator-url", &cloud.url])
        .args(["apply", fleet, "--auto-approve", "--cluster", "dev-use1"])
        .assert()
        .code(0);
    let (resources, runs) = dump(&postgres);
    assert_eq!(runs, 1);

    // PostgreSQL → S3 → Azure Blob, each hop verified against the original.
    let s3 = Backend::s3("migration-secret-key");
    let azblob = Backend::azblob();
    let mut from = &postgres;
    for (to, runs_after) in [(&s3, 2), (&azblob, 3)] {
        let mut cmd = from.slipway(dir.path());
        cmd.envs(to.env.iter().cloned());
        cmd.args(["state", "migrate", fleet, "--to", &to.url])
            .assert()
            .code(0)
            .stdout(predicate::str::contains("Migrated 23 resource(s)"));
        let (moved, moved_runs) = dump(to);
        assert_eq!(moved, resources, "resources changed moving to {}", to.url);
        assert_eq!(moved_runs, runs_after, "each migration adds its own run");
        from = to;
    }
    // The last copy drives the same cloud: nothing to do.
    azblob
        .slipway(dir.path())
        .args(["--emulator-url", &cloud.url])
        .args(["plan", fleet, "--cluster", "dev-use1"])
        .assert()
        .code(0);
}
