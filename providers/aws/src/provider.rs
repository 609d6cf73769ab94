//! The SDK-backed AWS provider: [`AwsProvider`] performs create/read/update/delete/wait for
//! every kind [`AwsExpander`] produces, with aws-sdk-rust clients per region.
//!
//! Conventions every kind follows:
//! - create first looks for an object this fleet already created for the address (by the
//!   ownership tags, or by the deterministic name where AWS names are unique) and adopts it;
//!   otherwise it creates one, tagged and with a client token where the API takes one. Either
//!   way it then converges the object's attachments, attributes and tags on the desired ones,
//!   so an interrupted create finishes on the next run, with no duplicate.
//! - update converges the same way from the live object, whatever `changed` says.
//! - read returns only the managed properties, in the shape of `resolved`; values AWS does
//!   not return (create-only flags, "default" versions) mirror what was recorded.
//! - delete of a gone object succeeds; deletes blocked by dependents still going away are
//!   retried for a bounded time (see [`session::DEPENDENTS_GRACE`]).
//!
//! It must never call AWS outside a [`Session`], which journals each mutating call's intent
//! first, and it must never send a property the expansion did not produce.

mod ec2;
mod eks;
mod errors;
mod evidence;
mod iam;
mod props;
mod readiness;
mod session;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_ec2::config::{Credentials, ProvideCredentials, Region, SharedHttpClient};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use slipway_blueprints::{Cluster, Fleet};
use slipway_provider::{
    Address, CreateRequest, Created, ErrorClass, EvidenceRequest, Expander, KindSchema, LiveObject,
    OpContext, Properties, Provider, ProviderError, ReadinessEvidence, ReadinessRequest, Resource,
    ResourceState, UpdateRequest, UpgradeEvidence, Value, WaitFor,
};
use tokio::sync::Mutex;

use crate::{AwsExpander, kinds};
use props::Props;
use session::Session;

/// EC2 reads (`Describe*`): 100 tokens, 20/s.
pub const API_EC2_READ: &str = "aws.ec2.read";
/// IAM reads (`Get*`/`List*`); IAM publishes no numbers.
pub const API_IAM_READ: &str = "aws.iam.read";
/// EKS reads (`Describe*`/`List*`); EKS publishes no numbers.
pub const API_EKS_READ: &str = "aws.eks.read";

/// Static credentials, for emulators (which accept any key) and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticCredentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
}

/// How [`AwsProvider`] reaches AWS.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsProviderConfig {
    /// Send every call to this endpoint (an emulator or moto) instead of AWS's.
    pub endpoint_url: Option<String>,
    /// Use this region for every resource instead of the region each resource records.
    pub region_override: Option<String>,
    /// Use these credentials instead of the standard chain (environment, profile, web
    /// identity, ECS and EC2 instance metadata).
    pub static_credentials: Option<StaticCredentials>,
    /// How many times faster than real time the cloud runs: 1.0 for AWS itself, N for an
    /// emulator running N× faster. Waiter intervals and bounds are cloud durations, so the
    /// provider sleeps `interval / clock_scale` of wall time (at least 20 ms per sleep).
    /// Must be finite and positive.
    pub clock_scale: f64,
}

impl Default for AwsProviderConfig {
    fn default() -> Self {
        Self {
            endpoint_url: None,
            region_override: None,
            static_credentials: None,
            clock_scale: 1.0,
        }
    }
}

/// The SDK clients of one region.
pub(crate) struct Clients {
    /// The region.
    pub region: String,
    /// EC2.
    pub ec2: aws_sdk_ec2::Client,
    /// EKS.
    pub eks: aws_sdk_eks::Client,
    /// IAM (global; signed for the region's partition).
    pub iam: aws_sdk_iam::Client,
}

/// Attempts per SDK call (the first included) for throttled and transient errors.
const SDK_MAX_ATTEMPTS: u32 = 4;
/// Base of the SDK's exponential, jittered backoff between attempts of one call.
const SDK_INITIAL_BACKOFF: std::time::Duration = std::time::Duration::from_millis(250);

/// The AWS provider: the expansion of [`AwsExpander`] plus the cloud operations.
pub struct AwsProvider {
    expander: AwsExpander,
    config: AwsProviderConfig,
    http: SharedHttpClient,
    clients: Mutex<HashMap<String, Arc<Clients>>>,
}

impl std::fmt::Debug for AwsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsProvider")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn config_error(message: String) -> ProviderError {
    ProviderError::new(ErrorClass::Fatal, "configure", "InvalidConfig", message)
}

impl AwsProvider {
    /// Builds the provider. Clients are created per region on first use, when credentials
    /// are resolved; missing credentials then fail with [`ErrorClass::Credentials`].
    pub fn new(config: AwsProviderConfig) -> Result<Self, ProviderError> {
        if let Some(url) = &config.endpoint_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(config_error(format!(
                "endpoint url `{url}` must start with http:// or https://"
            )));
        }
        if !(config.clock_scale.is_finite() && config.clock_scale > 0.0) {
            return Err(config_error(format!(
                "the clock scale {} is not a positive number",
                config.clock_scale
            )));
        }
        if config.region_override.as_deref() == Some("") {
            return Err(config_error("the region override is empty".to_owned()));
        }
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        Ok(Self {
            expander: AwsExpander::new(),
            config,
            http,
            clients: Mutex::new(HashMap::new()),
        })
    }

    /// The region a resource's calls go to.
    fn region(&self, props: &Properties, address: &Address) -> Result<String, ProviderError> {
        if let Some(r) = &self.config.region_override {
            return Ok(r.clone());
        }
        Props::new(props, address).str("region").map(str::to_owned)
    }

    /// The clients of `region`, created and checked for credentials on first use.
    async fn clients(&self, region: &str) -> Result<Arc<Clients>, ProviderError> {
        let mut cache = self.clients.lock().await;
        if let Some(c) = cache.get(region) {
            return Ok(c.clone());
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .http_client(self.http.clone())
            // One resource operation makes several calls; without per-call retries a single
            // throttled call would fail (and the engine re-run) the whole operation. The SDK's
            // standard mode retries throttling and transient errors of each call a few times
            // with jittered backoff; the engine retries whole operations on top of that.
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(SDK_MAX_ATTEMPTS)
                    .with_initial_backoff(SDK_INITIAL_BACKOFF),
            );
        if let Some(url) = &self.config.endpoint_url {
            loader = loader.endpoint_url(url.clone());
        }
        if let Some(c) = &self.config.static_credentials {
            loader = loader.credentials_provider(Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.clone(),
                None,
                None,
                "slipway-static",
            ));
        }
        let sdk = loader.load().await;
        let no_credentials = |detail: String| {
            ProviderError::new(
                ErrorClass::Credentials,
                "ResolveCredentials",
                "NoCredentials",
                format!(
                    "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/\
                     AWS_SECRET_ACCESS_KEY, or use --emulator ({detail})"
                ),
            )
        };
        let provider = sdk
            .credentials_provider()
            .ok_or_else(|| no_credentials("no credential provider configured".to_owned()))?;
        provider
            .provide_credentials()
            .await
            .map_err(|e| no_credentials(aws_sdk_ec2::error::DisplayErrorContext(&e).to_string()))?;
        let clients = Arc::new(Clients {
            region: region.to_owned(),
            ec2: aws_sdk_ec2::Client::new(&sdk),
            eks: aws_sdk_eks::Client::new(&sdk),
            iam: aws_sdk_iam::Client::new(&sdk),
        });
        cache.insert(region.to_owned(), clients.clone());
        Ok(clients)
    }

    async fn clients_for(
        &self,
        props: &Properties,
        address: &Address,
    ) -> Result<Arc<Clients>, ProviderError> {
        let region = self.region(props, address)?;
        self.clients(&region).await.map_err(|e| e.at(address))
    }
}

fn unknown_kind(address: &Address) -> ProviderError {
    ProviderError::new(
        ErrorClass::Fatal,
        "dispatch",
        "UnknownKind",
        format!("the aws provider has no kind `{}`", address.kind),
    )
    .at(address)
}

/// The recorded cloud id, which every operation on an existing object needs.
fn cloud_id<'s>(s: &Session<'_>, st: &'s ResourceState) -> Result<&'s str, ProviderError> {
    st.cloud_id.as_deref().ok_or_else(|| {
        s.error(
            ErrorClass::Fatal,
            "lookup",
            "NoCloudId",
            "the recorded object has no cloud id",
        )
    })
}

impl Expander for AwsProvider {
    fn name(&self) -> &'static str {
        self.expander.name()
    }

    fn kinds(&self) -> &[KindSchema] {
        self.expander.kinds()
    }

    fn expand(&self, fleet: &Fleet, cluster: &Cluster) -> Result<Vec<Resource>, ProviderError> {
        self.expander.expand(fleet, cluster)
    }

    fn upgrade_phase(
        &self,
        kind: &slipway_provider::Kind,
    ) -> Option<slipway_provider::UpgradePhase> {
        self.expander.upgrade_phase(kind)
    }

    fn build_phase(&self, kind: &slipway_provider::Kind) -> slipway_provider::BuildPhase {
        self.expander.build_phase(kind)
    }
}

#[async_trait]
impl Provider for AwsProvider {
    async fn create(
        &self,
        ctx: &OpContext,
        req: CreateRequest<'_>,
    ) -> Result<Created, ProviderError> {
        let c = self.clients_for(req.properties, req.address).await?;
        let s = Session::paced(ctx, req.address, self.config.clock_scale);
        let p = Props::new(req.properties, req.address);
        let generation = props::generation(req.address, req.properties, req.replacing);
        let old = req.replacing.and_then(|r| r.cloud_id.as_deref());
        let c = &*c;
        match req.address.kind.as_str() {
            kinds::VPC => ec2::vpc::create(c, &s, p, old).await,
            kinds::SUBNET => ec2::subnet::create(c, &s, p, old).await,
            kinds::INTERNET_GATEWAY => ec2::igw::create(c, &s, p, old).await,
            kinds::EIP => ec2::eip::create(c, &s, p, old).await,
            kinds::NAT_GATEWAY => ec2::nat::create(c, &s, p, old, &generation).await,
            kinds::ROUTE_TABLE => ec2::route_table::create(c, &s, p, old, &generation).await,
            kinds::SECURITY_GROUP => ec2::sg::create(c, &s, p, old).await,
            kinds::VPC_ENDPOINT => ec2::endpoint::create(c, &s, p, old, &generation).await,
            kinds::IAM_ROLE => iam::role::create(c, &s, p).await,
            kinds::IAM_OIDC_PROVIDER => iam::oidc::create(c, &s, p).await,
            kinds::EKS_CLUSTER => eks::cluster::create(c, &s, p, &generation).await,
            kinds::EKS_NODEGROUP => {
                eks::nodegroup::create(c, &s, p, req.replacing, &generation).await
            }
            kinds::EKS_ADDON => eks::addon::create(c, &s, p, &generation).await,
            kinds::EKS_POD_IDENTITY_ASSOCIATION => {
                eks::pod_identity::create(c, &s, p, old, &generation).await
            }
            kinds::EKS_ACCESS_ENTRY => eks::access_entry::create(c, &s, p, &generation).await,
            _ => Err(unknown_kind(req.address)),
        }
    }

    async fn read(
        &self,
        ctx: &OpContext,
        state: &ResourceState,
    ) -> Result<Option<LiveObject>, ProviderError> {
        let c = self.clients_for(&state.resolved, &state.address).await?;
        let s = Session::unpaced(ctx, &state.address, self.config.clock_scale);
        let id = cloud_id(&s, state)?;
        let c = &*c;
        let live = match state.address.kind.as_str() {
            kinds::VPC => ec2::vpc::read(c, &s, id).await?,
            kinds::SUBNET => ec2::subnet::read(c, &s, id).await?,
            kinds::INTERNET_GATEWAY => ec2::igw::read(c, &s, id).await?,
            kinds::EIP => ec2::eip::read(c, &s, id).await?,
            kinds::NAT_GATEWAY => ec2::nat::read(c, &s, id).await?,
            kinds::ROUTE_TABLE => ec2::route_table::read(c, &s, id).await?,
            kinds::SECURITY_GROUP => ec2::sg::read(c, &s, id, state).await?,
            kinds::VPC_ENDPOINT => ec2::endpoint::read(c, &s, id).await?,
            kinds::IAM_ROLE => iam::role::read(c, &s, id, state).await?,
            kinds::IAM_OIDC_PROVIDER => iam::oidc::read(c, &s, id, state).await?,
            kinds::EKS_CLUSTER => eks::cluster::read(c, &s, id, state).await?,
            kinds::EKS_NODEGROUP => eks::nodegroup::read(c, &s, id, state).await?,
            kinds::EKS_ADDON => eks::addon::read(c, &s, id, state).await?,
            kinds::EKS_POD_IDENTITY_ASSOCIATION => eks::pod_identity::read(c, &s, id).await?,
            kinds::EKS_ACCESS_ENTRY => eks::access_entry::read(c, &s, id).await?,
            _ => return Err(unknown_kind(&state.address)),
        };
        Ok(live.map(|mut live| {
            props::align_lists(&mut live.properties, &state.resolved);
            live.properties
                .insert("region".to_owned(), c.region.as_str().into());
            if self.config.region_override.is_some()
                && let Some(recorded) = state.resolved.get("region")
            {
                // Every call went to the override region: report the recorded one so an
                // emulator run does not plan to move everything.
                live.properties
                    .insert("region".to_owned(), recorded.clone());
            }
            live
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        req: UpdateRequest<'_>,
    ) -> Result<Created, ProviderError> {
        let c = self.clients_for(req.properties, req.address).await?;
        let s = Session::paced(ctx, req.address, self.config.clock_scale);
        let p = Props::new(req.properties, req.address);
        let id = cloud_id(&s, req.prior)?;
        let c = &*c;
        match req.address.kind.as_str() {
            kinds::VPC => ec2::vpc::converge(c, &s, p, id).await,
            kinds::SUBNET => ec2::subnet::converge(c, &s, p, id).await,
            kinds::INTERNET_GATEWAY => ec2::igw::converge(c, &s, p, id).await,
            kinds::EIP => ec2::eip::converge(c, &s, p, id).await,
            kinds::NAT_GATEWAY => ec2::nat::converge(c, &s, p, id).await,
            kinds::ROUTE_TABLE => ec2::route_table::converge(c, &s, p, id).await,
            kinds::SECURITY_GROUP => ec2::sg::converge(c, &s, p, id).await,
            kinds::VPC_ENDPOINT => ec2::endpoint::converge(c, &s, p, id).await,
            kinds::IAM_ROLE => iam::role::converge(c, &s, p).await,
            kinds::IAM_OIDC_PROVIDER => iam::oidc::converge(c, &s, p, id).await,
            kinds::EKS_CLUSTER => eks::cluster::update(c, &s, p, id).await,
            kinds::EKS_NODEGROUP => eks::nodegroup::update(c, &s, p, id).await,
            kinds::EKS_ADDON => eks::addon::update(c, &s, p, id, req.prior).await,
            kinds::EKS_POD_IDENTITY_ASSOCIATION => eks::pod_identity::update(c, &s, p, id).await,
            kinds::EKS_ACCESS_ENTRY => eks::access_entry::converge(c, &s, p, id).await,
            _ => Err(unknown_kind(req.address)),
        }
    }

    async fn delete(&self, ctx: &OpContext, state: &ResourceState) -> Result<(), ProviderError> {
        let c = self.clients_for(&state.resolved, &state.address).await?;
        let s = Session::paced(ctx, &state.address, self.config.clock_scale);
        let Some(id) = state.cloud_id.as_deref() else {
            return Ok(());
        };
        let c = &*c;
        match state.address.kind.as_str() {
            kinds::VPC => ec2::vpc::delete(c, &s, id).await,
            kinds::SUBNET => ec2::subnet::delete(c, &s, id).await,
            kinds::INTERNET_GATEWAY => ec2::igw::delete(c, &s, id).await,
            kinds::EIP => ec2::eip::delete(c, &s, id).await,
            kinds::NAT_GATEWAY => ec2::nat::delete(c, &s, id).await,
            kinds::ROUTE_TABLE => ec2::route_table::delete(c, &s, id).await,
            kinds::SECURITY_GROUP => ec2::sg::delete(c, &s, id).await,
            kinds::VPC_ENDPOINT => ec2::endpoint::delete(c, &s, id).await,
            kinds::IAM_ROLE => iam::role::delete(c, &s, id).await,
            kinds::IAM_OIDC_PROVIDER => iam::oidc::delete(c, &s, id).await,
            kinds::EKS_CLUSTER => eks::cluster::delete(c, &s, id).await,
            kinds::EKS_NODEGROUP => eks::nodegroup::delete(c, &s, id).await,
            kinds::EKS_ADDON => eks::addon::delete(c, &s, id).await,
            kinds::EKS_POD_IDENTITY_ASSOCIATION => eks::pod_identity::delete(c, &s, id).await,
            kinds::EKS_ACCESS_ENTRY => eks::access_entry::delete(c, &s, id).await,
            _ => Err(unknown_kind(&state.address)),
        }
    }

    async fn wait(
        &self,
        ctx: &OpContext,
        state: &ResourceState,
        until: WaitFor,
    ) -> Result<Properties, ProviderError> {
        let c = self.clients_for(&state.resolved, &state.address).await?;
        let s = Session::unpaced(ctx, &state.address, self.config.clock_scale);
        let Some(id) = state.cloud_id.as_deref() else {
            return Ok(Properties::new());
        };
        let c = &*c;
        match (state.address.kind.as_str(), until) {
            (kinds::VPC, WaitFor::Ready) => ec2::vpc::wait_ready(c, &s, id).await,
            (kinds::SUBNET, WaitFor::Ready) => ec2::subnet::wait_ready(c, &s, id).await,
            (kinds::NAT_GATEWAY, WaitFor::Ready) => ec2::nat::wait_ready(c, &s, id).await,
            (kinds::NAT_GATEWAY, WaitFor::Deleted) => ec2::nat::wait_deleted(c, &s, id).await,
            (kinds::VPC_ENDPOINT, WaitFor::Ready) => ec2::endpoint::wait_ready(c, &s, id).await,
            (kinds::VPC_ENDPOINT, WaitFor::Deleted) => ec2::endpoint::wait_deleted(c, &s, id).await,
            (kinds::IAM_ROLE, WaitFor::Ready) => iam::role::wait_ready(c, &s, id).await,
            (kinds::EKS_CLUSTER, WaitFor::Ready) => eks::cluster::wait_ready(c, &s, id).await,
            (kinds::EKS_CLUSTER, WaitFor::Deleted) => eks::cluster::wait_deleted(c, &s, id).await,
            (kinds::EKS_NODEGROUP, WaitFor::Ready) => eks::nodegroup::wait_ready(c, &s, id).await,
            (kinds::EKS_NODEGROUP, WaitFor::Deleted) => {
                eks::nodegroup::wait_deleted(c, &s, id).await
            }
            (kinds::EKS_ADDON, WaitFor::Ready) => eks::addon::wait_ready(c, &s, id).await,
            (kinds::EKS_ADDON, WaitFor::Deleted) => eks::addon::wait_deleted(c, &s, id).await,
            // Everything else is ready when its create returns and gone when its delete
            // returns; a read confirms it still exists and yields its outputs.
            (_, WaitFor::Ready) => match self.read(ctx, state).await? {
                Some(live) => Ok(live.outputs),
                None => Err(s.error(
                    ErrorClass::NotFound,
                    "wait",
                    "NotFound",
                    "the object disappeared after it was created",
                )),
            },
            (_, WaitFor::Deleted) => Ok(Properties::new()),
        }
    }

    async fn upgrade_evidence(
        &self,
        ctx: &OpContext,
        req: EvidenceRequest<'_>,
    ) -> Result<UpgradeEvidence, ProviderError> {
        let resources = self.expander.expand(req.fleet, req.cluster)?;
        let expanded = resources
            .iter()
            .find(|r| r.address.kind.as_str() == kinds::EKS_CLUSTER)
            .ok_or_else(|| {
                ProviderError::new(
                    ErrorClass::Fatal,
                    "UpgradeEvidence",
                    "NoCluster",
                    format!("cluster `{}` expands to no EKS cluster", req.cluster.name),
                )
            })?;
        // What state recorded wins: the object may have been built under an older naming.
        let recorded = req
            .recorded
            .iter()
            .find(|st| st.address.kind.as_str() == kinds::EKS_CLUSTER);
        let props = recorded.map_or(&expanded.properties, |st| &st.resolved);
        let name = recorded
            .and_then(|st| st.cloud_id.as_deref())
            .or_else(|| match expanded.properties.get("name") {
                Some(Value::String(n)) => Some(n.as_str()),
                _ => None,
            })
            .unwrap_or(req.cluster.name.as_str());
        let address = recorded.map_or(&expanded.address, |st| &st.address);
        let c = self.clients_for(props, address).await?;
        let s = Session::unpaced(ctx, address, self.config.clock_scale);
        let declared_addons = resources
            .iter()
            .filter(|r| r.address.kind.as_str() == kinds::EKS_ADDON)
            .filter_map(|r| match r.properties.get("addon_name") {
                Some(Value::String(n)) => Some(n.clone()),
                _ => None,
            })
            .collect();
        let subject = evidence::Subject {
            name,
            target: req.target.to_string(),
            declared_addons,
        };
        evidence::gather(&c, &s, &subject).await
    }

    async fn readiness_evidence(
        &self,
        ctx: &OpContext,
        req: ReadinessRequest<'_>,
    ) -> Result<ReadinessEvidence, ProviderError> {
        let resources = self.expander.expand(req.fleet, req.cluster)?;
        let expanded = resources
            .iter()
            .find(|r| r.address.kind.as_str() == kinds::EKS_CLUSTER)
            .ok_or_else(|| {
                ProviderError::new(
                    ErrorClass::Fatal,
                    "ReadinessEvidence",
                    "NoCluster",
                    format!("cluster `{}` expands to no EKS cluster", req.cluster.name),
                )
            })?;
        // What state recorded wins: objects may have been built under an older naming.
        let recorded = |address: &Address| {
            req.recorded
                .iter()
                .find(|st| &st.address == address && st.deposed.is_none())
        };
        let cluster_state = recorded(&expanded.address);
        let props = cluster_state.map_or(&expanded.properties, |st| &st.resolved);
        let name = |r: &Resource, key: &str| {
            recorded(&r.address)
                .and_then(|st| st.cloud_id.clone())
                .or_else(|| match r.properties.get(key) {
                    Some(Value::String(n)) => Some(n.clone()),
                    _ => None,
                })
        };
        let cluster_name = name(expanded, "name").unwrap_or_else(|| req.cluster.name.clone());
        let identities = req
            .cluster
            .workload_identities
            .iter()
            .map(|wi| {
                let address = Address::new(
                    &req.cluster.name,
                    kinds::IAM_ROLE,
                    format!("wi-{}", wi.name),
                );
                let role_name = resources
                    .iter()
                    .find(|r| r.address == address)
                    .and_then(|r| name(r, "name"))
                    .unwrap_or_else(|| {
                        crate::names::iam_role(
                            &req.fleet.name,
                            &req.cluster.name,
                            &format!("wi-{}", wi.name),
                        )
                    });
                readiness::IdentitySubject {
                    name: wi.name.clone(),
                    namespace: wi.namespace.clone(),
                    service_account: wi.service_account.clone(),
                    role_name,
                }
            })
            .collect();
        let pod_identity = resources
            .iter()
            .any(|r| r.address.kind.as_str() == kinds::EKS_POD_IDENTITY_ASSOCIATION)
            || req.cluster.aws.as_ref().is_some_and(|a| {
                a.workload_identity == slipway_blueprints::AwsWorkloadIdentityMode::PodIdentity
            });
        let address = cluster_state.map_or(&expanded.address, |st| &st.address);
        let c = self.clients_for(props, address).await?;
        let s = Session::unpaced(ctx, address, self.config.clock_scale);
        let subject = readiness::Subject {
            name: cluster_name,
            pod_identity,
            identities,
        };
        readiness::gather(&c, &s, &subject).await
    }
}
