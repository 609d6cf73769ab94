//! Inputs: directories of files, profile and default merging, the model and JSON output.

use std::collections::BTreeMap;

use slipway_blueprints::{Cloud, PoolRole, Source, Tier, load, load_sources};

use crate::support::{check_sources, fixture, options};

const HEADER: &str = "apiVersion: slipway.dev/v1\nkind: Fleet\n";

#[test]
fn a_directory_is_merged_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, body: &str| {
        std::fs::write(dir.path().join(name), format!("{HEADER}{body}")).unwrap()
    };
    write(
        "20-clusters.yml",
        "clusters:\n  - { name: b, profile: small, provider: aws, region: eu-west-1, network: { cidr: 10.1.0.0/16 } }\n",
    );
    write(
        "00-fleet.yaml",
        "metadata: { name: split, owner: team }\nrings: [{ name: dev }]\n",
    );
    write(
        "10-profiles.yaml",
        "profiles:\n  small:\n    kubernetes: { version: \"1.35\" }\n    nodePools: [{ name: system, role: system, instanceType: t3.large, min: 2, max: 3 }]\nclusters:\n  - { name: a, profile: small, provider: aws, region: us-east-1, network: { cidr: 10.0.0.0/16 }, ring: dev }\n",
    );
    std::fs::write(dir.path().join("README.md"), "not yaml: [").unwrap();
    let loaded = load(dir.path(), &options()).unwrap();
    let names: Vec<&str> = loaded
        .fleet
        .clusters
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(loaded.fleet.name, "split");
    assert_eq!(loaded.fleet.rings.len(), 1);

    let empty = tempfile::tempdir().unwrap();
    let failure = load(empty.path(), &options()).unwrap_err();
    assert_eq!(failure.diagnostics[0].code, "read-failed");
}

#[test]
fn sections_may_be_defined_once_across_files() {
    let a = format!("{HEADER}metadata: {{ name: x, owner: y }}\nprofiles:\n  p: {{ tier: dev }}\n");
    let b = format!(
        "{HEADER}metadata: {{ name: z, owner: y }}\nprofiles:\n  p: {{ tier: test }}\ndefaults: {{ tier: dev }}\n"
    );
    insta::assert_snapshot!(check_sources(&[("a.yaml", &a), ("b.yaml", &b)]), @r"
    b.yaml:3:1: error[duplicate-section]: section defined in more than one file
      at: metadata
      `metadata` is already defined at a.yaml:3:1; it may appear in only one file.
      help: merge the two `metadata` sections

    b.yaml:5:3: error[duplicate-name]: duplicate name
      at: profiles.p
      Profile `p` is already defined at a.yaml:5:3.
      help: rename one of them, or merge them
    ");
}

#[test]
fn defaults_profile_and_cluster_merge_deeply_and_lists_replace() {
    let text = format!(
        "{HEADER}metadata: {{ name: m, owner: o }}
defaults:
  tags: {{ cost-center: shop, env: unknown }}
  addons: [coredns]
profiles:
  std:
    tier: prod
    kubernetes: {{ version: \"1.35\" }}
    tags: {{ env: prod }}
    nodePools:
      - {{ name: system, role: system, instanceType: {{ aws: m6i.large, azure: Standard_D4s_v5 }}, min: 3, max: 6 }}
    privateEndpoints:
      - s3
      - sts
      - {{ name: acr, resourceId: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-shared/providers/Microsoft.ContainerRegistry/registries/acr1 }}
      - {{ name: keyvault, resourceId: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-shared/providers/Microsoft.KeyVault/vaults/kv1 }}
    dr: {{ rto: 2h, standby: {{ region: us-west-2, cidr: 10.50.0.0/16 }} }}
clusters:
  - name: a
    profile: std
    provider: aws
    region: us-east-1
    tags: {{ team: checkout }}
    network: {{ cidr: 10.0.0.0/16 }}
  - name: b
    profile: std
    provider: azure
    region: westeurope
    azure: {{ subscriptionId: 00000000-0000-0000-0000-000000000000, resourceGroup: rg-b }}
    network: {{ cidr: 10.1.0.0/16 }}
    nodePools:
      - {{ name: sys, role: system, instanceType: Standard_D2s_v5, min: 2, max: 3, desired: 3 }}
      - {{ name: gpu, instanceType: Standard_NC6s_v3, min: 0, max: 2, taints: [\"gpu=true:NoSchedule\"] }}
    addons: [coredns, keda, {{ name: istio, version: asm-1-28 }}]
    dr: {{ rto: 4h, standby: {{ region: northeurope, cidr: 10.51.0.0/16 }} }}
"
    );
    let loaded = load_sources(
        vec![Source {
            name: "m.yaml".into(),
            text,
        }],
        &options(),
    )
    .unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let a = loaded.fleet.cluster("a").unwrap();
    let b = loaded.fleet.cluster("b").unwrap();
    let tags = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(
        a.tags,
        tags(&[
            ("cost-center", "shop"),
            ("env", "prod"),
            ("team", "checkout")
        ])
    );
    assert_eq!(a.tier, Tier::Prod);
    assert_eq!(a.node_pools[0].instance_type, "m6i.large");
    assert_eq!(a.node_pools[0].desired, 3);
    assert_eq!(a.node_pools[0].disk_size_gb, 100);
    assert_eq!(a.node_pools[0].upgrade.max_surge, "33%");
    assert_eq!(a.private_endpoints, ["s3", "sts"]);
    assert_eq!(
        a.addons.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
        ["coredns"]
    );
    assert_eq!(a.profile.as_deref(), Some("std"));
    assert_eq!(a.dr.as_ref().unwrap().standby.region, "us-west-2");

    assert_eq!(b.provider, Cloud::Azure);
    assert_eq!(b.zones, ["1", "2", "3"]);
    assert_eq!(b.node_pools.len(), 2);
    assert_eq!(b.node_pools[1].role, PoolRole::User);
    assert_eq!(b.node_pools[1].disk_size_gb, 128);
    assert_eq!(b.private_endpoints, ["acr", "keyvault"]);
    let targets = &b.azure.as_ref().unwrap().private_endpoint_targets;
    assert_eq!(
        targets.keys().collect::<Vec<_>>(),
        ["acr", "keyvault"],
        "every Azure endpoint carries its target"
    );
    assert!(targets["keyvault"].ends_with("/Microsoft.KeyVault/vaults/kv1"));
    // `coredns` is built into AKS: only real add-ons stay in the model.
    assert_eq!(
        b.addons
            .iter()
            .map(|x| (x.name.as_str(), x.version.as_deref()))
            .collect::<Vec<_>>(),
        [("keda", None), ("istio", Some("asm-1-28"))]
    );
    assert_eq!(b.dr.as_ref().unwrap().standby.region, "northeurope");
    assert_eq!(b.network.subnets.len(), 2);
    assert!(b.aws.is_none() && b.azure.is_some() && a.aws.is_some() && a.azure.is_none());
}

#[test]
fn the_example_model_is_stable() {
    let loaded = load(&fixture("example.yaml"), &options()).unwrap();
    let codes: Vec<&str> = loaded.warnings.iter().map(|w| w.code).collect();
    assert_eq!(codes, ["prod-dr-defined", "unused-exception"]);
    insta::assert_json_snapshot!(loaded.fleet);
}

#[test]
fn diagnostics_serialize_for_json_output() {
    let text = format!("{HEADER}metadata: {{ name: m, owner: o }}\nclusters: 3\n");
    let failure = load_sources(
        vec![Source {
            name: "m.yaml".into(),
            text,
        }],
        &options(),
    )
    .unwrap_err();
    insta::assert_json_snapshot!(failure.diagnostics, @r#"
    [
      {
        "severity": "error",
        "code": "wrong-type",
        "summary": "wrong type",
        "detail": "Expected a list for `clusters`, found an integer.",
        "help": null,
        "location": {
          "file": "m.yaml",
          "line": 4,
          "column": 11,
          "offset": 81,
          "len": 1
        },
        "yaml_path": "clusters"
      }
    ]
    "#);
}

#[test]
fn the_digest_covers_names_and_bytes() {
    let digest = |name: &str, text: &str| {
        let text = format!("{HEADER}metadata: {{ name: m, owner: o }}\n{text}");
        load_sources(
            vec![Source {
                name: name.into(),
                text,
            }],
            &options(),
        )
        .unwrap()
        .fleet
        .digest
    };
    assert_eq!(digest("a.yaml", ""), digest("a.yaml", ""));
    assert_ne!(digest("a.yaml", ""), digest("b.yaml", ""));
    assert_ne!(digest("a.yaml", ""), digest("a.yaml", "# comment\n"));
    assert_eq!(digest("a.yaml", "").len(), 64);
}

#[test]
fn truncated_and_mangled_inputs_never_panic() {
    let text = std::fs::read_to_string(fixture("many-mistakes.yaml")).unwrap();
    let cuts = text.char_indices().map(|(i, _)| i).step_by(5);
    for cut in cuts {
        for variant in [text[..cut].to_owned(), text[..cut].replace(": ", ": [")] {
            let _ = load_sources(
                vec![Source {
                    name: "x.yaml".into(),
                    text: variant,
                }],
                &options(),
            );
        }
    }
}
