//! `upgrade_evidence` against the ARM side of `slipway_emulator`: a cluster with a Windows
//! Server 2019 pool built through the provider, then read back as evidence; and a cluster that
//! was never built.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use slipway_azure::{AzureCredentialChoice, AzureExpander, AzureProvider, AzureProviderConfig};
use slipway_blueprints::{Addon, Cluster, Fleet, KubeVersion, NodeOs};
use slipway_emulator::{Emulator, EmulatorConfig, RunningEmulator};
use slipway_provider::{
    AddonEvidence, Address, CreateRequest, EvidenceRequest, IntentSink, NoPacing, OpContext,
    Properties, Provider, ProviderError, ResourceState, ResourceStatus, WaitFor,
};

use crate::fixtures;

/// Counts journaled intents: evidence must never journal one.
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

/// An emulator on `today`, a provider against it and an operation context counting intents.
async fn start(today: &str) -> (RunningEmulator, AzureProvider, OpContext, Arc<Intents>) {
    let emulator = Emulator::start(
        EmulatorConfig {
            time_scale: 1000.0,
            today: Some(today.parse().unwrap()),
            ..EmulatorConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .expect("emulator");
    let provider = AzureProvider::new(AzureProviderConfig {
        endpoint_url: Some(emulator.url()),
        credential: AzureCredentialChoice::Static("emulator".into()),
        clock_scale: 1.0,
    })
    .unwrap()
    .with_bounds(
        Duration::from_secs(60),
        Duration::from_millis(20),
        Duration::from_secs(10),
    );
    let intents = Arc::new(Intents::default());
    let ctx = OpContext {
        fleet: "commerce".into(),
        run_id: "run-1".into(),
        pacer: Arc::new(NoPacing),
        sink: intents.clone(),
    };
    (emulator, provider, ctx, intents)
}

/// Builds every resource in expansion order, resolving references from earlier outputs, and
/// returns what state would record.
pub async fn build(
    provider: &AzureProvider,
    ctx: &OpContext,
    fleet: &Fleet,
    cluster: &Cluster,
) -> Vec<ResourceState> {
    let mut outputs: BTreeMap<Address, Properties> = BTreeMap::new();
    let mut recorded = Vec::new();
    for r in AzureExpander::new().expand_cluster(fleet, cluster).unwrap() {
        let properties: Properties = r
            .properties
            .iter()
            .map(|(k, v)| {
                let resolved = v
                    .resolve(&|o| {
                        outputs
                            .get(&o.address)
                            .and_then(|p| p.get(&o.output))
                            .cloned()
                    })
                    .unwrap_or_else(|o| panic!("{} needs {o} first", r.address));
                (k.clone(), resolved)
            })
            .collect();
        let created = provider
            .create(
                ctx,
                CreateRequest {
                    address: &r.address,
                    properties: &properties,
                    replacing: None,
                },
            )
            .await
            .unwrap_or_else(|e| panic!("create {}: {e}", r.address));
        let state = ResourceState {
            address: r.address.clone(),
            deposed: None,
            cloud_id: Some(created.cloud_id.clone()),
            properties: r.properties.clone(),
            resolved: properties,
            outputs: created.outputs.clone(),
            depends_on: r.depends_on.clone(),
            status: ResourceStatus::Ready,
        };
        let outs = if created.ready {
            created.outputs
        } else {
            provider.wait(ctx, &state, WaitFor::Ready).await.unwrap()
        };
        outputs.insert(r.address.clone(), outs);
        recorded.push(state);
    }
    recorded
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_reports_the_live_cluster_its_pools_and_the_next_minor() {
    // 1.30 to 1.33 are supported on this date; Windows Server 2019 runs up to 1.32.
    let (_emulator, provider, ctx, intents) = start("2025-06-15").await;
    let fleet = fixtures::fleet();
    let cluster = fixtures::dev_windows_2019();
    let recorded = build(&provider, &ctx, &fleet, &cluster).await;
    let built = *intents.0.lock().unwrap();

    let evidence = provider
        .upgrade_evidence(
            &ctx,
            EvidenceRequest {
                fleet: &fleet,
                cluster: &cluster,
                target: KubeVersion::new(1, 33),
                recorded: &recorded,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        *intents.0.lock().unwrap(),
        built,
        "evidence journals nothing"
    );
    let live = evidence.live.expect("the cluster exists");
    assert_eq!(live.name, "dev-weu");
    assert_eq!(live.version, "1.32.3");
    assert_eq!(live.status, "Succeeded");
    assert_eq!(evidence.upgrades_offered, Some(vec!["1.33".to_owned()]));
    assert!(evidence.addons.is_empty());
    assert!(evidence.notes.is_empty(), "{:?}", evidence.notes);
    let pool = |name: &str| {
        live.node_pools
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no pool {name} in {:?}", live.node_pools))
    };
    let system = pool("default");
    assert_eq!(
        (system.version.as_str(), system.os, system.image.as_deref()),
        ("1.32.3", Some(NodeOs::Ubuntu), Some("Ubuntu"))
    );
    assert!(system.owned);
    let win = pool("win19");
    assert_eq!(win.os, Some(NodeOs::Windows2019));
    assert_eq!(win.image.as_deref(), Some("Windows2019"));
    let image = win.image_version.as_deref().unwrap_or_default();
    assert!(image.starts_with("AKSWindows-2019-containerd-"), "{image}");
    assert!(win.owned);

    // Without records the expansion names the cluster; the same evidence comes back.
    let again = provider
        .upgrade_evidence(
            &ctx,
            EvidenceRequest {
                fleet: &fleet,
                cluster: &cluster,
                target: KubeVersion::new(1, 33),
                recorded: &[],
            },
        )
        .await
        .unwrap();
    assert_eq!(again.live.map(|l| l.version), Some("1.32.3".to_owned()));

    // A target the location does not offer is noted.
    let far = provider
        .upgrade_evidence(
            &ctx,
            EvidenceRequest {
                fleet: &fleet,
                cluster: &cluster,
                target: KubeVersion::new(1, 36),
                recorded: &recorded,
            },
        )
        .await
        .unwrap();
    assert!(
        far.notes
            .iter()
            .any(|n| n.contains("does not offer Kubernetes 1.36")),
        "{:?}",
        far.notes
    );

    // A cluster that was never built: no live cluster, a note, no error.
    let missing = provider
        .upgrade_evidence(
            &ctx,
            EvidenceRequest {
                fleet: &fleet,
                cluster: &fixtures::prod(),
                target: KubeVersion::new(1, 34),
                recorded: &[],
            },
        )
        .await
        .unwrap();
    assert_eq!(missing.live, None);
    assert_eq!(missing.upgrades_offered, None);
    assert_eq!(missing.notes.len(), 1, "{:?}", missing.notes);
    assert!(missing.notes[0].contains("does not exist"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn istio_evidence_reads_the_mesh_revisions_of_the_location() {
    // 1.34 to 1.36 are supported on this date; asm-1-28 runs on 1.30 to 1.35.
    let (_emulator, provider, ctx, _) = start("2026-08-01").await;
    let fleet = fixtures::fleet();
    let mut cluster = fixtures::dev();
    cluster.kubernetes = KubeVersion::new(1, 35);
    cluster.addons = vec![
        Addon {
            name: "istio".into(),
            version: Some("asm-1-28".into()),
        },
        Addon {
            name: "keda".into(),
            version: None,
        },
    ];
    let recorded = build(&provider, &ctx, &fleet, &cluster).await;
    let evidence = |target| {
        provider.upgrade_evidence(
            &ctx,
            EvidenceRequest {
                fleet: &fleet,
                cluster: &cluster,
                target,
                recorded: &recorded,
            },
        )
    };
    let next = evidence(KubeVersion::new(1, 36)).await.unwrap();
    assert_eq!(
        next.addons,
        [AddonEvidence {
            name: "istio".into(),
            installed: Some("asm-1-28".into()),
            compatible: vec!["asm-1-30".into(), "asm-1-29".into()],
            default_for_target: Some("asm-1-30".into()),
            moved_by_upgrade: false,
        }]
    );
    assert_eq!(next.notes.len(), 1, "{:?}", next.notes);
    assert!(
        next.notes[0].contains("`keda`") && !next.notes[0].contains("istio"),
        "only the add-ons AKS versions with the cluster get the note: {:?}",
        next.notes
    );
    let same = evidence(KubeVersion::new(1, 35)).await.unwrap();
    assert_eq!(
        same.addons[0].compatible,
        ["asm-1-30", "asm-1-29", "asm-1-28", "asm-1-27"]
    );
}
