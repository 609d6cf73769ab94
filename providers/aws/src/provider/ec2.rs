//! EC2 kinds: VPC, subnet, internet gateway, Elastic IP, NAT gateway, route table, security
//! group and VPC endpoint.
//!
//! EC2 ids are random, so adoption finds an object by its ownership tags (fleet and address);
//! creates tag in the same call (`TagSpecifications`), so no untagged object can be left
//! behind by an interruption. It must never modify an object that lacks this fleet's tags.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use slipway_provider::{Created, ErrorClass, LiveObject, Properties, ProviderError, Value};

use super::props::{self, Props, managed_tags, tags_value};
use super::session::{Session, found};
use super::{API_EC2_READ, Clients};
use crate::kinds::{API_EC2_MUTATING, API_EC2_NAT, API_EC2_VPCE};
use crate::names;

/// The ownership filters of the resource in session `s`.
fn owned_filters(s: &Session<'_>) -> Vec<Filter> {
    vec![
        Filter::builder()
            .name(format!("tag:{}", slipway_provider::TAG_FLEET))
            .values(s.ctx.fleet.clone())
            .build(),
        Filter::builder()
            .name(format!("tag:{}", slipway_provider::TAG_ADDRESS))
            .values(s.address.to_string())
            .build(),
    ]
}

fn tag_spec(kind: ResourceType, tags: &BTreeMap<String, String>) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .build()
}

fn live_tags(tags: &[Tag]) -> BTreeMap<String, String> {
    managed_tags(tags.iter().filter_map(|t| {
        Some((
            t.key()?.to_owned(),
            t.value().unwrap_or_default().to_owned(),
        ))
    }))
}

/// Makes the object's tags exactly the desired ones (tags starting with `aws:` aside).
async fn sync_tags(
    c: &Clients,
    s: &Session<'_>,
    id: &str,
    live: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
) -> Result<(), ProviderError> {
    let add: Vec<Tag> = desired
        .iter()
        .filter(|(k, v)| live.get(*k) != Some(*v))
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    if !add.is_empty() {
        let keys: Vec<&str> = add.iter().filter_map(Tag::key).collect();
        s.mutating(
            "CreateTags",
            API_EC2_MUTATING,
            serde_json::json!({ "resource": id, "keys": keys }),
        )
        .await?;
        c.ec2
            .create_tags()
            .resources(id)
            .set_tags(Some(add))
            .send()
            .await
            .map_err(|e| s.fail("CreateTags", e))?;
    }
    let remove: Vec<Tag> = live
        .keys()
        .filter(|k| !desired.contains_key(*k))
        .map(|k| Tag::builder().key(k).build())
        .collect();
    if !remove.is_empty() {
        let keys: Vec<&str> = remove.iter().filter_map(Tag::key).collect();
        s.mutating(
            "DeleteTags",
            API_EC2_MUTATING,
            serde_json::json!({ "resource": id, "keys": keys }),
        )
        .await?;
        c.ec2
            .delete_tags()
            .resources(id)
            .set_tags(Some(remove))
            .send()
            .await
            .map_err(|e| s.fail("DeleteTags", e))?;
    }
    Ok(())
}

/// The ARN of an EC2 object of `kind` (`vpc`, `security-group`, …).
fn arn(c: &Clients, owner: Option<&str>, kind: &str, id: &str) -> Value {
    Value::from(format!(
        "arn:{}:ec2:{}:{}:{kind}/{id}",
        names::partition(&c.region),
        c.region,
        owner.unwrap_or_default()
    ))
}

fn props_of<const N: usize>(pairs: [(&str, Value); N]) -> Properties {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn created(id: &str, outputs: Properties, ready: bool) -> Created {
    Created {
        cloud_id: id.to_owned(),
        outputs,
        ready,
    }
}

pub(crate) mod vpc {
    //! The VPC kind. Deleting waits out dependency violations while subnets, gateways and
    //! ENIs of the same walk are still going away.

    use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, VpcAttributeName, VpcState};

    use super::*;
    use crate::provider::session::{DEPENDENTS_GRACE, Poll, Waiter, poll, retry_conflicts};

    pub(crate) async fn create(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        replacing: Option<&str>,
    ) -> Result<Created, ProviderError> {
        s.read(API_EC2_READ).await;
        let out = c
            .ec2
            .describe_vpcs()
            .set_filters(Some(owned_filters(s)))
            .send()
            .await
            .map_err(|e| s.fail("DescribeVpcs", e))?;
        let existing = out
            .vpcs()
            .iter()
            .filter_map(|v| v.vpc_id())
            .find(|id| Some(*id) != replacing);
        let id = match existing {
            Some(id) => id.to_owned(),
            None => {
                let cidr = p.str("cidr_block")?;
                s.mutating(
                    "CreateVpc",
                    API_EC2_MUTATING,
                    serde_json::json!({ "cidr_block": cidr }),
                )
                .await?;
                let out = c
                    .ec2
                    .create_vpc()
                    .cidr_block(cidr)
                    .tag_specifications(tag_spec(ResourceType::Vpc, &p.tags()?))
                    .send()
                    .await
                    .map_err(|e| s.fail("CreateVpc", e))?;
                out.vpc()
                    .and_then(|v| v.vpc_id())
                    .ok_or_else(|| s.missing("CreateVpc", "Vpc.VpcId"))?
                    .to_owned()
            }
        };
        converge(c, s, p, &id).await
    }

    async fn attribute(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
        name: VpcAttributeName,
    ) -> Result<bool, ProviderError> {
        s.read(API_EC2_READ).await;
        let out = c
            .ec2
            .describe_vpc_attribute()
            .vpc_id(id)
            .attribute(name.clone())
            .send()
            .await
            .map_err(|e| s.fail("DescribeVpcAttribute", e))?;
        let value = match name {
            VpcAttributeName::EnableDnsHostnames => out.enable_dns_hostnames(),
            _ => out.enable_dns_support(),
        };
        Ok(value.and_then(|v| v.value()).unwrap_or(false))
    }

    pub(crate) async fn converge(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        id: &str,
    ) -> Result<Created, ProviderError> {
        let Some(live) = read(c, s, id).await? else {
            return Err(s.error(
                ErrorClass::NotFound,
                "DescribeVpcs",
                "InvalidVpcID.NotFound",
                id,
            ));
        };
        // DNS support must be on before hostnames can be; set it first.
        for (key, name) in [
            ("enable_dns_support", VpcAttributeName::EnableDnsSupport),
            ("enable_dns_hostnames", VpcAttributeName::EnableDnsHostnames),
        ] {
            let Some(want) = p.opt_bool(key)? else {
                continue;
            };
            if live.properties.get(key) == Some(&Value::Bool(want)) {
                continue;
            }
            s.mutating(
                "ModifyVpcAttribute",
                API_EC2_MUTATING,
                serde_json::json!({ "vpc_id": id, key: want }),
            )
            .await?;
            let flag = AttributeBooleanValue::builder().value(want).build();
            let req = c.ec2.modify_vpc_attribute().vpc_id(id);
            let req = match name {
                VpcAttributeName::EnableDnsSupport => req.enable_dns_support(flag),
                _ => req.enable_dns_hostnames(flag),
            };
            req.send()
                .await
                .map_err(|e| s.fail("ModifyVpcAttribute", e))?;
        }
        let live_tags = props::Props::new(&live.properties, s.address).tags()?;
        sync_tags(c, s, id, &live_tags, &p.tags()?).await?;
        Ok(created(id, live.outputs, false))
    }

    pub(crate) async fn read(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<Option<LiveObject>, ProviderError> {
        s.read(API_EC2_READ).await;
        let out = found(
            c.ec2
                .describe_vpcs()
                .vpc_ids(id)
                .send()
                .await
                .map_err(|e| s.fail("DescribeVpcs", e)),
        )?;
        let Some(vpc) = out.as_ref().and_then(|o| o.vpcs().first()) else {
            return Ok(None);
        };
        let support = attribute(c, s, id, VpcAttributeName::EnableDnsSupport).await?;
        let hostnames = attribute(c, s, id, VpcAttributeName::EnableDnsHostnames).await?;
        Ok(Some(LiveObject {
            cloud_id: id.to_owned(),
            properties: props_of([
                (
                    "cidr_block",
                    Value::from(vpc.cidr_block().unwrap_or_default()),
                ),
                ("enable_dns_support", Value::from(support)),
                ("enable_dns_hostnames", Value::from(hostnames)),
                ("tags", tags_value(&live_tags(vpc.tags()))),
            ]),
            outputs: props_of([
                ("id", Value::from(id)),
                ("arn", arn(c, vpc.owner_id(), "vpc", id)),
            ]),
        }))
    }

    /// botocore's `VpcAvailable`.
    pub(crate) async fn wait_ready(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<Properties, ProviderError> {
        poll(
            s,
            API_EC2_READ,
            Waiter::new("VpcAvailable", 15, 40),
            || async {
                let out = c
                    .ec2
                    .describe_vpcs()
                    .vpc_ids(id)
                    .send()
                    .await
                    .map_err(|e| s.fail("DescribeVpcs", e))?;
                match out.vpcs().first().and_then(|v| v.state()) {
                    Some(VpcState::Available) => Ok(Poll::Done(())),
                    other => Ok(Poll::Pending(
                        other.map_or("unknown", |s| s.as_str()).to_owned(),
                    )),
                }
            },
        )
        .await?;
        read(c, s, id)
            .await?
            .map(|l| l.outputs)
            .ok_or_else(|| s.missing("DescribeVpcs", "Vpcs"))
    }

    pub(crate) async fn delete(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<(), ProviderError> {
        retry_conflicts(s, DEPENDENTS_GRACE, || async {
            s.mutating(
                "DeleteVpc",
                API_EC2_MUTATING,
                serde_json::json!({ "vpc_id": id }),
            )
            .await?;
            found(
                c.ec2
                    .delete_vpc()
                    .vpc_id(id)
                    .send()
                    .await
                    .map_err(|e| s.fail("DeleteVpc", e)),
            )
        })
        .await
        .map(drop)
    }
}

pub(crate) mod subnet {
    //! The subnet kind.

    use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, SubnetState};

    use super::*;
    use crate::provider::session::{DEPENDENTS_GRACE, Poll, Waiter, poll, retry_conflicts};

    pub(crate) async fn create(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        replacing: Option<&str>,
    ) -> Result<Created, ProviderError> {
        s.read(API_EC2_READ).await;
        let out = c
            .ec2
            .describe_subnets()
            .set_filters(Some(owned_filters(s)))
            .send()
            .await
            .map_err(|e| s.fail("DescribeSubnets", e))?;
        let existing = out
            .subnets()
            .iter()
            .filter_map(|v| v.subnet_id())
            .find(|id| Some(*id) != replacing);
        let id = match existing {
            Some(id) => id.to_owned(),
            None => {
                let (vpc, cidr, zone) = (
                    p.str("vpc_id")?,
                    p.str("cidr_block")?,
                    p.str("availability_zone")?,
                );
                s.mutating(
                    "CreateSubnet",
                    API_EC2_MUTATING,
                    serde_json::json!({ "vpc_id": vpc, "cidr_block": cidr, "availability_zone": zone }),
                )
                .await?;
                let out = c
                    .ec2
                    .create_subnet()
                    .vpc_id(vpc)
                    .cidr_block(cidr)
                    .availability_zone(zone)
                    .tag_specifications(tag_spec(ResourceType::Subnet, &p.tags()?))
                    .send()
                    .await
                    .map_err(|e| s.fail("CreateSubnet", e))?;
                out.subnet()
                    .and_then(|v| v.subnet_id())
                    .ok_or_else(|| s.missing("CreateSubnet", "Subnet.SubnetId"))?
                    .to_owned()
            }
        };
        converge(c, s, p, &id).await
    }

    pub(crate) async fn converge(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        id: &str,
    ) -> Result<Created, ProviderError> {
        let Some(live) = read(c, s, id).await? else {
            return Err(s.error(
                ErrorClass::NotFound,
                "DescribeSubnets",
                "InvalidSubnetID.NotFound",
                id,
            ));
        };
        if let Some(want) = p.opt_bool("map_public_ip_on_launch")?
            && live.properties.get("map_public_ip_on_launch") != Some(&Value::Bool(want))
        {
            s.mutating(
                "ModifySubnetAttribute",
                API_EC2_MUTATING,
                serde_json::json!({ "subnet_id": id, "map_public_ip_on_launch": want }),
            )
            .await?;
            c.ec2
                .modify_subnet_attribute()
                .subnet_id(id)
                .map_public_ip_on_launch(AttributeBooleanValue::builder().value(want).build())
                .send()
                .await
                .map_err(|e| s.fail("ModifySubnetAttribute", e))?;
        }
        let live_tags = Props::new(&live.properties, s.address).tags()?;
        sync_tags(c, s, id, &live_tags, &p.tags()?).await?;
        Ok(created(id, live.outputs, false))
    }

    pub(crate) async fn read(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<Option<LiveObject>, ProviderError> {
        s.read(API_EC2_READ).await;
        let out = found(
            c.ec2
                .describe_subnets()
                .subnet_ids(id)
                .send()
                .await
                .map_err(|e| s.fail("DescribeSubnets", e)),
        )?;
        let Some(sn) = out.as_ref().and_then(|o| o.subnets().first()) else {
            return Ok(None);
        };
        let arn = sn
            .subnet_arn()
            .map_or_else(|| arn(c, sn.owner_id(), "subnet", id), Value::from);
        Ok(Some(LiveObject {
            cloud_id: id.to_owned(),
            properties: props_of([
                ("vpc_id", Value::from(sn.vpc_id().unwrap_or_default())),
                (
                    "cidr_block",
                    Value::from(sn.cidr_block().unwrap_or_default()),
                ),
                (
                    "availability_zone",
                    Value::from(sn.availability_zone().unwrap_or_default()),
                ),
                (
                    "map_public_ip_on_launch",
                    Value::from(sn.map_public_ip_on_launch().unwrap_or(false)),
                ),
                ("tags", tags_value(&live_tags(sn.tags()))),
            ]),
            outputs: props_of([("id", Value::from(id)), ("arn", arn)]),
        }))
    }

    /// botocore's `SubnetAvailable`.
    pub(crate) async fn wait_ready(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<Properties, ProviderError> {
        poll(
            s,
            API_EC2_READ,
            Waiter::new("SubnetAvailable", 15, 40),
            || async {
                let out = c
                    .ec2
                    .describe_subnets()
                    .subnet_ids(id)
                    .send()
                    .await
                    .map_err(|e| s.fail("DescribeSubnets", e))?;
                match out.subnets().first().and_then(|v| v.state()) {
                    Some(SubnetState::Available) => Ok(Poll::Done(())),
                    other => Ok(Poll::Pending(
                        other.map_or("unknown", |s| s.as_str()).to_owned(),
                    )),
                }
            },
        )
        .await?;
        read(c, s, id)
            .await?
            .map(|l| l.outputs)
            .ok_or_else(|| s.missing("DescribeSubnets", "Subnets"))
    }

    pub(crate) async fn delete(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<(), ProviderError> {
        retry_conflicts(s, DEPENDENTS_GRACE, || async {
            s.mutating(
                "DeleteSubnet",
                API_EC2_MUTATING,
                serde_json::json!({ "subnet_id": id }),
            )
            .await?;
            found(
                c.ec2
                    .delete_subnet()
                    .subnet_id(id)
                    .send()
                    .await
                    .map_err(|e| s.fail("DeleteSubnet", e)),
            )
        })
        .await
        .map(drop)
    }
}

pub(crate) mod igw {
    //! The internet gateway kind: the gateway plus its single VPC attachment.

    use aws_sdk_ec2::types::{InternetGateway, ResourceType};

    use super::*;
    use crate::provider::session::{DEPENDENTS_GRACE, retry_conflicts};

    pub(crate) async fn create(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        replacing: Option<&str>,
    ) -> Result<Created, ProviderError> {
        s.read(API_EC2_READ).await;
        let out = c
            .ec2
            .describe_internet_gateways()
            .set_filters(Some(owned_filters(s)))
            .send()
            .await
            .map_err(|e| s.fail("DescribeInternetGateways", e))?;
        let existing = out
            .internet_gateways()
            .iter()
            .filter_map(|v| v.internet_gateway_id())
            .find(|id| Some(*id) != replacing);
        let id = match existing {
            Some(id) => id.to_owned(),
            None => {
                s.mutating(
                    "CreateInternetGateway",
                    API_EC2_MUTATING,
                    serde_json::json!({}),
                )
                .await?;
                let out = c
                    .ec2
                    .create_internet_gateway()
                    .tag_specifications(tag_spec(ResourceType::InternetGateway, &p.tags()?))
                    .send()
                    .await
                    .map_err(|e| s.fail("CreateInternetGateway", e))?;
                out.internet_gateway()
                    .and_then(|v| v.internet_gateway_id())
                    .ok_or_else(|| {
                        s.missing("CreateInternetGateway", "InternetGateway.InternetGatewayId")
                    })?
                    .to_owned()
            }
        };
        converge(c, s, p, &id).await
    }

    async fn describe(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<Option<InternetGateway>, ProviderError> {
        s.read(API_EC2_READ).await;
        let out = found(
            c.ec2
                .describe_internet_gateways()
                .internet_gateway_ids(id)
                .send()
                .await
                .map_err(|e| s.fail("DescribeInternetGateways", e)),
        )?;
        Ok(out.and_then(|o| o.internet_gateways().first().cloned()))
    }

    fn attached_vpcs(g: &InternetGateway) -> Vec<String> {
        g.attachments()
            .iter()
            .filter_map(|a| a.vpc_id().map(str::to_owned))
            .collect()
    }

    async fn detach(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
        vpc: &str,
    ) -> Result<(), ProviderError> {
        // A VPC with public addresses still mapped (NAT gateways being deleted) refuses the
        // detach with DependencyViolation until they are gone.
        retry_conflicts(s, DEPENDENTS_GRACE, || async {
            s.mutating(
                "DetachInternetGateway",
                API_EC2_MUTATING,
                serde_json::json!({ "internet_gateway_id": id, "vpc_id": vpc }),
            )
            .await?;
            match c
                .ec2
                .detach_internet_gateway()
                .internet_gateway_id(id)
                .vpc_id(vpc)
                .send()
                .await
                .map_err(|e| s.fail("DetachInternetGateway", e))
            {
                Err(e) if e.code == "Gateway.NotAttached" || e.class == ErrorClass::NotFound => {
                    Ok(())
                }
                other => other.map(drop),
            }
        })
        .await
    }

    pub(crate) async fn converge(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        id: &str,
    ) -> Result<Created, ProviderError> {
        let g = describe(c, s, id).await?.ok_or_else(|| {
            s.error(
                ErrorClass::NotFound,
                "DescribeInternetGateways",
                "InvalidInternetGatewayID.NotFound",
                id,
            )
        })?;
        let want = p.str("vpc_id")?;
        let attached = attached_vpcs(&g);
        for vpc in attached.iter().filter(|v| v.as_str() != want) {
            detach(c, s, id, vpc).await?;
        }
        if !attached.iter().any(|v| v == want) {
            s.mutating(
                "AttachInternetGateway",
                API_EC2_MUTATING,
                serde_json::json!({ "internet_gateway_id": id, "vpc_id": want }),
            )
            .await?;
            c.ec2
                .attach_internet_gateway()
                .internet_gateway_id(id)
                .vpc_id(want)
                .send()
                .await
                .map_err(|e| s.fail("AttachInternetGateway", e))?;
        }
        sync_tags(c, s, id, &live_tags(g.tags()), &p.tags()?).await?;
        Ok(created(id, outputs(c, &g, id), true))
    }

    fn outputs(c: &Clients, g: &InternetGateway, id: &str) -> Properties {
        props_of([
            ("id", Value::from(id)),
            ("arn", arn(c, g.owner_id(), "internet-gateway", id)),
        ])
    }

    pub(crate) async fn read(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<Option<LiveObject>, ProviderError> {
        let Some(g) = describe(c, s, id).await? else {
            return Ok(None);
        };
        let vpc = attached_vpcs(&g).into_iter().next();
        Ok(Some(LiveObject {
            cloud_id: id.to_owned(),
            properties: props_of([
                ("vpc_id", vpc.map_or(Value::Null, Value::from)),
                ("tags", tags_value(&live_tags(g.tags()))),
            ]),
            outputs: outputs(c, &g, id),
        }))
    }

    pub(crate) async fn delete(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<(), ProviderError> {
        let Some(g) = describe(c, s, id).await? else {
            return Ok(());
        };
        for vpc in attached_vpcs(&g) {
            detach(c, s, id, &vpc).await?;
        }
        s.mutating(
            "DeleteInternetGateway",
            API_EC2_MUTATING,
            serde_json::json!({ "internet_gateway_id": id }),
        )
        .await?;
        found(
            c.ec2
                .delete_internet_gateway()
                .internet_gateway_id(id)
                .send()
                .await
                .map_err(|e| s.fail("DeleteInternetGateway", e)),
        )
        .map(drop)
    }
}

pub(crate) mod eip {
    //! The Elastic IP kind: an address allocated in the VPC domain.

    use aws_sdk_ec2::types::{Address as Eip, DomainType, ResourceType};

    use super::*;
    use crate::provider::session::{DEPENDENTS_GRACE, retry_conflicts};

    pub(crate) async fn create(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        replacing: Option<&str>,
    ) -> Result<Created, ProviderError> {
        s.read(API_EC2_READ).await;
        let out = c
            .ec2
            .describe_addresses()
            .set_filters(Some(owned_filters(s)))
            .send()
            .await
            .map_err(|e| s.fail("DescribeAddresses", e))?;
        let existing = out
            .addresses()
            .iter()
            .filter_map(|v| v.allocation_id())
            .find(|id| Some(*id) != replacing);
        let id = match existing {
            Some(id) => id.to_owned(),
            None => {
                let domain = p.opt_str("domain")?.unwrap_or("vpc");
                s.mutating(
                    "AllocateAddress",
                    API_EC2_MUTATING,
                    serde_json::json!({ "domain": domain }),
                )
                .await?;
                let out = c
                    .ec2
                    .allocate_address()
                    .domain(DomainType::from(domain))
                    .tag_specifications(tag_spec(ResourceType::ElasticIp, &p.tags()?))
                    .send()
                    .await
                    .map_err(|e| s.fail("AllocateAddress", e))?;
                out.allocation_id()
                    .ok_or_else(|| s.missing("AllocateAddress", "AllocationId"))?
                    .to_owned()
            }
        };
        converge(c, s, p, &id).await
    }

    async fn describe(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<Option<Eip>, ProviderError> {
        s.read(API_EC2_READ).await;
        let out = found(
            c.ec2
                .describe_addresses()
                .allocation_ids(id)
                .send()
                .await
                .map_err(|e| s.fail("DescribeAddresses", e)),
        )?;
        Ok(out.and_then(|o| o.addresses().first().cloned()))
    }

    fn outputs(a: &Eip, id: &str) -> Properties {
        props_of([
            ("id", Value::from(id)),
            ("public_ip", Value::from(a.public_ip().unwrap_or_default())),
        ])
    }

    pub(crate) async fn converge(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        id: &str,
    ) -> Result<Created, ProviderError> {
        let a = describe(c, s, id).await?.ok_or_else(|| {
            s.error(
                ErrorClass::NotFound,
                "DescribeAddresses",
                "InvalidAllocationID.NotFound",
                id,
            )
        })?;
        sync_tags(c, s, id, &live_tags(a.tags()), &p.tags()?).await?;
        Ok(created(id, outputs(&a, id), true))
    }

    pub(crate) async fn read(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<Option<LiveObject>, ProviderError> {
        let Some(a) = describe(c, s, id).await? else {
            return Ok(None);
        };
        Ok(Some(LiveObject {
            cloud_id: id.to_owned(),
            properties: props_of([
                (
                    "domain",
                    Value::from(a.domain().map_or("vpc", |d| d.as_str())),
                ),
                ("tags", tags_value(&live_tags(a.tags()))),
            ]),
            outputs: outputs(&a, id),
        }))
    }

    pub(crate) async fn delete(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<(), ProviderError> {
        // The address stays associated until its NAT gateway is deleted.
        retry_conflicts(s, DEPENDENTS_GRACE, || async {
            s.mutating(
                "ReleaseAddress",
                API_EC2_MUTATING,
                serde_json::json!({ "allocation_id": id }),
            )
            .await?;
            match c
                .ec2
                .release_address()
                .allocation_id(id)
                .send()
                .await
                .map_err(|e| s.fail("ReleaseAddress", e))
            {
                Err(e)
                    if e.code == "InvalidIPAddress.InUse"
                        || e.code == "AuthFailure" && e.message.contains("does not belong") =>
                {
                    Err(ProviderError {
                        class: ErrorClass::Conflict,
                        ..e
                    })
                }
                Err(e) if e.class == ErrorClass::NotFound => Ok(()),
                other => other.map(drop),
            }
        })
        .await
    }
}

pub(crate) mod nat {
    //! The NAT gateway kind: created with a client token; ready and gone per botocore's
    //! `NatGatewayAvailable` and `NatGatewayDeleted` waiters.

    use aws_sdk_ec2::types::{ConnectivityType, NatGateway, NatGatewayState, ResourceType};

    use super::*;
    use crate::provider::session::{Poll, Waiter, poll};

    /// States of a NAT gateway that will never become available.
    fn dead(state: Option<&NatGatewayState>) -> bool {
        matches!(
            state,
            Some(NatGatewayState::Deleted | NatGatewayState::Deleting | NatGatewayState::Failed)
        )
    }

    pub(crate) async fn create(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        replacing: Option<&str>,
        generation: &str,
    ) -> Result<Created, ProviderError> {
        s.read(API_EC2_READ).await;
        let out = c
            .ec2
            .describe_nat_gateways()
            .set_filter(Some(owned_filters(s)))
            .send()
            .await
            .map_err(|e| s.fail("DescribeNatGateways", e))?;
        let existing = out
            .nat_gateways()
            .iter()
            .filter(|n| !dead(n.state()))
            .filter_map(|v| v.nat_gateway_id())
            .find(|id| Some(*id) != replacing);
        let id = match existing {
            Some(id) => id.to_owned(),
            None => {
                let (subnet, allocation) = (p.str("subnet_id")?, p.str("allocation_id")?);
                let connectivity = p.opt_str("connectivity_type")?.unwrap_or("public");
                let token = props::client_token(generation);
                s.mutating(
                    "CreateNatGateway",
                    API_EC2_NAT,
                    serde_json::json!({
                        "subnet_id": subnet,
                        "allocation_id": allocation,
                        "connectivity_type": connectivity,
                        "client_token": token,
                    }),
                )
                .await?;
                let out = c
                    .ec2
                    .create_nat_gateway()
                    .subnet_id(subnet)
                    .allocation_id(allocation)
                    .connectivity_type(ConnectivityType::from(connectivity))
                    .client_token(token)
                    .tag_specifications(tag_spec(ResourceType::Natgateway, &p.tags()?))
                    .send()
                    .await
                    .map_err(|e| s.fail("CreateNatGateway", e))?;
                out.nat_gateway()
                    .and_then(|v| v.nat_gateway_id())
                    .ok_or_else(|| s.missing("CreateNatGateway", "NatGateway.NatGatewayId"))?
                    .to_owned()
            }
        };
        converge(c, s, p, &id).await
    }

    async fn describe(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<Option<NatGateway>, ProviderError> {
        let out = found(
            c.ec2
                .describe_nat_gateways()
                .nat_gateway_ids(id)
                .send()
                .await
                .map_err(|e| s.fail("DescribeNatGateways", e)),
        )?;
        Ok(out.and_then(|o| o.nat_gateways().first().cloned()))
    }

    pub(crate) async fn converge(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        id: &str,
    ) -> Result<Created, ProviderError> {
        s.read(API_EC2_READ).await;
        let n = describe(c, s, id).await?.ok_or_else(|| {
            s.error(
                ErrorClass::NotFound,
                "DescribeNatGateways",
                "NatGatewayNotFound",
                id,
            )
        })?;
        sync_tags(c, s, id, &live_tags(n.tags()), &p.tags()?).await?;
        let ready = n.state() == Some(&NatGatewayState::Available);
        Ok(created(id, props_of([("id", Value::from(id))]), ready))
    }

    pub(crate) async fn read(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<Option<LiveObject>, ProviderError> {
        s.read(API_EC2_READ).await;
        let Some(n) = describe(c, s, id).await?.filter(|n| {
            !matches!(
                n.state(),
                Some(NatGatewayState::Deleted | NatGatewayState::Deleting)
            )
        }) else {
            return Ok(None);
        };
        let allocation = n
            .nat_gateway_addresses()
            .iter()
            .find_map(|a| a.allocation_id());
        Ok(Some(LiveObject {
            cloud_id: id.to_owned(),
            properties: props_of([
                ("subnet_id", Value::from(n.subnet_id().unwrap_or_default())),
                ("allocation_id", allocation.map_or(Value::Null, Value::from)),
                (
                    "connectivity_type",
                    Value::from(n.connectivity_type().map_or("public", |t| t.as_str())),
                ),
                ("tags", tags_value(&live_tags(n.tags()))),
            ]),
            outputs: props_of([("id", Value::from(id))]),
        }))
    }

    /// botocore's `NatGatewayAvailable`: fails on `failed`, `deleting`, `deleted`.
    pub(crate) async fn wait_ready(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<Properties, ProviderError> {
        poll(
            s,
            API_EC2_READ,
            Waiter::new("NatGatewayAvailable", 15, 40),
            || async {
                let n = match describe(c, s, id).await? {
                    Some(n) => n,
                    // The waiter retries NatGatewayNotFound: a new gateway may not be listed yet.
                    None => return Ok(Poll::Pending("not found yet".to_owned())),
                };
                match n.state() {
                    Some(NatGatewayState::Available) => Ok(Poll::Done(())),
                    state if dead(state) => Err(s.error(
                        ErrorClass::Fatal,
                        "NatGatewayAvailable",
                        n.failure_code().unwrap_or("NatGatewayFailed"),
                        format!(
                            "NAT gateway {id} is {}: {}",
                            state.map_or("unknown", |s| s.as_str()),
                            n.failure_message().unwrap_or("no failure message")
                        ),
                    )),
                    other => Ok(Poll::Pending(
                        other.map_or("unknown", |s| s.as_str()).to_owned(),
                    )),
                }
            },
        )
        .await?;
        Ok(props_of([("id", Value::from(id))]))
    }

    /// botocore's `NatGatewayDeleted`.
    pub(crate) async fn wait_deleted(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<Properties, ProviderError> {
        poll(
            s,
            API_EC2_READ,
            Waiter::new("NatGatewayDeleted", 15, 40),
            || async {
                match describe(c, s, id).await? {
                    None => Ok(Poll::Done(())),
                    Some(n) if n.state() == Some(&NatGatewayState::Deleted) => Ok(Poll::Done(())),
                    Some(n) => Ok(Poll::Pending(
                        n.state().map_or("unknown", |s| s.as_str()).to_owned(),
                    )),
                }
            },
        )
        .await?;
        Ok(Properties::new())
    }

    pub(crate) async fn delete(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<(), ProviderError> {
        s.mutating(
            "DeleteNatGateway",
            API_EC2_NAT,
            serde_json::json!({ "nat_gateway_id": id }),
        )
        .await?;
        found(
            c.ec2
                .delete_nat_gateway()
                .nat_gateway_id(id)
                .send()
                .await
                .map_err(|e| s.fail("DeleteNatGateway", e)),
        )
        .map(drop)
    }
}

pub(crate) mod route_table {
    //! The route table kind. Routes other than the VPC's local route and subnet associations
    //! are converged on the desired ones; a subnet associated elsewhere is moved here.

    use aws_sdk_ec2::types::{ResourceType, RouteOrigin, RouteTable};

    use super::*;
    use crate::provider::session::{DEPENDENTS_GRACE, retry_conflicts};

    /// A route's target: which property names it and its id.
    type Target = (&'static str, String);

    fn target_of(r: &aws_sdk_ec2::types::Route) -> Option<Target> {
        if let Some(nat) = r.nat_gateway_id() {
            Some(("nat_gateway_id", nat.to_owned()))
        } else {
            r.gateway_id()
                .filter(|g| *g != "local")
                .map(|g| ("gateway_id", g.to_owned()))
        }
    }

    /// Routes Slipway manages: created by a call, IPv4, not the local one.
    fn live_routes(t: &RouteTable) -> BTreeMap<String, Target> {
        t.routes()
            .iter()
            .filter(|r| r.origin() != Some(&RouteOrigin::CreateRouteTable))
            .filter(|r| r.origin() != Some(&RouteOrigin::EnableVgwRoutePropagation))
            .filter_map(|r| Some((r.destination_cidr_block()?.to_owned(), target_of(r)?)))
            .collect()
    }

    fn desired_routes(p: Props<'_>) -> Result<BTreeMap<String, Target>, ProviderError> {
        p.maps("routes")?
            .into_iter()
            .map(|r| {
                let dest = r.str("destination_cidr_block")?.to_owned();
                let target = match r.opt_str("nat_gateway_id")? {
                    Some(nat) => ("nat_gateway_id", nat.to_owned()),
                    None => ("gateway_id", r.str("gateway_id")?.to_owned()),
                };
                Ok((dest, target))
            })
            .collect()
    }

    /// Subnet associations: subnet id → association id.
    fn associations(t: &RouteTable) -> BTreeMap<String, String> {
        t.associations()
            .iter()
            .filter(|a| a.main() != Some(true))
            .filter_map(|a| {
                Some((
                    a.subnet_id()?.to_owned(),
                    a.route_table_association_id()?.to_owned(),
                ))
            })
            .collect()
    }

    pub(crate) async fn create(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        replacing: Option<&str>,
        generation: &str,
    ) -> Result<Created, ProviderError> {
        s.read(API_EC2_READ).await;
        let out = c
            .ec2
            .describe_route_tables()
            .set_filters(Some(owned_filters(s)))
            .send()
            .await
            .map_err(|e| s.fail("DescribeRouteTables", e))?;
        let existing = out
            .route_tables()
            .iter()
            .filter_map(|v| v.route_table_id())
            .find(|id| Some(*id) != replacing);
        let id = match existing {
            Some(id) => id.to_owned(),
            None => {
                let vpc = p.str("vpc_id")?;
                let token = props::client_token(generation);
                s.mutating(
                    "CreateRouteTable",
                    API_EC2_MUTATING,
                    serde_json::json!({ "vpc_id": vpc, "client_token": token }),
                )
                .await?;
                let out = c
                    .ec2
                    .create_route_table()
                    .vpc_id(vpc)
                    .client_token(token)
                    .tag_specifications(tag_spec(ResourceType::RouteTable, &p.tags()?))
                    .send()
                    .await
                    .map_err(|e| s.fail("CreateRouteTable", e))?;
                out.route_table()
                    .and_then(|v| v.route_table_id())
                    .ok_or_else(|| s.missing("CreateRouteTable", "RouteTable.RouteTableId"))?
                    .to_owned()
            }
        };
        converge(c, s, p, &id).await
    }

    async fn describe(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<Option<RouteTable>, ProviderError> {
        s.read(API_EC2_READ).await;
        let out = found(
            c.ec2
                .describe_route_tables()
                .route_table_ids(id)
                .send()
                .await
                .map_err(|e| s.fail("DescribeRouteTables", e)),
        )?;
        Ok(out.and_then(|o| o.route_tables().first().cloned()))
    }

    async fn sync_routes(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
        live: &BTreeMap<String, Target>,
        want: &BTreeMap<String, Target>,
    ) -> Result<(), ProviderError> {
        for (dest, (key, target)) in want {
            let op = match live.get(dest) {
                Some(t) if t == &(*key, target.clone()) => continue,
                Some(_) => "ReplaceRoute",
                None => "CreateRoute",
            };
            s.mutating(
                op,
                API_EC2_MUTATING,
                serde_json::json!({ "route_table_id": id, "destination_cidr_block": dest, *key: target }),
            )
            .await?;
            let nat = (*key == "nat_gateway_id").then(|| target.clone());
            let gw = (*key == "gateway_id").then(|| target.clone());
            let sent = if op == "CreateRoute" {
                c.ec2
                    .create_route()
                    .route_table_id(id)
                    .destination_cidr_block(dest)
                    .set_nat_gateway_id(nat)
                    .set_gateway_id(gw)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| s.fail(op, e))
            } else {
                c.ec2
                    .replace_route()
                    .route_table_id(id)
                    .destination_cidr_block(dest)
                    .set_nat_gateway_id(nat)
                    .set_gateway_id(gw)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| s.fail(op, e))
            };
            sent?;
        }
        for dest in live.keys().filter(|d| !want.contains_key(*d)) {
            s.mutating(
                "DeleteRoute",
                API_EC2_MUTATING,
                serde_json::json!({ "route_table_id": id, "destination_cidr_block": dest }),
            )
            .await?;
            found(
                c.ec2
                    .delete_route()
                    .route_table_id(id)
                    .destination_cidr_block(dest)
                    .send()
                    .await
                    .map_err(|e| s.fail("DeleteRoute", e)),
            )?;
        }
        Ok(())
    }

    async fn associate(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
        subnet: &str,
    ) -> Result<(), ProviderError> {
        // The subnet's current association elsewhere (not the main table's implicit one).
        s.read(API_EC2_READ).await;
        let out = c
            .ec2
            .describe_route_tables()
            .filters(
                Filter::builder()
                    .name("association.subnet-id")
                    .values(subnet)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| s.fail("DescribeRouteTables", e))?;
        let current = out.route_tables().iter().find_map(|t| {
            t.associations()
                .iter()
                .find(|a| a.subnet_id() == Some(subnet))
                .and_then(|a| a.route_table_association_id())
        });
        match current {
            Some(association) => {
                s.mutating(
                    "ReplaceRouteTableAssociation",
                    API_EC2_MUTATING,
                    serde_json::json!({ "association_id": association, "route_table_id": id }),
                )
                .await?;
                c.ec2
                    .replace_route_table_association()
                    .association_id(association)
                    .route_table_id(id)
                    .send()
                    .await
                    .map_err(|e| s.fail("ReplaceRouteTableAssociation", e))?;
            }
            None => {
                s.mutating(
                    "AssociateRouteTable",
                    API_EC2_MUTATING,
                    serde_json::json!({ "route_table_id": id, "subnet_id": subnet }),
                )
                .await?;
                c.ec2
                    .associate_route_table()
                    .route_table_id(id)
                    .subnet_id(subnet)
                    .send()
                    .await
                    .map_err(|e| s.fail("AssociateRouteTable", e))?;
            }
        }
        Ok(())
    }

    async fn disassociate(
        c: &Clients,
        s: &Session<'_>,
        association: &str,
    ) -> Result<(), ProviderError> {
        s.mutating(
            "DisassociateRouteTable",
            API_EC2_MUTATING,
            serde_json::json!({ "association_id": association }),
        )
        .await?;
        found(
            c.ec2
                .disassociate_route_table()
                .association_id(association)
                .send()
                .await
                .map_err(|e| s.fail("DisassociateRouteTable", e)),
        )
        .map(drop)
    }

    pub(crate) async fn converge(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        id: &str,
    ) -> Result<Created, ProviderError> {
        let t = describe(c, s, id).await?.ok_or_else(|| {
            s.error(
                ErrorClass::NotFound,
                "DescribeRouteTables",
                "InvalidRouteTableID.NotFound",
                id,
            )
        })?;
        sync_routes(c, s, id, &live_routes(&t), &desired_routes(p)?).await?;
        let live = associations(&t);
        let want = p.strings("subnet_ids")?;
        for subnet in want.iter().filter(|s| !live.contains_key(*s)) {
            associate(c, s, id, subnet).await?;
        }
        for (_, association) in live.iter().filter(|(sn, _)| !want.contains(sn)) {
            disassociate(c, s, association).await?;
        }
        sync_tags(c, s, id, &live_tags(t.tags()), &p.tags()?).await?;
        Ok(created(id, props_of([("id", Value::from(id))]), true))
    }

    pub(crate) async fn read(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<Option<LiveObject>, ProviderError> {
        let Some(t) = describe(c, s, id).await? else {
            return Ok(None);
        };
        let routes = live_routes(&t)
            .into_iter()
            .map(|(dest, (key, target))| {
                Value::Map(props_of([
                    ("destination_cidr_block", Value::from(dest)),
                    (key, Value::from(target)),
                ]))
            })
            .collect();
        let subnets: Vec<String> = associations(&t).into_keys().collect();
        Ok(Some(LiveObject {
            cloud_id: id.to_owned(),
            properties: props_of([
                ("vpc_id", Value::from(t.vpc_id().unwrap_or_default())),
                ("routes", Value::List(routes)),
                ("subnet_ids", props::strings_value(subnets)),
                ("tags", tags_value(&live_tags(t.tags()))),
            ]),
            outputs: props_of([("id", Value::from(id))]),
        }))
    }

    pub(crate) async fn delete(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<(), ProviderError> {
        let Some(t) = describe(c, s, id).await? else {
            return Ok(());
        };
        for association in associations(&t).values() {
            disassociate(c, s, association).await?;
        }
        retry_conflicts(s, DEPENDENTS_GRACE, || async {
            s.mutating(
                "DeleteRouteTable",
                API_EC2_MUTATING,
                serde_json::json!({ "route_table_id": id }),
            )
            .await?;
            found(
                c.ec2
                    .delete_route_table()
                    .route_table_id(id)
                    .send()
                    .await
                    .map_err(|e| s.fail("DeleteRouteTable", e)),
            )
        })
        .await
        .map(drop)
    }
}

pub(crate) mod sg {
    //! The security group kind. Rules are compared as a set keyed by direction, protocol,
    //! ports and peer; a rule whose only difference is its description is re-described, not
    //! revoked, so traffic never drops during an update.

    use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, SecurityGroup, UserIdGroupPair};

    use super::*;
    use crate::provider::session::{DEPENDENTS_GRACE, retry_conflicts};

    /// Where a rule's traffic comes from or goes to.
    #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
    enum Peer {
        Cidr(String),
        Group(String),
    }

    /// One rule's identity: direction (egress?), protocol, from port, to port, peer.
    type Key = (bool, String, i32, i32, Peer);

    /// Protocol names as EC2 reports them; ports of "all traffic" are -1.
    fn normalize(protocol: &str, from: Option<i32>, to: Option<i32>) -> (String, i32, i32) {
        let protocol = match protocol {
            "all" | "-1" => "-1".to_owned(),
            p => p.to_ascii_lowercase(),
        };
        if protocol == "-1" {
            (protocol, -1, -1)
        } else {
            (protocol, from.unwrap_or(-1), to.unwrap_or(-1))
        }
    }

    fn desired_rules(p: Props<'_>, group_id: &str) -> Result<BTreeMap<Key, String>, ProviderError> {
        let mut rules = BTreeMap::new();
        for (egress, key) in [(false, "ingress"), (true, "egress")] {
            for r in p.maps(key)? {
                let (protocol, from, to) = normalize(
                    r.str("ip_protocol")?,
                    r.opt_i32("from_port")?,
                    r.opt_i32("to_port")?,
                );
                let peer = if let Some(cidr) = r.opt_str("cidr_ipv4")? {
                    Peer::Cidr(cidr.to_owned())
                } else if r.opt_bool("self")? == Some(true) {
                    Peer::Group(group_id.to_owned())
                } else {
                    Peer::Group(r.str("referenced_group_id")?.to_owned())
                };
                let description = r.opt_str("description")?.unwrap_or_default().to_owned();
                rules.insert((egress, protocol, from, to, peer), description);
            }
        }
        Ok(rules)
    }

    fn live_rules(g: &SecurityGroup) -> BTreeMap<Key, String> {
        let mut rules = BTreeMap::new();
        for (egress, perms) in [
            (false, g.ip_permissions()),
            (true, g.ip_permissions_egress()),
        ] {
            for perm in perms {
                let (protocol, from, to) = normalize(
                    perm.ip_protocol().unwrap_or("-1"),
                    perm.from_port(),
                    perm.to_port(),
                );
                for range in perm.ip_ranges() {
                    if let Some(cidr) = range.cidr_ip() {
                        rules.insert(
                            (
                                egress,
                                protocol.clone(),
                                from,
                                to,
                                Peer::Cidr(cidr.to_owned()),
                            ),
                            range.description().unwrap_or_default().to_owned(),
                        );
                    }
                }
                for pair in perm.user_id_group_pairs() {
                    if let Some(group) = pair.group_id() {
                        rules.insert(
                            (
                                egress,
                                protocol.clone(),
                                from,
                                to,
                                Peer::Group(group.to_owned()),
                            ),
                            pair.description().unwrap_or_default().to_owned(),
                        );
                    }
                }
            }
        }
        rules
    }

    fn permission(key: &Key, description: &str) -> IpPermission {
        let (_, protocol, from, to, peer) = key;
        let description = (!description.is_empty()).then(|| description.to_owned());
        let mut perm = IpPermission::builder().ip_protocol(protocol);
        if protocol != "-1" {
            perm = perm.from_port(*from).to_port(*to);
        }
        match peer {
            Peer::Cidr(cidr) => perm.ip_ranges(
                IpRange::builder()
                    .cidr_ip(cidr)
                    .set_description(description)
                    .build(),
            ),
            Peer::Group(group) => perm.user_id_group_pairs(
                UserIdGroupPair::builder()
                    .group_id(group)
                    .set_description(description)
                    .build(),
            ),
        }
        .build()
    }

    fn rule_json(key: &Key, description: &str) -> serde_json::Value {
        let (egress, protocol, from, to, peer) = key;
        serde_json::json!({
            "direction": if *egress { "egress" } else { "ingress" },
            "ip_protocol": protocol,
            "from_port": from,
            "to_port": to,
            "peer": match peer { Peer::Cidr(c) | Peer::Group(c) => c },
            "description": description,
        })
    }

    pub(crate) async fn create(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        replacing: Option<&str>,
    ) -> Result<Created, ProviderError> {
        s.read(API_EC2_READ).await;
        let out = c
            .ec2
            .describe_security_groups()
            .set_filters(Some(owned_filters(s)))
            .send()
            .await
            .map_err(|e| s.fail("DescribeSecurityGroups", e))?;
        let existing = out
            .security_groups()
            .iter()
            .filter_map(|v| v.group_id())
            .find(|id| Some(*id) != replacing);
        let id = match existing {
            Some(id) => id.to_owned(),
            None => {
                let (name, description, vpc) = (
                    p.str("group_name")?,
                    p.str("description")?,
                    p.str("vpc_id")?,
                );
                s.mutating(
                    "CreateSecurityGroup",
                    API_EC2_MUTATING,
                    serde_json::json!({ "group_name": name, "vpc_id": vpc }),
                )
                .await?;
                let out = c
                    .ec2
                    .create_security_group()
                    .group_name(name)
                    .description(description)
                    .vpc_id(vpc)
                    .tag_specifications(tag_spec(ResourceType::SecurityGroup, &p.tags()?))
                    .send()
                    .await
                    .map_err(|e| s.fail("CreateSecurityGroup", e))?;
                out.group_id()
                    .ok_or_else(|| s.missing("CreateSecurityGroup", "GroupId"))?
                    .to_owned()
            }
        };
        converge(c, s, p, &id).await
    }

    async fn describe(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<Option<SecurityGroup>, ProviderError> {
        s.read(API_EC2_READ).await;
        let out = found(
            c.ec2
                .describe_security_groups()
                .group_ids(id)
                .send()
                .await
                .map_err(|e| s.fail("DescribeSecurityGroups", e)),
        )?;
        Ok(out.and_then(|o| o.security_groups().first().cloned()))
    }

    fn outputs(c: &Clients, g: &SecurityGroup, id: &str) -> Properties {
        props_of([
            ("id", Value::from(id)),
            ("arn", arn(c, g.owner_id(), "security-group", id)),
        ])
    }

    /// Sends one rule change; `op` names the EC2 operation.
    async fn change(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
        op: &'static str,
        key: &Key,
        description: &str,
    ) -> Result<(), ProviderError> {
        s.mutating(
            op,
            API_EC2_MUTATING,
            serde_json::json!({ "group_id": id, "rule": rule_json(key, description) }),
        )
        .await?;
        let perm = permission(key, description);
        let ec2 = &c.ec2;
        let sent = match op {
            "AuthorizeSecurityGroupIngress" => ec2
                .authorize_security_group_ingress()
                .group_id(id)
                .ip_permissions(perm)
                .send()
                .await
                .map(drop)
                .map_err(|e| s.fail(op, e)),
            "AuthorizeSecurityGroupEgress" => ec2
                .authorize_security_group_egress()
                .group_id(id)
                .ip_permissions(perm)
                .send()
                .await
                .map(drop)
                .map_err(|e| s.fail(op, e)),
            "RevokeSecurityGroupIngress" => ec2
                .revoke_security_group_ingress()
                .group_id(id)
                .ip_permissions(perm)
                .send()
                .await
                .map(drop)
                .map_err(|e| s.fail(op, e)),
            "RevokeSecurityGroupEgress" => ec2
                .revoke_security_group_egress()
                .group_id(id)
                .ip_permissions(perm)
                .send()
                .await
                .map(drop)
                .map_err(|e| s.fail(op, e)),
            "UpdateSecurityGroupRuleDescriptionsIngress" => ec2
                .update_security_group_rule_descriptions_ingress()
                .group_id(id)
                .ip_permissions(perm)
                .send()
                .await
                .map(drop)
                .map_err(|e| s.fail(op, e)),
            _ => ec2
                .update_security_group_rule_descriptions_egress()
                .group_id(id)
                .ip_permissions(perm)
                .send()
                .await
                .map(drop)
                .map_err(|e| s.fail(op, e)),
        };
        match sent {
            // Authorizing a rule that exists, or revoking one that does not, has converged.
            Err(e)
                if e.code == "InvalidPermission.Duplicate"
                    || e.code == "InvalidPermission.NotFound" =>
            {
                Ok(())
            }
            other => other,
        }
    }

    pub(crate) async fn converge(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        id: &str,
    ) -> Result<Created, ProviderError> {
        let g = describe(c, s, id).await?.ok_or_else(|| {
            s.error(
                ErrorClass::NotFound,
                "DescribeSecurityGroups",
                "InvalidGroup.NotFound",
                id,
            )
        })?;
        let want = desired_rules(p, id)?;
        let live = live_rules(&g);
        // Add first, then remove, so replaced rules never leave a gap.
        for (key, description) in &want {
            let op = match (live.get(key), key.0) {
                (Some(d), _) if d == description => continue,
                (Some(_), false) => "UpdateSecurityGroupRuleDescriptionsIngress",
                (Some(_), true) => "UpdateSecurityGroupRuleDescriptionsEgress",
                (None, false) => "AuthorizeSecurityGroupIngress",
                (None, true) => "AuthorizeSecurityGroupEgress",
            };
            change(c, s, id, op, key, description).await?;
        }
        for (key, description) in live.iter().filter(|(k, _)| !want.contains_key(*k)) {
            let op = if key.0 {
                "RevokeSecurityGroupEgress"
            } else {
                "RevokeSecurityGroupIngress"
            };
            change(c, s, id, op, key, description).await?;
        }
        sync_tags(c, s, id, &live_tags(g.tags()), &p.tags()?).await?;
        Ok(created(id, outputs(c, &g, id), true))
    }

    fn rule_value(key: &Key, description: &str, own_id: &str) -> Value {
        let (_, protocol, from, to, peer) = key;
        let (k, v) = match peer {
            Peer::Cidr(cidr) => ("cidr_ipv4", Value::from(cidr.as_str())),
            Peer::Group(g) if g == own_id => ("self", Value::from(true)),
            Peer::Group(g) => ("referenced_group_id", Value::from(g.as_str())),
        };
        Value::Map(props_of([
            ("description", Value::from(description)),
            ("ip_protocol", Value::from(protocol.as_str())),
            ("from_port", Value::from(i64::from(*from))),
            ("to_port", Value::from(i64::from(*to))),
            (k, v),
        ]))
    }

    pub(crate) async fn read(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
        prior: &slipway_provider::ResourceState,
    ) -> Result<Option<LiveObject>, ProviderError> {
        let Some(g) = describe(c, s, id).await? else {
            return Ok(None);
        };
        let live = live_rules(&g);
        let recorded = Props::new(&prior.resolved, s.address);
        // An unchanged rule set reads back exactly as recorded (rule order is not EC2's).
        let same = desired_rules(recorded, id).is_ok_and(|want| want == live);
        let (ingress, egress) = if same {
            (
                recorded
                    .get("ingress")
                    .cloned()
                    .unwrap_or(Value::List(Vec::new())),
                recorded
                    .get("egress")
                    .cloned()
                    .unwrap_or(Value::List(Vec::new())),
            )
        } else {
            let list = |egress: bool| {
                Value::List(
                    live.iter()
                        .filter(|(k, _)| k.0 == egress)
                        .map(|(k, d)| rule_value(k, d, id))
                        .collect(),
                )
            };
            (list(false), list(true))
        };
        Ok(Some(LiveObject {
            cloud_id: id.to_owned(),
            properties: props_of([
                (
                    "group_name",
                    Value::from(g.group_name().unwrap_or_default()),
                ),
                (
                    "description",
                    Value::from(g.description().unwrap_or_default()),
                ),
                ("vpc_id", Value::from(g.vpc_id().unwrap_or_default())),
                ("ingress", ingress),
                ("egress", egress),
                ("tags", tags_value(&live_tags(g.tags()))),
            ]),
            outputs: outputs(c, &g, id),
        }))
    }

    pub(crate) async fn delete(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<(), ProviderError> {
        // ENIs of a deleted cluster or endpoint, and groups referencing this one, release it
        // only after they are gone.
        retry_conflicts(s, DEPENDENTS_GRACE, || async {
            s.mutating(
                "DeleteSecurityGroup",
                API_EC2_MUTATING,
                serde_json::json!({ "group_id": id }),
            )
            .await?;
            found(
                c.ec2
                    .delete_security_group()
                    .group_id(id)
                    .send()
                    .await
                    .map_err(|e| s.fail("DeleteSecurityGroup", e)),
            )
        })
        .await
        .map(drop)
    }
}

pub(crate) mod endpoint {
    //! The VPC endpoint kind: created with a client token; subnets, security groups, route
    //! tables and private DNS converge through `ModifyVpcEndpoint`.

    use aws_sdk_ec2::types::{ResourceType, State, VpcEndpoint, VpcEndpointType};

    use super::*;
    use crate::provider::session::{Poll, Waiter, poll};

    /// Whether the endpoint's state is `name`. The API documents capitalized states but
    /// answers in lower case (`available`), so compare without case.
    fn state_is(state: Option<&State>, names: &[&str]) -> bool {
        state.is_some_and(|s| names.iter().any(|n| s.as_str().eq_ignore_ascii_case(n)))
    }

    fn available(state: Option<&State>) -> bool {
        state_is(state, &["available"])
    }

    fn dead(state: Option<&State>) -> bool {
        state_is(
            state,
            &["deleted", "deleting", "failed", "rejected", "expired"],
        )
    }

    pub(crate) async fn create(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        replacing: Option<&str>,
        generation: &str,
    ) -> Result<Created, ProviderError> {
        s.read(API_EC2_READ).await;
        let out = c
            .ec2
            .describe_vpc_endpoints()
            .set_filters(Some(owned_filters(s)))
            .send()
            .await
            .map_err(|e| s.fail("DescribeVpcEndpoints", e))?;
        let existing = out
            .vpc_endpoints()
            .iter()
            .filter(|e| !dead(e.state()))
            .filter_map(|v| v.vpc_endpoint_id())
            .find(|id| Some(*id) != replacing);
        let id = match existing {
            Some(id) => id.to_owned(),
            None => {
                let (vpc, service, kind) = (
                    p.str("vpc_id")?,
                    p.str("service_name")?,
                    p.str("vpc_endpoint_type")?,
                );
                let token = props::client_token(generation);
                let (subnets, groups, tables) = (
                    p.strings("subnet_ids")?,
                    p.strings("security_group_ids")?,
                    p.strings("route_table_ids")?,
                );
                s.mutating(
                    "CreateVpcEndpoint",
                    API_EC2_VPCE,
                    serde_json::json!({
                        "vpc_id": vpc,
                        "service_name": service,
                        "vpc_endpoint_type": kind,
                        "client_token": token,
                    }),
                )
                .await?;
                let out = c
                    .ec2
                    .create_vpc_endpoint()
                    .vpc_id(vpc)
                    .service_name(service)
                    .vpc_endpoint_type(VpcEndpointType::from(kind))
                    .set_subnet_ids((!subnets.is_empty()).then_some(subnets))
                    .set_security_group_ids((!groups.is_empty()).then_some(groups))
                    .set_route_table_ids((!tables.is_empty()).then_some(tables))
                    .set_private_dns_enabled(p.opt_bool("private_dns_enabled")?)
                    .client_token(token)
                    .tag_specifications(tag_spec(ResourceType::VpcEndpoint, &p.tags()?))
                    .send()
                    .await
                    .map_err(|e| s.fail("CreateVpcEndpoint", e))?;
                out.vpc_endpoint()
                    .and_then(|v| v.vpc_endpoint_id())
                    .ok_or_else(|| s.missing("CreateVpcEndpoint", "VpcEndpoint.VpcEndpointId"))?
                    .to_owned()
            }
        };
        converge(c, s, p, &id).await
    }

    async fn describe(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<Option<VpcEndpoint>, ProviderError> {
        let out = found(
            c.ec2
                .describe_vpc_endpoints()
                .vpc_endpoint_ids(id)
                .send()
                .await
                .map_err(|e| s.fail("DescribeVpcEndpoints", e)),
        )?;
        Ok(out
            .and_then(|o| o.vpc_endpoints().first().cloned())
            .filter(|e| !state_is(e.state(), &["deleted"])))
    }

    fn groups(e: &VpcEndpoint) -> Vec<String> {
        e.groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_owned))
            .collect()
    }

    fn diff(live: &[String], want: &[String]) -> (Option<Vec<String>>, Option<Vec<String>>) {
        let add: Vec<String> = want.iter().filter(|w| !live.contains(w)).cloned().collect();
        let remove: Vec<String> = live.iter().filter(|l| !want.contains(l)).cloned().collect();
        (
            (!add.is_empty()).then_some(add),
            (!remove.is_empty()).then_some(remove),
        )
    }

    pub(crate) async fn converge(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        id: &str,
    ) -> Result<Created, ProviderError> {
        s.read(API_EC2_READ).await;
        let e = describe(c, s, id).await?.ok_or_else(|| {
            s.error(
                ErrorClass::NotFound,
                "DescribeVpcEndpoints",
                "InvalidVpcEndpointId.NotFound",
                id,
            )
        })?;
        let interface = p.str("vpc_endpoint_type")? == "Interface";
        let (add_subnets, remove_subnets) = if interface {
            diff(e.subnet_ids(), &p.strings("subnet_ids")?)
        } else {
            (None, None)
        };
        let (add_groups, remove_groups) = if interface {
            diff(&groups(&e), &p.strings("security_group_ids")?)
        } else {
            (None, None)
        };
        let (add_tables, remove_tables) = if interface {
            (None, None)
        } else {
            diff(e.route_table_ids(), &p.strings("route_table_ids")?)
        };
        let dns = p
            .opt_bool("private_dns_enabled")?
            .filter(|want| interface && e.private_dns_enabled() != Some(*want));
        let changes = [
            &add_subnets,
            &remove_subnets,
            &add_groups,
            &remove_groups,
            &add_tables,
            &remove_tables,
        ];
        if changes.iter().any(|c| c.is_some()) || dns.is_some() {
            s.mutating(
                "ModifyVpcEndpoint",
                API_EC2_VPCE,
                serde_json::json!({
                    "vpc_endpoint_id": id,
                    "add_subnet_ids": add_subnets,
                    "remove_subnet_ids": remove_subnets,
                    "add_security_group_ids": add_groups,
                    "remove_security_group_ids": remove_groups,
                    "add_route_table_ids": add_tables,
                    "remove_route_table_ids": remove_tables,
                    "private_dns_enabled": dns,
                }),
            )
            .await?;
            c.ec2
                .modify_vpc_endpoint()
                .vpc_endpoint_id(id)
                .set_add_subnet_ids(add_subnets)
                .set_remove_subnet_ids(remove_subnets)
                .set_add_security_group_ids(add_groups)
                .set_remove_security_group_ids(remove_groups)
                .set_add_route_table_ids(add_tables)
                .set_remove_route_table_ids(remove_tables)
                .set_private_dns_enabled(dns)
                .send()
                .await
                .map_err(|e| s.fail("ModifyVpcEndpoint", e))?;
        }
        sync_tags(c, s, id, &live_tags(e.tags()), &p.tags()?).await?;
        let ready = available(e.state());
        Ok(created(id, props_of([("id", Value::from(id))]), ready))
    }

    pub(crate) async fn read(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<Option<LiveObject>, ProviderError> {
        s.read(API_EC2_READ).await;
        let Some(e) = describe(c, s, id).await?.filter(|e| !dead(e.state())) else {
            return Ok(None);
        };
        let kind = e.vpc_endpoint_type().map_or("Gateway", |t| t.as_str());
        let mut properties = props_of([
            ("vpc_id", Value::from(e.vpc_id().unwrap_or_default())),
            (
                "service_name",
                Value::from(e.service_name().unwrap_or_default()),
            ),
            ("vpc_endpoint_type", Value::from(kind)),
            ("tags", tags_value(&live_tags(e.tags()))),
        ]);
        if kind == "Interface" {
            properties.insert(
                "subnet_ids".to_owned(),
                props::strings_value(e.subnet_ids()),
            );
            properties.insert(
                "security_group_ids".to_owned(),
                props::strings_value(groups(&e)),
            );
            properties.insert(
                "private_dns_enabled".to_owned(),
                Value::from(e.private_dns_enabled().unwrap_or(false)),
            );
        } else {
            properties.insert(
                "route_table_ids".to_owned(),
                props::strings_value(e.route_table_ids()),
            );
        }
        Ok(Some(LiveObject {
            cloud_id: id.to_owned(),
            properties,
            outputs: props_of([("id", Value::from(id))]),
        }))
    }

    /// Available, like botocore's other EC2 waiters; no published waiter exists for endpoints.
    pub(crate) async fn wait_ready(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<Properties, ProviderError> {
        poll(
            s,
            API_EC2_READ,
            Waiter::new("VpcEndpointAvailable", 15, 40),
            || async {
                let Some(e) = describe(c, s, id).await? else {
                    return Ok(Poll::Pending("not found yet".to_owned()));
                };
                match e.state() {
                    state if available(state) => Ok(Poll::Done(())),
                    state if dead(state) => Err(s.error(
                        ErrorClass::Fatal,
                        "VpcEndpointAvailable",
                        "VpcEndpointFailed",
                        format!(
                            "VPC endpoint {id} is {}: {}",
                            state.map_or("unknown", |s| s.as_str()),
                            e.last_error()
                                .and_then(|l| l.message())
                                .unwrap_or("no error message")
                        ),
                    )),
                    other => Ok(Poll::Pending(
                        other.map_or("unknown", |s| s.as_str()).to_owned(),
                    )),
                }
            },
        )
        .await?;
        Ok(props_of([("id", Value::from(id))]))
    }

    pub(crate) async fn wait_deleted(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<Properties, ProviderError> {
        poll(
            s,
            API_EC2_READ,
            Waiter::new("VpcEndpointDeleted", 15, 40),
            || async {
                match describe(c, s, id).await? {
                    None => Ok(Poll::Done(())),
                    Some(e) => Ok(Poll::Pending(
                        e.state().map_or("unknown", |s| s.as_str()).to_owned(),
                    )),
                }
            },
        )
        .await?;
        Ok(Properties::new())
    }

    pub(crate) async fn delete(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<(), ProviderError> {
        s.mutating(
            "DeleteVpcEndpoints",
            API_EC2_VPCE,
            serde_json::json!({ "vpc_endpoint_ids": [id] }),
        )
        .await?;
        let Some(out) = found(
            c.ec2
                .delete_vpc_endpoints()
                .vpc_endpoint_ids(id)
                .send()
                .await
                .map_err(|e| s.fail("DeleteVpcEndpoints", e)),
        )?
        else {
            return Ok(());
        };
        // The call reports per-endpoint failures in its answer, not as an error.
        match out.unsuccessful().iter().find_map(|u| u.error()) {
            Some(err) => {
                let code = err.code().unwrap_or("Unknown");
                let class = super::super::errors::classify(code, None, err.message().unwrap_or(""));
                if class == ErrorClass::NotFound {
                    Ok(())
                } else {
                    Err(s.error(
                        class,
                        "DeleteVpcEndpoints",
                        code,
                        err.message().unwrap_or(""),
                    ))
                }
            }
            None => Ok(()),
        }
    }
}
