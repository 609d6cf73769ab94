//! The evidence a DR drill leaves: its report model, the readiness judgement and the per-phase
//! timings. Pure: no clock, no cloud, no state; the drill in [`super`] feeds it observations.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use slipway_blueprints::{Cluster, Derivation, StandbyMode};
use slipway_provider::{BuildPhase, Condition, IdentityMechanism, ReadinessEvidence};

/// Version of the drill report's JSON layout; bumped on incompatible changes.
pub const DRILL_FORMAT_VERSION: u32 = 1;

/// The readiness checks a drill runs, in order.
pub const CHECKS: [&str; 4] = [
    "control-plane-active",
    "node-pools-ready",
    "add-ons-active",
    "identities-resolvable",
];

/// Everything a drill measured and concluded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrillReport {
    /// Layout version ([`DRILL_FORMAT_VERSION`]).
    pub format_version: u32,
    /// Unique drill id.
    pub id: String,
    /// The fleet.
    pub fleet: String,
    /// The primary the standby protects.
    pub primary: PrimarySummary,
    /// The standby drilled.
    pub standby: StandbySummary,
    /// How the standby differs from its primary and why.
    pub derivation: Vec<Derivation>,
    /// Who ran the drill (`user@host (pid N)`).
    pub who: String,
    /// When it started.
    pub started_at: Timestamp,
    /// When it ended (teardown included).
    pub finished_at: Timestamp,
    /// SHA-256 of the blueprint sources.
    pub blueprint_digest: String,
    /// `git rev-parse HEAD` of the blueprint's repository, when inside one.
    pub git_commit: Option<String>,
    /// Digest of the standby's plan.
    pub plan_digest: String,
    /// Whether the standby was built from nothing, converged, or only verified.
    pub kind: DrillKind,
    /// Cloud seconds per wall second: 1 on real clouds, the emulator's time scale on it.
    pub time_scale: f64,
    /// Changes the plan carried.
    pub planned: PlannedChanges,
    /// Per-phase timings, in the order phases started.
    pub phases: Vec<PhaseTiming>,
    /// Every resource operation of the build and teardown.
    pub timeline: Vec<TimelineEntry>,
    /// Readiness checks, in [`CHECKS`] order.
    pub checks: Vec<ReadinessCheck>,
    /// What the standby runs, as the cloud reports it.
    pub versions: Versions,
    /// Time to a ready standby against the RTO.
    pub recovery: Recovery,
    /// The teardown, when asked for.
    pub teardown: Option<Teardown>,
    /// What could not be read or compared, one sentence each.
    pub notes: Vec<String>,
    /// Built, every readiness check passed, and within the RTO.
    pub passed: bool,
    /// One sentence saying why the drill passed or failed.
    pub verdict: String,
}

/// The primary, as the report names it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrimarySummary {
    /// Cluster name.
    pub name: String,
    /// Cloud.
    pub provider: String,
    /// Region.
    pub region: String,
    /// Network CIDR.
    pub cidr: String,
    /// Its OIDC issuer, when the primary exists in the cloud.
    pub oidc_issuer: Option<String>,
}

/// The standby, as the report names it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StandbySummary {
    /// Cluster name.
    pub name: String,
    /// Cloud.
    pub provider: String,
    /// Region.
    pub region: String,
    /// Zones.
    pub zones: Vec<String>,
    /// Network CIDR.
    pub cidr: String,
    /// Capacity mode.
    pub mode: StandbyMode,
    /// Its own OIDC issuer, when it exists.
    pub oidc_issuer: Option<String>,
}

/// What a drill did to the standby before checking it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DrillKind {
    /// Nothing of the standby existed: built from scratch.
    Build,
    /// Part of it existed: converged to the blueprint.
    Converge,
    /// It existed and matched the blueprint: verified only.
    Verify,
}

impl DrillKind {
    /// The word used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            DrillKind::Build => "build",
            DrillKind::Converge => "converge",
            DrillKind::Verify => "verify",
        }
    }
}

/// Counts of planned changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PlannedChanges {
    /// Creates.
    pub add: usize,
    /// In-place updates.
    pub change: usize,
    /// Replacements.
    pub replace: usize,
    /// Deletes.
    pub destroy: usize,
}

/// How long one phase took.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseTiming {
    /// `plan`, `network`, `identity`, `control-plane`, `node-pools`, `add-ons`, `endpoints`,
    /// `readiness`, `teardown`.
    pub phase: String,
    /// Wall seconds from the drill's start to the phase's start.
    pub started_after_seconds: f64,
    /// Wall seconds from its first operation's start to its last one's end.
    pub wall_seconds: f64,
    /// `wall_seconds` × the time scale: what it stands for on a real cloud.
    pub cloud_seconds: f64,
    /// Resource operations in the phase.
    pub operations: usize,
    /// Of which failed or were skipped.
    pub failed: usize,
}

/// One resource operation's start or end.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    /// Wall seconds since the drill started.
    pub at_seconds: f64,
    /// The resource.
    pub address: String,
    /// Its build phase.
    pub phase: BuildPhase,
    /// `create`, `update`, `delete`…
    pub action: String,
    /// `started`, `finished`, `failed` or `skipped`.
    pub event: String,
    /// The error or the failed dependency, for `failed` and `skipped`.
    pub detail: Option<String>,
}

/// One readiness check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadinessCheck {
    /// One of [`CHECKS`].
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was found: each problem when failed, what was checked when passed.
    pub details: Vec<String>,
}

/// What the standby runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Versions {
    /// Control plane version.
    pub kubernetes: Option<String>,
    /// Node pools: name → `version, instance type, nodes`.
    pub node_pools: BTreeMap<String, String>,
    /// Add-ons: name → version.
    pub addons: BTreeMap<String, String>,
}

/// Time to a ready standby against the RTO.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Recovery {
    /// Wall seconds from the drill's start to the end of the readiness checks.
    pub wall_seconds: f64,
    /// The same, in cloud time (× time scale).
    pub cloud_seconds: f64,
    /// The primary's recovery time objective.
    pub rto_seconds: u64,
    /// Whether `cloud_seconds` is within the RTO.
    pub within_rto: bool,
}

/// How the teardown went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Teardown {
    /// Whether every delete succeeded and state holds nothing of the standby.
    pub succeeded: bool,
    /// Wall seconds.
    pub wall_seconds: f64,
    /// Cloud seconds.
    pub cloud_seconds: f64,
    /// Addresses state still records for the standby afterwards.
    pub remaining: Vec<String>,
    /// Errors of deletes that failed.
    pub errors: Vec<String>,
}

/// Judges readiness evidence against the standby as derived. `primary_issuer` is the primary's
/// own OIDC issuer when known: no identity of the standby may trust it.
pub fn judge(
    standby: &Cluster,
    evidence: &ReadinessEvidence,
    primary_issuer: Option<&str>,
) -> Vec<ReadinessCheck> {
    vec![
        control_plane_check(standby, evidence),
        node_pools_check(standby, evidence),
        addons_check(standby, evidence),
        identities_check(standby, evidence, primary_issuer),
    ]
}

fn check(name: &str, problems: Vec<String>, passed_detail: String) -> ReadinessCheck {
    ReadinessCheck {
        name: name.to_owned(),
        passed: problems.is_empty(),
        details: if problems.is_empty() {
            vec![passed_detail]
        } else {
            problems
        },
    }
}

fn condition_word(c: Condition) -> &'static str {
    match c {
        Condition::Ready => "ready",
        Condition::Pending => "still provisioning",
        Condition::Degraded => "degraded",
        Condition::Failed => "failed",
        Condition::Missing => "missing",
    }
}

fn control_plane_check(standby: &Cluster, evidence: &ReadinessEvidence) -> ReadinessCheck {
    let want = standby.kubernetes.to_string();
    let mut problems = Vec::new();
    match &evidence.control_plane {
        None => problems.push(format!(
            "control plane `{}` does not exist in the cloud",
            standby.name
        )),
        Some(cp) => {
            if cp.condition != Condition::Ready {
                problems.push(format!(
                    "control plane `{}` is {} ({})",
                    cp.name,
                    condition_word(cp.condition),
                    cp.status
                ));
            }
            if !same_minor(&cp.version, &want) {
                problems.push(format!(
                    "control plane runs {} but the standby must run {want}",
                    cp.version
                ));
            }
        }
    }
    check(
        CHECKS[0],
        problems,
        format!("control plane `{}` active at {want}", standby.name),
    )
}

/// `1.34.2` and `1.34` are the same minor as `1.34`.
fn same_minor(running: &str, want: &str) -> bool {
    running == want
        || running
            .strip_prefix(want)
            .is_some_and(|rest| rest.starts_with('.'))
}

fn issues(list: &[String]) -> String {
    if list.is_empty() {
        String::new()
    } else {
        format!(": {}", list.join("; "))
    }
}

fn node_pools_check(standby: &Cluster, evidence: &ReadinessEvidence) -> ReadinessCheck {
    let mut problems = Vec::new();
    for pool in &standby.node_pools {
        match evidence.node_pools.iter().find(|p| p.name == pool.name) {
            None => problems.push(format!("node pool `{}` does not exist", pool.name)),
            Some(p) if p.condition != Condition::Ready || !p.health_issues.is_empty() => {
                problems.push(format!(
                    "node pool `{}` is {} ({}){}",
                    p.name,
                    condition_word(p.condition),
                    p.status,
                    issues(&p.health_issues)
                ));
            }
            Some(_) => {}
        }
    }
    let names: Vec<&str> = standby.node_pools.iter().map(|p| p.name.as_str()).collect();
    check(
        CHECKS[1],
        problems,
        format!("node pools ready: {}", names.join(", ")),
    )
}

fn addons_check(standby: &Cluster, evidence: &ReadinessEvidence) -> ReadinessCheck {
    let mut problems = Vec::new();
    for addon in &standby.addons {
        match evidence.addons.iter().find(|a| a.name == addon.name) {
            None => problems.push(format!("add-on `{}` is not installed", addon.name)),
            Some(a) if a.condition != Condition::Ready || !a.health_issues.is_empty() => {
                problems.push(format!(
                    "add-on `{}` is {} ({}){}",
                    a.name,
                    condition_word(a.condition),
                    a.status,
                    issues(&a.health_issues)
                ));
            }
            Some(_) => {}
        }
    }
    let names: Vec<&str> = standby.addons.iter().map(|a| a.name.as_str()).collect();
    let summary = if names.is_empty() {
        "no add-ons declared".to_owned()
    } else {
        format!("add-ons active: {}", names.join(", "))
    };
    check(CHECKS[2], problems, summary)
}

fn issuer_eq(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

fn identities_check(
    standby: &Cluster,
    evidence: &ReadinessEvidence,
    primary_issuer: Option<&str>,
) -> ReadinessCheck {
    let own = evidence
        .control_plane
        .as_ref()
        .and_then(|cp| cp.oidc_issuer.as_deref());
    let mut problems = Vec::new();
    if let (Some(own), Some(primary)) = (own, primary_issuer)
        && issuer_eq(own, primary)
    {
        problems.push(format!(
            "the standby's OIDC issuer {own} is the primary's own issuer"
        ));
    }
    for wi in &standby.workload_identities {
        let subject = format!(
            "system:serviceaccount:{}:{}",
            wi.namespace, wi.service_account
        );
        let Some(found) = evidence.identities.iter().find(|i| i.name == wi.name) else {
            problems.push(format!("identity `{}` was not found", wi.name));
            continue;
        };
        let mut wrong = found.problems.clone();
        if found.principal.is_none() {
            wrong.push("its principal does not exist".to_owned());
        }
        if !found.subjects.iter().any(|s| s == &subject) {
            wrong.push(format!("it does not trust `{subject}`"));
        }
        if found.mechanism != IdentityMechanism::PodIdentity {
            if found.trusted_issuers.is_empty() {
                wrong.push("it trusts no OIDC issuer".to_owned());
            }
            for issuer in &found.trusted_issuers {
                if primary_issuer.is_some_and(|p| issuer_eq(issuer, p)) {
                    wrong.push(format!("it trusts the primary's issuer {issuer}"));
                } else if own.is_some_and(|o| !issuer_eq(issuer, o)) {
                    wrong.push(format!("it trusts {issuer}, not the standby's own issuer"));
                }
            }
        }
        if !wrong.is_empty() {
            problems.push(format!("identity `{}`: {}", wi.name, wrong.join("; ")));
        }
    }
    let summary = if standby.workload_identities.is_empty() {
        "no workload identities declared".to_owned()
    } else {
        format!(
            "{} workload identities resolve and trust only the standby's issuer{}",
            standby.workload_identities.len(),
            own.map(|o| format!(" {o}")).unwrap_or_default()
        )
    };
    check(CHECKS[3], problems, summary)
}

/// What the standby runs, from its readiness evidence.
pub fn versions(evidence: &ReadinessEvidence) -> Versions {
    Versions {
        kubernetes: evidence.control_plane.as_ref().map(|c| c.version.clone()),
        node_pools: evidence
            .node_pools
            .iter()
            .map(|p| {
                let mut parts = vec![p.version.clone().unwrap_or_else(|| "?".into())];
                parts.extend(p.instance_type.clone());
                parts.extend(p.nodes.map(|n| format!("{n} nodes")));
                (p.name.clone(), parts.join(", "))
            })
            .collect(),
        addons: evidence
            .addons
            .iter()
            .map(|a| {
                (
                    a.name.clone(),
                    a.version.clone().unwrap_or_else(|| "-".into()),
                )
            })
            .collect(),
    }
}

/// Per-phase timings of the build phases found in `timeline`, in the order they started: each
/// from its first operation's start to its last operation's end.
pub fn build_phases(timeline: &[TimelineEntry], time_scale: f64) -> Vec<PhaseTiming> {
    let mut spans: BTreeMap<BuildPhase, (f64, f64, usize, usize)> = BTreeMap::new();
    for e in timeline {
        let span = spans
            .entry(e.phase)
            .or_insert((f64::INFINITY, f64::NEG_INFINITY, 0, 0));
        match e.event.as_str() {
            "started" => {
                span.0 = span.0.min(e.at_seconds);
                span.2 += 1;
            }
            "skipped" => {
                span.0 = span.0.min(e.at_seconds);
                span.1 = span.1.max(e.at_seconds);
                span.2 += 1;
                span.3 += 1;
            }
            "failed" => {
                span.1 = span.1.max(e.at_seconds);
                span.3 += 1;
            }
            _ => span.1 = span.1.max(e.at_seconds),
        }
    }
    let mut phases: Vec<PhaseTiming> = spans
        .into_iter()
        .filter(|(_, (start, _, _, _))| start.is_finite())
        .map(|(phase, (start, end, operations, failed))| {
            let wall = (end.max(start) - start).max(0.0);
            PhaseTiming {
                phase: phase.as_str().to_owned(),
                started_after_seconds: start,
                wall_seconds: wall,
                cloud_seconds: wall * time_scale,
                operations,
                failed,
            }
        })
        .collect();
    phases.sort_by(|a, b| a.started_after_seconds.total_cmp(&b.started_after_seconds));
    phases
}

/// The verdict sentence and whether the drill passed.
pub fn verdict(
    built: bool,
    checks: &[ReadinessCheck],
    recovery: &Recovery,
    build_errors: &[String],
) -> (bool, String) {
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name.as_str())
        .collect();
    let time = format!(
        "ready after {} against an RTO of {}",
        human(recovery.cloud_seconds),
        human(recovery.rto_seconds as f64)
    );
    if !built {
        let first = build_errors
            .first()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        return (
            false,
            format!("FAIL: the standby could not be built{first}"),
        );
    }
    if !failed.is_empty() {
        return (
            false,
            format!("FAIL: readiness checks failed: {}", failed.join(", ")),
        );
    }
    if !recovery.within_rto {
        return (false, format!("FAIL: RTO exceeded, {time}"));
    }
    (true, format!("PASS: {time}"))
}

/// `9m30s`, `1h05m`, `42s`.
pub fn human(seconds: f64) -> String {
    let s = seconds.round().max(0.0) as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests;
