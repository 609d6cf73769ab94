//! Microsoft.ContainerService: managed clusters (created with their system pool inline),
//! agent pools, upgrade profiles and the versions a location offers, with AKS's rules: the
//! property tree of the swagger, supported versions on the emulator's date, one minor at a
//! time for the control plane (LTS to LTS may skip), pools never newer than the control plane
//! nor more than three minors behind, a system pool always, OS SKUs only where AKS offers
//! them (see `os`), service mesh revisions the minor supports (see `mesh`), and network ranges
//! clear of the VNet. From a minor out of support the
//! only upgrade is to the oldest supported minor.
//!
//! Inline `agentPoolProfiles` become agent pool resources; on later cluster PUTs the listed
//! pools are updated and unlisted ones are left alone. It must never decide how operations
//! are reported.

use serde_json::{Map, Value, json};

use super::mesh;
use super::network::{overlaps, vnet_prefixes};
use super::os::{self, PoolOs};
use super::resources::Planned;
use super::store::{ArmCloud, ErrorBody, Resource, State};
use super::{ArmCtx, ArmError, ArmResult, Reply, Rid, catalog, parse_id, schema};
use crate::faults::FailureTarget;
use crate::lifecycle::Op;

fn str_at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v str> {
    path.iter()
        .try_fold(v, |v, k| v.get(*k))
        .and_then(Value::as_str)
}

/// A resource's location, normalised as ARM compares them (`West Europe` → `westeurope`).
fn location_of(body: &Value) -> String {
    str_at(body, &["location"])
        .unwrap_or("")
        .to_ascii_lowercase()
        .replace(' ', "")
}

fn invalid(target: &str, message: String) -> ArmError {
    ArmError::bad("InvalidParameter", message).target(target)
}

fn no_system_pool() -> ArmError {
    ArmError::bad(
        "MustDefineAtLeastOneSystemPool",
        "Must define at least one system pool.",
    )
}

fn not_allowed(message: String) -> ArmError {
    ArmError::bad("OperationNotAllowed", message)
}

fn lts(body: &Value) -> bool {
    str_at(body, &["sku", "tier"]).is_some_and(|t| t.eq_ignore_ascii_case("Premium"))
        && str_at(body, &["properties", "supportPlan"])
            .is_some_and(|p| p.eq_ignore_ascii_case("AKSLongTermSupport"))
}

/// The full version a requested one runs as, when AKS offers it on `today`.
fn supported_version(
    ctx: &ArmCtx<'_>,
    version: &str,
    lts: bool,
    code: &str,
    what: &str,
) -> ArmResult<String> {
    let unsupported = || {
        ArmError::bad(
            code,
            format!("Version {version} is not supported in this region. Please use [az aks get-versions] command to get the supported version list in this region. For more information, please check https://aka.ms/supported-version-list"),
        )
        .target(what)
    };
    let full = catalog::resolve(version).ok_or_else(unsupported)?;
    let minor = catalog::minor(&full).ok_or_else(unsupported)?;
    if catalog::supported_minor(&format!("1.{minor}"), &ctx.today(), lts) {
        Ok(full)
    } else {
        Err(unsupported())
    }
}

fn check_pool_name(name: &str) -> ArmResult<()> {
    let ok = (1..=12).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "agentPoolProfile.name",
            format!(
                "The value of parameter agentPoolProfile.name is invalid: '{name}'. Agent pool names must start with a lowercase letter, have max length of 12, and only have characters a-z0-9."
            ),
        ))
    }
}

fn skew(
    pool_minor: u32,
    cp_minor: u32,
    pool: &str,
    pool_version: &str,
    cp_version: &str,
) -> ArmResult<()> {
    if pool_minor > cp_minor || cp_minor - pool_minor > 3 {
        return Err(ArmError::bad(
            "NodePoolMcVersionIncompatible",
            format!(
                "Node pool {pool} version {pool_version} and control plane version {cp_version} are incompatible. Minor version of node pool cannot be more than 3 versions less than control plane's version, and cannot be bigger than control plane's version."
            ),
        ));
    }
    Ok(())
}

/// Where an agent pool's body keeps the state injected through the admin API; never rendered,
/// and dropped by the pool's next PUT.
const INJECTED_STATE: &str = "emulatorInjectedState";

/// Overrides an agent pool's reported `provisioningState` (`Failed`; `Succeeded` restores the
/// real one) and `powerState` (`Running` | `Stopped`) from an admin body `{id,
/// provisioningState?, powerState?}`; the error carries the HTTP status (400 or 404).
pub(crate) fn inject_pool_state(arm: &mut ArmCloud, body: &Value) -> Result<Value, (u16, String)> {
    let bad = |m: &str| (400, m.to_owned());
    let id = str_at(body, &["id"]).ok_or_else(|| bad("`id` (an agent pool id) is required"))?;
    let provisioning = match body.get("provisioningState") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_str() {
            Some(s @ ("Failed" | "Succeeded")) => Some(s),
            _ => return Err(bad("`provisioningState` must be `Failed` or `Succeeded`")),
        },
    };
    let power = match body.get("powerState") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_str() {
            Some(s @ ("Running" | "Stopped")) => Some(s),
            _ => return Err(bad("`powerState` must be `Running` or `Stopped`")),
        },
    };
    if provisioning.is_none() && power.is_none() {
        return Err(bad("give `provisioningState`, `powerState` or both"));
    }
    let pool = arm
        .resources
        .get_mut(&id.to_ascii_lowercase())
        .filter(|r| r.rtype == catalog::POOL)
        .ok_or_else(|| (404, format!("no agent pool `{id}`")))?;
    let Some(b) = pool.body.as_object_mut() else {
        return Err((404, format!("no agent pool `{id}`")));
    };
    let mut state = b
        .get(INJECTED_STATE)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    match provisioning {
        Some("Failed") => {
            state.insert("provisioningState".into(), json!("Failed"));
        }
        Some(_) => {
            state.remove("provisioningState");
        }
        None => {}
    }
    match power {
        Some("Stopped") => {
            state.insert("powerState".into(), json!("Stopped"));
        }
        Some(_) => {
            state.remove("powerState");
        }
        None => {}
    }
    if state.is_empty() {
        b.remove(INJECTED_STATE);
    } else {
        b.insert(INJECTED_STATE.into(), Value::Object(state.clone()));
    }
    Ok(json!({
        "id": pool.id,
        "provisioningState": state.get("provisioningState").and_then(Value::as_str).unwrap_or(pool.state.as_str()),
        "powerState": state.get("powerState").and_then(Value::as_str).unwrap_or("Running"),
    }))
}

/// Refuses a VM size the cluster's location does not offer, as AKS does.
fn check_vm_size(name: &str, props: &Map<String, Value>, location: &str) -> ArmResult<()> {
    match props.get("vmSize").and_then(Value::as_str) {
        Some(size) if !crate::offerings::azure_offered(size, location) => Err(ArmError::bad(
            "BadRequest",
            format!(
                "The VM size of AgentPoolProfile:{name} is not allowed in your subscription in location '{location}'. VM size '{size}' is not offered in location '{location}'. For more details, please visit https://aka.ms/aks/quotas-skus-regions"
            ),
        )
        .target("vmSize")),
        _ => Ok(()),
    }
}

/// Validates an agent pool's properties (inline or standalone) in the cluster's `location`
/// and fills in its version.
fn check_pool(
    ctx: &ArmCtx<'_>,
    name: &str,
    props: &mut Map<String, Value>,
    old: Option<&Value>,
    (cp_version, lts, location): (&str, bool, &str),
) -> ArmResult<()> {
    check_pool_name(name)?;
    check_vm_size(name, props, location)?;
    let old_version = old.and_then(|o| str_at(o, &["properties", "orchestratorVersion"]));
    let requested = props
        .get("orchestratorVersion")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .or_else(|| old_version.map(str::to_owned))
        .unwrap_or_else(|| cp_version.to_owned());
    let full = if old_version.and_then(catalog::resolve) == catalog::resolve(&requested) {
        catalog::resolve(&requested).unwrap_or_else(|| requested.clone())
    } else {
        supported_version(
            ctx,
            &requested,
            lts,
            "AgentPoolK8sVersionNotSupported",
            "orchestratorVersion",
        )?
    };
    let pool_minor = catalog::minor(&full).unwrap_or(0);
    let cp_minor = catalog::minor(cp_version).unwrap_or(0);
    skew(pool_minor, cp_minor, name, &full, cp_version)?;
    let old_props = old.and_then(|o| o.get("properties"));
    let field = |key: &str| {
        props
            .get(key)
            .and_then(Value::as_str)
            .or_else(|| old_props.and_then(|o| str_at(o, &[key])))
            .map(str::to_owned)
    };
    let pool_os = PoolOs::of(field("osType").as_deref(), field("osSKU").as_deref());
    let old_os = old_props.map(os_of);
    if let Some(old_os) = &old_os {
        os::check_change(old_os, &pool_os)?;
    }
    let old_count = old_props
        .and_then(|o| o.get("count"))
        .and_then(Value::as_i64);
    let grows = props
        .get("count")
        .and_then(Value::as_i64)
        .is_some_and(|c| old_count.is_none_or(|o| c > o));
    let provisions = old.is_none()
        || old_version.and_then(catalog::resolve).as_deref() != Some(full.as_str())
        || old_os.as_ref() != Some(&pool_os)
        || grows;
    let system_mode = props
        .get("mode")
        .and_then(Value::as_str)
        .is_some_and(|m| m.eq_ignore_ascii_case("System"));
    os::check(
        name,
        &pool_os,
        pool_minor,
        system_mode,
        provisions,
        &ctx.today(),
    )?;
    props.insert("osType".into(), json!(pool_os.os_type));
    props.insert("osSKU".into(), json!(pool_os.sku));
    if let Some(old) = old_version.and_then(catalog::resolve)
        && version_key(&full) < version_key(&old)
    {
        return Err(not_allowed(format!(
            "Downgrading agent pool {name} from {old} to {full} is not allowed."
        )));
    }
    props.insert("orchestratorVersion".into(), json!(requested));
    if let Some(subnet) = props.get("vnetSubnetID").and_then(Value::as_str)
        && (parse_id(subnet).is_none() || ctx.arm.get(subnet).is_none())
    {
        return Err(ArmError::bad(
            "InvalidResourceReference",
            format!("Resource {subnet} referenced by agent pool {name} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region."),
        )
        .target("vnetSubnetID"));
    }
    let count = props.get("count").and_then(Value::as_i64);
    if let Some(c) = count
        && !(0..=1000).contains(&c)
    {
        return Err(invalid(
            "count",
            format!("The value of parameter count is invalid: {c} (0-1000)."),
        ));
    }
    if props.get("enableAutoScaling").and_then(Value::as_bool) == Some(true) {
        let (Some(min), Some(max)) = (
            props.get("minCount").and_then(Value::as_i64),
            props.get("maxCount").and_then(Value::as_i64),
        ) else {
            return Err(invalid(
                "minCount",
                "Autoscaling needs minCount and maxCount.".to_owned(),
            ));
        };
        if min > max || count.is_some_and(|c| c < min || c > max) {
            return Err(invalid(
                "count",
                format!(
                    "The value of parameter count must be within minCount {min} and maxCount {max}, and minCount must not exceed maxCount."
                ),
            ));
        }
    }
    let system = props
        .get("mode")
        .and_then(Value::as_str)
        .is_some_and(|m| m.eq_ignore_ascii_case("System"));
    if system && count == Some(0) {
        return Err(invalid(
            "count",
            "A system pool needs at least one node.".to_owned(),
        ));
    }
    Ok(())
}

fn version_key(v: &str) -> Vec<u32> {
    v.split('.').filter_map(|p| p.parse().ok()).collect()
}

/// The OS of a pool from its `properties`.
fn os_of(props: &Value) -> PoolOs {
    PoolOs::of(str_at(props, &["osType"]), str_at(props, &["osSKU"]))
}

fn is_system(props: &Value) -> bool {
    str_at(props, &["properties", "mode"]).is_some_and(|m| m.eq_ignore_ascii_case("System"))
}

fn failure(ctx: &ArmCtx<'_>, target: FailureTarget, name: &str, what: &str) -> Option<ErrorBody> {
    ctx.faults.fails(target, &[name]).then(|| ErrorBody {
        code: "VMExtensionProvisioningError".to_owned(),
        message: format!("{what} '{name}' failed: a node could not be provisioned (failure injected by the emulator's fault configuration)."),
    })
}

fn check_network(ctx: &ArmCtx<'_>, props: &Value, subnets: &[String]) -> ArmResult<()> {
    let Some(np) = props.get("networkProfile") else {
        return Ok(());
    };
    let cidr = |key: &str, target: &str| -> ArmResult<Option<ipnet::Ipv4Net>> {
        match np.get(key).and_then(Value::as_str) {
            None => Ok(None),
            Some(s) => s
                .parse::<ipnet::Ipv4Net>()
                .ok()
                .filter(|n| n.trunc() == *n)
                .map(Some)
                .ok_or_else(|| {
                    ArmError::bad("CidrStringParseError", format!("Cidr {s} is invalid"))
                        .target(target)
                }),
        }
    };
    let pod = cidr("podCidr", "networkProfile.podCIDR")?;
    let service = cidr("serviceCidr", "networkProfile.serviceCIDR")?;
    let mut space = Vec::new();
    for s in subnets {
        if let Some(vnet) = parse_id(s)
            .and_then(|r| r.parent())
            .and_then(|v| ctx.arm.get(&v.id()))
        {
            space.extend(vnet_prefixes(vnet));
        }
    }
    if let Some(svc) = service
        && let Some(v) = space.iter().find(|v| overlaps(**v, svc))
    {
        return Err(ArmError::bad(
            "ServiceCidrOverlapExistingSubnetsCidr",
            format!(
                "The specified service CIDR {svc} is conflicted with an existing subnet CIDR {v}"
            ),
        )
        .target("networkProfile.serviceCIDR"));
    }
    if let Some(p) = pod
        && let Some(v) = space.iter().find(|v| overlaps(**v, p))
    {
        return Err(invalid(
            "networkProfile.podCIDR",
            format!("The specified pod CIDR {p} overlaps the virtual network address space {v}."),
        ));
    }
    if let (Some(p), Some(s)) = (pod, service)
        && overlaps(p, s)
    {
        return Err(invalid(
            "networkProfile.podCIDR",
            format!("The pod CIDR {p} and the service CIDR {s} overlap."),
        ));
    }
    if let Some(ip) = np.get("dnsServiceIP").and_then(Value::as_str) {
        let addr: std::net::Ipv4Addr = ip.parse().map_err(|_| {
            invalid(
                "networkProfile.dnsServiceIP",
                format!("DNSServiceIP {ip} is not a valid IP address."),
            )
        })?;
        let svc = service.unwrap_or_else(|| "10.0.0.0/16".parse().unwrap_or_default());
        let first = u32::from(svc.network());
        if !svc.contains(&addr) || u32::from(addr) <= first + 1 || addr == svc.broadcast() {
            return Err(invalid(
                "networkProfile.dnsServiceIP",
                format!(
                    "DNSServiceIP {ip} is not within the service CIDR {svc}, or is its network, first or broadcast address."
                ),
            ));
        }
    }
    Ok(())
}

fn check_identity(ctx: &ArmCtx<'_>, body: &Value) -> ArmResult<()> {
    let Some(identity) = body.get("identity") else {
        return Ok(());
    };
    if str_at(identity, &["type"]).is_some_and(|t| t.eq_ignore_ascii_case("UserAssigned")) {
        let ids: Vec<&String> = identity
            .get("userAssignedIdentities")
            .and_then(Value::as_object)
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        let [id] = ids.as_slice() else {
            return Err(invalid(
                "identity",
                "A managed cluster takes exactly one user-assigned identity.".to_owned(),
            ));
        };
        if ctx.arm.get(id).is_none() {
            return Err(ArmError::bad(
                "InvalidResourceReference",
                format!("Resource {id} referenced by the managed cluster identity was not found."),
            )
            .target("identity.userAssignedIdentities"));
        }
    }
    Ok(())
}

/// PUT of a managed cluster or an agent pool.
pub(crate) fn put(
    ctx: &mut ArmCtx<'_>,
    rtype: &str,
    rid: &Rid,
    existing: Option<&Resource>,
    body: Value,
    op_id: &str,
) -> ArmResult<Planned> {
    if rtype == catalog::POOL {
        put_pool(ctx, rid, existing, body)
    } else {
        put_cluster(ctx, rid, existing, body, op_id)
    }
}

fn put_cluster(
    ctx: &mut ArmCtx<'_>,
    rid: &Rid,
    existing: Option<&Resource>,
    mut body: Value,
    op_id: &str,
) -> ArmResult<Planned> {
    if body.get("location").and_then(Value::as_str).is_none() {
        return Err(ArmError::bad(
            "LocationRequired",
            "The location property is required for this definition.",
        ));
    }
    schema::check("managedClusters", &mut body)?;
    check_identity(ctx, &body)?;
    let name = rid.name().to_owned();
    let lts = lts(&body);
    let key = rid.key();
    let today = ctx.today();
    if body.get("properties").is_none() {
        body["properties"] = json!({});
    }
    let profiles: Vec<Value> = body["properties"]
        .as_object_mut()
        .and_then(|p| p.remove("agentPoolProfiles"))
        .and_then(|p| p.as_array().cloned())
        .unwrap_or_default();
    let old_version = existing.and_then(|e| str_at(&e.body, &["properties", "kubernetesVersion"]));
    let requested = str_at(&body, &["properties", "kubernetesVersion"])
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .or_else(|| old_version.map(str::to_owned))
        .or_else(|| catalog::default_minor(&today).map(str::to_owned))
        .ok_or_else(|| {
            ArmError::bad(
                "K8sVersionNotSupported",
                "No Kubernetes version is supported on this date.",
            )
        })?;
    let unchanged = old_version.and_then(catalog::resolve) == catalog::resolve(&requested);
    let full = if unchanged {
        catalog::resolve(&requested).unwrap_or_else(|| requested.clone())
    } else {
        supported_version(
            ctx,
            &requested,
            lts,
            "K8sVersionNotSupported",
            "kubernetesVersion",
        )?
    };
    let new_minor = catalog::minor(&full).unwrap_or(0);
    let pools: Vec<Resource> = ctx.arm.children(&key, catalog::POOL).cloned().collect();
    if let Some(old) = old_version.and_then(catalog::resolve)
        && !unchanged
    {
        let old_minor = catalog::minor(&old).unwrap_or(0);
        if version_key(&full) < version_key(&old) {
            return Err(not_allowed(format!(
                "Downgrading Kubernetes version {old} to {full} is not allowed."
            )));
        }
        let from_unsupported = !catalog::supported_minor(&format!("1.{old_minor}"), &today, lts);
        let lts_jump = lts
            && catalog::has_lts(&format!("1.{old_minor}"))
            && catalog::has_lts(&format!("1.{new_minor}"));
        // From an unsupported minor AKS offers the oldest supported one only.
        let back_into_support = from_unsupported
            && catalog::supported_minors(&today, lts)
                .first()
                .and_then(|m| catalog::minor(m))
                == Some(new_minor);
        if new_minor > old_minor + 1 && !back_into_support && !lts_jump {
            let available = upgrades_from(&old, &today, lts).join(" ");
            return Err(not_allowed(format!(
                "Upgrading Kubernetes version {old} to {full} is not allowed. Available upgrades: [{available}]. Please see https://aka.ms/aks-supported-k8s-ver for version details."
            )));
        }
        for p in &pools {
            let pool_os = p
                .body
                .get("properties")
                .map(os_of)
                .unwrap_or_else(|| PoolOs::of(None, None));
            os::check_control_plane(p.name(), &pool_os, new_minor)?;
            let pv = str_at(&p.body, &["properties", "orchestratorVersion"])
                .and_then(catalog::resolve)
                .unwrap_or_default();
            if !profiles
                .iter()
                .any(|x| str_at(x, &["name"]) == Some(p.name()))
            {
                skew(
                    catalog::minor(&pv).unwrap_or(0),
                    new_minor,
                    p.name(),
                    &pv,
                    &full,
                )?;
            }
        }
    }
    if let Some(p) = body["properties"].as_object_mut() {
        mesh::check(p, existing.map(|e| &e.body), &full)?;
    }
    // Pools: inline profiles are created (at create) or updated (later PUTs).
    if existing.is_none() && profiles.is_empty() {
        return Err(no_system_pool());
    }
    let mut planned_pools = Vec::new();
    for (i, profile) in profiles.iter().enumerate() {
        let pname = str_at(profile, &["name"]).unwrap_or_default().to_owned();
        let mut props = profile.as_object().cloned().unwrap_or_default();
        props.remove("name");
        if existing.is_none() && i == 0 && !props.contains_key("mode") {
            props.insert("mode".into(), json!("System"));
        }
        let old = pools
            .iter()
            .find(|p| p.name() == pname)
            .map(|p| p.body.clone());
        check_pool(
            ctx,
            &pname,
            &mut props,
            old.as_ref(),
            (&full, lts, &location_of(&body)),
        )?;
        planned_pools.push((pname, props));
    }
    if existing.is_none()
        && !planned_pools.iter().any(|(_, p)| {
            p.get("mode")
                .and_then(Value::as_str)
                .is_some_and(|m| m.eq_ignore_ascii_case("System"))
        })
    {
        return Err(no_system_pool());
    }
    let mut subnets: Vec<String> = planned_pools
        .iter()
        .filter_map(|(_, p)| {
            p.get("vnetSubnetID")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    subnets.extend(
        pools
            .iter()
            .filter_map(|p| str_at(&p.body, &["properties", "vnetSubnetID"]).map(str::to_owned)),
    );
    if existing.is_none() {
        check_network(ctx, &body["properties"], &subnets)?;
    }

    // Computed outputs: kept from the existing cluster, made at create.
    let outputs = match existing {
        Some(e) => e.body.get("outputs").cloned().unwrap_or(Value::Null),
        None => {
            let location = str_at(&body, &["location"])
                .unwrap_or("")
                .to_ascii_lowercase()
                .replace(' ', "");
            let prefix = str_at(&body, &["properties", "dnsPrefix"])
                .map_or_else(|| format!("{}-{}", name, &rid.rg), str::to_owned);
            let h = ctx.hex(8);
            let cluster_guid = ctx.uuid();
            let kubelet_client = ctx.uuid();
            let kubelet_object = ctx.uuid();
            json!({
                "fqdn": format!("{prefix}-{h}.hcp.{location}.azmk8s.io"),
                "privateFQDN": format!("{prefix}-{h}.{cluster_guid}.privatelink.{location}.azmk8s.io"),
                "azurePortalFQDN": format!("{prefix}-{h}.portal.hcp.{location}.azmk8s.io"),
                "issuer": format!("https://{location}.oic.prod-aks.azure.com/{}/{cluster_guid}/", ctx.tenant()),
                "nodeResourceGroup": format!("MC_{}_{}_{}", rid.rg, name, location),
                "kubelet": {
                    "resourceId": format!("/subscriptions/{}/resourceGroups/MC_{}_{}_{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{}-agentpool", rid.sub, rid.rg, name, location, name),
                    "clientId": kubelet_client,
                    "objectId": kubelet_object,
                },
                "resourceUID": ctx.hex(24),
            })
        }
    };
    body["outputs"] = outputs;

    let created = existing.is_none();
    for (pname, props) in planned_pools {
        let pool_id = format!("{}/agentPools/{pname}", rid.id());
        let pool_key = pool_id.to_ascii_lowercase();
        let old = ctx.arm.resources.get(&pool_key).cloned();
        let etag = ctx.uuid();
        ctx.arm.resources.insert(
            pool_key,
            Resource {
                id: old.as_ref().map_or(pool_id, |o| o.id.clone()),
                rtype: catalog::POOL.to_owned(),
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
    let op = if created {
        Op::AksCreate
    } else if unchanged {
        Op::AksUpdate
    } else {
        Op::AksUpgrade
    };
    let error = failure(ctx, FailureTarget::ManagedCluster, &name, "Managed cluster");
    Ok(Planned {
        body,
        op: Some(op),
        error,
    })
}

fn put_pool(
    ctx: &mut ArmCtx<'_>,
    rid: &Rid,
    existing: Option<&Resource>,
    mut body: Value,
) -> ArmResult<Planned> {
    schema::check("agentPools", &mut body)?;
    let cluster_rid = rid
        .parent()
        .ok_or_else(|| super::resources::not_found(rid))?;
    let cluster = ctx
        .arm
        .get(&cluster_rid.id())
        .cloned()
        .ok_or_else(|| super::resources::not_found(&cluster_rid))?;
    if cluster.op.is_some() {
        return Err(ArmError::new(
            409,
            "OperationNotAllowed",
            format!(
                "Operation is not allowed because there's an in progress {} operation on managed cluster '{}'. Please wait for it to finish before starting a new operation. See https://aka.ms/aks-pending-operation for more details",
                cluster.state.as_str().to_ascii_lowercase(),
                cluster.name()
            ),
        ));
    }
    let cp = str_at(&cluster.body, &["properties", "kubernetesVersion"])
        .and_then(catalog::resolve)
        .unwrap_or_default();
    let lts = lts(&cluster.body);
    if body.get("properties").is_none() {
        body["properties"] = json!({});
    }
    let name = rid.name().to_owned();
    let mut props = body["properties"].as_object().cloned().unwrap_or_default();
    check_pool(
        ctx,
        &name,
        &mut props,
        existing.map(|e| &e.body),
        (&cp, lts, &location_of(&cluster.body)),
    )?;
    let others_system = ctx
        .arm
        .children(&cluster_rid.key(), catalog::POOL)
        .any(|p| p.name() != name && is_system(&p.body));
    let system = props
        .get("mode")
        .and_then(Value::as_str)
        .is_some_and(|m| m.eq_ignore_ascii_case("System"));
    if existing.is_some_and(is_system_res) && !system && !others_system {
        return Err(no_system_pool());
    }
    let old_version = existing
        .and_then(|e| str_at(&e.body, &["properties", "orchestratorVersion"]))
        .and_then(catalog::resolve);
    let new_version = props
        .get("orchestratorVersion")
        .and_then(Value::as_str)
        .and_then(catalog::resolve);
    let op = match existing {
        None => Op::AgentPoolCreate,
        Some(_) if old_version != new_version => {
            let count = props
                .get("count")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .max(1);
            let surge = props
                .get("upgradeSettings")
                .and_then(|u| u.get("maxSurge"))
                .and_then(Value::as_str)
                .map_or(1, |s| surge_nodes(s, count));
            Op::AgentPoolRoll {
                batches: u32::try_from(count.div_ceil(surge.max(1))).unwrap_or(u32::MAX),
            }
        }
        Some(_) => Op::AgentPoolUpdate,
    };
    body["properties"] = Value::Object(props);
    let error = failure(ctx, FailureTarget::AgentPool, &name, "Agent pool");
    Ok(Planned {
        body,
        op: Some(op),
        error,
    })
}

fn is_system_res(r: &Resource) -> bool {
    is_system(&r.body)
}

/// Nodes surged per batch: `33%` of `count` (rounded up) or a number.
fn surge_nodes(s: &str, count: u64) -> u64 {
    match s.strip_suffix('%') {
        Some(p) => p.parse::<u64>().map_or(1, |p| (count * p).div_ceil(100)),
        None => s.parse().unwrap_or(1),
    }
}

/// Refuses to delete the last system pool, or a pool while its cluster is busy.
pub(crate) fn check_delete(
    ctx: &mut ArmCtx<'_>,
    rtype: &str,
    rid: &Rid,
    res: &Resource,
) -> ArmResult<Option<Op>> {
    if rtype == catalog::CLUSTER {
        return Ok(Some(Op::AksDelete));
    }
    let cluster_rid = rid
        .parent()
        .ok_or_else(|| super::resources::not_found(rid))?;
    if let Some(c) = ctx.arm.get(&cluster_rid.id())
        && c.op.is_some()
        && c.state != State::Deleting
    {
        return Err(ArmError::new(
            409,
            "OperationNotAllowed",
            format!(
                "Operation is not allowed because there's an in progress {} operation on managed cluster '{}'.",
                c.state.as_str().to_ascii_lowercase(),
                c.name()
            ),
        ));
    }
    if is_system(&res.body)
        && !ctx
            .arm
            .children(&cluster_rid.key(), catalog::POOL)
            .any(|p| p.name() != res.name() && is_system(&p.body))
    {
        return Err(no_system_pool());
    }
    Ok(Some(Op::AgentPoolDelete))
}

fn render_pool_props(ctx: &ArmCtx<'_>, pool: &Resource) -> Value {
    let mut props = pool
        .body
        .get("properties")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let version = str_at(&props, &["orchestratorVersion"])
        .and_then(catalog::resolve)
        .unwrap_or_default();
    let pool_os = os_of(&props);
    props["currentOrchestratorVersion"] = json!(version);
    props["nodeImageVersion"] = json!(os::node_image(
        &pool_os,
        catalog::minor(&version).unwrap_or(0),
        ctx.settings.seed
    ));
    let injected = pool.body.get(INJECTED_STATE);
    let field = |k: &str| injected.and_then(|i| i.get(k)).and_then(Value::as_str);
    props["provisioningState"] = json!(field("provisioningState").unwrap_or(pool.state.as_str()));
    props["powerState"] = json!({ "code": field("powerState").unwrap_or("Running") });
    props["eTag"] = json!(pool.etag);
    if props.get("maxPods").is_none() {
        props["maxPods"] = json!(250);
    }
    props["osType"] = json!(pool_os.os_type);
    props["osSKU"] = json!(pool_os.sku);
    props
}

/// Read-only parts: pools inline, outputs in their swagger places, versions, eTag.
pub(crate) fn render(ctx: &ArmCtx<'_>, res: &Resource, value: &mut Value) {
    if res.rtype == catalog::POOL {
        value["properties"] = render_pool_props(ctx, res);
        if let Some(v) = value.as_object_mut() {
            v.remove(INJECTED_STATE);
        }
        return;
    }
    let key = res.id.to_ascii_lowercase();
    let outputs = value
        .as_object_mut()
        .and_then(|o| o.remove("outputs"))
        .unwrap_or(Value::Null);
    value["eTag"] = json!(res.etag);
    let private = str_at(
        value,
        &[
            "properties",
            "apiServerAccessProfile",
            "enablePrivateCluster",
        ],
    )
    .is_some()
        && value
            .pointer("/properties/apiServerAccessProfile/enablePrivateCluster")
            .and_then(Value::as_bool)
            == Some(true);
    let pools: Vec<Value> = ctx
        .arm
        .children(&key, catalog::POOL)
        .map(|p| {
            let mut props = render_pool_props(ctx, p);
            props["name"] = json!(p.name());
            props
        })
        .collect();
    let Some(p) = value.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    p.insert("agentPoolProfiles".into(), json!(pools));
    let current = p
        .get("kubernetesVersion")
        .and_then(Value::as_str)
        .and_then(catalog::resolve)
        .unwrap_or_default();
    p.insert("currentKubernetesVersion".into(), json!(current));
    p.insert("powerState".into(), json!({ "code": "Running" }));
    p.insert("maxAgentPools".into(), json!(100));
    if p.get("supportPlan").is_none() {
        p.insert("supportPlan".into(), json!("KubernetesOfficial"));
    }
    if p.get("nodeResourceGroup").is_none() {
        p.insert(
            "nodeResourceGroup".into(),
            outputs["nodeResourceGroup"].clone(),
        );
    }
    p.insert("resourceUID".into(), outputs["resourceUID"].clone());
    if private {
        p.insert("privateFQDN".into(), outputs["privateFQDN"].clone());
    } else {
        p.insert("fqdn".into(), outputs["fqdn"].clone());
        p.insert("azurePortalFQDN".into(), outputs["azurePortalFQDN"].clone());
    }
    let oidc = p
        .get("oidcIssuerProfile")
        .and_then(|o| o.get("enabled"))
        .and_then(Value::as_bool)
        == Some(true);
    if oidc {
        p.insert(
            "oidcIssuerProfile".into(),
            json!({ "enabled": true, "issuerURL": outputs["issuer"] }),
        );
    }
    if p.get("identityProfile").is_none() {
        p.insert(
            "identityProfile".into(),
            json!({ "kubeletidentity": outputs["kubelet"] }),
        );
    }
    // The control-plane identity's ids, from the identity resource.
    if let Some(Value::Object(ids)) = value.pointer_mut("/identity/userAssignedIdentities") {
        for (id, entry) in ids.iter_mut() {
            if let Some(identity) = ctx.arm.get(id) {
                *entry = json!({
                    "principalId": str_at(&identity.body, &["properties", "principalId"]),
                    "clientId": str_at(&identity.body, &["properties", "clientId"]),
                });
            }
        }
    }
}

/// Upgrades a control plane at `version` may take on `today`: newer patches of its minor, and
/// the next minor; from a minor out of support, the oldest supported minor instead (AKS skips
/// minors only to bring a cluster back into support).
fn upgrades_from(version: &str, today: &str, lts: bool) -> Vec<String> {
    let Some(m) = catalog::minor(version) else {
        return Vec::new();
    };
    let own = format!("1.{m}");
    let supported = catalog::supported_minors(today, lts);
    let mut out: Vec<String> = if supported.contains(&own.as_str()) {
        catalog::patches(&own)
            .into_iter()
            .filter(|p| version_key(p) > version_key(version))
            .collect()
    } else {
        Vec::new()
    };
    let next = if supported.contains(&own.as_str()) {
        supported
            .iter()
            .find(|v| catalog::minor(v) == Some(m + 1))
            .copied()
    } else {
        supported
            .iter()
            .find(|v| catalog::minor(v).is_some_and(|n| n > m))
            .copied()
    };
    if let Some(next) = next {
        out.extend(catalog::patches(next));
    }
    out
}

/// GET `…/upgradeProfiles/default` of a cluster or a pool: the control plane's upgrades, and
/// each pool's upgrades up to the control plane's version that its OS SKU still runs.
pub(crate) fn upgrade_profile(ctx: &mut ArmCtx<'_>, rid: &Rid) -> ArmResult<Reply> {
    let res = ctx
        .arm
        .get(&rid.id())
        .cloned()
        .ok_or_else(|| super::resources::not_found(rid))?;
    let today = ctx.today();
    let seed = ctx.settings.seed;
    let (cluster, pool) = if res.rtype == catalog::POOL {
        let c = rid.parent().and_then(|c| ctx.arm.get(&c.id()).cloned());
        (
            c.ok_or_else(|| super::resources::not_found(rid))?,
            Some(res),
        )
    } else {
        (res, None)
    };
    let lts = lts(&cluster.body);
    let cp = str_at(&cluster.body, &["properties", "kubernetesVersion"])
        .and_then(catalog::resolve)
        .unwrap_or_default();
    let pool_profile = |p: &Resource| -> Value {
        let props = p.body.get("properties").cloned().unwrap_or(Value::Null);
        let pool_os = os_of(&props);
        let v = str_at(&props, &["orchestratorVersion"])
            .and_then(catalog::resolve)
            .unwrap_or_default();
        let ups: Vec<Value> = catalog::supported_minors(&today, lts)
            .into_iter()
            .filter(|m| catalog::minor(m).is_some_and(|n| pool_os.runs(n)))
            .flat_map(catalog::patches)
            .filter(|x| version_key(x) > version_key(&v) && version_key(x) <= version_key(&cp))
            .map(|x| json!({ "kubernetesVersion": x, "isPreview": false }))
            .collect();
        let image = os::node_image(&pool_os, catalog::minor(&v).unwrap_or(0), seed);
        json!({
            "name": p.name(),
            "kubernetesVersion": v,
            "osType": pool_os.os_type,
            "upgrades": ups,
            "latestNodeImageVersion": image,
        })
    };
    let id = format!("{}/upgradeProfiles/default", rid.id());
    if let Some(p) = pool {
        let mut props = pool_profile(&p);
        if let Some(o) = props.as_object_mut() {
            o.remove("name");
        }
        return Ok(Reply::json(
            200,
            json!({
                "id": id,
                "name": "default",
                "type": "Microsoft.ContainerService/managedClusters/agentPools/upgradeProfiles",
                "properties": props,
            }),
        ));
    }
    let pools: Vec<Value> = ctx
        .arm
        .children(&cluster.id.to_ascii_lowercase(), catalog::POOL)
        .map(|p| {
            let mut profile = pool_profile(p);
            if let Some(o) = profile.as_object_mut() {
                o.remove("latestNodeImageVersion");
            }
            profile
        })
        .collect();
    let cp_ups: Vec<Value> = upgrades_from(&cp, &today, lts)
        .into_iter()
        .map(|x| json!({ "kubernetesVersion": x, "isPreview": false }))
        .collect();
    Ok(Reply::json(
        200,
        json!({
            "id": id,
            "name": "default",
            "type": "Microsoft.ContainerService/managedClusters/upgradeprofiles",
            "properties": {
                "controlPlaneProfile": { "kubernetesVersion": cp, "name": cluster.name(), "osType": "Linux", "upgrades": cp_ups },
                "agentPoolProfiles": pools,
            },
        }),
    ))
}

/// GET `locations/{location}/kubernetesVersions`.
pub(crate) fn kubernetes_versions(ctx: &mut ArmCtx<'_>, _location: &str) -> Reply {
    let today = ctx.today();
    let standard = catalog::supported_minors(&today, false);
    let default = catalog::default_minor(&today);
    let values: Vec<Value> = catalog::supported_minors(&today, true)
        .into_iter()
        .map(|minor| {
            let mut plans = Vec::new();
            if standard.contains(&minor) {
                plans.push("KubernetesOfficial");
            }
            if catalog::has_lts(minor) {
                plans.push("AKSLongTermSupport");
            }
            let patches: Map<String, Value> = catalog::patches(minor)
                .into_iter()
                .map(|p| {
                    let ups = upgrades_from(&p, &today, false);
                    (p, json!({ "upgrades": ups }))
                })
                .collect();
            let mut v = json!({
                "version": minor,
                "isPreview": false,
                "capabilities": { "supportPlan": plans },
                "patchVersions": patches,
            });
            if default == Some(minor) {
                v["isDefault"] = json!(true);
            }
            v
        })
        .collect();
    Reply::json(200, json!({ "values": values }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_names_and_surge_follow_aks() {
        assert!(check_pool_name("system").is_ok());
        assert!(check_pool_name("gpu1").is_ok());
        assert!(check_pool_name("1gpu").is_err());
        assert!(check_pool_name("abcdefghijklm").is_err());
        assert!(check_pool_name("Sys").is_err());
        assert_eq!(surge_nodes("33%", 10), 4);
        assert_eq!(surge_nodes("2", 10), 2);
    }

    #[test]
    fn upgrades_go_one_minor_at_a_time() {
        let ups = upgrades_from("1.34.1", "2026-08-01", false);
        assert_eq!(ups, ["1.34.2", "1.34.3", "1.35.1", "1.35.2", "1.35.3"]);
        // Out of support: back to the oldest supported minor only.
        let from_old = upgrades_from("1.30.3", "2026-08-01", false);
        assert_eq!(from_old, ["1.34.1", "1.34.2", "1.34.3"]);
        assert_eq!(
            upgrades_from("1.36.3", "2026-08-01", false),
            Vec::<String>::new()
        );
        assert!(skew(30, 34, "p", "1.30.3", "1.34.1").is_err());
        assert!(skew(31, 34, "p", "1.31.3", "1.34.1").is_ok());
        assert!(skew(35, 34, "p", "1.35.1", "1.34.1").is_err());
    }
}
