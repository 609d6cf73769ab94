//! validate, plan, graph and schema: exit codes and output discipline.

use predicates::prelude::*;

use crate::{one_json_document, quickstart, slipway};

#[test]
fn valid_blueprint_validates_with_exit_0() {
    let (dir, fleet) = quickstart();
    slipway(dir.path())
        .args(["validate"])
        .arg(&fleet)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "fleet `quickstart` is valid (3 cluster(s), 2 ring(s))",
        ));
}

#[test]
fn invalid_blueprint_exits_3_with_located_diagnostics() {
    let (dir, fleet) = quickstart();
    let text = std::fs::read_to_string(&fleet).unwrap();
    let broken = text
        .replace("cidr: 10.30.0.0/16", "cidr: 10.10.0.0/16")
        .replace(
            "profile: prod-standard\n    provider: azure",
            "profile: prod-standrd\n    provider: azure",
        );
    std::fs::write(&fleet, broken).unwrap();
    let assert = slipway(dir.path())
        .args(["validate"])
        .arg(&fleet)
        .assert()
        .code(3);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains("fleet.yaml:"), "{stderr}");
    assert!(
        stderr.contains("prod-standard"),
        "did-you-mean missing:\n{stderr}"
    );
    assert!(stderr.contains("error: blueprint has"), "{stderr}");
    assert!(
        assert.get_output().stdout.is_empty(),
        "human diagnostics must not go to stdout"
    );
}

#[test]
fn invalid_blueprint_in_json_mode_writes_one_document() {
    let (dir, fleet) = quickstart();
    let text = std::fs::read_to_string(&fleet)
        .unwrap()
        .replace("owner: platform-runtime", "ownr: platform-runtime");
    std::fs::write(&fleet, text).unwrap();
    let assert = slipway(dir.path())
        .args(["--output", "json", "validate"])
        .arg(&fleet)
        .assert()
        .code(3);
    let doc = one_json_document(&assert.get_output().stdout);
    assert_eq!(doc["valid"], false);
    assert!(!doc["diagnostics"].as_array().unwrap().is_empty());
}

#[test]
fn plan_with_changes_exits_2_and_summarises() {
    let (dir, fleet) = quickstart();
    slipway(dir.path())
        .args(["plan"])
        .arg(&fleet)
        .args(["--cluster", "dev-use1"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("+ aws.vpc/"))
        .stdout(
            predicate::str::is_match(
                r"Plan: \d+ to add, 0 to change, 0 to replace, 0 to destroy\.",
            )
            .unwrap(),
        );
}

#[test]
fn plan_json_is_one_versioned_document() {
    let (dir, fleet) = quickstart();
    let assert = slipway(dir.path())
        .args(["--output", "json", "plan"])
        .arg(&fleet)
        .assert()
        .code(2);
    let doc = one_json_document(&assert.get_output().stdout);
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["changes"], true);
    assert!(
        doc["summary"]["add"].as_u64().unwrap() > 50,
        "{}",
        doc["summary"]
    );
    assert_eq!(doc["summary"]["destroy"], 0);
}

#[test]
fn saved_plan_is_refused_after_the_blueprint_changed() {
    let (dir, fleet) = quickstart();
    let plan_file = dir.path().join("dev.plan");
    slipway(dir.path())
        .args(["plan"])
        .arg(&fleet)
        .args(["--cluster", "dev-use1", "--out"])
        .arg(&plan_file)
        .assert()
        .code(2);
    let text = std::fs::read_to_string(&fleet)
        .unwrap()
        .replace("max: 3 }", "max: 4 }");
    std::fs::write(&fleet, text).unwrap();
    slipway(dir.path())
        .args(["apply"])
        .arg(&fleet)
        .arg("--plan")
        .arg(&plan_file)
        .arg("--auto-approve")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("blueprint"));
}

#[test]
fn graph_renders_every_format() {
    let (dir, fleet) = quickstart();
    slipway(dir.path())
        .args(["graph"])
        .arg(&fleet)
        .args(["--cluster", "dev-use1", "--format", "dot"])
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("digraph"));
    slipway(dir.path())
        .args(["graph"])
        .arg(&fleet)
        .args(["--cluster", "dev-use1", "--format", "mermaid"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("-->"));
    let assert = slipway(dir.path())
        .args(["graph"])
        .arg(&fleet)
        .args(["--format", "json"])
        .assert()
        .code(0);
    let doc = one_json_document(&assert.get_output().stdout);
    assert!(doc.is_object(), "{doc}");
}

#[test]
fn schema_is_json() {
    let dir = tempfile::tempdir().unwrap();
    let assert = slipway(dir.path()).arg("schema").assert().code(0);
    let doc = one_json_document(&assert.get_output().stdout);
    assert!(doc["properties"]["clusters"].is_object(), "{doc}");
}

#[test]
fn bad_today_is_a_clear_error() {
    let (dir, fleet) = quickstart();
    slipway(dir.path())
        .args(["validate", "--today", "21/11/2026"])
        .arg(&fleet)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "--today `21/11/2026` is not a date",
        ));
}

#[test]
fn a_missing_blueprint_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    slipway(dir.path())
        .args(["validate", "nope.yaml"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("nope.yaml"))
        .stderr(predicate::str::contains("panicked").not());
}
