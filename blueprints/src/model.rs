//! The validated fleet model: what the rest of Slipway trusts.
//!
//! Values here have passed every rule: names are DNS labels, CIDRs are valid and disjoint,
//! versions are supported on the evaluation day, profiles and defaults are merged, and
//! per-cloud choices (instance types) are resolved for the cluster's provider. Nothing here
//! carries YAML or serde details of the file format.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

/// A whole fleet, as loaded from one blueprint file or directory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fleet {
    /// The fleet name; part of every ownership tag.
    pub name: String,
    /// The owning team.
    pub owner: Option<String>,
    /// Clusters in blueprint order, profiles and defaults merged.
    pub clusters: Vec<Cluster>,
    /// Upgrade rings in order.
    pub rings: Vec<Ring>,
    /// Hex SHA-256 of the blueprint sources (file names and bytes, in load order).
    pub digest: String,
    /// DR standbys derived from their primaries, in primary order (see `crate::dr`). They are
    /// not among `clusters`: a standby is planned only where [`Fleet::with_standbys`] adds it.
    pub standbys: Vec<DerivedStandby>,
}

impl Fleet {
    /// The cluster with this name.
    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name)
    }

    /// The derived standby with this (standby cluster) name.
    pub fn standby(&self, name: &str) -> Option<&DerivedStandby> {
        self.standbys.iter().find(|s| s.cluster.name == name)
    }

    /// The derived standby of the primary cluster `primary`.
    pub fn standby_of(&self, primary: &str) -> Option<&DerivedStandby> {
        self.standbys.iter().find(|s| s.primary == primary)
    }

    /// This fleet with the named standbys appended to `clusters`, so that graphs, plans and
    /// applies treat them as clusters of their own. Unknown names are ignored.
    pub fn with_standbys<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Fleet {
        let mut fleet = self.clone();
        for name in names {
            if fleet.cluster(name).is_none()
                && let Some(standby) = self.standby(name)
            {
                fleet.clusters.push(standby.cluster.clone());
            }
        }
        fleet
    }
}

/// A DR standby derived from its primary cluster and the primary's `dr.standby`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DerivedStandby {
    /// The primary cluster's name.
    pub primary: String,
    /// The primary's recovery time objective.
    #[serde(with = "duration_secs")]
    pub rto: Duration,
    /// Capacity mode.
    pub mode: StandbyMode,
    /// The standby as a cluster of its own: tier `dr`, no ring, its own region, network and
    /// identities.
    pub cluster: Cluster,
    /// How the standby differs from its primary and why, in derivation order.
    pub changes: Vec<Derivation>,
}

/// One difference between a standby and its primary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Derivation {
    /// What differs, as a blueprint path: `region`, `nodePools[workers].desired`.
    pub field: String,
    /// The primary's value.
    pub primary: String,
    /// The standby's value.
    pub standby: String,
    /// Why, in one sentence.
    pub reason: String,
}

/// The cloud a cluster runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Cloud {
    /// Amazon EKS.
    Aws,
    /// Azure AKS.
    Azure,
}

impl Cloud {
    /// The name used in blueprints and resource kinds.
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Aws => "aws",
            Cloud::Azure => "azure",
        }
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Environment tier; drives invariants and expansion choices (e.g. NAT per zone for prod).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Development.
    Dev,
    /// Test.
    Test,
    /// Staging.
    Staging,
    /// Production.
    Prod,
    /// Disaster-recovery standby.
    Dr,
}

/// How the Kubernetes API endpoint is reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Endpoint {
    /// Reachable from the internet only.
    Public,
    /// Reachable from the cluster network only.
    Private,
    /// Both.
    PublicAndPrivate,
}

/// A Kubernetes `major.minor` version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct KubeVersion {
    /// Major version (1).
    pub major: u32,
    /// Minor version.
    pub minor: u32,
}

impl KubeVersion {
    /// Builds a version.
    pub fn new(major: u32, minor: u32) -> Self {
        Self { major, minor }
    }

    /// Parses `1.33` (a patch part such as `1.33.2` is rejected: clouds choose patches).
    pub fn parse(s: &str) -> Option<Self> {
        let (major, minor) = s.split_once('.')?;
        if major.is_empty()
            || minor.is_empty()
            || !(major.bytes().chain(minor.bytes())).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        Some(Self::new(major.parse().ok()?, minor.parse().ok()?))
    }

    /// The next minor version.
    pub fn next_minor(self) -> Self {
        Self::new(self.major, self.minor + 1)
    }
}

impl fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// One Kubernetes cluster of the fleet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cluster {
    /// Unique in the fleet; a DNS label.
    pub name: String,
    /// The profile it was built from, if any.
    pub profile: Option<String>,
    /// The cloud.
    pub provider: Cloud,
    /// Cloud region, e.g. `us-east-1`, `westeurope`.
    pub region: String,
    /// Tier.
    pub tier: Tier,
    /// Kubernetes version of the control plane.
    pub kubernetes: KubeVersion,
    /// API endpoint access.
    pub endpoint: Endpoint,
    /// Availability zones, in order (e.g. `us-east-1a`, or `1`,`2`,`3` on Azure).
    pub zones: Vec<String>,
    /// Network.
    pub network: Network,
    /// Node pools; at least one has role `system`.
    pub node_pools: Vec<NodePool>,
    /// Add-ons from the provider's catalogue.
    pub addons: Vec<Addon>,
    /// Workload identities.
    pub workload_identities: Vec<WorkloadIdentity>,
    /// Private endpoints (AWS VPC endpoint services like `s3`; Azure targets like `acr`).
    pub private_endpoints: Vec<String>,
    /// The upgrade ring this cluster belongs to.
    pub ring: Option<String>,
    /// Free-form labels for selection.
    pub labels: BTreeMap<String, String>,
    /// Cloud tags: fleet defaults merged with the cluster's own.
    pub tags: BTreeMap<String, String>,
    /// Disaster recovery.
    pub dr: Option<DrSpec>,
    /// AWS-specific settings (present for AWS clusters).
    pub aws: Option<AwsSettings>,
    /// Azure-specific settings (present for Azure clusters).
    pub azure: Option<AzureSettings>,
}

/// AWS-specific cluster settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AwsSettings {
    /// How workload identities get AWS credentials.
    pub workload_identity: AwsWorkloadIdentityMode,
    /// Envelope-encrypt Kubernetes secrets with a KMS key (ARN); `None` uses an
    /// EKS-managed default.
    pub secrets_kms_key_arn: Option<String>,
    /// IAM principals granted cluster access through EKS access entries.
    pub access_entries: Vec<AccessEntry>,
}

/// How AWS workload identities are wired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AwsWorkloadIdentityMode {
    /// IAM Roles for Service Accounts: a role trusting the cluster's OIDC provider.
    Irsa,
    /// EKS Pod Identity associations.
    PodIdentity,
}

/// An EKS access entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessEntry {
    /// IAM principal ARN.
    pub principal_arn: String,
    /// Access policy ARNs or short names (e.g. `AmazonEKSClusterAdminPolicy`).
    pub policies: Vec<String>,
    /// Kubernetes namespaces to scope the policies to; empty means cluster-wide.
    pub namespaces: Vec<String>,
}

/// Azure-specific cluster settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AzureSettings {
    /// Subscription id (a GUID).
    pub subscription_id: String,
    /// Resource group holding the cluster's resources.
    pub resource_group: String,
    /// ARM id of the Log Analytics workspace the `monitoring` add-on sends to; required when
    /// the cluster has `monitoring`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_analytics_workspace_id: Option<String>,
    /// ARM ids of the private endpoints' targets (the registry, the vault…), by private
    /// endpoint name; one per entry of [`Cluster::private_endpoints`].
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub private_endpoint_targets: BTreeMap<String, String>,
}

/// Cluster network.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Network {
    /// The VPC / VNet address space.
    pub cidr: Ipv4Net,
    /// Subnets derived deterministically from `cidr` and the zones; see [`crate::subnets`].
    pub subnets: Vec<Subnet>,
}

/// What a derived subnet is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SubnetRole {
    /// Public subnet (AWS: load balancers, NAT gateways).
    Public,
    /// Private subnet for nodes and pods.
    Private,
    /// Subnet for private endpoints (Azure).
    Endpoints,
}

/// A derived subnet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subnet {
    /// Stable name, e.g. `private-a`, `public-b`, `nodes`, `endpoints`.
    pub name: String,
    /// Address range inside the network CIDR.
    pub cidr: Ipv4Net,
    /// What it is for.
    pub role: SubnetRole,
    /// The zone it is in, for zonal subnets (AWS); `None` for regional subnets (Azure).
    pub zone: Option<String>,
}

/// Role of a node pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolRole {
    /// Runs cluster-critical system pods.
    System,
    /// Runs workloads.
    User,
}

/// A node pool (EKS managed node group, AKS agent pool).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodePool {
    /// Unique within the cluster.
    pub name: String,
    /// System or user.
    pub role: PoolRole,
    /// Instance type / VM size for this cluster's cloud.
    pub instance_type: String,
    /// Minimum nodes.
    pub min: u32,
    /// Maximum nodes.
    pub max: u32,
    /// Desired nodes at creation; between min and max.
    pub desired: u32,
    /// OS disk size in GiB.
    pub disk_size_gb: u32,
    /// Kubernetes labels.
    pub labels: BTreeMap<String, String>,
    /// Kubernetes taints, `key=value:Effect`.
    pub taints: Vec<String>,
    /// Upgrade settings.
    pub upgrade: PoolUpgrade,
    /// Node OS image family; `None` is the cloud's default (`al2023` on EKS, `ubuntu` on AKS).
    pub os: Option<NodeOs>,
}

/// The OS image family of a node pool's nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum NodeOs {
    /// EKS-optimized Amazon Linux 2023 (the EKS default).
    #[serde(rename = "al2023")]
    Al2023,
    /// EKS-optimized Amazon Linux 2: no AMIs are published for Kubernetes 1.33 and later.
    #[serde(rename = "al2")]
    Al2,
    /// Bottlerocket (EKS).
    #[serde(rename = "bottlerocket")]
    Bottlerocket,
    /// Ubuntu (the AKS Linux default).
    #[serde(rename = "ubuntu")]
    Ubuntu,
    /// Azure Linux (AKS).
    #[serde(rename = "azure-linux")]
    AzureLinux,
    /// Windows Server 2019 (AKS user pools).
    #[serde(rename = "windows-2019")]
    Windows2019,
    /// Windows Server 2022 (AKS user pools).
    #[serde(rename = "windows-2022")]
    Windows2022,
}

impl NodeOs {
    /// Every family, AWS first.
    pub const ALL: [NodeOs; 7] = [
        NodeOs::Al2023,
        NodeOs::Al2,
        NodeOs::Bottlerocket,
        NodeOs::Ubuntu,
        NodeOs::AzureLinux,
        NodeOs::Windows2019,
        NodeOs::Windows2022,
    ];

    /// The name written in blueprints.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeOs::Al2023 => "al2023",
            NodeOs::Al2 => "al2",
            NodeOs::Bottlerocket => "bottlerocket",
            NodeOs::Ubuntu => "ubuntu",
            NodeOs::AzureLinux => "azure-linux",
            NodeOs::Windows2019 => "windows-2019",
            NodeOs::Windows2022 => "windows-2022",
        }
    }

    /// Parses the name written in blueprints.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// The cloud whose node images this family names.
    pub fn cloud(self) -> Cloud {
        match self {
            NodeOs::Al2023 | NodeOs::Al2 | NodeOs::Bottlerocket => Cloud::Aws,
            _ => Cloud::Azure,
        }
    }

    /// Whether nodes of this family run Windows.
    pub fn is_windows(self) -> bool {
        matches!(self, NodeOs::Windows2019 | NodeOs::Windows2022)
    }
}

impl fmt::Display for NodeOs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a node pool rolls during upgrades.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolUpgrade {
    /// Extra nodes during an upgrade, as written (`1`, `33%`).
    pub max_surge: String,
    /// Nodes that may be unavailable at once during an upgrade.
    pub max_unavailable: u32,
}

/// An add-on from the provider's catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Addon {
    /// Catalogue name, e.g. `coredns`, `vpc-cni`, `azure-keyvault-secrets-provider`.
    pub name: String,
    /// Pinned version; `None` means the provider default for the cluster's Kubernetes minor.
    pub version: Option<String>,
}

/// A Kubernetes service account granted cloud permissions without static credentials.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadIdentity {
    /// Unique within the cluster.
    pub name: String,
    /// Kubernetes namespace.
    pub namespace: String,
    /// Kubernetes service account.
    pub service_account: String,
    /// AWS managed or customer policy ARNs to attach.
    pub aws_policy_arns: Vec<String>,
    /// Azure role assignments.
    pub azure_role_assignments: Vec<RoleAssignment>,
}

/// An Azure role assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleAssignment {
    /// Role name or definition id.
    pub role: String,
    /// ARM scope.
    pub scope: String,
}

/// An upgrade ring.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ring {
    /// Unique ring name.
    pub name: String,
    /// Time to wait after the ring finished before the next ring starts.
    #[serde(with = "duration_secs")]
    pub soak: Duration,
    /// Clusters upgraded at once within the ring.
    pub max_parallel: u32,
    /// Failed clusters tolerated before the ring halts.
    pub failure_threshold: u32,
    /// Gates checked before each cluster of the ring starts.
    pub gates: Vec<Gate>,
    /// Whether a human must approve before the ring starts.
    pub approval: bool,
}

/// A ring gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Gate {
    /// The deprecation scan finds nothing blocking.
    Deprecations,
    /// Cluster and node pools are healthy.
    Health,
    /// A custom command exits 0.
    Command(String),
}

/// Disaster recovery for a primary cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrSpec {
    /// Recovery time objective: a drill passes only if the standby is ready within it.
    #[serde(with = "duration_secs")]
    pub rto: Duration,
    /// The standby to build.
    pub standby: Standby,
}

/// A DR standby.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Standby {
    /// Standby region; never the primary's.
    pub region: String,
    /// Standby network CIDR; never overlapping any other in the fleet.
    pub cidr: Ipv4Net,
    /// Capacity mode.
    pub mode: StandbyMode,
    /// The standby cluster's name: `dr.standby.name`, or `<primary>-dr`.
    pub name: String,
    /// Azure resource group of the standby as written; `None` derives `<primary group>-dr`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_group: Option<String>,
    /// KMS key (ARN, in the standby region) for the standby's secrets as written; `None`
    /// derives it from the primary's multi-region key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets_kms_key_arn: Option<String>,
}

/// How much capacity a standby keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StandbyMode {
    /// Control plane and a minimal system pool.
    PilotLight,
    /// Scaled-down pools.
    Warm,
    /// Full capacity.
    Hot,
}

mod duration_secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_major_minor_only() {
        assert_eq!(KubeVersion::parse("1.33"), Some(KubeVersion::new(1, 33)));
        assert_eq!(KubeVersion::parse("1.33.2"), None);
        assert_eq!(KubeVersion::parse("1."), None);
        assert_eq!(KubeVersion::parse("v1.3"), None);
        assert!(KubeVersion::new(1, 9) < KubeVersion::new(1, 10));
    }
}
