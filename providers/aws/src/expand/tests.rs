use std::collections::BTreeSet;

use slipway_blueprints::{Addon, Cluster};
use slipway_provider::{Expander, Resource, TAG_ADDRESS, TAG_CLUSTER, TAG_FLEET, Value};

use super::*;
use crate::fixtures::{dev_public, fleet, prod_private};
use crate::{AwsExpander, kinds};

fn run(cluster: &Cluster) -> Vec<Resource> {
    expand(&fleet(), cluster).expect("fixture expands")
}

fn of_kind<'r>(resources: &'r [Resource], kind: &str) -> Vec<&'r Resource> {
    resources
        .iter()
        .filter(|r| r.address.kind.as_str() == kind)
        .collect()
}

fn get<'r>(resources: &'r [Resource], kind: &str, name: &str) -> &'r Resource {
    resources
        .iter()
        .find(|r| r.address.kind.as_str() == kind && r.address.name == name)
        .unwrap_or_else(|| panic!("no {kind}/{name}"))
}

fn prop<'r>(r: &'r Resource, key: &str) -> &'r Value {
    r.properties
        .get(key)
        .unwrap_or_else(|| panic!("{} has no `{key}`", r.address))
}

fn list(v: &Value) -> &[Value] {
    match v {
        Value::List(items) => items,
        other => panic!("not a list: {other}"),
    }
}

fn map(v: &Value) -> &BTreeMap<String, Value> {
    match v {
        Value::Map(m) => m,
        other => panic!("not a map: {other}"),
    }
}

#[test]
fn prod_private_cluster_snapshot() {
    insta::assert_yaml_snapshot!(run(&prod_private()));
}

#[test]
fn dev_public_cluster_snapshot() {
    insta::assert_yaml_snapshot!(run(&dev_public()));
}

#[test]
fn every_reference_and_dependency_points_into_the_expansion_at_a_declared_output() {
    let schemas = kinds::schemas();
    for cluster in [prod_private(), dev_public()] {
        let resources = run(&cluster);
        let addresses: BTreeSet<&Address> = resources.iter().map(|r| &r.address).collect();
        for r in &resources {
            for value in r.properties.values() {
                for reference in value.refs() {
                    assert!(
                        addresses.contains(&reference.address),
                        "{} references missing {reference}",
                        r.address
                    );
                    let schema = schemas
                        .iter()
                        .find(|s| s.kind == reference.address.kind)
                        .expect("kind declared");
                    assert!(
                        schema.outputs.contains(&reference.output),
                        "{} references undeclared output {reference}",
                        r.address
                    );
                    assert_ne!(
                        reference.address, r.address,
                        "{} references itself",
                        r.address
                    );
                }
            }
            for dep in &r.depends_on {
                assert!(
                    addresses.contains(dep),
                    "{} depends on missing {dep}",
                    r.address
                );
            }
        }
    }
}

#[test]
fn addresses_are_unique_and_in_the_cluster() {
    for cluster in [prod_private(), dev_public()] {
        let resources = run(&cluster);
        let unique: BTreeSet<&Address> = resources.iter().map(|r| &r.address).collect();
        assert_eq!(unique.len(), resources.len());
        assert!(resources.iter().all(|r| r.address.cluster == cluster.name));
    }
}

#[test]
fn every_resource_is_of_a_declared_kind_and_has_its_replace_on_properties() {
    let expander = AwsExpander::default();
    for cluster in [prod_private(), dev_public()] {
        for r in run(&cluster) {
            let schema = expander
                .kind(&r.address.kind)
                .unwrap_or_else(|| panic!("{} has an undeclared kind", r.address));
            for p in &schema.replace_on {
                assert!(
                    r.properties.contains_key(p),
                    "{} lacks replace_on property `{p}`",
                    r.address
                );
            }
        }
    }
}

#[test]
fn every_resource_carries_the_ownership_tags_name_and_cluster_tags() {
    for cluster in [prod_private(), dev_public()] {
        for r in run(&cluster) {
            let tags = map(prop(&r, "tags"));
            assert_eq!(tags[TAG_FLEET], Value::from("commerce"), "{}", r.address);
            assert_eq!(
                tags[TAG_CLUSTER],
                Value::from(cluster.name.as_str()),
                "{}",
                r.address
            );
            assert_eq!(
                tags[TAG_ADDRESS],
                Value::from(r.address.to_string()),
                "{}",
                r.address
            );
            assert_eq!(
                tags["cost-center"],
                Value::from("commerce"),
                "{}",
                r.address
            );
            assert!(tags.contains_key("Name"), "{}", r.address);
        }
    }
}

#[test]
fn ownership_tags_win_over_blueprint_tags() {
    let mut cluster = dev_public();
    cluster
        .tags
        .insert(TAG_FLEET.to_owned(), "someone-else".to_owned());
    let resources = run(&cluster);
    assert_eq!(
        map(prop(&resources[0], "tags"))[TAG_FLEET],
        Value::from("commerce")
    );
}

#[test]
fn expansion_is_deterministic() {
    for cluster in [prod_private(), dev_public()] {
        assert_eq!(run(&cluster), run(&cluster));
    }
}

#[test]
fn prod_gets_a_nat_gateway_and_private_route_table_per_zone() {
    let resources = run(&prod_private());
    assert_eq!(of_kind(&resources, kinds::NAT_GATEWAY).len(), 3);
    assert_eq!(of_kind(&resources, kinds::EIP).len(), 3);
    for zone in ["a", "b", "c"] {
        let rt = get(&resources, kinds::ROUTE_TABLE, &format!("private-{zone}"));
        let nat = Address::new("prod-use1", kinds::NAT_GATEWAY, format!("nat-{zone}"));
        assert_eq!(
            map(&list(prop(rt, "routes"))[0])["nat_gateway_id"],
            Value::reference(&nat, "id")
        );
        let subnet = Address::new("prod-use1", kinds::SUBNET, format!("private-{zone}"));
        assert_eq!(
            prop(rt, "subnet_ids"),
            &Value::List(vec![Value::reference(&subnet, "id")])
        );
        let nat_gw = get(&resources, kinds::NAT_GATEWAY, &format!("nat-{zone}"));
        let public = Address::new("prod-use1", kinds::SUBNET, format!("public-{zone}"));
        assert_eq!(prop(nat_gw, "subnet_id"), &Value::reference(&public, "id"));
    }
}

#[test]
fn other_tiers_share_one_nat_gateway_in_the_first_zone() {
    let resources = run(&dev_public());
    let nats = of_kind(&resources, kinds::NAT_GATEWAY);
    assert_eq!(nats.len(), 1);
    assert_eq!(nats[0].address.name, "nat-a");
    let rts = of_kind(&resources, kinds::ROUTE_TABLE);
    let names: Vec<&str> = rts.iter().map(|r| r.address.name.as_str()).collect();
    assert_eq!(names, ["public", "private"]);
    assert_eq!(list(prop(rts[1], "subnet_ids")).len(), 2);
}

#[test]
fn subnets_carry_load_balancer_discovery_tags() {
    let resources = run(&prod_private());
    let public = map(prop(get(&resources, kinds::SUBNET, "public-b"), "tags"));
    assert_eq!(public["kubernetes.io/role/elb"], Value::from("1"));
    assert_eq!(
        public["kubernetes.io/cluster/prod-use1"],
        Value::from("shared")
    );
    assert!(!public.contains_key("kubernetes.io/role/internal-elb"));
    let private = get(&resources, kinds::SUBNET, "private-b");
    assert_eq!(
        map(prop(private, "tags"))["kubernetes.io/role/internal-elb"],
        Value::from("1")
    );
    assert_eq!(prop(private, "cidr_block"), &Value::from("10.10.64.0/18"));
    assert_eq!(
        prop(private, "availability_zone"),
        &Value::from("us-east-1b")
    );
}

#[test]
fn the_eks_cluster_follows_endpoint_and_encryption_settings() {
    let prod = run(&prod_private());
    let cluster = get(&prod, kinds::EKS_CLUSTER, "main");
    assert_eq!(prop(cluster, "name"), &Value::from("prod-use1"));
    assert_eq!(prop(cluster, "endpoint_public_access"), &Value::from(false));
    assert_eq!(prop(cluster, "endpoint_private_access"), &Value::from(true));
    assert_eq!(
        map(prop(cluster, "access_config"))["authentication_mode"],
        Value::from("API")
    );
    let encryption = list(prop(cluster, "encryption_config"));
    assert_eq!(
        map(&map(&encryption[0])["provider"])["key_arn"]
            .as_str()
            .map(|k| k.starts_with("arn:aws:kms:")),
        Some(true)
    );
    assert_eq!(list(prop(cluster, "subnet_ids")).len(), 3);
    assert_eq!(list(prop(cluster, "enabled_cluster_log_types")).len(), 5);

    let dev = run(&dev_public());
    let cluster = get(&dev, kinds::EKS_CLUSTER, "main");
    assert_eq!(prop(cluster, "endpoint_public_access"), &Value::from(true));
    assert_eq!(
        prop(cluster, "endpoint_private_access"),
        &Value::from(false)
    );
    assert_eq!(prop(cluster, "encryption_config"), &Value::List(Vec::new()));
    assert_eq!(prop(cluster, "version"), &Value::from("1.34"));
}

#[test]
fn node_groups_wait_for_routes_and_boot_addons_and_coredns_waits_for_node_groups() {
    let resources = run(&prod_private());
    let addon = |n: &str| Address::new("prod-use1", kinds::EKS_ADDON, n);
    let nodegroups = of_kind(&resources, kinds::EKS_NODEGROUP);
    assert_eq!(nodegroups.len(), 2);
    for ng in &nodegroups {
        assert!(ng.depends_on.contains(&addon("vpc-cni")));
        assert!(ng.depends_on.contains(&addon("kube-proxy")));
        assert!(ng.depends_on.contains(&Address::new(
            "prod-use1",
            kinds::ROUTE_TABLE,
            "private-c"
        )));
        assert!(!ng.depends_on.contains(&addon("coredns")));
    }
    for name in ["coredns", "ebs-csi"] {
        let a = get(&resources, kinds::EKS_ADDON, name);
        for ng in &nodegroups {
            assert!(
                a.depends_on.contains(&ng.address),
                "{name} must wait for {}",
                ng.address
            );
        }
    }
    assert!(
        get(&resources, kinds::EKS_ADDON, "vpc-cni")
            .depends_on
            .is_empty()
    );
}

#[test]
fn node_groups_map_pools_onto_eks_parameters() {
    let resources = run(&prod_private());
    let general = get(&resources, kinds::EKS_NODEGROUP, "general");
    assert_eq!(prop(general, "nodegroup_name"), &Value::from("general"));
    assert_eq!(
        prop(general, "ami_type"),
        &Value::from("AL2023_x86_64_STANDARD")
    );
    assert_eq!(
        prop(general, "instance_types"),
        &Value::from(vec!["m6i.xlarge"])
    );
    let scaling = map(prop(general, "scaling_config"));
    assert_eq!(
        (
            &scaling["min_size"],
            &scaling["max_size"],
            &scaling["desired_size"]
        ),
        (&Value::Int(3), &Value::Int(30), &Value::Int(3))
    );
    assert_eq!(
        map(prop(general, "update_config"))["max_unavailable"],
        Value::Int(2)
    );
    assert_eq!(
        map(prop(general, "labels"))["workload"],
        Value::from("general")
    );
    let system = get(&resources, kinds::EKS_NODEGROUP, "system");
    assert_eq!(
        map(&list(prop(system, "taints"))[0])["effect"],
        Value::from("PREFER_NO_SCHEDULE")
    );
}

#[test]
fn irsa_roles_trust_the_oidc_provider_for_their_service_account() {
    let resources = run(&prod_private());
    assert!(of_kind(&resources, kinds::EKS_POD_IDENTITY_ASSOCIATION).is_empty());
    let oidc = Address::new("prod-use1", kinds::IAM_OIDC_PROVIDER, "main");
    let role = get(&resources, kinds::IAM_ROLE, "wi-orders-api");
    let policy = prop(role, "assume_role_policy").as_str().unwrap();
    assert!(
        policy.contains(r#""{{oidc_provider_url}}:sub":"system:serviceaccount:orders:orders-api""#),
        "{policy}"
    );
    assert!(
        policy.contains(r#""{{oidc_provider_url}}:aud":"sts.amazonaws.com""#),
        "{policy}"
    );
    assert_eq!(
        map(prop(role, "assume_role_policy_vars"))["oidc_provider_arn"],
        Value::reference(&oidc, "arn")
    );
    assert_eq!(
        prop(role, "name"),
        &Value::from("commerce-prod-use1-wi-orders-api")
    );

    let ebs = get(&resources, kinds::EKS_ADDON, "ebs-csi");
    assert_eq!(prop(ebs, "addon_name"), &Value::from("aws-ebs-csi-driver"));
    let ebs_role = Address::new("prod-use1", kinds::IAM_ROLE, "addon-ebs-csi");
    assert_eq!(
        prop(ebs, "service_account_role_arn"),
        &Value::reference(&ebs_role, "arn")
    );
    assert!(!ebs.properties.contains_key("pod_identity_associations"));
    assert!(
        of_kind(&resources, kinds::EKS_ADDON)
            .iter()
            .all(|a| a.address.name != "pod-identity-agent")
    );
}

#[test]
fn pod_identity_mode_adds_the_agent_and_associations() {
    let resources = run(&dev_public());
    let agent = get(&resources, kinds::EKS_ADDON, "pod-identity-agent");
    assert_eq!(
        prop(agent, "addon_name"),
        &Value::from("eks-pod-identity-agent")
    );
    let association = get(
        &resources,
        kinds::EKS_POD_IDENTITY_ASSOCIATION,
        "orders-api",
    );
    assert_eq!(prop(association, "namespace"), &Value::from("orders"));
    assert_eq!(
        prop(association, "service_account"),
        &Value::from("orders-api")
    );
    assert!(association.depends_on.contains(&agent.address));
    let role = get(&resources, kinds::IAM_ROLE, "wi-orders-api");
    assert!(
        prop(role, "assume_role_policy")
            .as_str()
            .unwrap()
            .contains("pods.eks.amazonaws.com")
    );
    assert_eq!(
        prop(role, "assume_role_policy_vars"),
        &Value::Map(BTreeMap::new())
    );

    let ebs = get(&resources, kinds::EKS_ADDON, "ebs-csi");
    let associations = list(prop(ebs, "pod_identity_associations"));
    assert_eq!(
        map(&associations[0])["service_account"],
        Value::from("ebs-csi-controller-sa")
    );
    assert!(ebs.depends_on.contains(&agent.address));
    assert!(!ebs.properties.contains_key("service_account_role_arn"));
    // Nodes boot with the agent.
    assert!(
        get(&resources, kinds::EKS_NODEGROUP, "default")
            .depends_on
            .contains(&agent.address)
    );
}

#[test]
fn s3_is_a_gateway_endpoint_and_others_are_interface_endpoints() {
    let resources = run(&prod_private());
    let s3 = get(&resources, kinds::VPC_ENDPOINT, "s3");
    assert_eq!(prop(s3, "vpc_endpoint_type"), &Value::from("Gateway"));
    assert_eq!(
        prop(s3, "service_name"),
        &Value::from("com.amazonaws.us-east-1.s3")
    );
    assert_eq!(list(prop(s3, "route_table_ids")).len(), 3);
    let ecr = get(&resources, kinds::VPC_ENDPOINT, "ecr.api");
    assert_eq!(prop(ecr, "vpc_endpoint_type"), &Value::from("Interface"));
    assert_eq!(prop(ecr, "private_dns_enabled"), &Value::from(true));
    assert_eq!(list(prop(ecr, "subnet_ids")).len(), 3);
    let sg = Address::new("prod-use1", kinds::SECURITY_GROUP, "endpoints");
    assert_eq!(
        prop(ecr, "security_group_ids"),
        &Value::List(vec![Value::reference(&sg, "id")])
    );
    assert!(
        of_kind(&run(&dev_public()), kinds::SECURITY_GROUP)
            .iter()
            .all(|s| s.address.name != "endpoints")
    );
}

#[test]
fn access_entries_carry_their_policies_and_scopes() {
    let resources = run(&prod_private());
    let admins = get(&resources, kinds::EKS_ACCESS_ENTRY, "role-platform-admins");
    let policy = map(&list(prop(admins, "access_policies"))[0]);
    assert_eq!(
        policy["policy_arn"],
        Value::from("arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy")
    );
    assert_eq!(map(&policy["access_scope"])["type"], Value::from("cluster"));
    let dev = get(&resources, kinds::EKS_ACCESS_ENTRY, "role-teams-orders-dev");
    let scope = map(&map(&list(prop(dev, "access_policies"))[0])["access_scope"]).clone();
    assert_eq!(scope["namespaces"], Value::from(vec!["orders"]));
}

#[test]
fn role_names_fit_iam_limits_for_long_names() {
    let mut fleet = fleet();
    fleet.name = "a-fleet-name-long-enough-to-push-role-names-over".to_owned();
    let resources = expand(&fleet, &prod_private()).unwrap();
    for role in of_kind(&resources, kinds::IAM_ROLE) {
        let name = prop(role, "name").as_str().unwrap();
        assert!(name.len() <= names::IAM_ROLE_NAME_MAX, "{name}");
    }
}

#[test]
fn bad_input_is_refused_with_a_stable_code() {
    let mut azure = dev_public();
    azure.provider = Cloud::Azure;
    assert!(matches!(
        expand(&fleet(), &azure),
        Err(ExpandError::WrongProvider { .. })
    ));

    let mut unknown = dev_public();
    unknown.addons.push(Addon {
        name: "istio".to_owned(),
        version: None,
    });
    let err = AwsExpander::default()
        .expand(&fleet(), &unknown)
        .unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.class),
        ("UnknownAddon", ErrorClass::Fatal)
    );
    assert!(err.message.contains("ebs-csi"), "{}", err.message);

    let mut twice = dev_public();
    twice.addons.push(Addon {
        name: "aws-ebs-csi-driver".to_owned(),
        version: Some("v1.40.0-eksbuild.1".to_owned()),
    });
    assert!(matches!(
        expand(&fleet(), &twice),
        Err(ExpandError::DuplicateAddress(_))
    ));

    let mut bad_endpoint = prod_private();
    bad_endpoint
        .private_endpoints
        .push("com.amazonaws.us-east-1.s3".to_owned());
    assert!(matches!(
        expand(&fleet(), &bad_endpoint),
        Err(ExpandError::InvalidEndpointService(_))
    ));

    let mut bad_principal = prod_private();
    if let Some(aws) = bad_principal.aws.as_mut() {
        aws.access_entries[0].principal_arn = "platform-admins".to_owned();
    }
    assert!(matches!(
        expand(&fleet(), &bad_principal),
        Err(ExpandError::InvalidPrincipal(_))
    ));

    let mut no_subnets = dev_public();
    no_subnets.network.subnets.retain(|s| s.name != "public-b");
    assert!(matches!(
        expand(&fleet(), &no_subnets),
        Err(ExpandError::MissingSubnet { role: "public", .. })
    ));

    let mut bad_taint = dev_public();
    bad_taint.node_pools[0].taints.push("gpu".to_owned());
    assert!(matches!(
        expand(&fleet(), &bad_taint),
        Err(ExpandError::InvalidTaint { .. })
    ));
}

#[test]
fn pinned_addon_versions_are_sent_and_missing_ones_left_to_eks() {
    let mut cluster = dev_public();
    cluster.addons[0].version = Some("v1.13.2-eksbuild.7".to_owned());
    let resources = run(&cluster);
    assert_eq!(
        prop(
            get(&resources, kinds::EKS_ADDON, "coredns"),
            "addon_version"
        ),
        &Value::from("v1.13.2-eksbuild.7")
    );
    assert_eq!(
        prop(
            get(&resources, kinds::EKS_ADDON, "kube-proxy"),
            "addon_version"
        ),
        &Value::Null
    );
}

#[test]
fn name_tags_are_readable_and_name_single_objects_by_kind() {
    let resources = run(&prod_private());
    let name = |kind: &str, n: &str| map(prop(get(&resources, kind, n), "tags"))["Name"].clone();
    assert_eq!(name(kinds::VPC, "main"), Value::from("prod-use1-vpc"));
    assert_eq!(
        name(kinds::INTERNET_GATEWAY, "main"),
        Value::from("prod-use1-internet-gateway")
    );
    assert_eq!(
        name(kinds::SUBNET, "private-a"),
        Value::from("prod-use1-private-a")
    );
    assert_eq!(
        name(kinds::IAM_ROLE, "nodes"),
        Value::from("commerce-prod-use1-nodes")
    );
}

#[test]
fn node_pool_os_selects_the_ami_family_and_unmappable_ones_fail() {
    let mut cluster = prod_private();
    cluster.node_pools[0].os = Some(slipway_blueprints::NodeOs::Bottlerocket);
    let name = cluster.node_pools[0].name.clone();
    let resources = run(&cluster);
    let ng = get(&resources, kinds::EKS_NODEGROUP, &name);
    assert_eq!(prop(ng, "ami_type"), &Value::from("BOTTLEROCKET_x86_64"));

    cluster.node_pools[0].os = Some(slipway_blueprints::NodeOs::Al2);
    cluster.node_pools[0].instance_type = "g5g.xlarge".to_owned();
    let err = expand(&fleet(), &cluster).expect_err("no AL2 ARM GPU AMI");
    assert!(matches!(err, ExpandError::UnsupportedImage { .. }), "{err}");
}
