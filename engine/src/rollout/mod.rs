//! Upgrade rings: staged, gated, resumable Kubernetes minor upgrades across the fleet.
//!
//! A rollout moves every ringed cluster to a target minor, ring after ring (blueprint order),
//! one minor at a time. Each hop of a cluster runs five steps: preflight (readiness scan, ring
//! gates, no unrelated pending changes), control plane, add-ons, node pools (each a plan of the
//! cluster at the hop, filtered to that step's kinds, applied by the normal walk), and a
//! post-check of what the cloud reports. Progress is the fold of journal events
//! ([`progress`]); [`advance`] does whatever is due now and says why it stopped, so a scheduler
//! can call it again and again from any runner. The module never prints and never runs
//! processes itself: custom gate commands go through [`CommandRunner`].
//!
//! ```text
//! current_versions(&Registry, &Fleet, &reached, &Snapshot).await -> BTreeMap<cluster, minor>
//! plan_rollout(&Fleet, &versions, target) -> (Vec<PlannedRing>, unringed)
//! advance(&RolloutContext, target).await -> Result<Advanced, RolloutError>
//! record(&RolloutContext, target, Command).await -> Result<(), RolloutError>
//! load(&dyn StateStore, target).await -> Result<Option<Rollout>, RolloutError>
//! decide(&Rollout, &Fleet, now) -> Decision        // what advance would do next (status)
//! ```

pub mod progress;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jiff::Timestamp;
use jiff::civil::Date;
use slipway_blueprints::{Cluster, Fleet, Gate, KubeVersion, Ring};
use slipway_provider::UpgradePhase;
use slipway_state::{JournalEntry, JournalEvent, LockInfo, RunRecord, StateError, StateStore};

use crate::scan::{self, Evidence, FindingSeverity};
use crate::{
    ApplyContext, EngineError, Observer, Plan, PlanMode, PlanOptions, Registry, Selection,
    build_graph, plan,
};
pub use progress::{
    ClusterProgress, ClusterStatus, Phase, PlannedCluster, PlannedRing, RingProgress, Rollout,
    RolloutEvent, fold, reached_versions, rollout_id,
};

/// Loads the blueprint with clusters evaluated at given versions (a hop, or what earlier
/// rollouts reached), so every step plans exactly what the cluster should be.
pub trait FleetLoader: Send + Sync {
    /// The fleet with `versions` overriding the declared minors; an error message otherwise.
    fn load(&self, versions: &BTreeMap<String, KubeVersion>) -> Result<Fleet, String>;
}

/// Runs a ring's custom gate command.
#[async_trait]
pub trait CommandRunner: Send + Sync {
    /// Runs `command` with `env`; `Ok((passed, output))`, or `Err` when it could not start.
    async fn run(&self, command: &str, env: &[(String, String)]) -> Result<(bool, String), String>;
}

/// What a rollout needs.
pub struct RolloutContext<'a> {
    /// State and journal.
    pub store: &'a dyn StateStore,
    /// The lock held for this invocation.
    pub lock: &'a LockInfo,
    /// Providers.
    pub registry: &'a Registry,
    /// The blueprint.
    pub loader: &'a dyn FleetLoader,
    /// Custom gate commands.
    pub commands: &'a dyn CommandRunner,
    /// Hears the walks' progress.
    pub observer: Arc<dyn Observer>,
    /// Cloud operations in flight per walk.
    pub parallelism: usize,
    /// Template of the runs recorded in history (holder, blueprint digest, git commit); each
    /// applied step becomes its own run with an id derived from this one.
    pub run: RunRecord,
    /// The day calendars are evaluated on.
    pub today: Date,
}

/// Why a rollout could not proceed or a command was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RolloutError {
    /// Planning or applying failed as a whole.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The state backend failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The blueprint could not be loaded at the needed versions.
    #[error("the blueprint cannot be loaded for the upgrade: {0}")]
    Blueprint(String),
    /// No rollout to that target has started.
    #[error("no rollout to {0} has started; `slipway upgrade advance` starts it")]
    NotStarted(String),
    /// A ring named on the command line or in the rollout is not in the blueprint.
    #[error("ring `{ring}` is not {context}")]
    UnknownRing {
        /// The ring.
        ring: String,
        /// Where it was looked for.
        context: &'static str,
    },
    /// A cluster named on the command line is not part of the rollout.
    #[error("cluster `{0}` is not part of this rollout")]
    UnknownCluster(String),
    /// `retry` of a cluster that has not failed.
    #[error("cluster `{cluster}` has not failed (it is {status}); nothing to retry")]
    NotFailed {
        /// The cluster.
        cluster: String,
        /// Its status.
        status: String,
    },
    /// A target below a cluster's version, or no cluster to move.
    #[error("{0}")]
    Target(String),
}

/// A command recorded in the rollout's journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Approve a ring.
    Approve {
        /// Ring name.
        ring: String,
    },
    /// Stop starting anything.
    Pause {
        /// Why.
        reason: String,
    },
    /// Undo a pause.
    Resume,
    /// Run a failed cluster's failed step again.
    Retry {
        /// Cluster name.
        cluster: String,
    },
    /// Leave a cluster out.
    Skip {
        /// Cluster name.
        cluster: String,
        /// Why (required).
        reason: String,
    },
}

/// Why `advance` stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// Every ring finished.
    Finished,
    /// The next ring starts when the previous ring's soak ends.
    Soaking {
        /// The ring that waits.
        ring: String,
        /// When it may start.
        until: Timestamp,
    },
    /// The next ring needs `slipway upgrade approve`.
    AwaitingApproval {
        /// The ring.
        ring: String,
    },
    /// Paused by someone.
    Paused {
        /// Who.
        by: String,
        /// Why.
        reason: String,
    },
    /// Too many clusters of a ring failed; `retry` or `skip` continues.
    Halted {
        /// The ring.
        ring: String,
        /// Failed clusters with their errors.
        failed: Vec<(String, String)>,
    },
}

/// One step `advance` ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepReport {
    /// Cluster.
    pub cluster: String,
    /// Hop.
    pub hop: String,
    /// Step.
    pub phase: Phase,
    /// Whether it succeeded.
    pub ok: bool,
    /// What happened.
    pub detail: String,
    /// How long it took.
    pub elapsed: Duration,
}

/// What `advance` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advanced {
    /// Rollout events appended (ring and cluster starts, steps, ends).
    pub events: usize,
    /// Steps run, in the order they ended.
    pub steps: Vec<StepReport>,
    /// Why it stopped.
    pub stop: Stop,
}

impl Advanced {
    /// Whether anything was done (otherwise only waiting remains).
    pub fn did_work(&self) -> bool {
        self.events > 0
    }
}

/// What is due next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Let ring `ring` start.
    StartRing {
        /// Ring name.
        ring: String,
    },
    /// Close ring `ring`: every cluster is resolved; its soak starts.
    FinishRing {
        /// Ring name.
        ring: String,
    },
    /// Run these clusters' remaining steps (resumed ones first, then newly started ones).
    Run {
        /// Ring name.
        ring: String,
        /// Clusters already started with steps left.
        resume: Vec<String>,
        /// Pending clusters to start now, within `maxParallel`.
        start: Vec<String>,
    },
    /// Nothing to do now.
    Stop(Stop),
}

fn ring_spec<'f>(fleet: &'f Fleet, name: &str) -> Result<&'f Ring, RolloutError> {
    fleet
        .rings
        .iter()
        .find(|r| r.name == name)
        .ok_or_else(|| RolloutError::UnknownRing {
            ring: name.to_owned(),
            context: "in the blueprint any more",
        })
}

/// What `advance` would do next, given the progress, the blueprint's ring settings and `now`.
pub fn decide(rollout: &Rollout, fleet: &Fleet, now: Timestamp) -> Result<Decision, RolloutError> {
    if let Some((by, reason, _)) = &rollout.paused {
        return Ok(Decision::Stop(Stop::Paused {
            by: by.clone(),
            reason: reason.clone(),
        }));
    }
    let Some(i) = rollout.rings.iter().position(|r| r.finished_at.is_none()) else {
        return Ok(Decision::Stop(Stop::Finished));
    };
    let ring = &rollout.rings[i];
    let spec = ring_spec(fleet, &ring.name)?;
    if ring.started_at.is_none() {
        if let Some(prev) = i.checked_sub(1).map(|j| &rollout.rings[j]) {
            let soak = ring_spec(fleet, &prev.name)?.soak;
            let finished = prev.finished_at.unwrap_or(now);
            let until = finished
                .checked_add(jiff::SignedDuration::try_from(soak).unwrap_or_default())
                .unwrap_or(finished);
            if now < until {
                return Ok(Decision::Stop(Stop::Soaking {
                    ring: ring.name.clone(),
                    until,
                }));
            }
        }
        if spec.approval && ring.approved.is_none() {
            return Ok(Decision::Stop(Stop::AwaitingApproval {
                ring: ring.name.clone(),
            }));
        }
        return Ok(Decision::StartRing {
            ring: ring.name.clone(),
        });
    }
    let failed: Vec<(String, String)> = ring
        .clusters
        .iter()
        .filter_map(|c| match &c.status {
            ClusterStatus::Failed { error } => Some((c.name.clone(), error.clone())),
            _ => None,
        })
        .collect();
    if failed.len() > spec.failure_threshold as usize {
        return Ok(Decision::Stop(Stop::Halted {
            ring: ring.name.clone(),
            failed,
        }));
    }
    let resume: Vec<String> = ring
        .clusters
        .iter()
        .filter(|c| c.status == ClusterStatus::Running)
        .map(|c| c.name.clone())
        .collect();
    let room = (spec.max_parallel.max(1) as usize).saturating_sub(resume.len());
    let start: Vec<String> = ring
        .clusters
        .iter()
        .filter(|c| c.status == ClusterStatus::Pending)
        .take(room)
        .map(|c| c.name.clone())
        .collect();
    if resume.is_empty() && start.is_empty() {
        return Ok(Decision::FinishRing {
            ring: ring.name.clone(),
        });
    }
    Ok(Decision::Run {
        ring: ring.name.clone(),
        resume,
        start,
    })
}

/// The rollout plan: rings in blueprint order, each cluster's path one minor at a time from its
/// current version (`versions`, see [`current_versions`]; else the declared one) to `target`. Clusters in no ring are
/// returned apart: a rollout never touches them.
pub fn plan_rollout(
    fleet: &Fleet,
    versions: &BTreeMap<String, KubeVersion>,
    target: KubeVersion,
) -> Result<(Vec<PlannedRing>, Vec<String>), RolloutError> {
    let current = |c: &Cluster| versions.get(&c.name).copied().unwrap_or(c.kubernetes);
    let mut ahead = Vec::new();
    let rings: Vec<PlannedRing> = fleet
        .rings
        .iter()
        .map(|ring| PlannedRing {
            name: ring.name.clone(),
            clusters: fleet
                .clusters
                .iter()
                .filter(|c| c.ring.as_deref() == Some(&ring.name))
                .map(|c| {
                    let from = current(c);
                    if from.major != target.major || from > target {
                        ahead.push(format!("`{}` runs {from}", c.name));
                    }
                    let hops = if from.major == target.major && from < target {
                        (from.minor + 1..=target.minor)
                            .map(|m| KubeVersion::new(from.major, m).to_string())
                            .collect()
                    } else {
                        Vec::new()
                    };
                    PlannedCluster {
                        name: c.name.clone(),
                        from: from.to_string(),
                        hops,
                    }
                })
                .collect(),
        })
        .collect();
    if !ahead.is_empty() {
        return Err(RolloutError::Target(format!(
            "cannot roll out {target}: {} (Kubernetes never goes back a minor)",
            ahead.join(", ")
        )));
    }
    let unringed = fleet
        .clusters
        .iter()
        .filter(|c| c.ring.is_none())
        .map(|c| c.name.clone())
        .collect();
    Ok((rings, unringed))
}

/// What each ringed cluster runs now: the live control-plane minor where the cloud answers (a
/// rollout starts from what runs, whatever the blueprint says), else the higher of the declared
/// minor and what an earlier rollout reached.
pub async fn current_versions(
    registry: &Registry,
    fleet: &Fleet,
    reached: &BTreeMap<String, KubeVersion>,
    snapshot: &slipway_state::Snapshot,
) -> BTreeMap<String, KubeVersion> {
    let ringed: Vec<&Cluster> = fleet.clusters.iter().filter(|c| c.ring.is_some()).collect();
    let target = ringed
        .iter()
        .map(|c| c.kubernetes)
        .max()
        .unwrap_or(KubeVersion::new(1, 0));
    let evidence = scan::gather_evidence(registry, fleet, &ringed, target, snapshot).await;
    ringed
        .iter()
        .map(|c| {
            let live = match evidence.get(&c.name) {
                Some(Evidence::Read(e)) => e.live.as_ref().and_then(|l| scan::minor_of(&l.version)),
                _ => None,
            };
            let recorded = reached
                .get(&c.name)
                .copied()
                .map_or(c.kubernetes, |r| r.max(c.kubernetes));
            (c.name.clone(), live.unwrap_or(recorded))
        })
        .collect()
}

/// The rollout to `target` as the journal tells it.
pub async fn load(
    store: &dyn StateStore,
    target: KubeVersion,
) -> Result<Option<Rollout>, RolloutError> {
    let journal = store.journal(None).await?;
    let id = rollout_id(target);
    Ok(fold(progress::events_of(&journal, &id)))
}

async fn append(
    ctx: &RolloutContext<'_>,
    target: KubeVersion,
    event: &RolloutEvent,
) -> Result<(), RolloutError> {
    let entry = JournalEntry {
        seq: 0,
        run_id: ctx.run.id.clone(),
        at: Timestamp::now(),
        address: None,
        event: JournalEvent::Rollout {
            rollout: rollout_id(target),
            detail: serde_json::to_value(event).map_err(|e| {
                RolloutError::Blueprint(format!("cannot encode a rollout event: {e}"))
            })?,
        },
    };
    ctx.store.append_journal(ctx.lock, &entry).await?;
    Ok(())
}

/// Records an operator's command (approve, pause, resume, retry, skip) after checking it makes
/// sense for the rollout as it stands.
pub async fn record(
    ctx: &RolloutContext<'_>,
    target: KubeVersion,
    command: Command,
) -> Result<(), RolloutError> {
    let rollout = load(ctx.store, target)
        .await?
        .ok_or_else(|| RolloutError::NotStarted(target.to_string()))?;
    let by = ctx.run.holder.clone();
    let cluster = |name: &str| {
        rollout
            .clusters()
            .find(|c| c.name == name)
            .ok_or_else(|| RolloutError::UnknownCluster(name.to_owned()))
    };
    let event = match command {
        Command::Approve { ring } => {
            if !rollout.rings.iter().any(|r| r.name == ring) {
                return Err(RolloutError::UnknownRing {
                    ring,
                    context: "part of this rollout",
                });
            }
            RolloutEvent::Approved { ring, by }
        }
        Command::Pause { reason } => RolloutEvent::Paused { by, reason },
        Command::Resume => RolloutEvent::Resumed { by },
        Command::Retry { cluster: name } => {
            let c = cluster(&name)?;
            if !matches!(c.status, ClusterStatus::Failed { .. }) {
                return Err(RolloutError::NotFailed {
                    cluster: name,
                    status: status_word(&c.status).to_owned(),
                });
            }
            RolloutEvent::Retried { cluster: name, by }
        }
        Command::Skip {
            cluster: name,
            reason,
        } => {
            cluster(&name)?;
            RolloutEvent::Skipped {
                cluster: name,
                by,
                reason,
            }
        }
    };
    append(ctx, target, &event).await
}

/// One word for a status.
pub fn status_word(status: &ClusterStatus) -> &'static str {
    match status {
        ClusterStatus::Pending => "pending",
        ClusterStatus::Running => "running",
        ClusterStatus::Failed { .. } => "failed",
        ClusterStatus::Done => "done",
        ClusterStatus::Skipped { .. } => "skipped",
    }
}

/// Does whatever is due now: starts the rollout, starts rings whose soak and approval are
/// through, runs clusters' steps (up to `maxParallel` per ring at once), finishes rings. Stops
/// when only waiting remains, when a ring halts, or when every ring finished.
pub async fn advance(
    ctx: &RolloutContext<'_>,
    target: KubeVersion,
) -> Result<Advanced, RolloutError> {
    let id = rollout_id(target);
    let mut events = 0;
    let mut steps = Vec::new();
    loop {
        let journal = ctx.store.journal(None).await?;
        let reached = reached_versions(&journal);
        let fleet = ctx.loader.load(&reached).map_err(RolloutError::Blueprint)?;
        let Some(rollout) = fold(progress::events_of(&journal, &id)) else {
            if let Some(other) = unfinished_other(&journal, &id) {
                return Err(RolloutError::Target(format!(
                    "the rollout to {other} is not finished; finish it (or skip its remaining clusters) before starting the rollout to {target}"
                )));
            }
            let snapshot = ctx.store.snapshot().await?;
            let versions = current_versions(ctx.registry, &fleet, &reached, &snapshot).await;
            let (rings, _) = plan_rollout(&fleet, &versions, target)?;
            append(
                ctx,
                target,
                &RolloutEvent::Started {
                    target: target.to_string(),
                    rings,
                },
            )
            .await?;
            events += 1;
            continue;
        };
        match decide(&rollout, &fleet, Timestamp::now())? {
            Decision::Stop(stop) => {
                return Ok(Advanced {
                    events,
                    steps,
                    stop,
                });
            }
            Decision::StartRing { ring } => {
                append(ctx, target, &RolloutEvent::RingStarted { ring }).await?;
                events += 1;
            }
            Decision::FinishRing { ring } => {
                append(ctx, target, &RolloutEvent::RingFinished { ring }).await?;
                events += 1;
            }
            Decision::Run {
                ring,
                resume,
                start,
            } => {
                for cluster in &start {
                    append(
                        ctx,
                        target,
                        &RolloutEvent::ClusterStarted {
                            cluster: cluster.clone(),
                        },
                    )
                    .await?;
                    events += 1;
                }
                let spec = ring_spec(&fleet, &ring)?.clone();
                let ahead = ahead_of_blueprint(&fleet, &reached);
                let progress: Vec<ClusterProgress> = rollout
                    .clusters()
                    .filter(|c| resume.contains(&c.name) || start.contains(&c.name))
                    .cloned()
                    .collect();
                let runs = progress
                    .iter()
                    .map(|c| drive(ctx, target, &spec, c, &ahead));
                for result in futures::future::join_all(runs).await {
                    let (n, done) = result?;
                    events += n;
                    steps.extend(done);
                }
            }
        }
    }
}

/// The target of another rollout that started and has not finished: two rollouts at once would
/// race for the same clusters.
fn unfinished_other(journal: &[JournalEntry], id: &str) -> Option<String> {
    let ids: std::collections::BTreeSet<&str> = journal
        .iter()
        .filter_map(|e| match &e.event {
            JournalEvent::Rollout { rollout, .. } if rollout != id => Some(rollout.as_str()),
            _ => None,
        })
        .collect();
    ids.into_iter().find_map(|other| {
        fold(progress::events_of(journal, other))
            .filter(|r| !r.is_finished())
            .map(|r| r.target)
    })
}

/// Runs one cluster's remaining steps in order until it is done or a step fails.
async fn drive(
    ctx: &RolloutContext<'_>,
    target: KubeVersion,
    ring: &Ring,
    cluster: &ClusterProgress,
    ahead: &BTreeMap<String, KubeVersion>,
) -> Result<(usize, Vec<StepReport>), RolloutError> {
    let mut progress = cluster.clone();
    let mut events = 0;
    let mut reports = Vec::new();
    while let Some((hop, phase)) = progress.next_step() {
        append(
            ctx,
            target,
            &RolloutEvent::StepStarted {
                cluster: progress.name.clone(),
                hop: hop.clone(),
                phase,
            },
        )
        .await?;
        let started = Instant::now();
        let before = KubeVersion::parse(progress.reached().unwrap_or(&progress.from));
        let hop_version = KubeVersion::parse(&hop)
            .ok_or_else(|| RolloutError::Target(format!("`{hop}` is not a Kubernetes minor")))?;
        let (ok, detail) =
            match run_step(ctx, ring, &progress.name, before, hop_version, phase, ahead).await {
                Ok(outcome) => outcome,
                Err(e) => (false, e.to_string()),
            };
        append(
            ctx,
            target,
            &RolloutEvent::StepFinished {
                cluster: progress.name.clone(),
                hop: hop.clone(),
                phase,
                ok,
                detail: detail.clone(),
            },
        )
        .await?;
        events += 2;
        reports.push(StepReport {
            cluster: progress.name.clone(),
            hop: hop.clone(),
            phase,
            ok,
            detail,
            elapsed: started.elapsed(),
        });
        if !ok {
            break;
        }
        progress.done.push((hop, phase));
    }
    Ok((events, reports))
}

/// Clusters that rollouts moved past the minor the blueprint declares, at the minor they
/// reached: the overrides every load of the blueprint needs so that nothing plans a downgrade.
pub fn ahead_of_blueprint(
    fleet: &Fleet,
    reached: &BTreeMap<String, KubeVersion>,
) -> BTreeMap<String, KubeVersion> {
    fleet
        .clusters
        .iter()
        .filter_map(|c| {
            let r = reached.get(&c.name).copied()?;
            (r > c.kubernetes).then(|| (c.name.clone(), r))
        })
        .collect()
}

fn find<'f>(fleet: &'f Fleet, name: &str) -> Result<&'f Cluster, RolloutError> {
    fleet
        .clusters
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| RolloutError::UnknownCluster(name.to_owned()))
}

const HEALTHY: &[&str] = &["ACTIVE", "Succeeded", "Running"];

async fn run_step(
    ctx: &RolloutContext<'_>,
    ring: &Ring,
    cluster: &str,
    before: Option<KubeVersion>,
    hop: KubeVersion,
    phase: Phase,
    ahead: &BTreeMap<String, KubeVersion>,
) -> Result<(bool, String), RolloutError> {
    // Every load: clusters at what rollouts reached, this one at `version`.
    let load = |version: Option<KubeVersion>| {
        let mut versions = ahead.clone();
        if let Some(v) = version {
            versions.insert(cluster.to_owned(), v);
        }
        ctx.loader.load(&versions).map_err(RolloutError::Blueprint)
    };
    match phase {
        Phase::Preflight => {
            let fleet = load(before)?;
            let at_hop = load(Some(hop))?;
            preflight(ctx, ring, &fleet, &at_hop, cluster, hop).await
        }
        Phase::ControlPlane | Phase::Addons | Phase::NodePools => {
            let fleet = load(Some(hop))?;
            let wanted = match phase {
                Phase::ControlPlane => UpgradePhase::ControlPlane,
                Phase::Addons => UpgradePhase::Addons,
                _ => UpgradePhase::NodePools,
            };
            apply_phase(ctx, &fleet, cluster, hop, phase, wanted).await
        }
        Phase::PostCheck => {
            let fleet = load(Some(hop))?;
            post_check(ctx, &fleet, cluster, hop).await
        }
    }
}

async fn hop_plan(
    ctx: &RolloutContext<'_>,
    fleet: &Fleet,
    cluster: &str,
) -> Result<Plan, RolloutError> {
    let selection = Selection {
        clusters: vec![cluster.to_owned()],
    };
    let graph = build_graph(fleet, ctx.registry, &selection).map_err(EngineError::from)?;
    let snapshot = ctx.store.snapshot().await?;
    let options = PlanOptions {
        mode: PlanMode::Apply,
        refresh: true,
        selection,
        fleet: fleet.name.clone(),
        blueprint_digest: fleet.digest.clone(),
    };
    Ok(plan(&graph, &snapshot, &options, ctx.registry).await?)
}

fn phase_of(ctx: &RolloutContext<'_>, kind: &slipway_provider::Kind) -> Option<UpgradePhase> {
    ctx.registry
        .expander(kind.provider())
        .and_then(|e| e.upgrade_phase(kind))
}

async fn preflight(
    ctx: &RolloutContext<'_>,
    ring: &Ring,
    fleet: &Fleet,
    at_hop: &Fleet,
    name: &str,
    hop: KubeVersion,
) -> Result<(bool, String), RolloutError> {
    let cluster = find(fleet, name)?;
    let mut passed = Vec::new();
    let mut failed = Vec::new();
    // The hop must carry nothing but the upgrade.
    let planned = hop_plan(ctx, at_hop, name).await?;
    let unrelated: Vec<String> = planned
        .actions
        .iter()
        .filter(|a| a.action.is_change() && phase_of(ctx, &a.address.kind).is_none())
        .map(|a| a.address.to_string())
        .collect();
    if unrelated.is_empty() {
        passed.push("no unrelated pending changes".to_owned());
    } else {
        failed.push(format!(
            "pending changes unrelated to the upgrade ({}); run `slipway apply` first",
            unrelated.join(", ")
        ));
    }
    let snapshot = ctx.store.snapshot().await?;
    let evidence = scan::gather_evidence(ctx.registry, fleet, &[cluster], hop, &snapshot).await;
    let evidence = evidence.get(name).cloned().unwrap_or(Evidence::Skipped);
    let live = match &evidence {
        Evidence::Read(e) => e.live.clone(),
        _ => None,
    };
    let Some(live) = live else {
        failed.push(match &evidence {
            Evidence::Unavailable(why) => format!("the cloud could not be read: {why}"),
            _ => "the cluster does not exist in the cloud; apply it before upgrading".to_owned(),
        });
        return Ok((false, gate_detail(&passed, &failed)));
    };
    let deprecations_gate = ring.gates.contains(&Gate::Deprecations);
    let (_, findings) = scan::readiness_of(cluster, hop, ctx.today, &evidence);
    let blockers: Vec<String> = findings
        .iter()
        .filter(|f| f.severity == FindingSeverity::Blocker)
        .filter(|f| deprecations_gate || f.rule != scan::rule::CLOUD_INSIGHT)
        .map(|f| format!("{}: {}", f.rule, f.message))
        .collect();
    if blockers.is_empty() {
        passed.push(format!("readiness scan for {hop}"));
    } else {
        failed.extend(blockers);
    }
    for gate in &ring.gates {
        match gate {
            Gate::Deprecations => {}
            Gate::Health => {
                let unhealthy: Vec<String> =
                    std::iter::once((live.name.clone(), live.status.clone()))
                        .filter(|(_, s)| !HEALTHY.contains(&s.as_str()))
                        .map(|(n, s)| format!("{n} is {s}"))
                        .collect();
                if unhealthy.is_empty() {
                    passed.push("health".to_owned());
                } else {
                    failed.push(format!("health: {}", unhealthy.join(", ")));
                }
            }
            Gate::Command(command) => {
                let env = vec![
                    ("SLIPWAY_CLUSTER".to_owned(), name.to_owned()),
                    ("SLIPWAY_HOP".to_owned(), hop.to_string()),
                    ("SLIPWAY_CLOUD".to_owned(), cluster.provider.to_string()),
                    ("SLIPWAY_REGION".to_owned(), cluster.region.clone()),
                ];
                match ctx.commands.run(command, &env).await {
                    Ok((true, _)) => passed.push(format!("command `{command}`")),
                    Ok((false, output)) => {
                        failed.push(format!("command `{command}` failed: {}", output.trim()))
                    }
                    Err(e) => failed.push(format!("command `{command}` could not run: {e}")),
                }
            }
        }
    }
    Ok((failed.is_empty(), gate_detail(&passed, &failed)))
}

fn gate_detail(passed: &[String], failed: &[String]) -> String {
    let mut parts = Vec::new();
    if !failed.is_empty() {
        parts.push(format!("failed: {}", failed.join("; ")));
    }
    if !passed.is_empty() {
        parts.push(format!("passed: {}", passed.join("; ")));
    }
    parts.join(" — ")
}

async fn apply_phase(
    ctx: &RolloutContext<'_>,
    fleet: &Fleet,
    cluster: &str,
    hop: KubeVersion,
    phase: Phase,
    wanted: UpgradePhase,
) -> Result<(bool, String), RolloutError> {
    let planned = hop_plan(ctx, fleet, cluster).await?;
    let actions: Vec<_> = planned
        .actions
        .iter()
        .filter(|a| a.action.is_change() && phase_of(ctx, &a.address.kind) == Some(wanted))
        .cloned()
        .collect();
    if actions.is_empty() {
        return Ok((true, format!("nothing to change for {hop}")));
    }
    let changed: Vec<String> = actions
        .iter()
        .map(|a| {
            let shown = |v: &Option<slipway_provider::Value>| {
                v.as_ref()
                    .map_or_else(|| "null".to_owned(), ToString::to_string)
            };
            let diffs: Vec<String> = a
                .diffs
                .iter()
                .map(|d| format!("{}: {} → {}", d.path, shown(&d.before), shown(&d.after)))
                .collect();
            if diffs.is_empty() {
                a.address.to_string()
            } else {
                format!("{} ({})", a.address, diffs.join(", "))
            }
        })
        .collect();
    let subset = Plan { actions, ..planned };
    let mut run = ctx.run.clone();
    run.id = format!("{}-{cluster}-{hop}-{phase}", ctx.run.id);
    run.operation = format!("upgrade {phase}");
    run.started_at = Timestamp::now();
    run.plan_digest = None;
    let apply_ctx = ApplyContext {
        store: ctx.store,
        lock: ctx.lock,
        registry: ctx.registry,
        observer: ctx.observer.clone(),
        pacer: Arc::new(crate::TokenBucketPacer::default()),
        parallelism: ctx.parallelism,
        run,
    };
    let report = crate::walk::apply_checked(&subset, &apply_ctx, false).await?;
    if report.is_success() {
        Ok((true, format!("updated {}", changed.join("; "))))
    } else {
        let errors: Vec<String> = report
            .outcomes
            .iter()
            .filter_map(|o| match &o.result {
                crate::OutcomeResult::Failed { error } => {
                    let prefix = format!("{}: ", o.address);
                    Some(format!(
                        "{}: {}",
                        o.address,
                        error.strip_prefix(&prefix).unwrap_or(error)
                    ))
                }
                crate::OutcomeResult::Skipped { because } => {
                    Some(format!("{}: skipped because {because} failed", o.address))
                }
                crate::OutcomeResult::Succeeded { .. } => None,
            })
            .collect();
        Ok((false, errors.join("; ")))
    }
}

async fn post_check(
    ctx: &RolloutContext<'_>,
    fleet: &Fleet,
    name: &str,
    hop: KubeVersion,
) -> Result<(bool, String), RolloutError> {
    let cluster = find(fleet, name)?;
    let snapshot = ctx.store.snapshot().await?;
    let evidence = scan::gather_evidence(ctx.registry, fleet, &[cluster], hop, &snapshot).await;
    let live = match evidence.get(name) {
        Some(Evidence::Read(e)) => e.live.clone(),
        Some(Evidence::Unavailable(why)) => {
            return Ok((false, format!("the cloud could not be read: {why}")));
        }
        _ => None,
    };
    let Some(live) = live else {
        return Ok((false, "the cluster is gone from the cloud".to_owned()));
    };
    let mut problems = Vec::new();
    if scan::minor_of(&live.version) != Some(hop) {
        problems.push(format!("control plane at {}", live.version));
    }
    if !HEALTHY.contains(&live.status.as_str()) {
        problems.push(format!("control plane {}", live.status));
    }
    for pool in &live.node_pools {
        if scan::minor_of(&pool.version) != Some(hop) {
            problems.push(format!("node pool `{}` at {}", pool.name, pool.version));
        }
    }
    if problems.is_empty() {
        Ok((
            true,
            format!(
                "control plane {} {}; {} node pool(s) at {hop}",
                live.version,
                live.status,
                live.node_pools.len()
            ),
        ))
    } else {
        Ok((false, format!("not at {hop}: {}", problems.join(", "))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    fn ring(name: &str, soak: u64, max_parallel: u32, threshold: u32, approval: bool) -> Ring {
        Ring {
            name: name.into(),
            soak: Duration::from_secs(soak),
            max_parallel,
            failure_threshold: threshold,
            gates: vec![],
            approval,
        }
    }

    fn fleet() -> Fleet {
        Fleet {
            name: "f".into(),
            owner: None,
            clusters: vec![],
            rings: vec![ring("dev", 60, 2, 1, false), ring("prod", 0, 1, 0, true)],
            digest: "d".into(),
            standbys: Vec::new(),
        }
    }

    fn started() -> (Timestamp, RolloutEvent) {
        let cluster = |n: &str| PlannedCluster {
            name: n.into(),
            from: "1.35".into(),
            hops: vec!["1.36".into()],
        };
        (
            t(0),
            RolloutEvent::Started {
                target: "1.36".into(),
                rings: vec![
                    PlannedRing {
                        name: "dev".into(),
                        clusters: vec![cluster("a"), cluster("b"), cluster("c")],
                    },
                    PlannedRing {
                        name: "prod".into(),
                        clusters: vec![cluster("p")],
                    },
                ],
            },
        )
    }

    fn finish(cluster: &str, ok: bool, at: i64) -> Vec<(Timestamp, RolloutEvent)> {
        Phase::ALL
            .iter()
            .map(|p| {
                (
                    t(at),
                    RolloutEvent::StepFinished {
                        cluster: cluster.into(),
                        hop: "1.36".into(),
                        phase: *p,
                        ok,
                        detail: String::new(),
                    },
                )
            })
            .take(if ok { 5 } else { 1 })
            .collect()
    }

    fn decide_at(events: &[(Timestamp, RolloutEvent)], now: i64) -> Decision {
        decide(&fold(events.to_vec()).unwrap(), &fleet(), t(now)).unwrap()
    }

    #[test]
    fn rings_start_in_order_clusters_fill_max_parallel_and_soak_and_approval_gate_the_next_ring() {
        let mut events = vec![started()];
        assert_eq!(
            decide_at(&events, 1),
            Decision::StartRing { ring: "dev".into() }
        );
        events.push((t(1), RolloutEvent::RingStarted { ring: "dev".into() }));
        assert_eq!(
            decide_at(&events, 1),
            Decision::Run {
                ring: "dev".into(),
                resume: vec![],
                start: vec!["a".into(), "b".into()],
            }
        );
        for c in ["a", "b"] {
            events.push((t(2), RolloutEvent::ClusterStarted { cluster: c.into() }));
        }
        events.extend(finish("a", true, 3));
        assert_eq!(
            decide_at(&events, 3),
            Decision::Run {
                ring: "dev".into(),
                resume: vec!["b".into()],
                start: vec!["c".into()],
            },
            "a finished: its slot goes to c while b goes on"
        );
        events.push((
            t(4),
            RolloutEvent::ClusterStarted {
                cluster: "c".into(),
            },
        ));
        events.extend(finish("b", true, 5));
        events.extend(finish("c", false, 5));
        assert_eq!(
            decide_at(&events, 5),
            Decision::FinishRing { ring: "dev".into() },
            "one failure is within dev's threshold of 1"
        );
        events.push((t(6), RolloutEvent::RingFinished { ring: "dev".into() }));
        assert_eq!(
            decide_at(&events, 30),
            Decision::Stop(Stop::Soaking {
                ring: "prod".into(),
                until: t(66),
            })
        );
        assert_eq!(
            decide_at(&events, 66),
            Decision::Stop(Stop::AwaitingApproval {
                ring: "prod".into()
            })
        );
        events.push((
            t(70),
            RolloutEvent::Approved {
                ring: "prod".into(),
                by: "me".into(),
            },
        ));
        assert_eq!(
            decide_at(&events, 70),
            Decision::StartRing {
                ring: "prod".into()
            }
        );
        events.push((
            t(71),
            RolloutEvent::Paused {
                by: "me".into(),
                reason: "freeze".into(),
            },
        ));
        assert!(matches!(
            decide_at(&events, 71),
            Decision::Stop(Stop::Paused { .. })
        ));
        events.push((t(72), RolloutEvent::Resumed { by: "me".into() }));
        events.push((
            t(72),
            RolloutEvent::RingStarted {
                ring: "prod".into(),
            },
        ));
        events.push((
            t(73),
            RolloutEvent::ClusterStarted {
                cluster: "p".into(),
            },
        ));
        events.extend(finish("p", false, 74));
        assert!(
            matches!(decide_at(&events, 74), Decision::Stop(Stop::Halted { ref ring, ref failed }) if ring == "prod" && failed.len() == 1),
            "prod tolerates no failure"
        );
        events.push((
            t(75),
            RolloutEvent::Retried {
                cluster: "p".into(),
                by: "me".into(),
            },
        ));
        assert_eq!(
            decide_at(&events, 75),
            Decision::Run {
                ring: "prod".into(),
                resume: vec!["p".into()],
                start: vec![],
            }
        );
        events.extend(finish("p", true, 76));
        events.push((
            t(77),
            RolloutEvent::RingFinished {
                ring: "prod".into(),
            },
        ));
        assert_eq!(decide_at(&events, 77), Decision::Stop(Stop::Finished));
    }
}
