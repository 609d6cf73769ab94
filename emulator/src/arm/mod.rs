//! Azure Resource Manager on the emulator's port: requests under `/subscriptions/…` and
//! `/providers/…` with a `Bearer` token (any token) are routed here by path, checked for an
//! api-version the resource type serves, rate limited per subscription (reads, writes,
//! deletes), faulted, and handed to the resource modules; answers carry ARM's request ids,
//! remaining-quota headers and error bodies (`{"error":{"code","message","target"}}`).
//!
//! This module speaks ARM's protocol (routing, long-running-operation URLs, headers); it must
//! never implement a resource type's semantics, which live in the sibling modules.

mod aks;
mod catalog;
mod identity;
mod mesh;
mod network;
mod os;
mod resources;
mod schema;
mod store;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

pub(crate) use aks::inject_pool_state;
pub(crate) use store::ArmCloud;

use crate::admin::Tagged;
use crate::faults::{Decision, FaultConfig};
use crate::lifecycle::Op;
use crate::ratelimit::arm_class;
use crate::server::Shared;
use crate::state::Settings;
use crate::util::{hex_digits, iso8601, mix, now_ms, uuid};

/// An ARM error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArmError {
    /// HTTP status.
    pub status: u16,
    /// ARM error code, e.g. `ResourceNotFound`.
    pub code: String,
    /// Message.
    pub message: String,
    /// The offending property, when there is one.
    pub target: Option<String>,
    /// `Retry-After` seconds (throttling).
    pub retry_after: Option<u32>,
}

impl ArmError {
    /// An error with a status, code and message.
    pub(crate) fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            target: None,
            retry_after: None,
        }
    }

    /// A 400.
    pub(crate) fn bad(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    /// With the offending property.
    pub(crate) fn target(mut self, target: &str) -> Self {
        self.target = Some(target.to_owned());
        self
    }

    fn body(&self) -> Value {
        let mut e = json!({ "code": self.code, "message": self.message });
        if let Some(t) = &self.target {
            e["target"] = json!(t);
        }
        json!({ "error": e })
    }
}

/// Result of every ARM handler.
pub(crate) type ArmResult<T> = Result<T, ArmError>;

/// A successful answer.
#[derive(Debug)]
pub(crate) struct Reply {
    /// HTTP status.
    pub status: u16,
    /// JSON body, if any.
    pub body: Option<Value>,
    /// Extra headers (`Azure-AsyncOperation`, `Location`, `Retry-After`, `ETag`).
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    /// A JSON answer.
    pub(crate) fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    /// An empty answer.
    pub(crate) fn empty(status: u16) -> Self {
        Self {
            status,
            body: None,
            headers: Vec::new(),
        }
    }

    /// Adds a header.
    pub(crate) fn with(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// What ARM handlers work with during one request.
pub(crate) struct ArmCtx<'a> {
    /// The ARM cloud.
    pub arm: &'a mut ArmCloud,
    /// Wall-clock ms at the start of the request.
    pub now: u64,
    /// Emulator settings.
    pub settings: &'a Settings,
    /// Faults in force.
    pub faults: &'a FaultConfig,
    /// `scheme://host` that URLs in answers point at.
    pub base: String,
    /// The request's api-version.
    pub api_version: String,
    /// Request headers.
    pub headers: &'a HeaderMap,
}

impl ArmCtx<'_> {
    /// A fresh 64-bit draw.
    pub(crate) fn draw(&mut self) -> u64 {
        self.arm.counter += 1;
        mix(self.settings.seed ^ 0xa2a2_0000 ^ mix(self.arm.counter))
    }

    /// A fresh GUID.
    pub(crate) fn uuid(&mut self) -> String {
        let d = self.draw();
        uuid(d)
    }

    /// `n` fresh hex digits.
    pub(crate) fn hex(&mut self, n: usize) -> String {
        let d = self.draw();
        hex_digits(d, n)
    }

    /// The emulated tenant.
    pub(crate) fn tenant(&self) -> String {
        uuid(mix(self.settings.seed ^ 0x7e4a_4700))
    }

    /// The calendar date support windows are evaluated on.
    pub(crate) fn today(&self) -> String {
        self.settings
            .today
            .clone()
            .unwrap_or_else(|| crate::util::today(self.now))
    }

    /// Real milliseconds `op` takes, drawn with the jitter key `key`, for the stored resource
    /// `resource` (lower-cased id), which the operation log records.
    pub(crate) fn duration(&mut self, op: Op, key: &str, resource: &str) -> u64 {
        let (target, cluster, region) = self.subject(resource);
        let (ms, record) = crate::oplog::draw(
            op,
            key,
            self.settings.seed,
            self.settings.time_scale,
            self.now,
            crate::oplog::Subject {
                service: "arm",
                target: &target,
                cluster: cluster.as_deref(),
                region: &region,
            },
        );
        self.arm.oplog.extend([record]);
        ms
    }

    /// Name, owning cluster and location of a stored resource, for the operation log: the
    /// cluster is the `slipway:cluster` tag of the resource or of the managed cluster an agent
    /// pool belongs to, else that managed cluster's name.
    fn subject(&self, resource: &str) -> (String, Option<String>, String) {
        let res = self.arm.get(resource);
        let parent = res
            .filter(|r| r.rtype == catalog::POOL)
            .and_then(|r| parse_id(&r.id))
            .and_then(|rid| rid.parent())
            .and_then(|p| self.arm.get(&p.id()));
        let tag = |r: &store::Resource| {
            r.body
                .get("tags")
                .or_else(|| r.prop("tags"))
                .and_then(|t| t.get(crate::oplog::CLUSTER_TAG))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let cluster = res
            .and_then(tag)
            .or_else(|| parent.and_then(tag))
            .or_else(|| match (res, parent) {
                (_, Some(p)) => Some(p.name().to_owned()),
                (Some(r), None) if r.rtype == catalog::CLUSTER => Some(r.name().to_owned()),
                _ => None,
            });
        let region = res
            .and_then(|r| r.body.get("location"))
            .or_else(|| parent.and_then(|p| p.body.get("location")))
            .and_then(Value::as_str)
            .unwrap_or("global")
            .to_ascii_lowercase()
            .replace(' ', "");
        let target = res.map_or_else(
            || resource.rsplit('/').next().unwrap_or(resource).to_owned(),
            |r| r.name().to_owned(),
        );
        (target, cluster, region)
    }

    /// A request header.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A parsed ARM resource id below a resource group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rid {
    /// Subscription.
    pub sub: String,
    /// Resource group.
    pub rg: String,
    /// Provider namespace as written.
    pub ns: String,
    /// `(type, name)` pairs, outermost first.
    pub parts: Vec<(String, String)>,
}

impl Rid {
    /// `/subscriptions/{sub}/resourceGroups/{rg}`.
    pub(crate) fn rg_id(&self) -> String {
        format!("/subscriptions/{}/resourceGroups/{}", self.sub, self.rg)
    }

    /// The full id.
    pub(crate) fn id(&self) -> String {
        let mut s = format!("{}/providers/{}", self.rg_id(), self.ns);
        for (t, n) in &self.parts {
            s.push('/');
            s.push_str(t);
            s.push('/');
            s.push_str(n);
        }
        s
    }

    /// Lower-cased id (the store key).
    pub(crate) fn key(&self) -> String {
        self.id().to_ascii_lowercase()
    }

    /// `Namespace/type[/child]`, as written.
    pub(crate) fn rtype(&self) -> String {
        let mut s = self.ns.clone();
        for (t, _) in &self.parts {
            s.push('/');
            s.push_str(t);
        }
        s
    }

    /// The resource's own name.
    pub(crate) fn name(&self) -> &str {
        self.parts.last().map_or("", |(_, n)| n.as_str())
    }

    /// The parent resource, for child types.
    pub(crate) fn parent(&self) -> Option<Rid> {
        (self.parts.len() > 1).then(|| Rid {
            parts: self.parts[..self.parts.len() - 1].to_vec(),
            ..self.clone()
        })
    }
}

/// Parses a full resource id (as found in request bodies).
pub(crate) fn parse_id(id: &str) -> Option<Rid> {
    let segs: Vec<&str> = id.trim_start_matches('/').split('/').collect();
    match segs.as_slice() {
        [s, sub, g, rg, p, ns, rest @ ..]
            if s.eq_ignore_ascii_case("subscriptions")
                && g.eq_ignore_ascii_case("resourceGroups")
                && p.eq_ignore_ascii_case("providers")
                && !rest.is_empty()
                && rest.len() % 2 == 0
                && segs.iter().all(|x| !x.is_empty()) =>
        {
            Some(Rid {
                sub: (*sub).to_owned(),
                rg: (*rg).to_owned(),
                ns: (*ns).to_owned(),
                parts: rest
                    .chunks(2)
                    .map(|c| (c[0].to_owned(), c[1].to_owned()))
                    .collect(),
            })
        }
        _ => None,
    }
}

/// Where a request goes.
#[derive(Debug)]
enum Route {
    ResourceGroups {
        sub: String,
    },
    ResourceGroup {
        sub: String,
        rg: String,
    },
    GroupOperation {
        id: String,
    },
    Resource(Rid),
    Collection {
        scope: Scope,
        rtype: String,
    },
    UpgradeProfile(Rid),
    KubernetesVersions {
        location: String,
    },
    MeshRevisionProfiles {
        sub: String,
        location: String,
        mode: Option<String>,
    },
    MeshUpgradeProfiles {
        cluster: Rid,
        mode: Option<String>,
    },
    Operation {
        id: String,
        result: bool,
    },
    RoleAssignment {
        scope: String,
        name: Option<String>,
    },
    RoleDefinition {
        scope: String,
        id: Option<String>,
    },
}

/// What a collection is listed under.
#[derive(Debug)]
enum Scope {
    Subscription(String),
    Group(String, String),
    Parent(Rid),
}

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn not_found_path(path: &str) -> ArmError {
    ArmError::new(
        404,
        "InvalidResourceType",
        format!("The resource path '{path}' is not served by the emulator."),
    )
}

fn route(path: &str) -> ArmResult<Route> {
    let segs: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    if segs.iter().any(String::is_empty) {
        return Err(not_found_path(path));
    }
    // Microsoft.Authorization at any scope: `{scope}/providers/Microsoft.Authorization/…`.
    if let Some(i) = (0..segs.len().saturating_sub(1))
        .find(|&i| eq(&segs[i], "providers") && eq(&segs[i + 1], "Microsoft.Authorization"))
    {
        let scope = format!("/{}", segs[..i].join("/"));
        let rest = &segs[i + 2..];
        return match rest {
            [t] if eq(t, "roleAssignments") => Ok(Route::RoleAssignment { scope, name: None }),
            [t, n] if eq(t, "roleAssignments") => Ok(Route::RoleAssignment {
                scope,
                name: Some(n.clone()),
            }),
            [t] if eq(t, "roleDefinitions") => Ok(Route::RoleDefinition { scope, id: None }),
            [t, n] if eq(t, "roleDefinitions") => Ok(Route::RoleDefinition {
                scope,
                id: Some(n.clone()),
            }),
            _ => Err(not_found_path(path)),
        };
    }
    let [s, sub, rest @ ..] = segs.as_slice() else {
        return Err(not_found_path(path));
    };
    if !eq(s, "subscriptions") {
        return Err(not_found_path(path));
    }
    let sub = sub.clone();
    match rest {
        [g] if eq(g, "resourceGroups") => Ok(Route::ResourceGroups { sub }),
        [g, rg] if eq(g, "resourceGroups") => Ok(Route::ResourceGroup {
            sub,
            rg: rg.clone(),
        }),
        [o, id] if eq(o, "operationresults") => Ok(Route::GroupOperation { id: id.clone() }),
        [p, _, l, location, k]
            if eq(p, "providers") && eq(l, "locations") && eq(k, "kubernetesVersions") =>
        {
            Ok(Route::KubernetesVersions {
                location: location.clone(),
            })
        }
        [p, _, l, location, k, mode @ ..]
            if eq(p, "providers")
                && eq(l, "locations")
                && eq(k, "meshRevisionProfiles")
                && mode.len() <= 1 =>
        {
            Ok(Route::MeshRevisionProfiles {
                sub,
                location: location.clone(),
                mode: mode.first().cloned(),
            })
        }
        [p, _, l, _, o, id]
            if eq(p, "providers")
                && eq(l, "locations")
                && (eq(o, "operations") || eq(o, "operationresults")) =>
        {
            Ok(Route::Operation {
                id: id.clone(),
                result: eq(o, "operationresults"),
            })
        }
        [p, ns, t] if eq(p, "providers") => Ok(Route::Collection {
            scope: Scope::Subscription(sub),
            rtype: format!("{ns}/{t}"),
        }),
        [g, rg, p, ns, tail @ ..]
            if eq(g, "resourceGroups") && eq(p, "providers") && !tail.is_empty() =>
        {
            if let [t, name, m, mode @ ..] = tail
                && eq(t, "managedClusters")
                && eq(m, "meshUpgradeProfiles")
                && mode.len() <= 1
            {
                return Ok(Route::MeshUpgradeProfiles {
                    cluster: Rid {
                        sub,
                        rg: rg.clone(),
                        ns: ns.clone(),
                        parts: vec![(t.clone(), name.clone())],
                    },
                    mode: mode.first().cloned(),
                });
            }
            let mut tail = tail.to_vec();
            let upgrade = tail.len() >= 4
                && eq(&tail[tail.len() - 2], "upgradeProfiles")
                && eq(&tail[tail.len() - 1], "default");
            if upgrade {
                tail.truncate(tail.len() - 2);
            }
            let pairs: Vec<(String, String)> = tail
                .chunks(2)
                .filter(|c| c.len() == 2)
                .map(|c| (c[0].clone(), c[1].clone()))
                .collect();
            let rid = Rid {
                sub,
                rg: rg.clone(),
                ns: ns.clone(),
                parts: pairs,
            };
            if upgrade {
                return Ok(Route::UpgradeProfile(rid));
            }
            if tail.len() % 2 == 1 {
                let last = tail.last().cloned().unwrap_or_default();
                let rtype = format!("{}/{last}", rid.rtype());
                let scope = if rid.parts.is_empty() {
                    Scope::Group(rid.sub, rid.rg)
                } else {
                    Scope::Parent(rid)
                };
                return Ok(Route::Collection { scope, rtype });
            }
            Ok(Route::Resource(rid))
        }
        _ => Err(not_found_path(path)),
    }
}

/// Whether a path belongs to ARM.
pub(crate) fn is_arm_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.starts_with("/subscriptions/") || lower.starts_with("/providers/")
}

/// Checks `version` against a type's list; ARM answers its own types with
/// `InvalidApiVersionParameter` and provider types with `NoRegisteredProviderFound`.
fn check_version(rtype: &str, version: &str, location: &str) -> ArmResult<&'static str> {
    let ns = rtype.split('/').next().unwrap_or(rtype);
    let Some(spec) = catalog::type_spec(rtype) else {
        if catalog::known_namespace(ns) {
            return Err(ArmError::bad(
                "InvalidResourceType",
                format!(
                    "The resource type '{}' could not be found in the namespace '{ns}' for api version '{version}'.",
                    rtype.split_once('/').map_or(rtype, |(_, t)| t)
                ),
            ));
        }
        return Err(ArmError::bad(
            "InvalidResourceNamespace",
            format!("The resource namespace '{ns}' is invalid."),
        ));
    };
    if spec.versions.contains(&version) {
        return Ok(spec.rtype);
    }
    let list = spec.versions.join(", ");
    if spec.rtype == catalog::RESOURCE_GROUP {
        Err(ArmError::bad(
            "InvalidApiVersionParameter",
            format!("The api-version '{version}' is invalid. The supported versions are '{list}'."),
        ))
    } else {
        Err(ArmError::bad(
            "NoRegisteredProviderFound",
            format!(
                "No registered resource provider found for location '{location}' and API version '{version}' for type '{}'. The supported api-versions are '{list}'.",
                spec.rtype.split_once('/').map_or(spec.rtype, |(_, t)| t)
            ),
        ))
    }
}

/// One ARM request, as the server hands it over.
pub(crate) struct ArmRequest {
    /// Method.
    pub method: Method,
    /// Path.
    pub path: String,
    /// Raw query string.
    pub query: String,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Vec<u8>,
    /// Request sequence number.
    pub n: u64,
}

/// Serves one ARM request.
pub(crate) fn serve(shared: &Shared, req: ArmRequest, decision: Decision) -> Response {
    let request_id = uuid(shared.settings.seed ^ 0xa2a2_5eed_0000_0000 ^ req.n);
    let correlation = req
        .headers
        .get("x-ms-correlation-request-id")
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| request_id.clone(), str::to_owned);
    let client_id = req
        .headers
        .get("x-ms-client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut out = Out {
        request_id,
        correlation,
        client_id,
        quota: None,
    };
    let auth = req
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth.is_empty() {
        return out.error(&ArmError::new(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
        ));
    }
    if !auth.starts_with("Bearer ") || auth.len() <= "Bearer ".len() {
        return out.error(&ArmError::new(
            401,
            "InvalidAuthenticationToken",
            "The access token is invalid: the Authorization header must be 'Bearer <token>'.",
        ));
    }
    let query: Vec<(String, String)> = form_urlencoded::parse(req.query.as_bytes())
        .into_owned()
        .collect();
    let Some(api_version) = query
        .iter()
        .find(|(k, _)| k == "api-version")
        .map(|(_, v)| v.clone())
    else {
        return out.error(&ArmError::bad(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    };
    let route = match route(&req.path) {
        Ok(r) => r,
        Err(e) => return out.error(&e),
    };
    let body: Option<Value> = if matches!(req.method, Method::PUT | Method::PATCH) {
        match serde_json::from_slice::<Value>(&req.body) {
            Ok(v @ Value::Object(_)) => Some(v),
            _ => {
                return out.error(&ArmError::bad(
                    "InvalidRequestContent",
                    "The request content was invalid and could not be deserialized: the body must be a JSON object.",
                ));
            }
        }
    } else {
        None
    };
    let location = body
        .as_ref()
        .and_then(|b| b.get("location"))
        .and_then(Value::as_str)
        .unwrap_or("global")
        .to_owned();
    let checked = match &route {
        Route::ResourceGroups { .. }
        | Route::ResourceGroup { .. }
        | Route::GroupOperation { .. } => {
            check_version(catalog::RESOURCE_GROUP, &api_version, &location)
        }
        Route::Resource(rid) | Route::UpgradeProfile(rid) => {
            check_version(&rid.rtype(), &api_version, &location)
        }
        Route::Collection { rtype, .. } => check_version(rtype, &api_version, &location),
        Route::KubernetesVersions { .. }
        | Route::MeshRevisionProfiles { .. }
        | Route::MeshUpgradeProfiles { .. } => {
            check_version(catalog::CLUSTER, &api_version, &location)
        }
        Route::Operation { .. } => Ok(""),
        Route::RoleAssignment { .. } => {
            check_version(catalog::ROLE_ASSIGNMENT, &api_version, &location)
        }
        Route::RoleDefinition { .. } => {
            check_version(catalog::ROLE_DEFINITION, &api_version, &location)
        }
    };
    if let Err(e) = checked {
        return out.error(&e);
    }
    let host = req
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned();
    // Loopback and IP hosts are reached over http; a logical ARM host keeps https so that
    // clients that rewrite the transport (azure_core's bearer policy refuses http) follow it.
    let host_name = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
    let scheme = if host_name.ends_with(".azure.com") {
        "https"
    } else {
        "http"
    };
    let subscription = req
        .path
        .trim_start_matches('/')
        .split('/')
        .nth(1)
        .filter(|_| {
            is_arm_path(&req.path) && req.path.to_ascii_lowercase().starts_with("/subscriptions/")
        })
        .unwrap_or("tenant")
        .to_ascii_lowercase();

    let mut guard = shared.lock();
    let inner = &mut *guard;
    let class = arm_class(req.method.as_str());
    if inner.faults.rate_limits {
        match inner.buckets.take_or_wait(&subscription, "arm", class) {
            Ok(left) => out.quota = Some((class.name, left)),
            Err(wait) => {
                let mut e = ArmError::new(
                    429,
                    "TooManyRequests",
                    format!(
                        "The request is being throttled as the limit has been reached for operation type - {}. Please retry after {wait} seconds.",
                        class.name
                    ),
                );
                e.retry_after = Some(wait);
                return out.error(&e);
            }
        }
    } else {
        // Capacity minus this request, as an unthrottled subscription would see it.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let left = class.capacity as u32 - 1;
        out.quota = Some((class.name, left));
    }
    if decision.throttle {
        let mut e = ArmError::new(
            429,
            "TooManyRequests",
            "The request is being throttled. Please retry after 1 seconds.",
        );
        e.retry_after = Some(1);
        return out.error(&e);
    }
    if let Some(unavailable) = decision.server_error {
        let e = if unavailable {
            ArmError::new(
                503,
                "ServiceUnavailable",
                "The service is temporarily unavailable. Please try again later.",
            )
        } else {
            ArmError::new(
                500,
                "InternalServerError",
                "Encountered internal server error. Please try again.",
            )
        };
        return out.error(&e);
    }
    let now = now_ms();
    let swept = inner.arm.sweep(now);
    let mut ctx = ArmCtx {
        arm: &mut inner.arm,
        now,
        settings: &shared.settings,
        faults: &inner.faults,
        base: format!("{scheme}://{host}"),
        api_version,
        headers: &req.headers,
    };
    let result = dispatch(&mut ctx, &req.method, route, body, &query);
    let mutating = !matches!(req.method, Method::GET | Method::HEAD);
    if swept || (mutating && result.is_ok()) {
        shared.persist_arm(&inner.arm);
    }
    drop(guard);
    match result {
        Ok(reply) => out.reply(reply),
        Err(e) => out.error(&e),
    }
}

fn dispatch(
    ctx: &mut ArmCtx<'_>,
    method: &Method,
    route: Route,
    body: Option<Value>,
    query: &[(String, String)],
) -> ArmResult<Reply> {
    let m = method.as_str();
    match (m, route) {
        ("GET", Route::ResourceGroups { sub }) => Ok(resources::list_groups(ctx, &sub)),
        (_, Route::ResourceGroup { sub, rg }) => resources::group(ctx, m, &sub, &rg, body),
        ("GET", Route::GroupOperation { id }) => resources::operation_result(ctx, &id),
        ("GET", Route::Operation { id, result }) => {
            if result {
                resources::operation_result(ctx, &id)
            } else {
                resources::operation_status(ctx, &id)
            }
        }
        ("PUT", Route::Resource(rid)) => resources::put(ctx, &rid, body.unwrap_or(Value::Null)),
        ("GET", Route::Resource(rid)) => resources::get(ctx, &rid),
        ("DELETE", Route::Resource(rid)) => resources::delete(ctx, &rid),
        ("PATCH", Route::Resource(rid)) => resources::patch(ctx, &rid, body.unwrap_or(Value::Null)),
        ("GET", Route::Collection { scope, rtype }) => Ok(resources::list(ctx, &scope, &rtype)),
        ("GET", Route::UpgradeProfile(rid)) => aks::upgrade_profile(ctx, &rid),
        ("GET", Route::KubernetesVersions { location }) => {
            Ok(aks::kubernetes_versions(ctx, &location))
        }
        (
            "GET",
            Route::MeshRevisionProfiles {
                sub,
                location,
                mode,
            },
        ) => mesh::revision_profiles(&sub, &location, mode.as_deref()),
        ("GET", Route::MeshUpgradeProfiles { cluster, mode }) => {
            mesh::upgrade_profiles(ctx, &cluster, mode.as_deref())
        }
        (_, Route::RoleAssignment { scope, name }) => {
            identity::role_assignment(ctx, m, &scope, name.as_deref(), body)
        }
        ("GET", Route::RoleDefinition { scope, id }) => {
            identity::role_definition(ctx, &scope, id.as_deref(), query)
        }
        (m, _) => Err(ArmError::new(
            405,
            "MethodNotAllowed",
            format!("The HTTP method '{m}' is not supported for this resource path."),
        )),
    }
}

/// Headers every answer carries.
struct Out {
    request_id: String,
    correlation: String,
    client_id: Option<String>,
    quota: Option<(&'static str, u32)>,
}

impl Out {
    fn respond(
        &self,
        status: u16,
        body: Option<Value>,
        extra: &[(&'static str, String)],
    ) -> Response {
        let text = body.map(|b| b.to_string()).unwrap_or_default();
        let has_body = !text.is_empty();
        let mut r = Response::new(Body::from(text));
        *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        let h = r.headers_mut();
        if has_body {
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
        }
        let mut put = |name: &'static str, value: &str| {
            if let Ok(v) = HeaderValue::from_str(value) {
                h.insert(name, v);
            }
        };
        put("x-ms-request-id", &self.request_id);
        put("x-ms-correlation-request-id", &self.correlation);
        if let Some(c) = &self.client_id {
            put("x-ms-client-request-id", c);
        }
        if let Some((class, left)) = self.quota {
            put(
                match class {
                    "reads" => "x-ms-ratelimit-remaining-subscription-reads",
                    "deletes" => "x-ms-ratelimit-remaining-subscription-deletes",
                    _ => "x-ms-ratelimit-remaining-subscription-writes",
                },
                &left.to_string(),
            );
        }
        for (k, v) in extra {
            put(k, v);
        }
        r
    }

    fn reply(&self, reply: Reply) -> Response {
        self.respond(reply.status, reply.body, &reply.headers)
    }

    fn error(&self, e: &ArmError) -> Response {
        let mut extra = vec![("x-ms-failure-cause", "gateway".to_owned())];
        if let Some(s) = e.retry_after {
            extra.push(("Retry-After", s.to_string()));
        }
        if e.status == 401 {
            extra.push((
                "WWW-Authenticate",
                "Bearer authorization_uri=\"https://login.microsoftonline.com/common\", error=\"invalid_token\"".to_owned(),
            ));
        }
        self.respond(e.status, Some(e.body()), &extra)
    }
}

/// Every tagged ARM resource (agent pools carry theirs in `properties.tags`).
pub(crate) fn tagged(arm: &ArmCloud, out: &mut Vec<Tagged>) {
    for res in arm.resources.values() {
        let tags = res
            .body
            .get("tags")
            .or_else(|| res.prop("tags"))
            .and_then(Value::as_object);
        let Some(tags) = tags else {
            continue;
        };
        out.push(Tagged {
            service: "arm",
            kind: catalog::type_spec(&res.rtype).map_or("resource", |t| t.rtype),
            id: res.id.clone(),
            region: res
                .body
                .get("location")
                .and_then(Value::as_str)
                .unwrap_or("global")
                .to_owned(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect(),
        });
    }
}

/// An ISO 8601 timestamp, as ARM prints them.
pub(crate) fn timestamp(ms: u64) -> String {
    iso8601(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_route_to_resources_collections_and_scopes() {
        let r = route("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/a").unwrap();
        let Route::Resource(rid) = r else {
            panic!("{r:?}")
        };
        assert_eq!(rid.rtype(), "Microsoft.Network/virtualNetworks/subnets");
        assert_eq!(rid.parent().unwrap().name(), "v");
        assert!(matches!(
            route("/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c/agentPools").unwrap(),
            Route::Collection { scope: Scope::Parent(_), .. }
        ));
        assert!(matches!(
            route("/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c/agentPools/p/upgradeProfiles/default").unwrap(),
            Route::UpgradeProfile(_)
        ));
        assert!(matches!(
            route("/subscriptions/s/providers/Microsoft.ContainerService/locations/westeurope/meshRevisionProfiles/istio").unwrap(),
            Route::MeshRevisionProfiles { mode: Some(_), .. }
        ));
        assert!(matches!(
            route("/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c/meshUpgradeProfiles").unwrap(),
            Route::MeshUpgradeProfiles { mode: None, .. }
        ));
        let Route::RoleAssignment { scope, name } = route("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/providers/Microsoft.Authorization/roleAssignments/g").unwrap() else { panic!() };
        assert_eq!(
            scope,
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v"
        );
        assert_eq!(name.as_deref(), Some("g"));
        assert!(route("/subscriptions/s/resourcegroups/rg").is_ok());
        assert!(route("/subscriptions//x").is_err());
        assert_eq!(
            parse_id("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/a").map(|r| r.name().to_owned()),
            Some("a".to_owned())
        );
        assert!(parse_id("/subscriptions/s/resourceGroups/rg").is_none());
    }

    #[test]
    fn api_versions_are_checked_per_type() {
        assert!(check_version(catalog::CLUSTER, "2026-08-01", "l").is_ok());
        assert_eq!(
            check_version(catalog::CLUSTER, "2019-01-01", "l")
                .unwrap_err()
                .code,
            "NoRegisteredProviderFound"
        );
        assert_eq!(
            check_version(catalog::RESOURCE_GROUP, "2019-01-01", "l")
                .unwrap_err()
                .code,
            "InvalidApiVersionParameter"
        );
        assert_eq!(
            check_version("Microsoft.Network/loadBalancers", "2024-05-01", "l")
                .unwrap_err()
                .code,
            "InvalidResourceType"
        );
        assert_eq!(
            check_version("Microsoft.Compute/virtualMachines", "2024-05-01", "l")
                .unwrap_err()
                .code,
            "InvalidResourceNamespace"
        );
    }
}
