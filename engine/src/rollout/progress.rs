//! Rollout events and the progress they fold into.
//!
//! A rollout's progress is never stored as a mutable document: every step is an event in the
//! state journal ([`JournalEvent::Rollout`]), appended before a step starts and after it ends, and
//! progress is the fold of those events. Whatever runner dies wherever, the next one reads the
//! same journal and sees exactly which steps finished. This module is pure: no I/O, no clock.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use slipway_blueprints::KubeVersion;
use slipway_state::{JournalEntry, JournalEvent};

/// The steps of one hop, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Gates: readiness scan, health, custom commands; pending unrelated changes refused.
    Preflight,
    /// The control plane moves to the hop.
    ControlPlane,
    /// Add-ons move to versions compatible with the hop.
    #[serde(rename = "add-ons")]
    Addons,
    /// Node pools roll to the hop.
    NodePools,
    /// The cloud reports the control plane and every node pool at the hop, healthy.
    PostCheck,
}

impl Phase {
    /// Every phase, in order.
    pub const ALL: [Phase; 5] = [
        Phase::Preflight,
        Phase::ControlPlane,
        Phase::Addons,
        Phase::NodePools,
        Phase::PostCheck,
    ];

    /// Kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Preflight => "preflight",
            Phase::ControlPlane => "control-plane",
            Phase::Addons => "add-ons",
            Phase::NodePools => "node-pools",
            Phase::PostCheck => "post-check",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One cluster as planned when the rollout started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedCluster {
    /// Blueprint name.
    pub name: String,
    /// The minor it started from.
    pub from: String,
    /// The minors it goes through, ending at the target; empty when already there.
    pub hops: Vec<String>,
}

/// One ring as planned when the rollout started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedRing {
    /// Ring name.
    pub name: String,
    /// Its clusters, in blueprint order.
    pub clusters: Vec<PlannedCluster>,
}

/// What the journal records about a rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum RolloutEvent {
    /// The rollout began with this plan.
    Started {
        /// Target minor.
        target: String,
        /// Rings in order.
        rings: Vec<PlannedRing>,
    },
    /// A ring's clusters may start.
    RingStarted {
        /// Ring name.
        ring: String,
    },
    /// Every cluster of the ring is done, skipped, or failed within its threshold; soak begins.
    RingFinished {
        /// Ring name.
        ring: String,
    },
    /// A human approved a ring.
    Approved {
        /// Ring name.
        ring: String,
        /// Who.
        by: String,
    },
    /// A cluster's first step may run.
    ClusterStarted {
        /// Cluster name.
        cluster: String,
    },
    /// A step is about to run (journaled first, so a dead runner's step is re-run, never lost).
    StepStarted {
        /// Cluster name.
        cluster: String,
        /// The hop's minor.
        hop: String,
        /// The step.
        phase: Phase,
    },
    /// A step ended.
    StepFinished {
        /// Cluster name.
        cluster: String,
        /// The hop's minor.
        hop: String,
        /// The step.
        phase: Phase,
        /// Whether it succeeded.
        ok: bool,
        /// What it did or why it failed: gate results, actions applied, versions seen.
        detail: String,
    },
    /// Nothing due until resumed.
    Paused {
        /// Who.
        by: String,
        /// Why.
        reason: String,
    },
    /// Paused no more.
    Resumed {
        /// Who.
        by: String,
    },
    /// A failed cluster may run its failed step again.
    Retried {
        /// Cluster name.
        cluster: String,
        /// Who.
        by: String,
    },
    /// A cluster is left out of the rollout.
    Skipped {
        /// Cluster name.
        cluster: String,
        /// Who.
        by: String,
        /// Why (required).
        reason: String,
    },
}

/// Where a cluster stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClusterStatus {
    /// Not started.
    Pending,
    /// Started; steps remain.
    Running,
    /// A step failed; `retry` or `skip` decides what happens.
    Failed {
        /// The error.
        error: String,
    },
    /// Every hop done.
    Done,
    /// Left out.
    Skipped {
        /// Why.
        reason: String,
    },
}

/// One cluster's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterProgress {
    /// Blueprint name.
    pub name: String,
    /// Where it started.
    pub from: String,
    /// Its hops.
    pub hops: Vec<String>,
    /// Status.
    pub status: ClusterStatus,
    /// Steps finished successfully, in order.
    pub done: Vec<(String, Phase)>,
    /// The step started and not finished (a runner died in it, or one is running it).
    pub in_step: Option<(String, Phase)>,
    /// When the status last changed.
    pub since: Option<Timestamp>,
}

impl ClusterProgress {
    /// The next step to run, if any.
    pub fn next_step(&self) -> Option<(String, Phase)> {
        self.hops
            .iter()
            .flat_map(|h| Phase::ALL.iter().map(move |p| (h.clone(), *p)))
            .find(|step| !self.done.contains(step))
    }

    /// The highest hop whose post-check passed.
    pub fn reached(&self) -> Option<&str> {
        self.done
            .iter()
            .rev()
            .find(|(_, p)| *p == Phase::PostCheck)
            .map(|(h, _)| h.as_str())
    }
}

/// One ring's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RingProgress {
    /// Ring name.
    pub name: String,
    /// When its clusters were allowed to start.
    pub started_at: Option<Timestamp>,
    /// When it finished; its soak runs from here.
    pub finished_at: Option<Timestamp>,
    /// Who approved it, and when.
    pub approved: Option<(String, Timestamp)>,
    /// Its clusters.
    pub clusters: Vec<ClusterProgress>,
}

impl RingProgress {
    /// Failed clusters (neither retried nor skipped).
    pub fn failed(&self) -> usize {
        self.clusters
            .iter()
            .filter(|c| matches!(c.status, ClusterStatus::Failed { .. }))
            .count()
    }
}

/// A rollout, as its events tell it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rollout {
    /// Target minor.
    pub target: String,
    /// When it started.
    pub started_at: Timestamp,
    /// Rings in order.
    pub rings: Vec<RingProgress>,
    /// Set while paused: who, why, since when.
    pub paused: Option<(String, String, Timestamp)>,
}

impl Rollout {
    /// Every cluster, ring by ring.
    pub fn clusters(&self) -> impl Iterator<Item = &ClusterProgress> {
        self.rings.iter().flat_map(|r| r.clusters.iter())
    }

    fn cluster_mut(&mut self, name: &str) -> Option<&mut ClusterProgress> {
        self.rings
            .iter_mut()
            .flat_map(|r| r.clusters.iter_mut())
            .find(|c| c.name == name)
    }

    fn ring_mut(&mut self, name: &str) -> Option<&mut RingProgress> {
        self.rings.iter_mut().find(|r| r.name == name)
    }

    /// Whether every ring finished.
    pub fn is_finished(&self) -> bool {
        self.rings.iter().all(|r| r.finished_at.is_some())
    }
}

/// The rollout id of a target: one rollout per target minor.
pub fn rollout_id(target: KubeVersion) -> String {
    format!("to-{target}")
}

/// The rollout events of `id`, in journal order, with their time and author run.
pub fn events_of<'j>(
    journal: &'j [JournalEntry],
    id: &'j str,
) -> impl Iterator<Item = (Timestamp, RolloutEvent)> + 'j {
    journal.iter().filter_map(move |e| match &e.event {
        JournalEvent::Rollout { rollout, detail } if rollout == id => {
            serde_json::from_value(detail.clone())
                .ok()
                .map(|ev| (e.at, ev))
        }
        _ => None,
    })
}

/// Folds the events of one rollout; `None` when it has not started.
pub fn fold(events: impl IntoIterator<Item = (Timestamp, RolloutEvent)>) -> Option<Rollout> {
    let mut rollout: Option<Rollout> = None;
    for (at, event) in events {
        if let RolloutEvent::Started { target, rings } = &event {
            rollout = Some(Rollout {
                target: target.clone(),
                started_at: at,
                paused: None,
                rings: rings
                    .iter()
                    .map(|r| RingProgress {
                        name: r.name.clone(),
                        started_at: None,
                        finished_at: None,
                        approved: None,
                        clusters: r
                            .clusters
                            .iter()
                            .map(|c| ClusterProgress {
                                name: c.name.clone(),
                                from: c.from.clone(),
                                hops: c.hops.clone(),
                                status: if c.hops.is_empty() {
                                    ClusterStatus::Done
                                } else {
                                    ClusterStatus::Pending
                                },
                                done: Vec::new(),
                                in_step: None,
                                since: Some(at),
                            })
                            .collect(),
                    })
                    .collect(),
            });
            continue;
        }
        let Some(r) = rollout.as_mut() else { continue };
        match event {
            RolloutEvent::Started { .. } => {}
            RolloutEvent::RingStarted { ring } => {
                if let Some(ring) = r.ring_mut(&ring) {
                    ring.started_at = Some(at);
                }
            }
            RolloutEvent::RingFinished { ring } => {
                if let Some(ring) = r.ring_mut(&ring) {
                    ring.finished_at = Some(at);
                }
            }
            RolloutEvent::Approved { ring, by } => {
                if let Some(ring) = r.ring_mut(&ring) {
                    ring.approved = Some((by, at));
                }
            }
            RolloutEvent::ClusterStarted { cluster } => {
                if let Some(c) = r.cluster_mut(&cluster)
                    && c.status == ClusterStatus::Pending
                {
                    c.status = ClusterStatus::Running;
                    c.since = Some(at);
                }
            }
            RolloutEvent::StepStarted {
                cluster,
                hop,
                phase,
            } => {
                if let Some(c) = r.cluster_mut(&cluster) {
                    c.in_step = Some((hop, phase));
                    c.since = Some(at);
                }
            }
            RolloutEvent::StepFinished {
                cluster,
                hop,
                phase,
                ok,
                detail,
            } => {
                if let Some(c) = r.cluster_mut(&cluster) {
                    c.in_step = None;
                    c.since = Some(at);
                    if ok {
                        let step = (hop, phase);
                        if !c.done.contains(&step) {
                            c.done.push(step);
                        }
                        if c.next_step().is_none() {
                            c.status = ClusterStatus::Done;
                        }
                    } else {
                        c.status = ClusterStatus::Failed { error: detail };
                    }
                }
            }
            RolloutEvent::Paused { by, reason } => r.paused = Some((by, reason, at)),
            RolloutEvent::Resumed { .. } => r.paused = None,
            RolloutEvent::Retried { cluster, .. } => {
                if let Some(c) = r.cluster_mut(&cluster)
                    && matches!(c.status, ClusterStatus::Failed { .. })
                {
                    c.status = ClusterStatus::Running;
                    c.since = Some(at);
                }
            }
            RolloutEvent::Skipped {
                cluster, reason, ..
            } => {
                if let Some(c) = r.cluster_mut(&cluster)
                    && c.status != ClusterStatus::Done
                {
                    c.status = ClusterStatus::Skipped { reason };
                    c.in_step = None;
                    c.since = Some(at);
                }
            }
        }
    }
    rollout
}

/// The minor each cluster reached through rollouts (the last passed post-check of any
/// rollout), so that plans never try to move an upgraded cluster back to the blueprint's older
/// version.
pub fn reached_versions(journal: &[JournalEntry]) -> BTreeMap<String, KubeVersion> {
    let mut reached: BTreeMap<String, KubeVersion> = BTreeMap::new();
    for entry in journal {
        let JournalEvent::Rollout { detail, .. } = &entry.event else {
            continue;
        };
        let Ok(RolloutEvent::StepFinished {
            cluster,
            hop,
            phase: Phase::PostCheck,
            ok: true,
            ..
        }) = serde_json::from_value(detail.clone())
        else {
            continue;
        };
        if let Some(v) = KubeVersion::parse(&hop) {
            let slot = reached.entry(cluster).or_insert(v);
            *slot = (*slot).max(v);
        }
    }
    reached
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    fn started() -> RolloutEvent {
        RolloutEvent::Started {
            target: "1.36".into(),
            rings: vec![PlannedRing {
                name: "dev".into(),
                clusters: vec![
                    PlannedCluster {
                        name: "a".into(),
                        from: "1.34".into(),
                        hops: vec!["1.35".into(), "1.36".into()],
                    },
                    PlannedCluster {
                        name: "b".into(),
                        from: "1.36".into(),
                        hops: vec![],
                    },
                ],
            }],
        }
    }

    fn step(cluster: &str, hop: &str, phase: Phase, ok: bool) -> RolloutEvent {
        RolloutEvent::StepFinished {
            cluster: cluster.into(),
            hop: hop.into(),
            phase,
            ok,
            detail: if ok { "ok" } else { "boom" }.into(),
        }
    }

    #[test]
    fn steps_advance_in_hop_then_phase_order_and_a_cluster_at_target_is_done() {
        let mut events = vec![
            (t(0), started()),
            (
                t(1),
                RolloutEvent::ClusterStarted {
                    cluster: "a".into(),
                },
            ),
        ];
        for (i, phase) in Phase::ALL.iter().enumerate() {
            events.push((t(2 + i as i64), step("a", "1.35", *phase, true)));
        }
        let r = fold(events.clone()).unwrap();
        let a = &r.rings[0].clusters[0];
        assert_eq!(a.status, ClusterStatus::Running);
        assert_eq!(a.next_step(), Some(("1.36".into(), Phase::Preflight)));
        assert_eq!(a.reached(), Some("1.35"));
        assert_eq!(r.rings[0].clusters[1].status, ClusterStatus::Done);
        for (i, phase) in Phase::ALL.iter().enumerate() {
            events.push((t(10 + i as i64), step("a", "1.36", *phase, true)));
        }
        let r = fold(events).unwrap();
        assert_eq!(r.rings[0].clusters[0].status, ClusterStatus::Done);
        assert_eq!(r.rings[0].clusters[0].next_step(), None);
    }

    #[test]
    fn a_started_step_without_its_end_is_run_again_and_failures_wait_for_retry_or_skip() {
        let events = vec![
            (t(0), started()),
            (
                t(1),
                RolloutEvent::ClusterStarted {
                    cluster: "a".into(),
                },
            ),
            (t(2), step("a", "1.35", Phase::Preflight, true)),
            (
                t(3),
                RolloutEvent::StepStarted {
                    cluster: "a".into(),
                    hop: "1.35".into(),
                    phase: Phase::ControlPlane,
                },
            ),
        ];
        let r = fold(events.clone()).unwrap();
        let a = &r.rings[0].clusters[0];
        assert_eq!(a.in_step, Some(("1.35".into(), Phase::ControlPlane)));
        assert_eq!(a.next_step(), Some(("1.35".into(), Phase::ControlPlane)));

        let mut failed = events;
        failed.push((t(4), step("a", "1.35", Phase::ControlPlane, false)));
        let r = fold(failed.clone()).unwrap();
        assert_eq!(r.rings[0].failed(), 1);
        assert_eq!(
            r.rings[0].clusters[0].next_step(),
            Some(("1.35".into(), Phase::ControlPlane)),
            "the failed step is the one a retry runs"
        );
        let mut retried = failed.clone();
        retried.push((
            t(5),
            RolloutEvent::Retried {
                cluster: "a".into(),
                by: "me".into(),
            },
        ));
        assert_eq!(
            fold(retried).unwrap().rings[0].clusters[0].status,
            ClusterStatus::Running
        );
        let mut skipped = failed;
        skipped.push((
            t(5),
            RolloutEvent::Skipped {
                cluster: "a".into(),
                by: "me".into(),
                reason: "hardware refresh".into(),
            },
        ));
        let r = fold(skipped).unwrap();
        assert_eq!(r.rings[0].failed(), 0);
        assert_eq!(
            r.rings[0].clusters[0].status,
            ClusterStatus::Skipped {
                reason: "hardware refresh".into()
            }
        );
    }

    #[test]
    fn reached_versions_take_the_highest_passed_post_check() {
        let entry = |event: RolloutEvent| JournalEntry {
            seq: 0,
            run_id: "r".into(),
            at: t(0),
            address: None,
            event: JournalEvent::Rollout {
                rollout: "to-1.36".into(),
                detail: serde_json::to_value(event).unwrap(),
            },
        };
        let journal = vec![
            entry(step("a", "1.35", Phase::PostCheck, true)),
            entry(step("a", "1.36", Phase::PostCheck, false)),
            entry(step("b", "1.36", Phase::NodePools, true)),
        ];
        let reached = reached_versions(&journal);
        assert_eq!(reached.get("a"), Some(&KubeVersion::new(1, 35)));
        assert_eq!(reached.get("b"), None);
    }
}
