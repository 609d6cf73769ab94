//! `readiness_evidence` against Slipway's emulator: a cluster built through the provider (IRSA
//! and Pod Identity variants, with add-ons) reads back ready with its own issuer trusted; a
//! cluster never built has no control plane and unresolvable identities.

use slipway_aws::kinds;
use slipway_emulator::RunningEmulator;
use slipway_provider::{
    Condition, IdentityMechanism, Provider, ReadinessEvidence, ReadinessRequest, ResourceState,
};

use crate::emulated::{admin_post, emulator, provider};
use crate::support::{Walk, fleet_of};

/// A 2-zone dev cluster with add-ons and one workload identity; `MODE` is the identity mode.
const BLUEPRINT: &str = r#"
apiVersion: slipway.dev/v1
kind: Fleet
metadata:
  name: drill
  owner: platform-runtime
clusters:
  - name: ready-use1
    provider: aws
    region: us-east-1
    tier: dev
    kubernetes: { version: "1.35" }
    endpoint: public
    zones: 2
    network: { cidr: 10.50.0.0/16 }
    nodePools:
      - { name: default, role: system, instanceType: { aws: t3.large }, min: 1, max: 3 }
    addons: [vpc-cni, kube-proxy, coredns]
    privateEndpoints: [s3]
    workloadIdentities:
      - name: orders-api
        namespace: orders
        serviceAccount: orders-api
        aws: { policyArns: ["arn:aws:iam::aws:policy/AmazonSQSFullAccess"] }
    aws: { workloadIdentity: MODE }
"#;

/// Builds the whole expansion of the blueprint in `mode` through the provider.
async fn built(emu: &RunningEmulator, mode: &str) -> Walk {
    let fleet = fleet_of(&BLUEPRINT.replace("MODE", mode));
    let mut walk = Walk::with(provider(emu), emu.url(), None, &fleet, None);
    walk.create_all().await;
    walk
}

/// The readiness evidence of the blueprint's cluster in `mode`, read through `walk`'s provider.
async fn evidence(walk: &Walk, mode: &str, recorded: &[ResourceState]) -> ReadinessEvidence {
    let fleet = fleet_of(&BLUEPRINT.replace("MODE", mode));
    walk.journal.clear();
    let ev = walk
        .provider
        .readiness_evidence(
            &walk.ctx,
            ReadinessRequest {
                fleet: &fleet,
                cluster: &fleet.clusters[0],
                recorded,
            },
        )
        .await
        .expect("readiness evidence");
    assert!(
        walk.journal.intents.lock().unwrap().is_empty(),
        "readiness evidence is read-only"
    );
    ev
}

/// The control plane, the pool and the add-ons of a built cluster are ready.
fn assert_cluster_ready(ev: &ReadinessEvidence) -> String {
    let cp = ev.control_plane.as_ref().expect("the control plane exists");
    assert_eq!(cp.name, "ready-use1");
    assert_eq!(
        (cp.condition, cp.status.as_str()),
        (Condition::Ready, "ACTIVE")
    );
    assert_eq!(cp.version, "1.35");
    assert!(cp.endpoint.is_some());
    let issuer = cp.oidc_issuer.clone().expect("an OIDC issuer");
    assert!(issuer.starts_with("https://oidc.eks.us-east-1.amazonaws.com/id/"));
    assert_eq!(ev.node_pools.len(), 1, "{:?}", ev.node_pools);
    let pool = &ev.node_pools[0];
    assert_eq!(pool.condition, Condition::Ready, "{pool:?}");
    assert_eq!(pool.instance_type.as_deref(), Some("t3.large"));
    assert_eq!(pool.version.as_deref(), Some("1.35"));
    assert_eq!(pool.nodes, Some(1));
    assert!(pool.health_issues.is_empty());
    for name in ["vpc-cni", "kube-proxy", "coredns"] {
        let addon = ev
            .addons
            .iter()
            .find(|a| a.name == name)
            .unwrap_or_else(|| panic!("add-on {name} in {:?}", ev.addons));
        assert_eq!(addon.condition, Condition::Ready, "{addon:?}");
        assert!(addon.version.is_some());
    }
    issuer
}

#[tokio::test]
async fn a_built_irsa_cluster_is_ready_and_trusts_its_own_issuer() {
    let emu = emulator("").await;

    // Nothing built yet: no control plane, the role does not resolve, no error.
    let walk = Walk::with(
        provider(&emu),
        emu.url(),
        None,
        &fleet_of(&BLUEPRINT.replace("MODE", "irsa")),
        None,
    );
    let missing = evidence(&walk, "irsa", &[]).await;
    assert_eq!(missing.control_plane, None);
    assert!(missing.node_pools.is_empty() && missing.addons.is_empty());
    assert!(
        missing.notes.iter().any(|n| n.contains("does not exist")),
        "{:?}",
        missing.notes
    );
    let wi = &missing.identities[0];
    assert_eq!(
        (wi.name.as_str(), wi.principal.as_ref()),
        ("orders-api", None)
    );
    assert!(
        wi.problems[0].contains("does not exist"),
        "{:?}",
        wi.problems
    );

    let walk = built(&emu, "irsa").await;
    let recorded: Vec<ResourceState> = walk.states.values().cloned().collect();
    let ev = evidence(&walk, "irsa", &recorded).await;
    let issuer = assert_cluster_ready(&ev);
    assert_eq!(ev.identities.len(), 1);
    let wi = &ev.identities[0];
    assert_eq!(wi.mechanism, IdentityMechanism::Irsa);
    let role = walk
        .states
        .iter()
        .find(|(a, _)| a.kind.as_str() == kinds::IAM_ROLE && a.name == "wi-orders-api")
        .map(|(_, st)| st.outputs["arn"].as_str().unwrap_or_default().to_owned())
        .expect("the identity's role");
    assert_eq!(wi.principal.as_deref(), Some(role.as_str()));
    assert_eq!(wi.trusted_issuers, [issuer]);
    assert_eq!(wi.subjects, ["system:serviceaccount:orders:orders-api"]);
    assert!(wi.problems.is_empty(), "{:?}", wi.problems);

    // Without state, the deterministic names find the same objects.
    assert_eq!(evidence(&walk, "irsa", &[]).await, ev);

    // Health issues EKS reports make the add-on and the node group degraded.
    let pool = ev.node_pools[0].name.clone();
    for (path, key, name) in [
        ("eks/addon-health", "addon", "coredns"),
        ("eks/nodegroup-health", "nodegroup", pool.as_str()),
    ] {
        let body = serde_json::json!({
            "cluster": "ready-use1", key: name,
            "issues": [{"code": "InsufficientNumberOfReplicas", "message": "0 of 2 ready"}],
        });
        let status = admin_post(&emu, path, &body).await;
        assert!(status.contains(" 200 "), "{path}: {status}");
    }
    let degraded = evidence(&walk, "irsa", &recorded).await;
    let coredns = degraded
        .addons
        .iter()
        .find(|a| a.name == "coredns")
        .unwrap();
    assert_eq!(coredns.condition, Condition::Degraded, "{coredns:?}");
    assert_eq!(
        coredns.health_issues,
        ["InsufficientNumberOfReplicas: 0 of 2 ready"]
    );
    let ng = &degraded.node_pools[0];
    assert_eq!(ng.condition, Condition::Degraded, "{ng:?}");
    assert_eq!(
        ng.health_issues,
        ["InsufficientNumberOfReplicas: 0 of 2 ready"]
    );
    assert!(
        degraded
            .addons
            .iter()
            .filter(|a| a.name != "coredns")
            .all(|a| a.condition == Condition::Ready)
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn a_built_pod_identity_cluster_resolves_its_association() {
    let emu = emulator("").await;
    let walk = built(&emu, "pod-identity").await;
    let recorded: Vec<ResourceState> = walk.states.values().cloned().collect();
    let ev = evidence(&walk, "pod-identity", &recorded).await;
    assert_cluster_ready(&ev);
    assert!(
        ev.addons
            .iter()
            .any(|a| a.name == "pod-identity-agent" && a.condition == Condition::Ready),
        "{:?}",
        ev.addons
    );
    let wi = &ev.identities[0];
    assert_eq!(wi.mechanism, IdentityMechanism::PodIdentity);
    assert!(
        wi.principal
            .as_deref()
            .is_some_and(|p| p.ends_with(":role/drill-ready-use1-wi-orders-api")),
        "{wi:?}"
    );
    assert!(wi.trusted_issuers.is_empty());
    assert_eq!(wi.subjects, ["system:serviceaccount:orders:orders-api"]);
    assert!(wi.problems.is_empty(), "{:?}", wi.problems);
    emu.shutdown().await;
}
