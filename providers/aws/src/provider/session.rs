//! One provider call on one resource: pacing and intent journaling around each SDK call, error
//! attribution, and the two loops long operations need (waiter polls and bounded retries of
//! deletes blocked by dependents that are still going away).
//!
//! Every mutating SDK call goes through [`Session::mutating`] first, which journals the intent;
//! a call whose intent could not be journaled must never be sent. The engine paces a
//! provider call once with the kind's API class before invoking it; that token pays for the
//! first mutating SDK call, and every further call (reads and later mutations) is paced here.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use slipway_provider::clock::{cloud_time, wall_bound, wall_sleep};
use slipway_provider::{Address, ApiClass, ErrorClass, OpContext, ProviderError};
use tokio::time::Instant;

use super::errors;

/// Pacing, journaling and error attribution for one provider call on one resource.
pub(crate) struct Session<'a> {
    /// The engine's context.
    pub ctx: &'a OpContext,
    /// The resource the call is for.
    pub address: &'a Address,
    /// Whether the token the engine acquired before the call is still unused.
    engine_token: AtomicBool,
    /// How many times faster than real time the cloud runs (see [`slipway_provider::clock`]).
    clock_scale: f64,
}

impl<'a> Session<'a> {
    /// A session for a call the engine paced (create, update, delete).
    pub fn paced(ctx: &'a OpContext, address: &'a Address, clock_scale: f64) -> Self {
        Self {
            ctx,
            address,
            engine_token: AtomicBool::new(true),
            clock_scale,
        }
    }

    /// A session for a call the engine did not pace (read, wait).
    pub fn unpaced(ctx: &'a OpContext, address: &'a Address, clock_scale: f64) -> Self {
        Self {
            ctx,
            address,
            engine_token: AtomicBool::new(false),
            clock_scale,
        }
    }

    /// Paces and journals a mutating call of `operation`; the call must not be sent on error.
    pub async fn mutating(
        &self,
        operation: &str,
        api: &str,
        detail: serde_json::Value,
    ) -> Result<(), ProviderError> {
        if !self.engine_token.swap(false, Ordering::SeqCst) {
            self.ctx.pace(&ApiClass::new(api)).await;
        }
        self.ctx.intent(self.address, operation, detail).await
    }

    /// Paces a read call.
    pub async fn read(&self, api: &str) {
        self.ctx.pace(&ApiClass::new(api)).await;
    }

    /// Attributes an SDK error of `operation` to this resource.
    pub fn fail<E>(&self, operation: &str, err: SdkError<E, HttpResponse>) -> ProviderError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        errors::sdk(operation, err).at(self.address)
    }

    /// An error of this resource not coming from AWS (e.g. an answer missing a field).
    pub fn error(
        &self,
        class: ErrorClass,
        operation: &str,
        code: &str,
        message: impl Into<String>,
    ) -> ProviderError {
        ProviderError::new(class, operation, code, message).at(self.address)
    }

    /// An AWS answer that lacks a field Slipway needs.
    pub fn missing(&self, operation: &str, field: &str) -> ProviderError {
        self.error(
            ErrorClass::Transient,
            operation,
            "IncompleteResponse",
            format!("the response has no `{field}`"),
        )
    }

    /// Reports progress.
    pub fn progress(&self, message: &str) {
        self.ctx.progress(self.address, message);
    }
}

/// A waiter as botocore's `waiters-2.json` defines it: the poll interval and the number of
/// attempts, whose product bounds the wait.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Waiter {
    /// The waiter's name, e.g. `ClusterActive`, for errors.
    pub name: &'static str,
    /// The waiter's delay between polls; polls start faster and back off to it.
    pub delay: Duration,
    /// The waiter's attempts.
    pub max_attempts: u32,
}

impl Waiter {
    /// A waiter of `delay` seconds and `max_attempts` attempts.
    pub const fn new(name: &'static str, delay_secs: u64, max_attempts: u32) -> Self {
        Self {
            name,
            delay: Duration::from_secs(delay_secs),
            max_attempts,
        }
    }
}

/// The first poll interval: objects of an emulator or a fast cloud path are ready in seconds.
const FIRST_POLL: Duration = Duration::from_secs(1);

/// One observation of a wait.
pub(crate) enum Poll<T> {
    /// The success acceptor matched.
    Done(T),
    /// Not yet; the status to report, e.g. `CREATING`.
    Pending(String),
}

/// Human form of an elapsed time: `45s`, `2m10s`.
fn elapsed(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// Polls `check` (paced with `read_api`) until it is done, fails, or the waiter's bound
/// (delay × attempts, in cloud time) passes. Failure acceptors are `check` returning an error; throttled and
/// transient errors of a poll are reported and polled again, as botocore's waiters do.
pub(crate) async fn poll<T, F, Fut>(
    s: &Session<'_>,
    read_api: &str,
    waiter: Waiter,
    mut check: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, ProviderError>>,
{
    let start = Instant::now();
    let bound = wall_bound(waiter.delay * waiter.max_attempts, s.clock_scale);
    let mut interval = FIRST_POLL.min(waiter.delay);
    loop {
        s.read(read_api).await;
        let status = match check().await {
            Ok(Poll::Done(t)) => return Ok(t),
            Ok(Poll::Pending(status)) => status,
            Err(e) if e.class.is_retryable() => format!("{} ({})", e.code, e.message),
            Err(e) => return Err(e),
        };
        let waited = start.elapsed();
        let cloud_waited = cloud_time(waited, s.clock_scale);
        if waited >= bound {
            return Err(s.error(
                ErrorClass::Fatal,
                waiter.name,
                "WaiterTimeout",
                format!("still {status} after {}", elapsed(cloud_waited)),
            ));
        }
        s.progress(&format!("{status} for {}", elapsed(cloud_waited)));
        tokio::time::sleep(wall_sleep(interval, s.clock_scale)).await;
        interval = (interval * 2).min(waiter.delay);
    }
}

/// How long a delete blocked by dependents (`DependencyViolation`, `DeleteConflict`,
/// `ResourceInUseException`) is retried before the conflict is reported: ENIs of a deleted
/// EKS cluster or load balancer, and NAT gateways, take minutes to release their subnets.
pub(crate) const DEPENDENTS_GRACE: Duration = Duration::from_secs(600);

/// Runs `call` again while it fails with a conflict, with backoff, for at most `grace` (cloud
/// time, like the backoff); then
/// reports the conflict. Dependents deleted by the same walk may still be going away, and the
/// engine retries only throttled and transient errors, so the wait for them lives here.
pub(crate) async fn retry_conflicts<T, F, Fut>(
    s: &Session<'_>,
    grace: Duration,
    mut call: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let start = Instant::now();
    let grace = wall_bound(grace, s.clock_scale);
    let mut interval = FIRST_POLL;
    loop {
        match call().await {
            Err(e) if e.class == ErrorClass::Conflict && start.elapsed() < grace => {
                s.progress(&format!(
                    "waiting for dependents to go ({}: {}) for {}",
                    e.code,
                    e.message,
                    elapsed(cloud_time(start.elapsed(), s.clock_scale))
                ));
                tokio::time::sleep(wall_sleep(interval, s.clock_scale)).await;
                interval = (interval * 2).min(Duration::from_secs(30));
            }
            other => return other,
        }
    }
}

/// Maps "not found" to `None`, so reads and deletes of gone objects succeed.
pub(crate) fn found<T>(r: Result<T, ProviderError>) -> Result<Option<T>, ProviderError> {
    match r {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.class == ErrorClass::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_reads_like_a_clock() {
        assert_eq!(elapsed(Duration::from_secs(45)), "45s");
        assert_eq!(elapsed(Duration::from_secs(130)), "2m10s");
    }
}
