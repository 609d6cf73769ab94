//! Upgrade rings: the rollout plan, status table, step log and advance summary, human and JSON.

use std::fmt::Write as _;
use std::io::Write as _;

use jiff::Timestamp;
use slipway_blueprints::{Fleet, Gate, KubeVersion};
use slipway_engine::rollout::{
    ClusterStatus, Decision, Phase, PlannedRing, Rollout, StepReport, Stop, status_word,
};
use slipway_engine::{Observer, WalkEvent};

use super::Out;

/// Timestamped lines on stderr for each resource step of the walks a rollout runs, and for each
/// rollout step.
pub struct RolloutLog {
    quiet: bool,
}

impl RolloutLog {
    pub fn new(out: &Out) -> Self {
        Self { quiet: out.quiet }
    }

    fn line(&self, text: &str) {
        if !self.quiet {
            let now = Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ");
            let _ = writeln!(std::io::stderr().lock(), "{now} {text}");
        }
    }

    /// Logs one finished rollout step.
    pub fn step(&self, s: &StepReport) {
        self.line(&format!(
            "{} {} {}: {} in {:.1}s — {}",
            s.cluster,
            s.hop,
            s.phase,
            if s.ok { "ok" } else { "FAILED" },
            s.elapsed.as_secs_f64(),
            s.detail
        ));
    }
}

impl Observer for RolloutLog {
    fn on_event(&self, event: &WalkEvent) {
        match event {
            WalkEvent::Started { address, .. } => self.line(&format!("{address}: started")),
            WalkEvent::Finished {
                address, elapsed, ..
            } => self.line(&format!("{address}: done in {:.1}s", elapsed.as_secs_f64())),
            WalkEvent::Failed { address, error, .. } => {
                self.line(&format!("{address}: failed: {error}"))
            }
            _ => {}
        }
    }
}

fn ago(since: Option<Timestamp>, now: Timestamp) -> String {
    match since {
        Some(t) => {
            let secs = now.duration_since(t).as_secs().max(0);
            format!("{} ({} ago)", t.strftime("%Y-%m-%dT%H:%M:%SZ"), human(secs))
        }
        None => "—".to_owned(),
    }
}

fn human(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// What happens next, in a sentence.
pub fn next_action(next: &Decision, now: Timestamp) -> String {
    match next {
        Decision::StartRing { ring } => format!("ring `{ring}` starts at the next advance"),
        Decision::FinishRing { ring } => {
            format!("ring `{ring}` finishes at the next advance; its soak starts then")
        }
        Decision::Run {
            ring,
            resume,
            start,
        } => {
            let mut parts = Vec::new();
            if !resume.is_empty() {
                parts.push(format!("continue {}", resume.join(", ")));
            }
            if !start.is_empty() {
                parts.push(format!("start {}", start.join(", ")));
            }
            format!("ring `{ring}`: {} at the next advance", parts.join("; "))
        }
        Decision::Stop(stop) => stop_sentence(stop, now),
    }
}

fn stop_sentence(stop: &Stop, now: Timestamp) -> String {
    match stop {
        Stop::Finished => "finished: every ring is done".to_owned(),
        Stop::Soaking { ring, until } => format!(
            "ring `{ring}` starts after the previous ring's soak, at {} (in {})",
            until.strftime("%Y-%m-%dT%H:%M:%SZ"),
            human(until.duration_since(now).as_secs().max(0))
        ),
        Stop::AwaitingApproval { ring } => format!(
            "ring `{ring}` waits for approval: `slipway upgrade approve BLUEPRINT --to VERSION --ring {ring}`"
        ),
        Stop::Paused { by, reason } => {
            format!("paused by {by} ({reason}); `slipway upgrade resume` continues")
        }
        Stop::Halted { ring, failed } => format!(
            "ring `{ring}` halted: {} failed ({}); `retry --cluster` or `skip --cluster --reason` continues",
            failed.len(),
            failed
                .iter()
                .map(|(c, e)| format!("{c}: {e}"))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

fn position(c: &slipway_engine::rollout::ClusterProgress) -> (String, String) {
    if let Some((hop, phase)) = &c.in_step {
        return (hop.clone(), format!("{phase} (in progress)"));
    }
    match (&c.status, c.next_step()) {
        (ClusterStatus::Done, _) => (c.reached().unwrap_or(&c.from).to_owned(), "—".to_owned()),
        (_, Some((hop, phase))) => (hop, phase.to_string()),
        (_, None) => (c.reached().unwrap_or(&c.from).to_owned(), "—".to_owned()),
    }
}

/// What happens next to one cluster, and when.
fn cluster_next(
    c: &slipway_engine::rollout::ClusterProgress,
    ring: &slipway_engine::rollout::RingProgress,
    next: &Decision,
    now: Timestamp,
) -> String {
    let in_ring = |r: &str| r == ring.name;
    match (&c.status, next) {
        (ClusterStatus::Done | ClusterStatus::Skipped { .. }, _) => "—".to_owned(),
        (ClusterStatus::Failed { .. }, _) => "retry or skip".to_owned(),
        (_, Decision::Stop(Stop::Paused { .. })) => "after resume".to_owned(),
        (_, Decision::Stop(Stop::Halted { ring: r, .. })) if in_ring(r) => {
            "after the ring's failures are retried or skipped".to_owned()
        }
        (ClusterStatus::Running, _) => match c.next_step() {
            Some((hop, phase)) => format!("{phase} of {hop}, at the next advance"),
            None => "—".to_owned(),
        },
        (_, Decision::Run { start, .. }) if start.contains(&c.name) => {
            "starts at the next advance".to_owned()
        }
        (_, Decision::Stop(Stop::Soaking { ring: r, until })) if in_ring(r) => format!(
            "after the soak, at {} (in {})",
            until.strftime("%Y-%m-%dT%H:%M:%SZ"),
            human(until.duration_since(now).as_secs().max(0))
        ),
        (_, Decision::Stop(Stop::AwaitingApproval { ring: r })) if in_ring(r) => {
            "after the ring is approved".to_owned()
        }
        _ if ring.started_at.is_some() => "when a slot in the ring frees".to_owned(),
        _ => "after the earlier rings".to_owned(),
    }
}

/// The status table.
pub fn status_table(rollout: &Rollout, next: &Decision, now: Timestamp) -> String {
    let mut t = format!(
        "Rollout to {} (started {})\n\n",
        rollout.target,
        ago(Some(rollout.started_at), now)
    );
    let mut rows: Vec<[String; 8]> = vec![[
        "RING".into(),
        "CLUSTER".into(),
        "STATUS".into(),
        "HOP".into(),
        "PHASE".into(),
        "SINCE".into(),
        "PATH".into(),
        "NEXT".into(),
    ]];
    for ring in &rollout.rings {
        for c in &ring.clusters {
            let (hop, phase) = position(c);
            let status = status_word(&c.status).to_owned();
            rows.push([
                ring.name.clone(),
                c.name.clone(),
                status,
                hop,
                phase,
                ago(c.since, now),
                if c.hops.is_empty() {
                    format!("{} (at target)", c.from)
                } else {
                    format!("{} → {}", c.from, c.hops.join(" → "))
                },
                cluster_next(c, ring, next, now),
            ]);
        }
    }
    let widths: Vec<usize> = (0..8)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count().min(60))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in &rows {
        let mut line = String::from("  ");
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                line.push_str(&" ".repeat(widths[i].saturating_sub(cell.chars().count()) + 2));
            }
        }
        let _ = writeln!(t, "{}", line.trim_end());
    }
    for c in rollout.clusters() {
        match &c.status {
            ClusterStatus::Failed { error } => {
                let _ = write!(t, "\n{} failed: {error}", c.name);
            }
            ClusterStatus::Skipped { reason } => {
                let _ = write!(t, "\n{} skipped: {reason}", c.name);
            }
            _ => {}
        }
    }
    let _ = write!(t, "\n\nNext: {}", next_action(next, now));
    t
}

/// The status document.
pub fn status_json(rollout: &Rollout, next: &Decision, now: Timestamp) -> serde_json::Value {
    let rings: Vec<serde_json::Value> = rollout
        .rings
        .iter()
        .map(|r| {
            let clusters: Vec<serde_json::Value> = r
                .clusters
                .iter()
                .map(|c| {
                    let (hop, phase) = position(c);
                    serde_json::json!({
                        "name": c.name,
                        "status": status_word(&c.status),
                        "error": match &c.status { ClusterStatus::Failed { error } => Some(error), _ => None },
                        "skipped_because": match &c.status { ClusterStatus::Skipped { reason } => Some(reason), _ => None },
                        "from": c.from,
                        "hops": c.hops,
                        "reached": c.reached(),
                        "hop": hop,
                        "phase": phase,
                        "in_step": c.in_step.is_some(),
                        "since": c.since,
                        "steps_done": c.done.len(),
                        "steps_total": c.hops.len() * Phase::ALL.len(),
                        "next": cluster_next(c, r, next, now),
                    })
                })
                .collect();
            serde_json::json!({
                "name": r.name,
                "started_at": r.started_at,
                "finished_at": r.finished_at,
                "approved_by": r.approved.as_ref().map(|(by, _)| by),
                "failed": r.failed(),
                "clusters": clusters,
            })
        })
        .collect();
    serde_json::json!({
        "version": 1,
        "target": rollout.target,
        "started_at": rollout.started_at,
        "paused": rollout.paused.as_ref().map(|(by, reason, at)| serde_json::json!({"by": by, "reason": reason, "since": at})),
        "rings": rings,
        "next": next_action(next, now),
        "next_kind": match next {
            Decision::StartRing { .. } => "start-ring",
            Decision::FinishRing { .. } => "finish-ring",
            Decision::Run { .. } => "run",
            Decision::Stop(Stop::Finished) => "finished",
            Decision::Stop(Stop::Soaking { .. }) => "soaking",
            Decision::Stop(Stop::AwaitingApproval { .. }) => "awaiting-approval",
            Decision::Stop(Stop::Paused { .. }) => "paused",
            Decision::Stop(Stop::Halted { .. }) => "halted",
        },
        "next_at": match next { Decision::Stop(Stop::Soaking { until, .. }) => Some(until), _ => None },
    })
}

fn gates(fleet: &Fleet, ring: &str) -> String {
    let Some(r) = fleet.rings.iter().find(|r| r.name == ring) else {
        return String::new();
    };
    let gates: Vec<String> = r
        .gates
        .iter()
        .map(|g| match g {
            Gate::Deprecations => "deprecations".to_owned(),
            Gate::Health => "health".to_owned(),
            Gate::Command(c) => format!("command `{c}`"),
        })
        .collect();
    format!(
        "soak {}s, max parallel {}, failure threshold {}, gates [{}]{}",
        r.soak.as_secs(),
        r.max_parallel,
        r.failure_threshold,
        gates.join(", "),
        if r.approval {
            ", approval required"
        } else {
            ""
        }
    )
}

/// The rollout plan.
pub fn rollout_plan(
    target: KubeVersion,
    fleet: &Fleet,
    rings: &[PlannedRing],
    unringed: &[String],
) -> String {
    let mut t = format!("Rollout of fleet `{}` to {target}\n", fleet.name);
    for ring in rings {
        let _ = writeln!(t, "\nring {} ({})", ring.name, gates(fleet, &ring.name));
        for c in &ring.clusters {
            if c.hops.is_empty() {
                let _ = writeln!(t, "  {}: at {} already", c.name, c.from);
            } else {
                let _ = writeln!(
                    t,
                    "  {}: {} → {} — per hop: {}",
                    c.name,
                    c.from,
                    c.hops.join(" → "),
                    Phase::ALL
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
    }
    if !unringed.is_empty() {
        let _ = write!(
            t,
            "\nNot in any ring (never touched by rollouts): {}",
            unringed.join(", ")
        );
    }
    t.trim_end().to_owned()
}

/// The rollout plan document.
pub fn rollout_plan_json(
    target: KubeVersion,
    fleet: &Fleet,
    rings: &[PlannedRing],
    unringed: &[String],
) -> serde_json::Value {
    serde_json::json!({
        "version": 1,
        "fleet": fleet.name,
        "target": target.to_string(),
        "rings": rings,
        "phases": Phase::ALL,
        "unringed": unringed,
    })
}

/// The end-of-invocation summary.
pub fn advance_summary(target: KubeVersion, steps: &[&StepReport], stop: &Stop) -> String {
    let failed = steps.iter().filter(|s| !s.ok).count();
    let mut t = format!(
        "Rollout to {target}: {} step(s) run, {failed} failed.",
        steps.len()
    );
    for s in steps.iter().filter(|s| !s.ok) {
        let _ = write!(t, "\n  ✗ {} {} {}: {}", s.cluster, s.hop, s.phase, s.detail);
    }
    let _ = write!(t, "\nNext: {}", stop_sentence(stop, Timestamp::now()));
    t
}

/// The end-of-invocation document.
pub fn advance_json(
    target: KubeVersion,
    steps: &[&StepReport],
    stop: &Stop,
    did_work: bool,
) -> serde_json::Value {
    let steps: Vec<serde_json::Value> = steps
        .iter()
        .map(|s| {
            serde_json::json!({
                "cluster": s.cluster, "hop": s.hop, "phase": s.phase, "ok": s.ok,
                "detail": s.detail, "elapsed_s": s.elapsed.as_secs_f64(),
            })
        })
        .collect();
    serde_json::json!({
        "version": 1,
        "target": target.to_string(),
        "did_work": did_work,
        "steps": steps,
        "stop": match stop {
            Stop::Finished => "finished",
            Stop::Soaking { .. } => "soaking",
            Stop::AwaitingApproval { .. } => "awaiting-approval",
            Stop::Paused { .. } => "paused",
            Stop::Halted { .. } => "halted",
        },
        "next": stop_sentence(stop, Timestamp::now()),
    })
}
