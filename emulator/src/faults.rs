//! Fault injection: what may go wrong with a request (throttling, 5xx, latency spikes), how
//! long IAM takes to propagate a new role, and which operations fail outright.
//!
//! Every draw is a function of the fault seed and the request's sequence number, never of a
//! random source, so a test that sends the same requests in the same order sees the same
//! faults. It must never decide anything about a service's semantics.

use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::util::{glob, mix, unit};

/// The faults the emulator injects; the default injects none and enforces rate limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Probability that a request is throttled (`RequestLimitExceeded`, `ThrottlingException`,
    /// `Throttling` depending on the service).
    pub throttle: f64,
    /// Probability that a request fails with a server error (500 or 503).
    pub server_error: f64,
    /// Probability that a request is delayed by `latency_spike_ms` before it is handled.
    pub latency_spike: f64,
    /// Length of a latency spike, in real milliseconds.
    pub latency_spike_ms: u64,
    /// How long a new IAM role cannot be assumed by EKS, in real milliseconds.
    pub iam_propagation_ms: u64,
    /// How long the principal of a new user-assigned identity is unknown to role
    /// assignments (`PrincipalNotFound`), in real milliseconds.
    pub identity_propagation_ms: u64,
    /// Operations that fail for objects whose name matches a pattern.
    pub fail_operations: Vec<OperationFailure>,
    /// Seed of the per-request draws.
    pub seed: u64,
    /// Whether the per-API token buckets answer with throttling errors when empty.
    pub rate_limits: bool,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            throttle: 0.0,
            server_error: 0.0,
            latency_spike: 0.0,
            latency_spike_ms: 2_000,
            iam_propagation_ms: 0,
            identity_propagation_ms: 0,
            fail_operations: Vec::new(),
            seed: 0,
            rate_limits: true,
        }
    }
}

/// An operation that ends in its failed state for matching objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationFailure {
    /// What fails.
    pub target: FailureTarget,
    /// Glob (`*`, `?`) over the object's name (EKS, ARM) or `Name` tag or id (EC2).
    pub pattern: String,
}

/// The kinds of object whose creation can be made to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureTarget {
    /// EKS cluster: `CREATING` → `FAILED`.
    Cluster,
    /// EKS managed node group: `CREATING` → `CREATE_FAILED` with a health issue.
    Nodegroup,
    /// EKS add-on: `CREATING` → `CREATE_FAILED` with a health issue.
    Addon,
    /// NAT gateway: `pending` → `failed`.
    NatGateway,
    /// VPC endpoint: `pending` → `failed`.
    VpcEndpoint,
    /// AKS managed cluster: its create or update operation ends `Failed`.
    ManagedCluster,
    /// AKS agent pool: its create or update operation ends `Failed`.
    AgentPool,
}

impl FromStr for FailureTarget {
    type Err = FaultParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "cluster" => Self::Cluster,
            "nodegroup" => Self::Nodegroup,
            "addon" => Self::Addon,
            "nat" | "nat_gateway" => Self::NatGateway,
            "vpce" | "vpc_endpoint" => Self::VpcEndpoint,
            "managedcluster" | "managed_cluster" => Self::ManagedCluster,
            "agentpool" | "agent_pool" => Self::AgentPool,
            _ => return Err(FaultParseError::UnknownTarget(s.to_owned())),
        })
    }
}

/// Why a fault specification could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultParseError {
    /// A `key=value` pair had no `=`.
    #[error("fault setting `{0}` is not of the form key=value")]
    NotAPair(String),
    /// The key is not a known fault setting.
    #[error(
        "unknown fault setting `{0}` (known: throttle, 5xx, latency, latency_ms, iam_propagation_ms, identity_propagation_ms, seed, ratelimit, fail)"
    )]
    UnknownKey(String),
    /// The value does not parse for its key.
    #[error("invalid value `{value}` for fault setting `{key}`")]
    BadValue {
        /// The setting.
        key: String,
        /// What was given.
        value: String,
    },
    /// A probability outside `[0, 1]`.
    #[error("probability `{value}` for `{key}` is not between 0 and 1")]
    Probability {
        /// The setting.
        key: String,
        /// What was given.
        value: String,
    },
    /// `fail=` named an unknown object kind.
    #[error(
        "unknown failure target `{0}` (known: cluster, nodegroup, addon, nat, vpce, managedcluster, agentpool; form fail=TARGET:PATTERN)"
    )]
    UnknownTarget(String),
}

/// Parses `throttle=0.2,5xx=0.05,latency=0.1,latency_ms=1500,iam_propagation_ms=3000,seed=7,
/// identity_propagation_ms=3000,ratelimit=off,fail=nodegroup:gpu-*,fail=agentpool:gpu*` (any
/// subset, any order; `fail` may repeat).
impl FromStr for FaultConfig {
    type Err = FaultParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut config = FaultConfig::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| FaultParseError::NotAPair(part.to_owned()))?;
            let bad = || FaultParseError::BadValue {
                key: key.to_owned(),
                value: value.to_owned(),
            };
            let probability = || -> Result<f64, FaultParseError> {
                let p: f64 = value.parse().map_err(|_| bad())?;
                if (0.0..=1.0).contains(&p) {
                    Ok(p)
                } else {
                    Err(FaultParseError::Probability {
                        key: key.to_owned(),
                        value: value.to_owned(),
                    })
                }
            };
            match key {
                "throttle" => config.throttle = probability()?,
                "5xx" | "server_error" => config.server_error = probability()?,
                "latency" | "latency_spike" => config.latency_spike = probability()?,
                "latency_ms" | "latency_spike_ms" => {
                    config.latency_spike_ms = value.parse().map_err(|_| bad())?;
                }
                "iam_propagation_ms" | "iam_ms" => {
                    config.iam_propagation_ms = value.parse().map_err(|_| bad())?;
                }
                "identity_propagation_ms" => {
                    config.identity_propagation_ms = value.parse().map_err(|_| bad())?;
                }
                "seed" => config.seed = value.parse().map_err(|_| bad())?,
                "ratelimit" | "rate_limits" => {
                    config.rate_limits = match value {
                        "on" | "true" => true,
                        "off" | "false" => false,
                        _ => return Err(bad()),
                    };
                }
                "fail" => {
                    let (target, pattern) = value.split_once(':').unwrap_or((value, "*"));
                    config.fail_operations.push(OperationFailure {
                        target: target.parse()?,
                        pattern: pattern.to_owned(),
                    });
                }
                _ => return Err(FaultParseError::UnknownKey(key.to_owned())),
            }
        }
        Ok(config)
    }
}

/// What the faults decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Decision {
    /// Answer with the service's throttling error.
    pub throttle: bool,
    /// Answer with a server error; `true` picks 503 over 500.
    pub server_error: Option<bool>,
    /// Sleep this long before handling.
    pub delay: Option<Duration>,
}

impl FaultConfig {
    /// The faults for request number `n`: independent draws per fault kind.
    pub(crate) fn decide(&self, n: u64) -> Decision {
        let base = mix(self.seed ^ mix(n));
        let draw = |k: u64| unit(mix(base ^ k));
        let server = draw(2) < self.server_error;
        Decision {
            throttle: draw(1) < self.throttle,
            server_error: server.then(|| draw(4) < 0.5),
            delay: (draw(3) < self.latency_spike)
                .then(|| Duration::from_millis(self.latency_spike_ms)),
        }
    }

    /// Whether creating the named object of this kind is configured to fail.
    pub(crate) fn fails(&self, target: FailureTarget, names: &[&str]) -> bool {
        self.fail_operations
            .iter()
            .any(|f| f.target == target && names.iter().any(|n| glob(&f.pattern, n)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_syntax() {
        let c: FaultConfig =
            "throttle=0.2, 5xx=0.05,seed=7,latency=0.1,latency_ms=30,iam_propagation_ms=500,ratelimit=off,fail=nodegroup:gpu-*,fail=nat"
                .parse()
                .unwrap();
        assert_eq!(c.throttle, 0.2);
        assert_eq!(c.server_error, 0.05);
        assert_eq!(c.seed, 7);
        assert_eq!(c.latency_spike_ms, 30);
        assert_eq!(c.iam_propagation_ms, 500);
        assert!(!c.rate_limits);
        assert_eq!(c.fail_operations.len(), 2);
        assert!(c.fails(FailureTarget::Nodegroup, &["gpu-a"]));
        assert!(!c.fails(FailureTarget::Nodegroup, &["cpu-a"]));
        assert!(c.fails(FailureTarget::NatGateway, &["nat-123"]));
        let arm: FaultConfig =
            "identity_propagation_ms=900,fail=agentpool:gpu*,fail=managedcluster:bad-*"
                .parse()
                .unwrap();
        assert_eq!(arm.identity_propagation_ms, 900);
        assert!(arm.fails(FailureTarget::AgentPool, &["gpu1"]));
        assert!(arm.fails(FailureTarget::ManagedCluster, &["bad-one"]));
        assert!(!arm.fails(FailureTarget::ManagedCluster, &["gpu1"]));
        assert_eq!("".parse::<FaultConfig>().unwrap(), FaultConfig::default());
    }

    #[test]
    fn rejects_bad_settings() {
        assert!(matches!(
            "throttle=2".parse::<FaultConfig>(),
            Err(FaultParseError::Probability { .. })
        ));
        assert!(matches!(
            "bogus=1".parse::<FaultConfig>(),
            Err(FaultParseError::UnknownKey(_))
        ));
        assert!(matches!(
            "fail=vm:x".parse::<FaultConfig>(),
            Err(FaultParseError::UnknownTarget(_))
        ));
        assert!(matches!(
            "seed".parse::<FaultConfig>(),
            Err(FaultParseError::NotAPair(_))
        ));
    }

    #[test]
    fn draws_are_seeded_and_roughly_calibrated() {
        let c: FaultConfig = "throttle=0.3,seed=9".parse().unwrap();
        let a: Vec<bool> = (0..1000).map(|n| c.decide(n).throttle).collect();
        let b: Vec<bool> = (0..1000).map(|n| c.decide(n).throttle).collect();
        assert_eq!(a, b);
        let hits = a.iter().filter(|t| **t).count();
        assert!((230..370).contains(&hits), "{hits}");
        assert!((0..1000).all(|n| c.decide(n).server_error.is_none()));
    }
}
