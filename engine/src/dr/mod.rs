//! DR standbys and drills: the standby derived from a primary is planned, built and torn down
//! as a cluster of its own through the normal graph, plan and walk; a drill times each phase,
//! judges the standby's readiness from provider evidence, and leaves a report whose digests go
//! into the state journal. Never prints and never writes files: the CLI renders and stores the
//! report, then calls [`record`].
//!
//! ```text
//! standby_fleet(&Fleet, cluster) -> (Fleet with the standby, &DerivedStandby)
//! built_standbys(&Fleet, &Snapshot) -> Vec<standby name>     // planned with the fleet
//! plan_standby(&Registry, &dyn StateStore, &Fleet, standby, PlanMode).await -> Plan
//! drill(&DrContext, &Fleet, cluster, teardown).await -> DrillReport
//! record(&dyn StateStore, &LockInfo, run id, &DrillReport, &[Artifact]).await
//! drills(&[JournalEntry]) -> Vec<DrillRecord>                // `slipway dr report`
//! ```

mod report;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use slipway_blueprints::{DerivedStandby, Fleet};
use slipway_provider::{Address, BuildPhase, ReadinessEvidence, ReadinessRequest};
use slipway_state::{
    JournalEntry, JournalEvent, LockInfo, RunRecord, Snapshot, StateError, StateStore,
};

pub use report::{
    CHECKS, DRILL_FORMAT_VERSION, DrillKind, DrillReport, PhaseTiming, PlannedChanges,
    PrimarySummary, ReadinessCheck, Recovery, StandbySummary, Teardown, TimelineEntry, Versions,
    build_phases, human, judge, verdict, versions,
};

use crate::pacer::TokenBucketPacer;
use crate::plan::{read_only_context, recorded_of};
use crate::{
    ApplyContext, EngineError, Observer, Plan, PlanMode, PlanOptions, Registry, Selection,
    WalkEvent, build_graph, plan,
};

/// Why a DR command could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DrError {
    /// The named cluster is neither a primary with a standby nor a standby.
    #[error(
        "cluster `{0}` has no DR standby: add `dr: {{ rto: …, standby: {{ region: …, cidr: … }} }}` to it in the blueprint"
    )]
    NoStandby(String),
    /// Planning or applying failed as a whole.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The state backend failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The drill evidence could not be encoded.
    #[error("cannot encode the drill evidence: {0}")]
    Encode(String),
}

/// What a drill needs.
pub struct DrContext<'a> {
    /// State and journal.
    pub store: &'a dyn StateStore,
    /// The lock held for the drill.
    pub lock: &'a LockInfo,
    /// Providers.
    pub registry: &'a Registry,
    /// Hears the walks' progress.
    pub observer: Arc<dyn Observer>,
    /// Cloud operations in flight.
    pub parallelism: usize,
    /// Template of the runs recorded in history (holder, blueprint digest, git commit).
    pub run: RunRecord,
    /// Cloud seconds per wall second: 1 on real clouds, the emulator's time scale on it.
    pub time_scale: f64,
}

/// The fleet with the standby of `cluster` (a primary's name or its standby's) added as a
/// cluster of its own, and that standby.
pub fn standby_fleet<'f>(
    fleet: &'f Fleet,
    cluster: &str,
) -> Result<(Fleet, &'f DerivedStandby), DrError> {
    let standby = fleet
        .standby_of(cluster)
        .or_else(|| fleet.standby(cluster))
        .ok_or_else(|| DrError::NoStandby(cluster.to_owned()))?;
    Ok((
        fleet.with_standbys([standby.cluster.name.as_str()]),
        standby,
    ))
}

/// Standbys state records resources of: a built standby is planned with its fleet, so that
/// `apply` keeps it converged instead of deleting it as unknown.
pub fn built_standbys(fleet: &Fleet, snapshot: &slipway_state::Snapshot) -> Vec<String> {
    fleet
        .standbys
        .iter()
        .filter(|s| {
            snapshot
                .resources
                .keys()
                .any(|a| a.cluster == s.cluster.name)
        })
        .map(|s| s.cluster.name.clone())
        .collect()
}

/// Plans the standby `standby` of `fleet` (which must include it, see [`standby_fleet`]):
/// `Apply` builds or converges it, `Destroy` tears it down.
pub async fn plan_standby(
    registry: &Registry,
    store: &dyn StateStore,
    fleet: &Fleet,
    standby: &str,
    mode: PlanMode,
) -> Result<Plan, DrError> {
    let selection = Selection {
        clusters: vec![standby.to_owned()],
    };
    let graph = build_graph(fleet, registry, &selection).map_err(EngineError::from)?;
    let snapshot = store.snapshot().await?;
    let options = PlanOptions {
        mode,
        refresh: mode == PlanMode::Apply,
        selection,
        fleet: fleet.name.clone(),
        blueprint_digest: fleet.digest.clone(),
    };
    Ok(plan(&graph, &snapshot, &options, registry).await?)
}

/// Records walk events with their time since the drill started, and passes them on.
struct Recorder {
    inner: Arc<dyn Observer>,
    started: Instant,
    phases: HashMap<Address, BuildPhase>,
    entries: Mutex<Vec<TimelineEntry>>,
}

impl Recorder {
    fn push(&self, address: &Address, action: String, event: &str, detail: Option<String>) {
        let entry = TimelineEntry {
            at_seconds: self.started.elapsed().as_secs_f64(),
            address: address.to_string(),
            phase: self
                .phases
                .get(address)
                .copied()
                .unwrap_or(BuildPhase::Other),
            action,
            event: event.to_owned(),
            detail,
        };
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(entry);
    }

    fn take(&self) -> Vec<TimelineEntry> {
        std::mem::take(
            &mut self
                .entries
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

impl Observer for Recorder {
    fn on_event(&self, event: &WalkEvent) {
        self.inner.on_event(event);
        match event {
            WalkEvent::Started { address, action } => {
                self.push(address, action.to_string(), "started", None);
            }
            WalkEvent::Finished {
                address, action, ..
            } => self.push(address, action.to_string(), "finished", None),
            WalkEvent::Failed {
                address,
                action,
                error,
            } => self.push(address, action.to_string(), "failed", Some(error.clone())),
            WalkEvent::Skipped {
                address,
                action,
                because,
            } => self.push(
                address,
                action.to_string(),
                "skipped",
                Some(format!("{because} failed")),
            ),
            WalkEvent::Waiting { .. } | WalkEvent::Progress { .. } => {}
        }
    }
}

fn phase_map(registry: &Registry, plan: &Plan) -> HashMap<Address, BuildPhase> {
    plan.actions
        .iter()
        .map(|a| {
            let phase = registry
                .expander(a.address.kind.provider())
                .map_or(BuildPhase::Other, |e| e.build_phase(&a.address.kind));
            (a.address.clone(), phase)
        })
        .collect()
}

/// Walks `plan` with the drill's recorder; the errors of failed and skipped actions.
async fn walk(
    ctx: &DrContext<'_>,
    plan: &Plan,
    recorder: &Arc<Recorder>,
    run_id: String,
    operation: &str,
) -> Vec<String> {
    if !plan.has_changes() {
        return Vec::new();
    }
    let mut run = ctx.run.clone();
    run.id = run_id;
    run.operation = operation.to_owned();
    run.started_at = Timestamp::now();
    run.plan_digest = None;
    let apply_ctx = ApplyContext {
        store: ctx.store,
        lock: ctx.lock,
        registry: ctx.registry,
        observer: recorder.clone(),
        pacer: Arc::new(TokenBucketPacer::default()),
        parallelism: ctx.parallelism,
        run,
    };
    match crate::apply(plan, &apply_ctx).await {
        Ok(report) => report
            .outcomes
            .iter()
            .filter_map(|o| match &o.result {
                crate::OutcomeResult::Failed { error } => Some(error.clone()),
                crate::OutcomeResult::Skipped { because } => {
                    Some(format!("{}: skipped because {because} failed", o.address))
                }
                crate::OutcomeResult::Succeeded { .. } => None,
            })
            .collect(),
        Err(e) => vec![e.to_string()],
    }
}

async fn evidence_of(
    ctx: &DrContext<'_>,
    snapshot: &Snapshot,
    fleet: &Fleet,
    cluster: &slipway_blueprints::Cluster,
) -> Result<ReadinessEvidence, String> {
    let provider = ctx
        .registry
        .provider(cluster.provider.as_str())
        .ok_or_else(|| format!("no provider for `{}`", cluster.provider))?;
    let recorded = recorded_of(snapshot, &cluster.name);
    let op = read_only_context(&fleet.name, "drill");
    provider
        .readiness_evidence(
            &op,
            ReadinessRequest {
                fleet,
                cluster,
                recorded: &recorded,
            },
        )
        .await
        .map_err(|e| e.to_string())
}

fn planned_changes(plan: &Plan) -> PlannedChanges {
    let s = plan.summary();
    PlannedChanges {
        add: s.add,
        change: s.change,
        replace: s.replace,
        destroy: s.destroy,
    }
}

fn phase(name: &str, start: f64, end: f64, time_scale: f64, operations: usize) -> PhaseTiming {
    let wall = (end - start).max(0.0);
    PhaseTiming {
        phase: name.to_owned(),
        started_after_seconds: start,
        wall_seconds: wall,
        cloud_seconds: wall * time_scale,
        operations,
        failed: 0,
    }
}

/// Runs a drill of the standby of `cluster`: plans it, builds or converges it (or only
/// verifies it when it already matches), checks its readiness, compares the time to a ready
/// standby with the RTO, and tears it down when asked, whatever happened before.
pub async fn drill(
    ctx: &DrContext<'_>,
    fleet: &Fleet,
    cluster: &str,
    teardown: bool,
) -> Result<DrillReport, DrError> {
    let started_at = Timestamp::now();
    let t0 = Instant::now();
    let (with_standby, standby) = standby_fleet(fleet, cluster)?;
    let name = standby.cluster.name.as_str();
    let id = format!(
        "drill-{}-{}",
        standby.primary,
        started_at.strftime("%Y%m%dT%H%M%SZ")
    );
    let existed = built_standbys(fleet, &ctx.store.snapshot().await?)
        .iter()
        .any(|s| s == name);
    let build_plan = plan_standby(
        ctx.registry,
        ctx.store,
        &with_standby,
        name,
        PlanMode::Apply,
    )
    .await?;
    let planned_at = t0.elapsed().as_secs_f64();
    let kind = match (existed, build_plan.has_changes()) {
        (false, _) => DrillKind::Build,
        (true, true) => DrillKind::Converge,
        (true, false) => DrillKind::Verify,
    };
    let mut phases = vec![phase("plan", 0.0, planned_at, ctx.time_scale, 0)];
    let recorder = Arc::new(Recorder {
        inner: ctx.observer.clone(),
        started: t0,
        phases: phase_map(ctx.registry, &build_plan),
        entries: Mutex::new(Vec::new()),
    });
    let build_errors = walk(
        ctx,
        &build_plan,
        &recorder,
        format!("{id}-build"),
        "dr drill",
    )
    .await;
    let mut timeline = recorder.take();
    phases.extend(build_phases(&timeline, ctx.time_scale));

    let checks_start = t0.elapsed().as_secs_f64();
    let mut notes = Vec::new();
    let snapshot = ctx.store.snapshot().await?;
    let evidence = match evidence_of(ctx, &snapshot, &with_standby, &standby.cluster).await {
        Ok(e) => e,
        Err(e) => {
            notes.push(format!("the standby's readiness could not be read: {e}"));
            ReadinessEvidence::default()
        }
    };
    notes.extend(evidence.notes.iter().cloned());
    let primary_issuer = match fleet.cluster(&standby.primary) {
        Some(primary) => match evidence_of(ctx, &snapshot, fleet, primary).await {
            Ok(e) => {
                let issuer = e.control_plane.and_then(|c| c.oidc_issuer);
                if issuer.is_none() {
                    notes.push(format!(
                        "the primary `{}` has no OIDC issuer in the cloud; identities were checked against the standby's own issuer only",
                        standby.primary
                    ));
                }
                issuer
            }
            Err(e) => {
                notes.push(format!("the primary's OIDC issuer could not be read: {e}"));
                None
            }
        },
        None => None,
    };
    let checks = judge(&standby.cluster, &evidence, primary_issuer.as_deref());
    let ready_at = t0.elapsed().as_secs_f64();
    phases.push(phase(
        "readiness",
        checks_start,
        ready_at,
        ctx.time_scale,
        checks.len(),
    ));
    let cloud_seconds = ready_at * ctx.time_scale;
    let recovery = Recovery {
        wall_seconds: ready_at,
        cloud_seconds,
        rto_seconds: standby.rto.as_secs(),
        within_rto: cloud_seconds <= standby.rto.as_secs_f64(),
    };
    let (passed, mut verdict) = verdict(build_errors.is_empty(), &checks, &recovery, &build_errors);
    if kind == DrillKind::Verify {
        // Nothing was built, so the time measured is a check of what exists, not a recovery.
        verdict.push_str(" (an existing standby was verified; no build was timed)");
    }
    notes.extend(build_errors.iter().map(|e| format!("build: {e}")));

    let teardown = if teardown {
        let start = t0.elapsed().as_secs_f64();
        // A teardown that cannot even be planned is reported, not raised: the drill's evidence
        // must survive it.
        let (errors, operations) = match plan_standby(
            ctx.registry,
            ctx.store,
            &with_standby,
            name,
            PlanMode::Destroy,
        )
        .await
        {
            Ok(down) => {
                let recorder = Arc::new(Recorder {
                    inner: ctx.observer.clone(),
                    started: t0,
                    phases: phase_map(ctx.registry, &down),
                    entries: Mutex::new(Vec::new()),
                });
                let errors =
                    walk(ctx, &down, &recorder, format!("{id}-teardown"), "dr drill").await;
                timeline.extend(recorder.take());
                (errors, down.actions.len())
            }
            Err(e) => (vec![format!("the teardown could not be planned: {e}")], 0),
        };
        let end = t0.elapsed().as_secs_f64();
        let remaining: Vec<String> = ctx
            .store
            .snapshot()
            .await?
            .resources
            .keys()
            .filter(|a| a.cluster == name)
            .map(ToString::to_string)
            .collect();
        phases.push(phase("teardown", start, end, ctx.time_scale, operations));
        Some(Teardown {
            succeeded: errors.is_empty() && remaining.is_empty(),
            wall_seconds: end - start,
            cloud_seconds: (end - start) * ctx.time_scale,
            remaining,
            errors,
        })
    } else {
        None
    };
    let primary = fleet.cluster(&standby.primary);
    Ok(DrillReport {
        format_version: DRILL_FORMAT_VERSION,
        id,
        fleet: fleet.name.clone(),
        primary: PrimarySummary {
            name: standby.primary.clone(),
            provider: standby.cluster.provider.to_string(),
            region: primary.map(|p| p.region.clone()).unwrap_or_default(),
            cidr: primary
                .map(|p| p.network.cidr.to_string())
                .unwrap_or_default(),
            oidc_issuer: primary_issuer,
        },
        standby: StandbySummary {
            name: name.to_owned(),
            provider: standby.cluster.provider.to_string(),
            region: standby.cluster.region.clone(),
            zones: standby.cluster.zones.clone(),
            cidr: standby.cluster.network.cidr.to_string(),
            mode: standby.mode,
            oidc_issuer: evidence
                .control_plane
                .as_ref()
                .and_then(|c| c.oidc_issuer.clone()),
        },
        derivation: standby.changes.clone(),
        who: ctx.run.holder.clone(),
        started_at,
        finished_at: Timestamp::now(),
        blueprint_digest: fleet.digest.clone(),
        git_commit: ctx.run.git_commit.clone(),
        plan_digest: build_plan.digest(),
        kind,
        time_scale: ctx.time_scale,
        planned: planned_changes(&build_plan),
        phases,
        timeline,
        versions: versions(&evidence),
        checks,
        recovery,
        teardown,
        notes,
        passed,
        verdict,
    })
}

/// An evidence file the CLI wrote, and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// Where it was written.
    pub path: String,
    /// Hex SHA-256 of its bytes.
    pub sha256: String,
}

/// What the journal keeps of a drill: enough for `slipway dr report` and to verify the
/// evidence files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillRecord {
    /// Drill id.
    pub drill: String,
    /// When it started.
    pub started_at: Timestamp,
    /// Who ran it.
    pub who: String,
    /// The primary.
    pub primary: String,
    /// The standby.
    pub standby: String,
    /// Build, converge or verify.
    pub kind: DrillKind,
    /// Whether it passed.
    pub passed: bool,
    /// The verdict sentence.
    pub verdict: String,
    /// Failed readiness checks.
    pub failed_checks: Vec<String>,
    /// Cloud seconds to a ready standby.
    pub recovery_seconds: f64,
    /// The RTO in seconds.
    pub rto_seconds: u64,
    /// Whether the standby was torn down, and cleanly.
    pub teardown: Option<bool>,
    /// The plan's digest.
    pub plan_digest: String,
    /// Evidence files and their digests.
    pub artifacts: Vec<Artifact>,
}

/// Journals a drill's outcome and its evidence digests.
pub async fn record(
    store: &dyn StateStore,
    lock: &LockInfo,
    run_id: &str,
    report: &DrillReport,
    artifacts: &[Artifact],
) -> Result<DrillRecord, DrError> {
    let record = DrillRecord {
        drill: report.id.clone(),
        started_at: report.started_at,
        who: report.who.clone(),
        primary: report.primary.name.clone(),
        standby: report.standby.name.clone(),
        kind: report.kind,
        passed: report.passed,
        verdict: report.verdict.clone(),
        failed_checks: report
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.clone())
            .collect(),
        recovery_seconds: report.recovery.cloud_seconds,
        rto_seconds: report.recovery.rto_seconds,
        teardown: report.teardown.as_ref().map(|t| t.succeeded),
        plan_digest: report.plan_digest.clone(),
        artifacts: artifacts.to_vec(),
    };
    let entry = JournalEntry {
        seq: 0,
        run_id: run_id.to_owned(),
        at: Timestamp::now(),
        address: None,
        event: JournalEvent::Drill {
            drill: report.id.clone(),
            detail: serde_json::to_value(&record).map_err(|e| DrError::Encode(e.to_string()))?,
        },
    };
    store.append_journal(lock, &entry).await?;
    Ok(record)
}

/// Drills recorded in the journal, oldest first. Entries that do not decode (written by a newer
/// Slipway) are skipped.
pub fn drills(journal: &[JournalEntry]) -> Vec<DrillRecord> {
    journal
        .iter()
        .filter_map(|e| match &e.event {
            JournalEvent::Drill { detail, .. } => serde_json::from_value(detail.clone()).ok(),
            _ => None,
        })
        .collect()
}
