//! Expansion of one blueprint cluster into the AKS resource set.
//!
//! [`AzureExpander::expand`] is pure: it reads the validated model and returns the same
//! resources for the same input, in a fixed order. It re-checks the few things that would make
//! an ARM id or name malformed (it never trusts that a value fits ARM just because the
//! blueprint accepted it) and reports them as errors; it never panics, never reads the clock or
//! the environment, and never talks to ARM.

use std::collections::{BTreeMap, BTreeSet};

use slipway_blueprints::{AzureSettings, Cloud, Cluster, Fleet};
use slipway_provider::{
    Address, ErrorClass, Expander, KindSchema, ProviderError, Resource, TAG_ADDRESS, TAG_CLUSTER,
    TAG_FLEET, Value,
};

use crate::ids::{ArmScope, is_guid};
use crate::{aks, identity, kinds, network};

/// Why a cluster cannot be expanded into Azure resources.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExpandError {
    /// The cluster is not an Azure cluster.
    #[error("cluster `{cluster}` runs on `{provider}`, not on azure")]
    WrongProvider {
        /// The cluster.
        cluster: String,
        /// Its provider.
        provider: Cloud,
    },
    /// The `azure` settings (subscription, resource group) are missing.
    #[error("cluster `{cluster}` has no `azure` settings (subscriptionId, resourceGroup)")]
    MissingAzureSettings {
        /// The cluster.
        cluster: String,
    },
    /// The subscription id is not a GUID.
    #[error("subscription id `{0}` is not a GUID")]
    InvalidSubscription(String),
    /// A name does not fit the rules ARM has for it.
    #[error("{what} `{name}` is not a valid Azure name: {rule}")]
    InvalidName {
        /// What the name is for, e.g. `agent pool name`.
        what: &'static str,
        /// The offending name.
        name: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// No node pool has role `system`; AKS needs one to create the cluster.
    #[error("cluster `{0}` has no node pool with role `system`; AKS needs one at creation")]
    NoSystemPool(String),
    /// A subnet the expansion needs was not derived.
    #[error("cluster `{cluster}` has no `{role}` subnet")]
    MissingSubnet {
        /// The cluster.
        cluster: String,
        /// The missing role, e.g. `private` or `endpoints`.
        role: &'static str,
    },
    /// A subnet role that Azure clusters do not use (public subnets are AWS-only).
    #[error("subnet `{0}` has role `public`, which Azure clusters do not use")]
    PublicSubnet(String),
    /// An add-on outside the AKS catalogue.
    #[error("unknown AKS add-on `{name}`; known add-ons: {known}")]
    UnknownAddon {
        /// The add-on name.
        name: String,
        /// The catalogue, comma-separated.
        known: String,
    },
    /// An add-on pinned to a version: AKS versions its add-ons with the cluster.
    #[error(
        "AKS add-on `{0}` cannot be pinned to a version; AKS ships it with the cluster version"
    )]
    PinnedAddon(String),
    /// A private endpoint target outside the catalogue.
    #[error("unknown Azure private endpoint `{name}`; known targets: {known}")]
    UnknownPrivateEndpoint {
        /// The target name.
        name: String,
        /// The catalogue, comma-separated.
        known: String,
    },
    /// An Azure private endpoint without the ARM id of the resource it connects to.
    #[error("private endpoint `{0}` has no target resource id (`resourceId` in the blueprint)")]
    MissingPrivateEndpointTarget(String),
    /// The `monitoring` add-on without a Log Analytics workspace to send to.
    #[error(
        "the `monitoring` add-on needs a Log Analytics workspace (`azure.logAnalyticsWorkspaceId`)"
    )]
    MissingLogAnalyticsWorkspace,
    /// A role assignment scope that is not an ARM id.
    #[error(
        "role assignment scope `{scope}` of workload identity `{identity}` is not an ARM resource id"
    )]
    InvalidScope {
        /// The workload identity.
        identity: String,
        /// The scope as written.
        scope: String,
    },
    /// The network leaves no room for the Kubernetes pod or service ranges.
    #[error("no {what} range is free next to network `{cidr}`")]
    NoClusterRange {
        /// `pod` or `service`.
        what: &'static str,
        /// The network CIDR.
        cidr: String,
    },
    /// A node OS AKS does not run (an EKS image family).
    #[error("node pool `{pool}` asks for os `{os}`, which AKS does not offer")]
    UnsupportedOs {
        /// The pool.
        pool: String,
        /// The OS as the blueprint spells it.
        os: &'static str,
    },
    /// A Windows pool with role `system`: AKS runs system pools on Linux only.
    #[error("node pool `{0}` runs Windows, which AKS does not allow for system pools")]
    WindowsSystemPool(String),
    /// Two resources of the expansion got the same address (duplicate names in the cluster).
    #[error("two resources share the address `{0}`")]
    DuplicateAddress(String),
}

impl ExpandError {
    fn code(&self) -> &'static str {
        match self {
            ExpandError::WrongProvider { .. } => "WrongProvider",
            ExpandError::MissingAzureSettings { .. } => "MissingAzureSettings",
            ExpandError::InvalidSubscription(_) => "InvalidSubscription",
            ExpandError::InvalidName { .. } => "InvalidName",
            ExpandError::NoSystemPool(_) => "NoSystemPool",
            ExpandError::MissingSubnet { .. } => "MissingSubnet",
            ExpandError::PublicSubnet(_) => "PublicSubnet",
            ExpandError::UnknownAddon { .. } => "UnknownAddon",
            ExpandError::PinnedAddon(_) => "PinnedAddon",
            ExpandError::UnknownPrivateEndpoint { .. } => "UnknownPrivateEndpoint",
            ExpandError::MissingPrivateEndpointTarget(_) => "MissingPrivateEndpointTarget",
            ExpandError::MissingLogAnalyticsWorkspace => "MissingLogAnalyticsWorkspace",
            ExpandError::InvalidScope { .. } => "InvalidScope",
            ExpandError::NoClusterRange { .. } => "NoClusterRange",
            ExpandError::UnsupportedOs { .. } => "UnsupportedOs",
            ExpandError::WindowsSystemPool(_) => "WindowsSystemPool",
            ExpandError::DuplicateAddress(_) => "DuplicateAddress",
        }
    }
}

impl From<ExpandError> for ProviderError {
    fn from(e: ExpandError) -> Self {
        ProviderError::new(ErrorClass::Fatal, "expand", e.code(), e.to_string())
    }
}

/// The pure half of the Azure provider: expands a blueprint cluster into AKS resources.
#[derive(Debug, Clone)]
pub struct AzureExpander {
    kinds: Vec<KindSchema>,
}

impl AzureExpander {
    /// Builds the expander with the schemas of every Azure kind.
    pub fn new() -> Self {
        Self {
            kinds: kinds::schemas(),
        }
    }

    /// Expands `cluster`, reporting problems as [`ExpandError`]s.
    pub fn expand_cluster(
        &self,
        fleet: &Fleet,
        cluster: &Cluster,
    ) -> Result<Vec<Resource>, ExpandError> {
        let mut ctx = Ctx::new(fleet, cluster)?;
        let net = network::expand_network(&mut ctx)?;
        let control = identity::expand_control_plane_identity(&mut ctx, &net)?;
        let aks = aks::expand_cluster(&mut ctx, &net, &control)?;
        identity::expand_workload_identities(&mut ctx, &aks)?;
        network::expand_private_endpoints(&mut ctx, &net)?;
        ctx.finish()
    }
}

impl Default for AzureExpander {
    fn default() -> Self {
        Self::new()
    }
}

impl Expander for AzureExpander {
    fn name(&self) -> &'static str {
        "azure"
    }

    fn kinds(&self) -> &[KindSchema] {
        &self.kinds
    }

    fn expand(&self, fleet: &Fleet, cluster: &Cluster) -> Result<Vec<Resource>, ProviderError> {
        self.expand_cluster(fleet, cluster)
            .map_err(ProviderError::from)
    }

    fn upgrade_phase(
        &self,
        kind: &slipway_provider::Kind,
    ) -> Option<slipway_provider::UpgradePhase> {
        kinds::upgrade_phase(kind)
    }

    fn build_phase(&self, kind: &slipway_provider::Kind) -> slipway_provider::BuildPhase {
        kinds::build_phase(kind)
    }
}

/// One ARM object about to be added to the expansion.
pub(crate) struct ArmResource {
    /// Its address.
    pub address: Address,
    /// Its ARM id.
    pub id: String,
    /// The api-version its PUT uses.
    pub api_version: &'static str,
    /// The PUT body.
    pub body: Value,
    /// Properties beside `id`, `api_version` and `body` (e.g. a role name to resolve).
    pub extra: Vec<(&'static str, Value)>,
    /// Ordering edges not carried by references (ARM parents, scopes, map keys).
    pub depends_on: Vec<Address>,
}

/// What the expansion of one cluster has built so far.
pub(crate) struct Ctx<'a> {
    /// The fleet, for ownership tags and role-assignment name seeds.
    pub fleet: &'a Fleet,
    /// The cluster being expanded.
    pub cluster: &'a Cluster,
    /// Its subscription and resource group.
    pub arm: ArmScope,
    /// Its Azure settings.
    pub settings: &'a AzureSettings,
    resources: Vec<Resource>,
}

impl<'a> Ctx<'a> {
    fn new(fleet: &'a Fleet, cluster: &'a Cluster) -> Result<Self, ExpandError> {
        if cluster.provider != Cloud::Azure {
            return Err(ExpandError::WrongProvider {
                cluster: cluster.name.clone(),
                provider: cluster.provider,
            });
        }
        let settings = cluster
            .azure
            .as_ref()
            .ok_or_else(|| ExpandError::MissingAzureSettings {
                cluster: cluster.name.clone(),
            })?;
        if !is_guid(&settings.subscription_id) {
            return Err(ExpandError::InvalidSubscription(
                settings.subscription_id.clone(),
            ));
        }
        check_resource_group_name(&settings.resource_group)?;
        check_name(
            "managed cluster name",
            &cluster.name,
            63,
            "1-63 letters, digits, `-` or `_`, starting and ending with a letter or digit",
            |i, last, c| c.is_ascii_alphanumeric() || (i != 0 && !last && (c == '-' || c == '_')),
        )?;
        Ok(Self {
            fleet,
            cluster,
            arm: ArmScope {
                subscription: settings.subscription_id.to_ascii_lowercase(),
                resource_group: settings.resource_group.clone(),
            },
            settings,
            resources: Vec::new(),
        })
    }

    /// The address of a resource of this cluster.
    pub fn address(&self, kind: &str, name: &str) -> Address {
        Address::new(&self.cluster.name, kind, name)
    }

    /// The tags of a taggable object: the cluster's tags, then the ownership tags (which win).
    pub fn tags(&self, address: &Address) -> Value {
        let mut tags: BTreeMap<String, Value> = self
            .cluster
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        tags.insert(TAG_FLEET.to_owned(), Value::from(self.fleet.name.as_str()));
        tags.insert(
            TAG_CLUSTER.to_owned(),
            Value::from(self.cluster.name.as_str()),
        );
        tags.insert(TAG_ADDRESS.to_owned(), Value::from(address.to_string()));
        Value::Map(tags)
    }

    /// The Azure region.
    pub fn location(&self) -> Value {
        Value::from(self.cluster.region.as_str())
    }

    /// Adds a resource to the expansion.
    pub fn push(&mut self, r: ArmResource) {
        let mut properties = BTreeMap::from([
            ("id".to_owned(), Value::from(r.id)),
            ("api_version".to_owned(), Value::from(r.api_version)),
            ("body".to_owned(), r.body),
        ]);
        properties.extend(r.extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
        self.resources.push(Resource {
            address: r.address,
            properties,
            depends_on: r.depends_on,
        });
    }

    fn finish(self) -> Result<Vec<Resource>, ExpandError> {
        let mut seen = BTreeSet::new();
        for r in &self.resources {
            if !seen.insert(&r.address) {
                return Err(ExpandError::DuplicateAddress(r.address.to_string()));
            }
        }
        Ok(self.resources)
    }
}

/// Builds a map value from literal entries.
pub(crate) fn obj<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

/// Builds a list of strings.
pub(crate) fn strings<S: AsRef<str>>(items: &[S]) -> Value {
    Value::List(items.iter().map(|s| Value::from(s.as_ref())).collect())
}

/// Checks a name's length and characters; `allowed(index, is_last, char)`.
pub(crate) fn check_name(
    what: &'static str,
    name: &str,
    max: usize,
    rule: &'static str,
    allowed: impl Fn(usize, bool, char) -> bool,
) -> Result<(), ExpandError> {
    let len = name.chars().count();
    let ok = len >= 1
        && len <= max
        && name
            .chars()
            .enumerate()
            .all(|(i, c)| allowed(i, i + 1 == len, c));
    if ok {
        Ok(())
    } else {
        Err(ExpandError::InvalidName {
            what,
            name: name.to_owned(),
            rule,
        })
    }
}

fn check_resource_group_name(name: &str) -> Result<(), ExpandError> {
    check_name(
        "resource group name",
        name,
        90,
        "1-90 letters, digits, `_`, `-`, `.`, `(` or `)`, not ending with `.`",
        |_, last, c| {
            c.is_alphanumeric() || matches!(c, '_' | '-' | '(' | ')') || (c == '.' && !last)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_group_names_that_would_break_ids_are_refused() {
        assert!(check_resource_group_name("rg-prod_weu(1)").is_ok());
        assert!(check_resource_group_name("rg/prod").is_err());
        assert!(check_resource_group_name("rg.").is_err());
        assert!(check_resource_group_name("").is_err());
        assert!(check_resource_group_name(&"r".repeat(91)).is_err());
    }

    #[test]
    fn expand_errors_become_fatal_provider_errors_with_a_code() {
        let e = ProviderError::from(ExpandError::PinnedAddon("keda".into()));
        assert_eq!(e.class, ErrorClass::Fatal);
        assert_eq!(e.code, "PinnedAddon");
        assert_eq!(e.operation, "expand");
        assert!(e.message.contains("`keda`"));
    }
}
