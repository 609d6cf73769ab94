//! One upgrade hop through the provider against Slipway's emulator (moto has no add-ons and no
//! failing updates): add-ons follow the cluster's minor, and a node group roll that EKS
//! reports `Failed` is an error that a later attempt can get past. The 1.30 cluster is built
//! with the SDK and moved to 1.31 behind the provider's back, as the control-plane step of a
//! hop would have done.

use std::sync::Arc;

use slipway_aws::kinds;
use slipway_provider::{
    Address, ErrorClass, Properties, Provider, ResourceState, ResourceStatus, UpdateRequest, Value,
    WaitFor,
};

use crate::emulated::{CLUSTER, Sdk, context, emulator, provider, role, sdk, wait_active};
use crate::support::Journal;

/// kube-proxy's EKS default for 1.30 (compatible with 1.31 too) and for 1.31.
const KUBE_PROXY_130: &str = "v1.30.14-eksbuild.8";
const KUBE_PROXY_131: &str = "v1.31.13-eksbuild.2";

fn props<const N: usize>(pairs: [(&str, Value); N]) -> Properties {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// A 1.30 cluster with egress, an ACTIVE node group `default` on 1.30 and kube-proxy at its
/// 1.30 default, whose control plane then moves to 1.31.
async fn hop_to_131(sdk: &Sdk) {
    let vpc = sdk
        .ec2
        .create_vpc()
        .cidr_block("10.61.0.0/16")
        .send()
        .await
        .expect("CreateVpc");
    let vpc = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_owned();
    let mut subnets = Vec::new();
    for (i, az) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
        let s = sdk
            .ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("10.61.{i}.0/24"))
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
    // Nodes join only with egress: an internet gateway route in the main table.
    let igw = sdk
        .ec2
        .create_internet_gateway()
        .send()
        .await
        .expect("CreateInternetGateway");
    let igw = igw
        .internet_gateway()
        .and_then(|g| g.internet_gateway_id())
        .expect("igw id")
        .to_owned();
    sdk.ec2
        .attach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&vpc)
        .send()
        .await
        .expect("AttachInternetGateway");
    let tables = sdk
        .ec2
        .describe_route_tables()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(&vpc)
                .build(),
        )
        .send()
        .await
        .expect("DescribeRouteTables");
    let main = tables.route_tables()[0]
        .route_table_id()
        .expect("table id")
        .to_owned();
    sdk.ec2
        .create_route()
        .route_table_id(main)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(igw)
        .send()
        .await
        .expect("CreateRoute");
    let cluster_role = role(
        sdk,
        "up-cluster",
        "eks.amazonaws.com",
        &["AmazonEKSClusterPolicy"],
    )
    .await;
    let node_role = role(
        sdk,
        "up-nodes",
        "ec2.amazonaws.com",
        &[
            "AmazonEKSWorkerNodePolicy",
            "AmazonEC2ContainerRegistryReadOnly",
            "AmazonEKS_CNI_Policy",
        ],
    )
    .await;
    sdk.eks
        .create_cluster()
        .name(CLUSTER)
        .version("1.30")
        .role_arn(cluster_role)
        .resources_vpc_config(
            aws_sdk_eks::types::VpcConfigRequest::builder()
                .set_subnet_ids(Some(subnets.clone()))
                .build(),
        )
        .send()
        .await
        .expect("CreateCluster");
    wait_active(sdk, "1.30").await;
    sdk.eks
        .create_nodegroup()
        .cluster_name(CLUSTER)
        .nodegroup_name("default")
        .version("1.30")
        .node_role(node_role)
        .set_subnets(Some(subnets))
        .instance_types("m6i.large")
        .ami_type(aws_sdk_eks::types::AmiTypes::Al2023X8664Standard)
        .send()
        .await
        .expect("CreateNodegroup");
    sdk.eks
        .create_addon()
        .cluster_name(CLUSTER)
        .addon_name("kube-proxy")
        .send()
        .await
        .expect("CreateAddon");
    for _ in 0..500 {
        let ng = sdk
            .eks
            .describe_nodegroup()
            .cluster_name(CLUSTER)
            .nodegroup_name("default")
            .send()
            .await
            .expect("DescribeNodegroup");
        let addon = sdk
            .eks
            .describe_addon()
            .cluster_name(CLUSTER)
            .addon_name("kube-proxy")
            .send()
            .await
            .expect("DescribeAddon");
        let status = (
            ng.nodegroup().and_then(|n| n.status()).map(|s| s.as_str()),
            addon.addon().and_then(|a| a.status()).map(|s| s.as_str()),
        );
        if status == (Some("ACTIVE"), Some("ACTIVE")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    sdk.eks
        .update_cluster_version()
        .name(CLUSTER)
        .version("1.31")
        .send()
        .await
        .expect("UpdateClusterVersion");
    wait_active(sdk, "1.31").await;
}

async fn kube_proxy_version(sdk: &Sdk) -> String {
    sdk.eks
        .describe_addon()
        .cluster_name(CLUSTER)
        .addon_name("kube-proxy")
        .send()
        .await
        .expect("DescribeAddon")
        .addon()
        .and_then(|a| a.addon_version())
        .expect("version")
        .to_owned()
}

/// kube-proxy's properties as the expansion makes them for `minor`, pinned or not.
fn kube_proxy(pinned: Option<&str>, minor: &str) -> Properties {
    props([
        ("region", Value::from("us-east-1")),
        ("cluster_name", Value::from(CLUSTER)),
        ("addon_name", Value::from("kube-proxy")),
        ("addon_version", pinned.map_or(Value::Null, Value::from)),
        ("kubernetes_version", Value::from(minor)),
        ("resolve_conflicts", Value::from("OVERWRITE")),
        ("tags", Value::Map(Properties::new())),
    ])
}

fn recorded(address: &Address, cloud_id: &str, resolved: Properties) -> ResourceState {
    ResourceState {
        address: address.clone(),
        deposed: None,
        cloud_id: Some(cloud_id.to_owned()),
        properties: resolved.clone(),
        resolved,
        outputs: Properties::new(),
        depends_on: Vec::new(),
        status: ResourceStatus::Ready,
    }
}

#[tokio::test]
async fn add_ons_follow_the_cluster_minor_unless_pinned() {
    let emu = emulator("").await;
    let sdk = sdk(&emu.url()).await;
    hop_to_131(&sdk).await;
    let provider = provider(&emu);
    let journal = Arc::new(Journal::default());
    let ctx = context(&journal);
    let address = Address::new(CLUSTER, kinds::EKS_ADDON, "kube-proxy");
    let id = format!("{CLUSTER}/kube-proxy");
    let update = |prior: ResourceState, desired: Properties| {
        let (provider, ctx, address) = (&provider, &ctx, &address);
        async move {
            let changed = ["kubernetes_version".to_owned()];
            let out = provider
                .update(
                    ctx,
                    UpdateRequest {
                        address,
                        properties: &desired,
                        prior: &prior,
                        changed: &changed,
                    },
                )
                .await
                .expect("update");
            let st = recorded(
                address,
                &prior.cloud_id.clone().unwrap_or_default(),
                desired,
            );
            if !out.ready {
                provider
                    .wait(ctx, &st, WaitFor::Ready)
                    .await
                    .expect("the add-on becomes ACTIVE");
            }
            st
        }
    };

    // Pinned: the pinned version is what it runs, whatever the minor; nothing to send.
    let pinned = recorded(&address, &id, kube_proxy(Some(KUBE_PROXY_130), "1.30"));
    let pinned = update(pinned, kube_proxy(Some(KUBE_PROXY_130), "1.31")).await;
    assert!(
        journal.operations(&address).is_empty(),
        "{:?}",
        journal.operations(&address)
    );
    assert_eq!(kube_proxy_version(&sdk).await, KUBE_PROXY_130);

    // Unpinned after the hop: the EKS default for 1.31, as UpdateAddon's intent says.
    let mut prior = pinned.clone();
    prior.resolved = kube_proxy(None, "1.30");
    let moved = update(prior, kube_proxy(None, "1.31")).await;
    assert_eq!(journal.operations(&address), ["UpdateAddon"]);
    let intent = journal.intents.lock().unwrap()[0].detail.clone();
    assert_eq!(intent["addon_version"], KUBE_PROXY_131);
    assert_eq!(intent["kubernetes_version"], "1.31");
    assert_eq!(kube_proxy_version(&sdk).await, KUBE_PROXY_131);

    // Refresh sees no drift: the minor is the recorded one, the version stays unpinned.
    let live = provider
        .read(&ctx, &moved)
        .await
        .expect("read")
        .expect("the add-on exists");
    assert_eq!(live.properties["kubernetes_version"], Value::from("1.31"));
    assert_eq!(live.properties["addon_version"], Value::Null);

    // Converged: the same minor again sends nothing.
    journal.clear();
    update(moved, kube_proxy(None, "1.31")).await;
    assert!(journal.operations(&address).is_empty());
    emu.shutdown().await;
}

#[tokio::test]
async fn a_failed_node_group_roll_is_an_error_and_a_later_attempt_rolls_through() {
    let emu = emulator("fail=nodegroup-update-once:default").await;
    let sdk = sdk(&emu.url()).await;
    hop_to_131(&sdk).await;
    let provider = provider(&emu);
    let journal = Arc::new(Journal::default());
    let ctx = context(&journal);
    let address = Address::new(CLUSTER, kinds::EKS_NODEGROUP, "default");
    let desired = props([
        ("region", Value::from("us-east-1")),
        ("cluster_name", Value::from(CLUSTER)),
        ("nodegroup_name", Value::from("default")),
        ("version", Value::from("1.31")),
        ("labels", Value::Map(Properties::new())),
        ("taints", Value::List(Vec::new())),
        ("tags", Value::Map(Properties::new())),
    ]);
    let prior = recorded(&address, &format!("{CLUSTER}/default"), desired.clone());
    let changed = ["version".to_owned()];
    let request = UpdateRequest {
        address: &address,
        properties: &desired,
        prior: &prior,
        changed: &changed,
    };
    let described = || async {
        sdk.eks
            .describe_nodegroup()
            .cluster_name(CLUSTER)
            .nodegroup_name("default")
            .send()
            .await
            .expect("DescribeNodegroup")
            .nodegroup()
            .cloned()
            .expect("node group")
    };

    let err = provider
        .update(&ctx, request)
        .await
        .expect_err("the injected roll failure");
    let updates = sdk
        .eks
        .list_updates()
        .name(CLUSTER)
        .nodegroup_name("default")
        .send()
        .await
        .expect("ListUpdates");
    let update_id = &updates.update_ids()[0];
    assert_eq!(err.class, ErrorClass::Fatal, "{err}");
    assert!(!err.class.is_retryable());
    assert_eq!(err.operation, "UpdateNodegroupVersion");
    assert_eq!(err.code, "PodEvictionFailure");
    assert!(err.message.contains(update_id.as_str()), "{err}");
    assert!(err.message.contains("evict pods"), "{err}");
    assert_eq!(err.address.as_deref(), Some(&address));
    let ng = described().await;
    assert_eq!(
        ng.version(),
        Some("1.30"),
        "a failed roll keeps the old version"
    );
    assert_eq!(ng.status().map(|s| s.as_str()), Some("ACTIVE"));

    // The fault fires once: the next attempt (a later apply) rolls through.
    provider
        .update(&ctx, request)
        .await
        .expect("the second roll succeeds");
    provider
        .wait(&ctx, &prior, WaitFor::Ready)
        .await
        .expect("ACTIVE after the roll");
    assert_eq!(described().await.version(), Some("1.31"));
    assert_eq!(
        journal.operations(&address),
        ["UpdateNodegroupVersion", "UpdateNodegroupVersion"]
    );
    emu.shutdown().await;
}
