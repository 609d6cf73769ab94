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
    /// How many attempts fail per matching object before later ones succeed (update
    /// targets); `None` fails every attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

/// The kinds of object whose creation can be made to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureTarget {
    /// EKS cluster: `CREATING` → `FAILED`.
    Cluster,
    /// EKS managed node group: `CREATING` → `CREATE_FAILED` with a health issue.
    Nodegroup,
    /// EKS managed node group version update: the update ends `Failed` with a
    /// `PodEvictionFailure`, and the node group returns to `ACTIVE` at its old version.
    NodegroupUpdate,
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
            "nodegroup-update" | "nodegroup_update" => Self::NodegroupUpdate,
            "addon" => Self::Addon,
            "nat" | "nat_gateway" => Self::NatGateway,
            "vpce" | "vpc_endpoint" => Self::VpcEndpoint,
            "managedcluster" | "managed_cluster" => Self::ManagedCluster,
            "agentpool" | "agent_pool" => Self::AgentPool,
            _ => return Err(FaultParseError::UnknownTarget(s.to_owned())),
        })
    }
}

impl FailureTarget {
    /// Whether this target is an update of an existing object, which can be retried and so
    /// can be made to fail a number of times only.
    pub fn is_update(self) -> bool {
        matches!(self, Self::NodegroupUpdate)
    }
}

impl FromStr for OperationFailure {
    type Err = FaultParseError;

    /// Parses `TARGET[-once][:PATTERN[:COUNT]]`; a missing pattern is `*`. `-once` and
    /// `:COUNT` apply to update targets only; for other targets everything after the first
    /// `:` is the pattern, as before counts existed.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let (target, rest) = value.split_once(':').unwrap_or((value, "*"));
        let (target, once) = match target.strip_suffix("-once") {
            Some(t) => (t, true),
            None => (target, false),
        };
        let target: FailureTarget = target.parse()?;
        if !target.is_update() {
            if once {
                return Err(FaultParseError::CountOnCreate(value.to_owned()));
            }
            return Ok(Self {
                target,
                pattern: rest.to_owned(),
                times: None,
            });
        }
        let (pattern, count) = match rest.rsplit_once(':') {
            Some((pattern, count)) => {
                let n = count
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| FaultParseError::BadCount(value.to_owned()))?;
                (pattern, Some(n))
            }
            None => (rest, None),
        };
        let times = match (once, count) {
            (true, Some(_)) => return Err(FaultParseError::BadCount(value.to_owned())),
            (true, None) => Some(1),
            (false, count) => count,
        };
        Ok(Self {
            target,
            pattern: pattern.to_owned(),
            times,
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
        "unknown failure target `{0}` (known: cluster, nodegroup, nodegroup-update, addon, nat, vpce, managedcluster, agentpool; form fail=TARGET:PATTERN, or fail=TARGET-once:PATTERN / fail=TARGET:PATTERN:COUNT for update targets)"
    )]
    UnknownTarget(String),
    /// `-once` on a create target, whose failed object is not retried in place.
    #[error(
        "failure `{0}` cannot fail once: `-once` and `:COUNT` apply to update targets (nodegroup-update)"
    )]
    CountOnCreate(String),
    /// A count that is not a positive integer, or both `-once` and a count.
    #[error(
        "invalid failure count in `{0}` (form fail=TARGET:PATTERN:COUNT with COUNT at least 1, or fail=TARGET-once:PATTERN)"
    )]
    BadCount(String),
}

/// Parses `throttle=0.2,5xx=0.05,latency=0.1,latency_ms=1500,iam_propagation_ms=3000,seed=7,
/// identity_propagation_ms=3000,ratelimit=off,fail=nodegroup:gpu-*,fail=agentpool:gpu*,
/// fail=nodegroup-update-once:gpu-*` (any subset, any order; `fail` may repeat; see
/// [`OperationFailure`]'s syntax).
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
                "fail" => config.fail_operations.push(value.parse()?),
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
        self.fails_after(target, names, 0)
    }

    /// Whether the next attempt on the named object fails, given how many attempts on it
    /// already failed by injection (the count lives with the object, so it survives restarts
    /// of a persisted emulator).
    pub(crate) fn fails_after(&self, target: FailureTarget, names: &[&str], failed: u32) -> bool {
        self.fail_operations.iter().any(|f| {
            f.target == target
                && f.times.is_none_or(|t| failed < t)
                && names.iter().any(|n| glob(&f.pattern, n))
        })
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
        for bad in [
            "fail=nodegroup-update:gpu-*:0",
            "fail=nodegroup-update:gpu-*:x",
            "fail=nodegroup-update-once:gpu-*:2",
        ] {
            assert!(
                matches!(
                    bad.parse::<FaultConfig>(),
                    Err(FaultParseError::BadCount(_))
                ),
                "{bad}"
            );
        }
        let err = "fail=nodegroup-once:gpu-*"
            .parse::<FaultConfig>()
            .unwrap_err();
        assert!(matches!(err, FaultParseError::CountOnCreate(_)));
        assert!(err.to_string().contains("update targets"), "{err}");
    }

    #[test]
    fn update_failures_fail_always_once_or_a_number_of_times() {
        let c: FaultConfig =
            "fail=nodegroup-update:gpu-*,fail=nodegroup-update-once:cpu-*,fail=nodegroup-update:mem-*:2,fail=nodegroup-update"
                .parse()
                .unwrap();
        let f = &c.fail_operations;
        assert_eq!((f[0].pattern.as_str(), f[0].times), ("gpu-*", None));
        assert_eq!((f[1].pattern.as_str(), f[1].times), ("cpu-*", Some(1)));
        assert_eq!((f[2].pattern.as_str(), f[2].times), ("mem-*", Some(2)));
        assert_eq!((f[3].pattern.as_str(), f[3].times), ("*", None));
        let only: FaultConfig = "fail=nodegroup-update-once:cpu-*,fail=nodegroup-update:mem-*:2"
            .parse()
            .unwrap();
        let update = FailureTarget::NodegroupUpdate;
        assert!(only.fails_after(update, &["cpu-a"], 0));
        assert!(!only.fails_after(update, &["cpu-a"], 1));
        assert!(only.fails_after(update, &["mem-a"], 1));
        assert!(!only.fails_after(update, &["mem-a"], 2));
        assert!(!only.fails_after(update, &["gpu-a"], 0));
        assert!(!only.fails(FailureTarget::Nodegroup, &["cpu-a"]));
        // Create targets keep everything after the first `:` as the pattern.
        let create: FaultConfig = "fail=nodegroup:a:b".parse().unwrap();
        assert_eq!(create.fail_operations[0].pattern, "a:b");
        assert_eq!(create.fail_operations[0].times, None);
        // JSON without `times` (as written before counts existed) still loads.
        let json: FaultConfig = serde_json::from_str(
            r#"{"fail_operations":[{"target":"nodegroup_update","pattern":"x"}]}"#,
        )
        .unwrap();
        assert_eq!(json.fail_operations[0].times, None);
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
