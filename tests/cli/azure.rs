//! The Azure and dual-cloud examples end to end on the emulator's ARM side: converge, re-plan
//! clean, replace agent pools create-before-destroy, scale in place, survive throttling and
//! server errors, destroy to zero — checked through the emulator's API.

use std::path::Path;

use predicates::prelude::*;
use slipway_emulator::FaultConfig;

use crate::cloud::{Cloud, edit, example, owned_by_address, recorded, recorded_addresses, run};

/// ARM kinds that cannot carry tags; they are found through ARM GETs instead.
const UNTAGGABLE: &[&str] = &[
    "azure.subnet",
    "azure.role_assignment",
    "azure.federated_identity_credential",
];

/// Every recorded resource has exactly one tagged object, except kinds ARM cannot tag.
fn assert_owned_matches_state(cloud: &Cloud, dir: &Path, fleet_file: &str, fleet: &str) {
    let owned = owned_by_address(cloud, fleet);
    for address in recorded_addresses(dir, cloud, fleet_file) {
        let kind = address.split('/').nth(1).unwrap_or_default();
        if !UNTAGGABLE.contains(&kind) {
            assert!(
                owned.contains_key(&address),
                "{address} has no tagged object: {owned:#?}"
            );
        }
    }
}

/// `(ARM id, api-version)` of every recorded Azure resource.
fn arm_ids(cloud: &Cloud, dir: &Path, fleet_file: &str) -> Vec<(String, String)> {
    recorded(dir, cloud, fleet_file)
        .into_iter()
        .filter(|(address, _, _)| address.contains("/azure."))
        .map(|(_, id, properties)| (id, properties["api_version"].as_str().unwrap().to_owned()))
        .collect()
}

/// After destroy, every object that existed answers 404 to an ARM GET.
fn assert_all_gone(cloud: &Cloud, ids: &[(String, String)]) {
    assert!(!ids.is_empty());
    for (id, api_version) in ids {
        assert_eq!(
            cloud.arm_get_status(id, api_version),
            404,
            "{id} still exists"
        );
    }
}
use crate::one_json_document;

#[test]
fn the_azure_example_converges_replans_clean_and_destroys_to_zero() {
    let cloud = Cloud::start(FaultConfig::default());
    let (dir, fleet) = example("azure");
    let fleet = fleet.to_str().unwrap();

    run(dir.path(), &cloud, &["apply", fleet, "--auto-approve"])
        .code(0)
        .stdout(predicate::str::contains("Apply complete"));
    assert_owned_matches_state(&cloud, dir.path(), fleet, "payments");
    let ids = arm_ids(&cloud, dir.path(), fleet);
    for (id, api_version) in &ids {
        assert_eq!(
            cloud.arm_get_status(id, api_version),
            200,
            "{id} is missing"
        );
    }
    let addresses = recorded_addresses(dir.path(), &cloud, fleet);
    for expected in [
        "prod-weu/azure.managed_cluster/main",
        "prod-weu/azure.agent_pool/general",
        "prod-weu/azure.private_endpoint/acr",
        "prod-weu/azure.federated_identity_credential/wi-ledger-api",
        "dev-neu/azure.user_assigned_identity/wi-ci-runner",
    ] {
        assert!(
            addresses.iter().any(|a| a == expected),
            "{expected} missing from {addresses:#?}"
        );
    }

    run(dir.path(), &cloud, &["plan", fleet])
        .code(0)
        .stdout(predicate::str::contains("No changes"));
    run(dir.path(), &cloud, &["destroy", fleet, "--auto-approve"]).code(0);
    let left = cloud.objects("slipway:fleet=payments");
    assert!(left.is_empty(), "objects left after destroy: {left:#?}");
    assert_all_gone(&cloud, &ids);
    assert!(recorded_addresses(dir.path(), &cloud, fleet).is_empty());
}

#[test]
fn an_agent_pool_vm_size_change_replaces_it_first_and_a_max_count_change_scales_in_place() {
    let cloud = Cloud::start(FaultConfig::default());
    let (dir, fleet) = example("azure");
    let fleet = fleet.to_str().unwrap();
    let dev = ["--cluster", "dev-neu"];
    let pool = "dev-neu/azure.agent_pool/default";
    run(
        dir.path(),
        &cloud,
        &[&["apply", fleet, "--auto-approve"][..], &dev].concat(),
    )
    .code(0);
    let before = owned_by_address(&cloud, "payments")[pool].clone();

    edit(
        Path::new(fleet),
        "instanceType: Standard_D2s_v5, min: 1, max: 3",
        "instanceType: Standard_D4s_v5, min: 1, max: 3",
    );
    run(dir.path(), &cloud, &[&["plan", fleet][..], &dev].concat())
        .code(2)
        .stdout(predicate::str::contains(
            "+/- azure.agent_pool/default (create before destroy)",
        ))
        .stdout(predicate::str::contains(
            "body.properties.vmSize: \"Standard_D2s_v5\" → \"Standard_D4s_v5\"  # forces replacement",
        ))
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
    let after = owned_by_address(&cloud, "payments")[pool].clone();
    assert_ne!(before, after, "the agent pool was not replaced");

    crate::cloud::assert_replaced_before_destroyed(
        dir.path(),
        &cloud,
        fleet,
        &run_id,
        pool,
        ("PUT agentPools", "DELETE agentPools"),
    );

    edit(
        Path::new(fleet),
        "instanceType: Standard_D4s_v5, min: 1, max: 3",
        "instanceType: Standard_D4s_v5, min: 1, max: 5",
    );
    run(dir.path(), &cloud, &[&["plan", fleet][..], &dev].concat())
        .code(2)
        .stdout(predicate::str::contains("~ azure.agent_pool/default"))
        .stdout(predicate::str::contains("body.properties.maxCount: 3 → 5"))
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
        owned_by_address(&cloud, "payments")[pool],
        after,
        "scaling replaced the pool"
    );
    run(dir.path(), &cloud, &[&["plan", fleet][..], &dev].concat()).code(0);
}

#[test]
fn azure_apply_converges_with_no_duplicates_under_throttling_and_server_errors() {
    let cloud = Cloud::start(FaultConfig::default());
    cloud.set_faults("throttle=0.2,5xx=0.05,seed=5".parse().unwrap());
    let (dir, fleet) = example("azure");
    let fleet = fleet.to_str().unwrap();
    run(dir.path(), &cloud, &["apply", fleet, "--auto-approve"]).code(0);
    // No address owns two objects (owned_by_address checks) and nothing recorded is missing.
    assert_owned_matches_state(&cloud, dir.path(), fleet, "payments");
    cloud.set_faults(FaultConfig::default());
    run(dir.path(), &cloud, &["plan", fleet]).code(0);
}

#[test]
fn the_dual_cloud_quickstart_converges_replans_clean_and_destroys_to_zero() {
    let cloud = Cloud::start(FaultConfig::default());
    let (dir, fleet) = example("quickstart");
    let fleet = fleet.to_str().unwrap();
    run(dir.path(), &cloud, &["apply", fleet, "--auto-approve"]).code(0);
    let owned = owned_by_address(&cloud, "quickstart");
    assert!(
        owned.contains_key("prod-use1/aws.eks_cluster/main"),
        "{owned:#?}"
    );
    assert!(
        owned.contains_key("prod-weu/azure.managed_cluster/main"),
        "{owned:#?}"
    );
    assert_owned_matches_state(&cloud, dir.path(), fleet, "quickstart");
    let ids = arm_ids(&cloud, dir.path(), fleet);
    run(dir.path(), &cloud, &["plan", fleet])
        .code(0)
        .stdout(predicate::str::contains("No changes"));
    run(dir.path(), &cloud, &["destroy", fleet, "--auto-approve"]).code(0);
    let left = cloud.objects("slipway:fleet=quickstart");
    assert!(left.is_empty(), "objects left after destroy: {left:#?}");
    assert_all_gone(&cloud, &ids);
}

#[test]
fn without_credentials_azure_calls_fail_with_a_clear_error() {
    let (dir, fleet) = example("azure");
    let home = tempfile::tempdir().unwrap();
    let mut cmd = crate::slipway(dir.path());
    for var in [
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_FEDERATED_TOKEN_FILE",
        "IDENTITY_ENDPOINT",
        "MSI_ENDPOINT",
        "SLIPWAY_AZURE_MANAGED_IDENTITY",
        "SLIPWAY_EMULATOR_URL",
    ] {
        cmd.env_remove(var);
    }
    // No Azure CLI login either: a fresh home and a PATH without `az`.
    cmd.env("HOME", home.path()).env("PATH", "/usr/bin:/bin");
    cmd.args([
        "apply",
        fleet.to_str().unwrap(),
        "--cluster",
        "dev-neu",
        "--auto-approve",
    ])
    .assert()
    .code(1)
    .stdout(predicate::str::contains("no Azure credentials found"))
    .stdout(predicate::str::contains("--emulator").or(predicate::str::contains("az login")));
}
