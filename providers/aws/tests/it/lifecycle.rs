//! Create → wait → read → adopt → update → delete of the whole referee cluster.

use slipway_aws::kinds;
use slipway_provider::{Provider, TAG_ADDRESS, TAG_FLEET, UpdateRequest, Value};

use crate::support::{Walk, prop};

/// Operations that bring a resource's own object into existence.
fn is_create(operation: &str) -> bool {
    [
        "CreateVpc",
        "CreateSubnet",
        "CreateInternetGateway",
        "AllocateAddress",
        "CreateNatGateway",
        "CreateRouteTable",
        "CreateSecurityGroup",
        "CreateVpcEndpoint",
        "CreateRole",
        "CreateOpenIDConnectProvider",
        "CreateCluster",
        "CreateNodegroup",
    ]
    .contains(&operation)
}

#[tokio::test]
async fn the_cluster_converges_reads_back_as_resolved_and_deletes_cleanly() {
    let mut walk = Walk::new();
    walk.create_all().await;
    let expected = walk.resources.len();
    assert!(expected >= 20, "only {expected} resources expanded");

    for st in walk.states.values() {
        let ops = walk.journal.operations(&st.address);
        assert_eq!(
            ops.iter().filter(|o| is_create(o)).count(),
            1,
            "{}: one create intent, journaled before the call: {ops:?}",
            st.address
        );
        let live = walk
            .provider
            .read(&walk.ctx, st)
            .await
            .unwrap_or_else(|e| panic!("read {}: {e}", st.address))
            .unwrap_or_else(|| panic!("{} is gone right after its create", st.address));
        let Value::Map(tags) = prop(&live.properties, "tags") else {
            panic!("{}: tags are not a map", st.address);
        };
        assert_eq!(
            tags.get(TAG_ADDRESS),
            Some(&Value::from(st.address.to_string()))
        );
        assert_eq!(tags.get(TAG_FLEET), Some(&Value::from("referee")));
        assert_eq!(
            live.properties, st.resolved,
            "{}: the live object must read back exactly as resolved (no drift)",
            st.address
        );
        for (k, v) in &st.outputs {
            assert_eq!(live.outputs.get(k), Some(v), "{}: output {k}", st.address);
        }
    }
    let paced: Vec<String> = walk
        .journal
        .paced
        .lock()
        .unwrap()
        .iter()
        .map(|a| a.0.clone())
        .collect();
    for class in [
        "aws.ec2.read",
        "aws.iam.read",
        "aws.eks.read",
        "aws.ec2.mutating",
        "aws.iam",
    ] {
        assert!(
            paced.iter().any(|p| p == class),
            "{class} never paced: {paced:?}"
        );
    }

    // A second create of every address adopts the first object: same id, nothing created.
    walk.journal.clear();
    for r in walk.resources.clone() {
        let first = walk.states[&r.address].cloud_id.clone();
        let again = walk
            .create(&r)
            .await
            .unwrap_or_else(|e| panic!("re-create {}: {e}", r.address));
        assert_eq!(again.cloud_id, first, "{} was not adopted", r.address);
    }
    let created: Vec<_> = walk
        .journal
        .intents
        .lock()
        .unwrap()
        .iter()
        .filter(|i| is_create(&i.operation))
        .map(|i| format!("{} {}", i.address, i.operation))
        .collect();
    assert!(created.is_empty(), "adoption created objects: {created:?}");
    let ec2 = walk.ec2().await;
    let vpcs = ec2.describe_vpcs().send().await.unwrap();
    let owned = vpcs
        .vpcs()
        .iter()
        .filter(|v| v.tags().iter().any(|t| t.key() == Some(TAG_FLEET)))
        .count();
    assert_eq!(owned, 1, "exactly one VPC carries the fleet tag");

    // Delete in reverse order; everything is gone and deleting again succeeds.
    let states: Vec<_> = walk
        .resources
        .iter()
        .rev()
        .map(|r| walk.states[&r.address].clone())
        .collect();
    for st in &states {
        walk.delete(st)
            .await
            .unwrap_or_else(|e| panic!("delete {}: {e}", st.address));
        let ops = walk.journal.operations(&st.address);
        assert!(
            ops.iter()
                .any(|o| o.starts_with("Delete") || o == "ReleaseAddress"),
            "{}: {ops:?}",
            st.address
        );
    }
    for st in &states {
        let live = walk
            .provider
            .read(&walk.ctx, st)
            .await
            .unwrap_or_else(|e| panic!("read {}: {e}", st.address));
        assert!(live.is_none(), "{} still exists", st.address);
        walk.delete(st)
            .await
            .unwrap_or_else(|e| panic!("second delete of {}: {e}", st.address));
    }
}

/// A change to a resource's desired properties.
type Edit = dyn Fn(&mut slipway_provider::Properties);

#[tokio::test]
async fn updates_converge_on_the_desired_properties() {
    let mut walk = Walk::new();
    walk.create_all().await;

    // Each edit mimics a blueprint change the engine diffs as an in-place update.
    let edits: Vec<(&str, &str, Box<Edit>)> = vec![
        (
            kinds::VPC,
            "main",
            Box::new(|p| {
                p.insert("enable_dns_hostnames".into(), Value::from(false));
            }),
        ),
        (
            kinds::SECURITY_GROUP,
            "nodes",
            Box::new(|p| {
                let Some(Value::List(rules)) = p.get_mut("ingress") else {
                    panic!("no ingress")
                };
                rules.truncate(2);
                // A CIDR rule: moto ignores new descriptions of group-referencing rules.
                let Some(Value::List(rules)) = p.get_mut("egress") else {
                    panic!("no egress")
                };
                if let Some(Value::Map(rule)) = rules.get_mut(0) {
                    rule.insert("description".into(), Value::from("Nodes to the world"));
                }
                if let Some(Value::Map(tags)) = p.get_mut("tags") {
                    tags.insert("team".into(), Value::from("runtime"));
                }
            }),
        ),
        (
            kinds::ROUTE_TABLE,
            "public",
            Box::new(|p| {
                let Some(Value::List(subnets)) = p.get_mut("subnet_ids") else {
                    panic!("no subnets")
                };
                subnets.truncate(1);
            }),
        ),
        (
            kinds::IAM_ROLE,
            "nodes",
            Box::new(|p| {
                p.insert("description".into(), Value::from("Nodes, edited"));
                let Some(Value::List(arns)) = p.get_mut("managed_policy_arns") else {
                    panic!()
                };
                arns.pop();
                p.insert(
                "inline_policies".into(),
                Value::Map([(
                    "read-config".to_owned(),
                    Value::from(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"*"}]}"#),
                )].into()),
            );
            }),
        ),
        (
            kinds::EKS_CLUSTER,
            "main",
            Box::new(|p| {
                if let Some(Value::Map(tags)) = p.get_mut("tags") {
                    tags.insert("team".into(), Value::from("runtime"));
                }
            }),
        ),
    ];
    for (kind, name, edit) in edits {
        let mut r = walk.resource(kind, name);
        edit(&mut r.properties);
        let resolved = walk.resolve(&r);
        let prior = walk.states[&r.address].clone();
        walk.journal.clear();
        let updated = walk
            .provider
            .update(
                &walk.ctx,
                UpdateRequest {
                    address: &r.address,
                    properties: &resolved,
                    prior: &prior,
                    changed: &[],
                },
            )
            .await
            .unwrap_or_else(|e| panic!("update {}: {e}", r.address));
        assert_eq!(updated.cloud_id, prior.cloud_id.clone().unwrap());
        assert!(
            !walk.journal.operations(&r.address).is_empty(),
            "{}: nothing journaled",
            r.address
        );
        let mut st = prior.clone();
        st.resolved = resolved.clone();
        let live = walk
            .provider
            .read(&walk.ctx, &st)
            .await
            .unwrap()
            .expect("still there");
        assert_eq!(live.properties, resolved, "{} did not converge", r.address);
    }
}
