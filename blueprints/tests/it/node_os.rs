//! Node pool `os`, the `node-os-supported` rule and evaluation at overridden versions.

use std::collections::BTreeMap;

use slipway_blueprints::{
    KubeVersion, LoadFailure, LoadOptions, Loaded, NodeOs, Source, load_sources,
};

use crate::support::{check, options};

const HEADER: &str =
    "apiVersion: slipway.dev/v1\nkind: Fleet\nmetadata: { name: test, owner: team }\n";
const AZ: &str =
    "    azure: { subscriptionId: 00000000-0000-0000-0000-000000000000, resourceGroup: rg }\n";

fn aws(name: &str, version: &str, cidr: &str, pools: &str) -> String {
    format!(
        "  - name: {name}\n    provider: aws\n    region: us-east-1\n    kubernetes: {{ version: \"{version}\" }}\n    network: {{ cidr: {cidr} }}\n    nodePools:\n      - {{ name: system, role: system, instanceType: m6i.large, min: 2, max: 4 }}\n{pools}"
    )
}

fn azure(name: &str, version: &str, cidr: &str, pools: &str) -> String {
    format!(
        "  - name: {name}\n    provider: azure\n    region: westeurope\n    kubernetes: {{ version: \"{version}\" }}\n    network: {{ cidr: {cidr} }}\n{AZ}    nodePools:\n      - {{ name: system, role: system, instanceType: Standard_D4s_v5, min: 2, max: 4 }}\n{pools}"
    )
}

fn fleet(extra: &str, clusters: &str) -> String {
    format!("{HEADER}{extra}clusters:\n{clusters}")
}

fn load_with(yaml: &str, overrides: &[(&str, &str)]) -> Result<Loaded, LoadFailure> {
    let mut opts = options();
    opts.kubernetes_overrides = overrides
        .iter()
        .map(|(c, v)| ((*c).to_owned(), KubeVersion::parse(v).unwrap()))
        .collect::<BTreeMap<_, _>>();
    let sources = vec![Source {
        name: "fleet.yaml".into(),
        text: yaml.to_owned(),
    }];
    load_sources(sources, &opts)
}

fn codes(result: &Result<Loaded, LoadFailure>) -> Vec<&'static str> {
    match result {
        Ok(l) => l.warnings.iter().map(|d| d.code).collect(),
        Err(f) => f.diagnostics.iter().map(|d| d.code).collect(),
    }
}

#[test]
fn new_options_have_no_overrides() {
    let opts = LoadOptions::new(jiff::civil::date(2026, 11, 21));
    assert!(opts.kubernetes_overrides.is_empty());
}

#[test]
fn os_choices_reach_the_model_through_profiles() {
    let profile = "profiles:\n  std:\n    nodePools:\n      - { name: system, role: system, instanceType: { aws: m6i.large, azure: Standard_D4s_v5 }, min: 2, max: 4, os: { aws: bottlerocket, azure: azure-linux } }\n      - { name: win, instanceType: { aws: m6i.large, azure: Standard_D4s_v5 }, min: 0, max: 2, os: { aws: al2023, azure: windows-2022 } }\n";
    let clusters = format!(
        "  - {{ name: a, profile: std, provider: aws, region: us-east-1, kubernetes: {{ version: \"1.34\" }}, network: {{ cidr: 10.0.0.0/16 }} }}\n  - name: b\n    profile: std\n    provider: azure\n    region: westeurope\n    kubernetes: {{ version: \"1.34\" }}\n    network: {{ cidr: 10.1.0.0/16 }}\n{AZ}  - {}",
        aws("c", "1.34", "10.2.0.0/16", "").trim_start_matches("  - ")
    );
    let loaded = load_with(&fleet(profile, &clusters), &[]).unwrap();
    let os = |c: &str| -> Vec<Option<NodeOs>> {
        let cluster = loaded.fleet.cluster(c).unwrap();
        cluster.node_pools.iter().map(|p| p.os).collect()
    };
    assert_eq!(os("a"), [Some(NodeOs::Bottlerocket), Some(NodeOs::Al2023)]);
    assert_eq!(
        os("b"),
        [Some(NodeOs::AzureLinux), Some(NodeOs::Windows2022)]
    );
    assert_eq!(os("c"), [None]);
}

#[test]
fn os_mistakes() {
    let aws_pools = "      - { name: typo, instanceType: m6i.large, min: 0, max: 2, os: al2O23 }\n      - { name: other, instanceType: m6i.large, min: 0, max: 2, os: azure-linux }\n      - { name: nonsense, instanceType: m6i.large, min: 0, max: 2, os: gentoo }\n";
    let azure_pools = "      - { name: winsys, role: system, instanceType: Standard_D4s_v5, min: 1, max: 2, os: windows-2022 }\n      - { name: windows1, instanceType: Standard_D4s_v5, min: 0, max: 2, os: windows-2022 }\n      - { name: mixed, instanceType: Standard_D4s_v5, min: 0, max: 2, os: { aws: al2 } }\n";
    let profile = "profiles:\n  bad:\n    nodePools:\n      - { name: system, role: system, instanceType: x, min: 2, max: 3, os: { aws: ubuntu } }\n";
    let clusters = format!(
        "{}{}",
        aws("a", "1.34", "10.0.0.0/16", aws_pools),
        azure("b", "1.34", "10.1.0.0/16", azure_pools)
    );
    insta::assert_snapshot!(check(&fleet(profile, &clusters)));
}

#[test]
fn pools_need_images_for_the_cluster_version() {
    let pools = "      - { name: legacy, instanceType: m6i.large, min: 0, max: 2, os: al2 }\n";
    let win = "      - { name: win19, instanceType: Standard_D4s_v5, min: 0, max: 2, os: windows-2019 }\n";
    let clusters = format!(
        "{}{}",
        aws("a", "1.34", "10.0.0.0/16", pools),
        azure("b", "1.34", "10.1.0.0/16", win)
    );
    insta::assert_snapshot!(check(&fleet("", &clusters)));

    // Exceptable like the other rules.
    let exception = "policies:\n  exceptions:\n    - { rule: node-os-supported, cluster: a, reason: \"migrating to al2023 this sprint\", expires: 2026-12-31 }\n";
    let yaml = fleet(exception, &aws("a", "1.34", "10.0.0.0/16", pools));
    assert_eq!(check(&yaml), "ok");
}

#[test]
fn overrides_evaluate_clusters_as_if_upgraded() {
    let pools = "      - { name: legacy, instanceType: m6i.large, min: 0, max: 2, os: al2 }\n";
    let yaml = fleet(
        "",
        &format!(
            "{}{}",
            aws("a", "1.32", "10.0.0.0/16", pools),
            aws("b", "1.32", "10.1.0.0/16", "")
        ),
    );
    // Valid at 1.32 (extended support on the test day: a warning).
    let loaded = load_with(&yaml, &[]);
    assert_eq!(
        codes(&loaded),
        ["version-extended-support", "version-extended-support"]
    );

    let at_133 = load_with(&yaml, &[("a", "1.33"), ("b", "1.33")]);
    assert!(at_133.is_err());
    assert_eq!(
        codes(&at_133),
        [
            "version-extended-support",
            "node-os-supported",
            "version-extended-support"
        ]
    );
    let Err(failure) = at_133 else { unreachable!() };
    insta::assert_snapshot!(
        failure
            .diagnostics
            .iter()
            .find(|d| d.code == "node-os-supported")
            .unwrap()
            .render_plain(),
        @r"
    fleet.yaml:12:70: error[node-os-supported]: node OS without images for the Kubernetes version
      at: clusters[0].nodePools[1].os
      Node pool `legacy` of cluster `a` runs `al2`, which has no node images for Kubernetes `1.33`. EKS publishes `AL2` images for Kubernetes 1.23 to 1.32. The cluster is evaluated at `1.33` instead of the written `1.32`.
      help: switch the pool to `os: al2023` or `os: bottlerocket`, or add a policy exception with a reason and an expiry date
    "
    );

    // A target outside the calendar also breaks `version-supported`.
    let at_140 = load_with(&yaml, &[("a", "1.40")]);
    assert_eq!(
        codes(&at_140),
        [
            "version-supported",
            "node-os-supported",
            "version-extended-support"
        ]
    );

    // The model carries the overridden version.
    let clean = fleet("", &aws("b", "1.32", "10.1.0.0/16", ""));
    let loaded = load_with(&clean, &[("b", "1.34")]).unwrap();
    assert_eq!(loaded.warnings.len(), 0);
    assert_eq!(
        loaded.fleet.cluster("b").unwrap().kubernetes,
        KubeVersion::new(1, 34)
    );
}

#[test]
fn overrides_name_clusters_of_the_fleet() {
    let yaml = fleet("", &aws("prod-a", "1.34", "10.0.0.0/16", ""));
    let Err(failure) = load_with(&yaml, &[("prod-b", "1.35")]) else {
        panic!("an unknown cluster must fail");
    };
    let rendered: Vec<String> = failure
        .diagnostics
        .iter()
        .map(|d| d.render_plain())
        .collect();
    insta::assert_snapshot!(rendered.join("\n\n"), @r"
    error[unknown-cluster]: unknown cluster
      Kubernetes `1.35` is requested for cluster `prod-b`, which is not in the fleet.
      help: did you mean `prod-a`?
    ");
}
