//! Full expansions: snapshots, and the invariants every expansion must hold.

use std::collections::{BTreeMap, BTreeSet};

use slipway_azure::{AzureExpander, ExpandError};
use slipway_blueprints::{Addon, Cloud, Cluster, NodeOs, PoolRole, RoleAssignment};
use slipway_provider::{Expander, Resource, TAG_ADDRESS, TAG_CLUSTER, TAG_FLEET, Value};

use crate::fixtures::{self, SUBSCRIPTION};

fn expand(cluster: &Cluster) -> Vec<Resource> {
    AzureExpander::new()
        .expand(&fixtures::fleet(), cluster)
        .expect("fixture expands")
}

fn expand_err(cluster: &Cluster) -> ExpandError {
    AzureExpander::new()
        .expand_cluster(&fixtures::fleet(), cluster)
        .expect_err("expansion must fail")
}

/// The value at a dotted path inside a resource's properties.
fn at<'a>(r: &'a Resource, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut v = r.properties.get(parts.next()?)?;
    for p in parts {
        match v {
            Value::Map(m) => v = m.get(p)?,
            _ => return None,
        }
    }
    Some(v)
}

fn str_at<'a>(r: &'a Resource, path: &str) -> &'a str {
    at(r, path)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{}: no string at {path}", r.address))
}

fn find<'a>(rs: &'a [Resource], address: &str) -> &'a Resource {
    rs.iter()
        .find(|r| r.address.to_string() == address)
        .unwrap_or_else(|| panic!("no {address}"))
}

fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

const TAGGED_AT_TOP: [&str; 7] = [
    "azure.resource_group",
    "azure.virtual_network",
    "azure.user_assigned_identity",
    "azure.managed_cluster",
    "azure.private_endpoint",
    "azure.private_dns_zone",
    "azure.private_dns_zone_link",
];

fn check_invariants(cluster: &Cluster, rs: &[Resource]) {
    let expander = AzureExpander::new();
    let addresses: BTreeSet<_> = rs.iter().map(|r| r.address.clone()).collect();
    assert_eq!(addresses.len(), rs.len(), "duplicate addresses");
    let kind_of: BTreeMap<_, _> = rs
        .iter()
        .map(|r| (r.address.clone(), r.address.kind.clone()))
        .collect();
    let rg = &cluster.azure.as_ref().unwrap().resource_group;
    let rg_prefix = format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{rg}");

    for r in rs {
        assert!(
            expander.kind(&r.address.kind).is_some(),
            "{}: undeclared kind",
            r.address
        );
        assert_eq!(r.address.cluster, cluster.name);

        // References and explicit edges stay inside the expansion and name declared outputs.
        for value in r.properties.values() {
            for reference in value.refs() {
                let kind = kind_of
                    .get(&reference.address)
                    .unwrap_or_else(|| panic!("{}: dangling {reference}", r.address));
                let outputs = &expander.kind(kind).unwrap().outputs;
                assert!(
                    outputs.contains(&reference.output),
                    "{}: {reference} is not an output",
                    r.address
                );
            }
        }
        for dep in &r.depends_on {
            assert!(
                addresses.contains(dep),
                "{}: depends on missing {dep}",
                r.address
            );
        }

        // The provider's three properties.
        assert!(
            matches!(r.properties.get("body"), Some(Value::Map(_))),
            "{}: no body",
            r.address
        );
        assert!(!str_at(r, "api_version").is_empty());
        let id = str_at(r, "id");
        if r.address.kind.as_str() == "azure.role_assignment" {
            let (scope, name) = id
                .rsplit_once("/providers/Microsoft.Authorization/roleAssignments/")
                .unwrap();
            assert!(is_guid(name), "{id}");
            let sub = scope
                .strip_prefix("/subscriptions/")
                .unwrap()
                .split('/')
                .next()
                .unwrap();
            assert!(is_guid(sub), "{id}");
            assert_eq!(scope, str_at(r, "scope"));
        } else if r.address.kind.as_str() == "azure.resource_group" {
            assert_eq!(id, rg_prefix);
        } else {
            let rest = id
                .strip_prefix(&format!("{rg_prefix}/providers/"))
                .unwrap_or_else(|| panic!("{id}"));
            let segments: Vec<&str> = rest.split('/').collect();
            // Namespace, then type/name pairs.
            assert!(segments.len() >= 3 && segments.len() % 2 == 1, "{id}");
            assert!(segments.iter().all(|s| !s.is_empty()), "{id}");
        }

        // Ownership tags on everything ARM can tag.
        let tags = if TAGGED_AT_TOP.contains(&r.address.kind.as_str()) {
            at(r, "body.tags")
        } else if r.address.kind.as_str() == "azure.agent_pool" {
            at(r, "body.properties.tags")
        } else {
            assert!(
                at(r, "body.tags").is_none(),
                "{}: untaggable kind has tags",
                r.address
            );
            continue;
        };
        let Some(Value::Map(tags)) = tags else {
            panic!("{}: no tags", r.address)
        };
        assert_eq!(tags[TAG_FLEET], Value::from("commerce"));
        assert_eq!(tags[TAG_CLUSTER], Value::from(cluster.name.as_str()));
        assert_eq!(tags[TAG_ADDRESS], Value::from(r.address.to_string()));
        for (k, v) in &cluster.tags {
            assert_eq!(tags[k], Value::from(v.as_str()));
        }
    }

    // The graph (references + explicit edges) has a topological order.
    let mut pending: Vec<&Resource> = rs.iter().collect();
    let mut done = BTreeSet::new();
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|r| {
            let deps = r
                .properties
                .values()
                .flat_map(|v| v.refs())
                .map(|x| &x.address)
                .chain(&r.depends_on);
            let ready = deps.into_iter().all(|d| done.contains(d));
            if ready {
                done.insert(r.address.clone());
            }
            !ready
        });
        assert!(
            pending.len() < before,
            "cycle among {:?}",
            pending
                .iter()
                .map(|r| r.address.to_string())
                .collect::<Vec<_>>()
        );
    }
}

fn snapshot_json(rs: &[Resource]) -> serde_json::Value {
    serde_json::to_value(rs).unwrap()
}

#[test]
fn private_prod_cluster_expands_to_the_full_aks_set() {
    let cluster = fixtures::prod();
    let rs = expand(&cluster);
    check_invariants(&cluster, &rs);
    insta::assert_yaml_snapshot!("prod_weu", snapshot_json(&rs));
}

#[test]
fn public_dev_cluster_expands_to_the_minimal_aks_set() {
    let cluster = fixtures::dev();
    let rs = expand(&cluster);
    check_invariants(&cluster, &rs);
    insta::assert_yaml_snapshot!("dev_weu", snapshot_json(&rs));
}

#[test]
fn kind_schemas_are_stable() {
    insta::assert_yaml_snapshot!(
        "kinds",
        serde_json::to_value(AzureExpander::new().kinds()).unwrap()
    );
}

#[test]
fn expansion_is_deterministic_and_independent_of_other_clusters() {
    let cluster = fixtures::prod();
    let alone = slipway_blueprints::Fleet {
        clusters: vec![cluster.clone()],
        ..fixtures::fleet()
    };
    let a = expand(&cluster);
    assert_eq!(a, expand(&cluster));
    assert_eq!(a, AzureExpander::new().expand(&alone, &cluster).unwrap());
}

#[test]
fn every_replace_on_path_names_a_property_the_expansion_sets() {
    let rs: Vec<Resource> = [fixtures::prod(), fixtures::dev()]
        .iter()
        .flat_map(expand)
        .collect();
    for schema in AzureExpander::new().kinds() {
        for path in &schema.replace_on {
            assert!(
                rs.iter()
                    .filter(|r| r.address.kind == schema.kind)
                    .any(|r| at(r, path).is_some()),
                "{}: `{path}` is never set",
                schema.kind
            );
        }
    }
}

#[test]
fn agent_pools_are_replaced_before_destroy_on_vm_size_and_scale_in_place() {
    let expander = AzureExpander::new();
    let schema = expander
        .kind(&slipway_provider::Kind::new("azure.agent_pool"))
        .unwrap();
    assert!(schema.create_before_destroy);
    assert!(
        schema
            .replace_on
            .contains(&"body.properties.vmSize".to_owned())
    );
    for in_place in [
        "maxCount",
        "minCount",
        "count",
        "nodeLabels",
        "nodeTaints",
        "orchestratorVersion",
        "upgradeSettings",
        "osSKU",
    ] {
        let path = format!("body.properties.{in_place}");
        assert!(
            !schema
                .replace_on
                .iter()
                .any(|p| path.starts_with(p.as_str())),
            "{path} forces replacement"
        );
    }
    // AKS migrates Linux OS SKUs in place, never the OS type or a Windows SKU.
    assert!(
        schema
            .replace_on
            .contains(&"body.properties.osType".to_owned())
    );
    assert!(schema.replace_on.contains(&"windows_sku".to_owned()));
    for kind in expander
        .kinds()
        .iter()
        .filter(|k| k.kind.as_str() != "azure.agent_pool")
    {
        assert!(!kind.create_before_destroy, "{}", kind.kind);
    }
}

#[test]
fn pools_run_ubuntu_by_default_and_windows_pools_carry_their_sku() {
    let rs = expand(&fixtures::prod());
    let general = find(&rs, "prod-weu/azure.agent_pool/general");
    assert_eq!(str_at(general, "body.properties.osType"), "Linux");
    assert_eq!(str_at(general, "body.properties.osSKU"), "Ubuntu");
    assert!(at(general, "windows_sku").is_none());
    let win = find(&rs, "prod-weu/azure.agent_pool/win");
    assert_eq!(str_at(win, "body.properties.osType"), "Windows");
    assert_eq!(str_at(win, "body.properties.osSKU"), "Windows2022");
    assert_eq!(str_at(win, "windows_sku"), "Windows2022");
    let mut c = fixtures::prod();
    c.node_pools[1].os = Some(NodeOs::AzureLinux);
    let rs = expand(&c);
    let general = find(&rs, "prod-weu/azure.agent_pool/general");
    assert_eq!(str_at(general, "body.properties.osSKU"), "AzureLinux");
}

#[test]
fn the_inline_system_pool_is_the_agent_pool_resource_body_plus_its_name() {
    let rs = expand(&fixtures::prod());
    let cluster = find(&rs, "prod-weu/azure.managed_cluster/main");
    let Some(Value::List(profiles)) = at(cluster, "body.properties.agentPoolProfiles") else {
        panic!()
    };
    assert_eq!(profiles.len(), 1);
    let Value::Map(mut inline) = profiles[0].clone() else {
        panic!()
    };
    assert_eq!(inline.remove("name"), Some(Value::from("system")));
    let pool = find(&rs, "prod-weu/azure.agent_pool/system");
    assert_eq!(at(pool, "body.properties"), Some(&Value::Map(inline)));
    assert_eq!(str_at(pool, "body.properties.mode"), "System");
    assert_eq!(
        str_at(
            find(&rs, "prod-weu/azure.agent_pool/general"),
            "body.properties.mode"
        ),
        "User"
    );
}

#[test]
fn workload_identities_trust_the_cluster_issuer_for_their_service_account() {
    let rs = expand(&fixtures::prod());
    let fic = find(
        &rs,
        "prod-weu/azure.federated_identity_credential/wi-payments-worker",
    );
    assert_eq!(
        str_at(fic, "body.properties.subject"),
        "system:serviceaccount:payments:worker"
    );
    assert_eq!(
        at(fic, "body.properties.issuer").unwrap().to_string(),
        "${prod-weu/azure.managed_cluster/main#oidcIssuerUrl}"
    );
    let roles: Vec<&Resource> = rs
        .iter()
        .filter(|r| r.address.name.starts_with("wi-orders-api-"))
        .collect();
    assert_eq!(roles.len(), 2);
    // Display names are left for the provider to resolve; GUIDs become definition ids.
    assert!(
        roles
            .iter()
            .all(|r| at(r, "body.properties.roleDefinitionId").is_none())
    );
    let crypto = rs
        .iter()
        .find(|r| r.address.name.starts_with("wi-payments-worker-"))
        .unwrap();
    assert!(
        str_at(crypto, "body.properties.roleDefinitionId")
            .ends_with("/roleDefinitions/12338af0-0e69-4776-bea7-57ae8d297424")
    );
}

#[test]
fn role_assignment_names_differ_across_fleets_and_assignments() {
    let cluster = fixtures::prod();
    let names = |fleet: &slipway_blueprints::Fleet| -> BTreeSet<String> {
        AzureExpander::new()
            .expand(fleet, &cluster)
            .unwrap()
            .iter()
            .filter(|r| r.address.kind.as_str() == "azure.role_assignment")
            .map(|r| str_at(r, "id").rsplit('/').next().unwrap().to_owned())
            .collect()
    };
    let ours = names(&fixtures::fleet());
    assert_eq!(ours.len(), 4);
    let other = names(&slipway_blueprints::Fleet {
        name: "other".into(),
        ..fixtures::fleet()
    });
    assert!(ours.is_disjoint(&other));
}

#[test]
fn dev_cluster_is_public_free_tier_and_moves_its_service_range_off_the_vnet() {
    let rs = expand(&fixtures::dev());
    let cluster = find(&rs, "dev-weu/azure.managed_cluster/main");
    assert_eq!(
        at(
            cluster,
            "body.properties.apiServerAccessProfile.enablePrivateCluster"
        ),
        Some(&Value::from(false))
    );
    assert_eq!(str_at(cluster, "body.sku.tier"), "Free");
    assert_eq!(
        str_at(cluster, "body.properties.networkProfile.serviceCidr"),
        "10.1.0.0/16"
    );
    assert_eq!(
        str_at(cluster, "body.properties.networkProfile.dnsServiceIP"),
        "10.1.0.10"
    );
    assert!(at(cluster, "body.properties.addonProfiles").is_none());
    assert!(
        !rs.iter()
            .any(|r| r.address.kind.as_str() == "azure.private_endpoint")
    );
}

#[test]
fn bad_input_is_reported_not_expanded() {
    let mut c = fixtures::prod();
    c.addons.push(Addon {
        name: "coredns".into(),
        version: None,
    });
    assert!(matches!(expand_err(&c), ExpandError::UnknownAddon { name, .. } if name == "coredns"));

    let mut c = fixtures::prod();
    c.addons[0].version = Some("1.5".into());
    assert!(matches!(expand_err(&c), ExpandError::PinnedAddon(_)));

    let mut c = fixtures::prod();
    c.private_endpoints.push("s3".into());
    assert!(matches!(
        expand_err(&c),
        ExpandError::UnknownPrivateEndpoint { .. }
    ));

    let mut c = fixtures::prod();
    let settings = c.azure.as_mut().unwrap();
    settings.private_endpoint_targets.remove("keyvault");
    assert_eq!(
        expand_err(&c),
        ExpandError::MissingPrivateEndpointTarget("keyvault".into())
    );

    let mut c = fixtures::prod();
    c.azure.as_mut().unwrap().log_analytics_workspace_id = None;
    assert_eq!(expand_err(&c), ExpandError::MissingLogAnalyticsWorkspace);

    let mut c = fixtures::prod();
    c.node_pools
        .iter_mut()
        .for_each(|p| p.role = PoolRole::User);
    assert!(matches!(expand_err(&c), ExpandError::NoSystemPool(_)));

    let mut c = fixtures::prod();
    c.node_pools[1].name = "general-purpose".into();
    assert!(matches!(
        expand_err(&c),
        ExpandError::InvalidName {
            what: "agent pool name",
            ..
        }
    ));

    let mut c = fixtures::prod();
    c.node_pools[1].os = Some(NodeOs::Bottlerocket);
    assert!(matches!(expand_err(&c), ExpandError::UnsupportedOs { .. }));

    let mut c = fixtures::prod();
    c.node_pools[0].os = Some(NodeOs::Windows2022);
    assert!(matches!(expand_err(&c), ExpandError::WindowsSystemPool(_)));

    let mut c = fixtures::prod();
    c.node_pools[2].name = "windows".into();
    assert!(matches!(
        expand_err(&c),
        ExpandError::InvalidName {
            what: "Windows agent pool name",
            ..
        }
    ));

    let mut c = fixtures::prod();
    c.workload_identities[0]
        .azure_role_assignments
        .push(RoleAssignment {
            role: "Reader".into(),
            scope: "/subscriptions/…".into(),
        });
    assert!(matches!(expand_err(&c), ExpandError::InvalidScope { .. }));

    let mut c = fixtures::prod();
    let twin = c.workload_identities[1].clone();
    c.workload_identities.push(twin);
    assert!(matches!(expand_err(&c), ExpandError::DuplicateAddress(_)));

    let mut c = fixtures::prod();
    c.network.subnets.retain(|s| s.name != "endpoints");
    assert!(matches!(
        expand_err(&c),
        ExpandError::MissingSubnet {
            role: "endpoints",
            ..
        }
    ));

    let mut c = fixtures::prod();
    c.azure.as_mut().unwrap().subscription_id = "not-a-guid".into();
    assert!(matches!(
        expand_err(&c),
        ExpandError::InvalidSubscription(_)
    ));

    let mut c = fixtures::prod();
    c.azure = None;
    assert!(matches!(
        expand_err(&c),
        ExpandError::MissingAzureSettings { .. }
    ));

    let mut c = fixtures::prod();
    c.provider = Cloud::Aws;
    let err = AzureExpander::new()
        .expand(&fixtures::fleet(), &c)
        .unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.class),
        ("WrongProvider", slipway_provider::ErrorClass::Fatal)
    );
}
