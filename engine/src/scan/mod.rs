//! Deprecation and upgrade-readiness scans.
//!
//! A scan answers "what breaks if these clusters move to minor X": manifests checked against the
//! Kubernetes API lifecycle ([`lifecycle`], [`manifest`]), platform readiness judged from the
//! calendars, the skew policy and the evidence providers read from the cloud ([`readiness`]),
//! and blueprint invariants re-evaluated at the target. The result is a [`ScanReport`] with
//! stable rule ids; upgrade rings use the same report as their `deprecations` gate. Like the rest
//! of the engine it never speaks HTTP: providers read the cloud, the CLI reads files.
//!
//! ```text
//! gather_evidence(&Registry, &Fleet, &[&Cluster], target, &Snapshot).await -> BTreeMap<String, Evidence>
//! assemble(ScanInput { fleet, clusters, target, today, sources, evidence, invariants, ignores, notes }) -> ScanReport
//! invariants_after_upgrade(before: &[Diagnostic], after: &[Diagnostic]) -> Vec<Diagnostic>
//! ```

pub mod lifecycle;
pub mod manifest;
mod readiness;
mod report;

use std::collections::{BTreeMap, HashSet};

use jiff::civil::Date;
use slipway_blueprints::{Cluster, Diagnostic, Fleet, KubeVersion, Severity};
use slipway_provider::EvidenceRequest;
use slipway_state::Snapshot;

use crate::Registry;
use crate::plan::{read_only_context, recorded_of};
use lifecycle::ApiStatus;
use manifest::{ManifestObject, ManifestSource};

pub use readiness::{Evidence, assess as readiness_of, minor_of};
pub use report::{
    ApiDetail, ClusterScan, Finding, FindingLocation, FindingSeverity, Ignore, IgnoreError,
    SCAN_FORMAT_VERSION, ScanReport, ScanRule, ScanSummary, Suppression, rule,
};

/// A manifest source and, for objects read from a live cluster, that cluster.
#[derive(Debug, Clone)]
pub struct ScanSource {
    /// The cluster it was read from; `None` for files and stdin.
    pub cluster: Option<String>,
    /// The text and its name.
    pub source: ManifestSource,
}

/// Everything a scan judges.
#[derive(Debug, Clone, Copy)]
pub struct ScanInput<'a> {
    /// The fleet.
    pub fleet: &'a Fleet,
    /// The selected clusters.
    pub clusters: &'a [&'a Cluster],
    /// The target minor.
    pub target: KubeVersion,
    /// The day calendars and exception expiry are evaluated on.
    pub today: Date,
    /// Manifests to check.
    pub sources: &'a [ScanSource],
    /// What providers read, by cluster name.
    pub evidence: &'a BTreeMap<String, Evidence>,
    /// Blueprint diagnostics that appear only at the target (see [`invariants_after_upgrade`]).
    pub invariants: &'a [Diagnostic],
    /// `--ignore` exceptions.
    pub ignores: &'a [Ignore],
    /// Fleet-wide notes gathered by the caller (skipped live objects and the like).
    pub notes: &'a [String],
}

/// Asks each selected cluster's provider for upgrade evidence, all clusters at once. A cluster
/// whose provider is not registered, or whose provider fails, gets [`Evidence::Unavailable`].
pub async fn gather_evidence(
    registry: &Registry,
    fleet: &Fleet,
    clusters: &[&Cluster],
    target: KubeVersion,
    snapshot: &Snapshot,
) -> BTreeMap<String, Evidence> {
    let ctx = read_only_context(&fleet.name, "scan");
    let asks = clusters.iter().map(|cluster| {
        let ctx = &ctx;
        async move {
            let recorded = recorded_of(snapshot, &cluster.name);
            let provider_name = cluster.provider.as_str();
            let evidence = match registry.provider(provider_name) {
                None => {
                    Evidence::Unavailable(format!("no `{provider_name}` provider is configured"))
                }
                Some(provider) => {
                    let req = EvidenceRequest {
                        fleet,
                        cluster,
                        target,
                        recorded: &recorded,
                    };
                    match provider.upgrade_evidence(ctx, req).await {
                        Ok(e) => Evidence::Read(e),
                        Err(e) => Evidence::Unavailable(e.to_string()),
                    }
                }
            };
            (cluster.name.clone(), evidence)
        }
    });
    futures::future::join_all(asks).await.into_iter().collect()
}

/// Diagnostics present when the blueprint is evaluated at the target but not as declared: the
/// invariants the upgrade would break. Calendar rules are left out: readiness reports them per hop.
pub fn invariants_after_upgrade(before: &[Diagnostic], after: &[Diagnostic]) -> Vec<Diagnostic> {
    let known: HashSet<(&str, &str)> = before.iter().map(|d| (d.code, d.detail.as_str())).collect();
    after
        .iter()
        .filter(|d| !matches!(d.code, "version-supported" | "version-extended-support"))
        .filter(|d| !known.contains(&(d.code, d.detail.as_str())))
        .cloned()
        .collect()
}

/// Builds the report: manifest findings, readiness per cluster, invariants, then exceptions.
pub fn assemble(input: ScanInput<'_>) -> ScanReport {
    let mut findings = Vec::new();
    let mut notes: Vec<String> = input.notes.to_vec();
    let mut objects = 0;
    for s in input.sources {
        let (read, errors) = manifest::read_objects(&s.source);
        objects += read.len();
        for e in errors {
            let mut f = Finding::new(
                rule::MANIFEST_UNREADABLE,
                FindingSeverity::Blocker,
                s.cluster.as_deref(),
                e.file.clone(),
                e.message.clone(),
            );
            f.location = Some(FindingLocation {
                file: e.file,
                document: None,
                line: e.line,
                column: e.column,
            });
            findings.push(f);
        }
        findings.extend(
            manifest::check(&read, input.target)
                .into_iter()
                .map(|a| api_finding(a, s.cluster.as_deref(), input.target)),
        );
    }
    let mut clusters = Vec::new();
    for cluster in input.clusters {
        let evidence = input
            .evidence
            .get(&cluster.name)
            .cloned()
            .unwrap_or(Evidence::Skipped);
        let (scan, found) = readiness::assess(cluster, input.target, input.today, &evidence);
        clusters.push(scan);
        findings.extend(found);
    }
    for d in input.invariants {
        let severity = match d.severity {
            Severity::Error => FindingSeverity::Blocker,
            Severity::Warning => FindingSeverity::Warning,
        };
        let mut f = Finding::new(
            rule::INVARIANT_AFTER_UPGRADE,
            severity,
            None,
            d.code,
            format!("at {}: {}", input.target, d.detail),
        );
        f.location = d.location.as_ref().map(|l| FindingLocation {
            file: l.file.display().to_string(),
            document: None,
            line: l.line,
            column: l.column,
        });
        findings.push(f);
    }
    report::apply_ignores(&mut findings, input.ignores, input.today, &mut notes);
    let summary = report::finish(&mut findings);
    ScanReport {
        format_version: SCAN_FORMAT_VERSION,
        fleet: input.fleet.name.clone(),
        target: input.target.to_string(),
        today: input.today,
        sources: input.sources.len(),
        objects,
        clusters,
        blocking: findings.iter().any(Finding::is_blocking),
        findings,
        notes,
        summary,
    }
}

fn api_finding(a: manifest::ApiFinding, cluster: Option<&str>, target: KubeVersion) -> Finding {
    let l = a.lifecycle;
    let object: &ManifestObject = &a.object;
    let (rule, severity) = match a.status {
        ApiStatus::Removed => (rule::API_REMOVED, FindingSeverity::Blocker),
        _ => (rule::API_DEPRECATED, FindingSeverity::Warning),
    };
    let replacement = l
        .replacement
        .as_ref()
        .map(|r| format!("{} {}", r.api_version, r.kind));
    let named = object
        .name
        .as_deref()
        .map(|n| format!(" `{n}`"))
        .unwrap_or_default();
    let mut message = match (a.status, l.removed, l.deprecated) {
        (ApiStatus::Removed, Some(r), _) => format!(
            "{} {}{named} is no longer served since {r}",
            object.api_version, object.kind
        ),
        (_, Some(r), Some(d)) if l.removal_planned => format!(
            "{} {}{named} is deprecated since {d}; removal planned no earlier than {r}",
            object.api_version, object.kind
        ),
        (_, Some(r), Some(d)) => format!(
            "{} {}{named} is deprecated since {d} and removed in {r}",
            object.api_version, object.kind
        ),
        (_, _, Some(d)) => format!(
            "{} {}{named} is deprecated since {d}",
            object.api_version, object.kind
        ),
        _ => format!(
            "{} {}{named} is not served at {target}",
            object.api_version, object.kind
        ),
    };
    match &replacement {
        Some(r) => message.push_str(&format!("; use {r}")),
        None => message.push_str("; it has no replacement"),
    }
    let mut f = Finding::new(
        rule,
        severity,
        cluster,
        format!("{}/{}", object.api_version, object.kind),
        message,
    );
    f.location = Some(FindingLocation {
        file: object.file.clone(),
        document: Some(object.document),
        line: object.line,
        column: object.column,
    });
    f.api = Some(ApiDetail {
        kind: object.kind.clone(),
        api_version: object.api_version.clone(),
        name: object.name.clone(),
        namespace: object.namespace.clone(),
        deprecated_in: l.deprecated.map(|v| v.to_string()),
        removed_in: l.removed.map(|v| v.to_string()),
        removal_planned: l.removal_planned,
        replacement,
        via: object.via.clone(),
    });
    f
}
