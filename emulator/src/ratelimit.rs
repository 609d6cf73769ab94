//! Per-account, per-region token buckets in front of every API, with the published EC2
//! numbers and assumed ones for IAM, STS and EKS (which AWS does not publish).
//!
//! Buckets refill in real time, not scaled by the time scale: pacing is about request rates,
//! which a faster clock does not change. This module only counts tokens; it must never
//! decide what error a throttled request gets.

use std::collections::HashMap;
use std::time::Instant;

/// A token bucket's class: its name, capacity and refill rate per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Class {
    /// Bucket name, unique per service.
    pub name: &'static str,
    /// Maximum tokens.
    pub capacity: f64,
    /// Tokens added per second.
    pub refill: f64,
}

const fn class(name: &'static str, capacity: f64, refill: f64) -> Class {
    Class {
        name,
        capacity,
        refill,
    }
}

/// The bucket an operation draws from. `unfiltered` tells whether a Describe call carried
/// neither filters, ids nor pagination (EC2 charges those to a smaller bucket).
pub(crate) fn classify(service: &str, op: &str, unfiltered: bool) -> Class {
    match service {
        "ec2" => match op {
            "CreateNatGateway" | "DeleteNatGateway" => class("nat", 10.0, 1.0),
            "CreateVpcEndpoint" | "DeleteVpcEndpoints" | "ModifyVpcEndpoint" => {
                class("vpce", 4.0, 0.3)
            }
            "CreateTags" | "DeleteTags" => class("tags", 100.0, 10.0),
            "AuthorizeSecurityGroupIngress" | "RevokeSecurityGroupIngress" => {
                class("resource-intensive", 50.0, 5.0)
            }
            "DescribeSecurityGroups" if unfiltered => class("unfiltered", 50.0, 10.0),
            _ if op.starts_with("Describe") => class("non-mutating", 100.0, 20.0),
            _ => class("mutating", 50.0, 5.0),
        },
        // Assumed: AWS publishes no numbers for these.
        "iam" => class("iam", 50.0, 15.0),
        "sts" => class("sts", 100.0, 50.0),
        _ => class("eks", 100.0, 10.0),
    }
}

/// The ARM bucket of a request method, as Azure publishes them per subscription: reads
/// 250 (25/s), writes 200 (10/s), deletes 200 (10/s).
pub(crate) fn arm_class(method: &str) -> Class {
    match method {
        "GET" | "HEAD" => class("reads", 250.0, 25.0),
        "DELETE" => class("deletes", 200.0, 10.0),
        _ => class("writes", 200.0, 10.0),
    }
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// All buckets, keyed by region, service and class.
#[derive(Default)]
pub(crate) struct Buckets {
    buckets: HashMap<(String, &'static str, &'static str), Bucket>,
}

impl Buckets {
    /// Takes one token; `false` when the bucket is empty.
    pub(crate) fn take(&mut self, region: &str, service: &'static str, class: Class) -> bool {
        self.take_at(region, service, class, Instant::now())
    }

    fn take_at(&mut self, region: &str, service: &'static str, class: Class, now: Instant) -> bool {
        self.take_or_wait_at(region, service, class, now).is_ok()
    }

    /// Takes one token: the whole tokens left, or the seconds until one is back.
    pub(crate) fn take_or_wait(
        &mut self,
        scope: &str,
        service: &'static str,
        class: Class,
    ) -> Result<u32, u32> {
        self.take_or_wait_at(scope, service, class, Instant::now())
    }

    fn take_or_wait_at(
        &mut self,
        region: &str,
        service: &'static str,
        class: Class,
        now: Instant,
    ) -> Result<u32, u32> {
        let bucket = self
            .buckets
            .entry((region.to_owned(), service, class.name))
            .or_insert(Bucket {
                tokens: class.capacity,
                last: now,
            });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * class.refill).min(class.capacity);
        bucket.last = now;
        // Token counts are small and non-negative: the casts only drop the fraction.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(bucket.tokens.floor() as u32)
        } else {
            Err(((1.0 - bucket.tokens) / class.refill).ceil().max(1.0) as u32)
        }
    }

    /// Forgets every bucket (full again).
    pub(crate) fn clear(&mut self) {
        self.buckets.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ec2_buckets_follow_the_published_numbers() {
        assert_eq!(classify("ec2", "CreateNatGateway", false).capacity, 10.0);
        assert_eq!(classify("ec2", "CreateVpcEndpoint", false).refill, 0.3);
        assert_eq!(classify("ec2", "DescribeVpcs", false).capacity, 100.0);
        assert_eq!(
            classify("ec2", "DescribeSecurityGroups", true).name,
            "unfiltered"
        );
        assert_eq!(classify("ec2", "CreateVpc", false).refill, 5.0);
    }

    #[test]
    fn a_bucket_empties_and_refills_in_real_time() {
        let mut b = Buckets::default();
        let c = classify("ec2", "CreateVpcEndpoint", false);
        let t0 = Instant::now();
        assert!((0..4).all(|_| b.take_at("r", "ec2", c, t0)));
        assert!(!b.take_at("r", "ec2", c, t0));
        assert!(b.take_at("other", "ec2", c, t0), "regions are separate");
        assert!(!b.take_at("r", "ec2", c, t0 + Duration::from_secs(1)));
        assert!(b.take_at("r", "ec2", c, t0 + Duration::from_secs(4)));
    }

    #[test]
    fn arm_buckets_report_what_is_left_and_when_to_retry() {
        let mut b = Buckets::default();
        let writes = arm_class("PUT");
        assert_eq!(arm_class("GET").capacity, 250.0);
        assert_eq!(arm_class("DELETE").name, "deletes");
        let t0 = Instant::now();
        assert_eq!(b.take_or_wait_at("sub", "arm", writes, t0), Ok(199));
        for _ in 0..199 {
            assert!(b.take_or_wait_at("sub", "arm", writes, t0).is_ok());
        }
        assert_eq!(b.take_or_wait_at("sub", "arm", writes, t0), Err(1));
    }
}
