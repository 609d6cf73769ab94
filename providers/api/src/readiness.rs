//! Standby readiness evidence: what a provider reads from the live cloud so the engine can judge
//! whether a (DR standby) cluster is ready to take over: control plane, node pools, add-ons and
//! workload identities.
//!
//! Providers report what the cloud says and normalise its status words into a [`Condition`]
//! (they know their cloud's vocabulary); which conditions a drill requires is the engine's call.
//! Read-only: nothing here may change a cloud object.

use serde::{Deserialize, Serialize};
use slipway_blueprints::{Cluster, Fleet};

use crate::ResourceState;

/// What the engine asks for one cluster.
#[derive(Debug, Clone, Copy)]
pub struct ReadinessRequest<'a> {
    /// The fleet (its name is part of the ownership tags).
    pub fleet: &'a Fleet,
    /// The cluster as derived or declared.
    pub cluster: &'a Cluster,
    /// What state recorded for this cluster's resources; empty when Slipway never built it.
    pub recorded: &'a [ResourceState],
}

/// A cloud status word, normalised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Condition {
    /// Usable: `ACTIVE`, `Succeeded` (and, for AKS add-ons, enabled on a succeeded cluster).
    Ready,
    /// Still being created or updated: `CREATING`, `UPDATING`, `Creating`.
    Pending,
    /// Exists but reports problems: `DEGRADED`, health issues, a stopped power state.
    Degraded,
    /// Failed or being deleted: `CREATE_FAILED`, `Failed`, `DELETING`.
    Failed,
    /// Not found in the cloud.
    #[default]
    Missing,
}

/// What the cloud says about one cluster's readiness.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReadinessEvidence {
    /// The control plane; `None` when it does not exist.
    pub control_plane: Option<ControlPlaneReadiness>,
    /// Every node pool found, declared or not.
    pub node_pools: Vec<NodePoolReadiness>,
    /// Every add-on found (EKS add-ons; AKS add-on profiles, mesh and workload identity).
    pub addons: Vec<AddonReadiness>,
    /// One entry per declared workload identity.
    pub identities: Vec<IdentityReadiness>,
    /// What could not be read and why, one sentence each.
    pub notes: Vec<String>,
}

/// A live control plane.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ControlPlaneReadiness {
    /// The cloud's name for it.
    pub name: String,
    /// Normalised status.
    pub condition: Condition,
    /// The status as the cloud spells it (`ACTIVE`, `Succeeded`).
    pub status: String,
    /// Kubernetes version as the cloud reports it (`1.34`, `1.34.2`).
    pub version: String,
    /// The API server endpoint, when the cloud reports one.
    pub endpoint: Option<String>,
    /// The cluster's own OIDC issuer URL, when enabled.
    pub oidc_issuer: Option<String>,
}

/// A live node pool.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodePoolReadiness {
    /// The cloud's name for it (the blueprint pool name).
    pub name: String,
    /// Normalised status.
    pub condition: Condition,
    /// The status as the cloud spells it.
    pub status: String,
    /// Kubelet version.
    pub version: Option<String>,
    /// Instance type or VM size.
    pub instance_type: Option<String>,
    /// Desired (EKS) or current (AKS) node count.
    pub nodes: Option<u32>,
    /// Health issues the cloud reports, `CODE: message` each.
    pub health_issues: Vec<String>,
}

/// A live add-on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AddonReadiness {
    /// Catalogue name (`coredns`, `azure-keyvault-secrets-provider`).
    pub name: String,
    /// Normalised status.
    pub condition: Condition,
    /// The status as the cloud spells it.
    pub status: String,
    /// Installed version, when the cloud reports one.
    pub version: Option<String>,
    /// Health issues the cloud reports, `CODE: message` each.
    pub health_issues: Vec<String>,
}

/// How a workload identity gets cloud credentials.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdentityMechanism {
    /// An IAM role whose trust policy names the cluster's OIDC provider (EKS IRSA).
    #[default]
    Irsa,
    /// An EKS Pod Identity association.
    PodIdentity,
    /// A user-assigned managed identity with a federated credential (AKS workload identity).
    FederatedCredential,
}

/// Whether a declared workload identity resolves in the cloud, and whom it trusts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IdentityReadiness {
    /// The blueprint's workload identity name.
    pub name: String,
    /// How it is wired.
    pub mechanism: IdentityMechanism,
    /// The cloud principal: IAM role ARN, or the managed identity's client id; `None` when it
    /// does not exist.
    pub principal: Option<String>,
    /// OIDC issuer URLs the principal's trust names (IRSA trust policy federated principals,
    /// federated credential issuers); empty for Pod Identity, which trusts the EKS service.
    pub trusted_issuers: Vec<String>,
    /// Service account subjects it trusts (`system:serviceaccount:NS:SA`); for Pod Identity,
    /// the associated service account in the same form.
    pub subjects: Vec<String>,
    /// What is missing or wrong, one sentence each; empty when it resolves.
    pub problems: Vec<String>,
}
