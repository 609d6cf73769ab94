//! Readiness judged from provider evidence: calendars, the one-minor path, kubelet skew, node OS
//! images, add-on versions, the cloud's checks, and evidence that could not be read.

use std::collections::BTreeMap;

use slipway_blueprints::{Addon, Cloud, Diagnostic, Fleet, KubeVersion, NodeOs, Severity};
use slipway_engine::Registry;
use slipway_engine::scan::{
    self, Evidence, FindingSeverity, ScanInput, ScanReport, invariants_after_upgrade,
};
use slipway_provider::{
    AddonEvidence, Insight, InsightClient, InsightDeprecation, InsightStatus, LiveCluster,
    LiveNodePool, UpgradeEvidence,
};
use slipway_state::Snapshot;

use crate::fake::FakeCloud;
use crate::graph::cluster;

fn today() -> jiff::civil::Date {
    "2026-11-21".parse().unwrap()
}

fn fleet() -> Fleet {
    let mut live = cluster("live", "10.0.0.0/16", &[]);
    live.kubernetes = KubeVersion::new(1, 32);
    live.addons = vec![
        Addon {
            name: "coredns".into(),
            version: Some("v1.11.4-eksbuild.2".into()),
        },
        Addon {
            name: "kube-proxy".into(),
            version: None,
        },
    ];
    let mut unbuilt = cluster("unbuilt", "10.1.0.0/16", &[]);
    unbuilt.node_pools[0].os = Some(NodeOs::Al2);
    let mut azure = cluster("azure", "10.2.0.0/16", &[]);
    azure.provider = Cloud::Azure;
    azure.region = "westeurope".into();
    Fleet {
        name: "fleet".into(),
        owner: None,
        clusters: vec![live, unbuilt, azure],
        rings: vec![],
        digest: "d".into(),
        standbys: Vec::new(),
    }
}

fn pool(name: &str, version: &str, os: Option<NodeOs>, image: &str) -> LiveNodePool {
    LiveNodePool {
        name: name.into(),
        version: version.into(),
        image: Some(image.into()),
        os,
        image_version: None,
        owned: true,
    }
}

/// The cloud runs `live` at 1.31 although the blueprint says 1.32.
fn live_evidence() -> UpgradeEvidence {
    UpgradeEvidence {
        live: Some(LiveCluster {
            name: "live".into(),
            version: "1.31".into(),
            status: "ACTIVE".into(),
            node_pools: vec![
                pool(
                    "system",
                    "1.31",
                    Some(NodeOs::Al2023),
                    "AL2023_x86_64_STANDARD",
                ),
                pool("legacy", "1.27", Some(NodeOs::Al2), "AL2_x86_64"),
            ],
        }),
        upgrades_offered: None,
        addons: vec![
            AddonEvidence {
                name: "coredns".into(),
                installed: Some("v1.11.4-eksbuild.2".into()),
                compatible: vec!["v1.12.1-eksbuild.2".into(), "v1.12.0-eksbuild.1".into()],
                default_for_target: Some("v1.12.1-eksbuild.2".into()),
                moved_by_upgrade: true,
            },
            AddonEvidence {
                name: "kube-proxy".into(),
                installed: Some("v1.31.3-eksbuild.2".into()),
                compatible: vec!["v1.33.0-eksbuild.2".into()],
                default_for_target: Some("v1.33.0-eksbuild.2".into()),
                moved_by_upgrade: true,
            },
            // An add-on the cloud never moves by itself (like the AKS mesh revision).
            AddonEvidence {
                name: "mesh".into(),
                installed: Some("rev-1".into()),
                compatible: vec!["rev-3".into(), "rev-2".into()],
                default_for_target: Some("rev-3".into()),
                moved_by_upgrade: false,
            },
        ],
        insights: vec![
            Insight {
                id: "i-1".into(),
                name: "Deprecated APIs removed in Kubernetes v1.32".into(),
                category: "UPGRADE_READINESS".into(),
                status: InsightStatus::Error,
                reason: "Deprecated API usage detected within last 30 days".into(),
                kubernetes_version: Some("1.32".into()),
                recommendation: Some("Update manifests and API clients".into()),
                deprecations: vec![InsightDeprecation {
                    usage: "/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas".into(),
                    replaced_with: Some("/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas".into()),
                    stop_serving_version: Some("1.32".into()),
                    clients: vec![InsightClient {
                        user_agent: "prometheus-adapter".into(),
                        requests: 42,
                        last_request: None,
                    }],
                }],
            },
            Insight {
                id: "i-2".into(),
                name: "Cluster health issues".into(),
                category: "UPGRADE_READINESS".into(),
                status: InsightStatus::Passing,
                reason: "No issues".into(),
                ..Insight::default()
            },
        ],
        notes: vec![],
    }
}

async fn scan_fleet(fleet: &Fleet, target: KubeVersion, invariants: &[Diagnostic]) -> ScanReport {
    let cloud = FakeCloud::new();
    cloud.set_evidence("live", live_evidence());
    let mut registry = Registry::new();
    registry.add_provider(cloud);
    let clusters: Vec<_> = fleet.clusters.iter().collect();
    let evidence =
        scan::gather_evidence(&registry, fleet, &clusters, target, &Snapshot::default()).await;
    scan::assemble(ScanInput {
        fleet,
        clusters: &clusters,
        target,
        today: today(),
        sources: &[],
        evidence: &evidence,
        invariants,
        ignores: &[],
        notes: &[],
    })
}

fn rules(report: &ScanReport, cluster: &str) -> Vec<String> {
    report
        .findings
        .iter()
        .filter(|f| f.cluster.as_deref() == Some(cluster))
        .map(|f| format!("{} {}@{}", f.severity, f.rule, f.subject))
        .collect()
}

#[tokio::test]
async fn live_evidence_drives_path_skew_images_addons_and_insights() {
    let fleet = fleet();
    let report = scan_fleet(&fleet, KubeVersion::new(1, 33), &[]).await;
    let live = report.clusters.iter().find(|c| c.name == "live").unwrap();
    assert!(live.live);
    assert_eq!(live.current, "1.31");
    assert_eq!(live.path, ["1.32", "1.33"]);
    assert_eq!(live.checks_passed, ["Cluster health issues"]);
    assert_eq!(
        rules(&report, "live"),
        [
            "blocker addon-incompatible@coredns",
            "blocker addon-incompatible@mesh",
            "blocker cloud-insight@Deprecated APIs removed in Kubernetes v1.32",
            "blocker node-image-unsupported@pool legacy",
            "blocker node-skew@pool legacy",
            "warning addon-will-change@kube-proxy",
            "warning version-drift@1.31",
            "warning version-extended-support@1.33",
            "warning version-path@1.33",
        ]
    );
    let text = |rule: &str| {
        report
            .findings
            .iter()
            .find(|f| f.rule == rule && f.cluster.as_deref() == Some("live"))
            .unwrap()
            .message
            .clone()
    };
    assert!(
        text("node-skew")
            .contains("1.27 and would be 5 minors behind the control plane after the hop to 1.32")
    );
    assert!(text("node-skew").contains("at least 1.29"));
    assert!(
        text("node-image-unsupported")
            .contains("al2 (AL2_x86_64), which has no node images for Kubernetes 1.33")
    );
    assert!(text("node-image-unsupported").contains("al2023 or bottlerocket"));
    assert!(text("addon-incompatible").contains("pinned to v1.11.4-eksbuild.2"));
    assert!(text("cloud-insight").contains("prometheus-adapter (42 requests)"));
    assert!(text("version-path").contains("1.31 → 1.32, 1.32 → 1.33"));
    assert!(report.blocking);
}

#[tokio::test]
async fn without_a_live_cluster_the_blueprint_is_judged_and_missing_evidence_is_said() {
    let fleet = fleet();
    let report = scan_fleet(&fleet, KubeVersion::new(1, 34), &[]).await;
    let unbuilt = report
        .clusters
        .iter()
        .find(|c| c.name == "unbuilt")
        .unwrap();
    assert!(!unbuilt.live);
    assert_eq!(unbuilt.current, "1.33");
    assert!(
        unbuilt
            .notes
            .iter()
            .any(|n| n.contains("not found in the cloud")),
        "{:?}",
        unbuilt.notes
    );
    assert_eq!(
        rules(&report, "unbuilt"),
        ["blocker node-image-unsupported@pool system"],
        "al2 from the blueprint has no 1.34 images; 1.34 is in standard support"
    );
    // No `azure` provider is registered: the scan says so instead of failing.
    assert_eq!(
        rules(&report, "azure"),
        ["warning evidence-unavailable@cloud"]
    );
    let message = &report
        .findings
        .iter()
        .find(|f| f.rule == "evidence-unavailable")
        .unwrap()
        .message;
    assert!(
        message.contains("no `azure` provider is configured"),
        "{message}"
    );
}

#[tokio::test]
async fn calendars_block_unreleased_and_unknown_targets_and_clusters_past_the_target_pass() {
    let fleet = fleet();
    let report = scan_fleet(&fleet, KubeVersion::new(1, 37), &[]).await;
    let unbuilt = rules(&report, "unbuilt");
    assert!(
        unbuilt.contains(&"blocker version-unsupported@1.37".to_owned()),
        "{unbuilt:?}"
    );
    let message = &report
        .findings
        .iter()
        .find(|f| f.rule == "version-unsupported" && f.cluster.as_deref() == Some("unbuilt"))
        .unwrap()
        .message;
    assert!(
        message.contains("not in Slipway's EKS calendar"),
        "{message}"
    );
    let azure = rules(&report, "azure");
    assert!(
        !azure.iter().any(|r| r.contains("version-unsupported")),
        "AKS 1.37 is released on 2026-10-01: {azure:?}"
    );

    let report = scan_fleet(&fleet, KubeVersion::new(1, 30), &[]).await;
    let unbuilt = report
        .clusters
        .iter()
        .find(|c| c.name == "unbuilt")
        .unwrap();
    assert!(unbuilt.path.is_empty());
    assert!(rules(&report, "unbuilt").is_empty());
}

#[test]
fn only_invariants_new_at_the_target_are_reported_and_calendar_rules_are_left_to_readiness() {
    let d = |code: &'static str, detail: &str, severity: Severity| {
        Diagnostic::new(severity, code, "summary", detail)
    };
    let before = [d("prod-dr-defined", "no DR for `a`", Severity::Warning)];
    let after = [
        d("prod-dr-defined", "no DR for `a`", Severity::Warning),
        d(
            "node-os-supported",
            "pool `legacy` runs al2",
            Severity::Error,
        ),
        d(
            "version-supported",
            "1.37 is not supported",
            Severity::Error,
        ),
    ];
    let new = invariants_after_upgrade(&before, &after);
    assert_eq!(new.len(), 1);
    assert_eq!(new[0].code, "node-os-supported");
    let fleet = fleet();
    let clusters: Vec<_> = fleet.clusters.iter().take(1).collect();
    let report = scan::assemble(ScanInput {
        fleet: &fleet,
        clusters: &clusters,
        target: KubeVersion::new(1, 33),
        today: today(),
        sources: &[],
        evidence: &BTreeMap::from([("live".to_owned(), Evidence::Skipped)]),
        invariants: &new,
        ignores: &[],
        notes: &[],
    });
    let invariant = report
        .findings
        .iter()
        .find(|f| f.rule == "invariant-after-upgrade")
        .unwrap();
    assert_eq!(invariant.severity, FindingSeverity::Blocker);
    assert_eq!(invariant.subject, "node-os-supported");
    assert!(invariant.message.starts_with("at 1.33: "));
}
