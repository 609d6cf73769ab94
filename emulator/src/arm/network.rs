//! Microsoft.Network as Slipway uses it: virtual networks (with subnets both as children and
//! inline), private endpoints with their DNS zone groups, private DNS zones and their VNet
//! links. Strict like the Network resource provider: malformed prefixes, subnets outside the
//! address space or overlapping a sibling, and deleting a subnet still used by an agent pool or
//! a private endpoint are refused with NRP's error codes.
//!
//! A private endpoint's target (`privateLinkServiceId`) must be a well-formed resource id but is
//! never looked up: the emulator has no storage accounts, vaults or registries. Nothing here may
//! decide how a long-running operation is reported.

use ipnet::Ipv4Net;
use serde_json::{Value, json};

use super::resources::{Planned, render as render_resource};
use super::store::{Resource, State};
use super::{ArmCtx, ArmError, ArmResult, Rid, catalog, parse_id};
use crate::lifecycle::Op;

/// Parses an IPv4 prefix the way NRP does: malformed → `InvalidAddressPrefixFormat`, host
/// bits set → `InvalidCIDRNotation`.
pub(crate) fn parse_prefix(s: &str, owner: &str) -> ArmResult<Ipv4Net> {
    let net: Ipv4Net = s.parse().map_err(|_| {
        ArmError::bad(
            "InvalidAddressPrefixFormat",
            format!("Address prefix {s} of resource {owner} is not formatted correctly. It should follow CIDR notation, for example 10.0.0.0/24."),
        )
    })?;
    if net.trunc() != net {
        return Err(ArmError::bad(
            "InvalidCIDRNotation",
            format!(
                "The address prefix {s} in resource {owner} has an invalid CIDR notation. For the given prefix length, the address prefix should be {}.",
                net.trunc()
            ),
        ));
    }
    Ok(net)
}

/// Whether two prefixes share an address.
pub(crate) fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

fn location_required() -> ArmError {
    ArmError::bad(
        "LocationRequired",
        "The location property is required for this definition.",
    )
}

fn invalid_reference(id: &str, owner: &str) -> ArmError {
    ArmError::bad(
        "InvalidResourceReference",
        format!(
            "Resource {id} referenced by resource {owner} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region."
        ),
    )
}

fn str_at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v str> {
    path.iter()
        .try_fold(v, |v, k| v.get(*k))
        .and_then(Value::as_str)
}

/// The address prefixes of a VNet resource.
pub(crate) fn vnet_prefixes(vnet: &Resource) -> Vec<Ipv4Net> {
    vnet.body
        .pointer("/properties/addressSpace/addressPrefixes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter_map(|s| s.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn subnet_prefix(body: &Value) -> Option<&str> {
    str_at(body, &["properties", "addressPrefix"]).or_else(|| {
        body.pointer("/properties/addressPrefixes/0")
            .and_then(Value::as_str)
    })
}

/// Ids of what uses a subnet: agent pools (`vnetSubnetID`) and private endpoints.
pub(crate) fn subnet_users(ctx: &ArmCtx<'_>, subnet_id: &str) -> Vec<String> {
    ctx.arm
        .resources
        .values()
        .filter(|r| {
            let used = match r.rtype.as_str() {
                catalog::POOL => str_at(&r.body, &["properties", "vnetSubnetID"]),
                catalog::PRIVATE_ENDPOINT => str_at(&r.body, &["properties", "subnet", "id"]),
                _ => None,
            };
            used.is_some_and(|u| u.eq_ignore_ascii_case(subnet_id))
        })
        .map(|r| r.id.clone())
        .collect()
}

fn in_use(subnet: &str, user: &str) -> ArmError {
    ArmError::bad(
        "InUseSubnetCannotBeDeleted",
        format!(
            "Subnet {subnet} is in use by {user} and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet."
        ),
    )
}

/// Validates one subnet prefix against its VNet's space and its siblings.
fn check_subnet(
    name: &str,
    vnet_name: &str,
    prefix: Ipv4Net,
    space: &[Ipv4Net],
    siblings: &[(String, Ipv4Net)],
) -> ArmResult<()> {
    if !space.iter().any(|s| s.contains(&prefix)) {
        return Err(ArmError::bad(
            "NetcfgSubnetRangeOutsideVnet",
            format!(
                "Subnet '{name}' is not valid because its IP address range is outside the IP address range of virtual network '{vnet_name}'."
            ),
        ));
    }
    if siblings
        .iter()
        .any(|(n, p)| !n.eq_ignore_ascii_case(name) && overlaps(*p, prefix))
    {
        return Err(ArmError::bad(
            "NetcfgSubnetRangesOverlap",
            format!(
                "Subnet '{name}' is not valid because its IP address range overlaps with that of an existing subnet in virtual network '{vnet_name}'."
            ),
        ));
    }
    Ok(())
}

/// PUT of a network type.
pub(crate) fn put(
    ctx: &mut ArmCtx<'_>,
    rtype: &str,
    rid: &Rid,
    existing: Option<&Resource>,
    body: Value,
    op_id: &str,
) -> ArmResult<Planned> {
    match rtype {
        catalog::VNET => put_vnet(ctx, rid, existing, body, op_id),
        catalog::SUBNET => put_subnet(ctx, rid, existing, body),
        catalog::PRIVATE_ENDPOINT => put_endpoint(ctx, rid, existing, body),
        catalog::ZONE_GROUP => {
            if let Some(configs) = body
                .pointer("/properties/privateDnsZoneConfigs")
                .and_then(Value::as_array)
            {
                for c in configs {
                    if let Some(zone) = str_at(c, &["properties", "privateDnsZoneId"])
                        && ctx.arm.get(zone).is_none()
                    {
                        return Err(invalid_reference(zone, &rid.id()));
                    }
                }
            }
            Ok(Planned {
                body,
                op: Some(Op::NetworkChange),
                error: None,
            })
        }
        _ => put_dns(ctx, rtype, rid, body),
    }
}

fn put_vnet(
    ctx: &mut ArmCtx<'_>,
    rid: &Rid,
    existing: Option<&Resource>,
    mut body: Value,
    op_id: &str,
) -> ArmResult<Planned> {
    if body.get("location").and_then(Value::as_str).is_none() {
        return Err(location_required());
    }
    let id = rid.id();
    let prefixes = body
        .pointer("/properties/addressSpace/addressPrefixes")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            ArmError::bad(
                "InvalidRequestFormat",
                "Cannot parse the request: properties.addressSpace.addressPrefixes must name at least one prefix.",
            )
        })?
        .clone();
    let mut space = Vec::new();
    for p in &prefixes {
        let s = p.as_str().unwrap_or_default();
        space.push(parse_prefix(s, &id)?);
    }
    // Inline subnets replace the VNet's subnets: any left out are deleted, as in ARM.
    let inline: Vec<Value> = body
        .get_mut("properties")
        .and_then(|p| p.as_object_mut())
        .and_then(|p| p.remove("subnets"))
        .and_then(|s| s.as_array().cloned())
        .unwrap_or_default();
    let mut wanted: Vec<(String, Ipv4Net, Value)> = Vec::new();
    for s in &inline {
        let name = s.get("name").and_then(Value::as_str).unwrap_or_default();
        let owner = format!("{id}/subnets/{name}");
        let prefix = subnet_prefix(s).ok_or_else(|| {
            ArmError::bad(
                "InvalidRequestFormat",
                format!("Cannot parse the request: subnet '{name}' has no addressPrefix."),
            )
        })?;
        let net = parse_prefix(prefix, &owner)?;
        let siblings: Vec<(String, Ipv4Net)> =
            wanted.iter().map(|(n, p, _)| (n.clone(), *p)).collect();
        check_subnet(name, rid.name(), net, &space, &siblings)?;
        wanted.push((name.to_owned(), net, s.clone()));
    }
    let key = rid.key();
    let current: Vec<Resource> = if existing.is_some() {
        ctx.arm.children(&key, catalog::SUBNET).cloned().collect()
    } else {
        Vec::new()
    };
    for sub in &current {
        let kept = wanted
            .iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(sub.name()));
        let users = subnet_users(ctx, &sub.id);
        match kept {
            None => {
                if let Some(u) = users.first() {
                    return Err(in_use(sub.name(), u));
                }
            }
            Some((_, net, _)) => {
                let old = subnet_prefix(&sub.body).unwrap_or_default();
                if !users.is_empty() && old != net.to_string() {
                    return Err(ArmError::bad(
                        "InUseSubnetCannotBeUpdated",
                        format!(
                            "Subnet {} is in use and its address prefix cannot be updated.",
                            sub.name()
                        ),
                    ));
                }
            }
        }
    }
    for sub in &current {
        if !wanted
            .iter()
            .any(|(n, _, _)| n.eq_ignore_ascii_case(sub.name()))
        {
            ctx.arm.remove_tree(&sub.id.to_ascii_lowercase());
        }
    }
    for (name, _, s) in wanted {
        let sub_id = format!("{id}/subnets/{name}");
        let sub_key = sub_id.to_ascii_lowercase();
        let props = s.get("properties").cloned().unwrap_or_else(|| json!({}));
        let etag = ctx.uuid();
        let old = ctx.arm.resources.get(&sub_key).cloned();
        ctx.arm.resources.insert(
            sub_key,
            Resource {
                id: old.as_ref().map_or(sub_id, |o| o.id.clone()),
                rtype: catalog::SUBNET.to_owned(),
                body: json!({ "properties": props }),
                etag,
                created_ms: old.as_ref().map_or(ctx.now, |o| o.created_ms),
                state: if old.is_some() {
                    State::Updating
                } else {
                    State::Creating
                },
                op: Some(op_id.to_owned()),
            },
        );
    }
    Ok(Planned {
        body,
        op: Some(Op::NetworkChange),
        error: None,
    })
}

fn put_subnet(
    ctx: &mut ArmCtx<'_>,
    rid: &Rid,
    existing: Option<&Resource>,
    mut body: Value,
) -> ArmResult<Planned> {
    let id = rid.id();
    let vnet_rid = rid
        .parent()
        .ok_or_else(|| super::resources::not_found(rid))?;
    let vnet = ctx
        .arm
        .get(&vnet_rid.id())
        .cloned()
        .ok_or_else(|| super::resources::not_found(&vnet_rid))?;
    let prefix = subnet_prefix(&body).ok_or_else(|| {
        ArmError::bad(
            "InvalidRequestFormat",
            format!(
                "Cannot parse the request: subnet '{}' has no addressPrefix.",
                rid.name()
            ),
        )
    })?;
    let net = parse_prefix(prefix, &id)?;
    let siblings: Vec<(String, Ipv4Net)> = ctx
        .arm
        .children(&vnet_rid.key(), catalog::SUBNET)
        .filter_map(|s| {
            subnet_prefix(&s.body)
                .and_then(|p| p.parse().ok())
                .map(|p| (s.name().to_owned(), p))
        })
        .collect();
    check_subnet(
        rid.name(),
        vnet_rid.name(),
        net,
        &vnet_prefixes(&vnet),
        &siblings,
    )?;
    if let Some(old) = existing {
        let was = subnet_prefix(&old.body).unwrap_or_default();
        if was != net.to_string() && !subnet_users(ctx, &old.id).is_empty() {
            return Err(ArmError::bad(
                "InUseSubnetCannotBeUpdated",
                format!(
                    "Subnet {} is in use and its address prefix cannot be updated.",
                    rid.name()
                ),
            ));
        }
    }
    if let Some(o) = body.as_object_mut() {
        o.remove("name");
        o.remove("id");
        o.remove("type");
        o.remove("etag");
    }
    Ok(Planned {
        body,
        op: Some(Op::NetworkChange),
        error: None,
    })
}

/// Whether `id` looks like a resource id a private link can target.
fn well_formed_target(id: &str) -> bool {
    let segs: Vec<&str> = id.trim_start_matches('/').split('/').collect();
    id.starts_with('/')
        && segs.iter().all(|s| !s.is_empty())
        && ((segs.first() == Some(&"subscriptions")
            && segs.iter().any(|s| s.eq_ignore_ascii_case("providers"))
            && segs.len() >= 8)
            || (segs.first() == Some(&"providers") && segs.len() >= 4))
}

fn put_endpoint(
    ctx: &mut ArmCtx<'_>,
    rid: &Rid,
    existing: Option<&Resource>,
    mut body: Value,
) -> ArmResult<Planned> {
    if body.get("location").and_then(Value::as_str).is_none() {
        return Err(location_required());
    }
    let id = rid.id();
    let subnet = str_at(&body, &["properties", "subnet", "id"]).ok_or_else(|| {
        ArmError::bad(
            "InvalidRequestFormat",
            "Cannot parse the request: properties.subnet.id is required.",
        )
    })?;
    if ctx.arm.get(subnet).is_none() || parse_id(subnet).is_none() {
        return Err(invalid_reference(subnet, &id));
    }
    let mut connections = 0;
    for list in [
        "privateLinkServiceConnections",
        "manualPrivateLinkServiceConnections",
    ] {
        let Some(items) = body
            .pointer(&format!("/properties/{list}"))
            .and_then(Value::as_array)
        else {
            continue;
        };
        for (i, c) in items.iter().enumerate() {
            let path = format!("properties.{list}[{i}].properties.privateLinkServiceId");
            let target = str_at(c, &["properties", "privateLinkServiceId"]).unwrap_or_default();
            if !well_formed_target(target) {
                return Err(ArmError::bad(
                    "LinkedInvalidPropertyId",
                    format!("Property id '{target}' at path '{path}' is invalid. Expect fully qualified resource Id that start with '/subscriptions/{{subscriptionId}}' or '/providers/{{resourceProviderNamespace}}/'."),
                )
                .target(&path));
            }
            connections += 1;
        }
    }
    if connections == 0 {
        return Err(ArmError::bad(
            "PrivateEndpointMustHaveOneConnection",
            format!("Private endpoint {id} must have exactly one private link service connection."),
        ));
    }
    let nic = existing
        .and_then(|e| {
            e.body
                .pointer("/properties/networkInterfaces/0/id")
                .cloned()
        })
        .unwrap_or_else(|| {
            let name = str_at(&body, &["properties", "customNetworkInterfaceName"]).map_or_else(
                || format!("{}.nic.{}", rid.name(), ctx.uuid()),
                str::to_owned,
            );
            json!(format!(
                "{}/providers/Microsoft.Network/networkInterfaces/{name}",
                rid.rg_id()
            ))
        });
    if let Some(p) = body.get_mut("properties").and_then(Value::as_object_mut) {
        p.insert("networkInterfaces".into(), json!([{ "id": nic }]));
        if let Some(Value::Array(items)) = p.get_mut("privateLinkServiceConnections") {
            for c in items {
                c["properties"]["privateLinkServiceConnectionState"] = json!({
                    "status": "Approved",
                    "description": "Auto-Approved",
                    "actionsRequired": "None",
                });
            }
        }
    }
    Ok(Planned {
        body,
        op: Some(Op::PrivateEndpoint),
        error: None,
    })
}

fn put_dns(ctx: &mut ArmCtx<'_>, rtype: &str, rid: &Rid, body: Value) -> ArmResult<Planned> {
    let location = body
        .get("location")
        .and_then(Value::as_str)
        .ok_or_else(location_required)?;
    if !location.eq_ignore_ascii_case("global") {
        return Err(ArmError::bad(
            "LocationNotAvailableForResourceType",
            format!(
                "The provided location '{location}' is not available for resource type '{rtype}'. List of available regions for the resource type is 'global'."
            ),
        ));
    }
    if rtype == catalog::DNS_LINK {
        let vnet = str_at(&body, &["properties", "virtualNetwork", "id"]).ok_or_else(|| {
            ArmError::bad(
                "InvalidRequestFormat",
                "Cannot parse the request: properties.virtualNetwork.id is required.",
            )
        })?;
        if ctx.arm.get(vnet).is_none() {
            return Err(invalid_reference(vnet, &rid.id()));
        }
    }
    Ok(Planned {
        body,
        op: Some(Op::PrivateDns),
        error: None,
    })
}

/// Refuses deletes of what is in use; the operation a delete runs.
pub(crate) fn check_delete(
    ctx: &mut ArmCtx<'_>,
    rtype: &str,
    res: &Resource,
) -> ArmResult<Option<Op>> {
    match rtype {
        catalog::VNET => {
            let key = res.id.to_ascii_lowercase();
            for sub in ctx.arm.children(&key, catalog::SUBNET) {
                if let Some(u) = subnet_users(ctx, &sub.id).first() {
                    return Err(in_use(sub.name(), u));
                }
            }
            Ok(Some(Op::NetworkChange))
        }
        catalog::SUBNET => match subnet_users(ctx, &res.id).first() {
            Some(u) => Err(in_use(res.name(), u)),
            None => Ok(Some(Op::NetworkChange)),
        },
        catalog::PRIVATE_ENDPOINT => Ok(Some(Op::PrivateEndpoint)),
        catalog::ZONE_GROUP => Ok(Some(Op::NetworkChange)),
        _ => Ok(Some(Op::PrivateDns)),
    }
}

/// Read-only parts of network objects: a VNet's subnets inline, DNS outputs.
pub(crate) fn render(ctx: &ArmCtx<'_>, res: &Resource, value: &mut Value) {
    match res.rtype.as_str() {
        catalog::VNET => {
            let key = res.id.to_ascii_lowercase();
            let subnets: Vec<Value> = ctx
                .arm
                .children(&key, catalog::SUBNET)
                .map(|s| render_resource(ctx, s))
                .collect();
            value["properties"]["subnets"] = json!(subnets);
        }
        catalog::DNS_ZONE => {
            value["properties"]["maxNumberOfRecordSets"] = json!(25_000);
            value["properties"]["numberOfRecordSets"] = json!(1);
            value["properties"]["maxNumberOfVirtualNetworkLinks"] = json!(1_000);
        }
        catalog::DNS_LINK => {
            value["properties"]["virtualNetworkLinkState"] = json!("Completed");
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_parse_like_nrp() {
        assert!(parse_prefix("10.0.0.0/16", "v").is_ok());
        assert_eq!(
            parse_prefix("10.0.0.0/33", "v").unwrap_err().code,
            "InvalidAddressPrefixFormat"
        );
        assert_eq!(
            parse_prefix("10.0.0.1/24", "v").unwrap_err().code,
            "InvalidCIDRNotation"
        );
        let space = [parse_prefix("10.0.0.0/16", "v").unwrap()];
        let a = parse_prefix("10.0.1.0/24", "s").unwrap();
        let out = parse_prefix("10.1.0.0/24", "s").unwrap();
        assert_eq!(
            check_subnet("b", "v", out, &space, &[]).unwrap_err().code,
            "NetcfgSubnetRangeOutsideVnet"
        );
        assert_eq!(
            check_subnet(
                "b",
                "v",
                parse_prefix("10.0.0.0/23", "s").unwrap(),
                &space,
                &[("a".into(), a)]
            )
            .unwrap_err()
            .code,
            "NetcfgSubnetRangesOverlap"
        );
        assert!(check_subnet("a", "v", a, &space, &[("a".into(), a)]).is_ok());
    }

    #[test]
    fn private_link_targets_must_be_resource_ids() {
        assert!(well_formed_target(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/x"
        ));
        assert!(!well_formed_target("/subscriptions/s/resourceGroups/rg"));
        assert!(!well_formed_target("storage"));
        assert!(!well_formed_target(""));
    }
}
