//! Retrying provider calls that failed with a retryable class (throttled, transient), with
//! exponential backoff and jitter.
//!
//! Retryable errors are never surfaced while attempts remain; each retry is reported as
//! progress instead. Nothing here knows about state or the graph.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use slipway_provider::ProviderError;

/// Attempts per call, including the first.
pub(crate) const MAX_ATTEMPTS: u32 = 8;
const BASE: Duration = Duration::from_millis(250);
const CAP: Duration = Duration::from_secs(20);

/// The delay before retry number `attempt` (1-based): exponential, capped, with jitter in
/// `[d/2, d]` so that many throttled calls do not retry in lockstep.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let exp = BASE.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let d = exp.min(CAP);
    let mut h = RandomState::new().build_hasher();
    h.write_u32(attempt);
    let frac = (h.finish() % 1000) as f64 / 1000.0;
    d.mul_f64(0.5 + frac / 2.0)
}

/// Runs `call` until it succeeds, fails with a non-retryable error, or attempts run out.
/// `on_retry` hears about each retry (attempt number, delay, error).
pub(crate) async fn retrying<T, F, Fut>(
    mut call: F,
    mut on_retry: impl FnMut(u32, Duration, &ProviderError),
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(e) if e.class.is_retryable() && attempt < MAX_ATTEMPTS => {
                let delay = backoff(attempt);
                on_retry(attempt, delay, &e);
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_provider::ErrorClass;
    use std::cell::Cell;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(1) <= BASE && backoff(1) >= BASE / 2);
        assert!(backoff(3) >= BASE * 2);
        assert!(backoff(30) <= CAP);
    }

    #[tokio::test(start_paused = true)]
    async fn retryable_errors_are_retried_then_surface_when_attempts_run_out() {
        let calls = Cell::new(0);
        let ok: Result<u32, _> = retrying(
            || {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move {
                    if n < 3 {
                        Err(ProviderError::new(
                            ErrorClass::Throttled,
                            "Op",
                            "Throttling",
                            "slow down",
                        ))
                    } else {
                        Ok(n)
                    }
                }
            },
            |_, _, _| {},
        )
        .await;
        assert_eq!(ok.unwrap(), 3);

        calls.set(0);
        let err: Result<u32, _> = retrying(
            || {
                calls.set(calls.get() + 1);
                async {
                    Err(ProviderError::new(
                        ErrorClass::Transient,
                        "Op",
                        "InternalError",
                        "boom",
                    ))
                }
            },
            |_, _, _| {},
        )
        .await;
        assert!(err.is_err());
        assert_eq!(calls.get(), MAX_ATTEMPTS);

        calls.set(0);
        let fatal: Result<u32, _> = retrying(
            || {
                calls.set(calls.get() + 1);
                async {
                    Err(ProviderError::new(
                        ErrorClass::Fatal,
                        "Op",
                        "InvalidParameter",
                        "no",
                    ))
                }
            },
            |_, _, _| {},
        )
        .await;
        assert!(fatal.is_err());
        assert_eq!(calls.get(), 1);
    }
}
