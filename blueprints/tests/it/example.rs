//! The full example of the design note loads.

use std::path::PathBuf;

use slipway_blueprints::{Cloud, Endpoint, StandbyMode, load};

use crate::support::{fixture, options};

#[test]
fn the_design_example_loads_without_errors() {
    let loaded = load(&fixture("example.yaml"), &options()).unwrap_or_else(|f| {
        panic!(
            "{}",
            f.diagnostics
                .iter()
                .map(|d| d.render_plain())
                .collect::<Vec<_>>()
                .join("\n\n")
        )
    });
    let fleet = loaded.fleet;
    assert_eq!(fleet.clusters.len(), 3);
    let use1 = fleet.cluster("prod-use1").unwrap();
    assert_eq!(use1.provider, Cloud::Aws);
    assert_eq!(use1.endpoint, Endpoint::Private);
    assert_eq!(use1.zones, ["us-east-1a", "us-east-1b", "us-east-1c"]);
    assert_eq!(use1.network.subnets.len(), 6);
    assert_eq!(use1.dr.as_ref().unwrap().standby.mode, StandbyMode::Warm);
}

#[test]
fn the_quickstart_example_loads_with_its_azure_endpoint_targets() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart/fleet.yaml");
    let loaded = load(&path, &options()).unwrap_or_else(|f| {
        panic!(
            "{}",
            f.diagnostics
                .iter()
                .map(|d| d.render_plain())
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    let azure = loaded.fleet.cluster("prod-weu").unwrap();
    let targets = &azure.azure.as_ref().unwrap().private_endpoint_targets;
    assert_eq!(targets.keys().collect::<Vec<_>>(), ["acr", "keyvault"]);
    let aws = loaded.fleet.cluster("prod-use1").unwrap();
    assert_eq!(aws.private_endpoints, ["s3", "ecr.api", "ecr.dkr", "sts"]);
}
