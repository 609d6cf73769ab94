//! A thin ARM client on azure_core's pipeline, and the long-running-operation poller.
//!
//! Requests are built for the logical endpoint `https://management.azure.com` and pass
//! azure_core's bearer-token policy (per try, so tokens refresh) and its retry policy, which
//! retries 408, 429 and 5xx answers of each call a few times with jittered exponential backoff,
//! honouring `Retry-After` (see [`RETRY`]); the engine retries whole operations on top.
//! Emulator runs swap only the transport (see `transport`).
//!
//! The poller follows ARM's rules after PUT, PATCH, DELETE and POST: `Azure-AsyncOperation`
//! first (its `status`), then `Location` (202 until done), then the resource's
//! `provisioningState` (GET until terminal), waiting `Retry-After` between polls. It never
//! follows a polling URL to another host than the one the request went to.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
use azure_core::http::{
    ClientOptions, Context, ExponentialRetryOptions, Method, Pipeline, PipelineSendOptions,
    Request, RetryOptions, Transport, Url,
};
use serde::Deserialize;
use serde_json::Value as Json;
use slipway_provider::clock::{cloud_time, wall_bound, wall_sleep};
use slipway_provider::{ErrorClass, ProviderError};
use tokio::time::Instant;

use super::credential::ARM_SCOPE;
use super::errors::{self, ArmErrorDetail};
use super::transport::{ARM_ENDPOINT, is_loopback};

/// Per-call retries of throttled and transient answers (azure_core's exponential policy).
pub(crate) fn retry_options() -> RetryOptions {
    RetryOptions::exponential(RETRY)
}

/// Four retries starting at 250 ms, at most 30 s apart and 90 s in all: enough to ride out a
/// throttling window without hiding a real outage from the engine's own retries.
pub(crate) const RETRY: ExponentialRetryOptions = ExponentialRetryOptions {
    initial_delay: azure_core::time::Duration::milliseconds(250),
    max_retries: 4,
    max_total_elapsed: azure_core::time::Duration::seconds(90),
    max_delay: azure_core::time::Duration::seconds(30),
};

/// The HTTP methods Slipway sends to ARM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArmMethod {
    /// Read.
    Get,
    /// Create or replace.
    Put,
    /// Partial update.
    Patch,
    /// Delete.
    Delete,
    /// Action.
    Post,
}

impl ArmMethod {
    fn http(self) -> Method {
        match self {
            ArmMethod::Get => Method::Get,
            ArmMethod::Put => Method::Put,
            ArmMethod::Patch => Method::Patch,
            ArmMethod::Delete => Method::Delete,
            ArmMethod::Post => Method::Post,
        }
    }

    /// The method's name, e.g. `PUT`.
    pub fn as_str(self) -> &'static str {
        match self {
            ArmMethod::Get => "GET",
            ArmMethod::Put => "PUT",
            ArmMethod::Patch => "PATCH",
            ArmMethod::Delete => "DELETE",
            ArmMethod::Post => "POST",
        }
    }
}

/// One ARM answer.
#[derive(Debug, Clone)]
pub struct ArmResponse {
    /// HTTP status.
    pub status: u16,
    /// `Azure-AsyncOperation`, when present.
    pub async_operation: Option<String>,
    /// `Location`, when present.
    pub location: Option<String>,
    /// `Retry-After` in seconds, when present and numeric.
    pub retry_after: Option<u64>,
    /// The body.
    pub body: Vec<u8>,
}

impl ArmResponse {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON; `None` when empty.
    pub fn json(&self, operation: &str) -> Result<Option<Json>, ProviderError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(&self.body).map(Some).map_err(|e| {
            ProviderError::new(
                ErrorClass::Fatal,
                operation,
                "InvalidResponse",
                format!("the response body is not JSON: {e}"),
            )
        })
    }
}

/// A client for ARM's REST API.
#[derive(Debug, Clone)]
pub struct ArmClient {
    pipeline: Pipeline,
    /// The loopback endpoint of an emulator run, whose polling URLs map back to the logical
    /// endpoint.
    loopback: Option<Url>,
    /// The longest a long-running operation is polled.
    lro_limit: Duration,
    /// The poll interval when the service sends no `Retry-After`, doubling to 10 s.
    first_poll: Duration,
    /// How many times faster than real time the cloud runs: `lro_limit` and the intervals
    /// above are cloud time (see [`slipway_provider::clock`]).
    clock_scale: f64,
}

/// How long a long-running operation may run: AKS creates take 5-15 minutes, deletes of a
/// resource group with a cluster in it longer.
const LRO_LIMIT: Duration = Duration::from_secs(90 * 60);
/// The longest pause between two polls, whatever `Retry-After` says.
const MAX_POLL: Duration = Duration::from_secs(60);
/// The longest backoff interval between polls without `Retry-After` (cloud time).
const MAX_BACKOFF: Duration = Duration::from_secs(10);
impl ArmClient {
    /// A client sending through `transport`, authenticated by `credential`. `loopback` is the
    /// emulator's address when the transport redirects there.
    pub(crate) fn new(
        transport: Transport,
        credential: Arc<dyn TokenCredential>,
        loopback: Option<Url>,
    ) -> Self {
        let options = ClientOptions {
            transport: Some(transport),
            retry: retry_options(),
            ..ClientOptions::default()
        };
        let auth = Arc::new(BearerTokenAuthorizationPolicy::new(credential, [ARM_SCOPE]));
        let pipeline = Pipeline::new(
            Some(env!("CARGO_PKG_NAME")),
            Some(env!("CARGO_PKG_VERSION")),
            options,
            Vec::new(),
            vec![auth],
            None,
        );
        Self {
            pipeline,
            loopback,
            lro_limit: LRO_LIMIT,
            first_poll: Duration::from_secs(1),
            clock_scale: 1.0,
        }
    }

    /// The same client for a cloud running `clock_scale` times faster than real time.
    pub(crate) fn with_clock_scale(mut self, clock_scale: f64) -> Self {
        self.clock_scale = clock_scale;
        self
    }

    /// How many times faster than real time the cloud runs.
    pub(crate) fn clock_scale(&self) -> f64 {
        self.clock_scale
    }

    /// The same client with another bound and first interval for polls (cloud time; tests use
    /// short ones).
    pub fn with_polling(mut self, limit: Duration, first_poll: Duration) -> Self {
        self.lro_limit = limit;
        self.first_poll = first_poll;
        self
    }

    /// The URL of an ARM path (`/subscriptions/…?api-version=…`) or of a polling URL ARM sent.
    fn url(&self, operation: &str, path_or_url: &str) -> Result<Url, ProviderError> {
        let bad = |why: String| ProviderError::new(ErrorClass::Fatal, operation, "InvalidUrl", why);
        let base = Url::parse(ARM_ENDPOINT).map_err(|e| bad(e.to_string()))?;
        if path_or_url.starts_with('/') {
            return base
                .join(path_or_url)
                .map_err(|e| bad(format!("`{path_or_url}`: {e}")));
        }
        let url = Url::parse(path_or_url).map_err(|e| bad(format!("`{path_or_url}`: {e}")))?;
        let same_origin = |a: &Url, b: &Url| {
            a.scheme() == b.scheme()
                && a.host_str().map(str::to_ascii_lowercase)
                    == b.host_str().map(str::to_ascii_lowercase)
                && a.port_or_known_default() == b.port_or_known_default()
        };
        let emulator = self.loopback.as_ref().is_some_and(|l| {
            is_loopback(&url) && url.port_or_known_default() == l.port_or_known_default()
        });
        if same_origin(&url, &base) || emulator {
            let mut logical = base;
            logical.set_path(url.path());
            logical.set_query(url.query());
            Ok(logical)
        } else {
            Err(bad(format!(
                "ARM sent the polling URL `{path_or_url}`, which is not on {ARM_ENDPOINT}; \
                 Slipway sends credentials nowhere else"
            )))
        }
    }

    /// Sends one request; any status is returned as a response, only transport failures and
    /// credential failures are errors.
    pub async fn send(
        &self,
        method: ArmMethod,
        path: &str,
        body: Option<&Json>,
        operation: &str,
    ) -> Result<ArmResponse, ProviderError> {
        let url = self.url(operation, path)?;
        let mut request = Request::new(url, method.http());
        request.insert_header("accept", "application/json");
        if let Some(body) = body {
            let bytes = serde_json::to_vec(body).map_err(|e| {
                ProviderError::new(ErrorClass::Fatal, operation, "InvalidBody", e.to_string())
            })?;
            request.insert_header("content-type", "application/json");
            request.set_body(bytes);
        }
        let response = self
            .pipeline
            .send(
                &Context::new(),
                &mut request,
                Some(PipelineSendOptions {
                    skip_checks: true,
                    ..PipelineSendOptions::default()
                }),
            )
            .await
            .map_err(|e| errors::transport(operation, &e))?;
        let (status, headers, body) = response.deconstruct();
        let header = |name: &'static str| {
            headers
                .get_optional_str(&azure_core::http::headers::HeaderName::from_static(name))
                .map(str::to_owned)
        };
        Ok(ArmResponse {
            status: u16::from(status),
            async_operation: header("azure-asyncoperation"),
            location: header("location"),
            retry_after: header("retry-after").and_then(|v| v.trim().parse().ok()),
            body: body.to_vec(),
        })
    }

    /// Sends a request and fails on a non-2xx answer.
    pub async fn call(
        &self,
        method: ArmMethod,
        path: &str,
        body: Option<&Json>,
        operation: &str,
    ) -> Result<ArmResponse, ProviderError> {
        let response = self.send(method, path, body, operation).await?;
        if response.is_success() {
            Ok(response)
        } else {
            Err(errors::from_response(
                operation,
                response.status,
                &response.body,
            ))
        }
    }

    /// Sends a mutating request and follows its long-running operation to the end, calling
    /// `progress` with the elapsed time before each pause. Returns the final resource (PUT,
    /// PATCH), the operation's result (POST), or `None` (DELETE, or no body).
    pub async fn execute(
        &self,
        method: ArmMethod,
        path: &str,
        body: Option<&Json>,
        operation: &str,
        progress: &(dyn Fn(Duration) + Send + Sync),
    ) -> Result<Option<Json>, ProviderError> {
        let initial = self.call(method, path, body, operation).await?;
        self.follow(method, path, initial, operation, progress)
            .await
    }

    /// Follows the long-running operation `initial` started.
    pub async fn follow(
        &self,
        method: ArmMethod,
        path: &str,
        initial: ArmResponse,
        operation: &str,
        progress: &(dyn Fn(Duration) + Send + Sync),
    ) -> Result<Option<Json>, ProviderError> {
        let mut poll = Poller::new(self, operation, progress);
        if initial.status == 204 {
            return Ok(None);
        }
        let body = initial.json(operation)?;
        if let Some(url) = &initial.async_operation {
            poll.wait(initial.retry_after).await?;
            self.poll_async_operation(&mut poll, url).await?;
            return match method {
                ArmMethod::Put | ArmMethod::Patch => {
                    let done = self.call(ArmMethod::Get, path, None, operation).await?;
                    done.json(operation)
                }
                ArmMethod::Post => match &initial.location {
                    Some(location) => {
                        let done = self.call(ArmMethod::Get, location, None, operation).await?;
                        done.json(operation)
                    }
                    None => Ok(None),
                },
                ArmMethod::Delete | ArmMethod::Get => Ok(None),
            };
        }
        if let Some(url) = &initial.location {
            poll.wait(initial.retry_after).await?;
            return self.poll_location(&mut poll, url).await;
        }
        if initial.status == 202 {
            return Err(ProviderError::new(
                ErrorClass::Fatal,
                operation,
                "InvalidResponse",
                "202 Accepted without an Azure-AsyncOperation or Location header",
            ));
        }
        match provisioning_state(body.as_ref()) {
            Some(state)
                if !is_terminal(&state) && matches!(method, ArmMethod::Put | ArmMethod::Patch) =>
            {
                poll.wait(initial.retry_after).await?;
                self.poll_provisioning_state(&mut poll, path).await
            }
            _ => check_final(operation, body),
        }
    }

    async fn poll_async_operation(
        &self,
        poll: &mut Poller<'_>,
        url: &str,
    ) -> Result<(), ProviderError> {
        let operation = poll.operation;
        loop {
            let response = self.call(ArmMethod::Get, url, None, operation).await?;
            let status: AsyncOperation = match response.json(operation)? {
                Some(json) => serde_json::from_value(json).map_err(|e| {
                    ProviderError::new(
                        ErrorClass::Fatal,
                        operation,
                        "InvalidResponse",
                        format!("the operation status has no `status`: {e}"),
                    )
                })?,
                None => {
                    return Err(ProviderError::new(
                        ErrorClass::Fatal,
                        operation,
                        "InvalidResponse",
                        "the operation status is empty",
                    ));
                }
            };
            if status.status.eq_ignore_ascii_case("succeeded") {
                return Ok(());
            }
            if is_terminal(&status.status) {
                return Err(errors::operation_failed(
                    operation,
                    &status.status,
                    status.error,
                ));
            }
            poll.wait(response.retry_after).await?;
        }
    }

    async fn poll_location(
        &self,
        poll: &mut Poller<'_>,
        url: &str,
    ) -> Result<Option<Json>, ProviderError> {
        let operation = poll.operation;
        let mut url = url.to_owned();
        loop {
            let response = self.call(ArmMethod::Get, &url, None, operation).await?;
            match response.status {
                202 => {
                    // A poll may move the operation to a new Location.
                    if let Some(next) = &response.location {
                        url.clone_from(next);
                    }
                    poll.wait(response.retry_after).await?
                }
                204 => return Ok(None),
                _ => return check_final(operation, response.json(operation)?),
            }
        }
    }

    async fn poll_provisioning_state(
        &self,
        poll: &mut Poller<'_>,
        path: &str,
    ) -> Result<Option<Json>, ProviderError> {
        let operation = poll.operation;
        loop {
            let response = self.call(ArmMethod::Get, path, None, operation).await?;
            let body = response.json(operation)?;
            match provisioning_state(body.as_ref()) {
                Some(state) if !is_terminal(&state) => poll.wait(response.retry_after).await?,
                _ => return check_final(operation, body),
            }
        }
    }
}

/// The body of an `Azure-AsyncOperation` status.
#[derive(Debug, Deserialize)]
struct AsyncOperation {
    status: String,
    #[serde(default)]
    error: Option<ArmErrorDetail>,
}

/// `properties.provisioningState` of a resource body.
pub(crate) fn provisioning_state(body: Option<&Json>) -> Option<String> {
    body?
        .get("properties")?
        .get("provisioningState")?
        .as_str()
        .map(str::to_owned)
}

/// Whether an operation or provisioning state is final.
pub(crate) fn is_terminal(state: &str) -> bool {
    ["succeeded", "failed", "canceled", "cancelled"]
        .iter()
        .any(|t| state.eq_ignore_ascii_case(t))
}

/// A final resource body: an error when its provisioning state says the operation failed.
fn check_final(operation: &str, body: Option<Json>) -> Result<Option<Json>, ProviderError> {
    if let Some(state) = provisioning_state(body.as_ref())
        && is_terminal(&state)
        && !state.eq_ignore_ascii_case("succeeded")
    {
        let error = body
            .as_ref()
            .and_then(|b| b.get("properties")?.get("error").cloned())
            .and_then(|e| serde_json::from_value(e).ok());
        return Err(errors::operation_failed(operation, &state, error));
    }
    Ok(body)
}

/// Pauses between polls, bounded in total.
struct Poller<'a> {
    operation: &'a str,
    progress: &'a (dyn Fn(Duration) + Send + Sync),
    start: Instant,
    limit: Duration,
    interval: Duration,
    clock_scale: f64,
}

impl<'a> Poller<'a> {
    fn new(
        client: &ArmClient,
        operation: &'a str,
        progress: &'a (dyn Fn(Duration) + Send + Sync),
    ) -> Self {
        Self {
            operation,
            progress,
            start: Instant::now(),
            limit: wall_bound(client.lro_limit, client.clock_scale),
            interval: client.first_poll,
            clock_scale: client.clock_scale,
        }
    }

    /// Waits `Retry-After` seconds, or the next backoff interval without one.
    async fn wait(&mut self, retry_after: Option<u64>) -> Result<(), ProviderError> {
        let elapsed = self.start.elapsed();
        let cloud_elapsed = cloud_time(elapsed, self.clock_scale);
        if elapsed >= self.limit {
            return Err(ProviderError::new(
                ErrorClass::Fatal,
                self.operation,
                "OperationTimeout",
                format!(
                    "the operation was still running after {}",
                    elapsed_text(cloud_elapsed)
                ),
            ));
        }
        (self.progress)(cloud_elapsed);
        tokio::time::sleep(self.pause(retry_after)).await;
        Ok(())
    }

    /// The wall time to pause: the operation's `Retry-After`, else the next backoff interval,
    /// both cloud time divided by the clock scale. Throttling never reaches here: a 429's
    /// `Retry-After` is honoured as sent by the pipeline's retry policy (see [`RETRY`]), and
    /// an operation's `Retry-After` is the cloud's estimate of its remaining (cloud) time.
    fn pause(&mut self, retry_after: Option<u64>) -> Duration {
        let cloud = match retry_after {
            Some(s) => Duration::from_secs(s),
            None => {
                let p = self.interval;
                self.interval = (self.interval * 2).min(MAX_BACKOFF);
                p
            }
        };
        wall_sleep(cloud.min(MAX_POLL), self.clock_scale)
    }
}

/// Human form of an elapsed time: `45s`, `2m10s`.
pub(crate) fn elapsed_text(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use slipway_provider::clock::{MIN_BOUND, wall_time};

    #[test]
    fn terminal_states_and_failed_final_bodies() {
        assert!(is_terminal("Succeeded") && is_terminal("canceled") && is_terminal("Failed"));
        assert!(!is_terminal("Creating") && !is_terminal("InProgress"));
        let failed = json!({"properties": {"provisioningState": "Failed"}});
        let e = check_final("PUT x", Some(failed)).unwrap_err();
        assert_eq!(e.code, "Failed");
        let ok = json!({"properties": {"provisioningState": "Succeeded"}});
        assert!(check_final("PUT x", Some(ok)).is_ok());
        assert_eq!(elapsed_text(Duration::from_secs(80)), "1m20s");
    }

    #[test]
    fn polling_urls_stay_on_arm_or_the_emulator() {
        let transport = Transport::new(Arc::new(
            super::super::transport::Loopback::new("http://127.0.0.1:4000").unwrap(),
        ));
        let credential = Arc::new(super::super::credential::StaticToken("t".into()));
        let loopback = Url::parse("http://127.0.0.1:4000").ok();
        let client = ArmClient::new(transport, credential, loopback);
        let u = client.url("x", "/subscriptions/s?api-version=1").unwrap();
        assert_eq!(
            u.as_str(),
            "https://management.azure.com/subscriptions/s?api-version=1"
        );
        let u = client.url("x", "http://127.0.0.1:4000/ops/1?a=b").unwrap();
        assert_eq!(u.as_str(), "https://management.azure.com/ops/1?a=b");
        let u = client
            .url("x", "https://management.azure.com/ops/2")
            .unwrap();
        assert_eq!(u.path(), "/ops/2");
        assert!(client.url("x", "https://evil.example/ops").is_err());
        assert!(client.url("x", "http://127.0.0.1:4001/ops").is_err());
    }

    #[test]
    fn the_clock_scale_shortens_operation_polls() {
        let transport = Transport::new(Arc::new(
            super::super::transport::Loopback::new("http://127.0.0.1:4000").unwrap(),
        ));
        let credential = Arc::new(super::super::credential::StaticToken("t".into()));
        let progress = |_: Duration| {};
        let real = ArmClient::new(transport.clone(), credential.clone(), None);
        let mut poller = Poller::new(&real, "x", &progress);
        assert_eq!(poller.pause(None), Duration::from_secs(1));
        assert_eq!(poller.pause(None), Duration::from_secs(2));
        assert_eq!(poller.pause(Some(3)), Duration::from_secs(3));
        assert_eq!(poller.limit, LRO_LIMIT);

        let fast = ArmClient::new(transport, credential, None).with_clock_scale(100.0);
        let mut poller = Poller::new(&fast, "x", &progress);
        assert_eq!(poller.limit, MIN_BOUND, "90 min / 100 is under the floor");
        assert_eq!(poller.pause(None), Duration::from_millis(20), "the floor");
        assert_eq!(poller.pause(None), Duration::from_millis(20));
        assert_eq!(poller.pause(None), Duration::from_millis(40));
        for _ in 0..5 {
            poller.pause(None);
        }
        assert_eq!(poller.pause(None), Duration::from_millis(100), "10 s cap");
        assert_eq!(poller.pause(Some(3)), Duration::from_millis(30));
        assert_eq!(
            poller.pause(Some(600)),
            Duration::from_millis(600),
            "60 s cap"
        );
        assert_eq!(
            cloud_time(Duration::from_millis(20), 100.0),
            Duration::from_secs(2)
        );
        assert_eq!(
            wall_time(Duration::from_secs(5), f64::NAN),
            Duration::from_secs(5)
        );
    }
}
