//! `upgrade_evidence` against Slipway's emulator (moto has no EKS add-ons or insights): a
//! cluster built through the SDK the way a neglected one ends up (AL2 nodes, an add-on left at
//! the previous minor's version, audit-log evidence of a removed API) reads back as evidence.
//! The emulator models the cloud, so the objects are made with the SDK, not the provider.

use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_sdk_ec2::config::{Credentials, Region};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use slipway_aws::{AwsProvider, AwsProviderConfig, StaticCredentials};
use slipway_blueprints::{KubeVersion, NodeOs};
use slipway_emulator::{Emulator, EmulatorConfig, FaultConfig, RunningEmulator};
use slipway_provider::{EvidenceRequest, InsightStatus, OpContext, Provider};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Journal, fleet};

/// The referee cluster's EKS name.
const CLUSTER: &str = "ref-use1";
/// A removal the emulator's data knows: flowcontrol v1beta3 stops being served in 1.32.
const FLOWSCHEMAS: &str = "/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas";

async fn emulator() -> RunningEmulator {
    Emulator::start(
        EmulatorConfig {
            time_scale: 6000.0,
            faults: FaultConfig {
                rate_limits: false,
                ..FaultConfig::default()
            },
            seed: 7,
            // 1.30 is still supported then, so the cluster can start a minor behind.
            today: Some(jiff::civil::date(2026, 3, 1)),
            ..EmulatorConfig::default()
        },
        "127.0.0.1:0".parse().expect("address"),
    )
    .await
    .expect("the emulator starts")
}

/// POSTs a JSON body to the emulator's admin API, returning the status line.
async fn admin_post(emu: &RunningEmulator, path: &str, body: &serde_json::Value) -> String {
    let body = body.to_string();
    let mut tcp = tokio::net::TcpStream::connect(emu.local_addr())
        .await
        .expect("connect");
    let request = format!(
        "POST /_emulator/{path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.expect("read");
    response.lines().next().unwrap_or_default().to_owned()
}

struct Sdk {
    ec2: aws_sdk_ec2::Client,
    iam: aws_sdk_iam::Client,
    eks: aws_sdk_eks::Client,
}

async fn sdk(url: &str) -> Sdk {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await;
    Sdk {
        ec2: aws_sdk_ec2::Client::new(&config),
        iam: aws_sdk_iam::Client::new(&config),
        eks: aws_sdk_eks::Client::new(&config),
    }
}

async fn role(sdk: &Sdk, name: &str, service: &str, policies: &[&str]) -> String {
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"{service}"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let out = sdk
        .iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust)
        .send()
        .await
        .expect("CreateRole");
    for p in policies {
        sdk.iam
            .attach_role_policy()
            .role_name(name)
            .policy_arn(format!("arn:aws:iam::aws:policy/{p}"))
            .send()
            .await
            .expect("AttachRolePolicy");
    }
    out.role().expect("role").arn().to_owned()
}

async fn wait_active(sdk: &Sdk, version: &str) {
    for _ in 0..500 {
        let out = sdk
            .eks
            .describe_cluster()
            .name(CLUSTER)
            .send()
            .await
            .expect("DescribeCluster");
        let cl = out.cluster().expect("cluster");
        if cl.status().map(|s| s.as_str()) == Some("ACTIVE") && cl.version() == Some(version) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the cluster never became ACTIVE on {version}");
}

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
    let emu = emulator().await;
    let provider = AwsProvider::new(AwsProviderConfig {
        endpoint_url: Some(emu.url()),
        region_override: None,
        static_credentials: Some(StaticCredentials {
            access_key_id: "testing".to_owned(),
            secret_access_key: "testing".to_owned(),
        }),
    })
    .expect("provider");
    let fleet = fleet();
    let journal = Arc::new(Journal::default());
    let ctx = OpContext {
        fleet: fleet.name.clone(),
        run_id: "run-1".to_owned(),
        pacer: journal.clone(),
        sink: journal.clone(),
    };
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
