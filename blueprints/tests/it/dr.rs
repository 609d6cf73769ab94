//! DR standbys derived from their primaries: capacity, zones, instance types, keys, names,
//! overrides, and a property over random fleets.

use std::collections::BTreeMap;
use std::path::PathBuf;

use proptest::prelude::*;
use slipway_blueprints::{
    DerivedStandby, Fleet, KubeVersion, LoadOptions, PoolRole, Source, Tier, load, load_sources,
};

use crate::support::{check, options};

const HEAD: &str = "apiVersion: slipway.dev/v1\nkind: Fleet\nmetadata: { name: f, owner: o }\n";
const AZURE: &str =
    "    azure: { subscriptionId: 00000000-0000-0000-0000-000000000000, resourceGroup: rg-NAME }\n";

/// One cluster entry with a system and a user pool of `instance`, and `extra` lines.
fn cluster(
    name: &str,
    provider: &str,
    region: &str,
    cidr: &str,
    instance: &str,
    extra: &str,
) -> String {
    let azure = if provider == "azure" {
        AZURE.replace("NAME", name)
    } else {
        String::new()
    };
    format!(
        "  - name: {name}\n    provider: {provider}\n    region: {region}\n    kubernetes: {{ version: \"1.35\" }}\n    network: {{ cidr: {cidr} }}\n    nodePools:\n      - {{ name: system, role: system, instanceType: {instance}, min: 2, max: 8, desired: 4 }}\n      - {{ name: work, role: user, instanceType: {instance}, min: 1, max: 20, desired: 9 }}\n{azure}{extra}"
    )
}

fn fleet_text(clusters: &[String]) -> String {
    format!("{HEAD}clusters:\n{}", clusters.concat())
}

fn load_text(text: &str, opts: &LoadOptions) -> Fleet {
    let sources = vec![Source {
        name: "fleet.yaml".into(),
        text: text.to_owned(),
    }];
    match load_sources(sources, opts) {
        Ok(loaded) => loaded.fleet,
        Err(f) => panic!(
            "{}",
            f.diagnostics
                .iter()
                .map(|d| d.render_plain())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

fn change<'a>(s: &'a DerivedStandby, field: &str) -> (&'a str, &'a str) {
    let c = s
        .changes
        .iter()
        .find(|c| c.field == field)
        .unwrap_or_else(|| panic!("no change of `{field}` in {:#?}", s.changes));
    (c.primary.as_str(), c.standby.as_str())
}

#[test]
fn aws_standby_swaps_graviton4_where_it_is_not_offered() {
    let c = cluster(
        "p",
        "aws",
        "us-east-1",
        "10.0.0.0/16",
        "m8g.xlarge",
        "    zones: 3\n    aws: { secretsKmsKeyArn: \"arn:aws:kms:us-east-1:123456789012:key/mrk-0123\" }\n    dr: { rto: 1h, standby: { region: af-south-1, cidr: 10.1.0.0/16, mode: hot } }\n",
    );
    let fleet = load_text(&fleet_text(&[c]), &options());
    let s = fleet.standby_of("p").unwrap();
    assert_eq!(s.cluster.name, "p-dr");
    assert_eq!(s.cluster.tier, Tier::Dr);
    assert_eq!(
        s.cluster.zones,
        ["af-south-1a", "af-south-1b", "af-south-1c"]
    );
    assert!(
        s.cluster
            .node_pools
            .iter()
            .all(|p| p.instance_type == "m6g.xlarge")
    );
    assert_eq!(
        change(s, "nodePools[work].instanceType"),
        ("m8g.xlarge", "m6g.xlarge")
    );
    assert_eq!(
        s.cluster
            .aws
            .as_ref()
            .unwrap()
            .secrets_kms_key_arn
            .as_deref(),
        Some("arn:aws:kms:af-south-1:123456789012:key/mrk-0123")
    );
    assert_eq!(s.cluster.tags["slipway:standby-of"], "p");
    // Hot: same capacity, so no pool size changes.
    assert!(!s.changes.iter().any(|c| c.field.ends_with(".desired")));
    assert!(fleet.cluster("p-dr").is_none());
    assert!(fleet.with_standbys(["p-dr"]).cluster("p-dr").is_some());
}

#[test]
fn azure_standby_swaps_v6_for_v5_and_gets_its_own_group() {
    let c = cluster(
        "p",
        "azure",
        "westeurope",
        "10.0.0.0/16",
        "Standard_D4s_v6",
        "    ring: prod\n    dr: { rto: 1h, standby: { region: polandcentral, cidr: 10.1.0.0/16, mode: warm } }\n",
    );
    let text = fleet_text(&[c]) + "rings: [{ name: prod }]\n";
    let fleet = load_text(&text, &options());
    let s = fleet.standby_of("p").unwrap();
    assert!(
        s.cluster
            .node_pools
            .iter()
            .all(|p| p.instance_type == "Standard_D4s_v5")
    );
    assert_eq!(s.cluster.zones, ["1", "2"]);
    assert_eq!(s.cluster.ring, None);
    let azure = s.cluster.azure.as_ref().unwrap();
    assert_eq!(azure.resource_group, "rg-p-dr");
    assert_eq!(
        azure.subscription_id,
        fleet.clusters[0].azure.as_ref().unwrap().subscription_id
    );
    assert_eq!(change(s, "ring"), ("prod", "none"));
    assert_eq!(change(s, "nodePools[work].desired"), ("9", "3"));
    assert_eq!(change(s, "nodePools[system].min"), ("2", "1"));
    assert_eq!(change(s, "network.cidr"), ("10.0.0.0/16", "10.1.0.0/16"));
}

#[test]
fn pilot_light_keeps_the_first_system_pool() {
    let c = cluster(
        "p",
        "aws",
        "eu-west-1",
        "10.0.0.0/16",
        "m6i.large",
        "    dr: { rto: 1h, standby: { region: eu-west-2, cidr: 10.1.0.0/16, name: standby } }\n",
    );
    let fleet = load_text(&fleet_text(&[c]), &options());
    let s = fleet.standby("standby").unwrap();
    let pools: Vec<_> = s
        .cluster
        .node_pools
        .iter()
        .map(|p| (p.name.as_str(), p.role, p.min, p.desired, p.max))
        .collect();
    assert_eq!(pools, [("system", PoolRole::System, 1, 1, 8)]);
    assert_eq!(change(s, "nodePools[work]").1, "dropped");
}

#[test]
fn a_zone_less_primary_gets_a_zone_less_standby() {
    let c = cluster(
        "p",
        "azure",
        "canadaeast",
        "10.0.0.0/16",
        "Standard_D4s_v5",
        "    dr: { rto: 1h, standby: { region: westus, cidr: 10.1.0.0/16 } }\n",
    );
    let fleet = load_text(&fleet_text(&[c]), &options());
    let s = fleet.standby_of("p").unwrap();
    assert!(s.cluster.zones.is_empty());
    assert!(!s.changes.iter().any(|c| c.field == "zones"));
}

#[test]
fn the_standby_follows_its_primarys_kubernetes_override() {
    let c = cluster(
        "p",
        "aws",
        "us-east-1",
        "10.0.0.0/16",
        "m6i.large",
        "    dr: { rto: 1h, standby: { region: us-east-2, cidr: 10.1.0.0/16 } }\n",
    );
    let mut opts = options();
    opts.kubernetes_overrides = BTreeMap::from([("p".to_owned(), KubeVersion::new(1, 36))]);
    let fleet = load_text(&fleet_text(&[c]), &opts);
    assert_eq!(
        fleet.standby_of("p").unwrap().cluster.kubernetes,
        KubeVersion::new(1, 36)
    );
}

#[test]
fn standby_mistakes() {
    let kms = |arn: &str| format!("    aws: {{ secretsKmsKeyArn: \"{arn}\" }}\n");
    let dr = |standby: &str| format!("    dr: {{ rto: 1h, standby: {{ {standby} }} }}\n");
    let clusters = [
        // A zone-less region for a zonal primary, and no arm64 VMs there.
        cluster(
            "zoneless",
            "azure",
            "westeurope",
            "10.1.0.0/16",
            "Standard_D4ps_v6",
            &dr("region: westus, cidr: 10.101.0.0/16"),
        ),
        // A single-region key cannot follow.
        cluster(
            "single",
            "aws",
            "us-east-1",
            "10.2.0.0/16",
            "m6i.large",
            &(kms("arn:aws:kms:us-east-1:123456789012:key/0123")
                + &dr("region: us-west-2, cidr: 10.102.0.0/16")),
        ),
        // Names of a cluster and of another standby.
        cluster(
            "taken",
            "aws",
            "us-east-1",
            "10.3.0.0/16",
            "m6i.large",
            &dr("region: us-west-2, cidr: 10.103.0.0/16, name: single"),
        ),
        cluster(
            "again",
            "aws",
            "us-east-1",
            "10.4.0.0/16",
            "m6i.large",
            &dr("region: us-west-2, cidr: 10.104.0.0/16, name: single-dr"),
        ),
        // Settings of the other cloud, and a key in the wrong region.
        cluster(
            "rg",
            "aws",
            "us-east-1",
            "10.5.0.0/16",
            "m6i.large",
            &dr("region: us-west-2, cidr: 10.105.0.0/16, resourceGroup: rg-x"),
        ),
        cluster(
            "key",
            "azure",
            "westeurope",
            "10.6.0.0/16",
            "Standard_D4s_v5",
            &dr(
                "region: northeurope, cidr: 10.106.0.0/16, secretsKmsKeyArn: \"arn:aws:kms:us-east-1:123456789012:key/1\"",
            ),
        ),
        cluster(
            "wrongkey",
            "aws",
            "us-east-1",
            "10.7.0.0/16",
            "m6i.large",
            &dr(
                "region: us-west-2, cidr: 10.107.0.0/16, secretsKmsKeyArn: \"arn:aws:kms:us-east-1:123456789012:key/1\"",
            ),
        ),
        // A standby network overlapping another cluster's.
        cluster(
            "overlap",
            "aws",
            "us-east-1",
            "10.8.0.0/16",
            "m6i.large",
            &dr("region: us-west-2, cidr: 10.1.0.0/16"),
        ),
    ];
    insta::assert_snapshot!(check(&fleet_text(&clusters)));
}

#[test]
fn quickstart_standbys() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart/fleet.yaml");
    let loaded = load(&path, &LoadOptions::new(jiff::civil::date(2026, 11, 21))).unwrap();
    let primaries: Vec<&str> = loaded
        .fleet
        .standbys
        .iter()
        .map(|s| s.primary.as_str())
        .collect();
    assert_eq!(primaries, ["prod-use1", "prod-weu"]);
    insta::assert_yaml_snapshot!(loaded.fleet.standbys);
}

/// One random cluster with a standby: indexes into small tables, so that regions, networks and
/// names often collide and the loader's checks are exercised as well as the derivation.
#[derive(Debug, Clone)]
struct Spec {
    azure: bool,
    region: usize,
    standby_region: usize,
    net: u8,
    standby_net: u8,
    mode: usize,
    name: usize,
    instance: usize,
    pools: [(u32, u32, u32); 2],
}

const AWS_REGIONS: &[&str] = &[
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "af-south-1",
    "me-south-1",
];
const AZURE_REGIONS: &[&str] = &[
    "westeurope",
    "northeurope",
    "polandcentral",
    "westus",
    "westus2",
    "canadaeast",
];
const AWS_TYPES: &[&str] = &[
    "m8g.xlarge",
    "m7i.large",
    "m6i.large",
    "t3.large",
    "c7g.2xlarge",
];
const AZURE_TYPES: &[&str] = &[
    "Standard_D4s_v6",
    "Standard_D4ps_v6",
    "Standard_D4s_v5",
    "Standard_E8s_v6",
];
const MODES: &[&str] = &["pilot-light", "warm", "hot"];
const NAMES: &[&str] = &["", "", "", "sb", "c0", "c1-dr"];

fn pool_bounds(system: bool) -> impl Strategy<Value = (u32, u32, u32)> {
    (u32::from(system)..4, 0u32..6, 0u32..10)
        .prop_map(|(min, extra, more)| (min, min + extra, (min + extra + more).max(1)))
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        any::<bool>(),
        0..6usize,
        0..6usize,
        (0u8..32, 0u8..32),
        0..3usize,
        0..NAMES.len(),
        0..5usize,
        (pool_bounds(true), pool_bounds(false)),
    )
        .prop_map(
            |(azure, region, standby_region, (net, standby_net), mode, name, instance, (a, b))| {
                Spec {
                    azure,
                    region,
                    standby_region,
                    net,
                    standby_net,
                    mode,
                    name,
                    instance,
                    pools: [a, b],
                }
            },
        )
}

fn spec_yaml(i: usize, s: &Spec) -> String {
    let (regions, types) = if s.azure {
        (AZURE_REGIONS, AZURE_TYPES)
    } else {
        (AWS_REGIONS, AWS_TYPES)
    };
    let instance = types[s.instance % types.len()];
    let name = match NAMES[s.name] {
        "" => String::new(),
        n => format!(", name: {n}"),
    };
    let [(min0, d0, max0), (min1, d1, max1)] = s.pools;
    let azure = if s.azure {
        AZURE.replace("NAME", &format!("c{i}"))
    } else {
        String::new()
    };
    format!(
        "  - name: c{i}\n    provider: {}\n    region: {}\n    kubernetes: {{ version: \"1.35\" }}\n    network: {{ cidr: 10.{}.0.0/16 }}\n    nodePools:\n      - {{ name: system, role: system, instanceType: {instance}, min: {min0}, max: {max0}, desired: {d0} }}\n      - {{ name: work, role: user, instanceType: {instance}, min: {min1}, max: {max1}, desired: {d1} }}\n{azure}    dr: {{ rto: 1h, standby: {{ region: {}, cidr: 10.{}.0.0/16, mode: {}{name} }} }}\n",
        if s.azure { "azure" } else { "aws" },
        regions[s.region],
        s.net,
        regions[s.standby_region],
        s.standby_net,
        MODES[s.mode],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Whatever loads keeps standbys apart from their primaries and the rest of the fleet
    /// (about a third of the random fleets load; the rest are refused by the checks).
    #[test]
    fn loaded_standbys_never_share_region_network_or_name(specs in prop::collection::vec(spec(), 1..4)) {
        let yaml: String = specs.iter().enumerate().map(|(i, s)| spec_yaml(i, s)).collect();
        let sources = vec![Source { name: "f.yaml".into(), text: format!("{HEAD}clusters:\n{yaml}") }];
        let Ok(loaded) = load_sources(sources, &options()) else {
            return Ok(());
        };
        let fleet = loaded.fleet;
        prop_assert_eq!(fleet.standbys.len(), fleet.clusters.len());
        let mut networks: Vec<(String, ipnet::Ipv4Net)> = fleet.clusters.iter().map(|c| (c.name.clone(), c.network.cidr)).collect();
        for s in &fleet.standbys {
            let primary = fleet.cluster(&s.primary).unwrap();
            let c = &s.cluster;
            prop_assert_ne!(&c.region, &primary.region);
            prop_assert!(fleet.cluster(&c.name).is_none());
            prop_assert_eq!(c.zones.len(), primary.zones.len());
            for (owner, net) in &networks {
                let overlap = net.contains(&c.network.cidr.network()) || c.network.cidr.contains(&net.network());
                prop_assert!(!overlap, "{} overlaps {owner}", c.name);
            }
            networks.push((c.name.clone(), c.network.cidr));
            prop_assert!(c.node_pools.iter().any(|p| p.role == PoolRole::System));
            for p in &c.node_pools {
                prop_assert!(p.min <= p.desired && p.desired <= p.max && p.max >= 1, "{p:?}");
            }
        }
        let mut names: Vec<&str> = fleet.standbys.iter().map(|s| s.cluster.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        prop_assert_eq!(names.len(), fleet.standbys.len());
    }
}
