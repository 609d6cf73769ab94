//! One cluster: read a merged cluster node (defaults ⊕ profile ⊕ cluster) into the model.
//!
//! Reading and per-cluster validation happen in one pass: each field is checked where it is
//! read, against the catalogues and the cluster's own other fields (provider, region, zones).
//! Invariant violations are returned separately so that policy exceptions can suppress them.
//! Cross-cluster checks (unique names, CIDR overlaps, rings) belong to the fleet module; this
//! module must never look at other clusters.

use std::collections::BTreeMap;
use std::time::Duration;

use ipnet::Ipv4Net;
use jiff::civil::Date;

use crate::catalog::{self, SupportStatus};
use crate::model::*;
use crate::read::{self, Fields};
use crate::report::{Code, Report, did_you_mean};
use crate::subnets;
use crate::yaml::{Kind, Node, Resolved, Span};

/// Fields of a cluster entry; its identity fields come first.
pub(crate) const CLUSTER_FIELDS: &[&str] = &[
    "name",
    "profile",
    "provider",
    "region",
    "tier",
    "kubernetes",
    "endpoint",
    "zones",
    "network",
    "nodePools",
    "addons",
    "workloadIdentities",
    "privateEndpoints",
    "ring",
    "labels",
    "tags",
    "dr",
    "aws",
    "azure",
];

/// Fields of `defaults` and of a profile: every cluster field except its identity
/// (`name`, `profile`), which [`CLUSTER_FIELDS`] lists first.
pub(crate) const TEMPLATE_FIELDS: &[&str] = CLUSTER_FIELDS.split_at(2).1;

/// Field names that hold static credentials; never allowed in a workload identity.
const CREDENTIAL_FIELDS: &[&str] = &[
    "accessKeyId",
    "secretAccessKey",
    "sessionToken",
    "awsAccessKeyId",
    "awsSecretAccessKey",
    "clientSecret",
    "password",
    "secret",
    "token",
    "apiKey",
    "accountKey",
    "connectionString",
    "sasToken",
    "privateKey",
    "credentials",
];

const CLOUDS: &[&str] = &["aws", "azure"];

/// What is being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `defaults` or a profile: shapes and values only; nothing is required.
    Template,
    /// A cluster. `lenient` skips missing-field errors (its profile is unknown, so the fields
    /// may well be meant to come from there).
    Cluster { lenient: bool },
}

/// An invariant broken by one cluster, before policy exceptions are applied.
#[derive(Debug, Clone)]
pub(crate) struct Violation {
    pub code: Code,
    pub span: Span,
    pub path: String,
    pub detail: String,
    pub help: Option<String>,
}

/// A network range the fleet must keep disjoint.
#[derive(Debug, Clone)]
pub(crate) struct Range {
    pub net: Ipv4Net,
    pub node: Node,
    pub what: String,
}

/// The result of reading one cluster.
#[derive(Debug, Default)]
pub(crate) struct ClusterRead {
    /// The model, when every field is valid.
    pub cluster: Option<Cluster>,
    /// The node of `name`, for duplicate checks.
    pub name: Option<(String, Node)>,
    /// The node of `ring`, for reference checks.
    pub ring: Option<(String, Node)>,
    /// Network and standby ranges.
    pub ranges: Vec<Range>,
    /// Broken invariants.
    pub violations: Vec<Violation>,
    /// Where `dr.standby` was written, when it was.
    pub standby: Option<StandbyNodes>,
}

struct Cx<'a> {
    r: &'a mut Report,
    today: Date,
    mode: Mode,
    cloud: Option<Cloud>,
    name: String,
    /// Appended to version-dependent findings when the cluster is evaluated at an override.
    as_if: String,
    violations: Vec<Violation>,
}

impl Cx<'_> {
    fn required(&self) -> bool {
        self.mode == Mode::Cluster { lenient: false }
    }

    fn is_cluster(&self) -> bool {
        matches!(self.mode, Mode::Cluster { .. })
    }

    /// Reports a missing field in cluster mode.
    fn need<'n>(&mut self, f: &Fields<'n>, key: &str, what: &str) -> Option<&'n Node> {
        let v = f.get(key);
        if v.is_none() && self.required() {
            read::missing(self.r, f.node, key, what);
        }
        v
    }

    fn violate(&mut self, code: Code, at: &Node, detail: String, help: Option<String>) {
        self.violations.push(Violation {
            code,
            span: at.span,
            path: at.path.clone(),
            detail,
            help,
        });
    }

    fn subject(&self) -> String {
        if self.is_cluster() {
            format!("cluster `{}`", self.name)
        } else {
            "this profile".to_owned()
        }
    }
}

/// Reads a merged cluster node (or a template in [`Mode::Template`]); a cluster named in
/// `overrides` is evaluated at that Kubernetes version instead of the written one.
pub(crate) fn read_cluster(
    r: &mut Report,
    node: &Node,
    mode: Mode,
    today: Date,
    profile: Option<String>,
    overrides: &BTreeMap<String, KubeVersion>,
) -> ClusterRead {
    let mut out = ClusterRead::default();
    let known = if mode == Mode::Template {
        TEMPLATE_FIELDS
    } else {
        CLUSTER_FIELDS
    };
    let what = if mode == Mode::Template {
        "a profile or `defaults`"
    } else {
        "a cluster"
    };
    let Some(f) = read::fields(r, node, what, known, &[]) else {
        return out;
    };
    let errors_before = r.len();
    let mut cx = Cx {
        r,
        today,
        mode,
        cloud: None,
        name: String::new(),
        as_if: String::new(),
        violations: Vec::new(),
    };

    let name = if mode == Mode::Template {
        None
    } else {
        cx.need(&f, "name", "A cluster")
            .and_then(|n| read::dns_label(cx.r, n, "cluster name").map(|s| (s, n.clone())))
    };
    if let Some((n, _)) = &name {
        cx.name.clone_from(n);
    }
    let cloud = cx
        .need(&f, "provider", "A cluster")
        .and_then(|n| read::one_of(cx.r, n, "provider", CLOUDS))
        .map(|p| match p {
            "aws" => Cloud::Aws,
            _ => Cloud::Azure,
        });
    cx.cloud = cloud;
    let region_node = cx.need(&f, "region", "A cluster");
    let region = region_node.and_then(|n| read_region(&mut cx, n));
    let tier_node = f.get("tier");
    let tier = match tier_node {
        Some(n) => read::one_of(cx.r, n, "tier", &["dev", "test", "staging", "prod", "dr"]).map(
            |t| match t {
                "test" => Tier::Test,
                "staging" => Tier::Staging,
                "prod" => Tier::Prod,
                "dr" => Tier::Dr,
                _ => Tier::Dev,
            },
        ),
        None => Some(Tier::Dev),
    };
    let override_version = name.as_ref().and_then(|(n, _)| overrides.get(n)).copied();
    let kubernetes = read_kubernetes(&mut cx, &f, override_version);
    let endpoint_node = f.get("endpoint");
    let endpoint = match endpoint_node {
        Some(n) => read::one_of(
            cx.r,
            n,
            "endpoint",
            &["public", "private", "public-and-private"],
        )
        .map(|e| match e {
            "public" => Endpoint::Public,
            "private" => Endpoint::Private,
            _ => Endpoint::PublicAndPrivate,
        }),
        None => tier.map(|t| {
            if t == Tier::Prod {
                Endpoint::Private
            } else {
                Endpoint::Public
            }
        }),
    };
    let zones = read_zones(&mut cx, f.get("zones"), region, tier);
    let network = read_network(&mut cx, &f, zones.as_deref(), &mut out.ranges);
    let pools = read_pools(&mut cx, &f, tier, kubernetes);
    let addons = match f.get("addons") {
        Some(n) => read_addons(&mut cx, n),
        None => Some(default_addons(cx.cloud)),
    };
    let identities = read_identities(&mut cx, f.get("workloadIdentities"));
    let private_endpoints = match f.get("privateEndpoints") {
        Some(n) => read_private_endpoints(&mut cx, n),
        None => Some(Default::default()),
    };
    let ring = f
        .get("ring")
        .and_then(|n| read::string(cx.r, n, "ring name").map(|s| (s, n.clone())));
    let labels = f
        .get("labels")
        .map(|n| read::string_map(cx.r, n, "`labels`"))
        .unwrap_or_default();
    let tags = f
        .get("tags")
        .map(|n| read_tags(&mut cx, n))
        .unwrap_or_default();
    let dr = f.get("dr").map(|n| {
        read_dr(
            &mut cx,
            n,
            region,
            zones.as_ref().map(Vec::len),
            &mut out.ranges,
            &mut out.standby,
        )
    });
    if let Some(s) = &mut out.standby {
        s.instance_types = instance_type_nodes(f.get("nodePools"), cx.cloud);
    }
    let aws = read_aws(&mut cx, f.get("aws"));
    let azure = read_azure(&mut cx, &f);
    if cx.is_cluster()
        && cx.cloud == Some(Cloud::Azure)
        && let (Some(addons), Some(settings)) = (&addons, &azure)
        && settings.log_analytics_workspace_id.is_none()
        && addons.iter().any(|a| a.name == "monitoring")
    {
        let at = f.get("azure").unwrap_or(node);
        cx.r.error(
            Code::MissingLogAnalyticsWorkspace,
            at,
            format!("Cluster `{}` has the `monitoring` add-on but no Log Analytics workspace for it to send to.", cx.name),
            Some("set `azure: { logAnalyticsWorkspaceId: /subscriptions/…/resourceGroups/…/providers/Microsoft.OperationalInsights/workspaces/… }`".into()),
        );
    }

    // Invariants, only for clusters whose relevant fields are valid.
    if let (Mode::Cluster { .. }, Some(Tier::Prod)) = (mode, tier) {
        let at = tier_node.unwrap_or(node);
        if let Some(e) = endpoint.filter(|e| *e != Endpoint::Private) {
            let at = endpoint_node.unwrap_or(at);
            let written = if e == Endpoint::Public {
                "public"
            } else {
                "public-and-private"
            };
            cx.violate(
                Code::ProdPrivateEndpoint,
                at,
                format!("Cluster `{}` is a prod cluster with `endpoint: {written}`; prod API servers must be reachable only from the cluster network.", cx.name),
                Some("set `endpoint: private`, or add a policy exception with a reason and an expiry date".into()),
            );
        }
        if let Some(zs) = zones.as_ref().filter(|z| z.len() < 3) {
            let at = f.get("zones").or(region_node).unwrap_or(at);
            cx.violate(
                Code::ProdMinZones,
                at,
                format!("Cluster `{}` is a prod cluster in {} zone(s); prod clusters span at least 3 availability zones.", cx.name, zs.len()),
                Some("set `zones: 3` in a region with at least 3 zones".into()),
            );
        }
        if let Some(pools) = &pools {
            let system: u32 = pools
                .iter()
                .filter(|p| p.role == PoolRole::System)
                .map(|p| p.min)
                .sum();
            if system < 2 && pools.iter().any(|p| p.role == PoolRole::System) {
                let at = first_system_min(f.get("nodePools")).unwrap_or(at);
                cx.violate(
                    Code::ProdSystemPoolMin,
                    at,
                    format!("Cluster `{}` is a prod cluster whose system pools keep at least {system} node(s); prod clusters keep at least 2 so that system pods survive a node loss.", cx.name),
                    Some("set `min: 2` or more on the system pool".into()),
                );
            }
        }
        if dr.is_none() {
            let at = name.as_ref().map_or(node, |(_, n)| n);
            cx.violate(
                Code::ProdDrDefined,
                at,
                format!(
                    "Cluster `{}` is a prod cluster without a `dr` standby.",
                    cx.name
                ),
                Some("add `dr: { rto: 2h, standby: { region: …, cidr: …, mode: warm } }`".into()),
            );
        }
    }

    out.ring = ring;
    out.name = name.clone();
    let violations = std::mem::take(&mut cx.violations);
    let clean = !cx.r.errors_since(errors_before);
    out.violations = violations;
    if mode == Mode::Template || !clean {
        return out;
    }
    // A closure so that `?` can take every optional part; each `None` was reported above.
    let cluster = (|| -> Option<Cluster> {
        let provider = cloud?;
        let node_pools = pools?;
        let dr = match dr {
            Some(d) => Some(d?),
            None => None,
        };
        let private_endpoints = private_endpoints?;
        Some(Cluster {
            name: name?.0,
            profile,
            provider,
            region: region?.name.to_owned(),
            tier: tier?,
            kubernetes: kubernetes?,
            endpoint: endpoint?,
            zones: zones?,
            network: network?,
            node_pools,
            addons: addons?,
            workload_identities: identities?,
            private_endpoints: private_endpoints.0,
            ring: out.ring.as_ref().map(|(s, _)| s.clone()),
            labels,
            tags,
            dr,
            aws: if provider == Cloud::Aws {
                Some(aws?)
            } else {
                None
            },
            azure: if provider == Cloud::Azure {
                azure.map(|a| AzureSettings {
                    private_endpoint_targets: private_endpoints.1,
                    ..a
                })
            } else {
                None
            },
        })
    })();
    out.cluster = cluster;
    out
}

fn read_region(cx: &mut Cx<'_>, node: &Node) -> Option<&'static catalog::Region> {
    let name = read::string(cx.r, node, "region")?;
    let cloud = cx.cloud?;
    if let Some(region) = catalog::region(cloud, &name) {
        return Some(region);
    }
    let other = if cloud == Cloud::Aws {
        Cloud::Azure
    } else {
        Cloud::Aws
    };
    let help = if catalog::region(other, &name).is_some() {
        Some(format!(
            "`{name}` is an {other} region; did you mean `provider: {other}`?"
        ))
    } else {
        did_you_mean(&name, catalog::regions(cloud).iter().map(|r| r.name))
    };
    cx.r.error(
        Code::UnknownRegion,
        node,
        format!("`{name}` is not a known {cloud} region."),
        help,
    );
    None
}

fn read_kubernetes(
    cx: &mut Cx<'_>,
    f: &Fields<'_>,
    override_version: Option<KubeVersion>,
) -> Option<KubeVersion> {
    let k = cx.need(f, "kubernetes", "A cluster")?;
    let kf = read::fields(cx.r, k, "`kubernetes`", &["version"], &[])?;
    let node = cx.need(&kf, "version", "`kubernetes`")?;
    let text = match node.scalar() {
        Some(Resolved::Float | Resolved::Int(_)) => {
            let written = node.text().unwrap_or_default();
            let read_as = written
                .parse::<f64>()
                .map_or_else(|_| written.to_owned(), |v| v.to_string());
            cx.r.error(
                Code::WrongType,
                node,
                format!("Expected a string for the Kubernetes version, found a number: YAML reads `{written}` as {read_as}."),
                Some(format!("quote it: \"{written}\"")),
            );
            return None;
        }
        _ => read::string(cx.r, node, "the Kubernetes version")?,
    };
    let Some(version) = KubeVersion::parse(&text) else {
        let trimmed = text.trim_start_matches(['v', 'V']);
        let minor: Vec<&str> = trimmed.splitn(3, '.').collect();
        let help = match minor.as_slice() {
            [a, b, _] | [a, b] if KubeVersion::parse(&format!("{a}.{b}")).is_some() => Some(
                format!("write \"{a}.{b}\"; the cloud picks the patch version"),
            ),
            _ => None,
        };
        cx.r.error(Code::InvalidVersion, node, format!("`{text}` is not a Kubernetes version; write the major and minor version, e.g. \"1.34\"."), help);
        return None;
    };
    let version = match override_version {
        Some(v) => {
            cx.as_if =
                format!(" The cluster is evaluated at `{v}` instead of the written `{version}`.");
            v
        }
        None => version,
    };
    if let Some(cloud) = cx.cloud {
        check_support(cx, cloud, version, node);
    }
    Some(version)
}

fn check_support(cx: &mut Cx<'_>, cloud: Cloud, version: KubeVersion, node: &Node) {
    let service = if cloud == Cloud::Aws { "EKS" } else { "AKS" };
    let today = cx.today;
    let supported = catalog::standard_versions(cloud, today);
    let list = supported
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let upgrade = Some(format!("use one of {list} (standard support on {today})"));
    let (code, detail, help) = match catalog::support(cloud, version, today) {
        SupportStatus::Standard { .. } => return,
        SupportStatus::Extended { until } => (
            Code::VersionExtendedSupport,
            format!(
                "Kubernetes `{version}` is in {service} extended support until {until} (evaluated on {today}); extended support is billed at a higher rate."
            ),
            upgrade,
        ),
        SupportStatus::LtsOnly { until } => (
            Code::VersionSupported,
            format!(
                "{service} community support for Kubernetes `{version}` has ended; until {until} it is available only as long-term support (LTS), which needs the Premium tier (evaluated on {today})."
            ),
            Some(format!(
                "use one of {list}, or add a policy exception if the cluster runs the Premium tier with LTS"
            )),
        ),
        SupportStatus::Ended { on } => (
            Code::VersionSupported,
            format!(
                "{service} support for Kubernetes `{version}` ended on {on} (evaluated on {today})."
            ),
            upgrade,
        ),
        SupportStatus::NotReleased { on } => (
            Code::VersionSupported,
            format!(
                "Kubernetes `{version}` is not released on {service} until {on} (evaluated on {today})."
            ),
            upgrade,
        ),
        SupportStatus::Unknown => {
            let newest = catalog::versions(cloud).last().map(|w| w.version);
            let why = if newest.is_some_and(|n| version > n) {
                "is not released yet"
            } else {
                "is no longer supported"
            };
            (
                Code::VersionSupported,
                format!(
                    "Kubernetes `{version}` is not in Slipway's {service} calendar: it {why} (evaluated on {today})."
                ),
                upgrade,
            )
        }
    };
    let detail = format!("{detail}{}", cx.as_if);
    cx.violate(code, node, detail, help);
}

/// Zones: a count (the region's first zones) or an explicit list; defaults to 3 for prod and 2
/// otherwise, capped at what the region has.
fn read_zones(
    cx: &mut Cx<'_>,
    node: Option<&Node>,
    region: Option<&catalog::Region>,
    tier: Option<Tier>,
) -> Option<Vec<String>> {
    let cloud = cx.cloud;
    let Some(node) = node else {
        let region = region?;
        let want = if tier? == Tier::Prod { 3 } else { 2 };
        return Some(
            region
                .zones
                .iter()
                .take(want)
                .map(|z| (*z).to_owned())
                .collect(),
        );
    };
    let chosen: Vec<String> = match &node.kind {
        Kind::Seq(items) => {
            let mut names = Vec::new();
            for item in items {
                let Some(text) = read::scalar_text(cx.r, item, "a zone") else {
                    continue;
                };
                let Some(region) = region else { continue };
                let full = if cloud == Some(Cloud::Aws) && text.len() == 1 {
                    format!("{}{text}", region.name)
                } else {
                    text.clone()
                };
                if !region.zones.contains(&full.as_str()) {
                    let known = region
                        .zones
                        .iter()
                        .map(|z| format!("`{z}`"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let detail = if region.zones.is_empty() {
                        format!("Region `{}` has no availability zones.", region.name)
                    } else {
                        format!(
                            "`{text}` is not a zone of region `{}`; its zones are {known}.",
                            region.name
                        )
                    };
                    cx.r.error(
                        Code::InvalidZones,
                        item,
                        detail,
                        did_you_mean(&full, region.zones.iter().copied()),
                    );
                } else if names.contains(&full) {
                    cx.r.error(
                        Code::InvalidZones,
                        item,
                        format!("Zone `{full}` is listed twice."),
                        None,
                    );
                } else {
                    names.push(full);
                }
            }
            if names.len() != items.len() {
                return None;
            }
            names
        }
        _ => {
            let n = read::int(cx.r, node, "`zones`")?;
            let region = region?;
            let available = region.zones.len();
            if n < 1 || usize::try_from(n).map_or(true, |n| n > available) {
                let detail = if available == 0 {
                    format!(
                        "Region `{}` has no availability zones; remove `zones` to deploy without zone redundancy.",
                        region.name
                    )
                } else if n < 1 {
                    format!("`zones` must be at least 1, found {n}.")
                } else {
                    format!(
                        "Region `{}` has {available} availability zones; {n} were requested.",
                        region.name
                    )
                };
                cx.r.error(
                    Code::InvalidZones,
                    node,
                    detail,
                    (available > 0).then(|| format!("use at most `zones: {available}`")),
                );
                return None;
            }
            region
                .zones
                .iter()
                .take(n as usize)
                .map(|z| (*z).to_owned())
                .collect()
        }
    };
    if cloud == Some(Cloud::Aws) && chosen.len() < 2 {
        cx.r.error(
            Code::InvalidZones,
            node,
            format!(
                "EKS needs subnets in at least 2 availability zones; {} requested.",
                chosen.len()
            ),
            Some("use `zones: 2` or more".into()),
        );
        return None;
    }
    Some(chosen)
}

/// Parses a CIDR, reporting syntax errors and host bits.
pub(crate) fn read_cidr(r: &mut Report, node: &Node, what: &str) -> Option<Ipv4Net> {
    let text = read::string(r, node, what)?;
    let Ok(net) = text.parse::<Ipv4Net>() else {
        r.error(
            Code::InvalidCidr,
            node,
            format!("`{text}` is not an IPv4 CIDR block such as `10.0.0.0/16`."),
            None,
        );
        return None;
    };
    if net.trunc() != net {
        r.error(
            Code::InvalidCidr,
            node,
            format!(
                "`{text}` has host bits set: the network address of a /{} is `{}`.",
                net.prefix_len(),
                net.trunc().addr()
            ),
            Some(format!("did you mean `{}`?", net.trunc())),
        );
        return None;
    }
    Some(net)
}

/// Checks that `net` can hold the subnets for `zones`; reports at `node` otherwise.
fn check_size(
    r: &mut Report,
    cloud: Cloud,
    net: Ipv4Net,
    zones: &[String],
    node: &Node,
    whose: &str,
) -> Option<Vec<Subnet>> {
    match subnets::derive(cloud, net, zones) {
        Ok(s) => Some(s),
        Err(e) => {
            let fits = (8..net.prefix_len()).rev().find(|p| {
                Ipv4Net::new(net.addr(), *p)
                    .is_ok_and(|bigger| subnets::derive(cloud, bigger.trunc(), zones).is_ok())
            });
            r.error(
                Code::CidrTooSmall,
                node,
                format!("The network of {whose} is too small: {e}."),
                fits.map(|p| format!("use a /{p} or larger network")),
            );
            None
        }
    }
}

fn read_network(
    cx: &mut Cx<'_>,
    f: &Fields<'_>,
    zones: Option<&[String]>,
    ranges: &mut Vec<Range>,
) -> Option<Network> {
    let n = cx.need(f, "network", "A cluster")?;
    let nf = read::fields(cx.r, n, "`network`", &["cidr"], &[])?;
    let cidr_node = cx.need(&nf, "cidr", "`network`")?;
    let net = read_cidr(cx.r, cidr_node, "`network.cidr`")?;
    let subject = cx.subject();
    let subnets = match (cx.cloud, zones) {
        (Some(cloud), Some(zones)) => check_size(cx.r, cloud, net, zones, cidr_node, &subject),
        _ => None,
    };
    if cx.is_cluster() {
        ranges.push(Range {
            net,
            node: cidr_node.clone(),
            what: format!("the network of {subject}"),
        });
    }
    Some(Network {
        cidr: net,
        subnets: subnets?,
    })
}

/// The values of a per-cloud choice (`{aws: …, azure: …}`) that apply: the cluster's entry, or
/// every entry with its cloud when the cloud is unknown (templates). Anything but a mapping is
/// the value for every cloud.
fn per_cloud<'n>(cx: &mut Cx<'_>, node: &'n Node, what: &str) -> Vec<(Option<Cloud>, &'n Node)> {
    if !matches!(node.kind, Kind::Map(_)) {
        return vec![(cx.cloud, node)];
    }
    let Some(f) = read::fields(
        cx.r,
        node,
        &format!("the per-cloud choice {what}"),
        CLOUDS,
        &[],
    ) else {
        return Vec::new();
    };
    match cx.cloud {
        Some(cloud) => match f.get(cloud.as_str()) {
            Some(v) => vec![(Some(cloud), v)],
            None => {
                let subject = cx.subject();
                cx.r.error(
                    Code::MissingCloudChoice,
                    node,
                    format!("{what} has no entry for `{cloud}`, the provider of {subject}."),
                    Some(format!("add `{cloud}: …` to this mapping")),
                );
                Vec::new()
            }
        },
        None => [Cloud::Aws, Cloud::Azure]
            .into_iter()
            .filter_map(|c| f.get(c.as_str()).map(|v| (Some(c), v)))
            .collect(),
    }
}

fn is_aks_pool_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 12
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn first_system_min(pools: Option<&Node>) -> Option<&Node> {
    let Some(Node {
        kind: Kind::Seq(items),
        ..
    }) = pools
    else {
        return None;
    };
    items
        .iter()
        .find(|p| p.get("role").and_then(Node::text) == Some("system"))
        .and_then(|p| p.get("min"))
}

const POOL_FIELDS: &[&str] = &[
    "name",
    "role",
    "instanceType",
    "min",
    "max",
    "desired",
    "diskSizeGb",
    "labels",
    "taints",
    "upgrade",
    "os",
];

fn read_pools(
    cx: &mut Cx<'_>,
    f: &Fields<'_>,
    tier: Option<Tier>,
    kubernetes: Option<KubeVersion>,
) -> Option<Vec<NodePool>> {
    let node = cx.need(f, "nodePools", "A cluster")?;
    let items = read::list(cx.r, node, "`nodePools`")?;
    let mut pools = Vec::new();
    let mut ok = true;
    let mut seen: Vec<(String, usize)> = Vec::new();
    for item in items {
        match read_pool(cx, item, tier, kubernetes) {
            Some((pool, name_node)) => {
                if let Some((_, line)) = seen.iter().find(|(n, _)| *n == pool.name) {
                    cx.r.error(Code::DuplicateName, name_node, format!("Node pool `{}` is already defined on line {line}; pool names are unique within a cluster.", pool.name), None);
                    ok = false;
                }
                seen.push((pool.name.clone(), name_node.span.line));
                pools.push(pool);
            }
            None => ok = false,
        }
    }
    if items.is_empty() {
        cx.r.error(
            Code::NoSystemPool,
            node,
            format!(
                "{} has no node pools; at least one with `role: system` is needed.",
                read::capitalize(&cx.subject())
            ),
            None,
        );
        return None;
    }
    if ok && !pools.iter().any(|p| p.role == PoolRole::System) {
        cx.r.error(
            Code::NoSystemPool,
            node,
            format!("None of the node pools of {} has `role: system`; system pods need a pool of their own.", cx.subject()),
            Some("set `role: system` on one pool".into()),
        );
        return None;
    }
    ok.then_some(pools)
}

fn read_pool<'n>(
    cx: &mut Cx<'_>,
    node: &'n Node,
    tier: Option<Tier>,
    kubernetes: Option<KubeVersion>,
) -> Option<(NodePool, &'n Node)> {
    let f = read::fields(cx.r, node, "a node pool", POOL_FIELDS, &[])?;
    let errors = cx.r.len();
    let name_node = cx.need(&f, "name", "A node pool");
    let name = name_node.and_then(|n| read::dns_label(cx.r, n, "node pool name"));
    if let (Some(n), Some(Cloud::Azure), Some(at)) = (&name, cx.cloud, name_node)
        && !is_aks_pool_name(n)
    {
        let fixed: String = n
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(12)
            .collect();
        cx.r.error(
            Code::InvalidName,
            at,
            format!("`{n}` is not a valid AKS agent pool name: use 1 to 12 lowercase letters and digits, starting with a letter."),
            is_aks_pool_name(&fixed).then(|| format!("did you mean `{fixed}`?")),
        );
    }
    let role = match f.get("role") {
        Some(n) => read::one_of(cx.r, n, "node pool role", &["system", "user"]).map(|r| {
            if r == "system" {
                PoolRole::System
            } else {
                PoolRole::User
            }
        }),
        None => Some(PoolRole::User),
    };
    let mut instance_type = None;
    if let Some(n) = cx.need(&f, "instanceType", "A node pool") {
        for (_, v) in per_cloud(cx, n, "`instanceType`") {
            instance_type = read::string(cx.r, v, "`instanceType`");
        }
    }
    let min_node = cx.need(&f, "min", "A node pool");
    let max_node = cx.need(&f, "max", "A node pool");
    let desired_node = f.get("desired");
    let min = min_node.and_then(|n| read::int(cx.r, n, "`min`"));
    let max = max_node.and_then(|n| read::int(cx.r, n, "`max`"));
    let desired = desired_node.and_then(|n| read::int(cx.r, n, "`desired`"));
    let bounds = check_bounds(
        cx,
        role,
        (min, min_node),
        (max, max_node),
        (desired, desired_node),
    );
    let disk = match f.get("diskSizeGb") {
        Some(n) => read::int_at_least(cx.r, n, "`diskSizeGb`", 1),
        None => Some(if cx.cloud == Some(Cloud::Azure) {
            128
        } else {
            100
        }),
    };
    let labels = f
        .get("labels")
        .map(|n| read::string_map(cx.r, n, "node pool `labels`"))
        .unwrap_or_default();
    let taints = f
        .get("taints")
        .map_or(Some(Vec::new()), |n| read_taints(cx, n));
    let upgrade = read_upgrade(cx, f.get("upgrade"), tier);
    // The node holding the chosen OS (the cluster's entry of a per-cloud choice).
    let mut os_at: Option<&Node> = None;
    let mut os = None;
    if let Some(n) = f.get("os") {
        for (cloud, v) in per_cloud(cx, n, "`os`") {
            os = read_os(cx, v, cloud, role);
            os_at = Some(v);
        }
    }
    if let (Some(o), Some(n), Some(at)) = (os, &name, name_node)
        && o.is_windows()
        && is_aks_pool_name(n)
        && n.len() > 6
    {
        cx.r.error(
            Code::InvalidName,
            at,
            format!("`{n}` is too long for an AKS Windows agent pool: Windows pool names have at most 6 characters."),
            Some(format!("did you mean `{}`?", &n[..6])),
        );
    }
    if cx.r.errors_since(errors) {
        return None;
    }
    if let (true, Some(version), Some(cloud), Some(pool)) =
        (cx.is_cluster(), kubernetes, cx.cloud, &name)
    {
        check_node_os(
            cx,
            pool,
            os,
            cloud,
            version,
            os_at.or(name_node).unwrap_or(node),
        );
    }
    let (min, max, desired) = bounds?;
    Some((
        NodePool {
            name: name?,
            role: role?,
            instance_type: instance_type?,
            min,
            max,
            desired,
            disk_size_gb: disk?,
            labels,
            taints: taints?,
            upgrade: upgrade?,
            os,
        },
        name_node?,
    ))
}

fn service(cloud: Cloud) -> &'static str {
    match cloud {
        Cloud::Aws => "EKS",
        Cloud::Azure => "AKS",
    }
}

/// A node OS for a pool of a cluster on `cloud` (unknown in templates without `provider`).
fn read_os(
    cx: &mut Cx<'_>,
    node: &Node,
    cloud: Option<Cloud>,
    role: Option<PoolRole>,
) -> Option<NodeOs> {
    let text = read::string(cx.r, node, "node OS")?;
    let allowed: Vec<&str> = match cloud {
        Some(c) => catalog::node_os(c).iter().map(|w| w.os.as_str()).collect(),
        None => [Cloud::Aws, Cloud::Azure]
            .into_iter()
            .flat_map(|c| catalog::node_os(c).iter().map(|w| w.os.as_str()))
            .collect(),
    };
    let list = allowed
        .iter()
        .map(|a| format!("`{a}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let Some(os) = NodeOs::parse(&text) else {
        let whose = cloud.map_or_else(String::new, |c| format!(" of {} ({c})", service(c)));
        cx.r.error(
            Code::InvalidValue,
            node,
            format!("`{text}` is not a node OS{whose}; the choices are {list}."),
            did_you_mean(&text, allowed.iter().copied()),
        );
        return None;
    };
    if let Some(c) = cloud
        && os.cloud() != c
    {
        let whose = if cx.is_cluster() {
            format!("{} runs on {c}", cx.subject())
        } else {
            format!("this is the choice for {c}")
        };
        cx.r.error(
            Code::InvalidValue,
            node,
            format!(
                "`{os}` is a node OS of {} ({}) clusters, but {whose}; {} node pools use {list}.",
                service(os.cloud()),
                os.cloud(),
                service(c)
            ),
            Some(format!(
                "use one of {list}; a profile shared by both clouds can write `os: {{ {c}: …, {}: {os} }}`",
                os.cloud()
            )),
        );
        return None;
    }
    if os.is_windows() && role == Some(PoolRole::System) {
        cx.r.error(
            Code::InvalidValue,
            node,
            format!("`{os}` cannot run a system pool: AKS runs Windows nodes only in user pools, since system pods need Linux."),
            Some("set `role: user` on this pool and keep a Linux pool with `role: system`".into()),
        );
        return None;
    }
    Some(os)
}

/// The `node-os-supported` invariant: the pool's OS (or the cloud default) has images for
/// the cluster's Kubernetes version.
fn check_node_os(
    cx: &mut Cx<'_>,
    pool: &str,
    os: Option<NodeOs>,
    cloud: Cloud,
    version: KubeVersion,
    at: &Node,
) {
    let effective = os.unwrap_or_else(|| catalog::default_node_os(cloud));
    if catalog::node_os_supports(effective, version) {
        return;
    }
    let service = service(cloud);
    let which = match os {
        Some(_) => format!("`{effective}`"),
        None => format!("the {service} default node OS `{effective}`"),
    };
    let published = match catalog::node_os_window(effective) {
        Some(w) => {
            let range = match w.last {
                Some(last) => format!("for Kubernetes {} to {last}", w.first),
                None => format!("from Kubernetes {}", w.first),
            };
            format!(" {service} publishes `{}` images {range}.", w.cloud_name)
        }
        None => String::new(),
    };
    let alternatives: Vec<String> = catalog::node_os(cloud)
        .iter()
        .filter(|w| w.os.is_windows() == effective.is_windows() && w.covers(version))
        .map(|w| format!("`os: {}`", w.os))
        .collect();
    let help = if alternatives.is_empty() {
        format!("keep the cluster at a Kubernetes version that `{effective}` supports")
    } else {
        format!(
            "switch the pool to {}, or add a policy exception with a reason and an expiry date",
            alternatives.join(" or ")
        )
    };
    cx.violate(
        Code::NodeOsSupported,
        at,
        format!(
            "Node pool `{pool}` of cluster `{}` runs {which}, which has no node images for Kubernetes `{version}`.{published}{}",
            cx.name, cx.as_if
        ),
        Some(help),
    );
}

type Bound<'n> = (Option<i64>, Option<&'n Node>);

/// `0 ≤ min ≤ desired ≤ max`, `1 ≤ max ≤ cloud limit`; the first broken relation only.
fn check_bounds(
    cx: &mut Cx<'_>,
    role: Option<PoolRole>,
    min: Bound<'_>,
    max: Bound<'_>,
    desired: Bound<'_>,
) -> Option<(u32, u32, u32)> {
    let ((Some(lo), Some(lo_node)), (Some(hi), Some(hi_node))) = (min, max) else {
        return None;
    };
    let limit = cx.cloud.map(catalog::max_pool_nodes);
    let service = if cx.cloud == Some(Cloud::Azure) {
        "AKS"
    } else {
        "EKS"
    };
    let (want, want_node) = match desired {
        (Some(d), Some(n)) => (d, Some(n)),
        _ => (lo, None),
    };
    let problem: Option<(&Node, String)> = if lo < 0 {
        Some((lo_node, format!("`min` must be 0 or more, found {lo}.")))
    } else if hi < 1 {
        Some((hi_node, format!("`max` must be at least 1, found {hi}.")))
    } else if lo > hi {
        Some((hi_node, format!("`max` ({hi}) is less than `min` ({lo}).")))
    } else if let Some(l) = limit.filter(|l| hi > i64::from(*l)) {
        Some((
            hi_node,
            format!("`max` is {hi}, more than the {l} nodes an {service} node pool can hold."),
        ))
    } else if cx.cloud == Some(Cloud::Azure) && role == Some(PoolRole::System) && lo < 1 {
        Some((
            lo_node,
            "AKS system pools keep at least 1 node; `min` is 0.".to_owned(),
        ))
    } else if want < lo || want > hi {
        Some((
            want_node.unwrap_or(lo_node),
            format!("`desired` ({want}) is outside `min`..`max` ({lo}..{hi})."),
        ))
    } else {
        None
    };
    if let Some((at, detail)) = problem {
        cx.r.error(
            Code::PoolBounds,
            at,
            detail,
            Some("node pools need 0 ≤ min ≤ desired ≤ max and max ≥ 1".into()),
        );
        return None;
    }
    Some((
        u32::try_from(lo).ok()?,
        u32::try_from(hi).ok()?,
        u32::try_from(want).ok()?,
    ))
}

fn read_taints(cx: &mut Cx<'_>, node: &Node) -> Option<Vec<String>> {
    let items = read::list(cx.r, node, "`taints`")?;
    let mut out = Vec::new();
    for item in items {
        let Some(t) = read::string(cx.r, item, "a taint") else {
            continue;
        };
        let effect = t.rsplit_once(':').map(|(_, e)| e);
        let key = t
            .rsplit_once(':')
            .map(|(k, _)| k.split('=').next().unwrap_or_default());
        match (key, effect) {
            (Some(k), Some("NoSchedule" | "PreferNoSchedule" | "NoExecute")) if !k.is_empty() => out.push(t),
            _ => cx.r.error(
                Code::InvalidValue,
                item,
                format!("`{t}` is not a taint; write `key=value:Effect` or `key:Effect` with the effect `NoSchedule`, `PreferNoSchedule` or `NoExecute`."),
                None,
            ),
        }
    }
    (out.len() == items.len()).then_some(out)
}

/// Upgrade settings; `maxSurge` defaults to `33%` for prod (faster rolls on big pools) and `1`
/// otherwise, `maxUnavailable` to 1.
fn read_upgrade(cx: &mut Cx<'_>, node: Option<&Node>, tier: Option<Tier>) -> Option<PoolUpgrade> {
    let default_surge = if tier == Some(Tier::Prod) { "33%" } else { "1" }.to_owned();
    let Some(node) = node else {
        return Some(PoolUpgrade {
            max_surge: default_surge,
            max_unavailable: 1,
        });
    };
    let f = read::fields(
        cx.r,
        node,
        "`upgrade`",
        &["maxSurge", "maxUnavailable"],
        &[],
    )?;
    let surge = match f.get("maxSurge") {
        None => Some(default_surge),
        Some(n) => match n.scalar() {
            Some(Resolved::Int(i)) if i >= 0 => Some(i.to_string()),
            Some(Resolved::Str(s))
                if s.strip_suffix('%')
                    .and_then(|p| p.parse::<u8>().ok())
                    .is_some_and(|p| p <= 100) =>
            {
                Some(s.to_owned())
            }
            _ => {
                cx.r.error(Code::InvalidValue, n, format!("`maxSurge` must be a node count or a percentage such as \"33%\", found `{}`.", n.text().unwrap_or("a collection")), None);
                None
            }
        },
    };
    let unavailable = match f.get("maxUnavailable") {
        None => Some(1),
        Some(n) => read::int_at_least(cx.r, n, "`maxUnavailable`", 0),
    };
    Some(PoolUpgrade {
        max_surge: surge?,
        max_unavailable: unavailable?,
    })
}

fn default_addons(cloud: Option<Cloud>) -> Vec<Addon> {
    match cloud {
        Some(Cloud::Aws) => catalog::DEFAULT_AWS_ADDONS
            .iter()
            .map(|n| Addon {
                name: (*n).to_owned(),
                version: None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn read_addons(cx: &mut Cx<'_>, node: &Node) -> Option<Vec<Addon>> {
    let mut out = Vec::new();
    let mut ok = true;
    for (cloud, list_node) in per_cloud(cx, node, "`addons`") {
        let Some(items) = read::list(cx.r, list_node, "`addons`") else {
            ok = false;
            continue;
        };
        for item in items {
            let (name_node, version, version_node) = match &item.kind {
                Kind::Map(_) => {
                    let Some(f) = read::fields(cx.r, item, "an add-on", &["name", "version"], &[])
                    else {
                        ok = false;
                        continue;
                    };
                    let version_node = f.get("version");
                    let version =
                        version_node.and_then(|v| read::string(cx.r, v, "add-on `version`"));
                    match f.get("name") {
                        Some(n) => (n, version, version_node),
                        None => {
                            read::missing(cx.r, item, "name", "An add-on");
                            ok = false;
                            continue;
                        }
                    }
                }
                _ => (item, None, None),
            };
            let Some(name) = read::string(cx.r, name_node, "an add-on name") else {
                ok = false;
                continue;
            };
            match check_addon(cx, cloud, &name, name_node) {
                Some(true) if !addon_version_ok(cx, &name, version.as_deref(), version_node) => {
                    ok = false;
                }
                Some(true) => out.push(Addon { name, version }),
                Some(false) => {}
                None => ok = false,
            }
        }
    }
    ok.then_some(out)
}

/// Whether a pinned version is spelled as the add-on's cloud names its versions; only the AKS
/// service mesh has a fixed spelling (`asm-1-28`), other versions are the cloud's to judge.
fn addon_version_ok(
    cx: &mut Cx<'_>,
    name: &str,
    version: Option<&str>,
    node: Option<&Node>,
) -> bool {
    let (Some(v), Some(node)) = (version, node) else {
        return true;
    };
    if name != catalog::ISTIO_ADDON || catalog::is_mesh_revision(v) {
        return true;
    }
    cx.r.error(
        Code::InvalidValue,
        node,
        format!("`{v}` is not an AKS service mesh revision."),
        Some(
            "pin `istio` to a mesh revision such as `asm-1-28` \
             (`az aks mesh get-revisions --location <region>` lists them)"
                .to_owned(),
        ),
    );
    false
}

/// Whether the add-on is installed on `cloud` (`Some(false)`: accepted but built in).
fn check_addon(cx: &mut Cx<'_>, cloud: Option<Cloud>, name: &str, node: &Node) -> Option<bool> {
    let info = catalog::addon_info(name);
    let accepted = match (info, cloud) {
        (Some(i), Some(c)) => i.accepted_on(c),
        (Some(_), None) => true,
        (None, _) => false,
    };
    if accepted {
        return Some(matches!((info, cloud), (Some(i), Some(c)) if i.installed_on(c)));
    }
    let candidates: Vec<&str> = catalog::addons()
        .iter()
        .filter(|a| cloud.is_none_or(|c| a.accepted_on(c)))
        .map(|a| a.name)
        .collect();
    let (detail, help) = match (info, cloud) {
        (Some(i), Some(c)) => (
            format!("Add-on `{name}` is not available on {c}."),
            Some(match i.alternative {
                Some(alt) => format!(
                    "use `{alt}` on {c}, or list add-ons per cloud: `addons: {{ aws: […], azure: […] }}`"
                ),
                None => "list add-ons per cloud: `addons: { aws: […], azure: […] }`".to_owned(),
            }),
        ),
        _ => (
            format!(
                "`{name}` is not in the add-on catalogue{}.",
                cloud.map(|c| format!(" for {c}")).unwrap_or_default()
            ),
            did_you_mean(name, candidates.iter().copied())
                .or_else(|| Some(format!("known add-ons: {}", candidates.join(", ")))),
        ),
    };
    cx.r.error(Code::UnknownAddon, node, detail, help);
    None
}

/// Private endpoints as read: the kept names, and the ARM ids of targets given with them.
type PrivateEndpoints = (Vec<String>, BTreeMap<String, String>);

fn read_private_endpoints(cx: &mut Cx<'_>, node: &Node) -> Option<PrivateEndpoints> {
    let explicit = matches!(node.kind, Kind::Map(_));
    let mut out = Vec::new();
    let mut targets = BTreeMap::new();
    let mut ok = true;
    for (cloud, list_node) in per_cloud(cx, node, "`privateEndpoints`") {
        let Some(items) = read::list(cx.r, list_node, "`privateEndpoints`") else {
            ok = false;
            continue;
        };
        for item in items {
            // `acr` or `{name: acr, resourceId: /subscriptions/…}`: Azure endpoints need the
            // ARM id of the object they connect to.
            let (name_node, resource_id) = match &item.kind {
                Kind::Map(_) => {
                    let Some(f) = read::fields(
                        cx.r,
                        item,
                        "a private endpoint",
                        &["name", "resourceId"],
                        &[],
                    ) else {
                        ok = false;
                        continue;
                    };
                    let id = match f.get("resourceId") {
                        Some(n) => match read_arm_id(cx, n, "`resourceId`", None) {
                            Some(id) => Some(id),
                            None => {
                                ok = false;
                                continue;
                            }
                        },
                        None => None,
                    };
                    match f.get("name") {
                        Some(n) => (n, id),
                        None => {
                            read::missing(cx.r, item, "name", "A private endpoint");
                            ok = false;
                            continue;
                        }
                    }
                }
                _ => (item, None),
            };
            let Some(name) = read::string(cx.r, name_node, "a private endpoint service") else {
                ok = false;
                continue;
            };
            let in_cloud = |c: Cloud| catalog::private_endpoint_service(c, &name).is_some();
            // A plain list may mix both clouds' services (shared profiles): each cluster keeps
            // those of its own cloud. Under an explicit `aws:`/`azure:` key, only that cloud's.
            let known = match cloud {
                Some(c) if explicit => in_cloud(c),
                _ => in_cloud(Cloud::Aws) || in_cloud(Cloud::Azure),
            };
            if !known {
                let clouds: Vec<Cloud> = match cloud {
                    Some(c) if explicit => vec![c],
                    _ => vec![Cloud::Aws, Cloud::Azure],
                };
                let names: Vec<&str> = clouds
                    .iter()
                    .flat_map(|c| catalog::private_endpoint_services(*c))
                    .map(|s| s.name)
                    .collect();
                cx.r.error(
                    Code::UnknownPrivateEndpoint,
                    name_node,
                    format!(
                        "`{name}` is not a known private endpoint service{}.",
                        if explicit {
                            cloud.map(|c| format!(" on {c}")).unwrap_or_default()
                        } else {
                            String::new()
                        }
                    ),
                    did_you_mean(&name, names.iter().copied())
                        .or_else(|| Some(format!("known services: {}", names.join(", ")))),
                );
                ok = false;
            } else if cloud.is_some_and(in_cloud) && !out.contains(&name) {
                if cloud == Some(Cloud::Azure) {
                    match resource_id {
                        Some(id) => {
                            targets.insert(name.clone(), id);
                        }
                        None if cx.is_cluster() => {
                            cx.r.error(
                                Code::MissingPrivateEndpointTarget,
                                item,
                                format!("Azure private endpoint `{name}` of cluster `{}` has no `resourceId`: Azure connects a private endpoint to one resource, named by its ARM id.", cx.name),
                                Some(format!("write `{{ name: {name}, resourceId: /subscriptions/…/resourceGroups/…/providers/… }}`")),
                            );
                            ok = false;
                            continue;
                        }
                        None => {}
                    }
                }
                out.push(name);
            }
        }
    }
    ok.then_some((out, targets))
}

/// Reads an ARM resource id (`/subscriptions/{guid}/resourceGroups/{rg}/providers/{ns}/{type}/
/// {name}…`), of the resource type `kind` (case-insensitive) when given.
fn read_arm_id(cx: &mut Cx<'_>, node: &Node, what: &str, kind: Option<&str>) -> Option<String> {
    let s = read::string(cx.r, node, what)?;
    let type_ok = |t: &str| kind.is_none_or(|k| t.eq_ignore_ascii_case(k));
    if let Some(t) = arm_resource_type(&s)
        && type_ok(&t)
    {
        return Some(s);
    }
    let expected = kind.unwrap_or("{namespace}/{type}");
    cx.r.error(
        Code::InvalidValue,
        node,
        format!("{} `{s}` is not an ARM resource id of type `{expected}`.", read::capitalize(what)),
        Some(format!("write `/subscriptions/<subscription GUID>/resourceGroups/<group>/providers/{expected}/<name>`")),
    );
    None
}

/// The resource type (`Microsoft.ContainerRegistry/registries`) of a well-formed ARM resource
/// id, nested types joined with `/`.
fn arm_resource_type(id: &str) -> Option<String> {
    let parts: Vec<&str> = id.strip_prefix('/')?.split('/').collect();
    let well_formed = parts.len() >= 8
        && parts.len().is_multiple_of(2)
        && parts[0].eq_ignore_ascii_case("subscriptions")
        && is_guid(parts[1])
        && parts[2].eq_ignore_ascii_case("resourceGroups")
        && parts[4].eq_ignore_ascii_case("providers")
        && parts
            .iter()
            .all(|p| !p.is_empty() && !p.chars().any(|c| c.is_whitespace() || c == '?'));
    if !well_formed {
        return None;
    }
    let mut kind = vec![parts[5]];
    kind.extend(parts[6..].iter().step_by(2));
    Some(kind.join("/"))
}

fn read_tags(cx: &mut Cx<'_>, node: &Node) -> BTreeMap<String, String> {
    let tags = read::string_map(cx.r, node, "`tags`");
    if let Kind::Map(entries) = &node.kind {
        for (k, _) in entries {
            if k.text().is_some_and(|t| t.starts_with("slipway:")) {
                cx.r.error(Code::InvalidValue, k, format!("Tag keys starting with `slipway:` are reserved for ownership tags; `{}` cannot be set.", k.text().unwrap_or_default()), None);
            }
        }
    }
    tags
}

fn is_policy_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", "aws" | "aws-cn" | "aws-us-gov", "iam", "", account, resource]
        if (*account == "aws" || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())))
            && resource.strip_prefix("policy/").is_some_and(|p| !p.is_empty()))
}

fn is_iam_principal_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", "aws" | "aws-cn" | "aws-us-gov", "iam", "", account, resource]
        if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
            && (resource.starts_with("role/") || resource.starts_with("user/")) && resource.len() > 5)
}

fn is_kms_key_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", "aws" | "aws-cn" | "aws-us-gov", "kms", region, account, resource]
        if !region.is_empty() && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
            && (resource.starts_with("key/") || resource.starts_with("alias/")) && resource.len() > 4)
}

fn is_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(read::is_dns_label)
}

const IDENTITY_FIELDS: &[&str] = &["name", "namespace", "serviceAccount", "aws", "azure"];

fn read_identities(cx: &mut Cx<'_>, node: Option<&Node>) -> Option<Vec<WorkloadIdentity>> {
    let Some(node) = node else {
        return Some(Vec::new());
    };
    let items = read::list(cx.r, node, "`workloadIdentities`")?;
    let mut out = Vec::new();
    let mut ok = true;
    let mut seen: Vec<(String, usize)> = Vec::new();
    for item in items {
        match read_identity(cx, item) {
            Some((wi, name_node)) => {
                if let Some((_, line)) = seen.iter().find(|(n, _)| *n == wi.name) {
                    cx.r.error(
                        Code::DuplicateName,
                        name_node,
                        format!(
                            "Workload identity `{}` is already defined on line {line}.",
                            wi.name
                        ),
                        None,
                    );
                    ok = false;
                }
                seen.push((wi.name.clone(), name_node.span.line));
                out.push(wi);
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// Reports static credential fields of a mapping under the invariant.
fn static_credentials(cx: &mut Cx<'_>, f: &Fields<'_>, what: &str) {
    for (k, _) in f.entries() {
        let key = k.text().unwrap_or_default();
        if CREDENTIAL_FIELDS
            .iter()
            .any(|c| c.eq_ignore_ascii_case(key))
        {
            cx.violate(
                Code::StaticCredentials,
                k,
                format!("{what} carries the static credential `{key}`; workload identities get short-lived credentials from the cluster's identity provider."),
                Some("remove the credential (and rotate it: it has been committed); grant permissions with `aws.policyArns` or `azure.roleAssignments`".into()),
            );
        }
    }
}

fn read_identity<'n>(cx: &mut Cx<'_>, node: &'n Node) -> Option<(WorkloadIdentity, &'n Node)> {
    let f = read::fields(
        cx.r,
        node,
        "a workload identity",
        IDENTITY_FIELDS,
        CREDENTIAL_FIELDS,
    )?;
    let errors = cx.r.len();
    static_credentials(cx, &f, "This workload identity");
    let name_node = cx.need(&f, "name", "A workload identity");
    let name = name_node.and_then(|n| read::dns_label(cx.r, n, "workload identity name"));
    let namespace = cx
        .need(&f, "namespace", "A workload identity")
        .and_then(|n| read::dns_label(cx.r, n, "namespace"));
    let sa = cx.need(&f, "serviceAccount", "A workload identity").and_then(|n| {
        let s = read::string(cx.r, n, "service account name")?;
        if is_subdomain(&s) {
            return Some(s);
        }
        cx.r.error(Code::InvalidName, n, format!("`{s}` is not a valid service account name: use lowercase letters, digits, `-` and `.`."), None);
        None
    });
    let mut arns = Vec::new();
    if let Some(aws) = f.get("aws")
        && let Some(af) = read::fields(
            cx.r,
            aws,
            "`aws` of a workload identity",
            &["policyArns"],
            CREDENTIAL_FIELDS,
        )
    {
        static_credentials(cx, &af, "The `aws` block of this workload identity");
        if let Some(items) = af
            .get("policyArns")
            .and_then(|n| read::list(cx.r, n, "`policyArns`"))
        {
            for item in items {
                let Some(arn) = read::string(cx.r, item, "a policy ARN") else {
                    continue;
                };
                if is_policy_arn(&arn) {
                    arns.push(arn);
                } else {
                    cx.r.error(
                        Code::InvalidArn,
                        item,
                        format!("`{arn}` is not an IAM policy ARN such as `arn:aws:iam::aws:policy/ReadOnlyAccess` or `arn:aws:iam::123456789012:policy/name`."),
                        None,
                    );
                }
            }
        }
    }
    let mut roles = Vec::new();
    if let Some(azure) = f.get("azure")
        && let Some(zf) = read::fields(
            cx.r,
            azure,
            "`azure` of a workload identity",
            &["roleAssignments"],
            CREDENTIAL_FIELDS,
        )
    {
        static_credentials(cx, &zf, "The `azure` block of this workload identity");
        if let Some(items) = zf
            .get("roleAssignments")
            .and_then(|n| read::list(cx.r, n, "`roleAssignments`"))
        {
            for item in items {
                let Some(af) =
                    read::fields(cx.r, item, "a role assignment", &["role", "scope"], &[])
                else {
                    continue;
                };
                let role = cx
                    .need(&af, "role", "A role assignment")
                    .and_then(|n| read::string(cx.r, n, "role"));
                let scope = cx.need(&af, "scope", "A role assignment").and_then(|n| {
                    let s = read::string(cx.r, n, "scope")?;
                    if s.starts_with("/subscriptions/") && s.len() > "/subscriptions/".len() {
                        return Some(s);
                    }
                    cx.r.error(Code::InvalidScope, n, format!("`{s}` is not an Azure resource scope; scopes start with `/subscriptions/<id>`."), None);
                    None
                });
                if let (Some(role), Some(scope)) = (role, scope) {
                    roles.push(RoleAssignment { role, scope });
                }
            }
        }
    }
    if cx.r.errors_since(errors) {
        return None;
    }
    Some((
        WorkloadIdentity {
            name: name?,
            namespace: namespace?,
            service_account: sa?,
            // Each cluster keeps the permissions of its own cloud.
            aws_policy_arns: if cx.cloud == Some(Cloud::Aws) {
                arns
            } else {
                Vec::new()
            },
            azure_role_assignments: if cx.cloud == Some(Cloud::Azure) {
                roles
            } else {
                Vec::new()
            },
        },
        name_node?,
    ))
}

fn read_dr(
    cx: &mut Cx<'_>,
    node: &Node,
    primary: Option<&catalog::Region>,
    zone_count: Option<usize>,
    ranges: &mut Vec<Range>,
    nodes: &mut Option<StandbyNodes>,
) -> Option<DrSpec> {
    let f = read::fields(cx.r, node, "`dr`", &["rto", "standby"], &[])?;
    let rto: Option<Duration> = cx
        .need(&f, "rto", "`dr`")
        .and_then(|n| read::duration(cx.r, n, "recovery time objective"));
    let standby = cx
        .need(&f, "standby", "`dr`")
        .and_then(|s| read_standby(cx, s, primary, zone_count, ranges, nodes));
    Some(DrSpec {
        rto: rto?,
        standby: standby?,
    })
}

const STANDBY_FIELDS: &[&str] = &[
    "region",
    "cidr",
    "mode",
    "name",
    "resourceGroup",
    "secretsKmsKeyArn",
];

fn read_standby(
    cx: &mut Cx<'_>,
    s: &Node,
    primary: Option<&catalog::Region>,
    zone_count: Option<usize>,
    ranges: &mut Vec<Range>,
    nodes: &mut Option<StandbyNodes>,
) -> Option<Standby> {
    let sf = read::fields(cx.r, s, "`dr.standby`", STANDBY_FIELDS, &[])?;
    let region_node = cx.need(&sf, "region", "`dr.standby`");
    let region = region_node.and_then(|n| read_region(cx, n));
    if let (Some(r), Some(p), Some(at)) = (region, primary, region_node)
        && r.name == p.name
    {
        cx.r.error(
            Code::DrSameRegion,
            at,
            format!("The standby of {} is in `{}`, the primary's own region; a regional outage would take both down.", cx.subject(), r.name),
            None,
        );
    }
    let cidr_node = cx.need(&sf, "cidr", "`dr.standby`");
    let cidr = cidr_node.and_then(|n| read_cidr(cx.r, n, "`dr.standby.cidr`"));
    if let (Some(net), Some(at)) = (cidr, cidr_node) {
        let subject = format!("the DR standby of {}", cx.subject());
        if let (Some(cloud), Some(r)) = (cx.cloud, region) {
            // Clusters: the zones the derivation gives the standby (none to check when the
            // region lacks them: the derivation reports that). Templates: a likely layout.
            let zones: Option<Vec<String>> = match (cx.is_cluster(), zone_count) {
                (true, Some(n)) => crate::dr::standby_zones(r, n),
                (true, None) => None,
                (false, n) => Some(
                    r.zones
                        .iter()
                        .take(n.unwrap_or(0).max(2))
                        .map(|z| (*z).to_owned())
                        .collect(),
                ),
            };
            if let Some(zones) = zones {
                check_size(cx.r, cloud, net, &zones, at, &subject);
            }
        }
        if cx.is_cluster() {
            ranges.push(Range {
                net,
                node: at.clone(),
                what: subject,
            });
        }
    }
    let mode = match sf.get("mode") {
        Some(n) => read::one_of(cx.r, n, "standby mode", &["pilot-light", "warm", "hot"]).map(
            |m| match m {
                "warm" => StandbyMode::Warm,
                "hot" => StandbyMode::Hot,
                _ => StandbyMode::PilotLight,
            },
        ),
        None => Some(StandbyMode::PilotLight),
    };
    let name = read_standby_name(cx, &sf, s);
    let resource_group = standby_setting(cx, &sf, "resourceGroup", Cloud::Azure, |cx, n| {
        read_resource_group(cx, n)
    });
    let kms = standby_setting(cx, &sf, "secretsKmsKeyArn", Cloud::Aws, |cx, n| {
        read_standby_kms(cx, n, region)
    });
    *nodes = Some(StandbyNodes {
        name: name.clone(),
        standby: s.clone(),
        region: region_node.cloned(),
        cidr: cidr_node.cloned(),
        instance_types: Vec::new(),
    });
    Some(Standby {
        region: region?.name.to_owned(),
        cidr: cidr?,
        mode: mode?,
        name: name?.0,
        resource_group: resource_group?,
        secrets_kms_key_arn: kms?,
    })
}

/// The standby's name and where it comes from: `dr.standby.name`, or `<primary>-dr` reported
/// at `dr.standby`. Templates have no primary name to default from.
fn read_standby_name(cx: &mut Cx<'_>, sf: &Fields<'_>, s: &Node) -> Option<(String, Node)> {
    if let Some(n) = sf.get("name") {
        return read::dns_label(cx.r, n, "standby name").map(|name| (name, n.clone()));
    }
    if !cx.is_cluster() || cx.name.is_empty() {
        return None;
    }
    let name = format!("{}-dr", cx.name);
    if read::is_dns_label(&name) {
        return Some((name, s.clone()));
    }
    cx.r.error(
        Code::InvalidName,
        s,
        format!(
            "The default standby name `{name}` is longer than the 63 characters of a DNS label."
        ),
        Some("set `dr.standby.name`".into()),
    );
    None
}

/// An optional standby setting that only clusters on `cloud` may have: `Some(None)` when
/// absent, `None` after an error.
fn standby_setting(
    cx: &mut Cx<'_>,
    sf: &Fields<'_>,
    key: &str,
    cloud: Cloud,
    read: impl FnOnce(&mut Cx<'_>, &Node) -> Option<String>,
) -> Option<Option<String>> {
    let Some(n) = sf.get(key) else {
        return Some(None);
    };
    if let Some(other) = cx.cloud.filter(|c| *c != cloud) {
        let at = sf.key(key).unwrap_or(n);
        cx.r.error(
            Code::InvalidValue,
            at,
            format!(
                "`dr.standby.{key}` is a setting of {cloud} standbys, but {} runs on {other}.",
                cx.subject()
            ),
            Some(format!("remove `{key}`")),
        );
        return None;
    }
    read(cx, n).map(Some)
}

/// A standby's own KMS key: a key ARN in the standby region (a KMS key is usable only in the
/// region it lives in).
fn read_standby_kms(cx: &mut Cx<'_>, n: &Node, region: Option<&catalog::Region>) -> Option<String> {
    let arn = read::string(cx.r, n, "`secretsKmsKeyArn`")?;
    if !is_kms_key_arn(&arn) {
        cx.r.error(
            Code::InvalidArn,
            n,
            format!(
                "`{arn}` is not a KMS key ARN such as `arn:aws:kms:us-west-2:123456789012:key/…`."
            ),
            None,
        );
        return None;
    }
    let key_region = arn.split(':').nth(3).unwrap_or_default();
    if let Some(r) = region.filter(|r| r.name != key_region) {
        cx.r.error(
            Code::DrKmsKey,
            n,
            format!("The standby's secrets key is in `{key_region}`, but the standby runs in `{}`; KMS keys encrypt only in their own region.", r.name),
            Some(format!("use a key (or a replica of a multi-region key) in `{}`", r.name)),
        );
        return None;
    }
    Some(arn)
}

/// Where a cluster's `dr.standby` was written, for the fleet's standby checks and the
/// derivation's findings.
#[derive(Debug, Clone)]
pub(crate) struct StandbyNodes {
    /// The standby name and its node: `dr.standby.name`, or `dr.standby` when defaulted.
    pub name: Option<(String, Node)>,
    /// The `dr.standby` mapping.
    pub standby: Node,
    /// `dr.standby.region`.
    pub region: Option<Node>,
    /// `dr.standby.cidr`.
    pub cidr: Option<Node>,
    /// The `instanceType` node of each node pool (the cluster's entry of a per-cloud choice),
    /// by pool name.
    pub instance_types: Vec<(String, Node)>,
}

/// The `instanceType` node of each pool, by pool name.
fn instance_type_nodes(pools: Option<&Node>, cloud: Option<Cloud>) -> Vec<(String, Node)> {
    let Some(Node {
        kind: Kind::Seq(items),
        ..
    }) = pools
    else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|p| {
            let name = p.get("name")?.text()?.to_owned();
            let t = p.get("instanceType")?;
            let t = match (&t.kind, cloud) {
                (Kind::Map(_), Some(c)) => t.get(c.as_str())?,
                _ => t,
            };
            Some((name, t.clone()))
        })
        .collect()
}

fn read_aws(cx: &mut Cx<'_>, node: Option<&Node>) -> Option<AwsSettings> {
    let default = AwsSettings {
        workload_identity: AwsWorkloadIdentityMode::Irsa,
        secrets_kms_key_arn: None,
        access_entries: Vec::new(),
    };
    let Some(node) = node else {
        return Some(default);
    };
    let f = read::fields(
        cx.r,
        node,
        "`aws`",
        &["workloadIdentity", "secretsKmsKeyArn", "accessEntries"],
        &[],
    )?;
    let mode = match f.get("workloadIdentity") {
        Some(n) => read::one_of(
            cx.r,
            n,
            "AWS workload identity mode",
            &["irsa", "pod-identity"],
        )
        .map(|m| {
            if m == "irsa" {
                AwsWorkloadIdentityMode::Irsa
            } else {
                AwsWorkloadIdentityMode::PodIdentity
            }
        }),
        None => Some(AwsWorkloadIdentityMode::Irsa),
    };
    let kms = match f.get("secretsKmsKeyArn") {
        Some(n) => read::string(cx.r, n, "`secretsKmsKeyArn`").and_then(|s| {
            if is_kms_key_arn(&s) {
                return Some(Some(s));
            }
            cx.r.error(
                Code::InvalidArn,
                n,
                format!(
                    "`{s}` is not a KMS key ARN such as `arn:aws:kms:us-east-1:123456789012:key/…`."
                ),
                None,
            );
            None
        }),
        None => Some(None),
    };
    let mut entries = Some(Vec::new());
    if let Some(items) = f
        .get("accessEntries")
        .and_then(|n| read::list(cx.r, n, "`accessEntries`"))
    {
        for item in items {
            let entry = read_access_entry(cx, item);
            match (&mut entries, entry) {
                (Some(list), Some(e)) => list.push(e),
                _ => entries = None,
            }
        }
    }
    Some(AwsSettings {
        workload_identity: mode?,
        secrets_kms_key_arn: kms?,
        access_entries: entries?,
    })
}

fn read_access_entry(cx: &mut Cx<'_>, node: &Node) -> Option<AccessEntry> {
    let f = read::fields(
        cx.r,
        node,
        "an access entry",
        &["principalArn", "policies", "namespaces"],
        &[],
    )?;
    let principal = match f.get("principalArn") {
        Some(n) => read::string(cx.r, n, "`principalArn`").and_then(|s| {
            if is_iam_principal_arn(&s) {
                return Some(s);
            }
            cx.r.error(Code::InvalidArn, n, format!("`{s}` is not an IAM role or user ARN such as `arn:aws:iam::123456789012:role/admins`."), None);
            None
        }),
        None => {
            read::missing(cx.r, node, "principalArn", "An access entry");
            None
        }
    };
    let strings = |cx: &mut Cx<'_>, key: &str, what: &str, label: bool| -> Option<Vec<String>> {
        let Some(n) = f.get(key) else {
            return Some(Vec::new());
        };
        let items = read::list(cx.r, n, what)?;
        let values: Vec<String> = items
            .iter()
            .filter_map(|i| {
                if label {
                    read::dns_label(cx.r, i, "namespace")
                } else {
                    read::string(cx.r, i, what)
                }
            })
            .collect();
        (values.len() == items.len()).then_some(values)
    };
    let policies = strings(cx, "policies", "`policies`", false);
    let namespaces = strings(cx, "namespaces", "`namespaces`", true);
    Some(AccessEntry {
        principal_arn: principal?,
        policies: policies?,
        namespaces: namespaces?,
    })
}

fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether `s` is a valid Azure resource group name.
pub(crate) fn is_resource_group(s: &str) -> bool {
    let chars_ok = s
        .chars()
        .all(|c| c.is_alphanumeric() || "-_.()".contains(c));
    !s.is_empty() && s.chars().count() <= 90 && chars_ok && !s.ends_with('.')
}

fn read_resource_group(cx: &mut Cx<'_>, n: &Node) -> Option<String> {
    let s = read::string(cx.r, n, "`resourceGroup`")?;
    if is_resource_group(&s) {
        return Some(s);
    }
    cx.r.error(
        Code::InvalidValue,
        n,
        format!("`{s}` is not a valid resource group name: use 1 to 90 letters, digits, `-`, `_`, `.`, `(` and `)`, not ending with `.`."),
        None,
    );
    None
}

fn read_azure(cx: &mut Cx<'_>, f: &Fields<'_>) -> Option<AzureSettings> {
    let node = if cx.cloud == Some(Cloud::Azure) {
        cx.need(f, "azure", "An Azure cluster")?
    } else {
        f.get("azure")?
    };
    let af = read::fields(
        cx.r,
        node,
        "`azure`",
        &["subscriptionId", "resourceGroup", "logAnalyticsWorkspaceId"],
        &[],
    )?;
    let workspace = match af.get("logAnalyticsWorkspaceId") {
        Some(n) => Some(read_arm_id(
            cx,
            n,
            "`logAnalyticsWorkspaceId`",
            Some("Microsoft.OperationalInsights/workspaces"),
        )?),
        None => None,
    };
    let subscription = cx.need(&af, "subscriptionId", "`azure`").and_then(|n| {
        let s = read::string(cx.r, n, "`subscriptionId`")?;
        if is_guid(&s) {
            return Some(s);
        }
        cx.r.error(Code::InvalidValue, n, format!("`{s}` is not a subscription id; subscription ids are GUIDs such as `00000000-0000-0000-0000-000000000000`."), None);
        None
    });
    let group = cx
        .need(&af, "resourceGroup", "`azure`")
        .and_then(|n| read_resource_group(cx, n));
    Some(AzureSettings {
        subscription_id: subscription?,
        resource_group: group?,
        log_analytics_workspace_id: workspace,
        private_endpoint_targets: BTreeMap::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_and_id_formats() {
        assert!(is_policy_arn("arn:aws:iam::aws:policy/AmazonSQSFullAccess"));
        assert!(is_policy_arn("arn:aws:iam::123456789012:policy/team/x"));
        assert!(!is_policy_arn("arn:aws:iam::12345:policy/x"));
        assert!(!is_policy_arn("AmazonSQSFullAccess"));
        assert!(is_iam_principal_arn(
            "arn:aws:iam::123456789012:role/admins"
        ));
        assert!(!is_iam_principal_arn("arn:aws:iam::aws:role/admins"));
        assert!(is_kms_key_arn(
            "arn:aws:kms:us-east-1:123456789012:key/abcd"
        ));
        assert!(is_guid("00000000-0000-0000-0000-000000000000"));
        let rg = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg";
        assert_eq!(
            arm_resource_type(&format!("{rg}/providers/Microsoft.KeyVault/vaults/kv")).as_deref(),
            Some("Microsoft.KeyVault/vaults")
        );
        assert_eq!(
            arm_resource_type(&format!(
                "{rg}/providers/Microsoft.Sql/servers/s/databases/d"
            ))
            .as_deref(),
            Some("Microsoft.Sql/servers/databases")
        );
        assert_eq!(
            arm_resource_type(&format!("{rg}/providers/Microsoft.KeyVault/vaults")),
            None
        );
        assert_eq!(
            arm_resource_type("/subscriptions/x/resourceGroups/rg/providers/A/b/c"),
            None
        );
        assert_eq!(
            arm_resource_type(&format!("{rg}/providers/Microsoft.KeyVault/vaults/ kv")),
            None
        );
        assert!(!is_guid("0000-0000"));
        assert!(is_aks_pool_name("system1"));
        assert!(!is_aks_pool_name("general-purpose"));
        assert!(!is_aks_pool_name("1pool"));
    }
}
