//! The operation log behind `GET /_emulator/operations`: one record per lifecycle duration
//! the emulator draws (what, on which object of which cluster, when, and how long in cloud
//! and wall seconds), so DR drills can compare their measured phases with the model.
//!
//! Records are written where a duration is decided and kept bounded; this module must never
//! decide a duration or change a cloud object.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::lifecycle::{Op, duration_ms, modelled_seconds};

/// The ownership tag that names a record's cluster when the object carries it.
pub(crate) const CLUSTER_TAG: &str = "slipway:cluster";

/// How many records each cloud (AWS, ARM) keeps; older ones are dropped first.
pub(crate) const CAPACITY: usize = 10_000;

/// One drawn duration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct OpRecord {
    /// `eks`, `ec2` or `arm`.
    pub service: String,
    /// The [`Op`] name, e.g. `NodegroupCreate`.
    pub operation: String,
    /// Name or id of the object the operation acts on.
    pub target: String,
    /// The owning cluster, when known.
    pub cluster: Option<String>,
    /// AWS region or ARM location.
    pub region: String,
    /// Wall-clock start (ms since the epoch).
    pub started_ms: u64,
    /// Cloud seconds drawn from the latency model, jitter included.
    pub modelled_seconds: f64,
    /// Real seconds the emulator takes: the drawn duration under the time scale.
    pub wall_seconds: f64,
}

/// What a duration is drawn for, besides the operation and its jitter key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject<'a> {
    /// `eks`, `ec2` or `arm`.
    pub service: &'a str,
    /// Name or id of the object.
    pub target: &'a str,
    /// The owning cluster, when known.
    pub cluster: Option<&'a str>,
    /// Region or location.
    pub region: &'a str,
}

/// Draws the duration of `op` on the object `key` and the record describing it; the
/// milliseconds are exactly what the deadline uses.
pub(crate) fn draw(
    op: Op,
    key: &str,
    seed: u64,
    time_scale: f64,
    now: u64,
    subject: Subject<'_>,
) -> (u64, OpRecord) {
    let ms = duration_ms(op, key, seed, time_scale);
    #[allow(clippy::cast_precision_loss)]
    let wall_seconds = ms as f64 / 1000.0;
    let record = OpRecord {
        service: subject.service.to_owned(),
        operation: op.name().to_owned(),
        target: subject.target.to_owned(),
        cluster: subject.cluster.map(str::to_owned),
        region: subject.region.to_owned(),
        started_ms: now,
        modelled_seconds: modelled_seconds(op, key, seed),
        wall_seconds,
    };
    (ms, record)
}

/// A bounded log of records, oldest first.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct OpLog(VecDeque<OpRecord>);

impl OpLog {
    /// Appends records, dropping the oldest beyond [`CAPACITY`].
    pub(crate) fn extend(&mut self, records: impl IntoIterator<Item = OpRecord>) {
        self.0.extend(records);
        while self.0.len() > CAPACITY {
            self.0.pop_front();
        }
    }

    /// The records, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &OpRecord> {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> Subject<'static> {
        Subject {
            service: "eks",
            target: "c1",
            cluster: Some("c1"),
            region: "us-east-1",
        }
    }

    #[test]
    fn a_record_carries_the_drawn_duration_in_cloud_and_wall_seconds() {
        let (ms, r) = draw(Op::ClusterCreate, "k", 7, 600.0, 1_000, subject());
        assert_eq!(ms, duration_ms(Op::ClusterCreate, "k", 7, 600.0));
        assert_eq!(r.operation, "ClusterCreate");
        assert_eq!(r.started_ms, 1_000);
        assert!(
            (r.modelled_seconds / 600.0 - r.wall_seconds).abs() < 0.001,
            "{r:?}"
        );
    }

    #[test]
    fn the_log_keeps_the_newest_records() {
        let (_, r) = draw(Op::AddonChange, "k", 1, 1.0, 0, subject());
        let mut log = OpLog::default();
        log.extend((0..CAPACITY as u64 + 5).map(|i| OpRecord {
            started_ms: i,
            ..r.clone()
        }));
        assert_eq!(log.iter().count(), CAPACITY);
        assert_eq!(log.iter().next().map(|r| r.started_ms), Some(5));
    }
}
