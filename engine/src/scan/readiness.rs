//! Platform readiness of one cluster for a target minor: support calendars, the one-minor-at-a-
//! time path, kubelet skew after the control-plane hop, node OS images, add-on versions, and the
//! cloud's own checks. Pure: it judges evidence the providers already read.

use jiff::civil::Date;
use slipway_blueprints::catalog::{self, SupportStatus};
use slipway_blueprints::{Cloud, Cluster, KubeVersion, NodeOs};
use slipway_provider::{InsightStatus, UpgradeEvidence};

use super::report::{ClusterScan, Finding, FindingSeverity as Sev, rule};

/// The evidence gathered for one cluster, or why there is none.
#[derive(Debug, Clone)]
pub enum Evidence {
    /// The provider answered.
    Read(UpgradeEvidence),
    /// The provider could not be asked or failed; the message says why.
    Unavailable(String),
    /// The user chose not to read the cloud (`--no-cloud`).
    Skipped,
}

/// Parses the minor out of `1.31`, `1.31.5` or `v1.31.5-eks-abc`.
pub fn minor_of(version: &str) -> Option<KubeVersion> {
    let v = version.trim().trim_start_matches('v');
    let mut parts = v.split(['.', '-', '+']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some(KubeVersion::new(major, minor))
}

/// How many minors a kubelet may trail kube-apiserver (version skew policy: three since
/// kubelet 1.25, two before).
fn allowed_kubelet_lag(kubelet: KubeVersion) -> u32 {
    if kubelet >= KubeVersion::new(1, 25) {
        3
    } else {
        2
    }
}

fn lag(apiserver: KubeVersion, kubelet: KubeVersion) -> i64 {
    i64::from(apiserver.minor) - i64::from(kubelet.minor)
}

fn default_os(cloud: Cloud) -> NodeOs {
    match cloud {
        Cloud::Aws => NodeOs::Al2023,
        Cloud::Azure => NodeOs::Ubuntu,
    }
}

/// Judges one cluster; returns its summary and findings.
pub fn assess(
    cluster: &Cluster,
    target: KubeVersion,
    today: Date,
    evidence: &Evidence,
) -> (ClusterScan, Vec<Finding>) {
    let name = cluster.name.as_str();
    let mut findings = Vec::new();
    let mut notes = Vec::new();
    let read = match evidence {
        Evidence::Read(e) => Some(e),
        Evidence::Unavailable(why) => {
            findings.push(Finding::new(
                rule::EVIDENCE_UNAVAILABLE,
                Sev::Warning,
                Some(name),
                "cloud",
                format!("live evidence could not be read: {why}"),
            ));
            None
        }
        Evidence::Skipped => {
            notes.push("live cloud not read (--no-cloud): judged from the blueprint only".into());
            None
        }
    };
    if let Some(e) = read {
        notes.extend(e.notes.iter().cloned());
    }
    let live = read.and_then(|e| e.live.as_ref());
    if let Some(e) = read
        && e.live.is_none()
    {
        notes.push(if e.notes.is_empty() {
            "cluster not found in the cloud: judged from the blueprint only".into()
        } else {
            "judged from the blueprint only".into()
        });
    }
    let live_minor = live.and_then(|l| minor_of(&l.version));
    if let (Some(l), Some(m)) = (live, live_minor)
        && m != cluster.kubernetes
    {
        findings.push(Finding::new(
            rule::VERSION_DRIFT,
            Sev::Warning,
            Some(name),
            m.to_string(),
            format!(
                "the cloud runs {} but the blueprint declares {}; the scan starts from the live version",
                l.version, cluster.kubernetes
            ),
        ));
    }
    let current = live_minor.unwrap_or(cluster.kubernetes);
    let path: Vec<KubeVersion> = if target.major == current.major && target.minor > current.minor {
        (current.minor + 1..=target.minor)
            .map(|m| KubeVersion::new(current.major, m))
            .collect()
    } else {
        Vec::new()
    };
    if path.is_empty() {
        notes.push(format!(
            "already at {current}, at or past the target {target}: nothing to upgrade"
        ));
    }

    check_calendar(cluster, &path, today, &mut findings);
    if path.len() > 1 {
        let hops: Vec<String> = std::iter::once(current)
            .chain(path.iter().copied())
            .collect::<Vec<_>>()
            .windows(2)
            .map(|w| format!("{} → {}", w[0], w[1]))
            .collect();
        findings.push(Finding::new(
            rule::VERSION_PATH,
            Sev::Warning,
            Some(name),
            target.to_string(),
            format!(
                "{current} → {target} skips {} minor(s); the control plane must go one minor at a time: {}",
                path.len() - 1,
                hops.join(", ")
            ),
        ));
    }
    if let (Some(first), Some(offered)) =
        (path.first(), read.and_then(|e| e.upgrades_offered.as_ref()))
        && live.is_some()
        && !offered.iter().any(|v| minor_of(v) == Some(*first))
    {
        let offers = if offered.is_empty() {
            "none".to_owned()
        } else {
            offered.join(", ")
        };
        findings.push(Finding::new(
            rule::UPGRADE_NOT_OFFERED,
            Sev::Blocker,
            Some(name),
            first.to_string(),
            format!("the cloud offers no upgrade from {current} to {first} (offers: {offers})"),
        ));
    }
    if let Some(first) = path.first() {
        check_pools(cluster, read, *first, current, &path, &mut findings);
    }
    if !path.is_empty() {
        check_addons(cluster, read, target, &mut findings, &mut notes);
    }
    let mut checks_passed = Vec::new();
    if let Some(e) = read {
        for insight in &e.insights {
            let severity = match insight.status {
                InsightStatus::Passing => {
                    checks_passed.push(insight.name.clone());
                    continue;
                }
                InsightStatus::Unknown => {
                    notes.push(format!("cloud check `{}` not evaluated yet", insight.name));
                    continue;
                }
                InsightStatus::Warning => Sev::Warning,
                InsightStatus::Error => Sev::Blocker,
            };
            let mut message = insight.reason.clone();
            for d in &insight.deprecations {
                let clients: Vec<String> = d
                    .clients
                    .iter()
                    .map(|c| format!("{} ({} requests)", c.user_agent, c.requests))
                    .collect();
                message.push_str(&format!(
                    "; {} is called by {}{}{}",
                    d.usage,
                    if clients.is_empty() {
                        "unknown clients".to_owned()
                    } else {
                        clients.join(", ")
                    },
                    d.stop_serving_version
                        .as_deref()
                        .map(|v| format!(", stops being served in {v}"))
                        .unwrap_or_default(),
                    d.replaced_with
                        .as_deref()
                        .map(|r| format!(", use {r}"))
                        .unwrap_or_default(),
                ));
            }
            if let Some(r) = &insight.recommendation {
                message.push_str(&format!(". {r}"));
            }
            findings.push(Finding::new(
                rule::CLOUD_INSIGHT,
                severity,
                Some(name),
                insight.name.clone(),
                message,
            ));
        }
    }
    let scan = ClusterScan {
        name: cluster.name.clone(),
        cloud: cluster.provider.to_string(),
        region: cluster.region.clone(),
        declared: cluster.kubernetes.to_string(),
        current: live.map_or_else(|| cluster.kubernetes.to_string(), |l| l.version.clone()),
        live: live.is_some(),
        path: path.iter().map(ToString::to_string).collect(),
        checks_passed,
        notes,
    };
    (scan, findings)
}

/// Every hop must be a version the cloud offers on `today`; the target may sit in extended
/// support (at a cost) but no hop may be unreleased, ended or unknown.
fn check_calendar(cluster: &Cluster, path: &[KubeVersion], today: Date, out: &mut Vec<Finding>) {
    let cloud = cluster.provider;
    let service = match cloud {
        Cloud::Aws => "EKS",
        Cloud::Azure => "AKS",
    };
    for (i, hop) in path.iter().enumerate() {
        let is_target = i + 1 == path.len();
        let role = if is_target {
            "target"
        } else {
            "intermediate hop"
        };
        let problem = match catalog::support(cloud, *hop, today) {
            SupportStatus::Standard { .. } => None,
            SupportStatus::Extended { until } => {
                if is_target {
                    out.push(Finding::new(
                        rule::VERSION_EXTENDED_SUPPORT,
                        Sev::Warning,
                        Some(&cluster.name),
                        hop.to_string(),
                        format!(
                            "{service} {hop} is in extended support on {today} (until {until}), at extra cost"
                        ),
                    ));
                }
                None
            }
            SupportStatus::NotReleased { on } => Some(format!(
                "{service} {hop} ({role}) is not released until {on}"
            )),
            SupportStatus::Ended { on } => Some(format!(
                "{service} {hop} ({role}) reached end of support on {on}"
            )),
            SupportStatus::LtsOnly { until } => Some(format!(
                "{service} {hop} ({role}) is only available with the long-term support plan (Premium tier) until {until}"
            )),
            SupportStatus::Unknown => {
                let known = catalog::versions(cloud);
                let range = match (known.first(), known.last()) {
                    (Some(a), Some(b)) => format!(" (it knows {}–{})", a.version, b.version),
                    _ => String::new(),
                };
                Some(format!(
                    "{service} {hop} ({role}) is not in Slipway's {service} calendar{range}"
                ))
            }
        };
        if let Some(message) = problem {
            out.push(Finding::new(
                rule::VERSION_UNSUPPORTED,
                Sev::Blocker,
                Some(&cluster.name),
                hop.to_string(),
                format!("{message} (evaluated on {today})"),
            ));
        }
    }
}

/// Kubelet skew right after the first control-plane hop (later hops follow pool upgrades), and
/// node OS images for every hop.
fn check_pools(
    cluster: &Cluster,
    read: Option<&UpgradeEvidence>,
    first: KubeVersion,
    current: KubeVersion,
    path: &[KubeVersion],
    out: &mut Vec<Finding>,
) {
    struct Pool {
        name: String,
        version: KubeVersion,
        os: Option<NodeOs>,
        image: Option<String>,
    }
    let pools: Vec<Pool> = match read.and_then(|e| e.live.as_ref()) {
        Some(live) => live
            .node_pools
            .iter()
            .map(|p| Pool {
                name: p.name.clone(),
                version: minor_of(&p.version).unwrap_or(current),
                os: p.os,
                image: p.image.clone(),
            })
            .collect(),
        None => cluster
            .node_pools
            .iter()
            .map(|p| Pool {
                name: p.name.clone(),
                version: cluster.kubernetes,
                os: Some(p.os.unwrap_or_else(|| default_os(cluster.provider))),
                image: None,
            })
            .collect(),
    };
    for pool in &pools {
        let behind = lag(first, pool.version);
        let allowed = allowed_kubelet_lag(pool.version);
        if behind > i64::from(allowed) {
            out.push(Finding::new(
                rule::NODE_SKEW,
                Sev::Blocker,
                Some(&cluster.name),
                format!("pool {}", pool.name),
                format!(
                    "node pool `{}` runs kubelet {} and would be {behind} minors behind the control plane after the hop to {first}; the skew policy allows {allowed}: upgrade the pool to at least {} first",
                    pool.name,
                    pool.version,
                    KubeVersion::new(first.major, first.minor.saturating_sub(allowed))
                ),
            ));
        }
        let Some(os) = pool.os else { continue };
        if let Some(hop) = path.iter().find(|h| !catalog::node_os_supports(os, **h)) {
            let image = pool
                .image
                .as_deref()
                .map(|i| format!(" ({i})"))
                .unwrap_or_default();
            out.push(Finding::new(
                rule::NODE_IMAGE_UNSUPPORTED,
                Sev::Blocker,
                Some(&cluster.name),
                format!("pool {}", pool.name),
                format!(
                    "node pool `{}` runs {os}{image}, which has no node images for Kubernetes {hop}; move the pool to {} before the hop",
                    pool.name,
                    alternatives(os, *hop).join(" or ")
                ),
            ));
        }
    }
}

/// Families of the same cloud and OS kind that have images for `version`.
fn alternatives(os: NodeOs, version: KubeVersion) -> Vec<&'static str> {
    NodeOs::ALL
        .into_iter()
        .filter(|o| {
            *o != os
                && o.cloud() == os.cloud()
                && o.is_windows() == os.is_windows()
                && catalog::node_os_supports(*o, version)
        })
        .map(NodeOs::as_str)
        .collect()
}

/// Add-on versions: a pin the target does not offer blocks; an installed version the target
/// does not offer will be moved to the default by the upgrade.
fn check_addons(
    cluster: &Cluster,
    read: Option<&UpgradeEvidence>,
    target: KubeVersion,
    out: &mut Vec<Finding>,
    notes: &mut Vec<String>,
) {
    let Some(e) = read.filter(|e| e.live.is_some()) else {
        if !cluster.addons.is_empty() {
            notes.push("add-on compatibility not checked: no live cluster to ask".into());
        }
        return;
    };
    for addon in &e.addons {
        let pinned = cluster
            .addons
            .iter()
            .find(|a| a.name == addon.name)
            .and_then(|a| a.version.as_deref());
        let offered = |v: &str| addon.compatible.iter().any(|c| c == v);
        let default = addon
            .default_for_target
            .as_deref()
            .map(|d| format!(" (default {d})"))
            .unwrap_or_default();
        let choices = addon
            .compatible
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if addon.compatible.is_empty() {
            out.push(Finding::new(
                rule::ADDON_INCOMPATIBLE,
                Sev::Blocker,
                Some(&cluster.name),
                addon.name.clone(),
                format!(
                    "add-on `{}` has no version for Kubernetes {target}",
                    addon.name
                ),
            ));
        } else if let Some(pin) = pinned.filter(|p| !offered(p)) {
            out.push(Finding::new(
                rule::ADDON_INCOMPATIBLE,
                Sev::Blocker,
                Some(&cluster.name),
                addon.name.clone(),
                format!(
                    "add-on `{}` is pinned to {pin}, which is not compatible with Kubernetes {target}; compatible: {choices}{default}",
                    addon.name
                ),
            ));
        } else if pinned.is_none()
            && let Some(installed) = addon.installed.as_deref().filter(|v| !offered(v))
        {
            out.push(if addon.moved_by_upgrade {
                Finding::new(
                    rule::ADDON_WILL_CHANGE,
                    Sev::Warning,
                    Some(&cluster.name),
                    addon.name.clone(),
                    format!(
                        "add-on `{}` {installed} is not compatible with Kubernetes {target}; the upgrade moves it to a compatible version{default}",
                        addon.name
                    ),
                )
            } else {
                Finding::new(
                    rule::ADDON_INCOMPATIBLE,
                    Sev::Blocker,
                    Some(&cluster.name),
                    addon.name.clone(),
                    format!(
                        "add-on `{}` runs {installed}, which is not compatible with Kubernetes {target}, and the cloud does not move it during the upgrade; move it first to one of: {choices}",
                        addon.name
                    ),
                )
            });
        }
    }
}
