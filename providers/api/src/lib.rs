//! The provider API: the contract between the engine and cloud providers.
//!
//! A provider expands one blueprint cluster into [`Resource`]s, declares per kind which
//! properties update in place and which force replacement ([`KindSchema`]), and performs
//! create/read/update/delete/wait on the cloud. This crate holds no SDK and performs no I/O:
//! it is the small trait crate that keeps the engine independent of AWS and Azure.

mod address;
pub mod clock;
mod error;
mod evidence;
mod provider;
mod readiness;
mod value;

pub use address::{Address, AddressParseError, Kind};
pub use error::{ErrorClass, ProviderError};
pub use evidence::{
    AddonEvidence, EvidenceRequest, Insight, InsightClient, InsightDeprecation, InsightStatus,
    LiveCluster, LiveNodePool, UpgradeEvidence,
};
pub use provider::{
    ApiClass, BuildPhase, CreateRequest, Created, Expander, IntentSink, KindSchema, LiveObject,
    NoPacing, OpContext, Pacer, Provider, Resource, ResourceState, ResourceStatus, UpdateRequest,
    UpgradePhase, WaitFor,
};
pub use readiness::{
    AddonReadiness, Condition, ControlPlaneReadiness, IdentityMechanism, IdentityReadiness,
    NodePoolReadiness, ReadinessEvidence, ReadinessRequest,
};
pub use value::{OutputRef, Properties, Value};

/// Tag key carrying the fleet name on every object Slipway creates.
pub const TAG_FLEET: &str = "slipway:fleet";
/// Tag key carrying the resource address on every object Slipway creates.
pub const TAG_ADDRESS: &str = "slipway:address";
/// Tag key carrying the cluster name on every object Slipway creates.
pub const TAG_CLUSTER: &str = "slipway:cluster";
