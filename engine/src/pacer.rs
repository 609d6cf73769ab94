//! Per-API token buckets that pace provider calls so a walk stays under the clouds' rate limits.
//!
//! Each [`ApiClass`] has a bucket of `capacity` tokens refilled at `refill_per_sec`; a call
//! takes one token, waiting when the bucket is empty. Waiters reserve their token up front, so
//! they are served in arrival order and the bucket never over-issues. Classes not in the table
//! are not paced. The pacer never retries or fails a call; it only delays it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use slipway_provider::{ApiClass, Pacer};
use tokio::time::Instant;

/// Size and refill rate of one bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Tokens when full (the burst).
    pub capacity: f64,
    /// Tokens added per second.
    pub refill_per_sec: f64,
}

impl Bucket {
    /// A bucket of `capacity` tokens refilled at `refill_per_sec`.
    pub fn new(capacity: f64, refill_per_sec: f64) -> Self {
        Self {
            capacity,
            refill_per_sec,
        }
    }
}

/// The default table, from the clouds' published limits (EC2 request buckets, ARM per-region
/// buckets). EKS and IAM publish no numbers; their entries are conservative guesses.
pub fn default_buckets() -> Vec<(ApiClass, Bucket)> {
    [
        ("aws.ec2.mutating", 50.0, 5.0),
        ("aws.ec2.nat", 10.0, 1.0),
        ("aws.ec2.vpce", 4.0, 0.3),
        ("aws.ec2.read", 100.0, 20.0),
        // IAM and EKS publish no bucket sizes; these stay well under what throttling reports
        // suggest (reads and writes together under ~10 calls/s per account and region).
        ("aws.iam", 20.0, 2.0),
        ("aws.iam.read", 40.0, 6.0),
        ("aws.eks", 20.0, 2.0),
        ("aws.eks.read", 40.0, 6.0),
        ("azure.arm.write", 200.0, 10.0),
        ("azure.arm.read", 250.0, 25.0),
        ("azure.arm.delete", 200.0, 10.0),
    ]
    .into_iter()
    .map(|(name, capacity, refill)| (ApiClass::new(name), Bucket::new(capacity, refill)))
    .collect()
}

#[derive(Debug)]
struct State {
    bucket: Bucket,
    /// Tokens available at `at`; negative when waiters have reserved future tokens.
    tokens: f64,
    at: Instant,
}

/// A [`Pacer`] with one token bucket per API class.
#[derive(Debug)]
pub struct TokenBucketPacer {
    buckets: HashMap<ApiClass, Mutex<State>>,
}

impl Default for TokenBucketPacer {
    /// Paced by [`default_buckets`].
    fn default() -> Self {
        Self::new(default_buckets())
    }
}

impl TokenBucketPacer {
    /// A pacer with these buckets, each starting full. Buckets with a non-positive refill rate
    /// or capacity are ignored (such a class is not paced).
    pub fn new(table: impl IntoIterator<Item = (ApiClass, Bucket)>) -> Self {
        let now = Instant::now();
        let buckets = table
            .into_iter()
            .filter(|(_, b)| b.capacity > 0.0 && b.refill_per_sec > 0.0)
            .map(|(class, bucket)| {
                let state = State {
                    bucket,
                    tokens: bucket.capacity,
                    at: now,
                };
                (class, Mutex::new(state))
            })
            .collect();
        Self { buckets }
    }

    /// Takes a token of `api` now if one is free, or reserves the next one and returns how
    /// long to wait for it.
    fn reserve(&self, api: &ApiClass) -> Duration {
        let Some(state) = self.buckets.get(api) else {
            return Duration::ZERO;
        };
        let mut s = match state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(s.at).as_secs_f64();
        s.tokens = (s.tokens + elapsed * s.bucket.refill_per_sec).min(s.bucket.capacity);
        s.at = now;
        s.tokens -= 1.0;
        if s.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-s.tokens / s.bucket.refill_per_sec)
        }
    }
}

#[async_trait]
impl Pacer for TokenBucketPacer {
    async fn acquire(&self, api: &ApiClass) {
        let wait = self.reserve(api);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_is_free_then_calls_follow_the_refill_rate() {
        let class = ApiClass::new("test");
        let pacer = TokenBucketPacer::new([(class.clone(), Bucket::new(4.0, 2.0))]);
        let start = Instant::now();
        for _ in 0..4 {
            pacer.acquire(&class).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        for _ in 0..4 {
            pacer.acquire(&class).await;
        }
        // Four more tokens at two per second.
        let took = start.elapsed().as_secs_f64();
        assert!((took - 2.0).abs() < 0.01, "took {took}s");
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_classes_are_not_paced() {
        let pacer = TokenBucketPacer::default();
        let start = Instant::now();
        for _ in 0..1000 {
            pacer.acquire(&ApiClass::new("nobody.knows")).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[test]
    fn the_default_table_has_every_documented_class() {
        let names: Vec<String> = default_buckets().into_iter().map(|(c, _)| c.0).collect();
        for expected in [
            "aws.ec2.mutating",
            "aws.ec2.nat",
            "aws.ec2.vpce",
            "azure.arm.delete",
        ] {
            assert!(names.iter().any(|n| n == expected), "{expected}");
        }
    }
}
