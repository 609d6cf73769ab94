//! Diagnostic codes and the collector every loading phase writes to.
//!
//! Each [`Code`] has one constant summary and a default severity; invariant rules are codes
//! too, listed with a description in [`RULES`]. The [`Report`] keeps findings with their raw
//! spans until the loader turns them into public [`crate::Diagnostic`]s. Nothing here decides
//! what is wrong; it must never drop a finding except an exact repeat (same code, same node).

use crate::diag::Severity;
use crate::yaml::{Node, Span};

macro_rules! codes {
    ($($variant:ident => $id:literal, $severity:ident, $summary:literal;)*) => {
        /// Every diagnostic code the loader emits.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub(crate) enum Code { $($variant,)* }

        impl Code {
            /// The stable id, e.g. `unknown-field`.
            pub fn id(self) -> &'static str {
                match self { $(Code::$variant => $id,)* }
            }

            /// The constant summary.
            pub fn summary(self) -> &'static str {
                match self { $(Code::$variant => $summary,)* }
            }

            /// The default severity.
            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity,)* }
            }

            #[cfg(test)]
            pub const ALL: &[Code] = &[$(Code::$variant,)*];
        }
    };
}

codes! {
    ReadFailed => "read-failed", Error, "cannot read blueprint";
    YamlSyntax => "yaml-syntax", Error, "invalid YAML syntax";
    YamlTag => "yaml-tag", Error, "unsupported YAML tag";
    DuplicateKey => "duplicate-key", Error, "duplicate key";
    WrongType => "wrong-type", Error, "wrong type";
    UnknownField => "unknown-field", Error, "unknown field";
    MissingField => "missing-field", Error, "missing required field";
    InvalidValue => "invalid-value", Error, "invalid value";
    DuplicateSection => "duplicate-section", Error, "section defined in more than one file";
    InvalidName => "invalid-name", Error, "invalid name";
    DuplicateName => "duplicate-name", Error, "duplicate name";
    UnknownProfile => "unknown-profile", Error, "unknown profile";
    UnknownRegion => "unknown-region", Error, "unknown region";
    InvalidZones => "invalid-zones", Error, "invalid zones";
    InvalidCidr => "invalid-cidr", Error, "invalid CIDR";
    CidrOverlap => "cidr-overlap", Error, "overlapping CIDRs";
    CidrTooSmall => "cidr-too-small", Error, "network too small for its zones";
    InvalidVersion => "invalid-version", Error, "invalid Kubernetes version";
    MissingCloudChoice => "missing-cloud-choice", Error, "no value for the cluster's cloud";
    PoolBounds => "pool-bounds", Error, "invalid node pool size";
    NoSystemPool => "no-system-pool", Error, "no system node pool";
    UnknownAddon => "unknown-addon", Error, "unknown add-on";
    UnknownPrivateEndpoint => "unknown-private-endpoint", Error, "unknown private endpoint service";
    MissingPrivateEndpointTarget => "missing-private-endpoint-target", Error, "private endpoint without a target resource id";
    MissingLogAnalyticsWorkspace => "missing-log-analytics-workspace", Error, "monitoring without a Log Analytics workspace";
    InvalidArn => "invalid-arn", Error, "invalid ARN";
    InvalidScope => "invalid-scope", Error, "invalid role assignment scope";
    UnknownRing => "unknown-ring", Error, "unknown ring";
    DrSameRegion => "dr-same-region", Error, "standby region is the primary region";
    DrStandbyZones => "dr-standby-zones", Error, "standby region lacks the primary's availability zones";
    DrKmsKey => "dr-kms-key", Error, "secrets key unusable in the standby region";
    DrInstanceUnavailable => "dr-instance-unavailable", Error, "instance type not offered in the standby region";
    UnknownRule => "unknown-rule", Error, "unknown rule";
    UnknownCluster => "unknown-cluster", Error, "unknown cluster";
    ExceptionExpired => "exception-expired", Error, "exception expired";
    UnusedException => "unused-exception", Warning, "unused exception";
    ProdPrivateEndpoint => "prod-private-endpoint", Error, "production cluster with a public API endpoint";
    ProdMinZones => "prod-min-zones", Error, "production cluster in fewer than 3 zones";
    ProdSystemPoolMin => "prod-system-pool-min", Error, "production system pools below 2 nodes";
    OwnerRequired => "owner-required", Error, "fleet has no owner";
    VersionSupported => "version-supported", Error, "Kubernetes version not supported";
    VersionExtendedSupport => "version-extended-support", Warning, "Kubernetes version in extended support";
    StaticCredentials => "workload-identity-not-static-credentials", Error, "static credentials in a workload identity";
    ProdDrDefined => "prod-dr-defined", Warning, "production cluster without disaster recovery";
    NodeOsSupported => "node-os-supported", Error, "node OS without images for the Kubernetes version";
}

/// An invariant rule: a code that policy exceptions may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleInfo {
    /// Stable rule id.
    pub id: &'static str,
    /// What the rule enforces, in one line.
    pub description: &'static str,
    /// Error or warning when broken.
    pub severity: Severity,
    /// Whether `policies.exceptions` may suppress it for a cluster.
    pub exceptable: bool,
}

const fn rule(
    code: Code,
    description: &'static str,
    severity: Severity,
    exceptable: bool,
) -> RuleInfo {
    RuleInfo {
        id: code.id_const(),
        description,
        severity,
        exceptable,
    }
}

impl Code {
    /// `id` usable in constants (rules only).
    const fn id_const(self) -> &'static str {
        match self {
            Code::ProdPrivateEndpoint => "prod-private-endpoint",
            Code::ProdMinZones => "prod-min-zones",
            Code::ProdSystemPoolMin => "prod-system-pool-min",
            Code::OwnerRequired => "owner-required",
            Code::VersionSupported => "version-supported",
            Code::VersionExtendedSupport => "version-extended-support",
            Code::StaticCredentials => "workload-identity-not-static-credentials",
            Code::ProdDrDefined => "prod-dr-defined",
            Code::NodeOsSupported => "node-os-supported",
            _ => "",
        }
    }

    /// The rule with this id.
    pub fn rule(id: &str) -> Option<(Code, &'static RuleInfo)> {
        RULE_CODES
            .iter()
            .zip(RULES)
            .find(|(_, r)| r.id == id)
            .map(|(c, r)| (*c, r))
    }
}

const RULE_CODES: &[Code] = &[
    Code::ProdPrivateEndpoint,
    Code::ProdMinZones,
    Code::ProdSystemPoolMin,
    Code::OwnerRequired,
    Code::VersionSupported,
    Code::VersionExtendedSupport,
    Code::StaticCredentials,
    Code::ProdDrDefined,
    Code::NodeOsSupported,
];

/// Every invariant rule, by stable id.
pub const RULES: &[RuleInfo] = &[
    rule(
        Code::ProdPrivateEndpoint,
        "prod clusters use `endpoint: private`",
        Severity::Error,
        true,
    ),
    rule(
        Code::ProdMinZones,
        "prod clusters span at least 3 availability zones",
        Severity::Error,
        true,
    ),
    rule(
        Code::ProdSystemPoolMin,
        "prod clusters keep at least 2 system nodes (sum of system pool `min`)",
        Severity::Error,
        true,
    ),
    rule(
        Code::OwnerRequired,
        "the fleet names an owner in `metadata.owner`",
        Severity::Error,
        true,
    ),
    rule(
        Code::VersionSupported,
        "the Kubernetes version is released and supported by the cloud today",
        Severity::Error,
        true,
    ),
    rule(
        Code::VersionExtendedSupport,
        "warns when an EKS version is past standard support (extended support costs extra)",
        Severity::Warning,
        true,
    ),
    rule(
        Code::StaticCredentials,
        "workload identities never carry static credentials (keys, secrets, passwords)",
        Severity::Error,
        false,
    ),
    rule(
        Code::ProdDrDefined,
        "warns when a prod cluster has no `dr` standby",
        Severity::Warning,
        true,
    ),
    rule(
        Code::NodeOsSupported,
        "every node pool's OS (or the cloud default) has node images for the cluster's Kubernetes version",
        Severity::Error,
        true,
    ),
];

/// One finding, before it is tied to a file path.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub code: Code,
    pub severity: Severity,
    pub span: Option<Span>,
    pub path: String,
    pub detail: String,
    pub help: Option<String>,
    /// Tells apart findings of one code at one node that are about different things (the
    /// other range of an overlap).
    pub other: Option<Span>,
}

/// Collects findings from every phase.
#[derive(Debug, Default)]
pub(crate) struct Report {
    items: Vec<Item>,
}

impl Report {
    /// A finding at a node, with the code's default severity.
    pub fn error(
        &mut self,
        code: Code,
        at: &Node,
        detail: impl Into<String>,
        help: Option<String>,
    ) {
        self.push_at(code, at.span, at.path.clone(), detail.into(), help);
    }

    /// A finding at a span.
    pub fn push_at(
        &mut self,
        code: Code,
        span: Span,
        path: String,
        detail: String,
        help: Option<String>,
    ) {
        self.items.push(Item {
            code,
            severity: code.severity(),
            span: Some(span),
            path,
            detail,
            help,
            other: None,
        });
    }

    /// A finding at a node about its relation to another node.
    pub fn pair(
        &mut self,
        code: Code,
        at: &Node,
        other: Span,
        detail: String,
        help: Option<String>,
    ) {
        self.items.push(Item {
            code,
            severity: code.severity(),
            span: Some(at.span),
            path: at.path.clone(),
            detail,
            help,
            other: Some(other),
        });
    }

    /// A finding without a position.
    pub fn push_global(&mut self, code: Code, detail: String, help: Option<String>) {
        self.items.push(Item {
            code,
            severity: code.severity(),
            span: None,
            path: String::new(),
            detail,
            help,
            other: None,
        });
    }

    /// True when nothing was found.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Number of findings so far (to tell whether a phase added any).
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Codes of the findings after the first `since`.
    pub fn codes_since(&self, since: usize) -> impl Iterator<Item = Code> + '_ {
        self.items[since.min(self.items.len())..]
            .iter()
            .map(|i| i.code)
    }

    /// Whether any error was found after the first `since` findings.
    pub fn errors_since(&self, since: usize) -> bool {
        self.items[since.min(self.items.len())..]
            .iter()
            .any(|i| i.severity == Severity::Error)
    }

    /// Findings in file and position order, exact repeats (same code at the same node, as
    /// happens when several clusters inherit one bad profile value) removed.
    pub fn into_sorted(self) -> Vec<Item> {
        let mut seen = std::collections::HashSet::new();
        let mut items: Vec<Item> = self
            .items
            .into_iter()
            .filter(|i| seen.insert((i.code, i.span, i.other)))
            .collect();
        items.sort_by_key(|i| match i.span {
            Some(s) => (0, s.file, s.offset),
            None => (1, 0, 0),
        });
        items
    }
}

/// The closest candidate to `input`, if it is close enough to be a likely typo.
pub(crate) fn suggest<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let input_lower = input.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = strsim::damerau_levenshtein(&input_lower, &c.to_lowercase());
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    let (distance, candidate) = best?;
    let limit = (input.chars().count().max(candidate.chars().count()) / 3).max(1);
    (distance <= limit || candidate.starts_with(input) && input.len() >= 3).then_some(candidate)
}

/// `did you mean `x`?` when there is a close candidate.
pub(crate) fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    suggest(input, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_are_lowercase_without_trailing_period() {
        for code in Code::ALL {
            let s = code.summary();
            assert!(!s.ends_with('.'), "{s}");
            assert!(
                !s.starts_with(|c: char| c.is_ascii_uppercase()) || s.starts_with("Kubernetes"),
                "{s}"
            );
        }
    }

    #[test]
    fn every_rule_has_its_code() {
        for (code, rule) in RULE_CODES.iter().zip(RULES) {
            assert_eq!(code.id(), rule.id);
            assert_eq!(code.severity(), rule.severity);
            assert_eq!(Code::rule(rule.id).map(|(c, _)| c), Some(*code));
        }
    }

    #[test]
    fn suggestions_catch_typos_only() {
        assert_eq!(
            suggest("prod-standrd", ["prod-standard", "dev"]),
            Some("prod-standard")
        );
        assert_eq!(suggest("azur", ["aws", "azure"]), Some("azure"));
        assert_eq!(suggest("gcp", ["aws", "azure"]), None);
        assert_eq!(
            suggest("nodepools", ["nodePools", "zones"]),
            Some("nodePools")
        );
    }
}
