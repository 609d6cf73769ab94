//! The provider trait and the types that cross it.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use slipway_blueprints::{Cluster, Fleet};

use crate::{
    Address, EvidenceRequest, Kind, Properties, ProviderError, ReadinessEvidence, ReadinessRequest,
    UpgradeEvidence,
};

/// One desired cloud object produced by expanding a blueprint cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// Where it lives in the fleet; its kind is `address.kind`.
    pub address: Address,
    /// Desired properties; may contain references to other resources' outputs.
    pub properties: Properties,
    /// Explicit ordering dependencies beyond those implied by references.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Address>,
}

/// A rate-limit class shared by calls that draw from one cloud token bucket,
/// e.g. `aws.ec2.mutating`, `aws.eks`, `azure.arm.write`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiClass(pub String);

impl ApiClass {
    /// Builds an API class from its name.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }
}

/// What a provider declares about one resource kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindSchema {
    /// The kind this describes.
    pub kind: Kind,
    /// Properties whose change forces replacing the object; all others update in place.
    pub replace_on: Vec<String>,
    /// Whether the replacement is created before the old object is deleted (node pools),
    /// rather than deleted first (objects whose names or addresses must be unique).
    pub create_before_destroy: bool,
    /// Properties (dotted paths) sent on create and never diffed afterwards: values another
    /// actor owns once the object exists (an autoscaler's node count) or that another resource
    /// manages (the system pool AKS requires inline in a cluster's create body).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_changes: Vec<String>,
    /// The token bucket mutating calls for this kind draw from.
    pub api: ApiClass,
    /// Outputs the kind produces once it exists, e.g. `id`, `arn`.
    pub outputs: Vec<String>,
}

/// Lifecycle of a recorded object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceStatus {
    /// The cloud accepted the create or update; it is not ready yet (a wait is due).
    Pending,
    /// The object exists and is ready.
    Ready,
    /// A create or update failed part-way; the object must be replaced.
    Tainted,
    /// A delete was accepted; the object is going away (a wait is due).
    Deleting,
}

/// What the state store records for one cloud object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceState {
    /// The object's address.
    pub address: Address,
    /// Set on an old object kept while its create-before-destroy replacement takes over;
    /// the engine deletes deposed objects once the replacement is ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deposed: Option<String>,
    /// The cloud's id (ARN, resource id, name), once known.
    pub cloud_id: Option<String>,
    /// The desired properties it was created or updated from, references kept symbolic.
    pub properties: Properties,
    /// The same properties with references resolved, as sent to the cloud.
    pub resolved: Properties,
    /// Outputs the cloud returned.
    pub outputs: Properties,
    /// Dependencies at the time of the last operation, so deletes can run in reverse order
    /// even after the resource left the blueprint.
    pub depends_on: Vec<Address>,
    /// Lifecycle status.
    pub status: ResourceStatus,
}

/// A create call: the desired object with references resolved.
#[derive(Debug, Clone, Copy)]
pub struct CreateRequest<'a> {
    /// The object's address.
    pub address: &'a Address,
    /// Desired properties with references resolved.
    pub properties: &'a Properties,
    /// When this create replaces an existing object (create-before-destroy), that object;
    /// the provider must choose a physical name that does not collide with it.
    pub replacing: Option<&'a ResourceState>,
}

/// An in-place update call.
#[derive(Debug, Clone, Copy)]
pub struct UpdateRequest<'a> {
    /// The object's address.
    pub address: &'a Address,
    /// Desired properties with references resolved.
    pub properties: &'a Properties,
    /// What state recorded before this update.
    pub prior: &'a ResourceState,
    /// Names of the properties that changed.
    pub changed: &'a [String],
}

/// The cloud's answer to a create or update.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Created {
    /// The cloud id of the object.
    pub cloud_id: String,
    /// Outputs known now (more may arrive from [`Provider::wait`]).
    pub outputs: Properties,
    /// Whether the object is already ready; otherwise the engine records it as pending and
    /// calls [`Provider::wait`] with [`WaitFor::Ready`].
    pub ready: bool,
}

/// The condition [`Provider::wait`] waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    /// Created or updated and usable (EKS `ACTIVE`, ARM `Succeeded`).
    Ready,
    /// Gone.
    Deleted,
}

/// What the cloud says an object looks like now.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LiveObject {
    /// The cloud id.
    pub cloud_id: String,
    /// Live values of the properties Slipway manages, in the same shape as `resolved`.
    pub properties: Properties,
    /// Live outputs.
    pub outputs: Properties,
}

/// Paces calls to a cloud API so the walk stays under its rate limits.
#[async_trait]
pub trait Pacer: Send + Sync {
    /// Waits until a call of class `api` may be sent.
    async fn acquire(&self, api: &ApiClass);
}

/// A pacer that never waits.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoPacing;

#[async_trait]
impl Pacer for NoPacing {
    async fn acquire(&self, _api: &ApiClass) {}
}

/// Where a provider records intents before mutating calls and reports progress.
#[async_trait]
pub trait IntentSink: Send + Sync {
    /// Journals that `operation` is about to be sent for `address`. The call must not be sent
    /// if this fails.
    async fn intent(
        &self,
        address: &Address,
        operation: &str,
        detail: serde_json::Value,
    ) -> Result<(), ProviderError>;

    /// Reports progress of a long operation, e.g. "CREATING for 4m".
    fn progress(&self, address: &Address, message: &str);
}

/// Context handed to every provider call.
#[derive(Clone)]
pub struct OpContext {
    /// The fleet name, for ownership tags.
    pub fleet: String,
    /// The run performing the call, for client tokens and the journal.
    pub run_id: String,
    /// Rate pacing.
    pub pacer: Arc<dyn Pacer>,
    /// Intent journal and progress.
    pub sink: Arc<dyn IntentSink>,
}

impl OpContext {
    /// Journals an intent; see [`IntentSink::intent`].
    pub async fn intent(
        &self,
        address: &Address,
        operation: &str,
        detail: serde_json::Value,
    ) -> Result<(), ProviderError> {
        self.sink.intent(address, operation, detail).await
    }

    /// Waits for a token of `api`.
    pub async fn pace(&self, api: &ApiClass) {
        self.pacer.acquire(api).await;
    }

    /// Reports progress.
    pub fn progress(&self, address: &Address, message: &str) {
        self.sink.progress(address, message);
    }
}

/// The pure half of a provider: what a blueprint cluster becomes. Planning and graphing need
/// only this; no credentials, no network.
pub trait Expander: Send + Sync {
    /// The provider name as written in blueprints: `aws`, `azure`.
    fn name(&self) -> &'static str;

    /// Schemas of every kind this provider expands to.
    fn kinds(&self) -> &[KindSchema];

    /// The schema of one kind.
    fn kind(&self, kind: &Kind) -> Option<&KindSchema> {
        self.kinds().iter().find(|k| &k.kind == kind)
    }

    /// Expands one cluster of the fleet into resources. Pure: same input, same output.
    fn expand(&self, fleet: &Fleet, cluster: &Cluster) -> Result<Vec<Resource>, ProviderError>;

    /// The step of a Kubernetes minor upgrade that changes objects of this kind, or `None` for
    /// kinds an upgrade must not touch (networks, identities): an upgrade hop applies control
    /// planes, then add-ons, then node pools, and refuses to carry unrelated changes along.
    fn upgrade_phase(&self, _kind: &Kind) -> Option<UpgradePhase> {
        None
    }

    /// Which part of a cluster objects of this kind belong to, for the per-phase timings of
    /// builds and DR drills.
    fn build_phase(&self, _kind: &Kind) -> BuildPhase {
        BuildPhase::Other
    }
}

/// The parts of a cluster build whose durations a DR drill reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BuildPhase {
    /// VPC/VNet, subnets, gateways, route tables, security groups, resource groups.
    Network,
    /// IAM roles, OIDC providers, managed identities, federated credentials, role assignments,
    /// Pod Identity associations, access entries.
    Identity,
    /// The Kubernetes control plane.
    ControlPlane,
    /// Node pools.
    NodePools,
    /// Add-ons.
    Addons,
    /// Private endpoints and their DNS.
    Endpoints,
    /// Anything else.
    Other,
}

impl BuildPhase {
    /// Every phase, in the order a build usually reaches them.
    pub const ALL: [BuildPhase; 7] = [
        BuildPhase::Network,
        BuildPhase::Identity,
        BuildPhase::ControlPlane,
        BuildPhase::NodePools,
        BuildPhase::Addons,
        BuildPhase::Endpoints,
        BuildPhase::Other,
    ];

    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            BuildPhase::Network => "network",
            BuildPhase::Identity => "identity",
            BuildPhase::ControlPlane => "control-plane",
            BuildPhase::NodePools => "node-pools",
            BuildPhase::Addons => "add-ons",
            BuildPhase::Endpoints => "endpoints",
            BuildPhase::Other => "other",
        }
    }
}

/// The steps of one upgrade hop that change cloud objects, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpgradePhase {
    /// The Kubernetes control plane (EKS cluster, AKS managed cluster).
    ControlPlane,
    /// Add-ons moved to versions compatible with the new minor.
    Addons,
    /// Node pools rolled to the new minor (surge and max-unavailable settings apply).
    NodePools,
}

/// A cloud provider: an [`Expander`] that also operates on cloud objects.
///
/// Every object a provider creates carries the ownership tags ([`crate::TAG_FLEET`],
/// [`crate::TAG_ADDRESS`]) and uses the cloud's idempotency token where one exists, so that a
/// create interrupted after the cloud accepted it is adopted by the next `create`, never
/// duplicated.
#[async_trait]
pub trait Provider: Expander {
    /// Creates an object, or adopts the one an interrupted earlier create left behind.
    async fn create(
        &self,
        ctx: &OpContext,
        req: CreateRequest<'_>,
    ) -> Result<Created, ProviderError>;

    /// Reads the live object; `None` when it no longer exists.
    async fn read(
        &self,
        ctx: &OpContext,
        state: &ResourceState,
    ) -> Result<Option<LiveObject>, ProviderError>;

    /// Updates an object in place.
    async fn update(
        &self,
        ctx: &OpContext,
        req: UpdateRequest<'_>,
    ) -> Result<Created, ProviderError>;

    /// Starts deleting an object. Deleting an object that is already gone succeeds.
    async fn delete(&self, ctx: &OpContext, state: &ResourceState) -> Result<(), ProviderError>;

    /// Waits, with the semantics of the cloud SDK's waiters, until the object is ready (returning
    /// its outputs) or gone (returning no outputs).
    async fn wait(
        &self,
        ctx: &OpContext,
        state: &ResourceState,
        until: WaitFor,
    ) -> Result<Properties, ProviderError>;

    /// Reads what the cloud says about moving a cluster to `req.target`: live versions, node
    /// images, add-on versions offered for the target, the cloud's upgrade checks. Read-only.
    /// A cluster missing from the cloud is not an error: `live` is `None`.
    async fn upgrade_evidence(
        &self,
        ctx: &OpContext,
        req: EvidenceRequest<'_>,
    ) -> Result<UpgradeEvidence, ProviderError>;

    /// Reads whether a cluster is ready to take traffic: control plane, node pools, add-ons and
    /// whether its workload identities resolve and whom they trust. Read-only. A cluster
    /// missing from the cloud is not an error: `control_plane` is `None`.
    async fn readiness_evidence(
        &self,
        _ctx: &OpContext,
        _req: ReadinessRequest<'_>,
    ) -> Result<ReadinessEvidence, ProviderError> {
        Err(ProviderError::new(
            crate::ErrorClass::Fatal,
            "ReadinessEvidence",
            "Unsupported",
            format!("provider `{}` cannot read readiness evidence", self.name()),
        ))
    }
}
