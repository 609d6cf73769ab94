//! EC2 (ec2 protocol): VPCs, subnets, internet gateways, Elastic IPs, NAT gateways, route
//! tables, security groups with their rules, VPC endpoints and tags, with EC2's filters,
//! pagination, ids, error codes and dependency rules.
//!
//! Lists serialise as `<item>`; errors as `<Response><Errors>…`. It must never let an
//! object be deleted while something that AWS counts as a dependency still uses it.

use std::collections::BTreeMap;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::admin::Tagged;
use crate::faults::FailureTarget;
use crate::lifecycle::Op;
use crate::oplog::CLUSTER_TAG;
use crate::state::Ctx;
use crate::util::{glob, iso8601};
use crate::wire::{ApiError, ApiResult, Params, Xml};

/// Tags of one object, by key.
pub(crate) type Tags = BTreeMap<String, String>;

/// A state change that completes at a wall-clock time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Pending {
    /// When (ms since the epoch).
    pub at: u64,
    /// The state then (`gone` removes the object).
    pub to: String,
}

/// The EC2 objects of one region.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Ec2Region {
    vpcs: BTreeMap<String, Vpc>,
    subnets: BTreeMap<String, Subnet>,
    igws: BTreeMap<String, Igw>,
    addresses: BTreeMap<String, Eip>,
    nats: BTreeMap<String, Nat>,
    route_tables: BTreeMap<String, RouteTable>,
    /// Security groups; pub for EKS, which creates the cluster security group.
    pub security_groups: BTreeMap<String, SecurityGroup>,
    endpoints: BTreeMap<String, Endpoint>,
    /// Client tokens of idempotent creates, to the id they created.
    tokens: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Vpc {
    id: String,
    cidr: String,
    association_id: String,
    dhcp_options_id: String,
    tenancy: String,
    dns_support: bool,
    dns_hostnames: bool,
    main_route_table: String,
    default_security_group: String,
    tags: Tags,
}

#[derive(Debug, Serialize, Deserialize)]
struct Subnet {
    id: String,
    vpc_id: String,
    cidr: String,
    az: String,
    map_public_ip: bool,
    tags: Tags,
}

#[derive(Debug, Serialize, Deserialize)]
struct Igw {
    id: String,
    vpc_id: Option<String>,
    tags: Tags,
}

#[derive(Debug, Serialize, Deserialize)]
struct Eip {
    id: String,
    public_ip: String,
    tags: Tags,
}

#[derive(Debug, Serialize, Deserialize)]
struct Nat {
    id: String,
    subnet_id: String,
    vpc_id: String,
    allocation_id: Option<String>,
    connectivity: String,
    state: String,
    pending: Option<Pending>,
    failure: Option<(String, String)>,
    private_ip: String,
    eni_id: String,
    association_id: String,
    created: u64,
    deleted: Option<u64>,
    /// When a `deleted` gateway stops being listed.
    gone_at: Option<u64>,
    client_token: Option<String>,
    tags: Tags,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Route {
    destination: String,
    gateway_id: Option<String>,
    nat_gateway_id: Option<String>,
    origin: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Association {
    id: String,
    subnet_id: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct RouteTable {
    id: String,
    vpc_id: String,
    main_association: Option<String>,
    routes: Vec<Route>,
    associations: Vec<Association>,
    tags: Tags,
}

/// A security group.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SecurityGroup {
    /// `sg-…`.
    pub id: String,
    /// Its VPC.
    pub vpc_id: String,
    /// Name, unique per VPC.
    pub name: String,
    description: String,
    rules: Vec<Rule>,
    /// Tags.
    pub tags: Tags,
    /// Set when EKS created it for this cluster; it goes with the cluster.
    pub eks_cluster: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Rule {
    id: String,
    egress: bool,
    protocol: String,
    from: i64,
    to: i64,
    cidr_ipv4: Option<String>,
    cidr_ipv6: Option<String>,
    group: Option<String>,
    prefix_list: Option<String>,
    description: Option<String>,
}

impl Rule {
    fn same_permission(&self, other: &Rule) -> bool {
        self.egress == other.egress
            && self.protocol == other.protocol
            && self.from == other.from
            && self.to == other.to
            && self.cidr_ipv4 == other.cidr_ipv4
            && self.cidr_ipv6 == other.cidr_ipv6
            && self.group == other.group
            && self.prefix_list == other.prefix_list
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Endpoint {
    id: String,
    vpc_id: String,
    service: String,
    kind: String,
    state: String,
    pending: Option<Pending>,
    route_tables: Vec<String>,
    subnets: Vec<String>,
    groups: Vec<String>,
    private_dns: bool,
    policy: String,
    enis: Vec<String>,
    created: u64,
    client_token: Option<String>,
    tags: Tags,
}

const DEFAULT_POLICY: &str = r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;

fn bad(code: &str, message: impl Into<String>) -> ApiError {
    ApiError::bad(code, message)
}

fn invalid_value(param: &str, value: &str) -> ApiError {
    bad(
        "InvalidParameterValue",
        format!("Value ({value}) for parameter {param} is invalid."),
    )
}

fn missing(param: &str) -> ApiError {
    bad(
        "MissingParameter",
        format!("The request must contain the parameter {param}"),
    )
}

fn dependency(kind: &str, id: &str) -> ApiError {
    bad(
        "DependencyViolation",
        format!("The {kind} '{id}' has dependencies and cannot be deleted."),
    )
}

/// The `.NotFound` error of an id, by its prefix.
fn not_found(id: &str) -> ApiError {
    let (code, kind) = match id.split('-').next().unwrap_or("") {
        "vpc" => ("InvalidVpcID.NotFound", "vpc ID"),
        "subnet" => ("InvalidSubnetID.NotFound", "subnet ID"),
        "igw" => ("InvalidInternetGatewayID.NotFound", "internetGateway ID"),
        "eipalloc" => ("InvalidAllocationID.NotFound", "allocation ID"),
        "nat" => ("NatGatewayNotFound", "NAT gateway ID"),
        "rtb" => ("InvalidRouteTableID.NotFound", "routeTable ID"),
        "rtbassoc" => ("InvalidAssociationID.NotFound", "association ID"),
        "sg" => ("InvalidGroup.NotFound", "security group ID"),
        "sgr" => (
            "InvalidSecurityGroupRuleId.NotFound",
            "security group rule ID",
        ),
        "vpce" => ("InvalidVpcEndpointId.NotFound", "VpcEndpoint ID"),
        _ => ("InvalidID", "ID"),
    };
    bad(code, format!("The {kind} '{id}' does not exist"))
}

/// The `.Malformed` check of an id.
fn well_formed(id: &str, prefix: &str) -> ApiResult<()> {
    let ok = id
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('-'))
        .is_some_and(|hex| {
            (8..=17).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit())
        });
    if ok {
        Ok(())
    } else {
        let code = match prefix {
            "vpc" => "InvalidVpcID.Malformed",
            "subnet" => "InvalidSubnetID.Malformed",
            "igw" => "InvalidInternetGatewayID.Malformed",
            "eipalloc" => "InvalidAllocationID.Malformed",
            "rtb" => "InvalidRouteTableID.Malformed",
            "sg" => "InvalidGroupId.Malformed",
            "vpce" => "InvalidVpcEndpointId.Malformed",
            _ => "InvalidParameterValue",
        };
        Err(bad(code, format!("Invalid id: \"{id}\"")))
    }
}

fn dry_run(p: &Params) -> ApiResult<()> {
    if p.get("DryRun") == Some("true") {
        return Err(ApiError::new(
            412,
            "DryRunOperation",
            "Request would have succeeded, but DryRun flag is set.",
        ));
    }
    Ok(())
}

/// A canonical IPv4 CIDR (network address, no host bits).
fn cidr(param: &str, value: &str) -> ApiResult<Ipv4Net> {
    let net: Ipv4Net = value.parse().map_err(|_| {
        bad(
            "InvalidParameterValue",
            format!(
                "Value ({value}) for parameter {param} is invalid. This is not a valid CIDR block."
            ),
        )
    })?;
    if net.trunc() != net {
        return Err(bad(
            "InvalidParameterValue",
            format!(
                "Value ({value}) for parameter {param} is invalid. This is not a valid CIDR block."
            ),
        ));
    }
    Ok(net)
}

fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Validates one tag as EC2 does.
fn check_tag(key: &str, value: &str) -> ApiResult<()> {
    if key.is_empty() || key.chars().count() > 128 {
        return Err(invalid_value("Tag.Key", key));
    }
    if value.chars().count() > 256 {
        return Err(invalid_value("Tag.Value", value));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(bad(
            "InvalidParameterValue",
            format!("Tag keys starting with 'aws:' are reserved for internal use: {key}"),
        ));
    }
    Ok(())
}

/// Tags from `TagSpecification.N` for a resource of `resource_type`.
fn tag_specs(p: &Params, resource_type: &str) -> ApiResult<Tags> {
    let mut tags = Tags::new();
    for spec in p.structs("TagSpecification") {
        let rt = spec.get("ResourceType").unwrap_or("");
        if rt != resource_type {
            return Err(bad(
                "InvalidParameterValue",
                format!("'{rt}' is not a valid taggable resource type for this operation."),
            ));
        }
        for t in spec.structs("Tag") {
            let key = t.get("Key").unwrap_or("");
            let value = t.get("Value").unwrap_or("");
            check_tag(key, value)?;
            tags.insert(key.to_owned(), value.to_owned());
        }
    }
    if tags.len() > 50 {
        return Err(bad(
            "TagLimitExceeded",
            "The maximum number of tags (50) was exceeded",
        ));
    }
    Ok(tags)
}

fn tag_set(x: &mut Xml, tags: &Tags) {
    x.list("tagSet", "item", tags, |x, (k, v)| {
        x.leaf("key", k).leaf("value", v);
    });
}

fn ok_return() -> Xml {
    let mut x = Xml::new();
    x.leaf("return", "true");
    x
}

/// Parsed `Filter.N` with the names an operation supports.
struct Filters(Vec<(String, Vec<String>)>);

impl Filters {
    fn parse(p: &Params, known: &[&str]) -> ApiResult<Self> {
        let mut out = Vec::new();
        for f in p.structs("Filter") {
            let name = f.get("Name").unwrap_or("").to_owned();
            let tag_filter = name.starts_with("tag:") || name == "tag-key" || name == "tag-value";
            if !tag_filter && !known.contains(&name.as_str()) {
                return Err(bad(
                    "InvalidParameterValue",
                    format!("The filter '{name}' is invalid"),
                ));
            }
            out.push((name, f.list("Value")));
        }
        Ok(Self(out))
    }

    /// Whether an object passes every filter; `field` gives the values of a named field.
    fn matches(&self, tags: &Tags, field: impl Fn(&str) -> Vec<String>) -> bool {
        self.0.iter().all(|(name, values)| {
            let candidates: Vec<String> = if let Some(key) = name.strip_prefix("tag:") {
                tags.get(key).cloned().into_iter().collect()
            } else if name == "tag-key" {
                tags.keys().cloned().collect()
            } else if name == "tag-value" {
                tags.values().cloned().collect()
            } else {
                field(name)
            };
            values.iter().any(|v| candidates.iter().any(|c| glob(v, c)))
        })
    }
}

/// Applies `MaxResults`/`NextToken` to items sorted by id.
fn paginate<T>(
    items: Vec<(String, T)>,
    p: &Params,
    with_ids: bool,
) -> ApiResult<(Vec<T>, Option<String>)> {
    let max = p.int("MaxResults", invalid_value)?;
    if let Some(max) = max {
        if with_ids {
            return Err(bad(
                "InvalidParameterCombination",
                "The parameter ids cannot be used with the parameter maxResults",
            ));
        }
        if !(5..=1000).contains(&max) {
            return Err(bad(
                "InvalidParameterValue",
                format!(
                    "Value ( {max} ) for parameter maxResults is invalid. Parameter must be between 5 and 1000."
                ),
            ));
        }
    }
    let start = match p.get("NextToken") {
        Some(token) => items
            .iter()
            .position(|(id, _)| id == token)
            .ok_or_else(|| {
                bad(
                    "InvalidPaginationToken",
                    format!("Invalid pagination token: {token}"),
                )
            })?,
        None => 0,
    };
    let max = max
        .and_then(|m| usize::try_from(m).ok())
        .unwrap_or(usize::MAX);
    let mut rest: Vec<(String, T)> = items.into_iter().skip(start).collect();
    let next = (rest.len() > max).then(|| rest[max].0.clone());
    rest.truncate(max);
    Ok((rest.into_iter().map(|(_, t)| t).collect(), next))
}

/// Objects by explicit id (each must exist), else all.
fn select<'a, T>(
    map: &'a BTreeMap<String, T>,
    ids: &[String],
    prefix: &str,
) -> ApiResult<Vec<(String, &'a T)>> {
    if ids.is_empty() {
        return Ok(map.iter().map(|(k, v)| (k.clone(), v)).collect());
    }
    let mut out = Vec::new();
    for id in ids {
        well_formed(id, prefix)?;
        let v = map.get(id).ok_or_else(|| not_found(id))?;
        out.push((id.clone(), v));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.dedup_by(|a, b| a.0 == b.0);
    Ok(out)
}

fn zones(region: &str) -> Vec<String> {
    let letters = if region == "us-east-1" {
        "abcdef"
    } else {
        "abc"
    };
    letters.chars().map(|c| format!("{region}{c}")).collect()
}

fn zone_id(region: &str, az: &str) -> String {
    let abbr: String = region
        .split('-')
        .map(|p| {
            if p.chars().all(|c| c.is_ascii_digit()) {
                p.to_owned()
            } else {
                p.chars().take(if p.len() <= 2 { 2 } else { 1 }).collect()
            }
        })
        .collect();
    let n = az
        .chars()
        .last()
        .map_or(1, |c| u32::from(c) - u32::from('a') + 1);
    format!("{abbr}-az{n}")
}

/// Handles one EC2 action.
pub(crate) fn handle(ctx: &mut Ctx<'_>, op: &str, p: &Params) -> ApiResult<Xml> {
    dry_run(p)?;
    match op {
        "CreateVpc" => create_vpc(ctx, p),
        "DescribeVpcs" => describe_vpcs(ctx, p),
        "DeleteVpc" => delete_vpc(ctx, p),
        "ModifyVpcAttribute" => modify_vpc_attribute(ctx, p),
        "DescribeVpcAttribute" => describe_vpc_attribute(ctx, p),
        "CreateSubnet" => create_subnet(ctx, p),
        "DescribeSubnets" => describe_subnets(ctx, p),
        "DeleteSubnet" => delete_subnet(ctx, p),
        "ModifySubnetAttribute" => modify_subnet_attribute(ctx, p),
        "CreateInternetGateway" => create_igw(ctx, p),
        "AttachInternetGateway" => attach_igw(ctx, p),
        "DetachInternetGateway" => detach_igw(ctx, p),
        "DeleteInternetGateway" => delete_igw(ctx, p),
        "DescribeInternetGateways" => describe_igws(ctx, p),
        "AllocateAddress" => allocate_address(ctx, p),
        "ReleaseAddress" => release_address(ctx, p),
        "DescribeAddresses" => describe_addresses(ctx, p),
        "CreateNatGateway" => create_nat(ctx, p),
        "DescribeNatGateways" => describe_nats(ctx, p),
        "DeleteNatGateway" => delete_nat(ctx, p),
        "CreateRouteTable" => create_route_table(ctx, p),
        "CreateRoute" | "ReplaceRoute" => put_route(ctx, p, op == "ReplaceRoute"),
        "DeleteRoute" => delete_route(ctx, p),
        "AssociateRouteTable" => associate_route_table(ctx, p),
        "DisassociateRouteTable" => disassociate_route_table(ctx, p),
        "DeleteRouteTable" => delete_route_table(ctx, p),
        "DescribeRouteTables" => describe_route_tables(ctx, p),
        "CreateSecurityGroup" => create_security_group(ctx, p),
        "AuthorizeSecurityGroupIngress" => authorize(ctx, p, false),
        "AuthorizeSecurityGroupEgress" => authorize(ctx, p, true),
        "RevokeSecurityGroupIngress" => revoke(ctx, p, false),
        "RevokeSecurityGroupEgress" => revoke(ctx, p, true),
        "UpdateSecurityGroupRuleDescriptionsIngress" => update_descriptions(ctx, p, false),
        "UpdateSecurityGroupRuleDescriptionsEgress" => update_descriptions(ctx, p, true),
        "DeleteSecurityGroup" => delete_security_group(ctx, p),
        "DescribeSecurityGroups" => describe_security_groups(ctx, p),
        "DescribeSecurityGroupRules" => describe_security_group_rules(ctx, p),
        "CreateVpcEndpoint" => create_endpoint(ctx, p),
        "DescribeVpcEndpoints" => describe_endpoints(ctx, p),
        "ModifyVpcEndpoint" => modify_endpoint(ctx, p),
        "DeleteVpcEndpoints" => delete_endpoints(ctx, p),
        "CreateTags" => create_tags(ctx, p),
        "DeleteTags" => delete_tags(ctx, p),
        "DescribeTags" => describe_tags(ctx, p),
        "DescribeAvailabilityZones" => describe_zones(ctx, p),
        "DescribeInstanceTypeOfferings" => describe_offerings(ctx, p),
        _ => Err(bad(
            "InvalidAction",
            format!("The action {op} is not valid for this web service."),
        )),
    }
}

fn region<'c>(ctx: &'c mut Ctx<'_>) -> &'c mut Ec2Region {
    ctx.cloud.ec2.entry(ctx.region.clone()).or_default()
}

// ---------------------------------------------------------------- VPCs

fn vpc_xml(x: &mut Xml, v: &Vpc, owner: &str) {
    x.leaf("vpcId", &v.id)
        .leaf("ownerId", owner)
        .leaf("instanceTenancy", &v.tenancy)
        .list("cidrBlockAssociationSet", "item", [v], |x, v| {
            x.leaf("associationId", &v.association_id)
                .leaf("cidrBlock", &v.cidr)
                .node("cidrBlockState", |x| {
                    x.leaf("state", "associated");
                });
        })
        .leaf("isDefault", "false");
    tag_set(x, &v.tags);
    x.node("blockPublicAccessStates", |x| {
        x.leaf("internetGatewayBlockMode", "off");
    })
    .leaf("state", "available")
    .leaf("cidrBlock", &v.cidr)
    .leaf("dhcpOptionsId", &v.dhcp_options_id);
}

fn create_vpc(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let block = p.required("CidrBlock", missing)?;
    let net = cidr("cidrBlock", block)?;
    if !(16..=28).contains(&net.prefix_len()) {
        return Err(bad(
            "InvalidVpc.Range",
            format!("The CIDR '{block}' is invalid."),
        ));
    }
    let tenancy = p.get("InstanceTenancy").unwrap_or("default").to_owned();
    if !["default", "dedicated", "host"].contains(&tenancy.as_str()) {
        return Err(invalid_value("instanceTenancy", &tenancy));
    }
    let tags = tag_specs(p, "vpc")?;
    let id = format!("vpc-{}", ctx.hex(17));
    let association_id = format!("vpc-cidr-assoc-{}", ctx.hex(17));
    let dhcp = format!("dopt-{}", ctx.hex(17));
    let rtb = format!("rtb-{}", ctx.hex(17));
    let main_assoc = format!("rtbassoc-{}", ctx.hex(17));
    let sg = format!("sg-{}", ctx.hex(17));
    let sgr = format!("sgr-{}", ctx.hex(17));
    let sgr_in = format!("sgr-{}", ctx.hex(17));
    let owner = ctx.account().to_owned();
    let r = region(ctx);
    r.route_tables.insert(
        rtb.clone(),
        RouteTable {
            id: rtb.clone(),
            vpc_id: id.clone(),
            main_association: Some(main_assoc),
            routes: vec![local_route(block)],
            associations: Vec::new(),
            tags: Tags::new(),
        },
    );
    r.security_groups.insert(
        sg.clone(),
        SecurityGroup {
            id: sg.clone(),
            vpc_id: id.clone(),
            name: "default".to_owned(),
            description: "default VPC security group".to_owned(),
            rules: vec![
                Rule {
                    id: sgr_in,
                    egress: false,
                    protocol: "-1".to_owned(),
                    from: -1,
                    to: -1,
                    cidr_ipv4: None,
                    cidr_ipv6: None,
                    group: Some(sg.clone()),
                    prefix_list: None,
                    description: None,
                },
                all_egress(sgr),
            ],
            tags: Tags::new(),
            eks_cluster: None,
        },
    );
    let vpc = Vpc {
        id: id.clone(),
        cidr: block.to_owned(),
        association_id,
        dhcp_options_id: dhcp,
        tenancy,
        dns_support: true,
        dns_hostnames: false,
        main_route_table: rtb,
        default_security_group: sg,
        tags,
    };
    let mut x = Xml::new();
    x.node("vpc", |x| vpc_xml(x, &vpc, &owner));
    r.vpcs.insert(id, vpc);
    Ok(x)
}

fn local_route(cidr: &str) -> Route {
    Route {
        destination: cidr.to_owned(),
        gateway_id: Some("local".to_owned()),
        nat_gateway_id: None,
        origin: "CreateRouteTable".to_owned(),
    }
}

fn all_egress(id: String) -> Rule {
    Rule {
        id,
        egress: true,
        protocol: "-1".to_owned(),
        from: -1,
        to: -1,
        cidr_ipv4: Some("0.0.0.0/0".to_owned()),
        cidr_ipv6: None,
        group: None,
        prefix_list: None,
        description: None,
    }
}

fn describe_vpcs(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let filters = Filters::parse(
        p,
        &[
            "vpc-id",
            "cidr",
            "cidr-block-association.cidr-block",
            "state",
            "is-default",
            "owner-id",
            "dhcp-options-id",
        ],
    )?;
    let ids = p.list("VpcId");
    let owner = ctx.account().to_owned();
    let r = region(ctx);
    let selected: Vec<(String, &Vpc)> = select(&r.vpcs, &ids, "vpc")?
        .into_iter()
        .filter(|(_, v)| {
            filters.matches(&v.tags, |name| match name {
                "vpc-id" => vec![v.id.clone()],
                "cidr" | "cidr-block-association.cidr-block" => vec![v.cidr.clone()],
                "state" => vec!["available".to_owned()],
                "is-default" => vec!["false".to_owned()],
                "owner-id" => vec![owner.clone()],
                "dhcp-options-id" => vec![v.dhcp_options_id.clone()],
                _ => Vec::new(),
            })
        })
        .collect();
    let (page, next) = paginate(selected, p, !ids.is_empty())?;
    let mut x = Xml::new();
    x.list("vpcSet", "item", page, |x, v| vpc_xml(x, v, &owner));
    x.opt("nextToken", next);
    Ok(x)
}

fn vpc_id_param(p: &Params) -> ApiResult<&str> {
    let id = p.required("VpcId", missing)?;
    well_formed(id, "vpc")?;
    Ok(id)
}

fn delete_vpc(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let id = vpc_id_param(p)?;
    let r = region(ctx);
    let vpc = r.vpcs.get(id).ok_or_else(|| not_found(id))?;
    let in_use = r.subnets.values().any(|s| s.vpc_id == id)
        || r.igws.values().any(|g| g.vpc_id.as_deref() == Some(id))
        || r.security_groups
            .values()
            .any(|g| g.vpc_id == id && g.id != vpc.default_security_group)
        || r.route_tables
            .values()
            .any(|t| t.vpc_id == id && t.id != vpc.main_route_table)
        || r.endpoints.values().any(|e| e.vpc_id == id)
        || r.nats
            .values()
            .any(|n| n.vpc_id == id && n.state != "deleted");
    if in_use {
        return Err(dependency("vpc", id));
    }
    let (rtb, sg) = (
        vpc.main_route_table.clone(),
        vpc.default_security_group.clone(),
    );
    r.route_tables.remove(&rtb);
    r.security_groups.remove(&sg);
    r.vpcs.remove(id);
    Ok(ok_return())
}

fn attribute_value(p: &Params, name: &str) -> ApiResult<Option<bool>> {
    p.bool(&format!("{name}.Value"), invalid_value)
}

fn modify_vpc_attribute(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let id = vpc_id_param(p)?;
    let support = attribute_value(p, "EnableDnsSupport")?;
    let hostnames = attribute_value(p, "EnableDnsHostnames")?;
    let metrics = attribute_value(p, "EnableNetworkAddressUsageMetrics")?;
    let given = [support.is_some(), hostnames.is_some(), metrics.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if given != 1 {
        return Err(bad(
            "InvalidParameterCombination",
            "Exactly one attribute must be modified per request",
        ));
    }
    let r = region(ctx);
    let vpc = r.vpcs.get_mut(id).ok_or_else(|| not_found(id))?;
    if let Some(s) = support {
        if !s && vpc.dns_hostnames {
            return Err(bad(
                "InvalidParameterValue",
                "enableDnsSupport cannot be disabled while enableDnsHostnames is enabled",
            ));
        }
        vpc.dns_support = s;
    }
    if let Some(h) = hostnames {
        if h && !vpc.dns_support {
            return Err(bad(
                "InvalidParameterValue",
                "enableDnsHostnames requires enableDnsSupport",
            ));
        }
        vpc.dns_hostnames = h;
    }
    Ok(ok_return())
}

fn describe_vpc_attribute(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let id = vpc_id_param(p)?;
    let attribute = p.required("Attribute", missing)?;
    let r = region(ctx);
    let vpc = r.vpcs.get(id).ok_or_else(|| not_found(id))?;
    let value = match attribute {
        "enableDnsSupport" => vpc.dns_support,
        "enableDnsHostnames" => vpc.dns_hostnames,
        "enableNetworkAddressUsageMetrics" => false,
        other => return Err(invalid_value("attribute", other)),
    };
    let mut x = Xml::new();
    x.leaf("vpcId", id).node(attribute, |x| {
        x.leaf("value", value);
    });
    Ok(x)
}

// ---------------------------------------------------------------- subnets

fn subnet_xml(x: &mut Xml, s: &Subnet, region: &str, owner: &str) {
    let net: Option<Ipv4Net> = s.cidr.parse().ok();
    let available = net.map_or(0, |n| {
        (1u64 << (32 - u32::from(n.prefix_len()))).saturating_sub(5)
    });
    x.leaf("subnetId", &s.id)
        .leaf(
            "subnetArn",
            format!("arn:aws:ec2:{region}:{owner}:subnet/{}", s.id),
        )
        .leaf("ownerId", owner)
        .leaf("state", "available")
        .leaf("vpcId", &s.vpc_id)
        .leaf("cidrBlock", &s.cidr)
        .node("ipv6CidrBlockAssociationSet", |_| {})
        .leaf("availableIpAddressCount", available)
        .leaf("availabilityZone", &s.az)
        .leaf("availabilityZoneId", zone_id(region, &s.az))
        .leaf("defaultForAz", "false")
        .leaf("mapPublicIpOnLaunch", s.map_public_ip)
        .leaf("assignIpv6AddressOnCreation", "false")
        .leaf("enableDns64", "false")
        .leaf("ipv6Native", "false")
        .leaf("mapCustomerOwnedIpOnLaunch", "false")
        .node("privateDnsNameOptionsOnLaunch", |x| {
            x.leaf("hostnameType", "ip-name")
                .leaf("enableResourceNameDnsARecord", "false")
                .leaf("enableResourceNameDnsAAAARecord", "false");
        })
        .node("blockPublicAccessStates", |x| {
            x.leaf("internetGatewayBlockMode", "off");
        });
    tag_set(x, &s.tags);
}

fn create_subnet(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let vpc_id = vpc_id_param(p)?;
    let block = p.required("CidrBlock", missing)?;
    let net = cidr("cidrBlock", block)?;
    let tags = tag_specs(p, "subnet")?;
    let zones = zones(&ctx.region);
    let az = match (p.get("AvailabilityZone"), p.get("AvailabilityZoneId")) {
        (Some(az), _) => az.to_owned(),
        (None, Some(zid)) => zones
            .iter()
            .find(|z| zone_id(&ctx.region, z) == zid)
            .cloned()
            .ok_or_else(|| invalid_value("availabilityZoneId", zid))?,
        (None, None) => zones.first().cloned().unwrap_or_default(),
    };
    if !zones.contains(&az) {
        return Err(bad(
            "InvalidParameterValue",
            format!(
                "Value ({az}) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: {}.",
                zones.join(", ")
            ),
        ));
    }
    let id = format!("subnet-{}", ctx.hex(17));
    let (rgn, owner) = (ctx.region.clone(), ctx.account().to_owned());
    let r = region(ctx);
    let vpc = r.vpcs.get(vpc_id).ok_or_else(|| not_found(vpc_id))?;
    let vpc_net: Ipv4Net = vpc
        .cidr
        .parse()
        .map_err(|_| invalid_value("cidrBlock", &vpc.cidr))?;
    if !(16..=28).contains(&net.prefix_len()) || !vpc_net.contains(&net) {
        return Err(bad(
            "InvalidSubnet.Range",
            format!("The CIDR '{block}' is invalid."),
        ));
    }
    if let Some(other) = r
        .subnets
        .values()
        .find(|s| s.vpc_id == vpc_id && s.cidr.parse::<Ipv4Net>().is_ok_and(|o| overlaps(&o, &net)))
    {
        return Err(bad(
            "InvalidSubnet.Conflict",
            format!(
                "The CIDR '{block}' conflicts with another subnet ({})",
                other.id
            ),
        ));
    }
    let subnet = Subnet {
        id: id.clone(),
        vpc_id: vpc_id.to_owned(),
        cidr: block.to_owned(),
        az,
        map_public_ip: false,
        tags,
    };
    let mut x = Xml::new();
    x.node("subnet", |x| subnet_xml(x, &subnet, &rgn, &owner));
    r.subnets.insert(id, subnet);
    Ok(x)
}

fn describe_subnets(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let filters = Filters::parse(
        p,
        &[
            "vpc-id",
            "subnet-id",
            "cidr-block",
            "cidr",
            "availability-zone",
            "availability-zone-id",
            "state",
            "map-public-ip-on-launch",
            "default-for-az",
            "owner-id",
        ],
    )?;
    let ids = p.list("SubnetId");
    let (rgn, owner) = (ctx.region.clone(), ctx.account().to_owned());
    let r = region(ctx);
    let selected: Vec<(String, &Subnet)> = select(&r.subnets, &ids, "subnet")?
        .into_iter()
        .filter(|(_, s)| {
            filters.matches(&s.tags, |name| match name {
                "vpc-id" => vec![s.vpc_id.clone()],
                "subnet-id" => vec![s.id.clone()],
                "cidr-block" | "cidr" => vec![s.cidr.clone()],
                "availability-zone" => vec![s.az.clone()],
                "availability-zone-id" => vec![zone_id(&rgn, &s.az)],
                "state" => vec!["available".to_owned()],
                "map-public-ip-on-launch" => vec![s.map_public_ip.to_string()],
                "default-for-az" => vec!["false".to_owned()],
                "owner-id" => vec![owner.clone()],
                _ => Vec::new(),
            })
        })
        .collect();
    let (page, next) = paginate(selected, p, !ids.is_empty())?;
    let mut x = Xml::new();
    x.list("subnetSet", "item", page, |x, s| {
        subnet_xml(x, s, &rgn, &owner)
    });
    x.opt("nextToken", next);
    Ok(x)
}

fn delete_subnet(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let id = p.required("SubnetId", missing)?;
    well_formed(id, "subnet")?;
    let rgn = ctx.region.clone();
    let eks_user = ctx
        .cloud
        .eks
        .get(&rgn)
        .and_then(|e| crate::eks::subnet_user(e, id));
    let r = region(ctx);
    if !r.subnets.contains_key(id) {
        return Err(not_found(id));
    }
    let in_use = r
        .nats
        .values()
        .any(|n| n.subnet_id == id && n.state != "deleted")
        || r.endpoints
            .values()
            .any(|e| e.subnets.iter().any(|s| s == id))
        || eks_user.is_some();
    if in_use {
        return Err(dependency("subnet", id));
    }
    r.subnets.remove(id);
    for t in r.route_tables.values_mut() {
        t.associations.retain(|a| a.subnet_id != id);
    }
    Ok(ok_return())
}

fn modify_subnet_attribute(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let id = p.required("SubnetId", missing)?;
    well_formed(id, "subnet")?;
    let settable = ["MapPublicIpOnLaunch"];
    let given: Vec<&str> = p
        .keys()
        .filter_map(|k| k.split('.').next())
        .filter(|k| !["Action", "Version", "SubnetId", "DryRun"].contains(k))
        .collect();
    if given.len() != 1 {
        return Err(bad(
            "InvalidParameterCombination",
            "Exactly one attribute must be modified per request",
        ));
    }
    if !settable.contains(&given[0]) {
        return Err(bad(
            "InvalidParameterValue",
            format!("The emulator does not model subnet attribute {}", given[0]),
        ));
    }
    let value = attribute_value(p, "MapPublicIpOnLaunch")?
        .ok_or_else(|| missing("MapPublicIpOnLaunch.Value"))?;
    let r = region(ctx);
    let s = r.subnets.get_mut(id).ok_or_else(|| not_found(id))?;
    s.map_public_ip = value;
    Ok(ok_return())
}

// ---------------------------------------------------------------- internet gateways

fn igw_xml(x: &mut Xml, g: &Igw, owner: &str) {
    x.leaf("internetGatewayId", &g.id)
        .leaf("ownerId", owner)
        .list("attachmentSet", "item", g.vpc_id.iter(), |x, vpc| {
            // EC2 reports an attached gateway's attachment as "available".
            x.leaf("vpcId", vpc).leaf("state", "available");
        });
    tag_set(x, &g.tags);
}

fn create_igw(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let tags = tag_specs(p, "internet-gateway")?;
    let id = format!("igw-{}", ctx.hex(17));
    let owner = ctx.account().to_owned();
    let g = Igw {
        id: id.clone(),
        vpc_id: None,
        tags,
    };
    let mut x = Xml::new();
    x.node("internetGateway", |x| igw_xml(x, &g, &owner));
    region(ctx).igws.insert(id, g);
    Ok(x)
}

fn igw_param(p: &Params) -> ApiResult<&str> {
    let id = p.required("InternetGatewayId", missing)?;
    well_formed(id, "igw")?;
    Ok(id)
}

fn attach_igw(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let id = igw_param(p)?;
    let vpc_id = vpc_id_param(p)?;
    let r = region(ctx);
    if !r.vpcs.contains_key(vpc_id) {
        return Err(not_found(vpc_id));
    }
    if let Some(other) = r
        .igws
        .values()
        .find(|g| g.vpc_id.as_deref() == Some(vpc_id) && g.id != id)
    {
        return Err(bad(
            "Resource.AlreadyAssociated",
            format!(
                "Network {vpc_id} already has an internet gateway attached ({})",
                other.id
            ),
        ));
    }
    let g = r.igws.get_mut(id).ok_or_else(|| not_found(id))?;
    if g.vpc_id.is_some() {
        return Err(bad(
            "Resource.AlreadyAssociated",
            format!(
                "resource {id} is already attached to network {}",
                g.vpc_id.clone().unwrap_or_default()
            ),
        ));
    }
    g.vpc_id = Some(vpc_id.to_owned());
    Ok(ok_return())
}

fn detach_igw(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let id = igw_param(p)?;
    let vpc_id = vpc_id_param(p)?;
    let r = region(ctx);
    let attached = r.igws.get(id).ok_or_else(|| not_found(id))?.vpc_id.clone();
    if attached.as_deref() != Some(vpc_id) {
        return Err(bad(
            "Gateway.NotAttached",
            format!("resource {id} is not attached to network {vpc_id}"),
        ));
    }
    if r.nats.values().any(|n| {
        n.vpc_id == vpc_id
            && n.connectivity == "public"
            && n.state != "deleted"
            && n.state != "failed"
    }) {
        return Err(bad(
            "DependencyViolation",
            format!(
                "Network {vpc_id} has some mapped public address(es). Please unmap those public address(es) before detaching the gateway."
            ),
        ));
    }
    if let Some(g) = r.igws.get_mut(id) {
        g.vpc_id = None;
    }
    Ok(ok_return())
}

fn delete_igw(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let id = igw_param(p)?;
    let r = region(ctx);
    let g = r.igws.get(id).ok_or_else(|| not_found(id))?;
    if g.vpc_id.is_some() {
        return Err(dependency("internetGateway", id));
    }
    r.igws.remove(id);
    Ok(ok_return())
}

fn describe_igws(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let filters = Filters::parse(
        p,
        &[
            "attachment.vpc-id",
            "attachment.state",
            "internet-gateway-id",
            "owner-id",
        ],
    )?;
    let ids = p.list("InternetGatewayId");
    let owner = ctx.account().to_owned();
    let r = region(ctx);
    let selected: Vec<(String, &Igw)> = select(&r.igws, &ids, "igw")?
        .into_iter()
        .filter(|(_, g)| {
            filters.matches(&g.tags, |name| match name {
                "attachment.vpc-id" => g.vpc_id.iter().cloned().collect(),
                "attachment.state" => g.vpc_id.iter().map(|_| "available".to_owned()).collect(),
                "internet-gateway-id" => vec![g.id.clone()],
                "owner-id" => vec![owner.clone()],
                _ => Vec::new(),
            })
        })
        .collect();
    let (page, next) = paginate(selected, p, !ids.is_empty())?;
    let mut x = Xml::new();
    x.list("internetGatewaySet", "item", page, |x, g| {
        igw_xml(x, g, &owner)
    });
    x.opt("nextToken", next);
    Ok(x)
}

// ---------------------------------------------------------------- Elastic IPs

fn address_user<'r>(r: &'r Ec2Region, allocation: &str) -> Option<&'r Nat> {
    r.nats.values().find(|n| {
        n.allocation_id.as_deref() == Some(allocation)
            && !["deleted", "failed"].contains(&n.state.as_str())
    })
}

fn allocate_address(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let domain = p.get("Domain").unwrap_or("vpc");
    if domain != "vpc" {
        return Err(invalid_value("domain", domain));
    }
    let tags = tag_specs(p, "elastic-ip")?;
    let id = format!("eipalloc-{}", ctx.hex(17));
    let d = ctx.draw();
    // 198.18.0.0/15 is reserved for benchmarking: never a real public address.
    let ip = format!(
        "198.{}.{}.{}",
        18 + (d & 1),
        (d >> 8) & 0xff,
        1 + ((d >> 16) % 254)
    );
    let rgn = ctx.region.clone();
    let mut x = Xml::new();
    x.leaf("publicIp", &ip)
        .leaf("domain", "vpc")
        .leaf("allocationId", &id)
        .leaf("publicIpv4Pool", "amazon")
        .leaf("networkBorderGroup", &rgn);
    region(ctx).addresses.insert(
        id.clone(),
        Eip {
            id,
            public_ip: ip,
            tags,
        },
    );
    Ok(x)
}

fn release_address(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let id = p
        .get("AllocationId")
        .ok_or_else(|| missing("AllocationId"))?;
    well_formed(id, "eipalloc")?;
    let r = region(ctx);
    if !r.addresses.contains_key(id) {
        return Err(not_found(id));
    }
    if let Some(nat) = address_user(r, id) {
        return Err(bad(
            "InvalidIPAddress.InUse",
            format!("Address {id} is in use by {}", nat.id),
        ));
    }
    r.addresses.remove(id);
    Ok(ok_return())
}

fn describe_addresses(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let filters = Filters::parse(
        p,
        &[
            "allocation-id",
            "public-ip",
            "domain",
            "association-id",
            "network-interface-id",
            "private-ip-address",
        ],
    )?;
    let ids = p.list("AllocationId");
    let ips = p.list("PublicIp");
    let rgn = ctx.region.clone();
    let r = region(ctx);
    let mut selected = select(&r.addresses, &ids, "eipalloc")?;
    if !ips.is_empty() {
        for ip in &ips {
            if !r.addresses.values().any(|a| &a.public_ip == ip) {
                return Err(bad(
                    "InvalidAddress.NotFound",
                    format!("Address '{ip}' not found."),
                ));
            }
        }
        selected.retain(|(_, a)| ips.contains(&a.public_ip));
    }
    let rows: Vec<(&Eip, Option<&Nat>)> = selected
        .into_iter()
        .map(|(_, a)| (a, address_user(r, &a.id)))
        .filter(|(a, nat)| {
            filters.matches(&a.tags, |name| match name {
                "allocation-id" => vec![a.id.clone()],
                "public-ip" => vec![a.public_ip.clone()],
                "domain" => vec!["vpc".to_owned()],
                "association-id" => nat.iter().map(|n| n.association_id.clone()).collect(),
                "network-interface-id" => nat.iter().map(|n| n.eni_id.clone()).collect(),
                "private-ip-address" => nat.iter().map(|n| n.private_ip.clone()).collect(),
                _ => Vec::new(),
            })
        })
        .collect();
    let mut x = Xml::new();
    x.list("addressesSet", "item", rows, |x, (a, nat)| {
        x.leaf("publicIp", &a.public_ip)
            .leaf("allocationId", &a.id)
            .leaf("domain", "vpc")
            .leaf("publicIpv4Pool", "amazon")
            .leaf("networkBorderGroup", &rgn);
        if let Some(n) = nat {
            x.leaf("associationId", &n.association_id)
                .leaf("networkInterfaceId", &n.eni_id)
                .leaf("privateIpAddress", &n.private_ip)
                .leaf("serviceManaged", "rnat");
        }
        tag_set(x, &a.tags);
    });
    Ok(x)
}

// ---------------------------------------------------------------- NAT gateways

fn nat_xml(x: &mut Xml, n: &Nat, r: &Ec2Region) {
    x.leaf("createTime", iso8601(n.created))
        .opt("deleteTime", n.deleted.map(iso8601))
        .opt("failureCode", n.failure.as_ref().map(|f| &f.0))
        .opt("failureMessage", n.failure.as_ref().map(|f| &f.1))
        .list(
            "natGatewayAddressSet",
            "item",
            n.allocation_id.iter(),
            |x, alloc| {
                x.leaf("allocationId", alloc)
                    .leaf("networkInterfaceId", &n.eni_id)
                    .leaf("privateIp", &n.private_ip)
                    .opt(
                        "publicIp",
                        r.addresses.get(alloc).map(|a| a.public_ip.clone()),
                    )
                    .leaf("associationId", &n.association_id)
                    .leaf("isPrimary", "true")
                    .leaf(
                        "status",
                        if n.state == "deleted" {
                            "disassociating"
                        } else {
                            "succeeded"
                        },
                    );
            },
        )
        .leaf("natGatewayId", &n.id)
        .leaf("state", &n.state)
        .leaf("subnetId", &n.subnet_id)
        .leaf("vpcId", &n.vpc_id)
        .leaf("connectivityType", &n.connectivity)
        .leaf("availabilityMode", "zonal");
    tag_set(x, &n.tags);
}

fn create_nat(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let subnet_id = p.required("SubnetId", missing)?.to_owned();
    well_formed(&subnet_id, "subnet")?;
    let connectivity = p.get("ConnectivityType").unwrap_or("public").to_owned();
    if !["public", "private"].contains(&connectivity.as_str()) {
        return Err(invalid_value("connectivityType", &connectivity));
    }
    let allocation = p.get("AllocationId").map(str::to_owned);
    let tags = tag_specs(p, "natgateway")?;
    let token = p.get("ClientToken").map(str::to_owned);
    let id = format!("nat-{}", ctx.hex(17));
    let eni = format!("eni-{}", ctx.hex(17));
    let assoc = format!("eipassoc-{}", ctx.hex(17));
    let d = ctx.draw();
    let owner = tags.get(CLUSTER_TAG).cloned();
    let deadline = ctx.deadline(Op::NatCreate, &id, "ec2", &id, owner.as_deref());
    let now = ctx.now;
    let fails = ctx.faults.fails(
        FailureTarget::NatGateway,
        &[&id, tags.get("Name").map_or("", String::as_str)],
    );
    let r = region(ctx);
    if let Some(token) = &token
        && let Some(existing) = r.tokens.get(token).and_then(|id| r.nats.get(id))
    {
        if existing.subnet_id != subnet_id || existing.allocation_id != allocation {
            return Err(bad(
                "IdempotentParameterMismatch",
                "The client token you have provided is associated with a resource that has different parameters.",
            ));
        }
        let mut x = Xml::new();
        x.leaf("clientToken", token);
        x.node("natGateway", |x| nat_xml(x, existing, r));
        // A replay starts nothing: it draws no duration.
        ctx.ops.clear();
        return Ok(x);
    }
    let subnet = r
        .subnets
        .get(&subnet_id)
        .ok_or_else(|| not_found(&subnet_id))?;
    let vpc_id = subnet.vpc_id.clone();
    let net: Ipv4Net = subnet
        .cidr
        .parse()
        .map_err(|_| invalid_value("cidrBlock", &subnet.cidr))?;
    let host = 4 + u32::try_from(d % 200).unwrap_or(0);
    let private_ip = net
        .hosts()
        .nth(host as usize)
        .unwrap_or(net.network())
        .to_string();
    if connectivity == "public" {
        let alloc = allocation.as_deref().ok_or_else(|| {
            bad(
                "MissingParameter",
                "When specifying the public connectivity type, you must specify an allocation ID.",
            )
        })?;
        well_formed(alloc, "eipalloc")?;
        if !r.addresses.contains_key(alloc) {
            return Err(not_found(alloc));
        }
        if address_user(r, alloc).is_some() {
            return Err(bad(
                "Resource.AlreadyAssociated",
                format!("Elastic IP address [{alloc}] is already associated"),
            ));
        }
        if !r
            .igws
            .values()
            .any(|g| g.vpc_id.as_deref() == Some(vpc_id.as_str()))
        {
            return Err(bad(
                "Gateway.NotAttached",
                format!("Network {vpc_id} has no Internet gateway attached"),
            ));
        }
    } else if allocation.is_some() {
        return Err(bad(
            "InvalidParameterCombination",
            "An allocation ID cannot be specified for a private NAT gateway",
        ));
    }
    let nat = Nat {
        id: id.clone(),
        subnet_id,
        vpc_id,
        allocation_id: allocation,
        connectivity,
        state: "pending".to_owned(),
        pending: Some(Pending {
            at: deadline,
            to: if fails { "failed" } else { "available" }.to_owned(),
        }),
        failure: None,
        private_ip,
        eni_id: eni,
        association_id: assoc,
        created: now,
        deleted: None,
        gone_at: None,
        client_token: token.clone(),
        tags,
    };
    let mut x = Xml::new();
    x.opt("clientToken", token.as_ref());
    x.node("natGateway", |x| nat_xml(x, &nat, r));
    if let Some(token) = token {
        r.tokens.insert(token, id.clone());
    }
    r.nats.insert(id, nat);
    Ok(x)
}

fn describe_nats(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let filters = Filters::parse(p, &["nat-gateway-id", "state", "subnet-id", "vpc-id"])?;
    let ids = p.list("NatGatewayId");
    let r = region(ctx);
    let selected: Vec<(String, &Nat)> = select(&r.nats, &ids, "nat")?
        .into_iter()
        .filter(|(_, n)| {
            filters.matches(&n.tags, |name| match name {
                "nat-gateway-id" => vec![n.id.clone()],
                "state" => vec![n.state.clone()],
                "subnet-id" => vec![n.subnet_id.clone()],
                "vpc-id" => vec![n.vpc_id.clone()],
                _ => Vec::new(),
            })
        })
        .collect();
    let (page, next) = paginate(selected, p, !ids.is_empty())?;
    let mut x = Xml::new();
    x.list("natGatewaySet", "item", page, |x, n| nat_xml(x, n, r));
    x.opt("nextToken", next);
    Ok(x)
}

fn delete_nat(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let id = p.required("NatGatewayId", missing)?.to_owned();
    well_formed(&id, "nat")?;
    let owner = region(ctx)
        .nats
        .get(&id)
        .and_then(|n| n.tags.get(CLUSTER_TAG).cloned());
    let deadline = ctx.deadline(Op::NatDelete, &id, "ec2", &id, owner.as_deref());
    let now = ctx.now;
    let retention = ctx.unlogged_deadline(Op::NatRetention, &id) - now;
    let r = region(ctx);
    let n = r.nats.get_mut(&id).ok_or_else(|| not_found(&id))?;
    if n.state == "deleted" || n.state == "deleting" {
        return Err(not_found(&id));
    }
    n.state = "deleting".to_owned();
    n.deleted = Some(now);
    n.gone_at = Some(deadline + retention);
    n.pending = Some(Pending {
        at: deadline,
        to: "deleted".to_owned(),
    });
    let mut x = Xml::new();
    x.leaf("natGatewayId", &id);
    Ok(x)
}

// ---------------------------------------------------------------- route tables

fn route_table_xml(x: &mut Xml, t: &RouteTable, r: &Ec2Region, owner: &str) {
    x.leaf("routeTableId", &t.id)
        .leaf("vpcId", &t.vpc_id)
        .leaf("ownerId", owner)
        .list("routeSet", "item", &t.routes, |x, route| {
            if route.destination.starts_with("pl-") {
                x.leaf("destinationPrefixListId", &route.destination);
            } else {
                x.leaf("destinationCidrBlock", &route.destination);
            }
            x.opt("gatewayId", route.gateway_id.as_ref())
                .opt("natGatewayId", route.nat_gateway_id.as_ref());
            let alive = match (&route.gateway_id, &route.nat_gateway_id) {
                (_, Some(nat)) => r
                    .nats
                    .get(nat)
                    .is_some_and(|n| n.state != "deleted" && n.state != "failed"),
                (Some(g), None) if g.starts_with("igw-") => r
                    .igws
                    .get(g)
                    .is_some_and(|i| i.vpc_id.as_deref() == Some(t.vpc_id.as_str())),
                _ => true,
            };
            x.leaf("origin", &route.origin)
                .leaf("state", if alive { "active" } else { "blackhole" });
        })
        .node("associationSet", |x| {
            if let Some(main) = &t.main_association {
                x.node("item", |x| {
                    x.leaf("main", "true")
                        .leaf("routeTableAssociationId", main)
                        .leaf("routeTableId", &t.id)
                        .node("associationState", |x| {
                            x.leaf("state", "associated");
                        });
                });
            }
            for a in &t.associations {
                x.node("item", |x| {
                    x.leaf("main", "false")
                        .leaf("routeTableAssociationId", &a.id)
                        .leaf("routeTableId", &t.id)
                        .leaf("subnetId", &a.subnet_id)
                        .node("associationState", |x| {
                            x.leaf("state", "associated");
                        });
                });
            }
        })
        .node("propagatingVgwSet", |_| {});
    tag_set(x, &t.tags);
}

fn create_route_table(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let vpc_id = vpc_id_param(p)?.to_owned();
    let tags = tag_specs(p, "route-table")?;
    let token = p.get("ClientToken").map(str::to_owned);
    let id = format!("rtb-{}", ctx.hex(17));
    let owner = ctx.account().to_owned();
    let r = region(ctx);
    if let Some(token) = &token
        && let Some(existing) = r.tokens.get(token).and_then(|id| r.route_tables.get(id))
    {
        let mut x = Xml::new();
        x.node("routeTable", |x| route_table_xml(x, existing, r, &owner));
        x.leaf("clientToken", token);
        return Ok(x);
    }
    let vpc = r.vpcs.get(&vpc_id).ok_or_else(|| not_found(&vpc_id))?;
    let t = RouteTable {
        id: id.clone(),
        vpc_id,
        main_association: None,
        routes: vec![local_route(&vpc.cidr)],
        associations: Vec::new(),
        tags,
    };
    let mut x = Xml::new();
    x.node("routeTable", |x| route_table_xml(x, &t, r, &owner));
    x.opt("clientToken", token.as_ref());
    if let Some(token) = token {
        r.tokens.insert(token, id.clone());
    }
    r.route_tables.insert(id, t);
    Ok(x)
}

fn route_table_param(p: &Params) -> ApiResult<&str> {
    let id = p.required("RouteTableId", missing)?;
    well_formed(id, "rtb")?;
    Ok(id)
}

fn destination(p: &Params) -> ApiResult<String> {
    match (
        p.get("DestinationCidrBlock"),
        p.get("DestinationPrefixListId"),
        p.get("DestinationIpv6CidrBlock"),
    ) {
        (Some(c), None, None) => Ok(cidr("destinationCidrBlock", c)?.to_string()),
        (None, Some(pl), None) => Ok(pl.to_owned()),
        (None, None, Some(_)) => Err(bad("InvalidParameterValue", "IPv6 routes are not emulated")),
        _ => Err(bad(
            "InvalidParameterCombination",
            "Exactly one of destinationCidrBlock, destinationIpv6CidrBlock or destinationPrefixListId must be specified",
        )),
    }
}

fn put_route(ctx: &mut Ctx<'_>, p: &Params, replace: bool) -> ApiResult<Xml> {
    let id = route_table_param(p)?;
    let dest = destination(p)?;
    let targets = [
        "GatewayId",
        "NatGatewayId",
        "VpcEndpointId",
        "TransitGatewayId",
        "NetworkInterfaceId",
        "VpcPeeringConnectionId",
        "InstanceId",
        "EgressOnlyInternetGatewayId",
        "LocalGatewayId",
        "CarrierGatewayId",
        "CoreNetworkArn",
        "OdbNetworkArn",
    ];
    let given: Vec<&str> = targets
        .iter()
        .copied()
        .filter(|t| p.get(t).is_some())
        .collect();
    if given.len() != 1 {
        return Err(bad(
            "InvalidParameterCombination",
            "The request must contain exactly one route target",
        ));
    }
    let r = region(ctx);
    let t = r.route_tables.get(id).ok_or_else(|| not_found(id))?;
    let vpc_id = t.vpc_id.clone();
    let mut route = Route {
        destination: dest.clone(),
        gateway_id: None,
        nat_gateway_id: None,
        origin: "CreateRoute".to_owned(),
    };
    match given[0] {
        "GatewayId" => {
            let g = p.get("GatewayId").unwrap_or("");
            if g.starts_with("vpce-") {
                return Err(bad(
                    "InvalidParameterValue",
                    "Gateway endpoint routes are managed by the endpoint",
                ));
            }
            well_formed(g, "igw")?;
            let igw = r.igws.get(g).ok_or_else(|| not_found(g))?;
            if igw.vpc_id.as_deref() != Some(vpc_id.as_str()) {
                return Err(bad(
                    "InvalidParameterValue",
                    format!(
                        "route table {id} and network gateway {g} belong to different networks"
                    ),
                ));
            }
            route.gateway_id = Some(g.to_owned());
        }
        "NatGatewayId" => {
            let n = p.get("NatGatewayId").unwrap_or("");
            well_formed(n, "nat")?;
            let nat = r
                .nats
                .get(n)
                .filter(|x| x.state != "deleted")
                .ok_or_else(|| not_found(n))?;
            if nat.vpc_id != vpc_id {
                return Err(bad(
                    "InvalidParameterValue",
                    format!("route table {id} and NAT gateway {n} belong to different networks"),
                ));
            }
            route.nat_gateway_id = Some(n.to_owned());
        }
        other => {
            return Err(bad(
                "InvalidParameterValue",
                format!("route target {other} is not emulated"),
            ));
        }
    }
    let t = r.route_tables.get_mut(id).ok_or_else(|| not_found(id))?;
    let existing = t.routes.iter().position(|x| x.destination == dest);
    match (replace, existing) {
        (false, Some(_)) => {
            return Err(bad(
                "RouteAlreadyExists",
                format!("The route identified by {dest} already exists."),
            ));
        }
        (true, None) => {
            return Err(bad(
                "InvalidRoute.NotFound",
                format!("no route with destination-cidr-block {dest} in route table {id}"),
            ));
        }
        (true, Some(i)) => {
            if t.routes[i].gateway_id.as_deref() == Some("local") {
                return Err(bad(
                    "InvalidParameterValue",
                    "cannot replace the local route",
                ));
            }
            route.origin = "CreateRoute".to_owned();
            t.routes[i] = route;
        }
        (false, None) => t.routes.push(route),
    }
    Ok(ok_return())
}

fn delete_route(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let id = route_table_param(p)?;
    let dest = destination(p)?;
    let r = region(ctx);
    let t = r.route_tables.get_mut(id).ok_or_else(|| not_found(id))?;
    let i = t
        .routes
        .iter()
        .position(|x| x.destination == dest)
        .ok_or_else(|| {
            bad(
                "InvalidRoute.NotFound",
                format!("no route with destination-cidr-block {dest} in route table {id}"),
            )
        })?;
    if t.routes[i].gateway_id.as_deref() == Some("local") {
        return Err(bad(
            "InvalidParameterValue",
            format!("cannot remove local route {dest} in route table {id}"),
        ));
    }
    t.routes.remove(i);
    Ok(ok_return())
}

fn associate_route_table(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let id = route_table_param(p)?;
    let subnet_id = p.get("SubnetId").ok_or_else(|| missing("SubnetId"))?;
    well_formed(subnet_id, "subnet")?;
    let assoc = format!("rtbassoc-{}", ctx.hex(17));
    let r = region(ctx);
    let subnet = r
        .subnets
        .get(subnet_id)
        .ok_or_else(|| not_found(subnet_id))?;
    let t = r.route_tables.get(id).ok_or_else(|| not_found(id))?;
    if t.vpc_id != subnet.vpc_id {
        return Err(bad(
            "InvalidParameterValue",
            format!("route table {id} and subnet {subnet_id} belong to different networks"),
        ));
    }
    if let Some(other) = r
        .route_tables
        .values()
        .find(|t| t.associations.iter().any(|a| a.subnet_id == subnet_id))
    {
        return Err(bad(
            "Resource.AlreadyAssociated",
            format!(
                "the specified association for route table {} conflicts with an existing association",
                other.id
            ),
        ));
    }
    if let Some(t) = r.route_tables.get_mut(id) {
        t.associations.push(Association {
            id: assoc.clone(),
            subnet_id: subnet_id.to_owned(),
        });
    }
    let mut x = Xml::new();
    x.leaf("associationId", assoc)
        .node("associationState", |x| {
            x.leaf("state", "associated");
        });
    Ok(x)
}

fn disassociate_route_table(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let assoc = p.required("AssociationId", missing)?;
    let r = region(ctx);
    if r.route_tables
        .values()
        .any(|t| t.main_association.as_deref() == Some(assoc))
    {
        return Err(bad(
            "InvalidParameterValue",
            format!("cannot disassociate the main route table association {assoc}"),
        ));
    }
    let t = r
        .route_tables
        .values_mut()
        .find(|t| t.associations.iter().any(|a| a.id == assoc))
        .ok_or_else(|| not_found(assoc))?;
    t.associations.retain(|a| a.id != assoc);
    Ok(ok_return())
}

fn delete_route_table(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let id = route_table_param(p)?;
    let r = region(ctx);
    let t = r.route_tables.get(id).ok_or_else(|| not_found(id))?;
    if !t.associations.is_empty() || t.main_association.is_some() {
        return Err(dependency("routeTable", id));
    }
    r.route_tables.remove(id);
    for e in r.endpoints.values_mut() {
        e.route_tables.retain(|t| t != id);
    }
    Ok(ok_return())
}

fn describe_route_tables(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let filters = Filters::parse(
        p,
        &[
            "vpc-id",
            "route-table-id",
            "association.subnet-id",
            "association.main",
            "association.route-table-association-id",
            "route.nat-gateway-id",
            "route.gateway-id",
            "route.destination-cidr-block",
            "owner-id",
        ],
    )?;
    let ids = p.list("RouteTableId");
    let owner = ctx.account().to_owned();
    let r = region(ctx);
    let selected: Vec<(String, &RouteTable)> = select(&r.route_tables, &ids, "rtb")?
        .into_iter()
        .filter(|(_, t)| {
            filters.matches(&t.tags, |name| match name {
                "vpc-id" => vec![t.vpc_id.clone()],
                "route-table-id" => vec![t.id.clone()],
                "association.subnet-id" => {
                    t.associations.iter().map(|a| a.subnet_id.clone()).collect()
                }
                "association.main" => vec![t.main_association.is_some().to_string()],
                "association.route-table-association-id" => t
                    .associations
                    .iter()
                    .map(|a| a.id.clone())
                    .chain(t.main_association.clone())
                    .collect(),
                "route.nat-gateway-id" => t
                    .routes
                    .iter()
                    .filter_map(|r| r.nat_gateway_id.clone())
                    .collect(),
                "route.gateway-id" => t
                    .routes
                    .iter()
                    .filter_map(|r| r.gateway_id.clone())
                    .collect(),
                "route.destination-cidr-block" => {
                    t.routes.iter().map(|r| r.destination.clone()).collect()
                }
                "owner-id" => vec![owner.clone()],
                _ => Vec::new(),
            })
        })
        .collect();
    let (page, next) = paginate(selected, p, !ids.is_empty())?;
    let mut x = Xml::new();
    x.list("routeTableSet", "item", page, |x, t| {
        route_table_xml(x, t, r, &owner)
    });
    x.opt("nextToken", next);
    Ok(x)
}

// ---------------------------------------------------------------- security groups

fn permissions_xml(x: &mut Xml, name: &str, rules: &[&Rule], owner: &str) {
    // EC2 groups rules with the same protocol and ports into one IpPermission.
    let mut groups: Vec<(String, i64, i64, Vec<&Rule>)> = Vec::new();
    for r in rules {
        match groups
            .iter_mut()
            .find(|g| g.0 == r.protocol && g.1 == r.from && g.2 == r.to)
        {
            Some(g) => g.3.push(r),
            None => groups.push((r.protocol.clone(), r.from, r.to, vec![r])),
        }
    }
    x.list(name, "item", groups, |x, (protocol, from, to, rules)| {
        x.leaf("ipProtocol", &protocol);
        if protocol != "-1" {
            x.leaf("fromPort", from).leaf("toPort", to);
        }
        x.list(
            "groups",
            "item",
            rules.iter().filter(|r| r.group.is_some()),
            |x, r| {
                x.opt("description", r.description.as_ref())
                    .leaf("userId", owner)
                    .opt("groupId", r.group.as_ref());
            },
        )
        .list(
            "ipRanges",
            "item",
            rules.iter().filter(|r| r.cidr_ipv4.is_some()),
            |x, r| {
                x.opt("cidrIp", r.cidr_ipv4.as_ref())
                    .opt("description", r.description.as_ref());
            },
        )
        .list(
            "ipv6Ranges",
            "item",
            rules.iter().filter(|r| r.cidr_ipv6.is_some()),
            |x, r| {
                x.opt("cidrIpv6", r.cidr_ipv6.as_ref())
                    .opt("description", r.description.as_ref());
            },
        )
        .list(
            "prefixListIds",
            "item",
            rules.iter().filter(|r| r.prefix_list.is_some()),
            |x, r| {
                x.opt("prefixListId", r.prefix_list.as_ref())
                    .opt("description", r.description.as_ref());
            },
        );
    });
}

fn security_group_xml(x: &mut Xml, g: &SecurityGroup, region: &str, owner: &str) {
    let ingress: Vec<&Rule> = g.rules.iter().filter(|r| !r.egress).collect();
    let egress: Vec<&Rule> = g.rules.iter().filter(|r| r.egress).collect();
    x.leaf("ownerId", owner)
        .leaf("groupId", &g.id)
        .leaf("groupName", &g.name)
        .leaf("groupDescription", &g.description);
    permissions_xml(x, "ipPermissions", &ingress, owner);
    permissions_xml(x, "ipPermissionsEgress", &egress, owner);
    x.leaf("vpcId", &g.vpc_id).leaf(
        "securityGroupArn",
        format!("arn:aws:ec2:{region}:{owner}:security-group/{}", g.id),
    );
    tag_set(x, &g.tags);
}

fn rule_xml(x: &mut Xml, g: &SecurityGroup, r: &Rule, region: &str, owner: &str) {
    x.leaf("securityGroupRuleId", &r.id)
        .leaf("groupId", &g.id)
        .leaf("groupOwnerId", owner)
        .leaf("isEgress", r.egress)
        .leaf("ipProtocol", &r.protocol)
        .leaf("fromPort", r.from)
        .leaf("toPort", r.to)
        .opt("cidrIpv4", r.cidr_ipv4.as_ref())
        .opt("cidrIpv6", r.cidr_ipv6.as_ref())
        .opt("prefixListId", r.prefix_list.as_ref());
    if let Some(group) = &r.group {
        x.node("referencedGroupInfo", |x| {
            x.leaf("groupId", group).leaf("userId", owner);
        });
    }
    x.opt("description", r.description.as_ref())
        .node("tagSet", |_| {})
        .leaf(
            "securityGroupRuleArn",
            format!("arn:aws:ec2:{region}:{owner}:security-group-rule/{}", r.id),
        );
}

fn create_security_group(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let name = p.required("GroupName", missing)?.to_owned();
    let description = p.required("GroupDescription", missing)?.to_owned();
    let vpc_id = p
        .get("VpcId")
        .ok_or_else(|| bad("VPCIdNotSpecified", "No default VPC for this user"))?
        .to_owned();
    well_formed(&vpc_id, "vpc")?;
    if name.len() > 255 || name.to_ascii_lowercase().starts_with("sg-") || name == "default" {
        return Err(bad(
            "InvalidParameterValue",
            format!(
                "Value ({name}) for parameter GroupName is invalid. Group names may not be 'default' or start with 'sg-' and are at most 255 characters."
            ),
        ));
    }
    if description.len() > 255 {
        return Err(invalid_value("GroupDescription", &description));
    }
    let tags = tag_specs(p, "security-group")?;
    let id = format!("sg-{}", ctx.hex(17));
    let rule_id = format!("sgr-{}", ctx.hex(17));
    let (rgn, owner) = (ctx.region.clone(), ctx.account().to_owned());
    let r = region(ctx);
    if !r.vpcs.contains_key(&vpc_id) {
        return Err(not_found(&vpc_id));
    }
    if r.security_groups
        .values()
        .any(|g| g.vpc_id == vpc_id && g.name == name)
    {
        return Err(bad(
            "InvalidGroup.Duplicate",
            format!("The security group '{name}' already exists for VPC '{vpc_id}'"),
        ));
    }
    let mut x = Xml::new();
    x.leaf("return", "true").leaf("groupId", &id);
    tag_set(&mut x, &tags);
    x.leaf(
        "securityGroupArn",
        format!("arn:aws:ec2:{rgn}:{owner}:security-group/{id}"),
    );
    r.security_groups.insert(
        id.clone(),
        SecurityGroup {
            id,
            vpc_id,
            name,
            description,
            // EC2 gives every new group an allow-all egress rule.
            rules: vec![all_egress(rule_id)],
            tags,
            eks_cluster: None,
        },
    );
    Ok(x)
}

fn protocol(value: &str) -> ApiResult<String> {
    Ok(match value.to_ascii_lowercase().as_str() {
        "tcp" | "6" => "tcp".to_owned(),
        "udp" | "17" => "udp".to_owned(),
        "icmp" | "1" => "icmp".to_owned(),
        "-1" | "all" => "-1".to_owned(),
        other if other.parse::<u8>().is_ok() => other.to_owned(),
        other => return Err(invalid_value("IpProtocol", other)),
    })
}

/// The rules an `IpPermissions` list (or the legacy top-level form) describes.
fn requested_rules(
    p: &Params,
    egress: bool,
    group_id: &str,
    vpc_id: &str,
    r: &Ec2Region,
) -> ApiResult<Vec<Rule>> {
    let mut perms = p.structs("IpPermissions");
    if perms.is_empty() && p.get("IpProtocol").is_some() {
        let mut legacy = Params::default();
        for (k, v) in [
            ("IpProtocol", "IpProtocol"),
            ("FromPort", "FromPort"),
            ("ToPort", "ToPort"),
        ] {
            if let Some(val) = p.get(k) {
                legacy.extend(Params::parse(
                    format!("{v}={}", form_encode(val)).as_bytes(),
                ));
            }
        }
        if let Some(c) = p.get("CidrIp") {
            legacy.extend(Params::parse(
                format!("IpRanges.1.CidrIp={}", form_encode(c)).as_bytes(),
            ));
        }
        perms.push(legacy);
    }
    if perms.is_empty() {
        return Err(missing("IpPermissions"));
    }
    let mut rules = Vec::new();
    for perm in perms {
        let proto = protocol(perm.required("IpProtocol", missing)?)?;
        let from = perm.int("FromPort", invalid_value)?;
        let to = perm.int("ToPort", invalid_value)?;
        let (from, to) = match proto.as_str() {
            "-1" => (-1, -1),
            "tcp" | "udp" => {
                let (Some(f), Some(t)) = (from, to) else {
                    return Err(bad(
                        "InvalidParameterValue",
                        "Invalid value for portRange. Must specify both from and to ports with TCP/UDP.",
                    ));
                };
                if !(0..=65535).contains(&f) || !(0..=65535).contains(&t) || f > t {
                    return Err(bad(
                        "InvalidParameterValue",
                        format!(
                            "Invalid value for portRange. From port {f} and to port {t} must be between 0 and 65535 with from <= to."
                        ),
                    ));
                }
                (f, t)
            }
            _ => (from.unwrap_or(-1), to.unwrap_or(-1)),
        };
        let base = Rule {
            id: String::new(),
            egress,
            protocol: proto,
            from,
            to,
            cidr_ipv4: None,
            cidr_ipv6: None,
            group: None,
            prefix_list: None,
            description: None,
        };
        let mut any = false;
        for range in perm.structs("IpRanges") {
            let c = range.required("CidrIp", missing)?;
            cidr("CidrIp", c)?;
            rules.push(Rule {
                cidr_ipv4: Some(c.to_owned()),
                description: range.get("Description").map(str::to_owned),
                ..base.clone()
            });
            any = true;
        }
        for range in perm.structs("Ipv6Ranges") {
            let c = range.required("CidrIpv6", missing)?;
            c.parse::<ipnet::Ipv6Net>()
                .map_err(|_| invalid_value("CidrIpv6", c))?;
            rules.push(Rule {
                cidr_ipv6: Some(c.to_owned()),
                description: range.get("Description").map(str::to_owned),
                ..base.clone()
            });
            any = true;
        }
        for pair in perm.structs("Groups") {
            let gid = match (pair.get("GroupId"), pair.get("GroupName")) {
                (Some(id), _) => id.to_owned(),
                (None, Some(name)) => r
                    .security_groups
                    .values()
                    .find(|g| g.vpc_id == vpc_id && g.name == name)
                    .map(|g| g.id.clone())
                    .ok_or_else(|| {
                        bad(
                            "InvalidGroup.NotFound",
                            format!("The security group '{name}' does not exist in VPC '{vpc_id}'"),
                        )
                    })?,
                (None, None) => return Err(missing("GroupId")),
            };
            well_formed(&gid, "sg")?;
            let referenced = r.security_groups.get(&gid).ok_or_else(|| not_found(&gid))?;
            if referenced.vpc_id != vpc_id && gid != group_id {
                return Err(bad(
                    "InvalidGroup.NotFound",
                    format!(
                        "You have specified a security group '{gid}' that is not in VPC '{vpc_id}'"
                    ),
                ));
            }
            rules.push(Rule {
                group: Some(gid),
                description: pair.get("Description").map(str::to_owned),
                ..base.clone()
            });
            any = true;
        }
        for pl in perm.structs("PrefixListIds") {
            let id = pl.required("PrefixListId", missing)?;
            rules.push(Rule {
                prefix_list: Some(id.to_owned()),
                description: pl.get("Description").map(str::to_owned),
                ..base.clone()
            });
            any = true;
        }
        if !any {
            return Err(bad(
                "InvalidParameterValue",
                "each IpPermission needs at least one of IpRanges, Ipv6Ranges, UserIdGroupPairs or PrefixListIds",
            ));
        }
    }
    Ok(rules)
}

fn form_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn group_param(p: &Params, r: &Ec2Region) -> ApiResult<String> {
    match (p.get("GroupId"), p.get("GroupName")) {
        (Some(id), _) => {
            well_formed(id, "sg")?;
            if r.security_groups.contains_key(id) {
                Ok(id.to_owned())
            } else {
                Err(not_found(id))
            }
        }
        (None, Some(name)) => Err(bad(
            "InvalidGroup.NotFound",
            format!("The security group '{name}' does not exist in default VPC"),
        )),
        (None, None) => Err(missing("GroupId")),
    }
}

fn describe_rule(r: &Rule) -> String {
    let peer = r
        .cidr_ipv4
        .clone()
        .or_else(|| r.cidr_ipv6.clone())
        .or_else(|| r.group.clone())
        .or_else(|| r.prefix_list.clone())
        .unwrap_or_default();
    format!(
        "peer: {peer}, {}, from port: {}, to port: {}, ALLOW",
        r.protocol.to_uppercase(),
        r.from,
        r.to
    )
}

fn authorize(ctx: &mut Ctx<'_>, p: &Params, egress: bool) -> ApiResult<Xml> {
    let (rgn, owner) = (ctx.region.clone(), ctx.account().to_owned());
    let mut ids: Vec<String> = Vec::new();
    for _ in 0..64 {
        ids.push(format!("sgr-{}", ctx.hex(17)));
    }
    let r = region(ctx);
    let group_id = group_param(p, r)?;
    let vpc_id = r
        .security_groups
        .get(&group_id)
        .map(|g| g.vpc_id.clone())
        .unwrap_or_default();
    let mut rules = requested_rules(p, egress, &group_id, &vpc_id, r)?;
    if rules.len() > ids.len() {
        return Err(bad(
            "RulesPerSecurityGroupLimitExceeded",
            "too many rules in one request",
        ));
    }
    let g = r
        .security_groups
        .get_mut(&group_id)
        .ok_or_else(|| not_found(&group_id))?;
    for (i, rule) in rules.iter_mut().enumerate() {
        if g.rules.iter().any(|e| e.same_permission(rule)) {
            return Err(bad(
                "InvalidPermission.Duplicate",
                format!(
                    "the specified rule \"{}\" already exists",
                    describe_rule(rule)
                ),
            ));
        }
        rule.id = ids[i].clone();
    }
    let total = g.rules.iter().filter(|x| x.egress == egress).count() + rules.len();
    if total > 60 {
        return Err(bad(
            "RulesPerSecurityGroupLimitExceeded",
            "The maximum number of rules per security group has been reached.",
        ));
    }
    g.rules.extend(rules.iter().cloned());
    let g = &*g;
    let mut x = Xml::new();
    x.leaf("return", "true")
        .list("securityGroupRuleSet", "item", &rules, |x, rule| {
            rule_xml(x, g, rule, &rgn, &owner)
        });
    Ok(x)
}

fn revoke(ctx: &mut Ctx<'_>, p: &Params, egress: bool) -> ApiResult<Xml> {
    let r = region(ctx);
    let group_id = group_param(p, r)?;
    let vpc_id = r
        .security_groups
        .get(&group_id)
        .map(|g| g.vpc_id.clone())
        .unwrap_or_default();
    let rule_ids = p.list("SecurityGroupRuleId");
    let requested = if rule_ids.is_empty() {
        Some(requested_rules(p, egress, &group_id, &vpc_id, r)?)
    } else {
        None
    };
    let g = r
        .security_groups
        .get_mut(&group_id)
        .ok_or_else(|| not_found(&group_id))?;
    let mut remove: Vec<String> = Vec::new();
    match requested {
        Some(rules) => {
            for rule in rules {
                let found = g
                    .rules
                    .iter()
                    .find(|e| e.same_permission(&rule))
                    .ok_or_else(|| {
                        bad(
                            "InvalidPermission.NotFound",
                            "The specified rule does not exist in this security group.",
                        )
                    })?;
                remove.push(found.id.clone());
            }
        }
        None => {
            for id in rule_ids {
                if !g.rules.iter().any(|e| e.id == id && e.egress == egress) {
                    return Err(not_found(&id));
                }
                remove.push(id);
            }
        }
    }
    g.rules.retain(|e| !remove.contains(&e.id));
    let mut x = Xml::new();
    x.leaf("return", "true");
    Ok(x)
}

/// Sets the descriptions of existing rules, matched by permission as EC2 matches them.
fn update_descriptions(ctx: &mut Ctx<'_>, p: &Params, egress: bool) -> ApiResult<Xml> {
    let r = region(ctx);
    let group_id = group_param(p, r)?;
    let vpc_id = r
        .security_groups
        .get(&group_id)
        .map(|g| g.vpc_id.clone())
        .unwrap_or_default();
    let requested = requested_rules(p, egress, &group_id, &vpc_id, r)?;
    let g = r
        .security_groups
        .get_mut(&group_id)
        .ok_or_else(|| not_found(&group_id))?;
    for rule in requested {
        let existing = g
            .rules
            .iter_mut()
            .find(|e| e.same_permission(&rule))
            .ok_or_else(|| {
                bad(
                    "InvalidPermission.NotFound",
                    "The specified rule does not exist in this security group.",
                )
            })?;
        existing.description = rule.description.clone();
    }
    let mut x = Xml::new();
    x.leaf("return", "true");
    Ok(x)
}

fn delete_security_group(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let rgn = ctx.region.clone();
    let r = ctx.cloud.ec2.entry(rgn.clone()).or_default();
    let id = group_param(p, r)?;
    let eks_user = ctx
        .cloud
        .eks
        .get(&rgn)
        .and_then(|e| crate::eks::security_group_user(e, &id));
    let r = region(ctx);
    let g = r.security_groups.get(&id).ok_or_else(|| not_found(&id))?;
    if g.name == "default" {
        return Err(bad(
            "CannotDelete",
            format!("the specified group: \"{id}\" name: \"default\" cannot be deleted by a user"),
        ));
    }
    let referenced = r.security_groups.values().any(|o| {
        o.id != id
            && o.rules
                .iter()
                .any(|x| x.group.as_deref() == Some(id.as_str()))
    });
    let used = r.endpoints.values().any(|e| e.groups.contains(&id)) || eks_user.is_some();
    if referenced || used {
        return Err(bad(
            "DependencyViolation",
            format!("resource {id} has a dependent object"),
        ));
    }
    r.security_groups.remove(&id);
    Ok(ok_return())
}

fn describe_security_groups(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let filters = Filters::parse(
        p,
        &[
            "vpc-id",
            "group-id",
            "group-name",
            "description",
            "owner-id",
        ],
    )?;
    let ids = p.list("GroupId");
    let names = p.list("GroupName");
    let (rgn, owner) = (ctx.region.clone(), ctx.account().to_owned());
    let r = region(ctx);
    let mut selected = select(&r.security_groups, &ids, "sg")?;
    if !names.is_empty() {
        selected.retain(|(_, g)| names.contains(&g.name));
    }
    let selected: Vec<(String, &SecurityGroup)> = selected
        .into_iter()
        .filter(|(_, g)| {
            filters.matches(&g.tags, |name| match name {
                "vpc-id" => vec![g.vpc_id.clone()],
                "group-id" => vec![g.id.clone()],
                "group-name" => vec![g.name.clone()],
                "description" => vec![g.description.clone()],
                "owner-id" => vec![owner.clone()],
                _ => Vec::new(),
            })
        })
        .collect();
    let (page, next) = paginate(selected, p, !ids.is_empty())?;
    let mut x = Xml::new();
    x.list("securityGroupInfo", "item", page, |x, g| {
        security_group_xml(x, g, &rgn, &owner)
    });
    x.opt("nextToken", next);
    Ok(x)
}

fn describe_security_group_rules(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let filters = Filters::parse(p, &["group-id", "security-group-rule-id"])?;
    let ids = p.list("SecurityGroupRuleId");
    let (rgn, owner) = (ctx.region.clone(), ctx.account().to_owned());
    let r = region(ctx);
    let mut rows: Vec<(String, (&SecurityGroup, &Rule))> = Vec::new();
    for g in r.security_groups.values() {
        for rule in &g.rules {
            if !ids.is_empty() && !ids.contains(&rule.id) {
                continue;
            }
            if filters.matches(&Tags::new(), |name| match name {
                "group-id" => vec![g.id.clone()],
                "security-group-rule-id" => vec![rule.id.clone()],
                _ => Vec::new(),
            }) {
                rows.push((rule.id.clone(), (g, rule)));
            }
        }
    }
    for id in &ids {
        if !rows.iter().any(|(r, _)| r == id) {
            return Err(not_found(id));
        }
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let (page, next) = paginate(rows, p, !ids.is_empty())?;
    let mut x = Xml::new();
    x.list("securityGroupRuleSet", "item", page, |x, (g, rule)| {
        rule_xml(x, g, rule, &rgn, &owner)
    });
    x.opt("nextToken", next);
    Ok(x)
}

// ---------------------------------------------------------------- VPC endpoints

fn prefix_list(service: &str) -> String {
    format!(
        "pl-{}",
        crate::util::hex_digits(crate::util::hash_str(0, service), 8)
    )
}

fn endpoint_xml(x: &mut Xml, e: &Endpoint, r: &Ec2Region, region: &str, owner: &str) {
    let short = e.service.rsplit('.').next().unwrap_or(&e.service);
    x.leaf("vpcEndpointId", &e.id)
        .leaf("vpcEndpointType", &e.kind)
        .leaf("vpcId", &e.vpc_id)
        .leaf("serviceName", &e.service)
        .leaf("state", &e.state)
        .leaf("policyDocument", &e.policy)
        .strings("routeTableIdSet", "item", &e.route_tables)
        .strings("subnetIdSet", "item", &e.subnets)
        .list("groupSet", "item", &e.groups, |x, g| {
            x.leaf("groupId", g).opt(
                "groupName",
                r.security_groups.get(g).map(|s| s.name.clone()),
            );
        })
        .leaf("ipAddressType", "ipv4")
        .node("dnsOptions", |x| {
            x.leaf("dnsRecordIpType", "ipv4");
        })
        .leaf("privateDnsEnabled", e.private_dns)
        .leaf("requesterManaged", "false")
        .strings("networkInterfaceIdSet", "item", &e.enis)
        .list(
            "dnsEntrySet",
            "item",
            (e.kind == "Interface").then_some(()).iter(),
            |x, ()| {
                x.leaf(
                    "dnsName",
                    format!("{}.{short}.{region}.vpce.amazonaws.com", e.id),
                )
                .leaf("hostedZoneId", "Z7HUB22UULQXV");
            },
        )
        .leaf("creationTimestamp", iso8601(e.created));
    tag_set(x, &e.tags);
    x.leaf("ownerId", owner);
}

fn create_endpoint(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let vpc_id = vpc_id_param(p)?.to_owned();
    let service = p.required("ServiceName", missing)?.to_owned();
    let kind = p.get("VpcEndpointType").unwrap_or("Gateway").to_owned();
    let rgn = ctx.region.clone();
    let prefix = format!("com.amazonaws.{rgn}.");
    let short = service.strip_prefix(&prefix).unwrap_or("");
    if short.is_empty()
        || !short
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Err(bad(
            "InvalidServiceName",
            format!("The Vpc Endpoint Service '{service}' does not exist"),
        ));
    }
    match kind.as_str() {
        "Gateway" if !["s3", "dynamodb"].contains(&short) => {
            return Err(bad(
                "InvalidParameter",
                format!(
                    "The Vpc Endpoint Service '{service}' does not support the Gateway endpoint type"
                ),
            ));
        }
        "Gateway" | "Interface" => {}
        other => return Err(invalid_value("VpcEndpointType", other)),
    }
    let route_tables = p.list("RouteTableId");
    let subnets = p.list("SubnetId");
    let mut groups = p.list("SecurityGroupId");
    let private_dns = p
        .bool("PrivateDnsEnabled", invalid_value)?
        .unwrap_or(kind == "Interface");
    let policy = p.get("PolicyDocument").unwrap_or(DEFAULT_POLICY).to_owned();
    if serde_json::from_str::<serde_json::Value>(&policy).is_err() {
        return Err(bad(
            "InvalidPolicyDocument",
            "The policy document is not valid JSON",
        ));
    }
    let tags = tag_specs(p, "vpc-endpoint")?;
    let token = p.get("ClientToken").map(str::to_owned);
    let id = format!("vpce-{}", ctx.hex(17));
    let enis: Vec<String> = subnets
        .iter()
        .map(|_| format!("eni-{}", ctx.hex(17)))
        .collect();
    let (now, owner) = (ctx.now, ctx.account().to_owned());
    let op = if kind == "Gateway" {
        Op::GatewayEndpoint
    } else {
        Op::InterfaceEndpoint
    };
    let cluster = tags.get(CLUSTER_TAG).cloned();
    let deadline = ctx.deadline(op, &id, "ec2", &id, cluster.as_deref());
    let fails = ctx.faults.fails(
        FailureTarget::VpcEndpoint,
        &[&id, tags.get("Name").map_or("", String::as_str)],
    );
    let r = region(ctx);
    if let Some(token) = &token
        && let Some(existing) = r.tokens.get(token).and_then(|id| r.endpoints.get(id))
    {
        if existing.service != service || existing.vpc_id != vpc_id {
            return Err(bad(
                "IdempotentParameterMismatch",
                "The client token you have provided is associated with a resource that has different parameters.",
            ));
        }
        let mut x = Xml::new();
        x.node("vpcEndpoint", |x| {
            endpoint_xml(x, existing, r, &rgn, &owner)
        })
        .leaf("clientToken", token);
        // A replay starts nothing: it draws no duration.
        ctx.ops.clear();
        return Ok(x);
    }
    let vpc = r.vpcs.get(&vpc_id).ok_or_else(|| not_found(&vpc_id))?;
    if kind == "Gateway" {
        if !subnets.is_empty() || !groups.is_empty() {
            return Err(bad(
                "InvalidParameter",
                "Gateway endpoints take route tables, not subnets or security groups",
            ));
        }
        for t in &route_tables {
            well_formed(t, "rtb")?;
            let table = r.route_tables.get(t).ok_or_else(|| not_found(t))?;
            if table.vpc_id != vpc_id {
                return Err(bad(
                    "InvalidParameter",
                    format!("route table {t} is not in {vpc_id}"),
                ));
            }
        }
    } else {
        if !route_tables.is_empty() {
            return Err(bad(
                "InvalidParameter",
                "Interface endpoints do not take route tables",
            ));
        }
        if private_dns && !(vpc.dns_support && vpc.dns_hostnames) {
            return Err(bad(
                "InvalidParameter",
                format!(
                    "Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes set to true for {vpc_id}"
                ),
            ));
        }
        if private_dns
            && r.endpoints.values().any(|e| {
                e.vpc_id == vpc_id && e.service == service && e.private_dns && e.kind == "Interface"
            })
        {
            return Err(bad(
                "InvalidParameter",
                format!(
                    "private-dns-enabled cannot be set because there is already a conflicting DNS domain for {short}.{rgn}.amazonaws.com in the VPC {vpc_id}"
                ),
            ));
        }
        let mut seen_zones: Vec<&str> = Vec::new();
        for s in &subnets {
            well_formed(s, "subnet")?;
            let subnet = r.subnets.get(s).ok_or_else(|| not_found(s))?;
            if subnet.vpc_id != vpc_id {
                return Err(bad(
                    "InvalidParameter",
                    format!("The subnet ID '{s}' is not in {vpc_id}"),
                ));
            }
            if seen_zones.contains(&subnet.az.as_str()) {
                return Err(bad(
                    "DuplicateSubnetsInSameZone",
                    format!(
                        "Found another VPC endpoint subnet in the availability zone of {s}. VPC endpoint subnets should be in different availability zones supported by the VPC endpoint service."
                    ),
                ));
            }
            seen_zones.push(&subnet.az);
        }
        if groups.is_empty() {
            groups.push(vpc.default_security_group.clone());
        }
        for g in &groups {
            well_formed(g, "sg")?;
            let sg = r.security_groups.get(g).ok_or_else(|| not_found(g))?;
            if sg.vpc_id != vpc_id {
                return Err(bad(
                    "InvalidParameter",
                    format!("security group {g} is not in {vpc_id}"),
                ));
            }
        }
    }
    if kind == "Gateway" {
        let pl = prefix_list(short);
        for t in &route_tables {
            if let Some(table) = r.route_tables.get_mut(t) {
                table.routes.push(Route {
                    destination: pl.clone(),
                    gateway_id: Some(id.clone()),
                    nat_gateway_id: None,
                    origin: "CreateRoute".to_owned(),
                });
            }
        }
    }
    let e = Endpoint {
        id: id.clone(),
        vpc_id,
        service,
        kind: kind.clone(),
        state: "pending".to_owned(),
        pending: Some(Pending {
            at: deadline,
            to: if fails { "failed" } else { "available" }.to_owned(),
        }),
        route_tables,
        subnets,
        groups,
        private_dns,
        policy,
        enis,
        created: now,
        client_token: token.clone(),
        tags,
    };
    let mut x = Xml::new();
    x.node("vpcEndpoint", |x| endpoint_xml(x, &e, r, &rgn, &owner));
    x.opt("clientToken", token.as_ref());
    if let Some(token) = token {
        r.tokens.insert(token, id.clone());
    }
    r.endpoints.insert(id, e);
    Ok(x)
}

fn describe_endpoints(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let filters = Filters::parse(
        p,
        &[
            "vpc-id",
            "vpc-endpoint-id",
            "service-name",
            "vpc-endpoint-type",
            "vpc-endpoint-state",
        ],
    )?;
    let ids = p.list("VpcEndpointId");
    let (rgn, owner) = (ctx.region.clone(), ctx.account().to_owned());
    let r = region(ctx);
    let selected: Vec<(String, &Endpoint)> = select(&r.endpoints, &ids, "vpce")?
        .into_iter()
        .filter(|(_, e)| {
            filters.matches(&e.tags, |name| match name {
                "vpc-id" => vec![e.vpc_id.clone()],
                "vpc-endpoint-id" => vec![e.id.clone()],
                "service-name" => vec![e.service.clone()],
                "vpc-endpoint-type" => vec![e.kind.clone()],
                "vpc-endpoint-state" => vec![e.state.clone()],
                _ => Vec::new(),
            })
        })
        .collect();
    let (page, next) = paginate(selected, p, !ids.is_empty())?;
    let mut x = Xml::new();
    x.list("vpcEndpointSet", "item", page, |x, e| {
        endpoint_xml(x, e, r, &rgn, &owner)
    });
    x.opt("nextToken", next);
    Ok(x)
}

fn modify_endpoint(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let id = p.required("VpcEndpointId", missing)?.to_owned();
    well_formed(&id, "vpce")?;
    let add_subnets = p.list("AddSubnetId");
    let new_enis: Vec<String> = add_subnets
        .iter()
        .map(|_| format!("eni-{}", ctx.hex(17)))
        .collect();
    let r = region(ctx);
    let e = r.endpoints.get(&id).ok_or_else(|| not_found(&id))?;
    if e.state == "deleting" {
        return Err(bad(
            "IncorrectState",
            format!("VPC endpoint {id} is being deleted"),
        ));
    }
    let (vpc_id, kind, service) = (e.vpc_id.clone(), e.kind.clone(), e.service.clone());
    let add_tables = p.list("AddRouteTableId");
    let remove_tables = p.list("RemoveRouteTableId");
    let add_groups = p.list("AddSecurityGroupId");
    let remove_groups = p.list("RemoveSecurityGroupId");
    let remove_subnets = p.list("RemoveSubnetId");
    if kind == "Gateway" && (!add_subnets.is_empty() || !add_groups.is_empty()) {
        return Err(bad(
            "InvalidParameter",
            "Gateway endpoints take route tables, not subnets or security groups",
        ));
    }
    if kind == "Interface" && !add_tables.is_empty() {
        return Err(bad(
            "InvalidParameter",
            "Interface endpoints do not take route tables",
        ));
    }
    for t in &add_tables {
        let table = r.route_tables.get(t).ok_or_else(|| not_found(t))?;
        if table.vpc_id != vpc_id {
            return Err(bad(
                "InvalidParameter",
                format!("route table {t} is not in {vpc_id}"),
            ));
        }
    }
    for s in &add_subnets {
        let subnet = r.subnets.get(s).ok_or_else(|| not_found(s))?;
        if subnet.vpc_id != vpc_id {
            return Err(bad(
                "InvalidParameter",
                format!("The subnet ID '{s}' is not in {vpc_id}"),
            ));
        }
    }
    for g in &add_groups {
        if !r.security_groups.contains_key(g) {
            return Err(not_found(g));
        }
    }
    if let Some(doc) = p.get("PolicyDocument")
        && serde_json::from_str::<serde_json::Value>(doc).is_err()
    {
        return Err(bad(
            "InvalidPolicyDocument",
            "The policy document is not valid JSON",
        ));
    }
    let pl = prefix_list(service.rsplit('.').next().unwrap_or(""));
    for t in &add_tables {
        if let Some(table) = r.route_tables.get_mut(t)
            && !table.routes.iter().any(|x| x.destination == pl)
        {
            table.routes.push(Route {
                destination: pl.clone(),
                gateway_id: Some(id.clone()),
                nat_gateway_id: None,
                origin: "CreateRoute".to_owned(),
            });
        }
    }
    for t in &remove_tables {
        if let Some(table) = r.route_tables.get_mut(t) {
            table
                .routes
                .retain(|x| x.gateway_id.as_deref() != Some(id.as_str()));
        }
    }
    let reset = p.bool("ResetPolicy", invalid_value)?.unwrap_or(false);
    let private_dns = p.bool("PrivateDnsEnabled", invalid_value)?;
    let Some(e) = r.endpoints.get_mut(&id) else {
        return Err(not_found(&id));
    };
    for t in add_tables {
        if !e.route_tables.contains(&t) {
            e.route_tables.push(t);
        }
    }
    e.route_tables.retain(|t| !remove_tables.contains(t));
    for (s, eni) in add_subnets.into_iter().zip(new_enis) {
        if !e.subnets.contains(&s) {
            e.subnets.push(s);
            e.enis.push(eni);
        }
    }
    let keep: Vec<bool> = e
        .subnets
        .iter()
        .map(|s| !remove_subnets.contains(s))
        .collect();
    let mut i = 0;
    e.enis.retain(|_| {
        i += 1;
        keep[i - 1]
    });
    e.subnets.retain(|s| !remove_subnets.contains(s));
    for g in add_groups {
        if !e.groups.contains(&g) {
            e.groups.push(g);
        }
    }
    e.groups.retain(|g| !remove_groups.contains(g));
    if let Some(doc) = p.get("PolicyDocument") {
        e.policy = doc.to_owned();
    }
    if reset {
        e.policy = DEFAULT_POLICY.to_owned();
    }
    if let Some(d) = private_dns {
        e.private_dns = d;
    }
    Ok(ok_return())
}

fn delete_endpoints(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let ids = p.list("VpcEndpointId");
    if ids.is_empty() {
        return Err(missing("VpcEndpointId"));
    }
    // Only endpoints that start deleting draw a duration; the others are `unsuccessful`.
    let deleting: Vec<(String, Option<String>)> = ids
        .iter()
        .filter_map(|id| {
            let e = region(ctx).endpoints.get(id)?;
            (e.state != "deleting").then(|| (id.clone(), e.tags.get(CLUSTER_TAG).cloned()))
        })
        .collect();
    let deadlines: Vec<u64> = ids
        .iter()
        .map(|id| match deleting.iter().find(|(d, _)| d == id) {
            Some((_, owner)) => ctx.deadline(Op::EndpointDelete, id, "ec2", id, owner.as_deref()),
            None => ctx.now,
        })
        .collect();
    let r = region(ctx);
    let mut failed: Vec<(String, ApiError)> = Vec::new();
    for (id, deadline) in ids.iter().zip(deadlines) {
        match r.endpoints.get_mut(id) {
            Some(e) if e.state != "deleting" => {
                e.state = "deleting".to_owned();
                e.pending = Some(Pending {
                    at: deadline,
                    to: "gone".to_owned(),
                });
                for t in r.route_tables.values_mut() {
                    t.routes
                        .retain(|x| x.gateway_id.as_deref() != Some(id.as_str()));
                }
            }
            _ => failed.push((id.clone(), not_found(id))),
        }
    }
    let mut x = Xml::new();
    x.list("unsuccessful", "item", failed, |x, (id, e)| {
        x.node("error", |x| {
            x.leaf("code", &e.code).leaf("message", &e.message);
        })
        .leaf("resourceId", id);
    });
    Ok(x)
}

// ---------------------------------------------------------------- tags

fn tags_of<'r>(r: &'r mut Ec2Region, id: &str) -> ApiResult<(&'static str, &'r mut Tags)> {
    let kind = id.split('-').next().unwrap_or("");
    let found = match kind {
        "vpc" => r.vpcs.get_mut(id).map(|o| ("vpc", &mut o.tags)),
        "subnet" => r.subnets.get_mut(id).map(|o| ("subnet", &mut o.tags)),
        "igw" => r
            .igws
            .get_mut(id)
            .map(|o| ("internet-gateway", &mut o.tags)),
        "eipalloc" => r.addresses.get_mut(id).map(|o| ("elastic-ip", &mut o.tags)),
        "nat" => r.nats.get_mut(id).map(|o| ("natgateway", &mut o.tags)),
        "rtb" => r
            .route_tables
            .get_mut(id)
            .map(|o| ("route-table", &mut o.tags)),
        "sg" => r
            .security_groups
            .get_mut(id)
            .map(|o| ("security-group", &mut o.tags)),
        "vpce" => r
            .endpoints
            .get_mut(id)
            .map(|o| ("vpc-endpoint", &mut o.tags)),
        _ => return Err(bad("InvalidID", format!("The ID '{id}' is not valid"))),
    };
    found.ok_or_else(|| not_found(id))
}

fn create_tags(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let ids = p.list("ResourceId");
    let tags: Vec<(String, String)> = p
        .structs("Tag")
        .iter()
        .map(|t| {
            (
                t.get("Key").unwrap_or("").to_owned(),
                t.get("Value").unwrap_or("").to_owned(),
            )
        })
        .collect();
    for (k, v) in &tags {
        check_tag(k, v)?;
    }
    let r = region(ctx);
    for id in &ids {
        tags_of(r, id)?;
    }
    for id in &ids {
        let (_, existing) = tags_of(r, id)?;
        let mut merged = existing.clone();
        merged.extend(tags.iter().cloned());
        if merged.len() > 50 {
            return Err(bad(
                "TagLimitExceeded",
                format!("The maximum number of tags (50) was exceeded for {id}"),
            ));
        }
        *existing = merged;
    }
    Ok(ok_return())
}

fn delete_tags(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let ids = p.list("ResourceId");
    let tags: Vec<(String, Option<String>)> = p
        .structs("Tag")
        .iter()
        .map(|t| {
            (
                t.get("Key").unwrap_or("").to_owned(),
                t.get("Value").map(str::to_owned),
            )
        })
        .collect();
    let r = region(ctx);
    for id in &ids {
        tags_of(r, id)?;
    }
    for id in &ids {
        let (_, existing) = tags_of(r, id)?;
        if tags.is_empty() {
            existing.clear();
        }
        for (k, v) in &tags {
            if v.as_ref().is_none_or(|v| existing.get(k) == Some(v)) {
                existing.remove(k);
            }
        }
    }
    Ok(ok_return())
}

/// One DescribeTags row: resource id, resource type, key, value.
type TagRow = (String, &'static str, String, String);

fn describe_tags(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let filters = Filters::parse(p, &["resource-id", "resource-type", "key", "value"])?;
    let mut rows: Vec<(String, TagRow)> = Vec::new();
    let mut region_tagged = Vec::new();
    tagged(&ctx.region.clone(), region(ctx), &mut region_tagged);
    for t in region_tagged {
        let kind = match t.kind {
            "vpc" => "vpc",
            "subnet" => "subnet",
            "internet-gateway" => "internet-gateway",
            "elastic-ip" => "elastic-ip",
            "natgateway" => "natgateway",
            "route-table" => "route-table",
            "security-group" => "security-group",
            _ => "vpc-endpoint",
        };
        for (k, v) in t.tags {
            let keep = filters.matches(&Tags::new(), |name| match name {
                "resource-id" => vec![t.id.clone()],
                "resource-type" => vec![kind.to_owned()],
                "key" => vec![k.clone()],
                "value" => vec![v.clone()],
                _ => Vec::new(),
            });
            if keep {
                rows.push((format!("{}/{k}", t.id), (t.id.clone(), kind, k, v)));
            }
        }
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let (page, next) = paginate(rows, p, false)?;
    let mut x = Xml::new();
    x.list("tagSet", "item", page, |x, (id, kind, k, v)| {
        x.leaf("resourceId", id)
            .leaf("resourceType", kind)
            .leaf("key", k)
            .leaf("value", v);
    });
    x.opt("nextToken", next);
    Ok(x)
}

fn describe_zones(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let filters = Filters::parse(p, &["zone-name", "zone-id", "state", "region-name"])?;
    let names = p.list("ZoneName");
    let rgn = ctx.region.clone();
    let zones: Vec<String> = zones(&rgn)
        .into_iter()
        .filter(|z| names.is_empty() || names.contains(z))
        .filter(|z| {
            filters.matches(&Tags::new(), |name| match name {
                "zone-name" => vec![z.clone()],
                "zone-id" => vec![zone_id(&rgn, z)],
                "state" => vec!["available".to_owned()],
                "region-name" => vec![rgn.clone()],
                _ => Vec::new(),
            })
        })
        .collect();
    let mut x = Xml::new();
    x.list("availabilityZoneInfo", "item", zones, |x, z| {
        x.leaf("zoneName", &z)
            .leaf("zoneId", zone_id(&rgn, &z))
            .leaf("zoneState", "available")
            .leaf("regionName", &rgn)
            .leaf("zoneType", "availability-zone")
            .leaf("groupName", &rgn)
            .leaf("optInStatus", "opt-in-not-required")
            .leaf("networkBorderGroup", &rgn)
            .node("messageSet", |_| {});
    });
    Ok(x)
}

/// The instance types offered in the region or in each of its zones.
fn describe_offerings(ctx: &mut Ctx<'_>, p: &Params) -> ApiResult<Xml> {
    let location_type = p.get("LocationType").unwrap_or("region").to_owned();
    let rgn = ctx.region.clone();
    let locations: Vec<String> = match location_type.as_str() {
        "region" => vec![rgn.clone()],
        "availability-zone" => zones(&rgn),
        "availability-zone-id" => zones(&rgn).iter().map(|z| zone_id(&rgn, z)).collect(),
        other => return Err(invalid_value("LocationType", other)),
    };
    let filters = Filters::parse(p, &["instance-type", "location"])?;
    let types = crate::offerings::aws_instance_types();
    let mut items = Vec::new();
    for location in &locations {
        for t in types
            .iter()
            .filter(|t| crate::offerings::aws_offered(t, &rgn))
        {
            let wanted = filters.matches(&Tags::new(), |name| match name {
                "instance-type" => vec![t.clone()],
                "location" => vec![location.clone()],
                _ => Vec::new(),
            });
            if wanted {
                items.push((format!("{location}/{t}"), (t.clone(), location.clone())));
            }
        }
    }
    let (page, next) = paginate(items, p, false)?;
    let mut x = Xml::new();
    x.list(
        "instanceTypeOfferingSet",
        "item",
        page,
        |x, (t, location)| {
            x.leaf("instanceType", &t)
                .leaf("locationType", &location_type)
                .leaf("location", &location);
        },
    );
    x.opt("nextToken", next);
    Ok(x)
}

// ---------------------------------------------------------------- lifecycles and queries

/// Completes NAT gateway and endpoint transitions; `true` when anything changed.
pub(crate) fn sweep(r: &mut Ec2Region, now: u64) -> bool {
    let mut changed = false;
    let mut gone: Vec<String> = Vec::new();
    for n in r.nats.values_mut() {
        if let Some(p) = n.pending.clone()
            && p.at <= now
        {
            changed = true;
            match p.to.as_str() {
                "gone" => gone.push(n.id.clone()),
                "deleted" => {
                    n.state = "deleted".to_owned();
                    n.pending = Some(Pending {
                        at: n.gone_at.unwrap_or(p.at),
                        to: "gone".to_owned(),
                    });
                }
                "failed" => {
                    n.state = "failed".to_owned();
                    n.failure = Some((
                        "InternalError".to_owned(),
                        "Network interface creation failed (injected fault).".to_owned(),
                    ));
                    n.pending = None;
                }
                to => {
                    n.state = to.to_owned();
                    n.pending = None;
                }
            }
        }
    }
    for id in gone {
        r.nats.remove(&id);
    }
    let mut gone: Vec<String> = Vec::new();
    for e in r.endpoints.values_mut() {
        if let Some(p) = e.pending.clone()
            && p.at <= now
        {
            changed = true;
            if p.to == "gone" {
                gone.push(e.id.clone());
            } else {
                e.state = p.to;
                e.pending = None;
            }
        }
    }
    for id in gone {
        r.endpoints.remove(&id);
        r.tokens.retain(|_, v| *v != id);
    }
    changed
}

/// The VPC and availability zone of a subnet.
pub(crate) fn subnet_placement(r: &Ec2Region, id: &str) -> Option<(String, String)> {
    r.subnets.get(id).map(|s| (s.vpc_id.clone(), s.az.clone()))
}

/// The CIDR of a VPC.
pub(crate) fn vpc_cidr(r: &Ec2Region, id: &str) -> Option<String> {
    r.vpcs.get(id).map(|v| v.cidr.clone())
}

/// Whether a subnet can reach the internet or ECR: its route table sends 0.0.0.0/0 to an
/// available NAT gateway or an attached internet gateway, or the VPC has the endpoints a
/// private cluster's nodes need (ECR API and DKR, S3).
pub(crate) fn subnet_has_egress(r: &Ec2Region, id: &str) -> bool {
    let Some(subnet) = r.subnets.get(id) else {
        return false;
    };
    let table = r
        .route_tables
        .values()
        .find(|t| t.associations.iter().any(|a| a.subnet_id == id))
        .or_else(|| {
            r.vpcs
                .get(&subnet.vpc_id)
                .and_then(|v| r.route_tables.get(&v.main_route_table))
        });
    let default_route = table.is_some_and(|t| {
        t.routes.iter().any(|route| {
            route.destination == "0.0.0.0/0"
                && (route
                    .nat_gateway_id
                    .as_ref()
                    .is_some_and(|n| r.nats.get(n).is_some_and(|n| n.state == "available"))
                    || route.gateway_id.as_ref().is_some_and(|g| {
                        r.igws
                            .get(g)
                            .is_some_and(|i| i.vpc_id.as_deref() == Some(subnet.vpc_id.as_str()))
                    }))
        })
    });
    let has = |suffix: &str| {
        r.endpoints.values().any(|e| {
            e.vpc_id == subnet.vpc_id && e.state == "available" && e.service.ends_with(suffix)
        })
    };
    default_route || (has(".ecr.api") && has(".ecr.dkr") && has(".s3"))
}

/// Adds every tagged EC2 object of a region.
pub(crate) fn tagged(region: &str, r: &Ec2Region, out: &mut Vec<Tagged>) {
    let mut push = |kind: &'static str, id: &str, tags: &Tags| {
        out.push(Tagged {
            service: "ec2",
            kind,
            id: id.to_owned(),
            region: region.to_owned(),
            tags: tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        });
    };
    r.vpcs.values().for_each(|o| push("vpc", &o.id, &o.tags));
    r.subnets
        .values()
        .for_each(|o| push("subnet", &o.id, &o.tags));
    r.igws
        .values()
        .for_each(|o| push("internet-gateway", &o.id, &o.tags));
    r.addresses
        .values()
        .for_each(|o| push("elastic-ip", &o.id, &o.tags));
    r.nats
        .values()
        .filter(|n| n.state != "deleted")
        .for_each(|o| push("natgateway", &o.id, &o.tags));
    r.route_tables
        .values()
        .for_each(|o| push("route-table", &o.id, &o.tags));
    r.security_groups
        .values()
        .for_each(|o| push("security-group", &o.id, &o.tags));
    r.endpoints
        .values()
        .for_each(|o| push("vpc-endpoint", &o.id, &o.tags));
}

/// Creates the security group EKS makes for a cluster; returns its id.
pub(crate) fn create_cluster_security_group(
    r: &mut Ec2Region,
    id: String,
    rule_ids: [String; 2],
    vpc_id: &str,
    cluster: &str,
) -> String {
    let [ingress, egress] = rule_ids;
    let name = format!("eks-cluster-sg-{cluster}-{}", &id[3..13]);
    let tags = Tags::from([
        (
            format!("kubernetes.io/cluster/{cluster}"),
            "owned".to_owned(),
        ),
        ("aws:eks:cluster-name".to_owned(), cluster.to_owned()),
        ("Name".to_owned(), name.clone()),
    ]);
    r.security_groups.insert(
        id.clone(),
        SecurityGroup {
            id: id.clone(),
            vpc_id: vpc_id.to_owned(),
            name,
            description: "EKS created security group applied to ENI that is attached to EKS Control Plane master nodes, as well as any managed workloads.".to_owned(),
            rules: vec![
                Rule {
                    id: ingress,
                    egress: false,
                    protocol: "-1".to_owned(),
                    from: -1,
                    to: -1,
                    cidr_ipv4: None,
                    cidr_ipv6: None,
                    group: Some(id.clone()),
                    prefix_list: None,
                    description: None,
                },
                all_egress(egress),
            ],
            tags,
            eks_cluster: Some(cluster.to_owned()),
        },
    );
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_ids_follow_the_region() {
        assert_eq!(zone_id("us-east-1", "us-east-1a"), "use1-az1");
        assert_eq!(zone_id("eu-west-1", "eu-west-1c"), "euw1-az3");
        assert_eq!(zones("us-east-1").len(), 6);
        assert_eq!(
            zones("eu-west-1"),
            ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
        );
    }

    #[test]
    fn cidrs_must_be_canonical() {
        assert!(cidr("cidrBlock", "10.0.0.0/16").is_ok());
        assert_eq!(
            cidr("cidrBlock", "10.0.0.1/16").unwrap_err().code,
            "InvalidParameterValue"
        );
        assert_eq!(
            cidr("cidrBlock", "10.0.0.0/33").unwrap_err().code,
            "InvalidParameterValue"
        );
        assert_eq!(
            cidr("cidrBlock", "banana").unwrap_err().code,
            "InvalidParameterValue"
        );
    }

    #[test]
    fn ids_must_be_well_formed() {
        assert!(well_formed("vpc-0123456789abcdef0", "vpc").is_ok());
        assert_eq!(
            well_formed("vpc_1", "vpc").unwrap_err().code,
            "InvalidVpcID.Malformed"
        );
        assert_eq!(
            well_formed("subnet-xyz", "subnet").unwrap_err().code,
            "InvalidSubnetID.Malformed"
        );
    }
}
