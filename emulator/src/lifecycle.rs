//! How long cloud operations take: a median per operation (from Slipway's collected
//! observations, copied here) with seeded log-normal jitter, divided by the time scale.
//!
//! Durations are turned into absolute deadlines when an operation starts; statuses are then
//! derived from the wall clock when the object is next read. Nothing here may sleep.

use crate::util::{hash_str, mix, unit};

/// An operation with a modelled duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// EKS control plane `CREATING` → `ACTIVE`: median ~9.5 min, p10 8, p90 12.
    ClusterCreate,
    /// EKS cluster `DELETING` → gone (not observed; assumed ~4 min).
    ClusterDelete,
    /// Control-plane minor upgrade: median ~25 min.
    ClusterVersionUpdate,
    /// Logging, endpoint access, VPC or access configuration (assumed ~3 min).
    ClusterConfigUpdate,
    /// Managed node group `CREATING` → `ACTIVE`: median ~2.5 min, p90 ~5.
    NodegroupCreate,
    /// Node group `DELETING` → gone (assumed ~4 min).
    NodegroupDelete,
    /// Scaling, labels, taints or update configuration (assumed ~1 min).
    NodegroupConfigUpdate,
    /// Rolling node update: ~5 min setup plus ~5 min per batch of `maxUnavailable` nodes.
    NodegroupRoll {
        /// `ceil(nodes / maxUnavailable)`.
        batches: u32,
    },
    /// Add-on create or update (assumed ~1 min).
    AddonChange,
    /// Add-on delete (assumed ~30 s).
    AddonDelete,
    /// NAT gateway `pending` → `available`: median ~1.7 min, p90 ~2.2.
    NatCreate,
    /// NAT gateway `deleting` → `deleted` (assumed ~1 min).
    NatDelete,
    /// How long a `deleted` NAT gateway stays visible (AWS: about an hour).
    NatRetention,
    /// Gateway VPC endpoint: ~5 s.
    GatewayEndpoint,
    /// Interface VPC endpoint: ~1.5 min.
    InterfaceEndpoint,
    /// VPC endpoint delete (assumed ~30 s).
    EndpointDelete,
    /// ARM network object (VNet, subnet, DNS zone group) create, update or delete (~5 s).
    NetworkChange,
    /// Private endpoint create or delete (assumed ~1 min).
    PrivateEndpoint,
    /// Private DNS zone or VNet link create or delete (assumed ~30 s).
    PrivateDns,
    /// Resource group delete, contents aside (assumed ~30 s).
    ResourceGroupDelete,
    /// AKS cluster create: median ~5 min, p90 ~10 min.
    AksCreate,
    /// AKS control-plane version upgrade: ~10 min.
    AksUpgrade,
    /// Any other AKS cluster update (assumed ~3 min).
    AksUpdate,
    /// AKS cluster delete (assumed ~5 min).
    AksDelete,
    /// AKS agent pool create: ~3-5 min.
    AgentPoolCreate,
    /// Agent pool version upgrade: surge nodes (~4 min) plus ~5 min per surge batch.
    AgentPoolRoll {
        /// `ceil(nodes / maxSurge)`.
        batches: u32,
    },
    /// Agent pool scaling, labels or taints (assumed ~1 min).
    AgentPoolUpdate,
    /// Agent pool delete (assumed ~3 min).
    AgentPoolDelete,
}

impl Op {
    /// The operation's name in the admin operation log, e.g. `NodegroupRoll`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::ClusterCreate => "ClusterCreate",
            Op::ClusterDelete => "ClusterDelete",
            Op::ClusterVersionUpdate => "ClusterVersionUpdate",
            Op::ClusterConfigUpdate => "ClusterConfigUpdate",
            Op::NodegroupCreate => "NodegroupCreate",
            Op::NodegroupDelete => "NodegroupDelete",
            Op::NodegroupConfigUpdate => "NodegroupConfigUpdate",
            Op::NodegroupRoll { .. } => "NodegroupRoll",
            Op::AddonChange => "AddonChange",
            Op::AddonDelete => "AddonDelete",
            Op::NatCreate => "NatCreate",
            Op::NatDelete => "NatDelete",
            Op::NatRetention => "NatRetention",
            Op::GatewayEndpoint => "GatewayEndpoint",
            Op::InterfaceEndpoint => "InterfaceEndpoint",
            Op::EndpointDelete => "EndpointDelete",
            Op::NetworkChange => "NetworkChange",
            Op::PrivateEndpoint => "PrivateEndpoint",
            Op::PrivateDns => "PrivateDns",
            Op::ResourceGroupDelete => "ResourceGroupDelete",
            Op::AksCreate => "AksCreate",
            Op::AksUpgrade => "AksUpgrade",
            Op::AksUpdate => "AksUpdate",
            Op::AksDelete => "AksDelete",
            Op::AgentPoolCreate => "AgentPoolCreate",
            Op::AgentPoolRoll { .. } => "AgentPoolRoll",
            Op::AgentPoolUpdate => "AgentPoolUpdate",
            Op::AgentPoolDelete => "AgentPoolDelete",
        }
    }

    /// Median seconds and log-normal sigma.
    fn model(self) -> (f64, f64) {
        match self {
            Op::ClusterCreate => (570.0, 0.15),
            Op::ClusterDelete => (240.0, 0.2),
            Op::ClusterVersionUpdate => (1_500.0, 0.35),
            Op::ClusterConfigUpdate => (180.0, 0.3),
            Op::NodegroupCreate => (150.0, 0.45),
            Op::NodegroupDelete => (240.0, 0.3),
            Op::NodegroupConfigUpdate => (60.0, 0.3),
            Op::NodegroupRoll { batches } => (300.0 * f64::from(batches + 1), 0.2),
            Op::AddonChange => (60.0, 0.3),
            Op::AddonDelete => (30.0, 0.3),
            Op::NatCreate => (102.0, 0.2),
            Op::NatDelete => (60.0, 0.2),
            Op::NatRetention => (3_600.0, 0.0),
            Op::GatewayEndpoint => (5.0, 0.3),
            Op::InterfaceEndpoint => (90.0, 0.25),
            Op::EndpointDelete => (30.0, 0.3),
            Op::NetworkChange => (5.0, 0.3),
            Op::PrivateEndpoint => (60.0, 0.3),
            Op::PrivateDns => (30.0, 0.3),
            Op::ResourceGroupDelete => (30.0, 0.3),
            Op::AksCreate => (300.0, 0.5),
            Op::AksUpgrade => (600.0, 0.35),
            Op::AksUpdate => (180.0, 0.3),
            Op::AksDelete => (300.0, 0.3),
            Op::AgentPoolCreate => (240.0, 0.3),
            Op::AgentPoolRoll { batches } => (240.0 + 300.0 * f64::from(batches), 0.2),
            Op::AgentPoolUpdate => (60.0, 0.3),
            Op::AgentPoolDelete => (180.0, 0.3),
        }
    }
}

/// The cloud seconds `op` takes for the object identified by `key`: the median times a
/// seeded log-normal factor (clamped to 0.5..3), before any time scale.
pub(crate) fn modelled_seconds(op: Op, key: &str, seed: u64) -> f64 {
    let (median, sigma) = op.model();
    let h = hash_str(seed, key);
    // Irwin–Hall: the sum of four uniforms, centred and scaled, is close enough to a normal.
    let z: f64 = (0..4u64).map(|i| unit(mix(h ^ i))).sum::<f64>() - 2.0;
    let z = z * (3.0f64).sqrt();
    median * (sigma * z).exp().clamp(0.5, 3.0)
}

/// The real milliseconds `op` takes for the object identified by `key`: its
/// [`modelled_seconds`] divided by `time_scale`.
pub(crate) fn duration_ms(op: Op, key: &str, seed: u64, time_scale: f64) -> u64 {
    let scale = if time_scale.is_finite() && time_scale > 0.0 {
        time_scale
    } else {
        1.0
    };
    let ms = modelled_seconds(op, key, seed) * 1000.0 / scale;
    // Saturating float-to-int conversion is what we want for absurd scales.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let ms = ms.round() as u64;
    ms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_seeded_scaled_and_near_the_median() {
        let a = duration_ms(Op::ClusterCreate, "c1", 1, 1.0);
        assert_eq!(a, duration_ms(Op::ClusterCreate, "c1", 1, 1.0));
        assert!((285_000..1_710_000).contains(&a), "{a}");
        let scaled = duration_ms(Op::ClusterCreate, "c1", 1, 600.0);
        assert!(scaled.abs_diff(a / 600) <= 1, "{scaled} vs {a}");
        let mut all: Vec<u64> = (0..200)
            .map(|i| duration_ms(Op::ClusterCreate, &format!("c{i}"), 3, 1.0))
            .collect();
        all.sort_unstable();
        let median = all[100];
        assert!((480_000..660_000).contains(&median), "{median}");
        assert_eq!(duration_ms(Op::NatRetention, "x", 5, 1.0), 3_600_000);
    }
}
