//! Typed ARM models: only the fields Slipway sends and reads, spelled as ARM spells them.
//!
//! Bodies from the expansion go through [`checked_body`]: parsed into the kind's model and
//! serialized back, and refused when anything was lost on the way, so every field sent is
//! modelled. Responses parse leniently (ARM returns many fields Slipway does not manage).
//! This module converts; it never talks to ARM.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use slipway_provider::{ErrorClass, ProviderError};

use crate::kinds;

type Tags = BTreeMap<String, String>;

macro_rules! model {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub(crate) struct $name {
            $(
                $(#[$fm])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }
    };
}

model!(
    /// `Microsoft.Resources/resourceGroups`.
    ResourceGroup { id: String, location: String, tags: Tags, properties: ProvisioningOnly }
);
model!(
    /// Properties holding only the provisioning state.
    ProvisioningOnly { provisioning_state: String }
);
model!(
    /// `Microsoft.Network/virtualNetworks`.
    VirtualNetwork { id: String, location: String, tags: Tags, properties: VirtualNetworkProperties }
);
model!(
    /// Virtual network properties; `subnets` only as read back (kept on updates).
    VirtualNetworkProperties { address_space: AddressSpace, subnets: Vec<Json>, provisioning_state: String }
);
model!(
    /// An address space.
    AddressSpace { address_prefixes: Vec<String> }
);
model!(
    /// `Microsoft.Network/virtualNetworks/subnets`.
    Subnet { id: String, properties: SubnetProperties }
);
model!(
    /// Subnet properties.
    SubnetProperties { address_prefix: String, private_endpoint_network_policies: String, provisioning_state: String }
);
model!(
    /// `Microsoft.ManagedIdentity/userAssignedIdentities`.
    UserAssignedIdentity { id: String, location: String, tags: Tags, properties: IdentityProperties }
);
model!(
    /// Identity properties (read-only).
    IdentityProperties { principal_id: String, client_id: String, tenant_id: String }
);
model!(
    /// `…/federatedIdentityCredentials`.
    FederatedIdentityCredential { id: String, properties: FederatedCredentialProperties }
);
model!(
    /// Federated credential properties.
    FederatedCredentialProperties { audiences: Vec<String>, issuer: String, subject: String }
);
model!(
    /// `Microsoft.Authorization/roleAssignments`.
    RoleAssignment { id: String, properties: RoleAssignmentProperties }
);
model!(
    /// Role assignment properties.
    RoleAssignmentProperties { principal_id: String, principal_type: String, role_definition_id: String, scope: String }
);
model!(
    /// One role definition of a `roleDefinitions` list.
    RoleDefinition { id: String, name: String }
);
model!(
    /// A `roleDefinitions` list.
    RoleDefinitionList { value: Vec<RoleDefinition> }
);
model!(
    /// `Microsoft.ContainerService/managedClusters`.
    ManagedCluster {
        id: String,
        location: String,
        tags: Tags,
        identity: ManagedServiceIdentity,
        sku: ClusterSku,
        properties: ManagedClusterProperties,
    }
);
model!(
    /// A managed service identity.
    ManagedServiceIdentity {
        #[serde(rename = "type")]
        kind: String,
        user_assigned_identities: BTreeMap<String, Json>,
        principal_id: String,
        tenant_id: String,
    }
);
model!(
    /// The cluster SKU.
    ClusterSku { name: String, tier: String }
);
model!(
    /// Managed cluster properties.
    ManagedClusterProperties {
        agent_pool_profiles: Vec<AgentPoolProperties>,
        addon_profiles: BTreeMap<String, AddonProfile>,
        api_server_access_profile: ApiServerAccessProfile,
        auto_upgrade_profile: AutoUpgradeProfile,
        dns_prefix: String,
        #[serde(rename = "enableRBAC")]
        enable_rbac: bool,
        kubernetes_version: String,
        network_profile: NetworkProfile,
        oidc_issuer_profile: OidcIssuerProfile,
        security_profile: SecurityProfile,
        service_mesh_profile: ServiceMeshProfile,
        workload_auto_scaler_profile: WorkloadAutoScalerProfile,
        provisioning_state: String,
        fqdn: String,
        #[serde(rename = "privateFQDN")]
        private_fqdn: String,
        node_resource_group: String,
        identity_profile: BTreeMap<String, UserAssignedIdentityRef>,
    }
);
model!(
    /// An add-on profile.
    AddonProfile { enabled: bool, config: BTreeMap<String, String> }
);
model!(
    /// API server access.
    ApiServerAccessProfile {
        enable_private_cluster: bool,
        #[serde(rename = "enablePrivateClusterPublicFQDN")]
        enable_private_cluster_public_fqdn: bool,
        #[serde(rename = "privateDNSZone")]
        private_dns_zone: String,
    }
);
model!(
    /// Upgrade channels.
    AutoUpgradeProfile {
        #[serde(rename = "nodeOSUpgradeChannel")]
        node_os_upgrade_channel: String,
        upgrade_channel: String,
    }
);
model!(
    /// Cluster network.
    NetworkProfile {
        #[serde(rename = "dnsServiceIP")]
        dns_service_ip: String,
        load_balancer_sku: String,
        network_dataplane: String,
        network_plugin: String,
        network_plugin_mode: String,
        network_policy: String,
        outbound_type: String,
        pod_cidr: String,
        service_cidr: String,
    }
);
model!(
    /// OIDC issuer.
    OidcIssuerProfile {
        enabled: bool,
        #[serde(rename = "issuerURL")]
        issuer_url: String,
    }
);
model!(
    /// Security settings.
    SecurityProfile { workload_identity: Enabled, image_cleaner: ImageCleaner }
);
model!(
    /// A switch.
    Enabled { enabled: bool }
);
model!(
    /// Image Cleaner.
    ImageCleaner { enabled: bool, interval_hours: i64 }
);
model!(
    /// The service mesh add-on: `mode` `Istio` or `Disabled`.
    ServiceMeshProfile { mode: String, istio: IstioServiceMesh }
);
model!(
    /// Istio: the installed control-plane revisions (two during a canary upgrade).
    IstioServiceMesh { revisions: Vec<String> }
);
model!(
    /// KEDA and VPA switches.
    WorkloadAutoScalerProfile { keda: Enabled, vertical_pod_autoscaler: Enabled }
);
model!(
    /// A reference to an identity (the kubelet identity).
    UserAssignedIdentityRef { resource_id: String, client_id: String, object_id: String }
);
model!(
    /// `…/agentPools`.
    AgentPool { id: String, name: String, properties: AgentPoolProperties }
);
model!(
    /// Agent pool properties, also the inline `agentPoolProfiles` entries (with `name`).
    AgentPoolProperties {
        name: String,
        count: i64,
        enable_auto_scaling: bool,
        min_count: i64,
        max_count: i64,
        mode: String,
        orchestrator_version: String,
        #[serde(rename = "osSKU")]
        os_sku: String,
        os_type: String,
        #[serde(rename = "osDiskSizeGB")]
        os_disk_size_gb: i64,
        tags: Tags,
        #[serde(rename = "type")]
        kind: String,
        upgrade_settings: UpgradeSettings,
        vm_size: String,
        #[serde(rename = "vnetSubnetID")]
        vnet_subnet_id: String,
        availability_zones: Vec<String>,
        node_labels: Tags,
        node_taints: Vec<String>,
        provisioning_state: String,
    }
);
model!(
    /// Surge settings.
    UpgradeSettings { max_surge: String, max_unavailable: String }
);
model!(
    /// `Microsoft.Network/privateEndpoints`.
    PrivateEndpoint { id: String, location: String, tags: Tags, properties: PrivateEndpointProperties }
);
model!(
    /// Private endpoint properties.
    PrivateEndpointProperties {
        custom_network_interface_name: String,
        private_link_service_connections: Vec<PrivateLinkServiceConnection>,
        subnet: IdRef,
        network_interfaces: Vec<IdRef>,
        provisioning_state: String,
    }
);
model!(
    /// A private link connection.
    PrivateLinkServiceConnection { name: String, properties: PrivateLinkServiceConnectionProperties }
);
model!(
    /// Its properties.
    PrivateLinkServiceConnectionProperties { group_ids: Vec<String>, private_link_service_id: String }
);
model!(
    /// `{ "id": … }`.
    IdRef { id: String }
);
model!(
    /// `…/privateDnsZoneGroups`.
    PrivateDnsZoneGroup { id: String, properties: PrivateDnsZoneGroupProperties }
);
model!(
    /// Zone group properties.
    PrivateDnsZoneGroupProperties { private_dns_zone_configs: Vec<PrivateDnsZoneConfig>, provisioning_state: String }
);
model!(
    /// One zone of a zone group.
    PrivateDnsZoneConfig { name: String, properties: PrivateDnsZoneConfigProperties }
);
model!(
    /// Its properties.
    PrivateDnsZoneConfigProperties { private_dns_zone_id: String }
);
model!(
    /// `Microsoft.Network/privateDnsZones`.
    PrivateDnsZone { id: String, location: String, tags: Tags, properties: ProvisioningOnly }
);
model!(
    /// `…/virtualNetworkLinks`.
    VirtualNetworkLink { id: String, location: String, tags: Tags, properties: VirtualNetworkLinkProperties }
);
model!(
    /// Link properties.
    VirtualNetworkLinkProperties { registration_enabled: bool, virtual_network: IdRef, provisioning_state: String }
);

/// Parses `body` as `T` and serializes it back; refuses a body with anything `T` does not
/// model (the path of the first such field is in the message).
fn round_trip<T: Serialize + DeserializeOwned>(body: &Json) -> Result<Json, String> {
    let typed: T = serde_json::from_value(body.clone()).map_err(|e| e.to_string())?;
    let back = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
    match first_loss(body, &back, String::new()) {
        Some(path) => Err(format!("`{path}` is not modelled")),
        None => Ok(back),
    }
}

/// The path of the first value of `sent` missing or different in `kept`.
fn first_loss(sent: &Json, kept: &Json, path: String) -> Option<String> {
    match (sent, kept) {
        (Json::Object(a), Json::Object(b)) => a.iter().find_map(|(k, v)| {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            match b.get(k) {
                Some(w) => first_loss(v, w, p),
                None if v.is_null() => None,
                None => Some(p),
            }
        }),
        (Json::Array(a), Json::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (v, w))| first_loss(v, w, format!("{path}[{i}]"))),
        (a, b) if a == b => None,
        _ => Some(if path.is_empty() { "body".into() } else { path }),
    }
}

/// Checks a body of `kind` against its model (see the module docs).
pub(crate) fn checked_body(
    kind: &str,
    body: &Json,
    operation: &str,
) -> Result<Json, ProviderError> {
    let checked = match kind {
        kinds::RESOURCE_GROUP => round_trip::<ResourceGroup>(body),
        kinds::VIRTUAL_NETWORK => round_trip::<VirtualNetwork>(body),
        kinds::SUBNET => round_trip::<Subnet>(body),
        kinds::USER_ASSIGNED_IDENTITY => round_trip::<UserAssignedIdentity>(body),
        kinds::FEDERATED_IDENTITY_CREDENTIAL => round_trip::<FederatedIdentityCredential>(body),
        kinds::ROLE_ASSIGNMENT => round_trip::<RoleAssignment>(body),
        kinds::MANAGED_CLUSTER => round_trip::<ManagedCluster>(body),
        kinds::AGENT_POOL => round_trip::<AgentPool>(body),
        kinds::PRIVATE_ENDPOINT => round_trip::<PrivateEndpoint>(body),
        "azure.private_dns_zone_group" => round_trip::<PrivateDnsZoneGroup>(body),
        kinds::PRIVATE_DNS_ZONE => round_trip::<PrivateDnsZone>(body),
        kinds::PRIVATE_DNS_ZONE_LINK => round_trip::<VirtualNetworkLink>(body),
        other => Err(format!("no model for kind `{other}`")),
    };
    checked.map_err(|why| {
        ProviderError::new(
            ErrorClass::Fatal,
            operation,
            "UnmodelledBody",
            format!("the request body does not fit the {kind} model: {why}"),
        )
    })
}

/// Parses a response of `kind` into its model and back to JSON, dropping what is not
/// modelled; a response that does not fit is an error.
pub(crate) fn parsed_response(
    kind: &str,
    body: Json,
    operation: &str,
) -> Result<Json, ProviderError> {
    fn lenient<T: Serialize + DeserializeOwned>(body: Json) -> Result<Json, String> {
        let typed: T = serde_json::from_value(body).map_err(|e| e.to_string())?;
        serde_json::to_value(&typed).map_err(|e| e.to_string())
    }
    let parsed = match kind {
        kinds::RESOURCE_GROUP => lenient::<ResourceGroup>(body),
        kinds::VIRTUAL_NETWORK => lenient::<VirtualNetwork>(body),
        kinds::SUBNET => lenient::<Subnet>(body),
        kinds::USER_ASSIGNED_IDENTITY => lenient::<UserAssignedIdentity>(body),
        kinds::FEDERATED_IDENTITY_CREDENTIAL => lenient::<FederatedIdentityCredential>(body),
        kinds::ROLE_ASSIGNMENT => lenient::<RoleAssignment>(body),
        kinds::MANAGED_CLUSTER => lenient::<ManagedCluster>(body),
        kinds::AGENT_POOL => lenient::<AgentPool>(body),
        kinds::PRIVATE_ENDPOINT => lenient::<PrivateEndpoint>(body),
        kinds::PRIVATE_DNS_ZONE => lenient::<PrivateDnsZone>(body),
        kinds::PRIVATE_DNS_ZONE_LINK => lenient::<VirtualNetworkLink>(body),
        other => Err(format!("no model for kind `{other}`")),
    };
    parsed.map_err(|why| {
        ProviderError::new(
            ErrorClass::Fatal,
            operation,
            "InvalidResponse",
            format!("the response does not fit the {kind} model: {why}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn modelled_bodies_pass_and_unknown_fields_are_refused() {
        let body = json!({
            "location": "westeurope",
            "tags": {"slipway:address": "c/azure.virtual_network/main"},
            "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}
        });
        assert_eq!(
            checked_body(kinds::VIRTUAL_NETWORK, &body, "PUT").unwrap(),
            body
        );
        let mut extra = body.clone();
        extra["properties"]["dhcpOptions"] = json!({"dnsServers": []});
        let e = checked_body(kinds::VIRTUAL_NETWORK, &extra, "PUT").unwrap_err();
        assert_eq!(e.code, "UnmodelledBody");
        assert!(
            e.message.contains("`properties.dhcpOptions`"),
            "{}",
            e.message
        );
        let wrong_type = json!({"properties": {"addressSpace": {"addressPrefixes": "x"}}});
        assert!(checked_body(kinds::VIRTUAL_NETWORK, &wrong_type, "PUT").is_err());
    }

    #[test]
    fn responses_keep_modelled_fields_only() {
        let live = json!({
            "id": "/x", "name": "prod", "location": "westeurope",
            "properties": {
                "provisioningState": "Succeeded", "fqdn": "a.hcp", "powerState": {"code": "Running"},
                "oidcIssuerProfile": {"enabled": true, "issuerURL": "https://oidc/x/"}
            }
        });
        let parsed = parsed_response(kinds::MANAGED_CLUSTER, live, "GET").unwrap();
        assert_eq!(
            parsed["properties"]["oidcIssuerProfile"]["issuerURL"],
            "https://oidc/x/"
        );
        assert!(parsed["properties"].get("powerState").is_none());
        assert!(parsed.get("name").is_none());
    }
}
