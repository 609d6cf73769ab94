//! The cluster network: VPC, public and private subnet per zone, internet gateway, NAT
//! gateway(s) with their Elastic IPs, route tables, security groups and VPC endpoints.
//!
//! It must never invent subnet ranges: they come from the blueprint model's derived
//! `network.subnets`, so the plan shows exactly the ranges validation checked.

use slipway_blueprints::{Subnet, SubnetRole, Tier};
use slipway_provider::{Address, Value};

use super::{Ctx, ExpandError, SINGLETON, props, refs};
use crate::{kinds, names};

/// Services reached through Gateway endpoints (route table entries); every other service
/// gets an Interface endpoint (ENIs in the private subnets).
const GATEWAY_SERVICES: &[&str] = &["s3", "dynamodb"];

/// What later areas need from the network.
pub(super) struct Net {
    /// Private subnets, in zone order: nodes and control-plane ENIs go here.
    pub private_subnets: Vec<Address>,
    /// Private route tables; node groups wait for them so nodes boot with a NAT route.
    pub private_route_tables: Vec<Address>,
    /// The additional security group of the control-plane ENIs.
    pub cluster_sg: Address,
}

/// One availability zone with its derived subnets.
struct Zone<'a> {
    /// Short key for names: `a` for `us-east-1a`.
    key: String,
    private: &'a Subnet,
    public: &'a Subnet,
}

fn zones<'a>(ctx: &Ctx<'a>) -> Result<Vec<Zone<'a>>, ExpandError> {
    let c = ctx.cluster;
    if c.zones.is_empty() {
        return Err(ExpandError::NoZones {
            cluster: c.name.clone(),
        });
    }
    let find = |zone: &str, role: SubnetRole, label: &'static str| {
        c.network
            .subnets
            .iter()
            .find(|s| s.role == role && s.zone.as_deref() == Some(zone))
            .ok_or_else(|| ExpandError::MissingSubnet {
                cluster: c.name.clone(),
                zone: zone.to_owned(),
                role: label,
            })
    };
    c.zones
        .iter()
        .enumerate()
        .map(|(i, zone)| {
            let private = find(zone, SubnetRole::Private, "private")?;
            let public = find(zone, SubnetRole::Public, "public")?;
            let key = private
                .name
                .strip_prefix("private-")
                .map_or_else(|| (i + 1).to_string(), str::to_owned);
            Ok(Zone {
                key,
                private,
                public,
            })
        })
        .collect()
}

/// Where a security group rule's traffic comes from (ingress) or goes to (egress).
enum Peer {
    Cidr(String),
    Group(Value),
    /// The group itself (the provider substitutes its own id, avoiding a self-reference).
    Itself,
}

/// One security group rule, in the shape of EC2's `SecurityGroupRule`.
fn rule(description: &str, protocol: &str, from_port: i64, to_port: i64, peer: Peer) -> Value {
    let (key, value) = match peer {
        Peer::Cidr(cidr) => ("cidr_ipv4", Value::from(cidr)),
        Peer::Group(group) => ("referenced_group_id", group),
        Peer::Itself => ("self", Value::from(true)),
    };
    Value::Map(props([
        ("description", Value::from(description)),
        ("ip_protocol", Value::from(protocol)),
        ("from_port", Value::from(from_port)),
        ("to_port", Value::from(to_port)),
        (key, value),
    ]))
}

fn all_traffic(description: &str, peer: Peer) -> Value {
    rule(description, "-1", -1, -1, peer)
}

fn security_group(
    ctx: &mut Ctx<'_>,
    vpc: &Address,
    purpose: &str,
    description: &str,
    ingress: Vec<Value>,
    egress: Vec<Value>,
) -> Address {
    let addr = ctx.addr(kinds::SECURITY_GROUP, purpose);
    ctx.push(
        addr.clone(),
        props([
            (
                "group_name",
                Value::from(names::security_group(&ctx.cluster.name, purpose)),
            ),
            ("description", Value::from(description)),
            ("vpc_id", Value::reference(vpc, "id")),
            ("ingress", Value::List(ingress)),
            ("egress", Value::List(egress)),
        ]),
        vec![],
    );
    addr
}

/// Expands the network and returns what the cluster and node groups need from it.
pub(super) fn expand(ctx: &mut Ctx<'_>) -> Result<Net, ExpandError> {
    let zones = zones(ctx)?;
    let cluster_name = ctx.cluster.name.clone();
    let vpc_cidr = ctx.cluster.network.cidr.trunc().to_string();

    let vpc = ctx.addr(kinds::VPC, SINGLETON);
    ctx.push(
        vpc.clone(),
        props([
            ("cidr_block", Value::from(vpc_cidr.as_str())),
            // Both are required for EKS private endpoints and interface-endpoint private DNS.
            ("enable_dns_hostnames", Value::from(true)),
            ("enable_dns_support", Value::from(true)),
        ]),
        vec![],
    );

    let mut public_subnets = Vec::new();
    let mut private_subnets = Vec::new();
    for zone in &zones {
        for (subnet, elb_role) in [
            (zone.public, "kubernetes.io/role/elb"),
            (zone.private, "kubernetes.io/role/internal-elb"),
        ] {
            let addr = ctx.addr(kinds::SUBNET, &subnet.name);
            let mut tags = ctx.tags(&addr, &ctx.name_tag(&addr));
            // Discovery tags of the AWS Load Balancer Controller and the in-tree cloud provider.
            tags.insert(elb_role.to_owned(), Value::from("1"));
            tags.insert(
                format!("kubernetes.io/cluster/{cluster_name}"),
                Value::from("shared"),
            );
            ctx.push_tagged(
                addr.clone(),
                props([
                    ("vpc_id", Value::reference(&vpc, "id")),
                    ("cidr_block", Value::from(subnet.cidr.to_string())),
                    (
                        "availability_zone",
                        Value::from(subnet.zone.clone().unwrap_or_default()),
                    ),
                    // Nothing Slipway launches needs a public IP: NAT gateways carry EIPs and
                    // load balancers get their own.
                    ("map_public_ip_on_launch", Value::from(false)),
                    ("tags", Value::Map(tags)),
                ]),
                vec![],
            );
            if subnet.role == SubnetRole::Public {
                public_subnets.push(addr);
            } else {
                private_subnets.push(addr);
            }
        }
    }

    let igw = ctx.addr(kinds::INTERNET_GATEWAY, SINGLETON);
    ctx.push(
        igw.clone(),
        props([("vpc_id", Value::reference(&vpc, "id"))]),
        vec![],
    );

    // Prod gets a NAT gateway per zone so losing a zone never cuts the others off; other
    // tiers share one, in the first zone, to save its hourly cost.
    let nat_zones: &[Zone<'_>] = if ctx.cluster.tier == Tier::Prod {
        &zones
    } else {
        &zones[..1]
    };
    let mut nats = Vec::new();
    for zone in nat_zones {
        let name = format!("nat-{}", zone.key);
        let eip = ctx.addr(kinds::EIP, &name);
        ctx.push(eip.clone(), props([("domain", Value::from("vpc"))]), vec![]);
        let nat = ctx.addr(kinds::NAT_GATEWAY, &name);
        let public = ctx.addr(kinds::SUBNET, &zone.public.name);
        ctx.push(
            nat.clone(),
            props([
                ("subnet_id", Value::reference(&public, "id")),
                ("allocation_id", Value::reference(&eip, "id")),
                ("connectivity_type", Value::from("public")),
            ]),
            // CreateNatGateway fails while the VPC has no internet gateway attached.
            vec![igw.clone()],
        );
        nats.push(nat);
    }

    let public_rt = ctx.addr(kinds::ROUTE_TABLE, "public");
    ctx.push(
        public_rt,
        props([
            ("vpc_id", Value::reference(&vpc, "id")),
            (
                "routes",
                Value::List(vec![default_route("gateway_id", &igw)]),
            ),
            ("subnet_ids", refs(&public_subnets, "id")),
        ]),
        vec![],
    );
    let mut private_route_tables = Vec::new();
    let per_zone = nats.len() == zones.len() && zones.len() > 1;
    let groups: Vec<(String, &Address, Vec<Address>)> = if per_zone {
        zones
            .iter()
            .zip(&nats)
            .zip(&private_subnets)
            .map(|((zone, nat), subnet)| {
                (format!("private-{}", zone.key), nat, vec![subnet.clone()])
            })
            .collect()
    } else {
        nats.iter()
            .take(1)
            .map(|nat| ("private".to_owned(), nat, private_subnets.clone()))
            .collect()
    };
    for (name, nat, subnets) in groups {
        let rt = ctx.addr(kinds::ROUTE_TABLE, &name);
        ctx.push(
            rt.clone(),
            props([
                ("vpc_id", Value::reference(&vpc, "id")),
                (
                    "routes",
                    Value::List(vec![default_route("nat_gateway_id", nat)]),
                ),
                ("subnet_ids", refs(&subnets, "id")),
            ]),
            vec![],
        );
        private_route_tables.push(rt);
    }

    // The control-plane ENIs serve the API to anything in the VPC and reach kubelets and
    // webhooks on the nodes. Sources are CIDRs, not the node group, so the two groups do not
    // reference each other (inline rules would make that a cycle).
    let cluster_sg = security_group(
        ctx,
        &vpc,
        "cluster",
        &format!("EKS control plane of {cluster_name}"),
        vec![rule(
            "Kubernetes API from the VPC",
            "tcp",
            443,
            443,
            Peer::Cidr(vpc_cidr.clone()),
        )],
        vec![all_traffic(
            "Control plane to nodes and webhooks",
            Peer::Cidr(vpc_cidr.clone()),
        )],
    );
    let from_cluster = |description: &str, from: i64, to: i64| {
        rule(
            description,
            "tcp",
            from,
            to,
            Peer::Group(Value::reference(&cluster_sg, "id")),
        )
    };
    let node_ingress = vec![
        all_traffic("Node to node and pod to pod", Peer::Itself),
        from_cluster("Control plane to webhooks on 443", 443, 443),
        from_cluster("Control plane to kubelet", 10250, 10250),
        from_cluster(
            "Control plane to webhooks and extension API servers",
            1025,
            65535,
        ),
    ];
    security_group(
        ctx,
        &vpc,
        "nodes",
        &format!("EKS nodes of {cluster_name}"),
        node_ingress,
        vec![all_traffic(
            "Nodes to anywhere (NAT, endpoints, AWS APIs)",
            Peer::Cidr("0.0.0.0/0".to_owned()),
        )],
    );

    endpoints(
        ctx,
        &vpc,
        &vpc_cidr,
        &private_subnets,
        &private_route_tables,
    )?;
    Ok(Net {
        private_subnets,
        private_route_tables,
        cluster_sg,
    })
}

fn default_route(target: &str, to: &Address) -> Value {
    Value::Map(props([
        ("destination_cidr_block", Value::from("0.0.0.0/0")),
        (target, Value::reference(to, "id")),
    ]))
}

/// A service suffix such as `ecr.api`; a full `com.amazonaws.<region>.…` name is refused
/// because the region is added here.
fn valid_service(service: &str) -> bool {
    !service.is_empty()
        && !service.starts_with("com.amazonaws.")
        && service.split(['.', '-']).all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// VPC endpoints: Gateway endpoints on the private route tables, Interface endpoints in the
/// private subnets behind their own security group, with private DNS so SDKs on the nodes
/// resolve the regional service names to them.
fn endpoints(
    ctx: &mut Ctx<'_>,
    vpc: &Address,
    vpc_cidr: &str,
    private_subnets: &[Address],
    private_route_tables: &[Address],
) -> Result<(), ExpandError> {
    let services = ctx.cluster.private_endpoints.clone();
    if let Some(bad) = services.iter().find(|s| !valid_service(s)) {
        return Err(ExpandError::InvalidEndpointService(bad.clone()));
    }
    let needs_sg = services
        .iter()
        .any(|s| !GATEWAY_SERVICES.contains(&s.as_str()));
    let description = format!("VPC interface endpoints of {}", ctx.cluster.name);
    let sg = needs_sg.then(|| {
        security_group(
            ctx,
            vpc,
            "endpoints",
            &description,
            vec![rule(
                "HTTPS from the VPC",
                "tcp",
                443,
                443,
                Peer::Cidr(vpc_cidr.to_owned()),
            )],
            vec![],
        )
    });
    for service in &services {
        let addr = ctx.addr(kinds::VPC_ENDPOINT, service);
        let service_name = Value::from(names::endpoint_service(&ctx.cluster.region, service));
        let properties = match &sg {
            Some(sg) if !GATEWAY_SERVICES.contains(&service.as_str()) => props([
                ("vpc_id", Value::reference(vpc, "id")),
                ("service_name", service_name),
                ("vpc_endpoint_type", Value::from("Interface")),
                ("subnet_ids", refs(private_subnets, "id")),
                (
                    "security_group_ids",
                    Value::List(vec![Value::reference(sg, "id")]),
                ),
                ("private_dns_enabled", Value::from(true)),
            ]),
            _ => props([
                ("vpc_id", Value::reference(vpc, "id")),
                ("service_name", service_name),
                ("vpc_endpoint_type", Value::from("Gateway")),
                ("route_table_ids", refs(private_route_tables, "id")),
            ]),
        };
        ctx.push(addr, properties, vec![]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_services_are_dotted_lowercase_names() {
        assert!(valid_service("s3"));
        assert!(valid_service("ecr.api"));
        assert!(valid_service("ecr.dkr"));
        assert!(valid_service("elasticloadbalancing"));
        assert!(valid_service("execute-api"));
        assert!(!valid_service(""));
        assert!(!valid_service("ecr..api"));
        assert!(!valid_service("com.amazonaws.us-east-1.s3/"));
        assert!(!valid_service("S3"));
        assert!(!valid_service("com.amazonaws.us-east-1.s3"));
    }
}
