//! DR standbys: derive a primary cluster's standby cluster from its `dr.standby`.
//!
//! A standby is the primary rebuilt in another region: same Kubernetes version, add-ons, node
//! pool shapes, endpoints and identities; its own name, region, zones, network, resource group
//! and KMS key; capacity cut down by the standby mode; instance types swapped where the standby
//! region does not offer them. Every difference is recorded as a [`Derivation`] with its reason,
//! so a standby plan explains itself. The derivation is pure: it must never change the primary,
//! never reuse the primary's region, network or OIDC trust, and never report a problem that the
//! blueprint's own checks already report.

use crate::catalog::{self, Region};
use crate::cluster::{self, ClusterRead, StandbyNodes};
use crate::model::*;
use crate::report::{Code, Report};
use crate::subnets::{self, SubnetError};

/// Tag on every standby naming its primary. The `slipway:` prefix is reserved (blueprint tags
/// may not use it), so the tag can never clash with a user's tag.
pub const STANDBY_OF_TAG: &str = "slipway:standby-of";

/// Why a standby cannot be derived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DrError {
    /// The cluster has no `dr` section.
    #[error("cluster `{0}` has no `dr` standby")]
    NoStandby(String),
    /// The standby region is not in the region catalogue.
    #[error("`{region}` is not a known {cloud} region")]
    UnknownRegion {
        /// The cloud.
        cloud: Cloud,
        /// The standby region.
        region: String,
    },
    /// The standby region has fewer availability zones than the primary spans.
    #[error("region `{region}` has {available} availability zone(s); the primary spans {needed}")]
    Zones {
        /// The standby region.
        region: String,
        /// Zones the region has.
        available: usize,
        /// Zones the primary spans.
        needed: usize,
        /// Regions of the cloud with enough zones, closest names first.
        alternatives: Vec<String>,
    },
    /// The standby network cannot hold the standby's subnets.
    #[error("the standby network cannot hold its subnets: {0}")]
    Subnets(#[from] SubnetError),
    /// The primary's secrets key is a single-region key and the standby names none.
    #[error(
        "the primary's secrets key `{arn}` is a single-region key; it cannot encrypt secrets in `{region}`"
    )]
    SingleRegionKey {
        /// The primary's key ARN.
        arn: String,
        /// The standby region.
        region: String,
    },
    /// A pool's instance type is not offered in the standby region and has no substitute.
    #[error(
        "node pool `{pool}` runs `{instance_type}`, which `{region}` does not offer, and no {arch} type of the same size and memory is offered there"
    )]
    NoInstance {
        /// The pool.
        pool: String,
        /// The primary's instance type.
        instance_type: String,
        /// Its CPU architecture.
        arch: String,
        /// The standby region.
        region: String,
    },
    /// The derived Azure resource group name is not valid.
    #[error("the derived resource group `{0}` is not a valid resource group name")]
    ResourceGroup(String),
}

/// The first `count` zones of `region`, as the standby of a primary spanning `count` zones gets
/// them; `None` when the region has fewer.
pub fn standby_zones(region: &Region, count: usize) -> Option<Vec<String>> {
    (region.zones.len() >= count).then(|| {
        region.zones[..count]
            .iter()
            .map(|z| (*z).to_owned())
            .collect()
    })
}

/// Derives the standby of `primary` from its `dr.standby`; every problem at once.
pub fn derive(primary: &Cluster) -> Result<DerivedStandby, Vec<DrError>> {
    let dr = primary
        .dr
        .as_ref()
        .ok_or_else(|| vec![DrError::NoStandby(primary.name.clone())])?;
    let mut d = Deriver {
        primary,
        spec: &dr.standby,
        standby: primary.clone(),
        changes: Vec::new(),
        errors: Vec::new(),
    };
    d.identity();
    d.placement();
    d.capacity();
    d.instance_types();
    d.cloud_settings();
    d.tags_and_identities();
    if !d.errors.is_empty() {
        return Err(d.errors);
    }
    Ok(DerivedStandby {
        primary: primary.name.clone(),
        rto: dr.rto,
        mode: dr.standby.mode,
        cluster: d.standby,
        changes: d.changes,
    })
}

/// The derivation in progress: the standby starts as a copy of the primary and each step
/// changes one concern, recording why.
struct Deriver<'a> {
    primary: &'a Cluster,
    spec: &'a Standby,
    standby: Cluster,
    changes: Vec<Derivation>,
    errors: Vec<DrError>,
}

impl Deriver<'_> {
    fn change(&mut self, field: &str, primary: String, standby: String, reason: &str) {
        self.changes.push(Derivation {
            field: field.to_owned(),
            primary,
            standby,
            reason: reason.to_owned(),
        });
    }

    /// Name, tier, ring and `dr`: what makes the standby a cluster of its own.
    fn identity(&mut self) {
        let p = self.primary;
        let name = self.spec.name.clone();
        let reason = if name == format!("{}-dr", p.name) {
            "A standby is a cluster of its own, named after its primary with `-dr` unless `dr.standby.name` says otherwise."
        } else {
            "A standby is a cluster of its own, named by `dr.standby.name`."
        };
        self.change("name", p.name.clone(), name.clone(), reason);
        self.standby.name = name;
        if p.tier != Tier::Dr {
            self.change(
                "tier",
                tier_name(p.tier),
                tier_name(Tier::Dr),
                "Standbys are tier `dr`: they serve only when their primary's region fails.",
            );
        }
        self.standby.tier = Tier::Dr;
        if let Some(ring) = self.standby.ring.take() {
            self.change(
                "ring",
                ring,
                "none".into(),
                "Standbys are in no upgrade ring: they follow their primary's Kubernetes version.",
            );
        }
        self.standby.dr = None;
        self.change(
            "dr",
            format!(
                "{} standby in {}",
                mode_name(self.spec.mode),
                self.spec.region
            ),
            "none".into(),
            "A standby has no standby of its own.",
        );
    }

    /// Region, zones and network: never the primary's.
    fn placement(&mut self) {
        let p = self.primary;
        let spec = self.spec;
        self.change(
            "region",
            p.region.clone(),
            spec.region.clone(),
            "A standby runs in another region so that a regional outage cannot take both down.",
        );
        self.standby.region = spec.region.clone();
        let Some(region) = catalog::region(p.provider, &spec.region) else {
            self.errors.push(DrError::UnknownRegion {
                cloud: p.provider,
                region: spec.region.clone(),
            });
            return;
        };
        let Some(zones) = standby_zones(region, p.zones.len()) else {
            self.errors.push(DrError::Zones {
                region: spec.region.clone(),
                available: region.zones.len(),
                needed: p.zones.len(),
                alternatives: alternatives(p, p.zones.len()),
            });
            return;
        };
        if zones != p.zones {
            self.change(
                "zones",
                list(&p.zones),
                list(&zones),
                "The standby spans as many zones as its primary: the first ones of its region.",
            );
        }
        self.change(
            "network.cidr",
            p.network.cidr.to_string(),
            spec.cidr.to_string(),
            "The standby has its own network, disjoint from every other; its subnets are derived from it like any cluster's.",
        );
        match subnets::derive(p.provider, spec.cidr, &zones) {
            Ok(subnets) => {
                self.standby.network = Network {
                    cidr: spec.cidr,
                    subnets,
                };
            }
            Err(e) => self.errors.push(e.into()),
        }
        self.standby.zones = zones;
    }

    /// Node pools cut down by the standby mode.
    fn capacity(&mut self) {
        let mode = self.spec.mode;
        let pools = standby_pools(&self.primary.node_pools, mode);
        let reason = match mode {
            StandbyMode::Hot => "",
            StandbyMode::Warm => {
                "A warm standby keeps every pool at a quarter of the primary's desired nodes (at least 1) and may scale to the primary's maximum."
            }
            StandbyMode::PilotLight => {
                "A pilot-light standby keeps only its first system pool, at 1 node, and may scale to the primary's maximum."
            }
        };
        for p in &self.primary.node_pools {
            let Some(s) = pools.iter().find(|s| s.name == p.name) else {
                self.change(
                    &format!("nodePools[{}]", p.name),
                    pool_size(p),
                    "dropped".into(),
                    reason,
                );
                continue;
            };
            for (field, a, b) in [
                ("min", p.min, s.min),
                ("desired", p.desired, s.desired),
                ("max", p.max, s.max),
            ] {
                if a != b {
                    let field = format!("nodePools[{}].{field}", p.name);
                    self.change(&field, a.to_string(), b.to_string(), reason);
                }
            }
        }
        self.standby.node_pools = pools;
    }

    /// Instance types the standby region does not offer, swapped for the newest same-size type
    /// with the same architecture and memory that it does.
    fn instance_types(&mut self) {
        let cloud = self.primary.provider;
        let region = self.spec.region.clone();
        let mut pools = std::mem::take(&mut self.standby.node_pools);
        for pool in &mut pools {
            if catalog::instance_offered(cloud, &pool.instance_type, &region) != Some(false) {
                continue;
            }
            match catalog::instance_substitute(cloud, &pool.instance_type, &region) {
                Some(sub) => {
                    self.change(
                        &format!("nodePools[{}].instanceType", pool.name),
                        pool.instance_type.clone(),
                        sub.clone(),
                        &format!("`{region}` does not offer `{}`; `{sub}` is the newest type of the same size, architecture and memory offered there.", pool.instance_type),
                    );
                    pool.instance_type = sub;
                }
                None => self.errors.push(DrError::NoInstance {
                    pool: pool.name.clone(),
                    instance_type: pool.instance_type.clone(),
                    arch: catalog::instance_arch(cloud, &pool.instance_type)
                        .unwrap_or("matching")
                        .to_owned(),
                    region: region.clone(),
                }),
            }
        }
        self.standby.node_pools = pools;
    }

    /// The AWS secrets key and the Azure resource group, which live in one region.
    fn cloud_settings(&mut self) {
        if let Some(aws) = &mut self.standby.aws {
            let primary_key = aws.secrets_kms_key_arn.clone();
            match standby_key(
                primary_key.as_deref(),
                self.spec.secrets_kms_key_arn.as_deref(),
                &self.spec.region,
            ) {
                Ok(key) if key == primary_key => {}
                Ok(key) => {
                    let reason = if self.spec.secrets_kms_key_arn.is_some() {
                        "KMS keys encrypt only in their own region; the standby uses `dr.standby.secretsKmsKeyArn`."
                    } else {
                        "KMS keys encrypt only in their own region; the standby uses the replica of the primary's multi-region key in its region."
                    };
                    aws.secrets_kms_key_arn.clone_from(&key);
                    self.change(
                        "aws.secretsKmsKeyArn",
                        or_none(primary_key),
                        or_none(key),
                        reason,
                    );
                }
                Err(e) => self.errors.push(e),
            }
        }
        if let Some(azure) = &mut self.standby.azure {
            let group = match &self.spec.resource_group {
                Some(g) => g.clone(),
                None => format!("{}-dr", azure.resource_group),
            };
            if !cluster::is_resource_group(&group) {
                self.errors.push(DrError::ResourceGroup(group));
                return;
            }
            let primary = std::mem::replace(&mut azure.resource_group, group.clone());
            self.change(
                "azure.resourceGroup",
                primary,
                group,
                "The standby's resources live in their own resource group, so that building or tearing down the standby never touches the primary's.",
            );
        }
    }

    /// The ownership tag naming the primary, and identities re-bound to the standby's issuer.
    fn tags_and_identities(&mut self) {
        let primary = self.primary.name.clone();
        self.standby
            .tags
            .insert(STANDBY_OF_TAG.to_owned(), primary.clone());
        self.change(
            &format!("tags[{STANDBY_OF_TAG}]"),
            "none".into(),
            primary,
            "Every standby resource names its primary, so drills and orphan checks can find it.",
        );
        let identities = &self.primary.workload_identities;
        if !identities.is_empty() {
            let names = identities
                .iter()
                .map(|w| w.name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            self.change(
                "workloadIdentities",
                format!("{names} (trusting {}'s OIDC issuer)", self.primary.name),
                format!("{names} (trusting {}'s OIDC issuer)", self.standby.name),
                "Identities are re-bound to the standby's own OIDC issuer; nothing of the standby trusts the primary's.",
            );
        }
    }
}

/// The standby's node pools for `mode`; every pool keeps `min ≤ desired ≤ max`.
pub fn standby_pools(pools: &[NodePool], mode: StandbyMode) -> Vec<NodePool> {
    match mode {
        StandbyMode::Hot => pools.to_vec(),
        StandbyMode::Warm => pools.iter().map(warm_pool).collect(),
        StandbyMode::PilotLight => pools
            .iter()
            .find(|p| p.role == PoolRole::System)
            .map(|p| NodePool {
                min: 1,
                desired: 1,
                max: p.max,
                ..p.clone()
            })
            .into_iter()
            .collect(),
    }
}

/// A quarter of the desired nodes, rounded up, at least 1; system pools keep at least 1 node.
fn warm_pool(p: &NodePool) -> NodePool {
    let desired = p.desired.div_ceil(4).max(1);
    let min = p.min.min(desired);
    let min = if p.role == PoolRole::System {
        min.max(1)
    } else {
        min
    };
    NodePool {
        min,
        desired,
        max: p.max,
        ..p.clone()
    }
}

/// The standby's secrets key: the one written for it, else the primary's multi-region key
/// (`mrk-…`) re-addressed to the standby region; a single-region key cannot follow.
fn standby_key(
    primary: Option<&str>,
    written: Option<&str>,
    region: &str,
) -> Result<Option<String>, DrError> {
    if let Some(key) = written {
        return Ok(Some(key.to_owned()));
    }
    let Some(arn) = primary else {
        return Ok(None);
    };
    let mut parts: Vec<&str> = arn.splitn(6, ':').collect();
    let multi_region = parts
        .get(5)
        .and_then(|r| r.strip_prefix("key/"))
        .is_some_and(|id| id.starts_with("mrk-"));
    if !multi_region || parts.len() != 6 {
        return Err(DrError::SingleRegionKey {
            arn: arn.to_owned(),
            region: region.to_owned(),
        });
    }
    parts[3] = region;
    Ok(Some(parts.join(":")))
}

/// Regions of the primary's cloud (not its own) with at least `zones` zones, the names closest
/// to the chosen standby region first (neighbours such as `westus2` for `westus`).
fn alternatives(primary: &Cluster, zones: usize) -> Vec<String> {
    let wanted = primary
        .dr
        .as_ref()
        .map_or("", |d| d.standby.region.as_str());
    let mut regions: Vec<&Region> = catalog::regions(primary.provider)
        .iter()
        .filter(|r| r.zones.len() >= zones && r.name != primary.region)
        .collect();
    regions.sort_by(|a, b| {
        let score = |r: &Region| strsim::normalized_damerau_levenshtein(wanted, r.name);
        score(b).total_cmp(&score(a))
    });
    regions.iter().take(4).map(|r| r.name.to_owned()).collect()
}

fn mode_name(mode: StandbyMode) -> &'static str {
    match mode {
        StandbyMode::PilotLight => "pilot-light",
        StandbyMode::Warm => "warm",
        StandbyMode::Hot => "hot",
    }
}

fn tier_name(tier: Tier) -> String {
    format!("{tier:?}").to_lowercase()
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

fn or_none(value: Option<String>) -> String {
    value.unwrap_or_else(|| "none".into())
}

fn pool_size(p: &NodePool) -> String {
    format!(
        "{}, {}..{} nodes, {} desired",
        p.instance_type, p.min, p.max, p.desired
    )
}

/// Derives every standby of the fleet, in cluster order, reporting problems at the blueprint
/// nodes they come from. Clusters with errors of their own are skipped (no cascades).
pub(crate) fn derive_fleet(r: &mut Report, reads: &[ClusterRead]) -> Vec<DerivedStandby> {
    check_names(r, reads);
    let mut standbys = Vec::new();
    for read in reads {
        let (Some(primary), Some(nodes)) = (&read.cluster, &read.standby) else {
            continue;
        };
        if primary.dr.is_none() {
            continue;
        }
        match derive(primary) {
            Ok(s) => standbys.push(s),
            Err(errors) => {
                for e in &errors {
                    report(r, e, primary, nodes);
                }
            }
        }
    }
    standbys
}

/// Standby names are unique among cluster and standby names.
fn check_names(r: &mut Report, reads: &[ClusterRead]) {
    let clusters: Vec<&str> = reads
        .iter()
        .filter_map(|c| c.name.as_ref().map(|(n, _)| n.as_str()))
        .collect();
    let mut standbys: Vec<(&str, &str)> = Vec::new();
    for read in reads {
        let Some((name, at)) = read.standby.as_ref().and_then(|s| s.name.as_ref()) else {
            continue;
        };
        let primary = read.name.as_ref().map_or("?", |(n, _)| n.as_str());
        // A defaulted name is reported at the `dr.standby` mapping, a written one at its scalar.
        let written = at.text().is_some();
        let help = Some(if written {
            "give the standby a name no cluster or other standby uses".to_owned()
        } else {
            format!(
                "the standby is named `{name}` by default; set `dr.standby.name` to another name"
            )
        });
        if clusters.contains(&name.as_str()) {
            r.error(
                Code::DuplicateName,
                at,
                format!("The standby of cluster `{primary}` is named `{name}`, the name of a cluster of the fleet; a standby is a cluster of its own and needs a name of its own."),
                help,
            );
        } else if let Some((_, other)) = standbys.iter().find(|(n, _)| *n == name) {
            r.error(
                Code::DuplicateName,
                at,
                format!("The standby of cluster `{primary}` is named `{name}`, like the standby of cluster `{other}`."),
                help,
            );
        } else {
            standbys.push((name, primary));
        }
    }
}

fn report(r: &mut Report, e: &DrError, primary: &Cluster, nodes: &StandbyNodes) {
    let whose = format!("The standby of cluster `{}`", primary.name);
    match e {
        DrError::Zones {
            region,
            available,
            needed,
            alternatives,
        } => {
            let has = if *available == 0 {
                "has no availability zones".to_owned()
            } else {
                format!("has only {available} availability zone(s)")
            };
            let at = nodes.region.as_ref().unwrap_or(&nodes.standby);
            let some = alternatives
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ");
            r.error(
                Code::DrStandbyZones,
                at,
                format!("{whose} is in `{region}`, which {has}; the primary spans {needed} zones and its standby keeps that redundancy."),
                (!some.is_empty()).then(|| format!("use a region with at least {needed} zones, such as {some}")),
            );
        }
        DrError::Subnets(err) => {
            let at = nodes.cidr.as_ref().unwrap_or(&nodes.standby);
            r.error(
                Code::CidrTooSmall,
                at,
                format!("The network of the standby of cluster `{}` is too small: {err}.", primary.name),
                None,
            );
        }
        DrError::SingleRegionKey { arn, region } => r.error(
            Code::DrKmsKey,
            &nodes.standby,
            format!("{whose} cannot use the primary's secrets key `{arn}`: it is a single-region key, and a KMS key encrypts only in its own region."),
            Some(format!("set dr.standby.secretsKmsKeyArn to a key in {region} or use a multi-region key")),
        ),
        DrError::NoInstance { pool, .. } => {
            let at = nodes
                .instance_types
                .iter()
                .find(|(p, _)| p == pool)
                .map_or(&nodes.standby, |(_, n)| n);
            r.error(
                Code::DrInstanceUnavailable,
                at,
                format!("{whose}: {e}."),
                Some("choose an instance type offered in both regions for this pool, or a standby region that offers it".into()),
            );
        }
        DrError::ResourceGroup(_) => r.error(
            Code::InvalidValue,
            &nodes.standby,
            format!("{whose}: {e}."),
            Some("set `dr.standby.resourceGroup`".into()),
        ),
        DrError::NoStandby(_) | DrError::UnknownRegion { .. } => {
            r.push_global(Code::InvalidValue, format!("{whose}: {e}."), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn pool(name: &str, role: PoolRole, min: u32, desired: u32, max: u32) -> NodePool {
        NodePool {
            name: name.into(),
            role,
            instance_type: "m6i.large".into(),
            min,
            max,
            desired,
            disk_size_gb: 100,
            labels: BTreeMap::new(),
            taints: Vec::new(),
            upgrade: PoolUpgrade {
                max_surge: "1".into(),
                max_unavailable: 1,
            },
            os: None,
        }
    }

    fn sizes(pools: &[NodePool]) -> Vec<(&str, u32, u32, u32)> {
        pools
            .iter()
            .map(|p| (p.name.as_str(), p.min, p.desired, p.max))
            .collect()
    }

    fn primary_pools() -> Vec<NodePool> {
        vec![
            pool("workers", PoolRole::User, 0, 0, 5),
            pool("system", PoolRole::System, 0, 3, 6),
            pool("batch", PoolRole::User, 2, 10, 40),
            pool("system2", PoolRole::System, 2, 2, 4),
        ]
    }

    #[test]
    fn hot_standbys_keep_every_pool() {
        assert_eq!(
            standby_pools(&primary_pools(), StandbyMode::Hot),
            primary_pools()
        );
    }

    #[test]
    fn warm_standbys_keep_a_quarter_of_each_pool() {
        assert_eq!(
            sizes(&standby_pools(&primary_pools(), StandbyMode::Warm)),
            [
                ("workers", 0, 1, 5),
                ("system", 1, 1, 6),
                ("batch", 2, 3, 40),
                ("system2", 1, 1, 4),
            ]
        );
    }

    #[test]
    fn pilot_light_standbys_keep_the_first_system_pool_at_one_node() {
        assert_eq!(
            sizes(&standby_pools(&primary_pools(), StandbyMode::PilotLight)),
            [("system", 1, 1, 6)]
        );
    }

    #[test]
    fn secrets_keys_follow_only_when_multi_region() {
        let mrk = "arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd";
        assert_eq!(
            standby_key(Some(mrk), None, "us-west-2"),
            Ok(Some(
                "arn:aws:kms:us-west-2:123456789012:key/mrk-1234abcd".into()
            ))
        );
        let single = "arn:aws:kms:us-east-1:123456789012:key/1234abcd";
        assert_eq!(
            standby_key(Some(single), None, "us-west-2"),
            Err(DrError::SingleRegionKey {
                arn: single.into(),
                region: "us-west-2".into()
            })
        );
        let alias = "arn:aws:kms:us-east-1:123456789012:alias/mrk-x";
        assert!(standby_key(Some(alias), None, "us-west-2").is_err());
        let own = "arn:aws:kms:us-west-2:123456789012:key/5678";
        assert_eq!(
            standby_key(Some(single), Some(own), "us-west-2"),
            Ok(Some(own.into()))
        );
        assert_eq!(standby_key(None, None, "us-west-2"), Ok(None));
    }

    #[test]
    fn standby_zones_are_the_first_of_the_region() {
        let west2 = catalog::region(Cloud::Aws, "us-west-2").unwrap();
        assert_eq!(
            standby_zones(west2, 3).unwrap(),
            ["us-west-2a", "us-west-2b", "us-west-2c"]
        );
        let west1 = catalog::region(Cloud::Aws, "us-west-1").unwrap();
        assert_eq!(standby_zones(west1, 3), None);
        let westus = catalog::region(Cloud::Azure, "westus").unwrap();
        assert_eq!(standby_zones(westus, 0), Some(Vec::new()));
        assert_eq!(standby_zones(westus, 2), None);
    }
}
