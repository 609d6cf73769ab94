//! One snapshot per feature: the diagnostics a small blueprint produces.

use crate::support::check;

/// A fleet with the given `clusters:` entries (indented by four spaces) and extra top-level YAML.
fn fleet(clusters: &str, extra: &str) -> String {
    format!(
        "apiVersion: slipway.dev/v1\nkind: Fleet\nmetadata:\n  name: test\n  owner: team\n{extra}clusters:\n{clusters}rings:\n  - name: dev\n"
    )
}

const AWS_POOL: &str = "    nodePools:\n      - { name: system, role: system, instanceType: m6i.large, min: 2, max: 4 }\n";

fn aws(name: &str, cidr: &str, more: &str) -> String {
    format!(
        "  - name: {name}\n    provider: aws\n    region: us-east-1\n    kubernetes: {{ version: \"1.35\" }}\n    network: {{ cidr: {cidr} }}\n{AWS_POOL}{more}"
    )
}

#[test]
fn a_minimal_fleet_is_clean() {
    assert_eq!(check(&fleet(&aws("a", "10.0.0.0/16", ""), "")), "ok");
}

#[test]
fn yaml_problems() {
    insta::assert_snapshot!(check("apiVersion: slipway.dev/v1\nkind: Fleet\nmetadata: { name: x, owner: y, name: z }\n"), @r"
    fleet.yaml:3:32: error[duplicate-key]: duplicate key
      at: metadata.name
      The key `name` already appears on line 3 of this mapping; only the first is used.
      help: remove one of the two entries
    ");
    insta::assert_snapshot!(check("apiVersion: slipway.dev/v1\nkind: Fleet\nmetadata: !fleet { name: x, owner: y }\n"), @r"
    fleet.yaml:3:18: error[yaml-tag]: unsupported YAML tag
      at: metadata
      The tag `!fleet` has no meaning in a blueprint.
      help: remove the tag; only the YAML core tags such as `!!str` are accepted
    ");
    insta::assert_snapshot!(
        "yaml_syntax_error",
        check("apiVersion: slipway.dev/v1\nkind: Fleet\nmetadata:\n  name: x\n  owner: [y\n")
    );
}

#[test]
fn anchors_and_aliases_are_resolved_and_merge_keys_refused() {
    let pool = "    nodePools: &pools\n      - { name: system, role: system, instanceType: m6i.large, min: 2, max: 4 }\n";
    let a = format!(
        "  - name: a\n    provider: aws\n    region: us-east-1\n    kubernetes: {{ version: \"1.35\" }}\n    network: {{ cidr: 10.0.0.0/16 }}\n{pool}"
    );
    let b = "  - name: b\n    provider: aws\n    region: us-east-1\n    kubernetes: { version: \"1.35\" }\n    network: { cidr: 10.1.0.0/16 }\n    nodePools: *pools\n";
    assert_eq!(check(&fleet(&format!("{a}{b}"), "")), "ok");
    let merge_key = format!("{a}  - <<: *base\n    name: b\n")
        .replace("  - name: a\n", "  - &base\n    name: a\n");
    insta::assert_snapshot!(check(&fleet(&merge_key, "")));
}

#[test]
fn type_errors_unknown_fields_and_enums() {
    let c = "  - name: a\n    provider: azur\n    region: westeurope\n    tier: production\n    kubernetes: { version: \"1.35\" }\n    network: { cidr: 10.0.0.0/16 }\n    nodePools:\n      - { name: system, role: system, instanceType: x, min: \"1\", max: 3, taint: [] }\n    endpoint: 443\n";
    insta::assert_snapshot!(check(&fleet(c, "")));
}

#[test]
fn unquoted_versions_are_type_errors_at_the_profile_that_wrote_them() {
    let profile = "profiles:\n  std:\n    kubernetes: { version: 1.30 }\n";
    let c = "  - name: a\n    profile: std\n    provider: aws\n    region: us-east-1\n    network: { cidr: 10.0.0.0/16 }\n    nodePools:\n      - { name: system, role: system, instanceType: m6i.large, min: 2, max: 4 }\n  - name: b\n    profile: std\n    provider: aws\n    region: us-east-1\n    network: { cidr: 10.1.0.0/16 }\n    nodePools:\n      - { name: system, role: system, instanceType: m6i.large, min: 2, max: 4 }\n";
    insta::assert_snapshot!(check(&fleet(c, profile)), @r#"
    fleet.yaml:8:28: error[wrong-type]: wrong type
      at: profiles.std.kubernetes.version
      Expected a string for the Kubernetes version, found a number: YAML reads `1.30` as 1.3.
      help: quote it: "1.30"
    "#);
}

#[test]
fn unknown_profile_does_not_cascade() {
    let c = "  - name: a\n    profile: standard\n    provider: aws\n    region: us-east-1\n    network: { cidr: 10.0.0.0/16 }\n";
    insta::assert_snapshot!(check(&fleet(c, "profiles:\n  std: { tier: dev }\n")), @r"
    fleet.yaml:10:14: error[unknown-profile]: unknown profile
      at: clusters[0].profile
      No profile is named `standard`.
      help: profiles: `std`
    ");
}

#[test]
fn versions_against_the_calendars() {
    let version = |cloud: &str, region: &str, v: &str, extra: &str| {
        format!(
            "  - name: a\n    provider: {cloud}\n    region: {region}\n    kubernetes: {{ version: \"{v}\" }}\n    network: {{ cidr: 10.0.0.0/16 }}\n    nodePools:\n      - {{ name: system, role: system, instanceType: x, min: 2, max: 4 }}\n{extra}"
        )
    };
    let az =
        "    azure: { subscriptionId: 00000000-0000-0000-0000-000000000000, resourceGroup: rg }\n";
    insta::assert_snapshot!(
        "aws_extended",
        check(&fleet(&version("aws", "us-east-1", "1.33", ""), ""))
    );
    insta::assert_snapshot!(
        "aws_unknown",
        check(&fleet(&version("aws", "us-east-1", "1.40", ""), ""))
    );
    insta::assert_snapshot!(
        "aks_lts_only",
        check(&fleet(&version("azure", "westeurope", "1.33", az), ""))
    );
    insta::assert_snapshot!(
        "bad_strings",
        check(&fleet(&version("aws", "us-east-1", "v1.34", ""), ""))
    );
}

#[test]
fn networks() {
    let c = format!(
        "{}{}{}",
        aws("a", "10.0.0.0/16", ""),
        aws(
            "b",
            "10.0.0.0/8",
            "    dr: { rto: 1h, standby: { region: us-west-2, cidr: 10.0.0.0/16 } }\n"
        ),
        aws("c", "300.1.0.0/16", "")
    );
    insta::assert_snapshot!(check(&fleet(&c, "")));
}

#[test]
fn zones() {
    let c = format!(
        "{}{}{}",
        aws("a", "10.0.0.0/16", "    zones: 1\n"),
        aws("b", "10.1.0.0/16", "    zones: [a, c, us-east-1z, a]\n"),
        "  - name: c\n    provider: azure\n    region: westus\n    zones: 2\n    kubernetes: { version: \"1.35\" }\n    azure: { subscriptionId: 00000000-0000-0000-0000-000000000000, resourceGroup: rg }\n    network: { cidr: 10.2.0.0/16 }\n    nodePools:\n      - { name: system, role: system, instanceType: x, min: 1, max: 3 }\n"
    );
    insta::assert_snapshot!(check(&fleet(&c, "")));
}

#[test]
fn node_pools() {
    let c = "  - name: a\n    provider: aws\n    region: us-east-1\n    kubernetes: { version: \"1.35\" }\n    network: { cidr: 10.0.0.0/16 }\n    nodePools:\n      - { name: web, instanceType: m6i.large, min: 0, max: 500 }\n      - { name: web, instanceType: m6i.large, min: 1, max: 3, desired: 5 }\n      - { name: x, instanceType: m6i.large, min: 1, max: 3, taints: [\"dedicated=gpu\"], upgrade: { maxSurge: \"150%\" } }\n  - name: b\n    provider: aws\n    region: us-east-1\n    kubernetes: { version: \"1.35\" }\n    network: { cidr: 10.1.0.0/16 }\n    nodePools:\n      - { name: web, instanceType: m6i.large, min: 1, max: 3 }\n";
    insta::assert_snapshot!(check(&fleet(c, "")));
}

#[test]
fn addons_and_private_endpoints() {
    let c = format!(
        "{}{}",
        aws(
            "a",
            "10.0.0.0/16",
            "    addons: [coredns, keda, { name: vpc-cni, version: v1.20.1-eksbuild.3 }, { version: x }]\n    privateEndpoints: { aws: [s3, acr], gcp: [x] }\n"
        ),
        "  - name: b\n    provider: azure\n    region: westeurope\n    kubernetes: { version: \"1.35\" }\n    azure: { subscriptionId: 00000000-0000-0000-0000-000000000000, resourceGroup: rg }\n    network: { cidr: 10.1.0.0/16 }\n    nodePools:\n      - { name: system, role: system, instanceType: x, min: 1, max: 3 }\n    addons: [coredns, cloudwatch-observability, azure-polcy]\n    privateEndpoints: [s3, keyvault, key-vault]\n"
    );
    insta::assert_snapshot!(check(&fleet(&c, "")));
}

#[test]
fn istio_is_azure_only_and_pinned_to_a_mesh_revision() {
    let azure = |name: &str, cidr: &str, addons: &str| {
        format!(
            "  - name: {name}\n    provider: azure\n    region: westeurope\n    kubernetes: {{ version: \"1.35\" }}\n    azure: {{ subscriptionId: 00000000-0000-0000-0000-000000000000, resourceGroup: rg }}\n    network: {{ cidr: {cidr} }}\n    nodePools:\n      - {{ name: system, role: system, instanceType: x, min: 1, max: 3 }}\n    addons: {addons}\n"
        )
    };
    let c = format!(
        "{}{}{}",
        aws("a", "10.0.0.0/16", "    addons: [coredns, istio]\n"),
        azure("b", "10.1.0.0/16", "[{ name: istio, version: \"1.28\" }]"),
        azure(
            "c",
            "10.2.0.0/16",
            "[{ name: istio, version: asm-1-28 }, keda]"
        ),
    );
    insta::assert_snapshot!(check(&fleet(&c, "")));
}

#[test]
fn workload_identities() {
    let c = aws(
        "a",
        "10.0.0.0/16",
        "    workloadIdentities:\n      - { name: api, namespace: Orders, serviceAccount: api, clientSecret: hunter2 }\n      - name: api\n        namespace: orders\n        serviceAccount: api\n        azure: { roleAssignments: [{ role: Reader, scope: \"resourceGroups/rg\" }] }\n",
    );
    insta::assert_snapshot!(check(&fleet(&c, "")));
}

#[test]
fn cloud_settings() {
    let c = format!(
        "{}{}",
        aws(
            "a",
            "10.0.0.0/16",
            "    aws: { workloadIdentity: podidentity, secretsKmsKeyArn: alias/x, accessEntries: [{ principalArn: \"arn:aws:iam::123456789012:role/admins\", policies: [AmazonEKSClusterAdminPolicy], namespaces: [Default] }] }\n"
        ),
        "  - name: b\n    provider: azure\n    region: westeurope\n    kubernetes: { version: \"1.35\" }\n    network: { cidr: 10.1.0.0/16 }\n    nodePools:\n      - { name: system, role: system, instanceType: { aws: m6i.large }, min: 1, max: 3 }\n"
    );
    insta::assert_snapshot!(check(&fleet(&c, "")));
}

#[test]
fn azure_endpoint_targets_and_monitoring_workspace() {
    let azure = |name: &str, cidr: &str, extra: &str| {
        format!(
            "  - name: {name}\n    provider: azure\n    region: westeurope\n    kubernetes: {{ version: \"1.35\" }}\n    network: {{ cidr: {cidr} }}\n    nodePools:\n      - {{ name: system, role: system, instanceType: x, min: 1, max: 3 }}\n{extra}"
        )
    };
    let c = format!(
        "{}{}{}",
        azure(
            "a",
            "10.0.0.0/16",
            "    azure: { subscriptionId: 00000000-0000-0000-0000-000000000000, resourceGroup: rg }\n    addons: [monitoring]\n    privateEndpoints: [acr, { name: keyvault, resourceId: /subscriptions/x/vaults/kv }, { resourceId: /x }]\n"
        ),
        azure(
            "b",
            "10.1.0.0/16",
            "    azure: { subscriptionId: 00000000-0000-0000-0000-000000000000, resourceGroup: rg, logAnalyticsWorkspaceId: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv }\n    addons: [monitoring]\n"
        ),
        azure(
            "c",
            "10.2.0.0/16",
            "    azure: { subscriptionId: 00000000-0000-0000-0000-000000000000, resourceGroup: rg, logAnalyticsWorkspaceId: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/logs }\n    addons: [monitoring]\n    privateEndpoints: { azure: [{ name: acr, resourceId: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r } ] }\n"
        ),
    );
    insta::assert_snapshot!(check(&fleet(&c, "")));
}

#[test]
fn invariants_and_exceptions() {
    let c = format!(
        "{}{}",
        aws(
            "a",
            "10.0.0.0/16",
            "    tier: prod\n    zones: 2\n    endpoint: public-and-private\n"
        ),
        aws(
            "b",
            "10.1.0.0/16",
            "    tier: prod\n    zones: 2\n    dr: { rto: 90m, standby: { region: us-west-2, cidr: 10.2.0.0/16, mode: hot } }\n"
        )
    );
    let policies = "policies:\n  exceptions:\n    - { rule: prod-min-zones, cluster: a, reason: capacity, expires: 2027-01-01 }\n    - { rule: prod-dr-defined, cluster: a, reason: stateless, expires: 2027-01-01 }\n    - { rule: version-supported, cluster: b, reason: none needed, expires: 2027-01-01 }\n    - { rule: owner-required, cluster: c, reason: typo, expires: 2027-01-01 }\n    - { rule: workload-identity-not-static-credentials, reason: no, expires: 2027-01-01 }\n    - { rule: prod-min-zones, cluster: b, reason: \"\", expires: 31.01.2027 }\n";
    insta::assert_snapshot!(check(&fleet(&c, policies)));
}

#[test]
fn owner_is_required_unless_excepted_fleet_wide() {
    let text = fleet(&aws("a", "10.0.0.0/16", ""), "").replace("  owner: team\n", "");
    insta::assert_snapshot!(check(&text), @r"
    fleet.yaml:3:1: error[owner-required]: fleet has no owner
      at: metadata
      The fleet names no owner; every fleet needs a team to page when it breaks.
      help: add `owner: <team>` to `metadata`
    ");
    let excepted = text.replace("clusters:", "policies:\n  exceptions: [{ rule: owner-required, reason: sandbox, expires: 2027-01-01 }]\nclusters:");
    assert_eq!(check(&excepted), "ok");
}

#[test]
fn rings_and_dr() {
    let c = aws(
        "a",
        "10.0.0.0/16",
        "    ring: canary\n    dr: { rto: soon, standby: { region: eu-west-9, cidr: 10.1.0.0/16, mode: cold } }\n",
    );
    let text = fleet(&c, "").replace(
        "rings:\n  - name: dev\n",
        "rings:\n  - name: dev\n    gates: [health, smoke, { command: \"\" }, { run: x }]\n    approval: maybe\n    maxParallel: 0\n  - name: dev\n    failureThreshold: -1\n",
    );
    insta::assert_snapshot!(check(&text));
}

#[test]
fn names_and_documents() {
    let c = aws("Prod_East", "10.0.0.0/16", "");
    let text = fleet(&c, "").replace(
        "apiVersion: slipway.dev/v1\nkind: Fleet\n",
        "apiVersion: slipway.dev/v2\nkind: fleet\nextra: 1\n",
    );
    insta::assert_snapshot!(check(&text));
}
