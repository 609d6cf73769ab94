//! The HTTP front: hands ARM paths (`/subscriptions/…`, `/providers/…`) to the ARM side, routes
//! every other request by the service in its SigV4 credential scope, applies
//! rate limits and injected faults, validates parameters against the operation tables, runs
//! the handler under the cloud lock, persists, and renders the service's wire format.
//!
//! Signatures are never verified (any credentials work), but the `Authorization` header must
//! be there. This module must never implement a service's semantics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;

use crate::faults::{Decision, FaultConfig};
use crate::ratelimit::{Buckets, classify};
use crate::state::{Cloud, Ctx, Settings};
use crate::util::{now_ms, uuid};
use crate::wire::{ApiError, Params, Violation, Xml, check_json, check_query, escape};
use crate::{admin, arm, ec2, eks, iam};

/// Largest request body accepted.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// State shared by all connections.
pub(crate) struct Shared {
    /// Fixed settings.
    pub settings: Settings,
    /// Cloud, faults and buckets, under one lock so each request sees one consistent cloud.
    pub inner: Mutex<Inner>,
    /// Requests seen so far: the sequence number behind request ids and fault draws.
    pub requests: AtomicU64,
}

/// Mutable state.
pub(crate) struct Inner {
    /// The cloud.
    pub cloud: Cloud,
    /// The Azure Resource Manager cloud.
    pub arm: arm::ArmCloud,
    /// Faults in force.
    pub faults: FaultConfig,
    /// Rate-limit buckets.
    pub buckets: Buckets,
}

impl Shared {
    /// Locks the state; a handler that panicked cannot leave it half-written in a way that
    /// matters more than losing the emulator, so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Persists the cloud when a data directory is configured.
    pub(crate) fn persist(&self, cloud: &Cloud) {
        if let Some(path) = &self.settings.data_file
            && let Err(e) = cloud.save(path)
        {
            tracing::error!(path = %path.display(), error = %e, "cannot persist emulator state");
        }
    }

    /// Persists the ARM cloud when a data directory is configured.
    pub(crate) fn persist_arm(&self, arm: &arm::ArmCloud) {
        if let Some(path) = &self.settings.azure_file
            && let Err(e) = arm.save(path)
        {
            tracing::error!(path = %path.display(), error = %e, "cannot persist emulator state");
        }
    }
}

/// The wire protocol of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Ec2,
    Query(&'static str),
    Json,
}

fn protocol(service: &str) -> Option<(&'static str, Protocol)> {
    Some(match service {
        "ec2" => ("ec2", Protocol::Ec2),
        "iam" => (
            "iam",
            Protocol::Query("https://iam.amazonaws.com/doc/2010-05-08/"),
        ),
        "sts" => (
            "sts",
            Protocol::Query("https://sts.amazonaws.com/doc/2011-06-15/"),
        ),
        "eks" => ("eks", Protocol::Json),
        _ => return None,
    })
}

/// `(region, service)` from `AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, …`.
fn credential_scope(auth: &str) -> Option<(String, String)> {
    let cred = auth.split("Credential=").nth(1)?;
    let cred = cred.split([',', ' ']).next()?;
    let parts: Vec<&str> = cred.split('/').collect();
    match parts.as_slice() {
        [_, _, region, service, "aws4_request"] => {
            Some(((*region).to_owned(), (*service).to_owned()))
        }
        _ => None,
    }
}

/// The entry point for every request.
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or("").to_owned();
    let Ok(body) = to_bytes(body, MAX_BODY).await else {
        return plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large or unreadable",
        );
    };
    if let Some(rest) = path.strip_prefix("/_emulator/") {
        return admin::handle(&shared, &parts.method, rest, &query, &body);
    }
    if arm::is_arm_path(&path) {
        let n = shared.requests.fetch_add(1, Ordering::Relaxed);
        let decision = shared.lock().faults.decide(n);
        if let Some(delay) = decision.delay {
            tokio::time::sleep(delay).await;
        }
        let req = arm::ArmRequest {
            method: parts.method,
            path,
            query,
            headers: parts.headers,
            body: body.to_vec(),
            n,
        };
        return arm::serve(&shared, req, decision);
    }
    let scope = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(credential_scope);
    let Some((region, service)) = scope else {
        return plain(
            StatusCode::FORBIDDEN,
            "MissingAuthenticationToken: the emulator needs a SigV4 Authorization header; its credential scope (…/REGION/SERVICE/aws4_request) selects the service",
        );
    };
    let Some((service, proto)) = protocol(&service) else {
        return plain(
            StatusCode::BAD_REQUEST,
            &format!(
                "UnknownService: the emulator does not serve `{service}` (it serves ec2, iam, sts, eks)"
            ),
        );
    };
    let n = shared.requests.fetch_add(1, Ordering::Relaxed);
    let request_id = uuid(shared.settings.seed ^ 0x5eed_0000_0000_0000 ^ n);
    // IAM and STS are global: their objects live in one partition-wide namespace.
    let region = if proto == Protocol::Json || service == "ec2" {
        region
    } else {
        "us-east-1".to_owned()
    };
    let call = Call {
        service,
        proto,
        region,
        method: parts.method,
        path,
        query,
        body: body.to_vec(),
        request_id,
    };
    let decision = shared.lock().faults.decide(n);
    if let Some(delay) = decision.delay {
        tokio::time::sleep(delay).await;
    }
    call.run(&shared, decision)
}

struct Call {
    service: &'static str,
    proto: Protocol,
    region: String,
    method: Method,
    path: String,
    query: String,
    body: Vec<u8>,
    request_id: String,
}

/// A parsed request, ready for its handler.
enum Parsed {
    Query {
        op: String,
        params: Params,
    },
    Json {
        route: eks::Route,
        body: serde_json::Map<String, serde_json::Value>,
        query: Vec<(String, String)>,
    },
}

impl Call {
    fn op_name(parsed: &Parsed) -> &str {
        match parsed {
            Parsed::Query { op, .. } => op,
            Parsed::Json { route, .. } => route.op,
        }
    }

    fn parse(&self) -> Result<Parsed, ApiError> {
        match self.proto {
            Protocol::Ec2 | Protocol::Query(_) => {
                let mut params = Params::parse(&self.body);
                params.extend(Params::parse(self.query.as_bytes()));
                let op = params
                    .get("Action")
                    .ok_or_else(|| {
                        ApiError::bad(
                            "MissingAction",
                            "The request must contain the parameter Action",
                        )
                    })?
                    .to_owned();
                Ok(Parsed::Query { op, params })
            }
            Protocol::Json => {
                let route = eks::route(&self.method, &self.path).ok_or_else(|| {
                    ApiError::new(
                        404,
                        "UnknownOperationException",
                        format!("no EKS operation for {} {}", self.method, self.path),
                    )
                })?;
                let body = if self.body.iter().all(u8::is_ascii_whitespace) {
                    serde_json::Map::new()
                } else {
                    match serde_json::from_slice::<serde_json::Value>(&self.body) {
                        Ok(serde_json::Value::Object(m)) => m,
                        _ => {
                            return Err(ApiError::bad(
                                "SerializationException",
                                "request body is not a JSON object",
                            ));
                        }
                    }
                };
                let query = form_urlencoded::parse(self.query.as_bytes())
                    .into_owned()
                    .collect();
                Ok(Parsed::Json { route, body, query })
            }
        }
    }

    fn run(self, shared: &Shared, decision: Decision) -> Response {
        let parsed = match self.parse() {
            Ok(p) => p,
            Err(e) => return self.error(&e),
        };
        let op = Self::op_name(&parsed).to_owned();
        let mut guard = shared.lock();
        let inner = &mut *guard;
        if inner.faults.rate_limits {
            let unfiltered = match &parsed {
                Parsed::Query { params, .. } => {
                    !params.has("Filter")
                        && !params.has("GroupId")
                        && !params.has("MaxResults")
                        && !params.has("GroupName")
                }
                Parsed::Json { .. } => false,
            };
            if !inner.buckets.take(
                &self.region,
                self.service,
                classify(self.service, &op, unfiltered),
            ) {
                return self.error(&self.throttled(true));
            }
        }
        if decision.throttle {
            return self.error(&self.throttled(false));
        }
        if let Some(unavailable) = decision.server_error {
            return self.error(&self.server_error(unavailable));
        }
        let checked = match &parsed {
            Parsed::Query { op, params } => check_query(self.service, op, params),
            Parsed::Json { route, body, query } => check_json(self.service, route.op, body, query),
        };
        if let Err(v) = checked {
            return self.error(&self.violation(&op, v));
        }
        let now = now_ms();
        let swept = inner.cloud.sweep(now);
        let mut ctx = Ctx {
            cloud: &mut inner.cloud,
            region: self.region.clone(),
            now,
            settings: &shared.settings,
            faults: &inner.faults,
            ops: Vec::new(),
        };
        let mutating = !["Describe", "List", "Get"]
            .iter()
            .any(|p| op.starts_with(p));
        let response = match &parsed {
            Parsed::Query { op, params } => {
                let result = match self.service {
                    "ec2" => ec2::handle(&mut ctx, op, params),
                    "sts" => iam::sts(&mut ctx, op, params),
                    _ => iam::handle(&mut ctx, op, params),
                };
                match result {
                    Ok(xml) => Ok(self.xml_ok(op, xml)),
                    Err(e) => Err(e),
                }
            }
            Parsed::Json { route, body, query } => {
                eks::handle(&mut ctx, route, body, query).map(|v| self.json_ok(&v))
            }
        };
        let ops = std::mem::take(&mut ctx.ops);
        let logged = response.is_ok() && !ops.is_empty();
        if logged {
            inner.cloud.oplog.extend(ops);
        }
        if swept || logged || (mutating && response.is_ok()) {
            shared.persist(&inner.cloud);
        }
        drop(guard);
        response.unwrap_or_else(|e| self.error(&e))
    }

    fn throttled(&self, rate_limit: bool) -> ApiError {
        match self.proto {
            Protocol::Ec2 => ApiError::new(503, "RequestLimitExceeded", "Request limit exceeded."),
            Protocol::Query(_) => ApiError::new(400, "Throttling", "Rate exceeded"),
            Protocol::Json if rate_limit => {
                ApiError::new(429, "TooManyRequestsException", "Too Many Requests")
            }
            Protocol::Json => ApiError::new(429, "ThrottlingException", "Rate exceeded"),
        }
    }

    fn server_error(&self, unavailable: bool) -> ApiError {
        let (code500, code503) = match self.proto {
            Protocol::Ec2 => ("InternalError", "Unavailable"),
            Protocol::Query(_) => ("ServiceFailure", "ServiceUnavailable"),
            Protocol::Json => ("ServerException", "ServiceUnavailableException"),
        };
        if unavailable {
            ApiError::new(
                503,
                code503,
                "The service is unavailable. Please try again shortly.",
            )
        } else {
            ApiError::new(500, code500, "An internal error has occurred")
        }
    }

    fn violation(&self, op: &str, v: Violation) -> ApiError {
        match (self.proto, v) {
            (Protocol::Json, Violation::UnknownOperation) => ApiError::new(
                404,
                "UnknownOperationException",
                format!("{op} is not emulated"),
            ),
            (_, Violation::UnknownOperation) => ApiError::bad(
                "InvalidAction",
                format!("The action {op} is not valid for this web service."),
            ),
            (Protocol::Ec2, Violation::Unknown(p)) => ApiError::bad(
                "UnknownParameter",
                format!("The parameter {p} is not recognized"),
            ),
            (Protocol::Ec2, Violation::Missing(p)) => ApiError::bad(
                "MissingParameter",
                format!("The request must contain the parameter {p}"),
            ),
            (Protocol::Query(_), Violation::Unknown(p)) => ApiError::bad(
                "ValidationError",
                format!("1 validation error detected: parameter {p} is not recognized by {op}"),
            ),
            (Protocol::Query(_), Violation::Missing(p)) => ApiError::bad(
                "ValidationError",
                format!(
                    "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                    lower_first(&p)
                ),
            ),
            (Protocol::Json, Violation::Unknown(p)) => ApiError::bad(
                "InvalidParameterException",
                format!("Unrecognized field \"{p}\" for {op}"),
            ),
            (Protocol::Json, Violation::Missing(p)) => ApiError::bad(
                "InvalidParameterException",
                format!("{p} is required and must not be null"),
            ),
        }
    }

    fn xml_ok(&self, op: &str, inner: Xml) -> Response {
        let inner = inner.finish();
        let body = match self.proto {
            Protocol::Query(ns) => format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{op}Response xmlns=\"{ns}\"><{op}Result>{inner}</{op}Result><ResponseMetadata><RequestId>{id}</RequestId></ResponseMetadata></{op}Response>",
                id = self.request_id
            ),
            _ => format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{op}Response xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>{id}</requestId>{inner}</{op}Response>",
                id = self.request_id
            ),
        };
        self.respond(StatusCode::OK, "text/xml;charset=UTF-8", body, None)
    }

    fn json_ok(&self, value: &serde_json::Value) -> Response {
        self.respond(StatusCode::OK, "application/json", value.to_string(), None)
    }

    fn error(&self, e: &ApiError) -> Response {
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
        let (code, message, id) = (escape(&e.code), escape(&e.message), &self.request_id);
        match self.proto {
            Protocol::Ec2 => self.respond(
                status,
                "text/xml;charset=UTF-8",
                format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>{id}</RequestID></Response>"),
                None,
            ),
            Protocol::Query(ns) => {
                let kind = if e.status >= 500 { "Receiver" } else { "Sender" };
                self.respond(
                    status,
                    "text/xml",
                    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse xmlns=\"{ns}\"><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{id}</RequestId></ErrorResponse>"),
                    None,
                )
            }
            Protocol::Json => self.respond(
                status,
                "application/json",
                serde_json::json!({ "message": e.message }).to_string(),
                Some(&e.code),
            ),
        }
    }

    fn respond(
        &self,
        status: StatusCode,
        content_type: &str,
        body: String,
        error_type: Option<&str>,
    ) -> Response {
        let mut r = Response::new(Body::from(body));
        *r.status_mut() = status;
        let h = r.headers_mut();
        if let Ok(v) = HeaderValue::from_str(content_type) {
            h.insert(header::CONTENT_TYPE, v);
        }
        if let Ok(v) = HeaderValue::from_str(&self.request_id) {
            h.insert("x-amzn-RequestId", v);
        }
        if let Some(code) = error_type
            && let Ok(v) = HeaderValue::from_str(code)
        {
            h.insert("x-amzn-ErrorType", v);
        }
        r
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// A plain-text answer for requests that never reached a service.
pub(crate) fn plain(status: StatusCode, text: &str) -> Response {
    let mut r = Response::new(Body::from(text.to_owned()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credential_scope_names_region_and_service() {
        let auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/eu-west-1/eks/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
        assert_eq!(
            credential_scope(auth),
            Some(("eu-west-1".to_owned(), "eks".to_owned()))
        );
        assert_eq!(credential_scope("Bearer x"), None);
        assert_eq!(credential_scope("AWS4-HMAC-SHA256 Credential=A/B/C"), None);
    }
}
