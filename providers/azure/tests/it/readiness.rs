//! `readiness_evidence` against the ARM side of `slipway_emulator`: a cluster with add-ons and a
//! workload identity built through the provider reads back ready, its identity trusting the
//! cluster's own issuer; a stopped agent pool is degraded; a cluster never built has no control
//! plane and unresolvable identities.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use slipway_azure::{
    AGENT_POOL, ArmMethod, AzureCredentialChoice, AzureProvider, AzureProviderConfig,
};
use slipway_blueprints::{Addon, Cluster, WorkloadIdentity};
use slipway_emulator::{Emulator, EmulatorConfig};
use slipway_provider::{
    Address, Condition, IdentityMechanism, IntentSink, NoPacing, OpContext, Provider,
    ProviderError, ReadinessEvidence, ReadinessRequest, ResourceState,
};

use crate::evidence::build;
use crate::fixtures;

/// How many times faster than real time the emulator runs; the provider is told the same.
const TIME_SCALE: f64 = 1000.0;

/// Counts journaled intents: readiness evidence must never journal one.
#[derive(Default)]
struct Intents(Mutex<usize>);

#[async_trait]
impl IntentSink for Intents {
    async fn intent(
        &self,
        _address: &Address,
        _operation: &str,
        _detail: serde_json::Value,
    ) -> Result<(), ProviderError> {
        *self.0.lock().unwrap() += 1;
        Ok(())
    }

    fn progress(&self, _address: &Address, _message: &str) {}
}

/// The dev cluster with three kinds of add-on and one workload identity.
fn cluster() -> Cluster {
    let mut c = fixtures::dev();
    c.addons = ["azure-keyvault-secrets-provider", "keda", "istio"]
        .map(|name| Addon {
            name: name.into(),
            version: None,
        })
        .to_vec();
    c.workload_identities = vec![WorkloadIdentity {
        name: "orders-api".into(),
        namespace: "orders".into(),
        service_account: "orders-api".into(),
        aws_policy_arns: Vec::new(),
        azure_role_assignments: Vec::new(),
    }];
    c
}

async fn readiness(
    provider: &AzureProvider,
    ctx: &OpContext,
    cluster: &Cluster,
    recorded: &[ResourceState],
) -> ReadinessEvidence {
    let fleet = fixtures::fleet();
    provider
        .readiness_evidence(
            ctx,
            ReadinessRequest {
                fleet: &fleet,
                cluster,
                recorded,
            },
        )
        .await
        .expect("readiness evidence")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_built_cluster_is_ready_and_its_identity_trusts_its_own_issuer() {
    let emulator = Emulator::start(
        EmulatorConfig {
            time_scale: TIME_SCALE,
            ..EmulatorConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .expect("emulator");
    // No shortened bounds: the clock scale alone makes the default polling fast.
    let provider = AzureProvider::new(AzureProviderConfig {
        endpoint_url: Some(emulator.url()),
        credential: AzureCredentialChoice::Static("emulator".into()),
        clock_scale: TIME_SCALE,
    })
    .unwrap();
    let intents = Arc::new(Intents::default());
    let ctx = OpContext {
        fleet: "commerce".into(),
        run_id: "run-1".into(),
        pacer: Arc::new(NoPacing),
        sink: intents.clone(),
    };
    let fleet = fixtures::fleet();
    let cluster = cluster();

    // Nothing built yet: no control plane, the identity does not resolve, no error.
    let missing = readiness(&provider, &ctx, &cluster, &[]).await;
    assert_eq!(missing.control_plane, None);
    assert!(missing.node_pools.is_empty() && missing.addons.is_empty());
    assert!(
        missing.notes.iter().any(|n| n.contains("does not exist")),
        "{:?}",
        missing.notes
    );
    let wi = &missing.identities[0];
    assert_eq!(wi.principal, None);
    assert!(
        wi.problems[0].contains("does not exist"),
        "{:?}",
        wi.problems
    );

    let started = std::time::Instant::now();
    let recorded = build(&provider, &ctx, &fleet, &cluster).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "the clock scale keeps polling fast: {:?}",
        started.elapsed()
    );
    let built = *intents.0.lock().unwrap();
    let ev = readiness(&provider, &ctx, &cluster, &recorded).await;
    assert_eq!(
        *intents.0.lock().unwrap(),
        built,
        "readiness journals nothing"
    );

    let cp = ev.control_plane.as_ref().expect("the cluster exists");
    assert_eq!(cp.name, "dev-weu");
    assert_eq!(
        (cp.condition, cp.status.as_str()),
        (Condition::Ready, "Succeeded")
    );
    assert!(cp.version.starts_with("1.34"), "{}", cp.version);
    assert!(cp.endpoint.is_some());
    let issuer = cp.oidc_issuer.clone().expect("an OIDC issuer");
    assert_eq!(ev.node_pools.len(), 1, "{:?}", ev.node_pools);
    let pool = &ev.node_pools[0];
    assert_eq!(pool.name, "default");
    assert_eq!(pool.condition, Condition::Ready, "{pool:?}");
    assert_eq!(pool.instance_type.as_deref(), Some("Standard_D2s_v5"));
    assert_eq!(pool.nodes, Some(1));
    assert!(
        pool.version
            .as_deref()
            .is_some_and(|v| v.starts_with("1.34"))
    );
    let names: Vec<&str> = ev.addons.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "azure-keyvault-secrets-provider",
            "istio",
            "keda",
            "workload-identity"
        ]
    );
    assert!(ev.addons.iter().all(|a| a.condition == Condition::Ready));
    assert!(ev.addons[1].version.is_some(), "AKS installs a revision");

    let wi = &ev.identities[0];
    assert_eq!(wi.mechanism, IdentityMechanism::FederatedCredential);
    let client_id = recorded
        .iter()
        .find(|st| st.address.name == "wi-orders-api" && st.outputs.contains_key("clientId"))
        .and_then(|st| st.outputs["clientId"].as_str().map(str::to_owned));
    assert!(client_id.is_some());
    assert_eq!(wi.principal, client_id);
    assert_eq!(wi.trusted_issuers, [issuer]);
    assert_eq!(wi.subjects, ["system:serviceaccount:orders:orders-api"]);
    assert!(wi.problems.is_empty(), "{:?}", wi.problems);

    // Without records the expansion names the same objects.
    assert_eq!(readiness(&provider, &ctx, &cluster, &[]).await, ev);

    // A stopped pool is degraded.
    let pool_id = recorded
        .iter()
        .find(|st| st.address.kind.as_str() == AGENT_POOL)
        .and_then(|st| st.cloud_id.clone())
        .expect("the pool's id");
    let injected = provider
        .arm()
        .send(
            ArmMethod::Post,
            "/_emulator/arm/agentpool-state",
            Some(&serde_json::json!({ "id": pool_id, "powerState": "Stopped" })),
            "inject",
        )
        .await
        .expect("the emulator answers");
    assert_eq!(
        injected.status,
        200,
        "{}",
        String::from_utf8_lossy(&injected.body)
    );
    let stopped = readiness(&provider, &ctx, &cluster, &recorded).await;
    let pool = &stopped.node_pools[0];
    assert_eq!(
        (pool.condition, pool.status.as_str()),
        (Condition::Degraded, "Succeeded (Stopped)")
    );
    assert_eq!(stopped.control_plane, ev.control_plane);
    emulator.shutdown().await;
}
