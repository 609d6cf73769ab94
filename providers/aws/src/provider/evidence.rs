//! Upgrade evidence for one EKS cluster: the live control plane and managed node groups, the
//! installed and declared add-ons with the versions EKS offers for the target minor, and EKS's
//! upgrade insights for that minor.
//!
//! Read-only: it must never journal an intent or call a mutating API, and it reports what EKS
//! says without judging it (the engine weighs the evidence against the blueprint).

use std::collections::BTreeSet;

use aws_sdk_eks::primitives::DateTimeFormat;
use aws_sdk_eks::types::{
    Addon, AmiTypes, Category, InsightStatusValue, InsightsFilter, Nodegroup,
};
use slipway_blueprints::NodeOs;
use slipway_provider::{
    AddonEvidence, Address, Insight, InsightClient, InsightDeprecation, InsightStatus, LiveCluster,
    LiveNodePool, ProviderError, UpgradeEvidence,
};

use super::eks::cluster;
use super::props::owned_by;
use super::session::{Session, found};
use super::{API_EKS_READ, Clients};
use crate::kinds;

/// What the blueprint and state say about the cluster whose evidence is gathered.
pub(crate) struct Subject<'a> {
    /// The EKS cluster name.
    pub name: &'a str,
    /// The minor the cluster would move to, as EKS spells it (`1.33`).
    pub target: String,
    /// EKS names of the add-ons the blueprint declares.
    pub declared_addons: Vec<String>,
}

/// The blueprint OS family of an EKS AMI type, when it maps to one.
pub(crate) fn node_os(ami_type: &str) -> Option<NodeOs> {
    if ami_type.starts_with("AL2023_") {
        Some(NodeOs::Al2023)
    } else if ami_type.starts_with("AL2_") {
        Some(NodeOs::Al2)
    } else if ami_type.starts_with("BOTTLEROCKET_") {
        Some(NodeOs::Bottlerocket)
    } else {
        None
    }
}

fn status(value: Option<&InsightStatusValue>) -> InsightStatus {
    match value {
        Some(InsightStatusValue::Passing) => InsightStatus::Passing,
        Some(InsightStatusValue::Warning) => InsightStatus::Warning,
        Some(InsightStatusValue::Error) => InsightStatus::Error,
        _ => InsightStatus::Unknown,
    }
}

/// Gathers the evidence; a missing cluster yields `live: None` and a note.
pub(crate) async fn gather(
    c: &Clients,
    s: &Session<'_>,
    subject: &Subject<'_>,
) -> Result<UpgradeEvidence, ProviderError> {
    let mut ev = UpgradeEvidence::default();
    s.read(API_EKS_READ).await;
    let Some(cl) = cluster::describe(c, s, subject.name).await? else {
        ev.notes.push(format!(
            "EKS cluster `{}` does not exist in {}",
            subject.name, c.region
        ));
        ev.addons = addons(c, s, subject, &[]).await?;
        return Ok(ev);
    };
    let pools = node_pools(c, s, subject.name).await?;
    ev.live = Some(LiveCluster {
        name: subject.name.to_owned(),
        version: cl.version().unwrap_or_default().to_owned(),
        status: cl
            .status()
            .map(|st| st.as_str().to_owned())
            .unwrap_or_default(),
        node_pools: pools,
    });
    let installed = installed_addons(c, s, subject.name).await?;
    ev.addons = addons(c, s, subject, &installed).await?;
    ev.insights = insights(c, s, subject).await?;
    if ev.insights.is_empty() {
        ev.notes.push(format!(
            "EKS reported no upgrade insights for Kubernetes {} (it computes them for the next minor only)",
            subject.target
        ));
    }
    Ok(ev)
}

/// Every managed node group of `cluster_name`, described; ones deleted between the list and
/// the describe are left out.
pub(crate) async fn live_nodegroups(
    c: &Clients,
    s: &Session<'_>,
    cluster_name: &str,
) -> Result<Vec<Nodegroup>, ProviderError> {
    s.read(API_EKS_READ).await;
    let names: Vec<String> = c
        .eks
        .list_nodegroups()
        .cluster_name(cluster_name)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| s.fail("ListNodegroups", e))?;
    let mut nodegroups = Vec::new();
    for name in names {
        s.read(API_EKS_READ).await;
        let out = found(
            c.eks
                .describe_nodegroup()
                .cluster_name(cluster_name)
                .nodegroup_name(&name)
                .send()
                .await
                .map_err(|e| s.fail("DescribeNodegroup", e)),
        )?;
        nodegroups.extend(out.and_then(|o| o.nodegroup));
    }
    Ok(nodegroups)
}

/// Every add-on installed on `cluster_name`, described; ones deleted between the list and the
/// describe are left out.
pub(crate) async fn live_addons(
    c: &Clients,
    s: &Session<'_>,
    cluster_name: &str,
) -> Result<Vec<Addon>, ProviderError> {
    s.read(API_EKS_READ).await;
    let names: Vec<String> = c
        .eks
        .list_addons()
        .cluster_name(cluster_name)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| s.fail("ListAddons", e))?;
    let mut addons = Vec::new();
    for name in names {
        s.read(API_EKS_READ).await;
        let out = found(
            c.eks
                .describe_addon()
                .cluster_name(cluster_name)
                .addon_name(&name)
                .send()
                .await
                .map_err(|e| s.fail("DescribeAddon", e)),
        )?;
        addons.extend(out.and_then(|o| o.addon));
    }
    Ok(addons)
}

async fn node_pools(
    c: &Clients,
    s: &Session<'_>,
    cluster_name: &str,
) -> Result<Vec<LiveNodePool>, ProviderError> {
    Ok(live_nodegroups(c, s, cluster_name)
        .await?
        .into_iter()
        .map(|ng| {
            let name = ng.nodegroup_name().unwrap_or_default().to_owned();
            let image = ng.ami_type().map(AmiTypes::as_str);
            let address = Address::new(&s.address.cluster, kinds::EKS_NODEGROUP, &name);
            let owned = owned_by(
                ng.tags()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
                &s.ctx.fleet,
                &address,
            );
            LiveNodePool {
                version: ng.version().unwrap_or_default().to_owned(),
                image: image.map(str::to_owned),
                os: image.and_then(node_os),
                image_version: ng.release_version().map(str::to_owned),
                owned,
                name,
            }
        })
        .collect())
}

/// `(name, version)` of every installed add-on.
async fn installed_addons(
    c: &Clients,
    s: &Session<'_>,
    cluster_name: &str,
) -> Result<Vec<(String, Option<String>)>, ProviderError> {
    Ok(live_addons(c, s, cluster_name)
        .await?
        .into_iter()
        .map(|a| {
            (
                a.addon_name().unwrap_or_default().to_owned(),
                a.addon_version().map(str::to_owned),
            )
        })
        .collect())
}

/// Every installed or declared add-on with the versions EKS offers for the target.
async fn addons(
    c: &Clients,
    s: &Session<'_>,
    subject: &Subject<'_>,
    installed: &[(String, Option<String>)],
) -> Result<Vec<AddonEvidence>, ProviderError> {
    let names: BTreeSet<&str> = installed
        .iter()
        .map(|(n, _)| n.as_str())
        .chain(subject.declared_addons.iter().map(String::as_str))
        .collect();
    let mut out = Vec::new();
    for name in names {
        let (compatible, default_for_target) = offered(c, s, name, &subject.target).await?;
        out.push(AddonEvidence {
            name: name.to_owned(),
            installed: installed
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, v)| v.clone()),
            compatible,
            default_for_target,
            moved_by_upgrade: true,
        });
    }
    Ok(out)
}

/// DescribeAddonVersions for one add-on and the target minor: the versions offered (newest
/// first, as EKS lists them) and the default.
pub(crate) async fn offered(
    c: &Clients,
    s: &Session<'_>,
    name: &str,
    target: &str,
) -> Result<(Vec<String>, Option<String>), ProviderError> {
    let mut versions = Vec::new();
    let mut default = None;
    let mut token: Option<String> = None;
    loop {
        s.read(API_EKS_READ).await;
        let out = c
            .eks
            .describe_addon_versions()
            .addon_name(name)
            .kubernetes_version(target)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| s.fail("DescribeAddonVersions", e))?;
        for info in out.addons().iter().filter(|a| a.addon_name() == Some(name)) {
            for v in info.addon_versions() {
                let Some(version) = v.addon_version() else {
                    continue;
                };
                let compat: Vec<_> = v
                    .compatibilities()
                    .iter()
                    .filter(|cmp| cmp.cluster_version() == Some(target))
                    .collect();
                if compat.is_empty() {
                    continue;
                }
                if compat.iter().any(|cmp| cmp.default_version()) {
                    default = Some(version.to_owned());
                }
                if !versions.iter().any(|x| x == version) {
                    versions.push(version.to_owned());
                }
            }
        }
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    Ok((versions, default))
}

/// ListInsights for the target minor's upgrade readiness, then DescribeInsight for each.
async fn insights(
    c: &Clients,
    s: &Session<'_>,
    subject: &Subject<'_>,
) -> Result<Vec<Insight>, ProviderError> {
    let filter = InsightsFilter::builder()
        .categories(Category::UpgradeReadiness)
        .kubernetes_versions(&subject.target)
        .build();
    let mut ids = Vec::new();
    let mut token: Option<String> = None;
    loop {
        s.read(API_EKS_READ).await;
        let out = c
            .eks
            .list_insights()
            .cluster_name(subject.name)
            .filter(filter.clone())
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| s.fail("ListInsights", e))?;
        ids.extend(
            out.insights()
                .iter()
                .filter_map(|i| i.id())
                .map(str::to_owned),
        );
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    let mut insights = Vec::new();
    for id in ids {
        s.read(API_EKS_READ).await;
        let out = found(
            c.eks
                .describe_insight()
                .cluster_name(subject.name)
                .id(&id)
                .send()
                .await
                .map_err(|e| s.fail("DescribeInsight", e)),
        )?;
        let Some(i) = out.as_ref().and_then(|o| o.insight()) else {
            continue;
        };
        let deprecations = i
            .category_specific_summary()
            .map(|sum| sum.deprecation_details())
            .unwrap_or_default()
            .iter()
            .map(|d| InsightDeprecation {
                usage: d.usage().unwrap_or_default().to_owned(),
                replaced_with: d
                    .replaced_with()
                    .filter(|r| !r.is_empty())
                    .map(str::to_owned),
                stop_serving_version: d.stop_serving_version().map(str::to_owned),
                clients: d
                    .client_stats()
                    .iter()
                    .map(|cs| InsightClient {
                        user_agent: cs.user_agent().unwrap_or_default().to_owned(),
                        requests: u64::try_from(cs.number_of_requests_last30_days()).unwrap_or(0),
                        last_request: cs
                            .last_request_time()
                            .and_then(|t| t.fmt(DateTimeFormat::DateTime).ok()),
                    })
                    .collect(),
            })
            .collect();
        insights.push(Insight {
            id: i.id().unwrap_or(&id).to_owned(),
            name: i.name().unwrap_or_default().to_owned(),
            category: i
                .category()
                .map(|cat| cat.as_str().to_owned())
                .unwrap_or_default(),
            status: status(i.insight_status().and_then(|st| st.status())),
            reason: i
                .insight_status()
                .and_then(|st| st.reason())
                .unwrap_or_default()
                .to_owned(),
            kubernetes_version: i.kubernetes_version().map(str::to_owned),
            recommendation: i.recommendation().map(str::to_owned),
            deprecations,
        });
    }
    Ok(insights)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ami_types_map_to_blueprint_os_families() {
        assert_eq!(node_os("AL2_x86_64"), Some(NodeOs::Al2));
        assert_eq!(node_os("AL2_x86_64_GPU"), Some(NodeOs::Al2));
        assert_eq!(node_os("AL2023_ARM_64_STANDARD"), Some(NodeOs::Al2023));
        assert_eq!(
            node_os("BOTTLEROCKET_x86_64_NVIDIA"),
            Some(NodeOs::Bottlerocket)
        );
        assert_eq!(node_os("WINDOWS_CORE_2022_x86_64"), None);
        assert_eq!(node_os("CUSTOM"), None);
    }

    #[test]
    fn insight_statuses_keep_unknown_for_values_slipway_does_not_know() {
        assert_eq!(
            status(Some(&InsightStatusValue::Error)),
            InsightStatus::Error
        );
        assert_eq!(
            status(Some(&InsightStatusValue::from("LATER"))),
            InsightStatus::Unknown
        );
        assert_eq!(status(None), InsightStatus::Unknown);
    }
}
