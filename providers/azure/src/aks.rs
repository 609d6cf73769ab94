//! The AKS managed cluster, its agent pools and its add-ons.
//!
//! The cluster is created with its first system pool inline (AKS refuses a cluster without
//! one); every pool, that one included, is also an `azure.agent_pool` resource of the same name
//! that owns the pool after creation. This module maps the blueprint onto the 2026-08-01
//! ContainerService API and never adds settings the blueprint cannot express.

use std::collections::BTreeMap;

use slipway_blueprints::{Endpoint, NodeOs, NodePool, PoolRole, Tier};
use slipway_provider::{Address, Value};

use crate::expand::{ArmResource, Ctx, ExpandError, check_name, obj, strings};
use crate::identity::ControlPlaneOut;
use crate::kinds::{AGENT_POOL, API_CONTAINER_SERVICE, MANAGED_CLUSTER, WINDOWS_SKU};
use crate::network::NetworkOut;

/// What later stages need from the cluster.
pub(crate) struct AksOut {
    /// The managed cluster resource.
    pub cluster: Address,
    /// The resource group resource.
    pub resource_group: Address,
}

/// The add-on names the Azure provider accepts, and where AKS models each.
const ADDONS: [&str; 7] = [
    "azure-keyvault-secrets-provider", // addonProfiles.azureKeyvaultSecretsProvider
    "azure-policy",                    // addonProfiles.azurepolicy
    "image-cleaner",                   // securityProfile.imageCleaner
    "istio",                           // serviceMeshProfile.istio
    "keda",                            // workloadAutoScalerProfile.keda
    "monitoring",                      // addonProfiles.omsagent
    "vpa",                             // workloadAutoScalerProfile.verticalPodAutoscaler
];

/// The `addonProfiles` key of each add-on enabled there, by blueprint name (ARM treats the
/// keys case-insensitively).
pub(crate) const ADDON_PROFILES: [(&str, &str); 3] = [
    (
        "azure-keyvault-secrets-provider",
        "azureKeyvaultSecretsProvider",
    ),
    ("azure-policy", "azurepolicy"),
    ("monitoring", "omsagent"),
];

/// The add-on names the Azure provider accepts.
pub fn addon_catalogue() -> impl Iterator<Item = &'static str> {
    ADDONS.into_iter()
}

/// Image Cleaner's scan interval: AKS's own default, written out so reads compare equal.
const IMAGE_CLEANER_INTERVAL_HOURS: i64 = 168;

/// The parts of the cluster body that add-ons switch on.
#[derive(Default)]
struct AddonSettings {
    addon_profiles: BTreeMap<String, Value>,
    security: BTreeMap<String, Value>,
    autoscalers: BTreeMap<String, Value>,
    /// `serviceMeshProfile`, when `istio` is listed.
    mesh: Option<Value>,
}

fn addon_settings(ctx: &Ctx<'_>) -> Result<AddonSettings, ExpandError> {
    let mut s = AddonSettings::default();
    s.security.insert(
        "workloadIdentity".into(),
        obj([("enabled", Value::from(true))]),
    );
    for addon in &ctx.cluster.addons {
        if addon.name == "istio" {
            s.mesh = Some(mesh_profile(addon.version.as_deref()));
            continue;
        }
        if addon.version.is_some() {
            return Err(ExpandError::PinnedAddon(addon.name.clone()));
        }
        let enabled = || obj([("enabled", Value::from(true))]);
        match addon.name.as_str() {
            "azure-keyvault-secrets-provider" => {
                s.addon_profiles.insert(
                    "azureKeyvaultSecretsProvider".into(),
                    obj([
                        (
                            "config",
                            obj([
                                ("enableSecretRotation", Value::from("true")),
                                ("rotationPollInterval", Value::from("2m")),
                            ]),
                        ),
                        ("enabled", Value::from(true)),
                    ]),
                );
            }
            "azure-policy" => {
                s.addon_profiles.insert("azurepolicy".into(), enabled());
            }
            "monitoring" => {
                // Entra ID auth for the agent, sending to the blueprint's workspace (AKS would
                // otherwise create a default workspace nobody manages).
                let workspace = ctx
                    .settings
                    .log_analytics_workspace_id
                    .as_deref()
                    .ok_or(ExpandError::MissingLogAnalyticsWorkspace)?;
                s.addon_profiles.insert(
                    "omsagent".into(),
                    obj([
                        (
                            "config",
                            obj([
                                ("logAnalyticsWorkspaceResourceID", Value::from(workspace)),
                                ("useAADAuth", Value::from("true")),
                            ]),
                        ),
                        ("enabled", Value::from(true)),
                    ]),
                );
            }
            "image-cleaner" => {
                s.security.insert(
                    "imageCleaner".into(),
                    obj([
                        ("enabled", Value::from(true)),
                        ("intervalHours", Value::Int(IMAGE_CLEANER_INTERVAL_HOURS)),
                    ]),
                );
            }
            "keda" => {
                s.autoscalers.insert("keda".into(), enabled());
            }
            "vpa" => {
                s.autoscalers
                    .insert("verticalPodAutoscaler".into(), enabled());
            }
            other => {
                return Err(ExpandError::UnknownAddon {
                    name: other.to_owned(),
                    known: ADDONS.join(", "),
                });
            }
        }
    }
    Ok(s)
}

/// The Istio-based service mesh: the pinned revision, else no `istio.revisions` so that AKS
/// installs its default revision for the cluster's minor (and keeps the installed one on
/// updates).
fn mesh_profile(revision: Option<&str>) -> Value {
    match revision {
        Some(r) => obj([
            ("istio", obj([("revisions", strings(&[r]))])),
            ("mode", Value::from("Istio")),
        ]),
        None => obj([("mode", Value::from("Istio"))]),
    }
}

/// `osType` and `osSKU` of a node OS on AKS; `None` is AKS's default (Ubuntu).
fn os_profile(pool: &NodePool) -> Result<(&'static str, &'static str), ExpandError> {
    match pool.os {
        None | Some(NodeOs::Ubuntu) => Ok(("Linux", "Ubuntu")),
        Some(NodeOs::AzureLinux) => Ok(("Linux", "AzureLinux")),
        Some(NodeOs::Windows2019) => Ok(("Windows", "Windows2019")),
        Some(NodeOs::Windows2022) => Ok(("Windows", "Windows2022")),
        Some(other) => Err(ExpandError::UnsupportedOs {
            pool: pool.name.clone(),
            os: other.as_str(),
        }),
    }
}

/// The blueprint OS of an AKS `osType`/`osSKU`, when it is one the blueprint can name.
pub(crate) fn node_os(os_type: Option<&str>, os_sku: Option<&str>) -> Option<NodeOs> {
    let windows = os_type.is_some_and(|t| t.eq_ignore_ascii_case("windows"));
    match (windows, os_sku.map(str::to_ascii_lowercase).as_deref()) {
        (false, None | Some("ubuntu")) => Some(NodeOs::Ubuntu),
        (false, Some("azurelinux")) => Some(NodeOs::AzureLinux),
        (_, Some("windows2019")) => Some(NodeOs::Windows2019),
        // Windows2022 is AKS's default Windows SKU from Kubernetes 1.25.
        (true, None) | (_, Some("windows2022")) => Some(NodeOs::Windows2022),
        _ => None,
    }
}

/// Checks what AKS refuses for a pool's OS before anything is sent: Windows pools are user
/// pools with names of at most 6 characters.
fn check_pool_os(pool: &NodePool) -> Result<(), ExpandError> {
    let (os_type, _) = os_profile(pool)?;
    if os_type == "Windows" {
        if pool.role == PoolRole::System {
            return Err(ExpandError::WindowsSystemPool(pool.name.clone()));
        }
        check_name(
            "Windows agent pool name",
            &pool.name,
            6,
            "1-6 lowercase letters or digits, starting with a letter",
            |i, _, c| c.is_ascii_lowercase() || (i != 0 && c.is_ascii_digit()),
        )?;
    }
    Ok(())
}

fn check_pool_name(name: &str) -> Result<(), ExpandError> {
    check_name(
        "agent pool name",
        name,
        12,
        "1-12 lowercase letters or digits, starting with a letter",
        |i, _, c| c.is_ascii_lowercase() || (i != 0 && c.is_ascii_digit()),
    )
}

/// `properties` of an agent pool, as both the inline profile and the agent pool PUT send it.
fn pool_properties(
    ctx: &Ctx<'_>,
    pool: &NodePool,
    net: &NetworkOut,
    address: &Address,
) -> Result<BTreeMap<String, Value>, ExpandError> {
    let autoscale = pool.min < pool.max;
    let (os_type, os_sku) = os_profile(pool)?;
    let mut p = BTreeMap::from([
        ("count".to_owned(), Value::from(pool.desired)),
        ("enableAutoScaling".to_owned(), Value::from(autoscale)),
        (
            "mode".to_owned(),
            Value::from(match pool.role {
                PoolRole::System => "System",
                PoolRole::User => "User",
            }),
        ),
        (
            "orchestratorVersion".to_owned(),
            Value::from(ctx.cluster.kubernetes.to_string()),
        ),
        ("osSKU".to_owned(), Value::from(os_sku)),
        ("osType".to_owned(), Value::from(os_type)),
        ("tags".to_owned(), ctx.tags(address)),
        ("type".to_owned(), Value::from("VirtualMachineScaleSets")),
        (
            "upgradeSettings".to_owned(),
            obj([
                ("maxSurge", Value::from(pool.upgrade.max_surge.as_str())),
                (
                    "maxUnavailable",
                    Value::from(pool.upgrade.max_unavailable.to_string()),
                ),
            ]),
        ),
        (
            "vmSize".to_owned(),
            Value::from(pool.instance_type.as_str()),
        ),
        (
            "vnetSubnetID".to_owned(),
            Value::reference(&net.nodes_subnet, "id"),
        ),
    ]);
    if autoscale {
        p.insert("minCount".into(), Value::from(pool.min));
        p.insert("maxCount".into(), Value::from(pool.max));
    }
    if !ctx.cluster.zones.is_empty() {
        p.insert("availabilityZones".into(), strings(&ctx.cluster.zones));
    }
    if !pool.labels.is_empty() {
        p.insert("nodeLabels".into(), Value::from(pool.labels.clone()));
    }
    if !pool.taints.is_empty() {
        p.insert("nodeTaints".into(), strings(&pool.taints));
    }
    if pool.disk_size_gb > 0 {
        p.insert("osDiskSizeGB".into(), Value::from(pool.disk_size_gb));
    }
    Ok(p)
}

/// The cluster name as a DNS prefix: at most 54 letters, digits and hyphens, ending with a
/// letter or digit.
fn dns_prefix(cluster: &str) -> String {
    let prefix: String = cluster
        .chars()
        .take(54)
        .map(|c| if c == '_' { '-' } else { c })
        .collect();
    prefix.trim_end_matches('-').to_owned()
}

fn api_server_access(endpoint: Endpoint) -> Value {
    match endpoint {
        // AKS's system-managed private zone; no public FQDN, which would only publish the
        // private address.
        Endpoint::Private => obj([
            ("enablePrivateCluster", Value::from(true)),
            ("enablePrivateClusterPublicFQDN", Value::from(false)),
            ("privateDNSZone", Value::from("system")),
        ]),
        // AKS cannot serve one API server on a public and a private address without API Server
        // VNet Integration, which needs a delegated subnet the derived layout does not have:
        // both map to a public API server.
        Endpoint::Public | Endpoint::PublicAndPrivate => {
            obj([("enablePrivateCluster", Value::from(false))])
        }
    }
}

/// Adds the managed cluster and one agent pool resource per node pool.
pub(crate) fn expand_cluster(
    ctx: &mut Ctx<'_>,
    net: &NetworkOut,
    control: &ControlPlaneOut,
) -> Result<AksOut, ExpandError> {
    let cluster = ctx.cluster;
    for pool in &cluster.node_pools {
        check_pool_name(&pool.name)?;
        check_pool_os(pool)?;
    }
    let system = cluster
        .node_pools
        .iter()
        .find(|p| p.role == PoolRole::System)
        .ok_or_else(|| ExpandError::NoSystemPool(cluster.name.clone()))?;
    let addons = addon_settings(ctx)?;

    let address = ctx.address(MANAGED_CLUSTER, "main");
    let mut inline = pool_properties(ctx, system, net, &ctx.address(AGENT_POOL, &system.name))?;
    inline.insert("name".into(), Value::from(system.name.as_str()));

    let mut properties = BTreeMap::from([
        (
            "agentPoolProfiles".to_owned(),
            Value::List(vec![Value::Map(inline)]),
        ),
        (
            "apiServerAccessProfile".to_owned(),
            api_server_access(cluster.endpoint),
        ),
        (
            // Slipway's rings drive every version change; AKS must not upgrade on its own.
            "autoUpgradeProfile".to_owned(),
            obj([
                ("nodeOSUpgradeChannel", Value::from("NodeImage")),
                ("upgradeChannel", Value::from("none")),
            ]),
        ),
        (
            "dnsPrefix".to_owned(),
            Value::from(dns_prefix(&cluster.name)),
        ),
        ("enableRBAC".to_owned(), Value::from(true)),
        (
            "kubernetesVersion".to_owned(),
            Value::from(cluster.kubernetes.to_string()),
        ),
        (
            "networkProfile".to_owned(),
            obj([
                ("dnsServiceIP", Value::from(net.dns_service_ip.to_string())),
                ("loadBalancerSku", Value::from("standard")),
                ("networkDataplane", Value::from("cilium")),
                ("networkPlugin", Value::from("azure")),
                ("networkPluginMode", Value::from("overlay")),
                ("networkPolicy", Value::from("cilium")),
                ("outboundType", Value::from("loadBalancer")),
                ("podCidr", Value::from(net.pod_cidr.to_string())),
                ("serviceCidr", Value::from(net.service_cidr.to_string())),
            ]),
        ),
        (
            "oidcIssuerProfile".to_owned(),
            obj([("enabled", Value::from(true))]),
        ),
        ("securityProfile".to_owned(), Value::Map(addons.security)),
    ]);
    if !addons.addon_profiles.is_empty() {
        properties.insert("addonProfiles".into(), Value::Map(addons.addon_profiles));
    }
    if let Some(mesh) = addons.mesh {
        properties.insert("serviceMeshProfile".into(), mesh);
    }
    if !addons.autoscalers.is_empty() {
        properties.insert(
            "workloadAutoScalerProfile".into(),
            Value::Map(addons.autoscalers),
        );
    }

    let tier = match cluster.tier {
        Tier::Dev | Tier::Test => "Free",
        Tier::Staging | Tier::Prod | Tier::Dr => "Standard",
    };
    ctx.push(ArmResource {
        id: ctx.arm.managed_cluster(&cluster.name),
        api_version: API_CONTAINER_SERVICE,
        body: obj([
            (
                "identity",
                obj([
                    ("type", Value::from("UserAssigned")),
                    // A map keyed by the identity's id: a string, so the edge is explicit below.
                    (
                        "userAssignedIdentities",
                        obj([(control.identity_id.as_str(), obj([]))]),
                    ),
                ]),
            ),
            ("location", ctx.location()),
            ("properties", Value::Map(properties)),
            (
                "sku",
                obj([("name", Value::from("Base")), ("tier", Value::from(tier))]),
            ),
            ("tags", ctx.tags(&address)),
        ]),
        extra: Vec::new(),
        depends_on: vec![
            net.resource_group.clone(),
            control.identity.clone(),
            control.network_role.clone(),
        ],
        address: address.clone(),
    });

    for pool in &cluster.node_pools {
        let pool_address = ctx.address(AGENT_POOL, &pool.name);
        let properties = pool_properties(ctx, pool, net, &pool_address)?;
        // AKS migrates Linux OS SKUs in place but never a Windows one: a Windows pool carries
        // its SKU where a change forces replacement (see `kinds`).
        let extra = match os_profile(pool)? {
            ("Windows", sku) => vec![(WINDOWS_SKU, Value::from(sku))],
            _ => Vec::new(),
        };
        ctx.push(ArmResource {
            id: ctx.arm.agent_pool(&cluster.name, &pool.name),
            api_version: API_CONTAINER_SERVICE,
            body: obj([("properties", Value::Map(properties))]),
            extra,
            depends_on: vec![address.clone()],
            address: pool_address,
        });
    }
    Ok(AksOut {
        cluster: address,
        resource_group: net.resource_group.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_prefixes_fit_54_characters_and_end_alphanumeric() {
        assert_eq!(dns_prefix("prod-weu"), "prod-weu");
        let long = format!("{}-b", "a".repeat(53));
        assert_eq!(dns_prefix(&long), "a".repeat(53));
        assert_eq!(dns_prefix("a_b"), "a-b");
    }

    #[test]
    fn pool_names_follow_the_agent_pool_pattern() {
        assert!(check_pool_name("system").is_ok());
        assert!(check_pool_name("gpu2").is_ok());
        assert!(check_pool_name("2gpu").is_err());
        assert!(check_pool_name("general-use").is_err());
        assert!(check_pool_name("abcdefghijklm").is_err());
    }

    #[test]
    fn node_os_maps_to_os_type_and_sku_and_back() {
        let mut pool = NodePool {
            name: "win".into(),
            role: PoolRole::User,
            instance_type: "Standard_D4s_v5".into(),
            min: 1,
            max: 1,
            desired: 1,
            disk_size_gb: 0,
            labels: BTreeMap::new(),
            taints: Vec::new(),
            upgrade: slipway_blueprints::PoolUpgrade {
                max_surge: "1".into(),
                max_unavailable: 0,
            },
            os: None,
        };
        assert_eq!(os_profile(&pool).unwrap(), ("Linux", "Ubuntu"));
        for os in [
            NodeOs::Ubuntu,
            NodeOs::AzureLinux,
            NodeOs::Windows2019,
            NodeOs::Windows2022,
        ] {
            pool.os = Some(os);
            let (t, sku) = os_profile(&pool).unwrap();
            assert_eq!(node_os(Some(t), Some(sku)), Some(os));
        }
        assert!(check_pool_os(&pool).is_ok());
        pool.name = "windows".into();
        assert!(check_pool_os(&pool).is_err());
        pool.name = "win".into();
        pool.role = PoolRole::System;
        assert!(matches!(
            check_pool_os(&pool),
            Err(ExpandError::WindowsSystemPool(_))
        ));
        pool.os = Some(NodeOs::Bottlerocket);
        assert!(matches!(
            os_profile(&pool),
            Err(ExpandError::UnsupportedOs { .. })
        ));
        assert_eq!(node_os(Some("Linux"), Some("AzureLinux3")), None);
        assert_eq!(node_os(Some("Windows"), None), Some(NodeOs::Windows2022));
    }

    #[test]
    fn private_endpoints_map_to_private_clusters_with_the_system_zone() {
        let private = api_server_access(Endpoint::Private).to_json();
        assert_eq!(private["enablePrivateCluster"], true);
        assert_eq!(private["privateDNSZone"], "system");
        for e in [Endpoint::Public, Endpoint::PublicAndPrivate] {
            assert_eq!(
                api_server_access(e).to_json()["enablePrivateCluster"],
                false
            );
        }
    }
}
