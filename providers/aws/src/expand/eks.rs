//! EKS: the cluster, its managed node groups, add-ons, Pod Identity associations and access
//! entries.
//!
//! Ordering that no reference implies is made explicit here: node groups wait for the private
//! route tables (nodes must reach ECR and the API to join) and for the add-ons nodes should
//! boot with (CNI, kube-proxy, Pod Identity agent); add-ons that run Deployments (CoreDNS,
//! CSI controllers) wait for the node groups. It must never pick versions: `None` means the
//! EKS default for the cluster's minor.

use slipway_blueprints::{Endpoint, NodeOs, NodePool, Tier};
use slipway_provider::{Address, Value};

use super::iam::{self, BaseRoles};
use super::network::Net;
use super::{Ctx, ExpandError, SINGLETON, props, refs, string_map};
use crate::addons::{self, AddonSpec, POD_IDENTITY_AGENT, Placement};
use crate::{kinds, names};

/// Control-plane logs every cluster sends to CloudWatch.
const BASE_LOG_TYPES: &[&str] = &["api", "audit", "authenticator"];
/// Additional control-plane logs for production, where scheduling incidents need them.
const PROD_LOG_TYPES: &[&str] = &["controllerManager", "scheduler"];

/// Adds the EKS cluster and returns its address.
///
/// Secrets: with a KMS key the cluster envelope-encrypts Secrets with it; without one,
/// encryption is left to EKS's default (envelope encryption of all Kubernetes API data with
/// an AWS-owned key on 1.28+), and `encryption_config` is an empty list.
pub(super) fn cluster(ctx: &mut Ctx<'_>, net: &Net, roles: &BaseRoles) -> Address {
    let c = ctx.cluster;
    let addr = ctx.addr(kinds::EKS_CLUSTER, SINGLETON);
    let (public, private) = match c.endpoint {
        Endpoint::Public => (true, false),
        Endpoint::Private => (false, true),
        Endpoint::PublicAndPrivate => (true, true),
    };
    let encryption = match &ctx.settings.secrets_kms_key_arn {
        Some(key) => vec![Value::Map(props([
            (
                "provider",
                Value::Map(props([("key_arn", Value::from(key.as_str()))])),
            ),
            ("resources", Value::from(vec!["secrets"])),
        ]))],
        None => Vec::new(),
    };
    let mut log_types = BASE_LOG_TYPES.to_vec();
    if c.tier == Tier::Prod {
        log_types.extend_from_slice(PROD_LOG_TYPES);
    }
    ctx.push(
        addr.clone(),
        props([
            ("name", Value::from(c.name.as_str())),
            ("version", Value::from(c.kubernetes.to_string())),
            ("role_arn", Value::reference(&roles.cluster, "arn")),
            ("subnet_ids", refs(&net.private_subnets, "id")),
            (
                "security_group_ids",
                Value::List(vec![Value::reference(&net.cluster_sg, "id")]),
            ),
            ("endpoint_public_access", Value::from(public)),
            ("endpoint_private_access", Value::from(private)),
            // Access entries only: no aws-auth ConfigMap, and no hidden admin for whoever ran
            // the create; access is exactly what `access_entries` declares.
            (
                "access_config",
                Value::Map(props([
                    ("authentication_mode", Value::from("API")),
                    (
                        "bootstrap_cluster_creator_admin_permissions",
                        Value::from(false),
                    ),
                ])),
            ),
            ("encryption_config", Value::List(encryption)),
            ("enabled_cluster_log_types", Value::from(log_types)),
        ]),
        vec![],
    );
    addr
}

/// An add-on the cluster gets, resolved against the catalogue.
pub(crate) struct PlannedAddon {
    /// The catalogue entry.
    pub spec: &'static AddonSpec,
    /// The pinned version, or `None` for the EKS default.
    pub version: Option<String>,
}

/// Resolves the blueprint's add-ons, adding the Pod Identity agent in Pod Identity mode.
pub(super) fn addon_plan(ctx: &Ctx<'_>) -> Result<Vec<PlannedAddon>, ExpandError> {
    let mut plan = ctx
        .cluster
        .addons
        .iter()
        .map(|a| {
            addons::lookup(&a.name)
                .map(|spec| PlannedAddon {
                    spec,
                    version: a.version.clone(),
                })
                .ok_or_else(|| ExpandError::UnknownAddon {
                    name: a.name.clone(),
                    known: addons::CATALOGUE
                        .iter()
                        .map(|s| s.name)
                        .collect::<Vec<_>>()
                        .join(", "),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if ctx.pod_identity()
        && !plan.iter().any(|a| a.spec.name == POD_IDENTITY_AGENT)
        && let Some(spec) = addons::lookup(POD_IDENTITY_AGENT)
    {
        plan.push(PlannedAddon {
            spec,
            version: None,
        });
    }
    Ok(plan)
}

/// Adds the planned add-ons of one placement, each depending on `after`; returns their
/// addresses.
pub(super) fn addons(
    ctx: &mut Ctx<'_>,
    eks: &Address,
    plan: &[PlannedAddon],
    roles: &std::collections::BTreeMap<&'static str, Address>,
    placement: Placement,
    after: &[Address],
) -> Vec<Address> {
    let mut out = Vec::new();
    for addon in plan.iter().filter(|a| a.spec.placement == placement) {
        let addr = ctx.addr(kinds::EKS_ADDON, addon.spec.name);
        let mut properties = props([
            ("cluster_name", Value::reference(eks, "name")),
            ("addon_name", Value::from(addon.spec.eks_name)),
            (
                "addon_version",
                addon.version.clone().map_or(Value::Null, Value::from),
            ),
            // The cluster's minor: an unpinned add-on moves to the new minor's default when
            // this changes (an upgrade hop), and only then.
            (
                "kubernetes_version",
                Value::from(ctx.cluster.kubernetes.to_string()),
            ),
            // Slipway owns the add-on configuration: overwrite fields edited by hand.
            ("resolve_conflicts", Value::from("OVERWRITE")),
        ]);
        let mut depends_on = after.to_vec();
        if let (Some(role), Some(identity)) = (roles.get(addon.spec.name), addon.spec.identity) {
            if ctx.pod_identity() {
                let association = Value::Map(props([
                    ("service_account", Value::from(identity.service_account)),
                    ("role_arn", Value::reference(role, "arn")),
                ]));
                properties.insert(
                    "pod_identity_associations".to_owned(),
                    Value::List(vec![association]),
                );
                let agent = ctx.addr(kinds::EKS_ADDON, POD_IDENTITY_AGENT);
                if !depends_on.contains(&agent) {
                    depends_on.push(agent);
                }
            } else {
                properties.insert(
                    "service_account_role_arn".to_owned(),
                    Value::reference(role, "arn"),
                );
            }
        }
        ctx.push(addr.clone(), properties, depends_on);
        out.push(addr);
    }
    out
}

/// A Kubernetes taint as EKS takes it: `key`, `value`, `effect` in EKS's enum spelling.
fn taint(pool: &str, taint: &str) -> Result<Value, ExpandError> {
    let invalid = || ExpandError::InvalidTaint {
        pool: pool.to_owned(),
        taint: taint.to_owned(),
    };
    let (key_value, effect) = taint.rsplit_once(':').ok_or_else(invalid)?;
    let effect = match effect {
        "NoSchedule" => "NO_SCHEDULE",
        "PreferNoSchedule" => "PREFER_NO_SCHEDULE",
        "NoExecute" => "NO_EXECUTE",
        _ => return Err(invalid()),
    };
    let (key, value) = key_value.split_once('=').unwrap_or((key_value, ""));
    if key.is_empty() {
        return Err(invalid());
    }
    let mut t = props([("key", Value::from(key)), ("effect", Value::from(effect))]);
    if !value.is_empty() {
        t.insert("value".to_owned(), Value::from(value));
    }
    Ok(Value::Map(t))
}

/// The EKS AMI type for a pool's OS (`None` = AL2023, the EKS default) on its instance type's
/// architecture and accelerators; `None` when EKS has none (AL2 on ARM GPUs, other clouds'
/// OSes). AL2 AMIs are not published for Kubernetes 1.33 and later; EKS rejects them there.
pub(super) fn ami_type(instance_type: &str, os: Option<NodeOs>) -> Option<&'static str> {
    let family = instance_type.split('.').next().unwrap_or(instance_type);
    let class: String = family
        .chars()
        .take_while(char::is_ascii_lowercase)
        .collect();
    let attributes: String = family
        .chars()
        .skip_while(char::is_ascii_lowercase)
        .skip_while(char::is_ascii_digit)
        .collect();
    let arm = family == "a1" || attributes.starts_with('g');
    let nvidia = matches!(class.as_str(), "p" | "g" | "gr");
    let neuron = matches!(class.as_str(), "inf" | "trn");
    Some(match (os.unwrap_or(NodeOs::Al2023), arm, nvidia, neuron) {
        (NodeOs::Al2023, _, _, true) => "AL2023_x86_64_NEURON",
        (NodeOs::Al2023, true, true, _) => "AL2023_ARM_64_NVIDIA",
        (NodeOs::Al2023, false, true, _) => "AL2023_x86_64_NVIDIA",
        (NodeOs::Al2023, true, false, _) => "AL2023_ARM_64_STANDARD",
        (NodeOs::Al2023, false, false, _) => "AL2023_x86_64_STANDARD",
        // The AL2 accelerated AMI carries both the NVIDIA and the Neuron drivers; x86 only.
        (NodeOs::Al2, false, true, _) | (NodeOs::Al2, _, _, true) => "AL2_x86_64_GPU",
        (NodeOs::Al2, true, true, _) => return None,
        (NodeOs::Al2, true, false, _) => "AL2_ARM_64",
        (NodeOs::Al2, false, false, _) => "AL2_x86_64",
        (NodeOs::Bottlerocket, true, true, _) => "BOTTLEROCKET_ARM_64_NVIDIA",
        (NodeOs::Bottlerocket, false, true, _) => "BOTTLEROCKET_x86_64_NVIDIA",
        // Bottlerocket's standard variants carry the Neuron driver; there is no NEURON type.
        (NodeOs::Bottlerocket, true, false, _) => "BOTTLEROCKET_ARM_64",
        (NodeOs::Bottlerocket, false, false, _) => "BOTTLEROCKET_x86_64",
        _ => return None,
    })
}

fn nodegroup(
    ctx: &mut Ctx<'_>,
    eks: &Address,
    net: &Net,
    roles: &BaseRoles,
    pool: &NodePool,
    after: &[Address],
) -> Result<Address, ExpandError> {
    let addr = ctx.addr(kinds::EKS_NODEGROUP, &pool.name);
    let ami =
        ami_type(&pool.instance_type, pool.os).ok_or_else(|| ExpandError::UnsupportedImage {
            pool: pool.name.clone(),
            os: pool.os.map_or("al2023", NodeOs::as_str),
            instance_type: pool.instance_type.clone(),
        })?;
    let taints = pool
        .taints
        .iter()
        .map(|t| taint(&pool.name, t))
        .collect::<Result<Vec<_>, _>>()?;
    ctx.push(
        addr.clone(),
        props([
            ("cluster_name", Value::reference(eks, "name")),
            ("nodegroup_name", Value::from(pool.name.as_str())),
            ("node_role_arn", Value::reference(&roles.nodes, "arn")),
            ("subnet_ids", refs(&net.private_subnets, "id")),
            (
                "scaling_config",
                Value::Map(props([
                    ("min_size", Value::from(pool.min)),
                    ("max_size", Value::from(pool.max)),
                    ("desired_size", Value::from(pool.desired)),
                ])),
            ),
            (
                "instance_types",
                Value::from(vec![pool.instance_type.as_str()]),
            ),
            ("disk_size", Value::from(pool.disk_size_gb)),
            ("ami_type", Value::from(ami)),
            ("capacity_type", Value::from("ON_DEMAND")),
            ("version", Value::from(ctx.cluster.kubernetes.to_string())),
            ("labels", string_map(&pool.labels)),
            ("taints", Value::List(taints)),
            // EKS accepts 1..=100 nodes; a surge-only blueprint (0 unavailable) still rolls one
            // node at a time, which is the closest EKS offers.
            (
                "update_config",
                Value::Map(props([(
                    "max_unavailable",
                    Value::from(pool.upgrade.max_unavailable.max(1)),
                )])),
            ),
        ]),
        after.to_vec(),
    );
    Ok(addr)
}

/// Adds one managed node group per pool, in the private subnets; returns their addresses.
pub(super) fn nodegroups(
    ctx: &mut Ctx<'_>,
    eks: &Address,
    net: &Net,
    roles: &BaseRoles,
    addons: &[Address],
) -> Result<Vec<Address>, ExpandError> {
    let after: Vec<Address> = net
        .private_route_tables
        .iter()
        .chain(addons)
        .cloned()
        .collect();
    let pools = ctx.cluster.node_pools.clone();
    pools
        .iter()
        .map(|pool| nodegroup(ctx, eks, net, roles, pool, &after))
        .collect()
}

/// Adds a role per workload identity and, in Pod Identity mode, its association.
pub(super) fn workload_identities(ctx: &mut Ctx<'_>, eks: &Address, oidc: &Address) {
    let identities = ctx.cluster.workload_identities.clone();
    for wi in &identities {
        let role = iam::workload_identity_role(
            ctx,
            oidc,
            &wi.name,
            &wi.namespace,
            &wi.service_account,
            &wi.aws_policy_arns,
        );
        if !ctx.pod_identity() {
            continue;
        }
        let addr = ctx.addr(kinds::EKS_POD_IDENTITY_ASSOCIATION, &wi.name);
        // Credentials are served by the agent; associating before it runs would leave the
        // first pods without them.
        let agent = ctx.addr(kinds::EKS_ADDON, POD_IDENTITY_AGENT);
        ctx.push(
            addr,
            props([
                ("cluster_name", Value::reference(eks, "name")),
                ("namespace", Value::from(wi.namespace.as_str())),
                ("service_account", Value::from(wi.service_account.as_str())),
                ("role_arn", Value::reference(&role, "arn")),
            ]),
            vec![agent],
        );
    }
}

/// Adds an access entry per declared principal, with its access policies inline.
/// The node role needs none: EKS creates the node access entry for managed node groups.
pub(super) fn access_entries(ctx: &mut Ctx<'_>, eks: &Address) -> Result<(), ExpandError> {
    let entries = ctx.settings.access_entries.clone();
    for entry in &entries {
        let name = names::access_entry(&entry.principal_arn)
            .ok_or_else(|| ExpandError::InvalidPrincipal(entry.principal_arn.clone()))?;
        let scope = if entry.namespaces.is_empty() {
            props([("type", Value::from("cluster"))])
        } else {
            props([
                ("type", Value::from("namespace")),
                ("namespaces", Value::from(entry.namespaces.clone())),
            ])
        };
        let policies = entry
            .policies
            .iter()
            .map(|p| {
                Value::Map(props([
                    (
                        "policy_arn",
                        Value::from(names::access_policy_arn(ctx.partition, p)),
                    ),
                    ("access_scope", Value::Map(scope.clone())),
                ]))
            })
            .collect();
        let addr = ctx.addr(kinds::EKS_ACCESS_ENTRY, &name);
        ctx.push(
            addr,
            props([
                ("cluster_name", Value::reference(eks, "name")),
                ("principal_arn", Value::from(entry.principal_arn.as_str())),
                ("type", Value::from("STANDARD")),
                ("access_policies", Value::List(policies)),
            ]),
            vec![],
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ami_type_follows_architecture_and_accelerators() {
        assert_eq!(ami_type("m6i.large", None), Some("AL2023_x86_64_STANDARD"));
        assert_eq!(ami_type("t3.large", None), Some("AL2023_x86_64_STANDARD"));
        assert_eq!(ami_type("m7g.xlarge", None), Some("AL2023_ARM_64_STANDARD"));
        assert_eq!(ami_type("c6gn.large", None), Some("AL2023_ARM_64_STANDARD"));
        assert_eq!(ami_type("t4g.medium", None), Some("AL2023_ARM_64_STANDARD"));
        assert_eq!(ami_type("g5.xlarge", None), Some("AL2023_x86_64_NVIDIA"));
        assert_eq!(ami_type("p4d.24xlarge", None), Some("AL2023_x86_64_NVIDIA"));
        assert_eq!(ami_type("g5g.xlarge", None), Some("AL2023_ARM_64_NVIDIA"));
        assert_eq!(ami_type("inf2.xlarge", None), Some("AL2023_x86_64_NEURON"));
        let al2023 = Some(NodeOs::Al2023);
        assert_eq!(
            ami_type("m6i.large", al2023),
            Some("AL2023_x86_64_STANDARD")
        );
    }

    #[test]
    fn ami_type_follows_the_pool_os() {
        let al2 = Some(NodeOs::Al2);
        assert_eq!(ami_type("m6i.large", al2), Some("AL2_x86_64"));
        assert_eq!(ami_type("m7g.large", al2), Some("AL2_ARM_64"));
        assert_eq!(ami_type("g5.xlarge", al2), Some("AL2_x86_64_GPU"));
        assert_eq!(ami_type("inf2.xlarge", al2), Some("AL2_x86_64_GPU"));
        assert_eq!(ami_type("g5g.xlarge", al2), None);
        let br = Some(NodeOs::Bottlerocket);
        assert_eq!(ami_type("m6i.large", br), Some("BOTTLEROCKET_x86_64"));
        assert_eq!(ami_type("m7g.large", br), Some("BOTTLEROCKET_ARM_64"));
        assert_eq!(
            ami_type("g5.xlarge", br),
            Some("BOTTLEROCKET_x86_64_NVIDIA")
        );
        assert_eq!(
            ami_type("g5g.xlarge", br),
            Some("BOTTLEROCKET_ARM_64_NVIDIA")
        );
        assert_eq!(ami_type("m6i.large", Some(NodeOs::Ubuntu)), None);
    }

    #[test]
    fn taints_use_the_eks_effect_names() {
        let t = taint("p", "dedicated=gpu:NoSchedule").unwrap();
        assert_eq!(
            t,
            Value::Map(props([
                ("key", Value::from("dedicated")),
                ("value", Value::from("gpu")),
                ("effect", Value::from("NO_SCHEDULE")),
            ]))
        );
        let bare = taint("p", "CriticalAddonsOnly:PreferNoSchedule").unwrap();
        assert_eq!(
            bare,
            Value::Map(props([
                ("key", Value::from("CriticalAddonsOnly")),
                ("effect", Value::from("PREFER_NO_SCHEDULE"))
            ]))
        );
        for bad in [
            "dedicated=gpu",
            "dedicated=gpu:Sometimes",
            "=x:NoExecute",
            "",
        ] {
            assert!(
                matches!(taint("p", bad), Err(ExpandError::InvalidTaint { .. })),
                "{bad}"
            );
        }
    }
}
