//! `slipway scan` readiness against the emulated clouds: clusters are built with `apply`, then
//! scanned for unsupported targets, skipped minors, incompatible add-ons (EKS add-on versions,
//! AKS service mesh revisions), outdated node images, EKS upgrade insights and the blueprint's
//! invariants at the target.

use std::path::Path;

use slipway_emulator::FaultConfig;

use crate::cloud::{Cloud, http, run};
use crate::one_json_document;

const AWS_FLEET: &str = r#"
apiVersion: slipway.dev/v1
kind: Fleet
metadata: { name: scan-aws, owner: platform-runtime }
clusters:
  - name: legacy
    provider: aws
    region: us-east-1
    tier: dev
    kubernetes: { version: "1.31" }
    endpoint: public
    zones: 2
    network: { cidr: 10.60.0.0/16 }
    nodePools:
      - { name: system, role: system, instanceType: t3.large, min: 1, max: 2 }
      - { name: old, role: user, instanceType: t3.large, min: 1, max: 2, os: al2 }
    addons:
      - { name: coredns, version: v1.11.4-eksbuild.33 }
      - kube-proxy
      - vpc-cni
"#;

const AZURE_FLEET: &str = r#"
apiVersion: slipway.dev/v1
kind: Fleet
metadata: { name: scan-azure, owner: platform-runtime }
clusters:
  - name: winfarm
    provider: azure
    region: westeurope
    tier: dev
    kubernetes: { version: "1.35" }
    endpoint: public
    zones: 2
    azure:
      subscriptionId: 22222222-2222-2222-2222-222222222222
      resourceGroup: rg-winfarm
    network: { cidr: 10.80.0.0/16 }
    nodePools:
      - { name: system, role: system, instanceType: Standard_D4s_v5, min: 1, max: 2 }
      - { name: win, role: user, instanceType: Standard_D4s_v5, min: 1, max: 2, os: windows-2022 }
    addons:
      - { name: istio, version: asm-1-29 }
"#;

fn fleet(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.yaml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn scan(dir: &Path, cloud: &Cloud, fleet: &Path, to: &str) -> serde_json::Value {
    let out = run(
        dir,
        cloud,
        &[
            "scan",
            fleet.to_str().unwrap(),
            "--to",
            to,
            "--output",
            "json",
        ],
    )
    .get_output()
    .clone();
    let doc = one_json_document(&out.stdout);
    let expected = if doc["blocking"] == true { 5 } else { 0 };
    assert_eq!(
        out.status.code(),
        Some(expected),
        "exit code follows `blocking`: {doc}"
    );
    doc
}

/// `severity rule@subject` of every finding, sorted.
fn findings(doc: &serde_json::Value) -> Vec<String> {
    let mut all: Vec<String> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {}@{}",
                f["severity"].as_str().unwrap(),
                f["rule"].as_str().unwrap(),
                f["subject"].as_str().unwrap()
            )
        })
        .collect();
    all.sort();
    all
}

fn message<'d>(doc: &'d serde_json::Value, rule: &str) -> &'d str {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("no `{rule}` finding in {doc}"))["message"]
        .as_str()
        .unwrap()
}

#[test]
fn eks_readiness_reports_images_addons_insights_paths_and_calendars_from_the_live_cluster() {
    let cloud = Cloud::start(FaultConfig::default());
    let (dir, fleet) = fleet(AWS_FLEET);
    let path = fleet.to_str().unwrap();
    run(dir.path(), &cloud, &["apply", path, "--auto-approve"]).code(0);

    // The next minor: EKS computes its insights for it, and they pass; 1.32 is in extended
    // support on the pinned date.
    let doc = scan(dir.path(), &cloud, &fleet, "1.32");
    let cluster = &doc["clusters"][0];
    assert_eq!(cluster["live"], true);
    assert_eq!(cluster["current"], "1.31");
    assert_eq!(cluster["path"], serde_json::json!(["1.32"]));
    assert_eq!(findings(&doc), ["warning version-extended-support@1.32"]);
    assert!(
        cluster["checks_passed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "Deprecated APIs removed in Kubernetes v1.32"),
        "{cluster}"
    );

    // The audit log saw an API that 1.32 removes being called: the EKS insight turns to ERROR.
    let (status, body) = http(
        "POST",
        &cloud.url,
        "/_emulator/eks/deprecated-api-usage",
        "Content-Type: application/json\r\n",
        r#"{"cluster":"legacy","region":"us-east-1","usage":"/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas","userAgent":"prometheus-adapter/v0.11","requestCount":12,"lastRequestTime":"2026-11-20T10:00:00Z"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let doc = scan(dir.path(), &cloud, &fleet, "1.32");
    assert_eq!(
        findings(&doc),
        [
            "blocker cloud-insight@Deprecated APIs removed in Kubernetes v1.32",
            "warning version-extended-support@1.32",
        ]
    );
    assert!(
        message(&doc, "cloud-insight")
            .contains("flowschemas is called by prometheus-adapter/v0.11 (12 requests)"),
        "{doc}"
    );

    // Two hops: listed; the AL2 node group has no 1.33 AMIs (live evidence and the blueprint
    // invariant both say so).
    let doc = scan(dir.path(), &cloud, &fleet, "1.33");
    assert_eq!(
        findings(&doc),
        [
            "blocker invariant-after-upgrade@node-os-supported",
            "blocker node-image-unsupported@pool old",
            "warning addon-will-change@kube-proxy",
            "warning version-extended-support@1.33",
            "warning version-path@1.33",
        ]
    );
    assert!(
        message(&doc, "addon-will-change")
            .contains("the upgrade moves it to a compatible version (default v1.33"),
        "kube-proxy is not pinned, so the rings move it: {doc}"
    );
    assert!(message(&doc, "version-path").contains("1.31 → 1.32, 1.32 → 1.33"));
    assert!(
        message(&doc, "node-image-unsupported")
            .contains("(AL2_x86_64), which has no node images for Kubernetes 1.33"),
        "{doc}"
    );
    let invariant = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "invariant-after-upgrade")
        .unwrap();
    assert_eq!(invariant["location"]["file"], path);
    assert_eq!(invariant["location"]["line"], 16, "the pool's `os: al2`");

    // Three hops, and the pinned CoreDNS build is not offered for 1.34.
    let doc = scan(dir.path(), &cloud, &fleet, "1.34");
    let found = findings(&doc);
    for expected in [
        "blocker addon-incompatible@coredns",
        "blocker node-image-unsupported@pool old",
        "warning version-path@1.34",
    ] {
        assert!(
            found.contains(&expected.to_owned()),
            "{expected} in {found:?}"
        );
    }
    assert!(message(&doc, "version-path").contains("1.31 → 1.32, 1.32 → 1.33, 1.33 → 1.34"));
    assert!(
        message(&doc, "addon-incompatible").contains("pinned to v1.11.4-eksbuild.33"),
        "{doc}"
    );

    // A target EKS does not offer.
    let doc = scan(dir.path(), &cloud, &fleet, "1.37");
    assert!(
        findings(&doc).contains(&"blocker version-unsupported@1.37".to_owned()),
        "{doc}"
    );
}

#[test]
fn aks_readiness_follows_the_upgrade_profile_mesh_add_on_and_windows_image_support() {
    let cloud = Cloud::start(FaultConfig::default());
    let (dir, fleet) = fleet(AZURE_FLEET);
    run(
        dir.path(),
        &cloud,
        &["apply", fleet.to_str().unwrap(), "--auto-approve"],
    )
    .code(0);

    // The next minor: AKS offers it, Windows Server 2022 has images for it and the pinned mesh
    // revision runs on it.
    let doc = scan(dir.path(), &cloud, &fleet, "1.36");
    assert_eq!(doc["blocking"], false, "{doc}");
    let cluster = &doc["clusters"][0];
    assert_eq!(cluster["live"], true);
    assert!(cluster["current"].as_str().unwrap().starts_with("1.35"));
    assert_eq!(findings(&doc), Vec::<String>::new());

    // A skipped minor, a Windows Server 2022 pool that has no 1.37 images, and a mesh revision
    // that stops at 1.36 (the location's meshRevisionProfiles say so).
    let doc = scan(dir.path(), &cloud, &fleet, "1.37");
    assert_eq!(
        findings(&doc),
        [
            "blocker addon-incompatible@istio",
            "blocker invariant-after-upgrade@node-os-supported",
            "blocker node-image-unsupported@pool win",
            "warning version-path@1.37",
        ]
    );
    assert!(message(&doc, "version-path").contains("1.35 → 1.36, 1.36 → 1.37"));
    assert!(message(&doc, "node-image-unsupported").contains("windows-2022 (Windows2022)"));
    assert_eq!(
        message(&doc, "addon-incompatible"),
        "add-on `istio` is pinned to asm-1-29, which is not compatible with Kubernetes 1.37; compatible: asm-1-30 (default asm-1-30)"
    );

    // A target AKS does not offer.
    let doc = scan(dir.path(), &cloud, &fleet, "1.38");
    assert!(
        findings(&doc).contains(&"blocker version-unsupported@1.38".to_owned()),
        "{doc}"
    );
}
