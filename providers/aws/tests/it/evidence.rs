//! `upgrade_evidence` against Slipway's emulator (moto has no EKS add-ons or insights): a
//! cluster built through the SDK the way a neglected one ends up (AL2 nodes, an add-on left at
//! the previous minor's version, audit-log evidence of a removed API) reads back as evidence.
//! The emulator models the cloud, so the objects are made with the SDK, not the provider.

use std::sync::Arc;

use slipway_blueprints::{KubeVersion, NodeOs};
use slipway_provider::{EvidenceRequest, InsightStatus, Provider};

use crate::emulated::{
    CLUSTER, Sdk, admin_post, context, emulator, provider, role, sdk, wait_active,
};
use crate::support::{Journal, fleet};

/// A removal the emulator's data knows: flowcontrol v1beta3 stops being served in 1.32.
const FLOWSCHEMAS: &str = "/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas";

/// A 1.31 cluster (upgraded from 1.30 without touching kube-proxy) with an AL2 node group.
async fn neglected_cluster(sdk: &Sdk) {
    let vpc = sdk
        .ec2
        .create_vpc()
        .cidr_block("10.60.0.0/16")
        .send()
        .await
        .expect("CreateVpc");
    let vpc = vpc.vpc().and_then(|v| v.vpc_id()).expect("vpc id");
    let mut subnets = Vec::new();
    for (i, az) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
        let s = sdk
            .ec2
            .create_subnet()
            .vpc_id(vpc)
            .cidr_block(format!("10.60.{i}.0/24"))
            .availability_zone(*az)
            .send()
            .await
            .expect("CreateSubnet");
        subnets.push(
            s.subnet()
                .and_then(|s| s.subnet_id())
                .expect("id")
                .to_owned(),
        );
    }
    let cluster_role = role(
        sdk,
        "ev-cluster",
        "eks.amazonaws.com",
        &["AmazonEKSClusterPolicy"],
    )
    .await;
    let node_role = role(
        sdk,
        "ev-nodes",
        "ec2.amazonaws.com",
        &[
            "AmazonEKSWorkerNodePolicy",
            "AmazonEC2ContainerRegistryReadOnly",
            "AmazonEKS_CNI_Policy",
        ],
    )
    .await;
    let vpc_config = aws_sdk_eks::types::VpcConfigRequest::builder()
        .set_subnet_ids(Some(subnets.clone()))
        .build();
    // IAM propagation is modelled: retry until the new role can be assumed.
    let mut created = false;
    for _ in 0..200 {
        let r = sdk
            .eks
            .create_cluster()
            .name(CLUSTER)
            .version("1.30")
            .role_arn(&cluster_role)
            .resources_vpc_config(vpc_config.clone())
            .send()
            .await;
        if r.is_ok() {
            created = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(created, "CreateCluster never succeeded");
    wait_active(sdk, "1.30").await;
    sdk.eks
        .create_addon()
        .cluster_name(CLUSTER)
        .addon_name("kube-proxy")
        .send()
        .await
        .expect("CreateAddon");
    sdk.eks
        .update_cluster_version()
        .name(CLUSTER)
        .version("1.31")
        .send()
        .await
        .expect("UpdateClusterVersion");
    wait_active(sdk, "1.31").await;
    let mut created = false;
    for _ in 0..200 {
        let r = sdk
            .eks
            .create_nodegroup()
            .cluster_name(CLUSTER)
            .nodegroup_name("legacy")
            .version("1.30")
            .node_role(&node_role)
            .set_subnets(Some(subnets.clone()))
            .instance_types("m6i.large")
            .ami_type(aws_sdk_eks::types::AmiTypes::Al2X8664)
            .send()
            .await;
        if r.is_ok() {
            created = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(created, "CreateNodegroup never succeeded");
}

#[tokio::test]
async fn evidence_reports_versions_images_addons_and_insights() {
    let emu = emulator("").await;
    let provider = provider(&emu);
    let fleet = fleet();
    let journal = Arc::new(Journal::default());
    let ctx = context(&journal);
    let request = EvidenceRequest {
        fleet: &fleet,
        cluster: &fleet.clusters[0],
        target: KubeVersion::new(1, 32),
        recorded: &[],
    };

    // Nothing built yet: no live cluster, a note, no error.
    let missing = provider
        .upgrade_evidence(&ctx, request)
        .await
        .expect("evidence of a missing cluster");
    assert_eq!(missing.live, None);
    assert!(
        missing.notes.iter().any(|n| n.contains("does not exist")),
        "{:?}",
        missing.notes
    );

    let sdk = sdk(&emu.url()).await;
    neglected_cluster(&sdk).await;
    let status = admin_post(
        &emu,
        "eks/deprecated-api-usage",
        &serde_json::json!({
            "cluster": CLUSTER, "usage": FLOWSCHEMAS, "userAgent": "legacy-operator/v1.2",
            "requestCount": 40, "lastRequestTime": "2026-02-28T12:00:00Z",
        }),
    )
    .await;
    assert!(status.contains(" 200 "), "{status}");

    let ev = provider
        .upgrade_evidence(&ctx, request)
        .await
        .expect("evidence");
    let live = ev.live.as_ref().expect("the cluster is live");
    assert_eq!(live.version, "1.31");
    assert_eq!(live.status, "ACTIVE");
    assert_eq!(live.node_pools.len(), 1);
    let pool = &live.node_pools[0];
    assert_eq!(pool.name, "legacy");
    assert_eq!(pool.version, "1.30");
    assert_eq!(pool.image.as_deref(), Some("AL2_x86_64"));
    assert_eq!(pool.os, Some(NodeOs::Al2));
    assert!(pool.image_version.is_some());
    assert!(!pool.owned, "created outside Slipway, so not tagged");
    assert_eq!(ev.upgrades_offered, None);

    let kube_proxy = ev
        .addons
        .iter()
        .find(|a| a.name == "kube-proxy")
        .expect("kube-proxy evidence");
    let installed = kube_proxy.installed.as_deref().expect("installed");
    assert_eq!(installed, "v1.30.14-eksbuild.8");
    assert!(!kube_proxy.compatible.iter().any(|v| v == installed));
    assert_eq!(
        kube_proxy.compatible,
        ["v1.32.9-eksbuild.2", "v1.31.13-eksbuild.2"]
    );
    assert_eq!(
        kube_proxy.default_for_target.as_deref(),
        Some("v1.32.9-eksbuild.2")
    );

    assert!(
        ev.insights
            .iter()
            .all(|i| i.kubernetes_version.as_deref() == Some("1.32"))
    );
    let apis = ev
        .insights
        .iter()
        .find(|i| i.name == "Deprecated APIs removed in Kubernetes v1.32")
        .expect("the deprecated-API insight");
    assert_eq!(apis.status, InsightStatus::Error);
    assert_eq!(apis.category, "UPGRADE_READINESS");
    let flow = apis
        .deprecations
        .iter()
        .find(|d| d.usage == FLOWSCHEMAS)
        .expect("the seeded usage");
    assert_eq!(
        flow.replaced_with.as_deref(),
        Some("/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas")
    );
    assert_eq!(flow.stop_serving_version.as_deref(), Some("1.32"));
    assert_eq!(flow.clients.len(), 1);
    assert_eq!(flow.clients[0].user_agent, "legacy-operator/v1.2");
    assert_eq!(flow.clients[0].requests, 40);
    assert_eq!(
        flow.clients[0].last_request.as_deref(),
        Some("2026-02-28T12:00:00Z")
    );
    let addons = ev
        .insights
        .iter()
        .find(|i| i.name == "EKS add-on version compatibility")
        .expect("the add-on insight");
    assert_eq!(addons.status, InsightStatus::Error);

    // Read-only: no intent journaled, every call paced as an EKS read.
    assert!(journal.intents.lock().unwrap().is_empty());
    assert!(
        journal
            .paced
            .lock()
            .unwrap()
            .iter()
            .all(|a| a.0 == slipway_aws::API_EKS_READ)
    );
    emu.shutdown().await;
}
