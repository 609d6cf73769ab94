//! The whole fleet: combine documents, merge defaults and profiles, check across clusters.
//!
//! Documents (files of a directory, or `---` documents of a file) are combined in load order:
//! `metadata` and `defaults` at most once, profiles by name, clusters, rings and exceptions
//! concatenated. Each cluster is merged (defaults ⊕ profile ⊕ cluster, maps deeply, lists
//! replaced) at the node level, so every value keeps the span where it was written. Then come
//! the cross-cluster checks and policy exceptions. This module must never report a problem
//! that a missing or broken earlier piece explains (no cascades).

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::civil::Date;

use crate::cluster::{self, ClusterRead, Mode, Violation};
use crate::model::{Fleet, Gate, KubeVersion, Ring};
use crate::read::{self, Fields};
use crate::report::{Code, RULES, Report, did_you_mean};
use crate::yaml::{Kind, Node, Span};

const TOP_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "defaults",
    "profiles",
    "clusters",
    "rings",
    "policies",
];
const API_VERSION: &str = "slipway.dev/v1";

/// Deep merge: mappings merge key by key (`over` wins), anything else is replaced by `over`.
pub(crate) fn merge(base: &Node, over: &Node) -> Node {
    let (Kind::Map(b), Kind::Map(o)) = (&base.kind, &over.kind) else {
        return over.clone();
    };
    let mut entries: Vec<(Node, Node)> = b
        .iter()
        .map(
            |(k, v)| match o.iter().find(|(ok, _)| ok.text() == k.text()) {
                Some((ok, ov)) => (ok.clone(), merge(v, ov)),
                None => (k.clone(), v.clone()),
            },
        )
        .collect();
    entries.extend(
        o.iter()
            .filter(|(ok, _)| !b.iter().any(|(k, _)| k.text() == ok.text()))
            .cloned(),
    );
    Node {
        kind: Kind::Map(entries),
        span: over.span,
        path: over.path.clone(),
    }
}

/// The top-level sections gathered from every document.
#[derive(Default)]
struct Sections {
    metadata: Option<(Node, Node)>,
    defaults: Option<(Node, Node)>,
    profiles: Vec<(String, Node, Node)>,
    clusters: Vec<Node>,
    rings: Vec<Node>,
    exceptions: Vec<Node>,
}

pub(crate) struct Input<'a> {
    pub names: &'a [PathBuf],
    pub documents: Vec<Node>,
    /// Some file could not be parsed: missing sections may be in it.
    pub incomplete: bool,
    pub today: Date,
    /// Versions to evaluate clusters at, by cluster name.
    pub overrides: &'a BTreeMap<String, KubeVersion>,
    pub digest: String,
}

fn at(names: &[PathBuf], span: Span) -> String {
    let file = names
        .get(span.file)
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    format!("{file}:{}:{}", span.line, span.column)
}

fn gather(r: &mut Report, input: &Input<'_>) -> Sections {
    let mut s = Sections::default();
    for doc in &input.documents {
        if doc.is_null() {
            continue;
        }
        let Some(f) = read::fields(r, doc, "a blueprint document", TOP_FIELDS, &[]) else {
            continue;
        };
        match f.get("apiVersion") {
            None => read::missing(
                r,
                doc,
                "apiVersion",
                &format!("Every blueprint document (`apiVersion: {API_VERSION}`)"),
            ),
            Some(n) => {
                if let Some(v) = read::string(r, n, "`apiVersion`").filter(|v| v != API_VERSION) {
                    r.error(Code::InvalidValue, n, format!("`{v}` is not a supported `apiVersion`; this Slipway reads `{API_VERSION}`."), Some(format!("use `apiVersion: {API_VERSION}`")));
                }
            }
        }
        match f.get("kind") {
            None => read::missing(r, doc, "kind", "Every blueprint document (`kind: Fleet`)"),
            Some(n) => {
                read::one_of(r, n, "`kind`", &["Fleet"]);
            }
        }
        for (slot, key) in [(&mut s.metadata, "metadata"), (&mut s.defaults, "defaults")] {
            let (Some(k), Some(v)) = (f.key(key), f.get(key)) else {
                continue;
            };
            match slot {
                Some((first, _)) => r.error(
                    Code::DuplicateSection,
                    k,
                    format!(
                        "`{key}` is already defined at {}; it may appear in only one file.",
                        at(input.names, first.span)
                    ),
                    Some(format!("merge the two `{key}` sections")),
                ),
                None => *slot = Some((k.clone(), v.clone())),
            }
        }
        if let Some(p) = f.get("profiles")
            && let Some(pf) = read::fields(r, p, "`profiles`", &[], &collect_keys(p))
        {
            for (k, v) in pf.entries() {
                let name = k.text().unwrap_or_default().to_owned();
                match s.profiles.iter().find(|(n, _, _)| *n == name) {
                    Some((_, first, _)) => r.error(
                        Code::DuplicateName,
                        k,
                        format!(
                            "Profile `{name}` is already defined at {}.",
                            at(input.names, first.span)
                        ),
                        Some("rename one of them, or merge them".into()),
                    ),
                    None => s.profiles.push((name, k.clone(), v.clone())),
                }
            }
        }
        for (key, out) in [("clusters", &mut s.clusters), ("rings", &mut s.rings)] {
            if let Some(items) = f
                .get(key)
                .and_then(|n| read::list(r, n, &format!("`{key}`")))
            {
                out.extend(items.iter().cloned());
            }
        }
        if let Some(p) = f.get("policies")
            && let Some(pf) = read::fields(r, p, "`policies`", &["exceptions"], &[])
            && let Some(items) = pf
                .get("exceptions")
                .and_then(|n| read::list(r, n, "`policies.exceptions`"))
        {
            s.exceptions.extend(items.iter().cloned());
        }
    }
    s
}

fn collect_keys(node: &Node) -> Vec<&str> {
    match &node.kind {
        Kind::Map(entries) => entries.iter().filter_map(|(k, _)| k.text()).collect(),
        _ => Vec::new(),
    }
}

struct Metadata {
    name: Option<String>,
    owner: Option<String>,
    violations: Vec<Violation>,
}

fn read_metadata(r: &mut Report, s: &Sections, incomplete: bool) -> Metadata {
    let mut m = Metadata {
        name: None,
        owner: None,
        violations: Vec::new(),
    };
    let Some((key, node)) = &s.metadata else {
        if !incomplete {
            r.push_global(
                Code::MissingField,
                "The blueprint has no `metadata` section; the fleet needs a `metadata.name`."
                    .into(),
                Some("add `metadata: { name: my-fleet, owner: my-team }`".into()),
            );
        }
        return m;
    };
    let Some(f) = read::fields(
        r,
        node,
        "`metadata`",
        &["name", "owner", "description"],
        &[],
    ) else {
        return m;
    };
    match f.get("name") {
        Some(n) => m.name = read::dns_label(r, n, "fleet name"),
        None => read::missing(r, node, "name", "`metadata`"),
    }
    if let Some(d) = f.get("description") {
        read::string(r, d, "`description`");
    }
    match f.get("owner") {
        Some(n) => m.owner = read::string(r, n, "`owner`"),
        None => m.violations.push(Violation {
            code: Code::OwnerRequired,
            span: key.span,
            path: "metadata".into(),
            detail: "The fleet names no owner; every fleet needs a team to page when it breaks."
                .into(),
            help: Some("add `owner: <team>` to `metadata`".into()),
        }),
    }
    m
}

/// A ring, and its name node even when another field is wrong (so references still resolve).
fn read_ring(r: &mut Report, node: &Node) -> (Option<Ring>, Option<(String, Node)>) {
    let Some(f) = read::fields(
        r,
        node,
        "a ring",
        &[
            "name",
            "soak",
            "gates",
            "approval",
            "maxParallel",
            "failureThreshold",
        ],
        &[],
    ) else {
        return (None, None);
    };
    let name_node = f.get("name");
    if name_node.is_none() {
        read::missing(r, node, "name", "A ring");
    }
    let name = name_node.and_then(|n| read::dns_label(r, n, "ring name"));
    let soak = f.get("soak").map_or(Some(std::time::Duration::ZERO), |n| {
        read::duration(r, n, "soak time")
    });
    let gates = f
        .get("gates")
        .map_or(Some(Vec::new()), |n| read_gates(r, n));
    let approval = match f.get("approval") {
        None => Some(false),
        Some(n)
            if matches!(n.kind, Kind::Scalar { plain: true, .. })
                && matches!(n.text(), Some("true" | "false")) =>
        {
            read::boolean(r, n, "`approval`")
        }
        Some(n) => read::one_of(r, n, "approval", &["required", "none"]).map(|a| a == "required"),
    };
    let max_parallel = f
        .get("maxParallel")
        .map_or(Some(1), |n| read::int_at_least(r, n, "`maxParallel`", 1));
    let failure_threshold = f.get("failureThreshold").map_or(Some(0), |n| {
        read::int_at_least(r, n, "`failureThreshold`", 0)
    });
    let named = name.clone().zip(name_node.cloned());
    let ring = (|| {
        Some(Ring {
            name: name?,
            soak: soak?,
            max_parallel: max_parallel?,
            failure_threshold: failure_threshold?,
            gates: gates?,
            approval: approval?,
        })
    })();
    (ring, named)
}

fn read_gates(r: &mut Report, node: &Node) -> Option<Vec<Gate>> {
    let items = read::list(r, node, "`gates`")?;
    let mut gates = Vec::new();
    for item in items {
        let gate =
            match &item.kind {
                Kind::Map(_) => read::fields(r, item, "a gate", &["command"], &[]).and_then(|f| {
                    match f.get("command") {
                        Some(c) => read::string(r, c, "gate command").and_then(|cmd| {
                            if cmd.trim().is_empty() {
                                r.error(
                                    Code::InvalidValue,
                                    c,
                                    "A gate command cannot be empty.",
                                    None,
                                );
                                return None;
                            }
                            Some(Gate::Command(cmd))
                        }),
                        None => {
                            read::missing(r, item, "command", "A custom gate");
                            None
                        }
                    }
                }),
                _ => read::one_of(r, item, "gate", &["deprecations", "health"]).map(|g| {
                    if g == "health" {
                        Gate::Health
                    } else {
                        Gate::Deprecations
                    }
                }),
            };
        gates.extend(gate);
    }
    (gates.len() == items.len()).then_some(gates)
}

struct Exception {
    /// The rule, when it names an exceptable one.
    code: Option<Code>,
    rule_node: Node,
    /// The cluster it is for; `None` with `any_cluster` for fleet-wide exceptions.
    cluster: Option<String>,
    any_cluster: bool,
    /// No error at all: an unused one is worth a warning.
    clean: bool,
    used: bool,
}

impl Exception {
    /// Expired exceptions still apply, so that only the expiry is reported.
    fn suppresses(&self, v: &Violation, cluster: Option<&str>) -> bool {
        self.code == Some(v.code)
            && (self.any_cluster || (self.cluster.is_some() && self.cluster.as_deref() == cluster))
    }
}

fn read_exception(
    r: &mut Report,
    node: &Node,
    clusters: &[String],
    today: Date,
) -> Option<Exception> {
    let f: Fields<'_> = read::fields(
        r,
        node,
        "a policy exception",
        &["rule", "cluster", "reason", "expires"],
        &[],
    )?;
    let errors = r.len();
    let mut code = None;
    let rule_node = f.get("rule");
    match rule_node {
        None => read::missing(r, node, "rule", "A policy exception"),
        Some(n) => {
            if let Some(id) = read::string(r, n, "rule id") {
                match Code::rule(&id) {
                    Some((c, info)) if info.exceptable => code = Some(c),
                    Some(_) => r.error(
                        Code::InvalidValue,
                        n,
                        format!("Rule `{id}` cannot be suppressed by an exception."),
                        None,
                    ),
                    None => r.error(
                        Code::UnknownRule,
                        n,
                        format!("`{id}` is not an invariant rule."),
                        did_you_mean(&id, RULES.iter().map(|r| r.id)).or_else(|| {
                            Some(format!(
                                "rules: {}",
                                RULES.iter().map(|r| r.id).collect::<Vec<_>>().join(", ")
                            ))
                        }),
                    ),
                }
            }
        }
    }
    let cluster = f.get("cluster").and_then(|n| {
        let name = read::string(r, n, "cluster name")?;
        if !clusters.contains(&name) {
            r.error(
                Code::UnknownCluster,
                n,
                format!("No cluster is named `{name}`."),
                did_you_mean(&name, clusters.iter().map(String::as_str)),
            );
            return None;
        }
        Some(name)
    });
    match f.get("reason") {
        None => read::missing(r, node, "reason", "A policy exception"),
        Some(n) => {
            if read::string(r, n, "`reason`").is_some_and(|s| s.trim().is_empty()) {
                r.error(
                    Code::InvalidValue,
                    n,
                    "An exception needs a reason that says why the rule does not apply.",
                    None,
                );
            }
        }
    }
    match f.get("expires") {
        None => read::missing(r, node, "expires", "A policy exception"),
        Some(n) => {
            if let Some(text) = read::string(r, n, "`expires`") {
                match text.parse::<Date>() {
                    Err(_) => r.error(
                        Code::InvalidValue,
                        n,
                        format!("`{text}` is not a date; write `YYYY-MM-DD`."),
                        None,
                    ),
                    Ok(d) if d < today => {
                        let rule = rule_node.and_then(Node::text).unwrap_or("?");
                        let whom = cluster
                            .as_deref()
                            .map(|c| format!(" on cluster `{c}`"))
                            .unwrap_or_default();
                        r.error(
                            Code::ExceptionExpired,
                            n,
                            format!("The exception to `{rule}`{whom} expired on {d} (evaluated on {today}); it still suppresses the rule so that only this error is reported."),
                            Some("fix the cluster and remove the exception, or renew it with a new date and a reason".into()),
                        );
                    }
                    Ok(_) => {}
                }
            }
        }
    }
    let clean = !r.errors_since(errors);
    let any_cluster = f.get("cluster").is_none();
    Some(Exception {
        code,
        rule_node: rule_node.unwrap_or(node).clone(),
        cluster,
        any_cluster,
        clean,
        used: false,
    })
}

/// Loads the fleet; `None` when any error was reported.
pub(crate) fn load(r: &mut Report, input: Input<'_>) -> Option<Fleet> {
    let errors_at_start = r.len();
    let s = gather(r, &input);
    let meta = read_metadata(r, &s, input.incomplete);
    let today = input.today;

    let defaults = s.defaults.as_ref().map(|(_, n)| n);
    if let Some(d) = defaults {
        report_template(r, d, today);
    }
    for (_, _, p) in &s.profiles {
        report_template(r, p, today);
    }

    let mut reads: Vec<ClusterRead> = Vec::new();
    for node in &s.clusters {
        let mut profile_name = None;
        // A refused YAML merge key (`<<`) may have been meant to supply any field.
        let mut lenient = node.get("<<").is_some();
        let mut merged = node.clone();
        if let Some(pn) = node.get("profile").filter(|n| !n.is_null())
            && let Some(name) = read::string(r, pn, "profile name")
        {
            match s.profiles.iter().find(|(n, _, _)| *n == name) {
                Some((_, _, p)) => merged = merge(p, node),
                None => {
                    lenient = true;
                    r.error(
                        Code::UnknownProfile,
                        pn,
                        format!("No profile is named `{name}`."),
                        did_you_mean(&name, s.profiles.iter().map(|(n, _, _)| n.as_str())).or_else(
                            || {
                                Some(if s.profiles.is_empty() {
                                    "define it under `profiles`".to_owned()
                                } else {
                                    format!(
                                        "profiles: {}",
                                        s.profiles
                                            .iter()
                                            .map(|(n, _, _)| format!("`{n}`"))
                                            .collect::<Vec<_>>()
                                            .join(", ")
                                    )
                                })
                            },
                        ),
                    );
                }
            }
            profile_name = Some(name);
        }
        if let Some(d) = defaults {
            merged = merge(d, &merged);
        }
        reads.push(cluster::read_cluster(
            r,
            &merged,
            Mode::Cluster { lenient },
            today,
            profile_name,
            input.overrides,
        ));
    }

    // Unique cluster names.
    let mut names: Vec<(String, Span)> = Vec::new();
    for read in &reads {
        let Some((name, node)) = &read.name else {
            continue;
        };
        if let Some((_, first)) = names.iter().find(|(n, _)| n == name) {
            r.error(Code::DuplicateName, node, format!("Cluster `{name}` is already defined at {}; cluster names are unique in a fleet.", at(input.names, *first)), None);
        } else {
            names.push((name.clone(), node.span));
        }
    }

    // Overrides name clusters of the fleet; unless a cluster has no valid name to compare with.
    if reads.iter().all(|c| c.name.is_some()) {
        for (name, version) in input.overrides {
            if !names.iter().any(|(n, _)| n == name) {
                r.push_global(
                    Code::UnknownCluster,
                    format!("Kubernetes `{version}` is requested for cluster `{name}`, which is not in the fleet."),
                    did_you_mean(name, names.iter().map(|(n, _)| n.as_str())).or_else(|| {
                        Some(format!(
                            "clusters: {}",
                            names
                                .iter()
                                .map(|(n, _)| format!("`{n}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    }),
                );
            }
        }
    }

    // Disjoint networks across the fleet, standbys included: reported once per pair, at the later.
    let ranges: Vec<&cluster::Range> = reads.iter().flat_map(|c| &c.ranges).collect();
    for (i, later) in ranges.iter().enumerate() {
        for earlier in &ranges[..i] {
            let overlap = later.net.contains(&earlier.net.network())
                || earlier.net.contains(&later.net.network());
            if overlap && later.node.span != earlier.node.span {
                r.pair(
                    Code::CidrOverlap,
                    &later.node,
                    earlier.node.span,
                    format!(
                        "`{}`, {}, overlaps `{}`, {} at {}.",
                        later.net,
                        later.what,
                        earlier.net,
                        earlier.what,
                        at(input.names, earlier.node.span)
                    ),
                    Some("give every network and standby its own, non-overlapping range".into()),
                );
            }
        }
    }

    // Standbys are derived from the validated primaries (overrides applied, so a standby
    // follows its primary's version) and checked against the whole fleet.
    let standbys = crate::dr::derive_fleet(r, &reads);

    // Rings: unique names, and every reference resolves.
    let mut rings: Vec<Ring> = Vec::new();
    let mut ring_names: Vec<String> = Vec::new();
    let mut rings_ok = true;
    for node in &s.rings {
        let (ring, named) = read_ring(r, node);
        match named {
            Some((name, name_node)) => {
                if ring_names.contains(&name) {
                    r.error(
                        Code::DuplicateName,
                        &name_node,
                        format!("Ring `{name}` is defined twice; ring names are unique."),
                        None,
                    );
                } else {
                    ring_names.push(name);
                }
            }
            None => rings_ok = false,
        }
        rings.extend(ring);
    }
    if rings_ok {
        for read in &reads {
            let Some((ring, node)) = &read.ring else {
                continue;
            };
            if !ring_names.contains(ring) {
                r.error(
                    Code::UnknownRing,
                    node,
                    format!("No ring is named `{ring}`."),
                    did_you_mean(ring, ring_names.iter().map(String::as_str)).or_else(|| {
                        Some(format!(
                            "rings: {}",
                            ring_names
                                .iter()
                                .map(|x| format!("`{x}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    }),
                );
            }
        }
    }

    // Policy exceptions, then the invariants they do not suppress.
    let cluster_names: Vec<String> = names.iter().map(|(n, _)| n.clone()).collect();
    let mut exceptions: Vec<Exception> = s
        .exceptions
        .iter()
        .filter_map(|n| read_exception(r, n, &cluster_names, today))
        .collect();
    let mut apply = |r: &mut Report, cluster: Option<&str>, violations: &[Violation]| {
        for v in violations {
            let suppressed = exceptions.iter_mut().find(|e| e.suppresses(v, cluster));
            match suppressed {
                Some(e) => e.used = true,
                None => r.push_at(
                    v.code,
                    v.span,
                    v.path.clone(),
                    v.detail.clone(),
                    v.help.clone(),
                ),
            }
        }
    };
    apply(r, None, &meta.violations);
    for read in &reads {
        apply(
            r,
            read.name.as_ref().map(|(n, _)| n.as_str()),
            &read.violations,
        );
    }
    for e in exceptions.iter().filter(|e| e.clean && !e.used) {
        let rule = e.rule_node.text().unwrap_or_default();
        let whom = e
            .cluster
            .as_deref()
            .map_or_else(|| "any cluster".to_owned(), |c| format!("cluster `{c}`"));
        r.error(
            Code::UnusedException,
            &e.rule_node,
            format!("The exception to `{rule}` is not needed: {whom} does not break the rule."),
            Some("remove the exception".into()),
        );
    }

    if r.errors_since(errors_at_start) {
        return None;
    }
    let clusters: Vec<_> = reads.into_iter().filter_map(|c| c.cluster).collect();
    if clusters.len() != s.clusters.len() {
        // Every refusal above reports an error; this guards the model against a silent gap.
        r.push_global(Code::InvalidValue, "A cluster could not be built although no error was reported; this is a bug in Slipway.".into(), None);
        return None;
    }
    Some(Fleet {
        name: meta.name?,
        owner: meta.owner,
        clusters,
        rings,
        digest: input.digest,
        standbys,
    })
}

/// Checks a profile or `defaults` on its own: types, fields and values. Static credentials
/// are reported here too, since that rule admits no exception.
fn report_template(r: &mut Report, node: &Node, today: Date) {
    let read = cluster::read_cluster(r, node, Mode::Template, today, None, &BTreeMap::new());
    for v in read
        .violations
        .into_iter()
        .filter(|v| v.code == Code::StaticCredentials)
    {
        r.push_at(v.code, v.span, v.path, v.detail, v.help);
    }
}
