//! The ARM-backed Azure provider: [`AzureProvider`] performs create/read/update/delete/wait for
//! every kind [`AzureExpander`] produces, over azure_core's pipeline (see [`ArmClient`]).
//!
//! Conventions every kind follows:
//! - ARM ids are deterministic, so create first GETs the id: an object carrying this address in
//!   its `slipway:address` tag is adopted (and converged with a PUT); a taggable object without
//!   it is never taken over (a conflict). Untaggable kinds (subnets, federated credentials, role
//!   assignments, agent pools' parents) are children of owned objects or carry derived names.
//! - every PUT/DELETE is journaled first ([`OpContext::intent`]), paced, checked against the
//!   kind's typed model, and followed to the end of its long-running operation, reporting
//!   progress; create and update therefore return ready objects. An object found still
//!   provisioning (an interrupted run) is returned not ready, and `wait` polls its
//!   `provisioningState`.
//! - read returns the live body projected onto the shape of `resolved`; `id`, `api_version` and
//!   the extra properties mirror what was recorded.
//! - deleting a gone object succeeds; conflicts (another operation in progress, subnets in use)
//!   are retried for a bounded time ([`CONFLICT_GRACE`]).
//!
//! It must never send a field the expansion did not produce, except what ARM requires to keep
//! (a VNet's live subnets, a cluster's live agent pool profiles, an autoscaled pool's count).

mod arm;
mod credential;
mod errors;
mod evidence;
mod models;
mod readiness;
mod transport;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use azure_core::http::{Transport, Url};
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use slipway_blueprints::{Cluster, Fleet};
use slipway_provider::{
    Address, ApiClass, CreateRequest, Created, ErrorClass, EvidenceRequest, Expander, KindSchema,
    LiveObject, OpContext, Properties, Provider, ProviderError, ReadinessEvidence,
    ReadinessRequest, Resource, ResourceState, TAG_ADDRESS, UpdateRequest, UpgradeEvidence, Value,
    WaitFor,
};
use tokio::sync::OnceCell;
use tokio::time::Instant;

pub use arm::{ArmClient, ArmMethod, ArmResponse};

use crate::AzureExpander;
use crate::kinds::{
    self, API_ARM_READ, API_ARM_WRITE, API_AUTHORIZATION, API_CONTAINER_SERVICE, API_NETWORK,
};
use arm::{elapsed_text, is_terminal, provisioning_state};
use credential::{ARM_SCOPE, Chain, StaticToken, process_env};
use slipway_provider::clock::{cloud_time, wall_bound, wall_sleep};

/// How [`AzureProvider`] authenticates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AzureCredentialChoice {
    /// The default chain: client secret (`AZURE_TENANT_ID`/`AZURE_CLIENT_ID`/
    /// `AZURE_CLIENT_SECRET`), workload identity (`AZURE_FEDERATED_TOKEN_FILE`), managed identity
    /// (only on managed-identity hosts, or with `AZURE_CLIENT_ID` and
    /// `SLIPWAY_AZURE_MANAGED_IDENTITY=1`), then the Azure CLI.
    #[default]
    Default,
    /// A fixed bearer token, for the emulator (which accepts any token) and tests.
    Static(String),
}

/// How [`AzureProvider`] reaches ARM.
#[derive(Debug, Clone, PartialEq)]
pub struct AzureProviderConfig {
    /// Send every call to this plain-http loopback endpoint (the emulator) instead of
    /// `https://management.azure.com`.
    pub endpoint_url: Option<String>,
    /// The credential.
    pub credential: AzureCredentialChoice,
    /// How many times faster than real time the cloud runs: 1.0 for Azure itself, N for an
    /// emulator running N× faster. Poll intervals, wait bounds and a long-running
    /// operation's `Retry-After` are cloud durations, so the provider sleeps
    /// `interval / clock_scale` of wall time (at least 20 ms per sleep); a throttled call's
    /// `Retry-After` (429) is honoured as sent. Must be finite and positive.
    pub clock_scale: f64,
}

impl Default for AzureProviderConfig {
    fn default() -> Self {
        Self {
            endpoint_url: None,
            credential: AzureCredentialChoice::Default,
            clock_scale: 1.0,
        }
    }
}

/// How long calls blocked by conflicts (another operation in progress, an address space or
/// subnet still in use, an identity not yet replicated) are retried before the error is
/// reported: dependents deleted by the same walk take minutes to release what they used.
pub const CONFLICT_GRACE: Duration = Duration::from_secs(600);

/// How long `wait` polls an object left provisioning or deleting by an earlier run.
const WAIT_LIMIT: Duration = Duration::from_secs(90 * 60);

/// The Azure provider: the expansion of [`AzureExpander`] plus the ARM operations.
pub struct AzureProvider {
    expander: AzureExpander,
    arm: ArmClient,
    credential: Arc<dyn TokenCredential>,
    credentials_checked: OnceCell<()>,
    conflict_grace: Duration,
}

impl std::fmt::Debug for AzureProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureProvider").finish_non_exhaustive()
    }
}

impl AzureProvider {
    /// Builds the provider. Credentials are checked on first use; missing ones then fail with
    /// [`ErrorClass::Credentials`].
    pub fn new(config: AzureProviderConfig) -> Result<Self, ProviderError> {
        if !(config.clock_scale.is_finite() && config.clock_scale > 0.0) {
            return Err(ProviderError::new(
                ErrorClass::Fatal,
                "configure",
                "InvalidConfig",
                format!(
                    "the clock scale {} is not a positive number",
                    config.clock_scale
                ),
            ));
        }
        let (transport, loopback) = match &config.endpoint_url {
            Some(url) => {
                let loopback = transport::Loopback::new(url)?;
                (Transport::new(Arc::new(loopback)), Url::parse(url).ok())
            }
            None => (Transport::new(Arc::new(transport::https_client()?)), None),
        };
        let credential: Arc<dyn TokenCredential> = match &config.credential {
            AzureCredentialChoice::Static(token) => Arc::new(StaticToken(token.clone())),
            AzureCredentialChoice::Default => Arc::new(Chain::from_env(&process_env, &transport)),
        };
        Ok(Self {
            expander: AzureExpander::new(),
            arm: ArmClient::new(transport, credential.clone(), loopback)
                .with_clock_scale(config.clock_scale),
            credential,
            credentials_checked: OnceCell::new(),
            conflict_grace: CONFLICT_GRACE,
        })
    }

    /// The same provider with other polling and conflict bounds (cloud durations, divided by
    /// the clock scale like the defaults).
    pub fn with_bounds(
        mut self,
        lro_limit: Duration,
        first_poll: Duration,
        conflict_grace: Duration,
    ) -> Self {
        self.arm = self.arm.with_polling(lro_limit, first_poll);
        self.conflict_grace = conflict_grace;
        self
    }

    /// The ARM client the provider sends through.
    pub fn arm(&self) -> &ArmClient {
        &self.arm
    }

    /// Gets a token once, so missing credentials fail early and clearly.
    async fn check_credentials(&self, address: &Address) -> Result<(), ProviderError> {
        self.credentials_checked
            .get_or_try_init(|| async {
                self.credential
                    .get_token(&[ARM_SCOPE], None)
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        ProviderError::new(
                            ErrorClass::Credentials,
                            "GetToken",
                            "NoCredentials",
                            e.to_string(),
                        )
                    })
            })
            .await
            .map(|_| ())
            .map_err(|e| e.at(address))
    }
}

impl Expander for AzureProvider {
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

/// One provider call on one resource: pacing, journaling and error attribution.
struct Session<'a> {
    p: &'a AzureProvider,
    ctx: &'a OpContext,
    address: &'a Address,
    engine_token: AtomicBool,
}

impl<'a> Session<'a> {
    fn new(p: &'a AzureProvider, ctx: &'a OpContext, address: &'a Address, paced: bool) -> Self {
        Self {
            p,
            ctx,
            address,
            engine_token: AtomicBool::new(paced),
        }
    }

    fn error(
        &self,
        class: ErrorClass,
        operation: &str,
        code: &str,
        message: impl Into<String>,
    ) -> ProviderError {
        ProviderError::new(class, operation, code, message).at(self.address)
    }

    /// GETs `path`; `None` when it does not exist.
    async fn get(&self, path: &str, operation: &str) -> Result<Option<Json>, ProviderError> {
        self.ctx.pace(&ApiClass::new(API_ARM_READ)).await;
        match self.p.arm.call(ArmMethod::Get, path, None, operation).await {
            Ok(r) => r.json(operation).map_err(|e| e.at(self.address)),
            Err(e) if e.class == ErrorClass::NotFound => Ok(None),
            Err(e) => Err(e.at(self.address)),
        }
    }

    /// Journals, paces and sends a mutating call, following its long-running operation and
    /// retrying conflicts for a bounded time.
    async fn mutate(
        &self,
        method: ArmMethod,
        path: &str,
        body: Option<&Json>,
        operation: &str,
        verb: &str,
    ) -> Result<Option<Json>, ProviderError> {
        let progress = |d: Duration| {
            self.ctx
                .progress(self.address, &format!("{verb} for {}", elapsed_text(d)))
        };
        self.retry_conflicts(|| async {
            if !self.engine_token.swap(false, Ordering::SeqCst) {
                self.ctx.pace(&ApiClass::new(API_ARM_WRITE)).await;
            }
            self.ctx
                .intent(
                    self.address,
                    operation,
                    json!({ "method": method.as_str(), "path": path }),
                )
                .await?;
            self.p
                .arm
                .execute(method, path, body, operation, &progress)
                .await
                .map_err(|e| e.at(self.address))
        })
        .await
    }

    async fn retry_conflicts<T, F, Fut>(&self, mut call: F) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let scale = self.p.arm.clock_scale();
        let start = Instant::now();
        let grace = wall_bound(self.p.conflict_grace, scale);
        let mut interval = Duration::from_secs(1);
        loop {
            match call().await {
                Err(e) if retry_in_place(&e) && start.elapsed() < grace => {
                    self.ctx.progress(
                        self.address,
                        &format!(
                            "waiting ({}: {}) for {}",
                            e.code,
                            e.message,
                            elapsed_text(cloud_time(start.elapsed(), scale))
                        ),
                    );
                    tokio::time::sleep(wall_sleep(interval, scale)).await;
                    interval = (interval * 2).min(Duration::from_secs(30));
                }
                other => return other,
            }
        }
    }
}

/// Errors worth retrying inside one provider call: conflicts, and identities Entra ID has
/// not replicated yet.
fn retry_in_place(e: &ProviderError) -> bool {
    e.class == ErrorClass::Conflict || e.code.starts_with("PrincipalNotFound")
}

/// The properties every Azure resource has.
struct Desired {
    id: String,
    api_version: String,
    body: Json,
}

fn desired(s: &Session<'_>, props: &Properties) -> Result<Desired, ProviderError> {
    let text = |key: &str| {
        props
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                s.error(
                    ErrorClass::Fatal,
                    "prepare",
                    "MissingProperty",
                    format!("the resource has no `{key}`"),
                )
            })
    };
    let body = props
        .get("body")
        .map(Value::to_json)
        .unwrap_or_else(|| json!({}));
    if let Some(r) = props
        .get("body")
        .and_then(|b| b.refs().first().map(|r| r.to_string()))
    {
        return Err(s.error(
            ErrorClass::Fatal,
            "prepare",
            "UnresolvedReference",
            format!("`{r}` is not resolved"),
        ));
    }
    Ok(Desired {
        id: text("id")?,
        api_version: text("api_version")?,
        body,
    })
}

fn path(id: &str, api_version: &str) -> String {
    format!("{id}?api-version={api_version}")
}

/// `PUT managedClusters`: the method and the resource type, the last type segment of the id.
fn operation(method: ArmMethod, id: &str) -> String {
    let segments: Vec<&str> = id.trim_matches('/').split('/').collect();
    let kind = segments
        .len()
        .checked_sub(2)
        .and_then(|i| segments.get(i))
        .copied()
        .unwrap_or("resource");
    format!("{} {kind}", method.as_str())
}

fn last_segment(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// Whether `kind` carries `tags` ARM keeps (and so an ownership tag).
fn tags_of(kind: &str, live: &Json) -> Option<Option<String>> {
    let tags = match kind {
        kinds::AGENT_POOL => live.get("properties").and_then(|p| p.get("tags")),
        kinds::SUBNET | kinds::FEDERATED_IDENTITY_CREDENTIAL | kinds::ROLE_ASSIGNMENT => {
            return None;
        }
        _ => live.get("tags"),
    };
    Some(
        tags.and_then(|t| t.get(TAG_ADDRESS))
            .and_then(Json::as_str)
            .map(str::to_owned),
    )
}

/// Deep-merges `over` onto `base`: maps merge, everything else (lists, `tags`) is replaced.
/// A live switch (`{enabled: true}`) the desired map no longer has is turned off, so removing
/// an add-on from the blueprint disables it.
fn overlay(base: &mut Json, over: &Json) {
    match (base, over) {
        (Json::Object(b), Json::Object(o)) => {
            for (k, v) in b.iter_mut() {
                if !o.contains_key(k) && v.get("enabled") == Some(&Json::Bool(true)) {
                    v["enabled"] = Json::Bool(false);
                }
            }
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(existing) if k != "tags" && existing.is_object() && v.is_object() => {
                        overlay(existing, v)
                    }
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// Keeps the parts of `live` that `shape` has: map keys of `shape`, lists element by element.
fn project(live: &Json, shape: &Json) -> Json {
    match (live, shape) {
        (Json::Object(l), Json::Object(s)) => Json::Object(
            s.keys()
                .filter_map(|k| l.get(k).map(|v| (k.clone(), project(v, &s[k]))))
                .collect(),
        ),
        (Json::Array(l), Json::Array(s)) if l.len() == s.len() => {
            Json::Array(l.iter().zip(s).map(|(a, b)| project(a, b)).collect())
        }
        _ => live.clone(),
    }
}

fn text_at<'j>(json: &'j Json, pointer: &str) -> Option<&'j str> {
    json.pointer(pointer).and_then(Json::as_str)
}

/// The outputs of `kind` from its live body.
fn outputs(kind: &str, cloud_id: &str, live: &Json) -> Properties {
    let mut out = Properties::new();
    let id = text_at(live, "/id").unwrap_or(cloud_id);
    out.insert("id".into(), Value::from(id));
    let mut put = |name: &str, pointer: &str| {
        if let Some(v) = text_at(live, pointer) {
            out.insert(name.to_owned(), Value::from(v));
        }
    };
    match kind {
        kinds::USER_ASSIGNED_IDENTITY => {
            put("principalId", "/properties/principalId");
            put("clientId", "/properties/clientId");
            put("tenantId", "/properties/tenantId");
        }
        kinds::MANAGED_CLUSTER => {
            put("fqdn", "/properties/fqdn");
            put("privateFqdn", "/properties/privateFQDN");
            put("oidcIssuerUrl", "/properties/oidcIssuerProfile/issuerURL");
            put("nodeResourceGroup", "/properties/nodeResourceGroup");
            put(
                "kubeletObjectId",
                "/properties/identityProfile/kubeletidentity/objectId",
            );
            put(
                "kubeletClientId",
                "/properties/identityProfile/kubeletidentity/clientId",
            );
        }
        kinds::PRIVATE_ENDPOINT => put("networkInterfaceId", "/properties/networkInterfaces/0/id"),
        _ => {}
    }
    if kind == kinds::AGENT_POOL {
        out.insert("name".into(), Value::from(last_segment(id)));
    }
    out
}

/// The physical name of a replacement agent pool: the first 10 characters of the pool name
/// and two base-36 characters derived from the replaced pool's id, never the replaced name.
fn replacement_pool_id(id: &str, replaced: &str) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let name = last_segment(id);
    let stem: String = name.chars().take(10).collect();
    let old = last_segment(replaced);
    let parent = &id[..id.len() - name.len()];
    (0u8..=255)
        .map(|salt| {
            let digest = Sha256::digest(format!("{replaced}\n{salt}").as_bytes());
            let a = DIGITS[usize::from(digest[0]) % 36] as char;
            let b = DIGITS[usize::from(digest[1]) % 36] as char;
            format!("{parent}{stem}{a}{b}")
        })
        .find(|candidate| last_segment(candidate) != old && last_segment(candidate) != name)
        .unwrap_or_else(|| format!("{parent}{stem}zz"))
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl AzureProvider {
    /// Resolves a role display name to its role definition id at `scope`.
    async fn role_definition(
        &self,
        s: &Session<'_>,
        scope: &str,
        role: &str,
    ) -> Result<String, ProviderError> {
        let filter = percent_encode(&format!("roleName eq '{}'", role.replace('\'', "''")));
        let path = format!(
            "{scope}/providers/Microsoft.Authorization/roleDefinitions?$filter={filter}&api-version={API_AUTHORIZATION}"
        );
        let list = s
            .get(&path, "GET roleDefinitions")
            .await?
            .unwrap_or_default();
        let list: models::RoleDefinitionList = serde_json::from_value(list).map_err(|e| {
            s.error(
                ErrorClass::Fatal,
                "GET roleDefinitions",
                "InvalidResponse",
                e.to_string(),
            )
        })?;
        list.value
            .unwrap_or_default()
            .into_iter()
            .find_map(|d| d.id)
            .ok_or_else(|| {
                s.error(
                    ErrorClass::Fatal,
                    "GET roleDefinitions",
                    "RoleDefinitionNotFound",
                    format!("no role named `{role}` is visible at `{scope}`"),
                )
            })
    }

    /// PUTs the desired object at `id` (converging `live` when it exists) and returns the final
    /// resource.
    async fn put(
        &self,
        s: &Session<'_>,
        props: &Properties,
        d: &Desired,
        id: &str,
        live: Option<Json>,
    ) -> Result<Json, ProviderError> {
        let kind = s.address.kind.as_str();
        let mut body = d.body.clone();
        if kind == kinds::ROLE_ASSIGNMENT {
            if let Some(live) = live {
                // Role assignments are immutable; the derived name proves it is ours.
                return Ok(live);
            }
            if body.pointer("/properties/roleDefinitionId").is_none() {
                let role = props
                    .get("role")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let scope = props
                    .get("scope")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let definition = self.role_definition(s, scope, role).await?;
                body["properties"]["roleDefinitionId"] = Json::String(definition);
            }
        }
        let put_op = operation(ArmMethod::Put, id);
        models::checked_body(kind, &body, &put_op).map_err(|e| e.at(s.address))?;
        match (kind, &live) {
            (kinds::MANAGED_CLUSTER, Some(live)) => {
                // Pools belong to the agent_pool resources once the cluster exists.
                if let Some(p) = body.get_mut("properties").and_then(Json::as_object_mut) {
                    p.remove("agentPoolProfiles");
                }
                let mut merged = live.clone();
                overlay(&mut merged, &body);
                // The mesh has no `enabled` switch: removing `istio` from the blueprint
                // disables it explicitly.
                let meshed = live.pointer("/properties/serviceMeshProfile/mode")
                    == Some(&Json::String("Istio".into()));
                if meshed && body.pointer("/properties/serviceMeshProfile").is_none() {
                    merged["properties"]["serviceMeshProfile"] = json!({ "mode": "Disabled" });
                }
                body = merged;
            }
            (kinds::VIRTUAL_NETWORK, Some(live)) => {
                // A VNet PUT without its subnets deletes them.
                if let Some(subnets) = live.pointer("/properties/subnets") {
                    body["properties"]["subnets"] = subnets.clone();
                }
            }
            (kinds::AGENT_POOL, Some(live)) => {
                let autoscaled =
                    live.pointer("/properties/enableAutoScaling") == Some(&Json::Bool(true));
                if let (true, Some(count)) = (autoscaled, live.pointer("/properties/count")) {
                    body["properties"]["count"] = count.clone();
                }
            }
            _ => {}
        }
        let verb = if live.is_some() {
            "Updating"
        } else {
            "Creating"
        };
        let path = path(id, &d.api_version);
        let done = s
            .mutate(ArmMethod::Put, &path, Some(&body), &put_op, verb)
            .await?;
        let done = match done {
            Some(done) => done,
            None => s
                .get(&path, &format!("GET {}", &put_op[4..]))
                .await?
                .unwrap_or_default(),
        };
        if kind == kinds::PRIVATE_ENDPOINT {
            self.put_zone_group(s, props).await?;
        }
        Ok(done)
    }

    /// PUTs a private endpoint's `privateDnsZoneGroups/default`.
    async fn put_zone_group(
        &self,
        s: &Session<'_>,
        props: &Properties,
    ) -> Result<(), ProviderError> {
        let Some(group) = props.get("dns_zone_group").map(Value::to_json) else {
            return Ok(());
        };
        let (Some(id), Some(body)) = (group.get("id").and_then(Json::as_str), group.get("body"))
        else {
            return Err(s.error(
                ErrorClass::Fatal,
                "prepare",
                "MissingProperty",
                "`dns_zone_group` needs `id` and `body`",
            ));
        };
        let op = operation(ArmMethod::Put, id);
        models::checked_body("azure.private_dns_zone_group", body, &op)
            .map_err(|e| e.at(s.address))?;
        s.mutate(
            ArmMethod::Put,
            &path(id, API_NETWORK),
            Some(body),
            &op,
            "Registering DNS",
        )
        .await
        .map(|_| ())
    }

    /// Whether an agent pool is its cluster's last system pool, which only the cluster delete
    /// removes (AKS refuses to delete it).
    async fn last_system_pool(
        &self,
        s: &Session<'_>,
        id: &str,
        live: &Json,
    ) -> Result<bool, ProviderError> {
        if !text_at(live, "/properties/mode").is_some_and(|m| m.eq_ignore_ascii_case("system")) {
            return Ok(false);
        }
        let cluster = &id[..id.len() - last_segment(id).len()].trim_end_matches('/');
        let list = s
            .get(&path(cluster, API_CONTAINER_SERVICE), "GET agentPools")
            .await?
            .unwrap_or_default();
        let systems = list
            .get("value")
            .and_then(Json::as_array)
            .map(|pools| {
                pools
                    .iter()
                    .filter(|p| {
                        text_at(p, "/properties/mode")
                            .is_some_and(|m| m.eq_ignore_ascii_case("system"))
                    })
                    .count()
            })
            .unwrap_or(0);
        Ok(systems <= 1)
    }

    /// The cloud id recorded for a state, or an error.
    fn recorded_id<'s>(
        s: &Session<'_>,
        state: &'s ResourceState,
    ) -> Result<&'s str, ProviderError> {
        state.cloud_id.as_deref().ok_or_else(|| {
            s.error(
                ErrorClass::Fatal,
                "lookup",
                "NoCloudId",
                "the recorded object has no cloud id",
            )
        })
    }

    fn api_version(state: &ResourceState) -> &str {
        state
            .resolved
            .get("api_version")
            .and_then(Value::as_str)
            .unwrap_or(API_CONTAINER_SERVICE)
    }
}

#[async_trait]
impl Provider for AzureProvider {
    async fn create(
        &self,
        ctx: &OpContext,
        req: CreateRequest<'_>,
    ) -> Result<Created, ProviderError> {
        self.check_credentials(req.address).await?;
        let s = Session::new(self, ctx, req.address, true);
        let kind = req.address.kind.as_str();
        let d = desired(&s, req.properties)?;
        let id = match (kind, req.replacing.and_then(|r| r.cloud_id.as_deref())) {
            (kinds::AGENT_POOL, Some(old)) => replacement_pool_id(&d.id, old),
            _ => d.id.clone(),
        };
        let get_op = operation(ArmMethod::Get, &id);
        let live = s.get(&path(&id, &d.api_version), &get_op).await?;
        if let Some(live) = &live {
            if let Some(owner) = tags_of(kind, live)
                && owner.as_deref() != Some(req.address.to_string().as_str())
            {
                return Err(s.error(
                    ErrorClass::Conflict,
                    &get_op,
                    "NotOwned",
                    format!(
                        "`{id}` already exists and is not Slipway's object for this address \
                         (its `{TAG_ADDRESS}` tag is {}); refusing to take it over",
                        owner.map_or("missing".to_owned(), |o| format!("`{o}`"))
                    ),
                ));
            }
            if let Some(state) = provisioning_state(Some(live))
                && !is_terminal(&state)
            {
                s.ctx
                    .progress(req.address, &format!("adopting an object still {state}"));
                return Ok(Created {
                    cloud_id: id.clone(),
                    outputs: outputs(kind, &id, live),
                    ready: false,
                });
            }
        }
        let done = self.put(&s, req.properties, &d, &id, live).await?;
        Ok(Created {
            cloud_id: id.clone(),
            outputs: outputs(kind, &id, &done),
            ready: true,
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        state: &ResourceState,
    ) -> Result<Option<LiveObject>, ProviderError> {
        self.check_credentials(&state.address).await?;
        let s = Session::new(self, ctx, &state.address, false);
        let id = Self::recorded_id(&s, state)?;
        let kind = state.address.kind.as_str();
        let op = operation(ArmMethod::Get, id);
        let Some(live) = s.get(&path(id, Self::api_version(state)), &op).await? else {
            return Ok(None);
        };
        let outputs = outputs(kind, id, &live);
        let typed = models::parsed_response(kind, live, &op).map_err(|e| e.at(&state.address))?;
        let mut properties = state.resolved.clone();
        if let Some(shape) = state.resolved.get("body") {
            properties.insert(
                "body".into(),
                Value::from_json(&project(&typed, &shape.to_json())),
            );
        }
        Ok(Some(LiveObject {
            cloud_id: id.to_owned(),
            properties,
            outputs,
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        req: UpdateRequest<'_>,
    ) -> Result<Created, ProviderError> {
        self.check_credentials(req.address).await?;
        let s = Session::new(self, ctx, req.address, true);
        let kind = req.address.kind.as_str();
        let d = desired(&s, req.properties)?;
        let id = Self::recorded_id(&s, req.prior)?.to_owned();
        let live = s
            .get(&path(&id, &d.api_version), &operation(ArmMethod::Get, &id))
            .await?;
        let done = self.put(&s, req.properties, &d, &id, live).await?;
        Ok(Created {
            cloud_id: id.clone(),
            outputs: outputs(kind, &id, &done),
            ready: true,
        })
    }

    async fn delete(&self, ctx: &OpContext, state: &ResourceState) -> Result<(), ProviderError> {
        let Some(id) = state.cloud_id.as_deref() else {
            return Ok(());
        };
        self.check_credentials(&state.address).await?;
        let s = Session::new(self, ctx, &state.address, true);
        let api = Self::api_version(state);
        if state.address.kind.as_str() == kinds::AGENT_POOL {
            let Some(live) = s.get(&path(id, api), "GET agentPools").await? else {
                return Ok(());
            };
            if self.last_system_pool(&s, id, &live).await? {
                s.ctx
                    .progress(&state.address, "last system pool: removed with its cluster");
                return Ok(());
            }
        }
        let op = operation(ArmMethod::Delete, id);
        match s
            .mutate(ArmMethod::Delete, &path(id, api), None, &op, "Deleting")
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.class == ErrorClass::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Reads the live cluster, its agent pools, its upgrade profile and the location's
    /// versions (see the `evidence` module); a missing cluster is `live: None` with a note.
    async fn upgrade_evidence(
        &self,
        ctx: &OpContext,
        req: EvidenceRequest<'_>,
    ) -> Result<UpgradeEvidence, ProviderError> {
        self.evidence(ctx, req).await
    }

    /// Reads the managed cluster, its agent pools and add-ons, and each workload identity's
    /// managed identity and federated credentials (see the `readiness` module).
    async fn readiness_evidence(
        &self,
        ctx: &OpContext,
        req: ReadinessRequest<'_>,
    ) -> Result<ReadinessEvidence, ProviderError> {
        self.readiness(ctx, req).await
    }

    async fn wait(
        &self,
        ctx: &OpContext,
        state: &ResourceState,
        until: WaitFor,
    ) -> Result<Properties, ProviderError> {
        let Some(id) = state.cloud_id.as_deref() else {
            return Ok(Properties::new());
        };
        self.check_credentials(&state.address).await?;
        let s = Session::new(self, ctx, &state.address, false);
        let kind = state.address.kind.as_str();
        let p = path(id, Self::api_version(state));
        let op = operation(ArmMethod::Get, id);
        let scale = self.arm.clock_scale();
        let start = Instant::now();
        let limit = wall_bound(WAIT_LIMIT, scale);
        let mut interval = Duration::from_secs(1);
        loop {
            let live = s.get(&p, &op).await?;
            let verb = match (until, live) {
                (WaitFor::Deleted, None) => return Ok(Properties::new()),
                (WaitFor::Ready, None) => {
                    return Err(s.error(
                        ErrorClass::NotFound,
                        &op,
                        "NotFound",
                        "the object disappeared while it was created",
                    ));
                }
                (WaitFor::Deleted, Some(live)) => {
                    if kind == kinds::AGENT_POOL && self.last_system_pool(&s, id, &live).await? {
                        return Ok(Properties::new());
                    }
                    "Deleting"
                }
                (WaitFor::Ready, Some(live)) => match provisioning_state(Some(&live)) {
                    Some(ps) if !is_terminal(&ps) => "Creating",
                    Some(ps) if !ps.eq_ignore_ascii_case("succeeded") => {
                        let error = live
                            .pointer("/properties/error")
                            .cloned()
                            .and_then(|e| serde_json::from_value(e).ok());
                        return Err(errors::operation_failed(&op, &ps, error).at(&state.address));
                    }
                    _ => return Ok(outputs(kind, id, &live)),
                },
            };
            let waited = start.elapsed();
            let cloud_waited = cloud_time(waited, scale);
            if waited >= limit {
                return Err(s.error(
                    ErrorClass::Fatal,
                    &op,
                    "WaitTimeout",
                    format!("still {verb} after {}", elapsed_text(cloud_waited)),
                ));
            }
            s.ctx.progress(
                &state.address,
                &format!("{verb} for {}", elapsed_text(cloud_waited)),
            );
            tokio::time::sleep(wall_sleep(interval, scale)).await;
            interval = (interval * 2).min(Duration::from_secs(15));
        }
    }
}

/// The map of tags as Slipway writes them, for tests of ownership.
#[cfg(test)]
fn tags(address: &str) -> Json {
    json!({ TAG_ADDRESS: address })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_name_the_resource_type() {
        let id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c";
        assert_eq!(operation(ArmMethod::Put, id), "PUT managedClusters");
        assert_eq!(
            operation(ArmMethod::Delete, &format!("{id}/agentPools/p")),
            "DELETE agentPools"
        );
        assert_eq!(
            operation(ArmMethod::Get, "/subscriptions/s/resourceGroups/rg"),
            "GET resourceGroups"
        );
    }

    #[test]
    fn ownership_comes_from_the_address_tag_of_taggable_kinds() {
        let live = json!({ "tags": tags("c/azure.virtual_network/main") });
        assert_eq!(
            tags_of(kinds::VIRTUAL_NETWORK, &live),
            Some(Some("c/azure.virtual_network/main".into()))
        );
        assert_eq!(tags_of(kinds::VIRTUAL_NETWORK, &json!({})), Some(None));
        assert_eq!(tags_of(kinds::SUBNET, &json!({})), None);
        let pool = json!({ "properties": { "tags": tags("c/azure.agent_pool/system") } });
        assert_eq!(
            tags_of(kinds::AGENT_POOL, &pool),
            Some(Some("c/azure.agent_pool/system".into()))
        );
    }

    #[test]
    fn overlay_keeps_live_fields_replaces_tags_and_turns_off_removed_switches() {
        let mut live = json!({
            "tags": {"old": "1"},
            "properties": {
                "agentPoolProfiles": [{"name": "system"}],
                "addonProfiles": {"omsagent": {"enabled": true}, "azurepolicy": {"enabled": true}},
                "kubernetesVersion": "1.33"
            }
        });
        let desired = json!({
            "tags": {"new": "2"},
            "properties": {"addonProfiles": {"azurepolicy": {"enabled": true}}, "kubernetesVersion": "1.34"}
        });
        overlay(&mut live, &desired);
        assert_eq!(live["tags"], json!({"new": "2"}));
        assert_eq!(live["properties"]["agentPoolProfiles"][0]["name"], "system");
        assert_eq!(
            live["properties"]["addonProfiles"]["omsagent"]["enabled"],
            false
        );
        assert_eq!(live["properties"]["kubernetesVersion"], "1.34");
    }

    #[test]
    fn projection_keeps_the_shape_of_what_was_sent() {
        let live = json!({"location": "westeurope", "id": "/x", "properties": {"a": 1, "b": [{"c": 1, "d": 2}]}});
        let shape = json!({"location": "", "properties": {"b": [{"c": 0}]}});
        assert_eq!(
            project(&live, &shape),
            json!({"location": "westeurope", "properties": {"b": [{"c": 1}]}})
        );
    }

    #[test]
    fn replacement_pools_get_a_new_stable_name_of_at_most_12_characters() {
        let id = "/s/managedClusters/c/agentPools/generalpurpo";
        let a = replacement_pool_id(id, id);
        assert_eq!(a, replacement_pool_id(id, id));
        let name = last_segment(&a);
        assert!(name.starts_with("generalpur") && name.len() == 12, "{name}");
        assert_ne!(name, "generalpurpo");
        let b = replacement_pool_id(id, &a);
        assert_ne!(last_segment(&b), name);
        assert!(a.starts_with("/s/managedClusters/c/agentPools/"));
    }

    #[test]
    fn outputs_come_from_the_live_body() {
        let cluster = json!({
            "id": "/c",
            "properties": {
                "oidcIssuerProfile": {"issuerURL": "https://oidc/"},
                "identityProfile": {"kubeletidentity": {"objectId": "o", "clientId": "k"}}
            }
        });
        let out = outputs(kinds::MANAGED_CLUSTER, "/c", &cluster);
        assert_eq!(out["oidcIssuerUrl"], Value::from("https://oidc/"));
        assert_eq!(out["kubeletObjectId"], Value::from("o"));
        assert!(!out.contains_key("fqdn"));
        let pool = outputs(kinds::AGENT_POOL, "/c/agentPools/gen01", &json!({}));
        assert_eq!(pool["name"], Value::from("gen01"));
        assert_eq!(
            percent_encode("roleName eq 'A b'"),
            "roleName%20eq%20%27A%20b%27"
        );
    }
}
