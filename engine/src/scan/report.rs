//! The scan report: findings with stable rule ids, per-cluster upgrade paths, notes, and the
//! `--ignore` exceptions applied to them. Pure data; renderers live in the CLI.

use std::fmt;
use std::str::FromStr;

use jiff::civil::Date;
use serde::Serialize;

/// Version of the JSON scan report; bumped on incompatible changes.
pub const SCAN_FORMAT_VERSION: u32 = 1;

/// How much a finding matters for the upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingSeverity {
    /// The upgrade breaks something or cannot proceed; the scan exits 5.
    Blocker,
    /// Needs attention before or during the upgrade.
    Warning,
    /// Worth knowing.
    Info,
}

impl FindingSeverity {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingSeverity::Blocker => "blocker",
            FindingSeverity::Warning => "warning",
            FindingSeverity::Info => "info",
        }
    }
}

impl fmt::Display for FindingSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scan rule: a stable id that findings carry and `--ignore` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ScanRule {
    /// Stable id.
    pub id: &'static str,
    /// One-line title.
    pub title: &'static str,
    /// What to do about it.
    pub help: &'static str,
}

macro_rules! rules {
    ($($name:ident = $id:literal, $title:literal, $help:literal;)*) => {
        $(
            #[doc = $title]
            pub const $name: &str = $id;
        )*
        /// Every scan rule, in documentation order.
        pub const SCAN_RULES: &[ScanRule] = &[$(ScanRule { id: $id, title: $title, help: $help },)*];
    };
}

/// Rule ids.
pub mod rule {
    use super::ScanRule;

    rules! {
        API_REMOVED = "api-removed", "API version removed at the target",
            "Migrate the manifest to the replacement apiVersion before upgrading.";
        API_DEPRECATED = "api-deprecated", "API version deprecated at the target",
            "Plan the migration to the replacement apiVersion; it will be removed.";
        MANIFEST_UNREADABLE = "manifest-unreadable", "manifest could not be read",
            "Fix the file so it can be checked; an unreadable manifest proves nothing.";
        VERSION_UNSUPPORTED = "version-unsupported", "target or intermediate version not available",
            "Choose a version the cloud supports on this date (see the support calendar).";
        VERSION_EXTENDED_SUPPORT = "version-extended-support", "target version in extended support",
            "Extended support costs extra; prefer a version in standard support.";
        VERSION_PATH = "version-path", "upgrade needs more than one minor hop",
            "Clouds upgrade one minor at a time; the rings walk every hop in order.";
        UPGRADE_NOT_OFFERED = "upgrade-not-offered", "cloud offers no upgrade to the next minor",
            "Check the cluster's upgrade profile; the cloud will refuse this upgrade.";
        VERSION_DRIFT = "version-drift", "live version differs from the blueprint",
            "Apply the blueprint or update it to match the cloud before upgrading.";
        NODE_SKEW = "node-skew", "node pool outside the version skew policy after the hop",
            "Upgrade the node pool closer to the control plane before the control-plane hop.";
        NODE_IMAGE_UNSUPPORTED = "node-image-unsupported", "node OS image not available for the target",
            "Move the node pool to a supported OS image before the hop.";
        ADDON_INCOMPATIBLE = "addon-incompatible", "add-on version not compatible with the target",
            "Pin a version compatible with the target, or remove the pin to follow the default.";
        ADDON_WILL_CHANGE = "addon-will-change", "installed add-on version changes during the upgrade",
            "The upgrade moves the add-on to the target's default version; check its release notes.";
        CLOUD_INSIGHT = "cloud-insight", "the cloud's upgrade check is not passing",
            "Read the insight's recommendation; EKS runs these checks against the next minor.";
        INVARIANT_AFTER_UPGRADE = "invariant-after-upgrade", "blueprint invariant fails at the target",
            "Change the blueprint (or add a policy exception) so it stays valid after the upgrade.";
        EVIDENCE_UNAVAILABLE = "evidence-unavailable", "live evidence could not be read",
            "Readiness was judged from the blueprint only; check credentials and connectivity.";
        IGNORE_EXPIRED = "ignore-expired", "an --ignore exception has expired",
            "Fix the finding or renew the exception with a new date and reason.";
    }
}

/// Where a finding points in a file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct FindingLocation {
    /// File as given (`-` for stdin, `live:…` for objects read from a cluster).
    pub file: String,
    /// 0-based document index within the file, for multi-document manifests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<usize>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// Details of a deprecated or removed API finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiDetail {
    /// Kind, e.g. `Ingress`.
    pub kind: String,
    /// The apiVersion written, e.g. `extensions/v1beta1`.
    pub api_version: String,
    /// Object name, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Object namespace, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The minor that deprecated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deprecated_in: Option<String>,
    /// The minor that removed it (or plans to).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed_in: Option<String>,
    /// Whether `removed_in` is only planned.
    pub removal_planned: bool,
    /// The replacement, `apiVersion Kind`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
    /// How the object was found inside the file (List item, Helm release, template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

/// An `--ignore` that suppressed a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppression {
    /// Why it is acceptable.
    pub reason: String,
    /// Last day the exception holds.
    pub until: Date,
}

/// One thing the scan found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Rule id (see [`SCAN_RULES`](rule::SCAN_RULES)).
    pub rule: &'static str,
    /// Severity relative to the target version.
    pub severity: FindingSeverity,
    /// The cluster it concerns; `None` for manifests checked against the target for every
    /// selected cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// What it is about, in a form `--ignore RULE@SUBJECT` can name: `apiVersion/Kind`, a
    /// node pool, an add-on, a version, an invariant rule id.
    pub subject: String,
    /// What is wrong, in a sentence.
    pub message: String,
    /// Where, when it comes from a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<FindingLocation>,
    /// API details, for API findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api: Option<ApiDetail>,
    /// Set when an `--ignore` suppressed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignored: Option<Suppression>,
}

impl Finding {
    /// A finding without location or API details.
    pub fn new(
        rule: &'static str,
        severity: FindingSeverity,
        cluster: Option<&str>,
        subject: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            rule,
            severity,
            cluster: cluster.map(str::to_owned),
            subject: subject.into(),
            message: message.into(),
            location: None,
            api: None,
            ignored: None,
        }
    }

    /// Whether it counts towards exit code 5.
    pub fn is_blocking(&self) -> bool {
        self.severity == FindingSeverity::Blocker && self.ignored.is_none()
    }

    /// The rule's help text.
    pub fn help(&self) -> &'static str {
        rule::SCAN_RULES
            .iter()
            .find(|r| r.id == self.rule)
            .map_or("", |r| r.help)
    }

    fn matches(&self, ignore: &Ignore) -> bool {
        ignore.rule == self.rule
            && ignore.subject.as_deref().is_none_or(|s| {
                s == self.subject
                    || self.cluster.as_deref() == Some(s)
                    || self.location.as_ref().is_some_and(|l| l.file == s)
            })
    }
}

/// One selected cluster and the path it would take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterScan {
    /// Blueprint name.
    pub name: String,
    /// `aws` or `azure`.
    pub cloud: String,
    /// Region.
    pub region: String,
    /// The version the blueprint declares.
    pub declared: String,
    /// The version the upgrade starts from: live when the cluster exists, else declared.
    pub current: String,
    /// Whether `current` was read from the cloud.
    pub live: bool,
    /// The minors the control plane goes through, in order, ending at the target; empty when
    /// the cluster is already at or past it.
    pub path: Vec<String>,
    /// Cloud checks that passed (EKS insights).
    pub checks_passed: Vec<String>,
    /// What was skipped and why.
    pub notes: Vec<String>,
}

/// Counts of unsuppressed findings by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ScanSummary {
    /// Blocking findings.
    pub blockers: usize,
    /// Warnings.
    pub warnings: usize,
    /// Informational findings.
    pub info: usize,
    /// Findings suppressed by `--ignore`.
    pub ignored: usize,
}

/// The whole scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanReport {
    /// [`SCAN_FORMAT_VERSION`]; named `version` like every JSON document of the CLI.
    #[serde(rename = "version")]
    pub format_version: u32,
    /// Fleet name.
    pub fleet: String,
    /// The target minor.
    pub target: String,
    /// The day calendars and exception expiry were evaluated on.
    pub today: Date,
    /// Manifest sources read (files, stdin, live objects).
    pub sources: usize,
    /// Objects checked across all sources.
    pub objects: usize,
    /// Selected clusters.
    pub clusters: Vec<ClusterScan>,
    /// Findings, blockers first.
    pub findings: Vec<Finding>,
    /// Fleet-wide notes (unused exceptions, skipped evidence).
    pub notes: Vec<String>,
    /// Counts.
    pub summary: ScanSummary,
    /// Whether any unsuppressed blocker was found (exit code 5).
    pub blocking: bool,
}

/// An exception to a scan rule: `RULE[@SUBJECT] until YYYY-MM-DD: REASON`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignore {
    /// The rule id it suppresses.
    pub rule: String,
    /// Limits it to findings whose subject, cluster or file is this.
    pub subject: Option<String>,
    /// Last day it holds.
    pub until: Date,
    /// Why.
    pub reason: String,
}

/// Why an `--ignore` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IgnoreError {
    /// The text is not `RULE[@SUBJECT] until YYYY-MM-DD: REASON`.
    #[error("`{0}` is not `RULE[@SUBJECT] until YYYY-MM-DD: REASON`")]
    Syntax(String),
    /// The rule id is unknown.
    #[error("`{rule}` is not a scan rule (rules: {known})")]
    UnknownRule {
        /// What was written.
        rule: String,
        /// The known ids.
        known: String,
    },
    /// The date does not parse.
    #[error("`{0}` is not a date (YYYY-MM-DD)")]
    Date(String),
    /// No reason given.
    #[error("an exception needs a reason after the date: `{0}`")]
    NoReason(String),
}

impl FromStr for Ignore {
    type Err = IgnoreError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let syntax = || IgnoreError::Syntax(text.to_owned());
        let (head, rest) = text.split_once(" until ").ok_or_else(syntax)?;
        let (date, reason) = rest.split_once(':').ok_or_else(syntax)?;
        let (rule, subject) = match head.trim().split_once('@') {
            Some((r, s)) if !s.trim().is_empty() => (r.trim(), Some(s.trim().to_owned())),
            Some(_) => return Err(syntax()),
            None => (head.trim(), None),
        };
        if !rule::SCAN_RULES.iter().any(|r| r.id == rule) {
            return Err(IgnoreError::UnknownRule {
                rule: rule.to_owned(),
                known: rule::SCAN_RULES
                    .iter()
                    .map(|r| r.id)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let until: Date = date
            .trim()
            .parse()
            .map_err(|_| IgnoreError::Date(date.trim().to_owned()))?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(IgnoreError::NoReason(text.to_owned()));
        }
        Ok(Ignore {
            rule: rule.to_owned(),
            subject,
            until,
            reason: reason.to_owned(),
        })
    }
}

impl fmt::Display for Ignore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rule)?;
        if let Some(s) = &self.subject {
            write!(f, "@{s}")?;
        }
        write!(f, " until {}: {}", self.until, self.reason)
    }
}

/// Applies exceptions: a live one marks matching findings ignored; an expired one suppresses
/// nothing and is itself a blocker (like an expired policy exception); an unused one is noted.
pub(crate) fn apply_ignores(
    findings: &mut Vec<Finding>,
    ignores: &[Ignore],
    today: Date,
    notes: &mut Vec<String>,
) {
    for ignore in ignores {
        if ignore.until < today {
            findings.push(Finding::new(
                rule::IGNORE_EXPIRED,
                FindingSeverity::Blocker,
                None,
                ignore.rule.clone(),
                format!("`--ignore {ignore}` expired on {}", ignore.until),
            ));
            continue;
        }
        let mut used = false;
        for finding in findings.iter_mut().filter(|f| f.ignored.is_none()) {
            if finding.matches(ignore) {
                finding.ignored = Some(Suppression {
                    reason: ignore.reason.clone(),
                    until: ignore.until,
                });
                used = true;
            }
        }
        if !used {
            notes.push(format!("`--ignore {ignore}` matched no finding"));
        }
    }
}

/// Sorts findings (blockers first, then cluster, file, line) and counts them.
pub(crate) fn finish(findings: &mut [Finding]) -> ScanSummary {
    findings.sort_by(|a, b| {
        (
            a.ignored.is_some(),
            a.severity,
            &a.cluster,
            &a.location,
            a.rule,
            &a.subject,
        )
            .cmp(&(
                b.ignored.is_some(),
                b.severity,
                &b.cluster,
                &b.location,
                b.rule,
                &b.subject,
            ))
    });
    let mut summary = ScanSummary::default();
    for f in findings.iter() {
        match (f.ignored.is_some(), f.severity) {
            (true, _) => summary.ignored += 1,
            (false, FindingSeverity::Blocker) => summary.blockers += 1,
            (false, FindingSeverity::Warning) => summary.warnings += 1,
            (false, FindingSeverity::Info) => summary.info += 1,
        }
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn ignore_parses_rule_subject_date_and_reason() {
        let i: Ignore =
            "api-deprecated@policy/v1beta1/PodDisruptionBudget until 2026-12-31: PLAT-42"
                .parse()
                .unwrap();
        assert_eq!(i.rule, "api-deprecated");
        assert_eq!(
            i.subject.as_deref(),
            Some("policy/v1beta1/PodDisruptionBudget")
        );
        assert_eq!(i.until, day("2026-12-31"));
        assert_eq!(i.reason, "PLAT-42");
        let plain: Ignore = "version-path until 2027-01-01: two hops are planned"
            .parse()
            .unwrap();
        assert_eq!(plain.subject, None);
    }

    #[test]
    fn ignore_rejects_what_policy_exceptions_reject() {
        assert!(matches!(
            "api-removed".parse::<Ignore>(),
            Err(IgnoreError::Syntax(_))
        ));
        assert!(matches!(
            "api-removd until 2026-12-31: x".parse::<Ignore>(),
            Err(IgnoreError::UnknownRule { .. })
        ));
        assert!(matches!(
            "api-removed until 31/12/2026: x".parse::<Ignore>(),
            Err(IgnoreError::Date(_))
        ));
        assert!(matches!(
            "api-removed until 2026-12-31:  ".parse::<Ignore>(),
            Err(IgnoreError::NoReason(_))
        ));
    }

    #[test]
    fn live_ignores_suppress_expired_ones_block_unused_ones_are_noted() {
        let mut findings = vec![
            Finding::new(
                rule::API_REMOVED,
                FindingSeverity::Blocker,
                None,
                "extensions/v1beta1/Ingress",
                "removed",
            ),
            Finding::new(
                rule::NODE_SKEW,
                FindingSeverity::Blocker,
                Some("prod"),
                "pool system",
                "skew",
            ),
        ];
        let ignores: Vec<Ignore> = [
            "api-removed@extensions/v1beta1/Ingress until 2026-12-01: legacy chart, PLAT-7",
            "node-skew@prod until 2026-11-20: expired yesterday",
            "addon-incompatible until 2027-01-01: nothing matches",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let mut notes = Vec::new();
        apply_ignores(&mut findings, &ignores, day("2026-11-21"), &mut notes);
        let summary = finish(&mut findings);
        assert!(
            findings
                .iter()
                .any(|f| f.rule == rule::API_REMOVED && f.ignored.is_some())
        );
        assert!(
            findings
                .iter()
                .any(|f| f.rule == rule::NODE_SKEW && f.is_blocking())
        );
        assert!(
            findings
                .iter()
                .any(|f| f.rule == rule::IGNORE_EXPIRED && f.is_blocking())
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(
            summary,
            ScanSummary {
                blockers: 2,
                warnings: 0,
                info: 0,
                ignored: 1
            }
        );
    }
}
