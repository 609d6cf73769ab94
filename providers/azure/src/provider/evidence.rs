//! Upgrade evidence from ARM: the live managed cluster, its agent pools, the upgrades its
//! upgrade profile offers and what the location offers for the target minor.
//!
//! Read-only: every call is a paced GET in the [`API_ARM_READ`](crate::API_ARM_READ) class, and
//! nothing here journals intents or writes. It reports what ARM says and never judges it (that
//! is the engine's job), and never invents versions ARM does not give: AKS versions its add-ons
//! with the cluster, and the 2026-08-01 API reports no per-add-on versions, except the Istio
//! service mesh, whose revisions the location's `meshRevisionProfiles/istio` lists with the
//! Kubernetes minors each runs on.

use serde_json::Value as Json;
use slipway_blueprints::KubeVersion;
use slipway_provider::{
    AddonEvidence, Address, ErrorClass, EvidenceRequest, LiveCluster, LiveNodePool, OpContext,
    ProviderError, TAG_CLUSTER, TAG_FLEET, UpgradeEvidence, Value,
};

use super::{AzureProvider, Session, last_segment, path, text_at};
use crate::aks::node_os;
use crate::kinds::{API_CONTAINER_SERVICE, MANAGED_CLUSTER};

impl AzureProvider {
    /// Gathers the evidence for [`Provider::upgrade_evidence`](slipway_provider::Provider).
    pub(super) async fn evidence(
        &self,
        ctx: &OpContext,
        req: EvidenceRequest<'_>,
    ) -> Result<UpgradeEvidence, ProviderError> {
        let address = Address::new(&req.cluster.name, MANAGED_CLUSTER, "main");
        let id = self.cluster_id(&req, &address)?;
        self.check_credentials(&address).await?;
        let s = Session::new(self, ctx, &address, false);
        let mut evidence = UpgradeEvidence::default();

        let Some(cluster) = s
            .get(&path(&id, API_CONTAINER_SERVICE), "GET managedClusters")
            .await?
        else {
            evidence.notes.push(format!(
                "managed cluster `{id}` does not exist in Azure, so there is no live version, \
                 node pool or upgrade profile to read"
            ));
            return Ok(evidence);
        };
        let version = text_at(&cluster, "/properties/currentKubernetesVersion")
            .or_else(|| text_at(&cluster, "/properties/kubernetesVersion"))
            .unwrap_or_default()
            .to_owned();
        let pools = s
            .get(
                &format!("{id}/agentPools?api-version={API_CONTAINER_SERVICE}"),
                "GET agentPools",
            )
            .await?
            .unwrap_or_default();
        evidence.live = Some(LiveCluster {
            name: text_at(&cluster, "/name")
                .unwrap_or_else(|| last_segment(&id))
                .to_owned(),
            version: version.clone(),
            status: text_at(&cluster, "/properties/provisioningState")
                .unwrap_or_default()
                .to_owned(),
            node_pools: pools
                .get("value")
                .and_then(Json::as_array)
                .map(|pools| {
                    pools
                        .iter()
                        .map(|p| live_pool(p, &req.fleet.name, &req.cluster.name))
                        .collect()
                })
                .unwrap_or_default(),
        });

        match s
            .get(
                &path(&format!("{id}/upgradeProfiles/default"), API_CONTAINER_SERVICE),
                "GET upgradeProfiles",
            )
            .await?
        {
            Some(profile) => evidence.upgrades_offered = Some(offered_minors(&profile, &version)),
            None => evidence.notes.push(format!(
                "the upgrade profile of `{id}` could not be read, so the upgrades AKS offers are unknown"
            )),
        }

        let location = text_at(&cluster, "/location").unwrap_or(&req.cluster.region);
        if let Some(note) = self
            .target_availability(&s, &id, location, req.target)
            .await?
        {
            evidence.notes.push(note);
        }
        if let Some(mesh) = cluster.pointer("/properties/serviceMeshProfile")
            && text_at(mesh, "/mode").is_some_and(|m| m.eq_ignore_ascii_case("Istio"))
        {
            match self
                .mesh_revisions(&s, &id, location)
                .await?
            {
                Some(profile) => evidence
                    .addons
                    .push(istio_evidence(mesh, &profile, req.target)),
                None => evidence.notes.push(format!(
                    "the service mesh revisions of {location} could not be read, so the compatibility of `istio` with {} is unknown",
                    req.target
                )),
            }
        }
        let versioned_with_cluster: Vec<&str> = req
            .cluster
            .addons
            .iter()
            .map(|a| a.name.as_str())
            .filter(|n| *n != ISTIO)
            .collect();
        if !versioned_with_cluster.is_empty() {
            let names = versioned_with_cluster;
            evidence.notes.push(format!(
                "AKS versions the add-ons `{}` with the cluster and the {API_CONTAINER_SERVICE} API \
                 reports no add-on versions, so they move with the control plane to {}",
                names.join("`, `"),
                req.target
            ));
        }
        Ok(evidence)
    }

    /// The managed cluster's ARM id: as recorded, else as the expansion names it.
    fn cluster_id(
        &self,
        req: &EvidenceRequest<'_>,
        address: &Address,
    ) -> Result<String, ProviderError> {
        let recorded = req
            .recorded
            .iter()
            .filter(|s| s.address.kind.as_str() == MANAGED_CLUSTER && s.deposed.is_none())
            .find_map(|s| s.cloud_id.clone());
        if let Some(id) = recorded {
            return Ok(id);
        }
        self.expander
            .expand_cluster(req.fleet, req.cluster)
            .map_err(|e| ProviderError::from(e).at(address))?
            .into_iter()
            .find(|r| r.address.kind.as_str() == MANAGED_CLUSTER)
            .and_then(|r| {
                r.properties
                    .get("id")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .ok_or_else(|| {
                ProviderError::new(
                    ErrorClass::Fatal,
                    "expand",
                    "NoManagedCluster",
                    "the expansion has no managed cluster",
                )
                .at(address)
            })
    }

    /// The location's `meshRevisionProfiles/istio`; `None` when it cannot be read.
    async fn mesh_revisions(
        &self,
        s: &Session<'_>,
        id: &str,
        location: &str,
    ) -> Result<Option<Json>, ProviderError> {
        let subscription = id
            .trim_start_matches('/')
            .split('/')
            .nth(1)
            .unwrap_or_default();
        let location_key = location.to_ascii_lowercase().replace(' ', "");
        s.get(
            &format!(
                "/subscriptions/{subscription}/providers/Microsoft.ContainerService/locations/{location_key}/meshRevisionProfiles/istio?api-version={API_CONTAINER_SERVICE}"
            ),
            "GET meshRevisionProfiles",
        )
        .await
    }

    /// A note when the location does not offer `target`, or offers it only under long-term
    /// support; `None` when it is offered normally or the list cannot be read.
    async fn target_availability(
        &self,
        s: &Session<'_>,
        id: &str,
        location: &str,
        target: KubeVersion,
    ) -> Result<Option<String>, ProviderError> {
        let subscription = id
            .trim_start_matches('/')
            .split('/')
            .nth(1)
            .unwrap_or_default();
        let location_key = location.to_ascii_lowercase().replace(' ', "");
        let list = s
            .get(
                &format!(
                    "/subscriptions/{subscription}/providers/Microsoft.ContainerService/locations/{location_key}/kubernetesVersions?api-version={API_CONTAINER_SERVICE}"
                ),
                "GET kubernetesVersions",
            )
            .await?;
        let Some(list) = list else {
            return Ok(None);
        };
        let target = target.to_string();
        let values = list
            .get("values")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        let Some(entry) = values
            .iter()
            .find(|v| v.get("version").and_then(Json::as_str) == Some(target.as_str()))
        else {
            let offered: Vec<&str> = values
                .iter()
                .filter_map(|v| v.get("version").and_then(Json::as_str))
                .collect();
            return Ok(Some(format!(
                "AKS in {location} does not offer Kubernetes {target} (it offers {})",
                offered.join(", ")
            )));
        };
        let plans: Vec<&str> = entry
            .pointer("/capabilities/supportPlan")
            .and_then(Json::as_array)
            .map(|p| p.iter().filter_map(Json::as_str).collect())
            .unwrap_or_default();
        Ok(
            (!plans.is_empty() && !plans.contains(&"KubernetesOfficial")).then(|| {
                format!(
                    "AKS in {location} offers Kubernetes {target} only with long-term support \
                 (Premium tier, AKSLongTermSupport plan)"
                )
            }),
        )
    }
}

/// The catalogue name of the AKS service mesh add-on.
const ISTIO: &str = "istio";

/// `istio` as the cluster runs it: the installed revision (the oldest during a canary
/// upgrade, which bounds the minors the cluster can move to) and the location's revisions whose
/// `kubernetes` compatibility includes `target`, newest first.
fn istio_evidence(mesh: &Json, profile: &Json, target: KubeVersion) -> AddonEvidence {
    let number = |r: &str| -> u64 {
        r.rsplit('-')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let installed = mesh
        .pointer("/istio/revisions")
        .and_then(Json::as_array)
        .and_then(|a| a.iter().filter_map(Json::as_str).min_by_key(|r| number(r)))
        .map(str::to_owned);
    let target = target.to_string();
    let mut compatible: Vec<String> = profile
        .pointer("/properties/meshRevisions")
        .and_then(Json::as_array)
        .map(|revisions| {
            revisions
                .iter()
                .filter(|r| {
                    r.get("compatibleWith")
                        .and_then(Json::as_array)
                        .is_some_and(|with| {
                            with.iter().any(|c| {
                                c.get("name").and_then(Json::as_str) == Some("kubernetes")
                                    && c.get("versions").and_then(Json::as_array).is_some_and(|v| {
                                        v.iter().any(|v| v.as_str() == Some(target.as_str()))
                                    })
                            })
                        })
                })
                .filter_map(|r| text_at(r, "/revision").map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    compatible.sort_by_key(|r| std::cmp::Reverse(number(r)));
    AddonEvidence {
        name: ISTIO.to_owned(),
        installed,
        default_for_target: compatible.first().cloned(),
        compatible,
        moved_by_upgrade: false,
    }
}

/// One agent pool as ARM lists it.
fn live_pool(p: &Json, fleet: &str, cluster: &str) -> LiveNodePool {
    let os_type = text_at(p, "/properties/osType");
    let os_sku = text_at(p, "/properties/osSKU");
    let tag = |key: &str| {
        p.pointer("/properties/tags")
            .and_then(|t| t.get(key))
            .and_then(Json::as_str)
    };
    LiveNodePool {
        name: text_at(p, "/name").unwrap_or_default().to_owned(),
        version: text_at(p, "/properties/currentOrchestratorVersion")
            .or_else(|| text_at(p, "/properties/orchestratorVersion"))
            .unwrap_or_default()
            .to_owned(),
        image: os_sku.or(os_type).map(str::to_owned),
        os: node_os(os_type, os_sku),
        image_version: text_at(p, "/properties/nodeImageVersion").map(str::to_owned),
        owned: tag(TAG_FLEET) == Some(fleet) && tag(TAG_CLUSTER) == Some(cluster),
    }
}

/// The minors above the current one that the control plane's upgrade profile offers (GA
/// releases only), oldest first; patch upgrades within the current minor are not minors.
fn offered_minors(profile: &Json, current: &str) -> Vec<String> {
    let minor_of = |v: &str| -> Option<(u64, u64)> {
        let mut parts = v.split('.');
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    };
    let current = minor_of(current);
    let mut minors: Vec<(u64, u64)> = profile
        .pointer("/properties/controlPlaneProfile/upgrades")
        .and_then(Json::as_array)
        .map(|ups| {
            ups.iter()
                .filter(|u| u.get("isPreview").and_then(Json::as_bool) != Some(true))
                .filter_map(|u| u.get("kubernetesVersion").and_then(Json::as_str))
                .filter_map(minor_of)
                .filter(|m| current.is_none_or(|c| *m > c))
                .collect()
        })
        .unwrap_or_default();
    minors.sort_unstable();
    minors.dedup();
    minors
        .into_iter()
        .map(|(major, minor)| format!("{major}.{minor}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use slipway_blueprints::NodeOs;

    use super::*;

    #[test]
    fn offered_minors_skip_patches_previews_and_duplicates() {
        let profile = json!({"properties": {"controlPlaneProfile": {"upgrades": [
            {"kubernetesVersion": "1.34.3"},
            {"kubernetesVersion": "1.35.2"},
            {"kubernetesVersion": "1.35.1"},
            {"kubernetesVersion": "1.36.0", "isPreview": true}
        ]}}});
        assert_eq!(offered_minors(&profile, "1.34.1"), ["1.35"]);
        assert_eq!(offered_minors(&json!({}), "1.34.1"), Vec::<String>::new());
    }

    #[test]
    fn istio_evidence_lists_revisions_for_the_target_newest_first() {
        let profile = json!({"properties": {"meshRevisions": [
            {"revision": "asm-1-9", "compatibleWith": [{"name": "kubernetes", "versions": ["1.35", "1.36"]}]},
            {"revision": "asm-1-10", "compatibleWith": [{"name": "kubernetes", "versions": ["1.36", "1.37"]}]},
            {"revision": "asm-1-11", "compatibleWith": [{"name": "other", "versions": ["1.36"]}]}
        ]}});
        let mesh = json!({"mode": "Istio", "istio": {"revisions": ["asm-1-10", "asm-1-9"]}});
        let e = istio_evidence(&mesh, &profile, KubeVersion::new(1, 36));
        assert_eq!(e.name, "istio");
        assert_eq!(
            e.installed.as_deref(),
            Some("asm-1-9"),
            "the canary's older revision"
        );
        assert_eq!(e.compatible, ["asm-1-10", "asm-1-9"]);
        assert_eq!(e.default_for_target.as_deref(), Some("asm-1-10"));
        let none = istio_evidence(&json!({"mode": "Istio"}), &profile, KubeVersion::new(1, 38));
        assert_eq!(
            (
                none.installed,
                none.compatible.len(),
                none.default_for_target
            ),
            (None, 0, None)
        );
    }

    #[test]
    fn pools_map_their_os_and_ownership() {
        let p = json!({"name": "win19", "properties": {
            "orchestratorVersion": "1.32", "currentOrchestratorVersion": "1.32.3",
            "osType": "Windows", "osSKU": "Windows2019",
            "nodeImageVersion": "AKSWindows-2019-containerd-17763.7001.260714",
            "tags": {TAG_FLEET: "commerce", TAG_CLUSTER: "dev-weu"}
        }});
        let pool = live_pool(&p, "commerce", "dev-weu");
        assert_eq!(pool.version, "1.32.3");
        assert_eq!(pool.image.as_deref(), Some("Windows2019"));
        assert_eq!(pool.os, Some(NodeOs::Windows2019));
        assert!(pool.owned);
        assert!(!live_pool(&p, "commerce", "other").owned);
        let bare = live_pool(
            &json!({"name": "x", "properties": {"osType": "Linux"}}),
            "f",
            "c",
        );
        assert_eq!(bare.os, Some(NodeOs::Ubuntu));
        assert_eq!(bare.image.as_deref(), Some("Linux"));
    }
}
