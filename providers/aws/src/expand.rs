//! Expansion of one blueprint cluster into the AWS resources of a production EKS cluster.
//!
//! Pure and deterministic: the same fleet and cluster always give the same resources in the
//! same order. It must never call AWS, read the clock or use randomness. Properties are what
//! the SDK-backed provider sends (AWS API parameter semantics, snake_case names); a property
//! needing another object's id or ARN holds a reference to that object's output, and ordering
//! that no reference implies is an explicit `depends_on`.

mod eks;
mod iam;
mod network;

use std::collections::{BTreeMap, BTreeSet};

use slipway_blueprints::{AwsSettings, AwsWorkloadIdentityMode, Cloud, Cluster, Fleet};
use slipway_provider::{
    Address, ErrorClass, Properties, ProviderError, Resource, TAG_ADDRESS, TAG_CLUSTER, TAG_FLEET,
    Value,
};

use crate::addons::Placement;
use crate::names;

/// Why a cluster cannot be expanded. Validation catches most of these first; the expander
/// still refuses rather than producing a broken resource set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExpandError {
    /// The cluster is not an AWS cluster.
    #[error("cluster `{cluster}` runs on {cloud}, not aws")]
    WrongProvider {
        /// The cluster.
        cluster: String,
        /// Its cloud.
        cloud: Cloud,
    },
    /// The cluster has no availability zones.
    #[error("cluster `{cluster}` has no availability zones")]
    NoZones {
        /// The cluster.
        cluster: String,
    },
    /// A zone lacks its derived public or private subnet.
    #[error("cluster `{cluster}` has no {role} subnet in zone `{zone}`")]
    MissingSubnet {
        /// The cluster.
        cluster: String,
        /// The zone.
        zone: String,
        /// `public` or `private`.
        role: &'static str,
    },
    /// An add-on is not in the EKS catalogue.
    #[error("add-on `{name}` is not in the EKS catalogue; known add-ons: {known}")]
    UnknownAddon {
        /// The name as written.
        name: String,
        /// The catalogue names, comma-separated.
        known: String,
    },
    /// A node pool taint is not `key=value:Effect` or `key:Effect`.
    #[error(
        "taint `{taint}` of node pool `{pool}` is not `key=value:Effect` with Effect NoSchedule, PreferNoSchedule or NoExecute"
    )]
    InvalidTaint {
        /// The node pool.
        pool: String,
        /// The taint as written.
        taint: String,
    },
    /// A private endpoint is not a VPC endpoint service suffix such as `ecr.api`.
    #[error("private endpoint `{0}` is not a VPC endpoint service name such as `s3` or `ecr.api`")]
    InvalidEndpointService(String),
    /// An access entry's principal is not an IAM ARN.
    #[error("access entry principal `{0}` is not an IAM principal ARN")]
    InvalidPrincipal(String),
    /// Two resources of the expansion got the same address (e.g. an add-on listed under both
    /// its short and its EKS name, or one principal listed twice).
    #[error("`{0}` would be declared twice")]
    DuplicateAddress(Address),
    /// No EKS AMI type runs the pool's OS on its instance type (AL2 on ARM GPUs, or an OS of
    /// another cloud).
    #[error("node pool `{pool}`: EKS has no {os} AMI type for instance type `{instance_type}`")]
    UnsupportedImage {
        /// The node pool.
        pool: String,
        /// The OS as written in the blueprint.
        os: &'static str,
        /// The instance type.
        instance_type: String,
    },
}

impl ExpandError {
    /// A stable code for the error, used as [`ProviderError::code`].
    pub fn code(&self) -> &'static str {
        match self {
            ExpandError::WrongProvider { .. } => "WrongProvider",
            ExpandError::NoZones { .. } => "NoZones",
            ExpandError::MissingSubnet { .. } => "MissingSubnet",
            ExpandError::UnknownAddon { .. } => "UnknownAddon",
            ExpandError::UnsupportedImage { .. } => "UnsupportedImage",
            ExpandError::InvalidTaint { .. } => "InvalidTaint",
            ExpandError::InvalidEndpointService(_) => "InvalidEndpointService",
            ExpandError::InvalidPrincipal(_) => "InvalidPrincipal",
            ExpandError::DuplicateAddress(_) => "DuplicateAddress",
        }
    }
}

impl From<ExpandError> for ProviderError {
    fn from(e: ExpandError) -> Self {
        let err = ProviderError::new(ErrorClass::Fatal, "expand", e.code(), e.to_string());
        match &e {
            ExpandError::DuplicateAddress(a) => err.at(a),
            _ => err,
        }
    }
}

/// The address name of a cluster's only object of a kind (its VPC, its EKS cluster).
pub(crate) const SINGLETON: &str = "main";

/// Builds properties from name/value pairs.
pub(crate) fn props<const N: usize>(pairs: [(&str, Value); N]) -> Properties {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// A list of references to `output` of each address.
pub(crate) fn refs(addresses: &[Address], output: &str) -> Value {
    Value::List(
        addresses
            .iter()
            .map(|a| Value::reference(a, output))
            .collect(),
    )
}

/// A map value from string pairs.
pub(crate) fn string_map<'s>(pairs: impl IntoIterator<Item = (&'s String, &'s String)>) -> Value {
    Value::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect(),
    )
}

/// What the area modules share while expanding one cluster.
pub(crate) struct Ctx<'a> {
    pub fleet: &'a Fleet,
    pub cluster: &'a Cluster,
    pub settings: AwsSettings,
    pub partition: &'static str,
    pub out: Vec<Resource>,
}

impl<'a> Ctx<'a> {
    /// The address of `name` of `kind` in this cluster.
    pub fn addr(&self, kind: &str, name: &str) -> Address {
        Address::new(self.cluster.name.as_str(), kind, name)
    }

    /// The tags of a resource: the cluster's tags, then `Name`, then the ownership tags, so
    /// that a blueprint tag can never hide who owns the object.
    pub fn tags(&self, address: &Address, name: &str) -> BTreeMap<String, Value> {
        let mut tags: BTreeMap<String, Value> = self
            .cluster
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        tags.insert("Name".to_owned(), Value::from(name));
        tags.insert(TAG_FLEET.to_owned(), Value::from(self.fleet.name.as_str()));
        tags.insert(
            TAG_CLUSTER.to_owned(),
            Value::from(self.cluster.name.as_str()),
        );
        tags.insert(TAG_ADDRESS.to_owned(), Value::from(address.to_string()));
        tags
    }

    /// The default `Name` tag of the resource at `address`: the cluster and the address name,
    /// or the kind for a cluster's single object of that kind (`prod-use1-vpc`, not `-main`).
    pub fn name_tag(&self, address: &Address) -> String {
        if address.name == SINGLETON {
            let kind = address.kind.as_str();
            let kind = kind.strip_prefix("aws.").unwrap_or(kind).replace('_', "-");
            names::name_tag(&self.cluster.name, &kind)
        } else {
            names::name_tag(&self.cluster.name, &address.name)
        }
    }

    /// Adds a resource whose `tags` are [`Ctx::tags`] with the default `Name`.
    pub fn push(&mut self, address: Address, mut properties: Properties, depends_on: Vec<Address>) {
        let name = self.name_tag(&address);
        properties.insert("tags".to_owned(), Value::Map(self.tags(&address, &name)));
        self.push_tagged(address, properties, depends_on);
    }

    /// Adds a resource whose properties already carry their `tags`, with the cluster's
    /// `region`: the provider calls that region's endpoints, also when deleting a resource
    /// that has left the blueprint, so the region must be recorded with each resource.
    pub fn push_tagged(
        &mut self,
        address: Address,
        mut properties: Properties,
        depends_on: Vec<Address>,
    ) {
        properties.insert(
            "region".to_owned(),
            Value::from(self.cluster.region.as_str()),
        );
        self.out.push(Resource {
            address,
            properties,
            depends_on,
        });
    }

    /// Whether workload identities use EKS Pod Identity rather than IRSA.
    pub fn pod_identity(&self) -> bool {
        self.settings.workload_identity == AwsWorkloadIdentityMode::PodIdentity
    }
}

/// Expands `cluster` of `fleet` into its AWS resources.
pub fn expand(fleet: &Fleet, cluster: &Cluster) -> Result<Vec<Resource>, ExpandError> {
    if cluster.provider != Cloud::Aws {
        return Err(ExpandError::WrongProvider {
            cluster: cluster.name.clone(),
            cloud: cluster.provider,
        });
    }
    let settings = cluster.aws.clone().unwrap_or(AwsSettings {
        workload_identity: AwsWorkloadIdentityMode::Irsa,
        secrets_kms_key_arn: None,
        access_entries: Vec::new(),
    });
    let mut ctx = Ctx {
        fleet,
        cluster,
        settings,
        partition: names::partition(&cluster.region),
        out: Vec::new(),
    };

    let net = network::expand(&mut ctx)?;
    let roles = iam::base_roles(&mut ctx);
    let eks = eks::cluster(&mut ctx, &net, &roles);
    let oidc = iam::oidc_provider(&mut ctx, &eks);
    let addons = eks::addon_plan(&ctx)?;
    let addon_roles = iam::addon_roles(&mut ctx, &addons, &oidc);
    let early = eks::addons(
        &mut ctx,
        &eks,
        &addons,
        &addon_roles,
        Placement::BeforeNodes,
        &[],
    );
    let nodegroups = eks::nodegroups(&mut ctx, &eks, &net, &roles, &early)?;
    let after: Vec<Address> = nodegroups.iter().chain(&early).cloned().collect();
    eks::addons(
        &mut ctx,
        &eks,
        &addons,
        &addon_roles,
        Placement::AfterNodes,
        &after,
    );
    eks::workload_identities(&mut ctx, &eks, &oidc);
    eks::access_entries(&mut ctx, &eks)?;

    let mut seen = BTreeSet::new();
    for r in &ctx.out {
        if !seen.insert(&r.address) {
            return Err(ExpandError::DuplicateAddress(r.address.clone()));
        }
    }
    Ok(ctx.out)
}

#[cfg(test)]
mod tests;
