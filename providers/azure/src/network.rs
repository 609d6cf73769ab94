//! Networking: resource group, VNet, subnets, Kubernetes pod/service ranges, and private
//! endpoints with their `privatelink.*` DNS zones and VNet links.
//!
//! Subnets come from the blueprint's derived layout (`nodes`, `endpoints`); this module never
//! invents address ranges inside the VNet and never reads anything but the model.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use slipway_blueprints::SubnetRole;
use slipway_provider::{Address, Value};

use crate::expand::{ArmResource, Ctx, ExpandError, check_name, obj, strings};
use crate::kinds::{
    API_NETWORK, API_PRIVATE_DNS, API_RESOURCES, PRIVATE_DNS_ZONE, PRIVATE_DNS_ZONE_LINK,
    PRIVATE_ENDPOINT, RESOURCE_GROUP, SUBNET, VIRTUAL_NETWORK,
};

/// What later stages need from the network.
pub(crate) struct NetworkOut {
    /// The resource group resource.
    pub resource_group: Address,
    /// The VNet resource.
    pub vnet: Address,
    /// The VNet's ARM id.
    pub vnet_id: String,
    /// The VNet's name (also the name of its DNS zone links).
    pub vnet_name: String,
    /// The subnet nodes join.
    pub nodes_subnet: Address,
    /// The subnet private endpoints go in, when derived.
    pub endpoints_subnet: Option<Address>,
    /// Overlay pod range.
    pub pod_cidr: Ipv4Net,
    /// Kubernetes service range.
    pub service_cidr: Ipv4Net,
    /// The cluster DNS service address, inside `service_cidr`.
    pub dns_service_ip: Ipv4Addr,
}

/// Adds the resource group, the VNet and its subnets.
pub(crate) fn expand_network(ctx: &mut Ctx<'_>) -> Result<NetworkOut, ExpandError> {
    let cluster = ctx.cluster;
    let resource_group = ctx.address(RESOURCE_GROUP, "main");
    ctx.push(ArmResource {
        id: ctx.arm.resource_group_id(),
        api_version: API_RESOURCES,
        body: obj([
            ("location", ctx.location()),
            ("tags", ctx.tags(&resource_group)),
        ]),
        extra: Vec::new(),
        depends_on: Vec::new(),
        address: resource_group.clone(),
    });

    let vnet_name = format!("vnet-{}", cluster.name);
    check_name(
        "virtual network name",
        &vnet_name,
        64,
        "at most 64 characters",
        |_, _, _| true,
    )?;
    let vnet = ctx.address(VIRTUAL_NETWORK, "main");
    let vnet_id = ctx.arm.virtual_network(&vnet_name);
    ctx.push(ArmResource {
        id: vnet_id.clone(),
        api_version: API_NETWORK,
        body: obj([
            ("location", ctx.location()),
            ("tags", ctx.tags(&vnet)),
            (
                "properties",
                obj([(
                    "addressSpace",
                    obj([(
                        "addressPrefixes",
                        strings(&[cluster.network.cidr.trunc().to_string()]),
                    )]),
                )]),
            ),
        ]),
        extra: Vec::new(),
        depends_on: vec![resource_group.clone()],
        address: vnet.clone(),
    });

    let mut nodes_subnet = None;
    let mut endpoints_subnet = None;
    for subnet in &cluster.network.subnets {
        let address = ctx.address(SUBNET, &subnet.name);
        let mut properties = vec![("addressPrefix", Value::from(subnet.cidr.to_string()))];
        match subnet.role {
            SubnetRole::Private => {
                nodes_subnet.get_or_insert_with(|| address.clone());
            }
            SubnetRole::Endpoints => {
                // Network policies on private endpoints would need NSG/UDR rules we do not manage.
                properties.push(("privateEndpointNetworkPolicies", Value::from("Disabled")));
                endpoints_subnet.get_or_insert_with(|| address.clone());
            }
            SubnetRole::Public => return Err(ExpandError::PublicSubnet(subnet.name.clone())),
        }
        ctx.push(ArmResource {
            id: ctx.arm.subnet(&vnet_name, &subnet.name),
            api_version: API_NETWORK,
            body: obj([(
                "properties",
                Value::Map(
                    properties
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect(),
                ),
            )]),
            extra: Vec::new(),
            depends_on: vec![vnet.clone()],
            address,
        });
    }
    let nodes_subnet = nodes_subnet.ok_or_else(|| ExpandError::MissingSubnet {
        cluster: cluster.name.clone(),
        role: "private",
    })?;

    let (pod_cidr, service_cidr) = cluster_ranges(cluster.network.cidr)?;
    Ok(NetworkOut {
        resource_group,
        vnet,
        vnet_id,
        vnet_name,
        nodes_subnet,
        endpoints_subnet,
        pod_cidr,
        service_cidr,
        dns_service_ip: dns_service_ip(service_cidr),
    })
}

/// Overlay pod ranges to try, in order: large (a /24 per node), inside RFC 1918, clear of the
/// ranges AKS reserves (169.254/16, 172.30/16, 172.31/16) and of Docker's 172.17/16.
const POD_RANGES: [&str; 4] = [
    "10.244.0.0/14",
    "10.248.0.0/14",
    "172.20.0.0/14",
    "192.168.0.0/16",
];
/// Service ranges to try, in order.
const SERVICE_RANGES: [&str; 4] = [
    "10.0.0.0/16",
    "10.1.0.0/16",
    "172.16.0.0/16",
    "192.168.0.0/16",
];

fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Picks the pod and service ranges: the first candidates that overlap neither the VNet nor
/// each other. They depend on the VNet CIDR only, so that resizing pools or adding clusters to
/// the fleet never moves them (both are fixed once the cluster exists).
pub(crate) fn cluster_ranges(vnet: Ipv4Net) -> Result<(Ipv4Net, Ipv4Net), ExpandError> {
    let free = |candidates: &[&str], taken: &[Ipv4Net]| {
        candidates
            .iter()
            .filter_map(|c| c.parse::<Ipv4Net>().ok())
            .find(|c| taken.iter().all(|t| !overlaps(*c, *t)))
    };
    let pod = free(&POD_RANGES, &[vnet]).ok_or_else(|| ExpandError::NoClusterRange {
        what: "pod",
        cidr: vnet.to_string(),
    })?;
    let service =
        free(&SERVICE_RANGES, &[vnet, pod]).ok_or_else(|| ExpandError::NoClusterRange {
            what: "service",
            cidr: vnet.to_string(),
        })?;
    Ok((pod, service))
}

/// The tenth address of the service range, as AKS's own default (`10.0.0.10`) does.
fn dns_service_ip(service: Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(service.network()) + 10)
}

/// A private-link target: catalogue name, sub-resource (`groupId`) and DNS zone (public cloud).
struct Target {
    name: &'static str,
    group_id: &'static str,
    zone: &'static str,
}

const TARGETS: [Target; 14] = [
    Target {
        name: "acr",
        group_id: "registry",
        zone: "privatelink.azurecr.io",
    },
    Target {
        name: "appconfig",
        group_id: "configurationStores",
        zone: "privatelink.azconfig.io",
    },
    Target {
        name: "cosmos-sql",
        group_id: "Sql",
        zone: "privatelink.documents.azure.com",
    },
    Target {
        name: "eventhub",
        group_id: "namespace",
        zone: "privatelink.servicebus.windows.net",
    },
    Target {
        name: "keyvault",
        group_id: "vault",
        zone: "privatelink.vaultcore.azure.net",
    },
    Target {
        name: "postgres",
        group_id: "postgresqlServer",
        zone: "privatelink.postgres.database.azure.com",
    },
    Target {
        name: "redis",
        group_id: "redisCache",
        zone: "privatelink.redis.cache.windows.net",
    },
    Target {
        name: "servicebus",
        group_id: "namespace",
        zone: "privatelink.servicebus.windows.net",
    },
    Target {
        name: "sql",
        group_id: "sqlServer",
        zone: "privatelink.database.windows.net",
    },
    Target {
        name: "storage-blob",
        group_id: "blob",
        zone: "privatelink.blob.core.windows.net",
    },
    Target {
        name: "storage-dfs",
        group_id: "dfs",
        zone: "privatelink.dfs.core.windows.net",
    },
    Target {
        name: "storage-file",
        group_id: "file",
        zone: "privatelink.file.core.windows.net",
    },
    Target {
        name: "storage-queue",
        group_id: "queue",
        zone: "privatelink.queue.core.windows.net",
    },
    Target {
        name: "storage-table",
        group_id: "table",
        zone: "privatelink.table.core.windows.net",
    },
];

/// The private endpoint names the Azure provider accepts.
pub fn private_endpoint_catalogue() -> impl Iterator<Item = &'static str> {
    TARGETS.iter().map(|t| t.name)
}

fn target(name: &str) -> Result<&'static Target, ExpandError> {
    TARGETS
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| ExpandError::UnknownPrivateEndpoint {
            name: name.to_owned(),
            known: private_endpoint_catalogue().collect::<Vec<_>>().join(", "),
        })
}

/// Adds one `privatelink.*` zone (shared by targets with the same zone) linked to the VNet, and
/// one private endpoint per target with a DNS zone group that registers its address.
pub(crate) fn expand_private_endpoints(
    ctx: &mut Ctx<'_>,
    net: &NetworkOut,
) -> Result<(), ExpandError> {
    let cluster = ctx.cluster;
    let targets = cluster
        .private_endpoints
        .iter()
        .map(|name| target(name))
        .collect::<Result<Vec<_>, _>>()?;
    if targets.is_empty() {
        return Ok(());
    }
    let subnet = net
        .endpoints_subnet
        .clone()
        .ok_or_else(|| ExpandError::MissingSubnet {
            cluster: cluster.name.clone(),
            role: "endpoints",
        })?;

    let mut zones: Vec<&str> = Vec::new();
    for t in &targets {
        if !zones.contains(&t.zone) {
            zones.push(t.zone);
        }
    }
    for zone in &zones {
        let zone_address = ctx.address(PRIVATE_DNS_ZONE, zone);
        ctx.push(ArmResource {
            id: ctx.arm.private_dns_zone(zone),
            api_version: API_PRIVATE_DNS,
            body: obj([
                ("location", Value::from("global")),
                ("tags", ctx.tags(&zone_address)),
            ]),
            extra: Vec::new(),
            depends_on: vec![net.resource_group.clone()],
            address: zone_address.clone(),
        });
        let link = ctx.address(PRIVATE_DNS_ZONE_LINK, zone);
        ctx.push(ArmResource {
            id: ctx.arm.private_dns_zone_link(zone, &net.vnet_name),
            api_version: API_PRIVATE_DNS,
            body: obj([
                ("location", Value::from("global")),
                ("tags", ctx.tags(&link)),
                (
                    "properties",
                    obj([
                        ("registrationEnabled", Value::from(false)),
                        (
                            "virtualNetwork",
                            obj([("id", Value::reference(&net.vnet, "id"))]),
                        ),
                    ]),
                ),
            ]),
            extra: Vec::new(),
            depends_on: vec![zone_address],
            address: link,
        });
    }

    for t in targets {
        let resource = ctx
            .settings
            .private_endpoint_targets
            .get(t.name)
            .ok_or_else(|| ExpandError::MissingPrivateEndpointTarget(t.name.to_owned()))?;
        let name = format!("pe-{}-{}", cluster.name, t.name);
        check_name(
            "private endpoint name",
            &name,
            76,
            "at most 76 characters (80 with `-nic`)",
            |_, _, _| true,
        )?;
        let address = ctx.address(PRIVATE_ENDPOINT, t.name);
        let zone_address = ctx.address(PRIVATE_DNS_ZONE, t.zone);
        let zone_group = obj([
            (
                "id",
                Value::from(ctx.arm.private_dns_zone_group(&name, "default")),
            ),
            (
                "body",
                obj([(
                    "properties",
                    obj([(
                        "privateDnsZoneConfigs",
                        Value::List(vec![obj([
                            ("name", Value::from(t.zone.replace('.', "-"))),
                            (
                                "properties",
                                obj([("privateDnsZoneId", Value::reference(&zone_address, "id"))]),
                            ),
                        ])]),
                    )]),
                )]),
            ),
        ]);
        ctx.push(ArmResource {
            id: ctx.arm.private_endpoint(&name),
            api_version: API_NETWORK,
            body: obj([
                ("location", ctx.location()),
                ("tags", ctx.tags(&address)),
                (
                    "properties",
                    obj([
                        (
                            "customNetworkInterfaceName",
                            Value::from(format!("{name}-nic")),
                        ),
                        (
                            "privateLinkServiceConnections",
                            Value::List(vec![obj([
                                ("name", Value::from(name.as_str())),
                                (
                                    "properties",
                                    obj([
                                        ("groupIds", strings(&[t.group_id])),
                                        ("privateLinkServiceId", Value::from(resource.as_str())),
                                    ]),
                                ),
                            ])]),
                        ),
                        ("subnet", obj([("id", Value::reference(&subnet, "id"))])),
                    ]),
                ),
            ]),
            extra: vec![
                ("target", Value::from(t.name)),
                ("dns_zone_group", zone_group),
            ],
            depends_on: vec![net.resource_group.clone()],
            address,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn pod_and_service_ranges_avoid_the_vnet_and_each_other() {
        let (pod, svc) = cluster_ranges(net("10.30.0.0/16")).unwrap();
        assert_eq!(
            (pod.to_string(), svc.to_string()),
            ("10.244.0.0/14".into(), "10.0.0.0/16".into())
        );
        assert_eq!(dns_service_ip(svc).to_string(), "10.0.0.10");

        let (pod, svc) = cluster_ranges(net("10.0.0.0/16")).unwrap();
        assert_eq!(
            (pod.to_string(), svc.to_string()),
            ("10.244.0.0/14".into(), "10.1.0.0/16".into())
        );

        let (pod, svc) = cluster_ranges(net("10.0.0.0/8")).unwrap();
        assert_eq!(
            (pod.to_string(), svc.to_string()),
            ("172.20.0.0/14".into(), "172.16.0.0/16".into())
        );
    }

    #[test]
    fn a_network_covering_every_candidate_is_refused() {
        let err = cluster_ranges(net("0.0.0.0/0")).unwrap_err();
        assert!(
            matches!(err, ExpandError::NoClusterRange { what: "pod", .. }),
            "{err}"
        );
    }

    #[test]
    fn targets_map_to_their_group_ids_and_zones() {
        let acr = target("acr").unwrap();
        assert_eq!(
            (acr.group_id, acr.zone),
            ("registry", "privatelink.azurecr.io")
        );
        let kv = target("keyvault").unwrap();
        assert_eq!(
            (kv.group_id, kv.zone),
            ("vault", "privatelink.vaultcore.azure.net")
        );
        let err = target("s3").err().unwrap();
        assert!(
            err.to_string().contains("known targets: acr, appconfig"),
            "{err}"
        );
    }
}
