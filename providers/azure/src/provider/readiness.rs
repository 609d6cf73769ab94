//! Readiness evidence from ARM: the managed cluster (provisioning and power state, version,
//! FQDN, OIDC issuer), its agent pools, the add-ons it has switched on (add-on profiles, the
//! autoscaler and security switches, the Istio mesh and workload identity), and for each
//! declared workload identity its user-assigned identity and the issuers and subjects its
//! federated credentials trust.
//!
//! Read-only: every call is a paced GET in the [`API_ARM_READ`](crate::API_ARM_READ) class and
//! nothing here journals an intent. Objects that do not exist are reported (no control plane,
//! identity problems), never errors; it normalises ARM's state words and leaves judging the
//! evidence to the engine.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;
use slipway_provider::{
    AddonReadiness, Address, Condition, ControlPlaneReadiness, ErrorClass, IdentityMechanism,
    IdentityReadiness, NodePoolReadiness, OpContext, ProviderError, ReadinessEvidence,
    ReadinessRequest, Resource, Value,
};

use super::{AzureProvider, Session, last_segment, path};
use crate::aks::ADDON_PROFILES;
use crate::kinds::{
    API_CONTAINER_SERVICE, API_MANAGED_IDENTITY, MANAGED_CLUSTER, USER_ASSIGNED_IDENTITY,
};

/// `{ "enabled": … }`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Switch {
    enabled: Option<bool>,
}

impl Switch {
    fn on(s: Option<&Switch>) -> bool {
        s.and_then(|s| s.enabled) == Some(true)
    }
}

/// `powerState`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PowerState {
    code: Option<String>,
}

/// `oidcIssuerProfile`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OidcIssuer {
    #[serde(rename = "issuerURL")]
    issuer_url: Option<String>,
}

/// `securityProfile`, the switches read here.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct SecuritySwitches {
    workload_identity: Option<Switch>,
    image_cleaner: Option<Switch>,
}

/// `workloadAutoScalerProfile`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct AutoscalerSwitches {
    keda: Option<Switch>,
    vertical_pod_autoscaler: Option<Switch>,
}

/// `serviceMeshProfile`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Mesh {
    mode: Option<String>,
    istio: Option<Istio>,
}

/// `serviceMeshProfile.istio`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Istio {
    revisions: Option<Vec<String>>,
}

/// A managed cluster as read for readiness.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ClusterStatus {
    name: Option<String>,
    properties: ClusterStatusProperties,
}

/// Its properties.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ClusterStatusProperties {
    provisioning_state: Option<String>,
    power_state: Option<PowerState>,
    kubernetes_version: Option<String>,
    current_kubernetes_version: Option<String>,
    fqdn: Option<String>,
    #[serde(rename = "privateFQDN")]
    private_fqdn: Option<String>,
    oidc_issuer_profile: Option<OidcIssuer>,
    addon_profiles: Option<BTreeMap<String, Switch>>,
    security_profile: Option<SecuritySwitches>,
    workload_auto_scaler_profile: Option<AutoscalerSwitches>,
    service_mesh_profile: Option<Mesh>,
}

/// One page of an ARM list.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page<T> {
    #[serde(default = "Vec::new")]
    value: Vec<T>,
    #[serde(default)]
    next_link: Option<String>,
}

/// An agent pool as read for readiness.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PoolStatus {
    name: Option<String>,
    properties: PoolStatusProperties,
}

/// Its properties.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct PoolStatusProperties {
    provisioning_state: Option<String>,
    power_state: Option<PowerState>,
    count: Option<i64>,
    vm_size: Option<String>,
    orchestrator_version: Option<String>,
    current_orchestrator_version: Option<String>,
}

/// A user-assigned identity as read for readiness.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct IdentityStatus {
    properties: IdentityStatusProperties,
}

/// Its properties.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct IdentityStatusProperties {
    client_id: Option<String>,
}

/// A federated identity credential.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Credential {
    properties: CredentialProperties,
}

/// Its properties.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CredentialProperties {
    issuer: Option<String>,
    subject: Option<String>,
}

/// The condition of an ARM `provisioningState`, lowered to `Degraded` by a stopped power state.
fn condition(provisioning: &str, power: Option<&str>) -> Condition {
    let state = provisioning.to_ascii_lowercase();
    let base = match state.as_str() {
        "succeeded" => Condition::Ready,
        "creating" | "updating" | "upgrading" | "scaling" | "starting" | "stopping"
        | "migrating" | "reconciling" | "accepted" | "provisioning" => Condition::Pending,
        "failed" | "canceled" | "cancelled" | "deleting" => Condition::Failed,
        // Words newer than this code: never ready without knowing why.
        _ => Condition::Degraded,
    };
    let stopped = power.is_some_and(|p| p.eq_ignore_ascii_case("stopped"));
    if base == Condition::Ready && stopped {
        Condition::Degraded
    } else {
        base
    }
}

/// The status as ARM spells it: the provisioning state, and the power state unless running.
fn status(provisioning: &str, power: Option<&str>) -> String {
    match power {
        Some(p) if !p.eq_ignore_ascii_case("running") => format!("{provisioning} ({p})"),
        _ => provisioning.to_owned(),
    }
}

fn typed<T: DeserializeOwned>(json: Json, operation: &str) -> Result<T, ProviderError> {
    serde_json::from_value(json).map_err(|e| {
        ProviderError::new(
            ErrorClass::Fatal,
            operation,
            "InvalidResponse",
            format!("the response does not fit the readiness model: {e}"),
        )
    })
}

/// The add-ons a live cluster has switched on, by blueprint name where one maps to it.
fn addons(props: &ClusterStatusProperties, cluster: Condition) -> Vec<AddonReadiness> {
    let on = |name: &str| AddonReadiness {
        name: name.to_owned(),
        condition: cluster,
        status: "enabled".to_owned(),
        version: None,
        health_issues: Vec::new(),
    };
    let mut out = Vec::new();
    for (key, switch) in props.addon_profiles.iter().flatten() {
        if switch.enabled != Some(true) {
            continue;
        }
        let name = ADDON_PROFILES
            .iter()
            .find(|(_, k)| k.eq_ignore_ascii_case(key))
            .map_or(key.as_str(), |(n, _)| n);
        out.push(on(name));
    }
    let security = props.security_profile.as_ref();
    let autoscalers = props.workload_auto_scaler_profile.as_ref();
    for (name, enabled) in [
        (
            "image-cleaner",
            Switch::on(security.and_then(|s| s.image_cleaner.as_ref())),
        ),
        (
            "keda",
            Switch::on(autoscalers.and_then(|a| a.keda.as_ref())),
        ),
        (
            "vpa",
            Switch::on(autoscalers.and_then(|a| a.vertical_pod_autoscaler.as_ref())),
        ),
        (
            "workload-identity",
            Switch::on(security.and_then(|s| s.workload_identity.as_ref())),
        ),
    ] {
        if enabled {
            out.push(on(name));
        }
    }
    if let Some(mesh) = &props.service_mesh_profile
        && let Some(mode) = mesh.mode.as_deref()
        && mode.eq_ignore_ascii_case("istio")
    {
        let revisions = mesh
            .istio
            .as_ref()
            .and_then(|i| i.revisions.clone())
            .unwrap_or_default();
        out.push(AddonReadiness {
            name: "istio".to_owned(),
            condition: cluster,
            status: mode.to_owned(),
            version: (!revisions.is_empty()).then(|| revisions.join(",")),
            health_issues: Vec::new(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The id of the object at `address`: as state recorded it, else as the expansion names it.
fn object_id(
    recorded: &ReadinessRequest<'_>,
    resources: &[Resource],
    address: &Address,
) -> Option<String> {
    recorded
        .recorded
        .iter()
        .filter(|st| &st.address == address && st.deposed.is_none())
        .find_map(|st| st.cloud_id.clone())
        .or_else(|| {
            resources
                .iter()
                .find(|r| &r.address == address)
                .and_then(|r| r.properties.get("id").and_then(Value::as_str))
                .map(str::to_owned)
        })
}

impl AzureProvider {
    /// Gathers the evidence for [`Provider::readiness_evidence`](slipway_provider::Provider).
    pub(super) async fn readiness(
        &self,
        ctx: &OpContext,
        req: ReadinessRequest<'_>,
    ) -> Result<ReadinessEvidence, ProviderError> {
        let address = Address::new(&req.cluster.name, MANAGED_CLUSTER, "main");
        let resources = self
            .expander
            .expand_cluster(req.fleet, req.cluster)
            .map_err(|e| ProviderError::from(e).at(&address))?;
        let id = object_id(&req, &resources, &address).ok_or_else(|| {
            ProviderError::new(
                ErrorClass::Fatal,
                "expand",
                "NoManagedCluster",
                "the expansion has no managed cluster",
            )
            .at(&address)
        })?;
        self.check_credentials(&address).await?;
        let s = Session::new(self, ctx, &address, false);
        let mut ev = ReadinessEvidence::default();

        let op = "GET managedClusters";
        match s.get(&path(&id, API_CONTAINER_SERVICE), op).await? {
            None => ev
                .notes
                .push(format!("managed cluster `{id}` does not exist in Azure")),
            Some(json) => {
                let cluster: ClusterStatus = typed(json, op).map_err(|e| e.at(&address))?;
                let p = &cluster.properties;
                let provisioning = p.provisioning_state.as_deref().unwrap_or_default();
                let power = p.power_state.as_ref().and_then(|ps| ps.code.as_deref());
                let cp = condition(provisioning, power);
                ev.control_plane = Some(ControlPlaneReadiness {
                    name: cluster
                        .name
                        .clone()
                        .unwrap_or_else(|| last_segment(&id).to_owned()),
                    condition: cp,
                    status: status(provisioning, power),
                    version: p
                        .current_kubernetes_version
                        .clone()
                        .or_else(|| p.kubernetes_version.clone())
                        .unwrap_or_default(),
                    endpoint: p.fqdn.clone().or_else(|| p.private_fqdn.clone()),
                    oidc_issuer: p
                        .oidc_issuer_profile
                        .as_ref()
                        .and_then(|o| o.issuer_url.clone()),
                });
                ev.node_pools = self.pools(&s, &id).await?;
                ev.addons = addons(p, cp);
            }
        }

        for wi in &req.cluster.workload_identities {
            let identity = Address::new(
                &req.cluster.name,
                USER_ASSIGNED_IDENTITY,
                format!("wi-{}", wi.name),
            );
            let mut out = IdentityReadiness {
                name: wi.name.clone(),
                mechanism: IdentityMechanism::FederatedCredential,
                ..IdentityReadiness::default()
            };
            match object_id(&req, &resources, &identity) {
                Some(identity_id) => self.identity(&s, &identity_id, &mut out).await?,
                None => out.problems.push(format!(
                    "the expansion has no managed identity for workload identity `{}`",
                    wi.name
                )),
            }
            ev.identities.push(out);
        }
        Ok(ev)
    }

    /// Every agent pool of the cluster `id`, following `nextLink`.
    async fn pools(
        &self,
        s: &Session<'_>,
        id: &str,
    ) -> Result<Vec<NodePoolReadiness>, ProviderError> {
        let op = "GET agentPools";
        let pools: Vec<PoolStatus> = list(
            s,
            format!("{id}/agentPools?api-version={API_CONTAINER_SERVICE}"),
            op,
        )
        .await?;
        Ok(pools
            .into_iter()
            .map(|pool| {
                let p = pool.properties;
                let provisioning = p.provisioning_state.as_deref().unwrap_or_default();
                let power = p.power_state.as_ref().and_then(|ps| ps.code.as_deref());
                NodePoolReadiness {
                    name: pool.name.unwrap_or_default(),
                    condition: condition(provisioning, power),
                    status: status(provisioning, power),
                    version: p.current_orchestrator_version.or(p.orchestrator_version),
                    instance_type: p.vm_size,
                    nodes: p.count.and_then(|n| u32::try_from(n).ok()),
                    health_issues: Vec::new(),
                }
            })
            .collect())
    }

    /// The identity's client id and what its federated credentials trust.
    async fn identity(
        &self,
        s: &Session<'_>,
        identity_id: &str,
        out: &mut IdentityReadiness,
    ) -> Result<(), ProviderError> {
        let op = "GET userAssignedIdentities";
        let Some(json) = s.get(&path(identity_id, API_MANAGED_IDENTITY), op).await? else {
            out.problems
                .push(format!("managed identity `{identity_id}` does not exist"));
            return Ok(());
        };
        let identity: IdentityStatus = typed(json, op).map_err(|e| e.at(s.address))?;
        out.principal = identity.properties.client_id;
        if out.principal.is_none() {
            out.problems
                .push(format!("managed identity `{identity_id}` has no client id"));
        }
        let credentials: Vec<Credential> = list(
            s,
            format!(
                "{identity_id}/federatedIdentityCredentials?api-version={API_MANAGED_IDENTITY}"
            ),
            "GET federatedIdentityCredentials",
        )
        .await?;
        let mut issuers = BTreeSet::new();
        let mut subjects = BTreeSet::new();
        for c in credentials {
            issuers.extend(c.properties.issuer);
            subjects.extend(c.properties.subject);
        }
        if issuers.is_empty() {
            out.problems.push(format!(
                "managed identity `{identity_id}` has no federated credential"
            ));
        }
        out.trusted_issuers = issuers.into_iter().collect();
        out.subjects = subjects.into_iter().collect();
        Ok(())
    }
}

/// Every item of an ARM list, following `nextLink`; a list whose parent is gone is empty.
async fn list<T: DeserializeOwned>(
    s: &Session<'_>,
    first: String,
    operation: &str,
) -> Result<Vec<T>, ProviderError> {
    let mut items = Vec::new();
    let mut next = Some(first);
    while let Some(url) = next.take() {
        let Some(json) = s.get(&url, operation).await? else {
            break;
        };
        let page: Page<T> = typed(json, operation).map_err(|e| e.at(s.address))?;
        items.extend(page.value);
        next = page.next_link.filter(|l| !l.is_empty());
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arm_states_normalise_and_a_stopped_cluster_is_degraded() {
        assert_eq!(condition("Succeeded", Some("Running")), Condition::Ready);
        assert_eq!(condition("Succeeded", None), Condition::Ready);
        assert_eq!(condition("Succeeded", Some("Stopped")), Condition::Degraded);
        assert_eq!(condition("Creating", None), Condition::Pending);
        assert_eq!(condition("Upgrading", None), Condition::Pending);
        assert_eq!(condition("Failed", Some("Running")), Condition::Failed);
        assert_eq!(condition("Deleting", None), Condition::Failed);
        assert_eq!(condition("SomethingNew", None), Condition::Degraded);
        assert_eq!(status("Succeeded", Some("Running")), "Succeeded");
        assert_eq!(status("Succeeded", Some("Stopped")), "Succeeded (Stopped)");
    }

    #[test]
    fn addons_come_from_profiles_switches_and_the_mesh() {
        let cluster: ClusterStatus = serde_json::from_value(json!({
            "name": "c",
            "properties": {
                "provisioningState": "Succeeded",
                "addonProfiles": {
                    "azureKeyVaultSecretsProvider": {"enabled": true, "config": {}},
                    "azurepolicy": {"enabled": false},
                    "ingressApplicationRouting": {"enabled": true}
                },
                "securityProfile": {"workloadIdentity": {"enabled": true}, "imageCleaner": null},
                "workloadAutoScalerProfile": {"keda": {"enabled": true}},
                "serviceMeshProfile": {"mode": "Istio", "istio": {"revisions": ["asm-1-27"]}},
                "powerState": {"code": "Running"}
            }
        }))
        .unwrap();
        let found = addons(&cluster.properties, Condition::Ready);
        let names: Vec<&str> = found.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "azure-keyvault-secrets-provider",
                "ingressApplicationRouting",
                "istio",
                "keda",
                "workload-identity"
            ]
        );
        let istio = found.iter().find(|a| a.name == "istio").unwrap();
        assert_eq!(istio.version.as_deref(), Some("asm-1-27"));
        assert!(found.iter().all(|a| a.condition == Condition::Ready));
        let empty: ClusterStatus = serde_json::from_value(json!({"properties": {}})).unwrap();
        assert!(addons(&empty.properties, Condition::Ready).is_empty());
    }
}
