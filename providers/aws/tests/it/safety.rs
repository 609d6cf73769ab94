//! Intents before calls, adoption of half-finished creates, node group replacement names,
//! and operations on objects that are already gone.

use slipway_aws::kinds;
use slipway_provider::{
    CreateRequest, Provider, ResourceState, ResourceStatus, TAG_ADDRESS, WaitFor,
};

use crate::support::Walk;

#[tokio::test]
async fn a_refused_intent_sends_nothing_and_a_half_done_create_is_adopted() {
    let mut walk = Walk::new();
    let ec2 = walk.ec2().await;
    let vpc = walk.resource(kinds::VPC, "main");
    walk.journal
        .refuse
        .lock()
        .unwrap()
        .push("CreateVpc".to_owned());
    let err = walk
        .create(&vpc)
        .await
        .expect_err("the journal refused CreateVpc");
    assert_eq!(err.code, "JournalUnavailable");
    assert!(
        ec2.describe_vpcs()
            .send()
            .await
            .unwrap()
            .vpcs()
            .iter()
            .all(|v| v.tags().is_empty()),
        "a VPC was created although its intent was refused"
    );

    walk.journal.refuse.lock().unwrap().clear();
    walk.create(&vpc).await.expect("vpc");
    // The gateway is created, then the attach intent is refused: an interrupted create.
    let igw = walk.resource(kinds::INTERNET_GATEWAY, "main");
    walk.journal
        .refuse
        .lock()
        .unwrap()
        .push("AttachInternetGateway".to_owned());
    walk.create(&igw)
        .await
        .expect_err("the journal refused AttachInternetGateway");
    let gateways = ec2.describe_internet_gateways().send().await.unwrap();
    let ours: Vec<_> = gateways
        .internet_gateways()
        .iter()
        .filter(|g| g.tags().iter().any(|t| t.key() == Some(TAG_ADDRESS)))
        .collect();
    assert_eq!(ours.len(), 1);
    assert!(
        ours[0].attachments().is_empty(),
        "attached although the intent was refused"
    );

    // The next run adopts the gateway and finishes the attach.
    walk.journal.refuse.lock().unwrap().clear();
    let st = walk.create(&igw).await.expect("igw adopted");
    assert_eq!(st.cloud_id.as_deref(), ours[0].internet_gateway_id());
    let gateways = ec2.describe_internet_gateways().send().await.unwrap();
    let ours: Vec<_> = gateways
        .internet_gateways()
        .iter()
        .filter(|g| g.tags().iter().any(|t| t.key() == Some(TAG_ADDRESS)))
        .collect();
    assert_eq!(ours.len(), 1, "adoption must not duplicate the gateway");
    assert_eq!(ours[0].attachments().len(), 1);
}

#[tokio::test]
async fn a_replacement_node_group_gets_a_new_name_beside_the_old_one() {
    let mut walk = Walk::new();
    walk.create_all().await;
    let ng = walk.resource(kinds::EKS_NODEGROUP, "default");
    let old = walk.states[&ng.address].clone();
    assert_eq!(old.cloud_id.as_deref(), Some("ref-use1/default"));
    let mut resolved = walk.resolve(&ng);
    resolved.insert("disk_size".into(), 100i64.into());
    let created = walk
        .provider
        .create(
            &walk.ctx,
            CreateRequest {
                address: &ng.address,
                properties: &resolved,
                replacing: Some(&old),
            },
        )
        .await
        .expect("replacement");
    let new_id = created.cloud_id.clone();
    assert_ne!(Some(new_id.as_str()), old.cloud_id.as_deref());
    assert!(new_id.starts_with("ref-use1/default-"), "{new_id}");
    let new = ResourceState {
        cloud_id: Some(new_id.clone()),
        resolved: resolved.clone(),
        status: ResourceStatus::Pending,
        ..old.clone()
    };
    walk.provider
        .wait(&walk.ctx, &new, WaitFor::Ready)
        .await
        .expect("replacement ready");
    // Both exist side by side until the engine deletes the deposed one; the new one reads
    // back with the pool's name.
    let live_old = walk.provider.read(&walk.ctx, &old).await.unwrap();
    let live_new = walk
        .provider
        .read(&walk.ctx, &new)
        .await
        .unwrap()
        .expect("new node group");
    assert!(live_old.is_some());
    assert_eq!(live_new.properties, resolved);
    // A retried replacement finds the same node group.
    let again = walk
        .provider
        .create(
            &walk.ctx,
            CreateRequest {
                address: &ng.address,
                properties: &resolved,
                replacing: Some(&old),
            },
        )
        .await
        .expect("retried replacement");
    assert_eq!(again.cloud_id, new_id);
    walk.delete(&old).await.expect("delete deposed");
    assert!(walk.provider.read(&walk.ctx, &new).await.unwrap().is_some());
}

#[tokio::test]
async fn objects_that_are_gone_read_as_none_and_delete_quietly() {
    let walk = Walk::new();
    // No NAT gateway here: moto answers DeleteNatGateway of an unknown id with an HTML 500
    // (which the provider rightly treats as transient); AWS answers NatGatewayNotFound.
    let gone = [
        (kinds::VPC, "main", "vpc-0123456789abcdef0"),
        (kinds::SUBNET, "private-a", "subnet-0123456789abcdef0"),
        (kinds::INTERNET_GATEWAY, "main", "igw-0123456789abcdef0"),
        (kinds::EIP, "nat-a", "eipalloc-0123456789abcdef0"),
        (kinds::ROUTE_TABLE, "public", "rtb-0123456789abcdef0"),
        (kinds::SECURITY_GROUP, "nodes", "sg-0123456789abcdef0"),
        (kinds::VPC_ENDPOINT, "s3", "vpce-0123456789abcdef0"),
        (kinds::IAM_ROLE, "nodes", "referee-ref-use1-gone"),
        (
            kinds::IAM_OIDC_PROVIDER,
            "main",
            "arn:aws:iam::123456789012:oidc-provider/oidc.example/id/GONE",
        ),
        (kinds::EKS_CLUSTER, "main", "gone"),
        (kinds::EKS_NODEGROUP, "default", "gone/default"),
    ];
    for (kind, name, id) in gone {
        let r = walk.resource(kind, name);
        let st = ResourceState {
            address: r.address.clone(),
            deposed: None,
            cloud_id: Some(id.to_owned()),
            properties: r.properties.clone(),
            resolved: [("region".to_owned(), "us-east-1".into())].into(),
            outputs: Default::default(),
            depends_on: Vec::new(),
            status: ResourceStatus::Ready,
        };
        let live = walk
            .provider
            .read(&walk.ctx, &st)
            .await
            .unwrap_or_else(|e| panic!("read {}: {e}", st.address));
        assert!(live.is_none(), "{} reads as present", st.address);
        walk.delete(&st)
            .await
            .unwrap_or_else(|e| panic!("delete {}: {e}", st.address));
    }
}
