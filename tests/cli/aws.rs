//! The AWS example end to end on the emulator: converge, re-plan clean, replace node groups
//! create-before-destroy, scale in place, upgrade, survive injected faults, destroy to zero.

use std::path::Path;

use predicates::prelude::*;
use slipway_emulator::FaultConfig;

use crate::cloud::{Cloud, edit, owned_by_address, recorded_addresses, run};
use crate::{one_json_document, slipway};

const FLEET: &str = "shop";

fn example() -> (tempfile::TempDir, std::path::PathBuf) {
    crate::cloud::example("aws")
}

#[test]
fn the_aws_example_converges_replans_clean_and_destroys_to_zero() {
    let cloud = Cloud::start(FaultConfig::default());
    let (dir, fleet) = example();
    let fleet = fleet.to_str().unwrap();

    run(dir.path(), &cloud, &["apply", fleet, "--auto-approve"])
        .code(0)
        .stdout(predicate::str::contains("Apply complete"));
    let owned = owned_by_address(&cloud, FLEET);
    assert_eq!(
        owned.keys().cloned().collect::<Vec<_>>(),
        recorded_addresses(dir.path(), &cloud, fleet)
    );
    for expected in [
        "prod-use1/aws.eks_cluster/main",
        "prod-use1/aws.nat_gateway/nat-c",
        "prod-use1/aws.vpc_endpoint/ecr.api",
        "prod-use1/aws.iam_role/wi-orders-api",
        "prod-use1/aws.eks_nodegroup/general",
        "dev-use1/aws.eks_pod_identity_association/ci-runner",
    ] {
        assert!(
            owned.contains_key(expected),
            "{expected} missing from {owned:#?}"
        );
    }

    run(dir.path(), &cloud, &["plan", fleet])
        .code(0)
        .stdout(predicate::str::contains("No changes"));

    run(dir.path(), &cloud, &["destroy", fleet, "--auto-approve"]).code(0);
    let left = cloud.objects("slipway:fleet=shop");
    assert!(left.is_empty(), "objects left after destroy: {left:#?}");
    assert!(recorded_addresses(dir.path(), &cloud, fleet).is_empty());
}

#[test]
fn a_node_group_instance_type_change_replaces_it_before_destroying_the_old_one() {
    let cloud = Cloud::start(FaultConfig::default());
    let (dir, fleet) = example();
    let fleet = fleet.to_str().unwrap();
    let dev = ["--cluster", "dev-use1"];
    run(
        dir.path(),
        &cloud,
        &[&["apply", fleet, "--auto-approve"][..], &dev].concat(),
    )
    .code(0);
    let before = owned_by_address(&cloud, FLEET)["dev-use1/aws.eks_nodegroup/default"].clone();

    edit(
        Path::new(fleet),
        "instanceType: t3.large, min: 1, max: 3",
        "instanceType: t3.xlarge, min: 1, max: 3",
    );
    run(dir.path(), &cloud, &[&["plan", fleet][..], &dev].concat())
        .code(2)
        .stdout(predicate::str::contains(
            "+/- aws.eks_nodegroup/default (create before destroy)",
        ))
        .stdout(
            predicate::str::is_match(
                r"instance_types: .*t3\.large.* → .*t3\.xlarge.*# forces replacement",
            )
            .unwrap(),
        )
        .stdout(predicate::str::contains(
            "Plan: 0 to add, 0 to change, 1 to replace, 0 to destroy.",
        ));
    let applied = run(
        dir.path(),
        &cloud,
        &[
            &["--output", "json", "apply", fleet, "--auto-approve"][..],
            &dev,
        ]
        .concat(),
    )
    .code(0);
    let run_id = one_json_document(&applied.get_output().stdout)["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let after = owned_by_address(&cloud, FLEET)["dev-use1/aws.eks_nodegroup/default"].clone();
    assert_ne!(before, after, "the node group was not replaced");

    // The journal proves there was never a moment without a node group: the replacement was
    // ready before the old group's delete was even announced.
    crate::cloud::assert_replaced_before_destroyed(
        dir.path(),
        &cloud,
        fleet,
        &run_id,
        "dev-use1/aws.eks_nodegroup/default",
        ("CreateNodegroup", "DeleteNodegroup"),
    );

    // Only the maximum changes: an in-place update.
    edit(
        Path::new(fleet),
        "instanceType: t3.xlarge, min: 1, max: 3",
        "instanceType: t3.xlarge, min: 1, max: 5",
    );
    run(dir.path(), &cloud, &[&["plan", fleet][..], &dev].concat())
        .code(2)
        .stdout(predicate::str::contains("~ aws.eks_nodegroup/default"))
        .stdout(predicate::str::contains("scaling_config.max_size: 3 → 5"))
        .stdout(predicate::str::contains(
            "Plan: 0 to add, 1 to change, 0 to replace, 0 to destroy.",
        ));
    run(
        dir.path(),
        &cloud,
        &[&["apply", fleet, "--auto-approve"][..], &dev].concat(),
    )
    .code(0);
    assert_eq!(
        owned_by_address(&cloud, FLEET)["dev-use1/aws.eks_nodegroup/default"],
        after,
        "scaling replaced the group"
    );
    run(dir.path(), &cloud, &[&["plan", fleet][..], &dev].concat()).code(0);
}

#[test]
fn apply_converges_with_no_duplicates_under_throttling_and_server_errors() {
    let cloud = Cloud::start(FaultConfig::default());
    cloud.set_faults("throttle=0.2,5xx=0.05,seed=11".parse().unwrap());
    let (dir, fleet) = example();
    let fleet = fleet.to_str().unwrap();

    run(dir.path(), &cloud, &["apply", fleet, "--auto-approve"]).code(0);
    // Exactly one cloud object per recorded resource: retries and adoption never duplicated one.
    let owned: Vec<String> = owned_by_address(&cloud, FLEET).into_keys().collect();
    assert_eq!(owned, recorded_addresses(dir.path(), &cloud, fleet));

    cloud.set_faults(FaultConfig::default());
    run(dir.path(), &cloud, &["plan", fleet]).code(0);
}

#[test]
fn apply_without_a_terminal_needs_auto_approve() {
    let cloud = Cloud::start(FaultConfig::default());
    let (dir, fleet) = example();
    run(dir.path(), &cloud, &["apply", fleet.to_str().unwrap()])
        .code(1)
        .stderr(predicate::str::contains("--auto-approve"));
    assert!(
        cloud.objects("slipway:fleet=shop").is_empty(),
        "nothing may change without approval"
    );
}

#[test]
fn a_kubernetes_minor_upgrade_updates_control_plane_then_node_group_in_place() {
    let cloud = Cloud::start(FaultConfig::default());
    let (dir, fleet) = example();
    let fleet = fleet.to_str().unwrap();
    let dev = ["--cluster", "dev-use1"];
    run(
        dir.path(),
        &cloud,
        &[&["apply", fleet, "--auto-approve"][..], &dev].concat(),
    )
    .code(0);
    let before = owned_by_address(&cloud, FLEET);

    edit(
        Path::new(fleet),
        "kubernetes: { version: \"1.35\" }\n    endpoint: public",
        "kubernetes: { version: \"1.36\" }\n    endpoint: public",
    );
    run(dir.path(), &cloud, &[&["plan", fleet][..], &dev].concat())
        .code(2)
        .stdout(predicate::str::contains("~ aws.eks_cluster/main"))
        .stdout(predicate::str::contains("~ aws.eks_nodegroup/default"))
        .stdout(predicate::str::contains(
            "Plan: 0 to add, 6 to change, 0 to replace, 0 to destroy.",
        ));
    let applied = run(
        dir.path(),
        &cloud,
        &[
            &["--output", "json", "apply", fleet, "--auto-approve"][..],
            &dev,
        ]
        .concat(),
    )
    .code(0);
    let run_id = one_json_document(&applied.get_output().stdout)["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        owned_by_address(&cloud, FLEET),
        before,
        "an upgrade must not replace anything"
    );

    // The emulator refuses node groups newer than their control plane, so the order is checked
    // by the cloud itself; the journal shows it too.
    let journal = crate::cloud::journal(dir.path(), &cloud, fleet, &run_id);
    let at = |op: &str| {
        journal
            .iter()
            .position(|e| e["event"]["operation"] == op)
            .unwrap_or_else(|| panic!("no {op}: {journal:#?}"))
    };
    assert!(at("UpdateClusterVersion") < at("UpdateNodegroupVersion"));
    run(dir.path(), &cloud, &[&["plan", fleet][..], &dev].concat()).code(0);
}

#[test]
fn a_failed_node_group_reports_its_health_issue_and_skips_only_its_dependents() {
    let cloud = Cloud::start("fail=nodegroup:default*,seed=3".parse().unwrap());
    let (dir, fleet) = example();
    let fleet = fleet.to_str().unwrap();
    let dev = ["--cluster", "dev-use1"];
    let assert = run(
        dir.path(),
        &cloud,
        &[&["apply", fleet, "--auto-approve"][..], &dev].concat(),
    )
    .code(1);
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(
        stdout.contains("✗ dev-use1/aws.eks_nodegroup/default"),
        "{stdout}"
    );
    assert!(stdout.contains("NodeCreationFailure"), "{stdout}");
    assert!(
        stdout.contains("skipped because dev-use1/aws.eks_nodegroup/default failed"),
        "{stdout}"
    );
    let owned = owned_by_address(&cloud, FLEET);
    assert!(
        owned.contains_key("dev-use1/aws.eks_cluster/main"),
        "independent work must finish"
    );

    // The failed group is recorded tainted and replaced on the next run once the cloud heals.
    cloud.set_faults(FaultConfig::default());
    run(dir.path(), &cloud, &[&["plan", fleet][..], &dev].concat())
        .code(2)
        .stdout(predicate::str::contains(
            "aws.eks_nodegroup/default (create before destroy)",
        ));
    run(
        dir.path(),
        &cloud,
        &[&["apply", fleet, "--auto-approve"][..], &dev].concat(),
    )
    .code(0);
    run(dir.path(), &cloud, &[&["plan", fleet][..], &dev].concat()).code(0);
}

#[test]
fn without_credentials_aws_calls_fail_with_a_clear_error() {
    let (dir, fleet) = example();
    let home = tempfile::tempdir().unwrap();
    let mut cmd = slipway(dir.path());
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "SLIPWAY_EMULATOR_URL",
    ] {
        cmd.env_remove(var);
    }
    // Never reach for instance metadata (a link-local address) from a test.
    cmd.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", home.path().join("config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("credentials"),
        );
    cmd.args([
        "apply",
        fleet.to_str().unwrap(),
        "--cluster",
        "dev-use1",
        "--auto-approve",
    ])
    .assert()
    .code(1)
    .stdout(predicate::str::contains("no AWS credentials found"));
}
