use std::collections::BTreeMap;

use slipway_blueprints::{
    Cloud, Cluster, Endpoint, KubeVersion, Network, NodePool, PoolRole, PoolUpgrade, Tier,
    WorkloadIdentity,
};
use slipway_provider::{
    AddonReadiness, BuildPhase, Condition, ControlPlaneReadiness, IdentityMechanism,
    IdentityReadiness, NodePoolReadiness, ReadinessEvidence,
};

use super::*;

const OWN: &str = "https://oidc.eks.us-west-2.amazonaws.com/id/B";
const PRIMARY: &str = "https://oidc.eks.us-east-1.amazonaws.com/id/A";

fn standby() -> Cluster {
    Cluster {
        name: "prod-dr".into(),
        profile: None,
        provider: Cloud::Aws,
        region: "us-west-2".into(),
        tier: Tier::Dr,
        kubernetes: KubeVersion::new(1, 34),
        endpoint: Endpoint::Private,
        zones: vec!["us-west-2a".into()],
        network: Network {
            cidr: "10.20.0.0/16".parse().unwrap(),
            subnets: vec![],
        },
        node_pools: vec![NodePool {
            name: "system".into(),
            role: PoolRole::System,
            instance_type: "m6i.large".into(),
            min: 1,
            max: 3,
            desired: 1,
            disk_size_gb: 50,
            labels: BTreeMap::new(),
            taints: vec![],
            upgrade: PoolUpgrade {
                max_surge: "1".into(),
                max_unavailable: 1,
            },
            os: None,
        }],
        addons: vec![slipway_blueprints::Addon {
            name: "coredns".into(),
            version: None,
        }],
        workload_identities: vec![WorkloadIdentity {
            name: "app".into(),
            namespace: "shop".into(),
            service_account: "api".into(),
            aws_policy_arns: vec![],
            azure_role_assignments: vec![],
        }],
        private_endpoints: vec![],
        ring: None,
        labels: BTreeMap::new(),
        tags: BTreeMap::new(),
        dr: None,
        aws: None,
        azure: None,
    }
}

fn ready() -> ReadinessEvidence {
    ReadinessEvidence {
        control_plane: Some(ControlPlaneReadiness {
            name: "prod-dr".into(),
            condition: Condition::Ready,
            status: "ACTIVE".into(),
            version: "1.34".into(),
            endpoint: None,
            oidc_issuer: Some(OWN.into()),
        }),
        node_pools: vec![NodePoolReadiness {
            name: "system".into(),
            condition: Condition::Ready,
            status: "ACTIVE".into(),
            version: Some("1.34".into()),
            instance_type: Some("m6i.large".into()),
            nodes: Some(1),
            health_issues: vec![],
        }],
        addons: vec![AddonReadiness {
            name: "coredns".into(),
            condition: Condition::Ready,
            status: "ACTIVE".into(),
            version: Some("v1.11.4-eksbuild.2".into()),
            health_issues: vec![],
        }],
        identities: vec![IdentityReadiness {
            name: "app".into(),
            mechanism: IdentityMechanism::Irsa,
            principal: Some("arn:aws:iam::1:role/x".into()),
            trusted_issuers: vec![OWN.into()],
            subjects: vec!["system:serviceaccount:shop:api".into()],
            problems: vec![],
        }],
        notes: vec![],
    }
}

fn failed(checks: &[ReadinessCheck]) -> Vec<&str> {
    checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name.as_str())
        .collect()
}

#[test]
fn a_ready_standby_passes_every_check() {
    let checks = judge(&standby(), &ready(), Some(PRIMARY));
    assert_eq!(failed(&checks), Vec::<&str>::new());
    assert_eq!(
        checks.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        CHECKS
    );
}

#[test]
fn each_check_names_what_is_wrong() {
    let mut e = ready();
    e.addons[0].condition = Condition::Degraded;
    e.addons[0].status = "DEGRADED".into();
    e.addons[0].health_issues = vec!["InsufficientNumberOfReplicas: 0/2 ready".into()];
    let checks = judge(&standby(), &e, Some(PRIMARY));
    assert_eq!(failed(&checks), vec!["add-ons-active"]);
    assert_eq!(
        checks[2].details,
        vec!["add-on `coredns` is degraded (DEGRADED): InsufficientNumberOfReplicas: 0/2 ready"]
    );

    let mut e = ready();
    e.node_pools.clear();
    e.control_plane.as_mut().unwrap().version = "1.33.5".into();
    let checks = judge(&standby(), &e, Some(PRIMARY));
    assert_eq!(
        failed(&checks),
        vec!["control-plane-active", "node-pools-ready"]
    );
    assert!(checks[1].details[0].contains("`system` does not exist"));

    let checks = judge(&standby(), &ReadinessEvidence::default(), None);
    assert_eq!(failed(&checks).len(), 4, "{checks:#?}");
}

#[test]
fn an_identity_trusting_the_primary_issuer_fails() {
    let mut e = ready();
    e.identities[0].trusted_issuers = vec![format!("{PRIMARY}/")];
    let checks = judge(&standby(), &e, Some(PRIMARY));
    assert_eq!(failed(&checks), vec!["identities-resolvable"]);
    assert!(checks[3].details[0].contains("trusts the primary's issuer"));

    // Even when the primary is unknown, trusting anything but its own issuer fails.
    let checks = judge(&standby(), &e, None);
    assert!(checks[3].details[0].contains("not the standby's own issuer"));

    // A standby that somehow shares the primary's issuer fails outright.
    let mut e = ready();
    e.control_plane.as_mut().unwrap().oidc_issuer = Some(PRIMARY.into());
    e.identities[0].trusted_issuers = vec![PRIMARY.into()];
    let checks = judge(&standby(), &e, Some(PRIMARY));
    assert!(checks[3].details[0].contains("is the primary's own issuer"));
}

#[test]
fn identities_need_a_principal_and_the_right_subject() {
    let mut e = ready();
    e.identities[0].principal = None;
    e.identities[0].subjects = vec!["system:serviceaccount:shop:other".into()];
    let checks = judge(&standby(), &e, Some(PRIMARY));
    let detail = &checks[3].details[0];
    assert!(detail.contains("principal does not exist"), "{detail}");
    assert!(
        detail.contains("system:serviceaccount:shop:api"),
        "{detail}"
    );

    let mut e = ready();
    e.identities[0].mechanism = IdentityMechanism::PodIdentity;
    e.identities[0].trusted_issuers.clear();
    assert!(judge(&standby(), &e, Some(PRIMARY))[3].passed);
}

fn entry(at: f64, phase: BuildPhase, event: &str) -> TimelineEntry {
    TimelineEntry {
        at_seconds: at,
        address: "prod-dr/aws.x/y".into(),
        phase,
        action: "create".into(),
        event: event.into(),
        detail: None,
    }
}

#[test]
fn phases_span_first_start_to_last_end_and_scale_to_cloud_time() {
    let timeline = vec![
        entry(0.5, BuildPhase::Network, "started"),
        entry(0.6, BuildPhase::Identity, "started"),
        entry(0.9, BuildPhase::Network, "started"),
        entry(1.0, BuildPhase::Identity, "finished"),
        entry(1.5, BuildPhase::Network, "finished"),
        entry(2.5, BuildPhase::Network, "finished"),
        entry(2.6, BuildPhase::ControlPlane, "started"),
        entry(4.6, BuildPhase::ControlPlane, "failed"),
        entry(4.6, BuildPhase::NodePools, "skipped"),
    ];
    let phases = build_phases(&timeline, 300.0);
    let got: Vec<(&str, f64, usize, usize)> = phases
        .iter()
        .map(|p| {
            (
                p.phase.as_str(),
                p.cloud_seconds.round(),
                p.operations,
                p.failed,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("network", 600.0, 2, 0),
            ("identity", 120.0, 1, 0),
            ("control-plane", 600.0, 1, 1),
            ("node-pools", 0.0, 1, 1),
        ]
    );
}

#[test]
fn the_verdict_needs_a_build_every_check_and_the_rto() {
    let ok = judge(&standby(), &ready(), None);
    let within = Recovery {
        wall_seconds: 2.0,
        cloud_seconds: 600.0,
        rto_seconds: 3600,
        within_rto: true,
    };
    assert_eq!(
        verdict(true, &ok, &within, &[]),
        (
            true,
            "PASS: ready after 10m00s against an RTO of 1h00m".into()
        )
    );
    let late = Recovery {
        cloud_seconds: 4000.0,
        within_rto: false,
        ..within
    };
    assert_eq!(
        verdict(true, &ok, &late, &[]).1,
        "FAIL: RTO exceeded, ready after 1h06m against an RTO of 1h00m"
    );
    let bad = judge(&standby(), &ReadinessEvidence::default(), None);
    assert!(
        verdict(true, &bad, &within, &[])
            .1
            .starts_with("FAIL: readiness checks failed: control-plane-active")
    );
    assert_eq!(
        verdict(false, &ok, &within, &["boom".into()]).1,
        "FAIL: the standby could not be built: boom"
    );
}

#[test]
fn versions_summarise_what_runs() {
    let v = versions(&ready());
    assert_eq!(v.kubernetes.as_deref(), Some("1.34"));
    assert_eq!(v.node_pools["system"], "1.34, m6i.large, 1 nodes");
    assert_eq!(v.addons["coredns"], "v1.11.4-eksbuild.2");
}
