//! Upgrade evidence: what a provider reads from the live cloud so the engine can judge whether a
//! cluster can move to a target Kubernetes minor.
//!
//! Providers only report what the cloud says (versions running, versions offered, the cloud's own
//! upgrade checks); judging it against the skew policy, calendars and blueprint is the engine's
//! job. Values stay as the cloud spells them (`1.31`, `AL2_x86_64`, `v1.11.4-eksbuild.2`).

use serde::{Deserialize, Serialize};
use slipway_blueprints::{Cluster, Fleet, KubeVersion, NodeOs};

use crate::ResourceState;

/// What the engine asks for one cluster.
#[derive(Debug, Clone, Copy)]
pub struct EvidenceRequest<'a> {
    /// The fleet.
    pub fleet: &'a Fleet,
    /// The cluster, as the blueprint declares it.
    pub cluster: &'a Cluster,
    /// The minor the cluster would move to.
    pub target: KubeVersion,
    /// What state recorded for this cluster's resources (cloud ids, resolved properties);
    /// empty when Slipway never built it.
    pub recorded: &'a [ResourceState],
}

/// What the cloud says about one cluster and a target minor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpgradeEvidence {
    /// The live control plane and its node pools; `None` when the cluster does not exist in the
    /// cloud (never built, or deleted out of band).
    pub live: Option<LiveCluster>,
    /// Minors the cloud offers as in-place upgrades from the current version (AKS upgrade
    /// profile); `None` when the cloud has no such API (EKS: calendars and the one-minor rule).
    pub upgrades_offered: Option<Vec<String>>,
    /// Add-ons installed or declared, with what the cloud offers for the target minor.
    pub addons: Vec<AddonEvidence>,
    /// The cloud's own upgrade checks (EKS upgrade insights).
    pub insights: Vec<Insight>,
    /// What could not be read and why, one sentence each, for the report.
    pub notes: Vec<String>,
}

/// A live control plane.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveCluster {
    /// The cloud's name for it.
    pub name: String,
    /// Kubernetes version as the cloud reports it (`1.31`, or `1.31.5` on AKS).
    pub version: String,
    /// Lifecycle status as the cloud reports it (`ACTIVE`, `Succeeded`).
    pub status: String,
    /// Node pools found in the cloud, including ones Slipway does not manage.
    pub node_pools: Vec<LiveNodePool>,
}

/// A live node pool (EKS managed node group, AKS agent pool).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveNodePool {
    /// The cloud's name for it.
    pub name: String,
    /// Kubelet version (`1.30`, `1.30.4`).
    pub version: String,
    /// The image type as the cloud names it (`AL2_x86_64`, `AzureLinux`).
    pub image: Option<String>,
    /// The image family in blueprint terms, when the cloud's value maps to one.
    pub os: Option<NodeOs>,
    /// Image release (`1.30.4-20240917`, `AKSUbuntu-2204gen2containerd-202409.23.0`).
    pub image_version: Option<String>,
    /// Whether the pool carries Slipway's ownership tags for this fleet.
    pub owned: bool,
}

/// One add-on and the versions the cloud offers for the target minor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AddonEvidence {
    /// Catalogue name (`coredns`, `vpc-cni`).
    pub name: String,
    /// The version installed now, if the add-on is installed.
    pub installed: Option<String>,
    /// Versions the cloud offers for the target minor, newest first; empty when none.
    pub compatible: Vec<String>,
    /// The cloud's default version for the target minor.
    pub default_for_target: Option<String>,
    /// Whether an upgrade moves an unpinned installed version to a compatible one (EKS add-ons,
    /// which the rollout's add-on step updates); `false` when the version must be changed by
    /// hand first (the AKS Istio mesh revision, which AKS never moves and whose incompatibility
    /// makes AKS refuse the control-plane upgrade).
    #[serde(default)]
    pub moved_by_upgrade: bool,
}

/// One of the cloud's upgrade checks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Insight {
    /// The cloud's id.
    pub id: String,
    /// Title.
    pub name: String,
    /// Category (`UPGRADE_READINESS`).
    pub category: String,
    /// Outcome.
    pub status: InsightStatus,
    /// Why the check has that status.
    pub reason: String,
    /// The minor the check is about.
    pub kubernetes_version: Option<String>,
    /// What to do.
    pub recommendation: Option<String>,
    /// Deprecated API usage the cloud observed (from audit logs on EKS).
    pub deprecations: Vec<InsightDeprecation>,
}

/// Outcome of an insight check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InsightStatus {
    /// Nothing to fix.
    Passing,
    /// Something to look at.
    Warning,
    /// Will break on upgrade.
    Error,
    /// Not evaluated yet.
    #[default]
    Unknown,
}

/// Deprecated API usage seen by the cloud.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InsightDeprecation {
    /// The deprecated API (`/apis/flowcontrol.apiserver.k8s.io/v1beta2/flowschemas`).
    pub usage: String,
    /// Its replacement.
    pub replaced_with: Option<String>,
    /// The minor that stops serving it.
    pub stop_serving_version: Option<String>,
    /// Clients that called it.
    pub clients: Vec<InsightClient>,
}

/// A client seen calling a deprecated API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InsightClient {
    /// The client's user agent.
    pub user_agent: String,
    /// Requests in the last 30 days.
    pub requests: u64,
    /// When it last called, RFC 3339.
    pub last_request: Option<String>,
}
