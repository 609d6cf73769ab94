//! The Azure resource kinds, their ARM API versions and their [`KindSchema`]s.
//!
//! `replace_on` entries are dotted paths into a resource's properties (`body.properties.vmSize`
//! is the `vmSize` key of the `properties` map inside the `body` property). A change at or below
//! such a path forces replacement; every other change updates in place with a PUT. The choices
//! follow what ARM lets a PUT change on an existing object. This module declares; it never
//! builds resources and never talks to ARM.

use slipway_provider::{ApiClass, Kind, KindSchema};

/// Kind of `Microsoft.Resources/resourceGroups`.
pub const RESOURCE_GROUP: &str = "azure.resource_group";
/// Kind of `Microsoft.Network/virtualNetworks`.
pub const VIRTUAL_NETWORK: &str = "azure.virtual_network";
/// Kind of `Microsoft.Network/virtualNetworks/subnets`.
pub const SUBNET: &str = "azure.subnet";
/// Kind of `Microsoft.ManagedIdentity/userAssignedIdentities`.
pub const USER_ASSIGNED_IDENTITY: &str = "azure.user_assigned_identity";
/// Kind of `Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials`.
pub const FEDERATED_IDENTITY_CREDENTIAL: &str = "azure.federated_identity_credential";
/// Kind of `Microsoft.Authorization/roleAssignments`.
pub const ROLE_ASSIGNMENT: &str = "azure.role_assignment";
/// Kind of `Microsoft.ContainerService/managedClusters`.
pub const MANAGED_CLUSTER: &str = "azure.managed_cluster";
/// Kind of `Microsoft.ContainerService/managedClusters/agentPools`.
pub const AGENT_POOL: &str = "azure.agent_pool";
/// Kind of `Microsoft.Network/privateEndpoints` (with its `privateDnsZoneGroups/default` child).
pub const PRIVATE_ENDPOINT: &str = "azure.private_endpoint";
/// Kind of `Microsoft.Network/privateDnsZones`.
pub const PRIVATE_DNS_ZONE: &str = "azure.private_dns_zone";
/// Kind of `Microsoft.Network/privateDnsZones/virtualNetworkLinks`.
pub const PRIVATE_DNS_ZONE_LINK: &str = "azure.private_dns_zone_link";

/// Property of a Windows `azure.agent_pool` holding its `osSKU`: AKS migrates Linux OS SKUs in
/// place but never a Windows one, so a change here forces replacement while Linux SKU changes
/// update in place.
pub(crate) const WINDOWS_SKU: &str = "windows_sku";

/// API version for `Microsoft.ContainerService` (managed clusters, agent pools).
pub const API_CONTAINER_SERVICE: &str = "2026-08-01";
/// API version for `Microsoft.Network` virtual networks, subnets and private endpoints.
pub const API_NETWORK: &str = "2024-05-01";
/// API version for `Microsoft.Network/privateDnsZones` (versioned apart from the rest of
/// `Microsoft.Network`).
pub const API_PRIVATE_DNS: &str = "2024-06-01";
/// API version for `Microsoft.ManagedIdentity` (identities, federated credentials).
pub const API_MANAGED_IDENTITY: &str = "2023-01-31";
/// API version for `Microsoft.Authorization/roleAssignments`.
pub const API_AUTHORIZATION: &str = "2022-04-01";
/// API version for `Microsoft.Resources/resourceGroups`.
pub const API_RESOURCES: &str = "2024-11-01";

/// Token bucket for ARM PUT and DELETE calls (per subscription and principal).
pub const API_ARM_WRITE: &str = "azure.arm.write";
/// Token bucket for ARM GET calls (per subscription and principal).
pub const API_ARM_READ: &str = "azure.arm.read";

fn schema(
    kind: &str,
    replace_on: &[&str],
    create_before_destroy: bool,
    outputs: &[&str],
) -> KindSchema {
    KindSchema {
        kind: Kind::new(kind),
        replace_on: replace_on.iter().map(|s| (*s).to_owned()).collect(),
        create_before_destroy,
        ignore_changes: Vec::new(),
        api: ApiClass::new(API_ARM_WRITE),
        outputs: outputs.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// Schemas of every Azure kind, in a fixed order.
///
/// `id` is in every `replace_on`: a different id is a different ARM object. Deliberately in
/// place: a VNet's address space and a subnet's `addressPrefix` (ARM accepts the change while
/// the range is unused and refuses it with a conflict otherwise; replacing an in-use subnet
/// would fail the same way), a managed cluster's `identity` (AKS updates the control-plane
/// identity in place), and an agent pool's count, autoscaler bounds, labels, taints, mode,
/// `orchestratorVersion`, `upgradeSettings` and Linux `osSKU` (AKS's in-place OS SKU migration
/// between Ubuntu and Azure Linux). `osType` and a Windows pool's SKU ([`WINDOWS_SKU`]) force
/// replacement.
pub(crate) fn schemas() -> Vec<KindSchema> {
    let mut schemas = vec![
        schema(RESOURCE_GROUP, &["id", "body.location"], false, &["id"]),
        schema(VIRTUAL_NETWORK, &["id", "body.location"], false, &["id"]),
        schema(SUBNET, &["id"], false, &["id"]),
        schema(
            USER_ASSIGNED_IDENTITY,
            &["id", "body.location"],
            false,
            &["id", "principalId", "clientId", "tenantId"],
        ),
        schema(FEDERATED_IDENTITY_CREDENTIAL, &["id"], false, &["id"]),
        // Role assignments are immutable: ARM refuses a PUT that changes any of these.
        schema(
            ROLE_ASSIGNMENT,
            &[
                "id",
                "role",
                "body.properties.roleDefinitionId",
                "body.properties.principalId",
                "body.properties.principalType",
            ],
            false,
            &["id"],
        ),
        schema(
            MANAGED_CLUSTER,
            &[
                "id",
                "body.location",
                "body.properties.dnsPrefix",
                "body.properties.networkProfile.networkPlugin",
                "body.properties.networkProfile.networkDataplane",
                "body.properties.networkProfile.podCidr",
                "body.properties.networkProfile.serviceCidr",
                "body.properties.networkProfile.dnsServiceIP",
                "body.properties.networkProfile.outboundType",
                "body.properties.apiServerAccessProfile.enablePrivateCluster",
                "body.properties.apiServerAccessProfile.privateDNSZone",
            ],
            false,
            &[
                "id",
                "fqdn",
                "privateFqdn",
                "oidcIssuerUrl",
                "nodeResourceGroup",
                "kubeletObjectId",
                "kubeletClientId",
            ],
        ),
        // Node pools are replaced by creating the new pool first, under a new physical name.
        schema(
            AGENT_POOL,
            &[
                "id",
                WINDOWS_SKU,
                "body.properties.vmSize",
                "body.properties.osDiskSizeGB",
                "body.properties.osType",
                "body.properties.type",
                "body.properties.vnetSubnetID",
                "body.properties.availabilityZones",
            ],
            true,
            &["id", "name"],
        ),
        schema(
            PRIVATE_ENDPOINT,
            &[
                "id",
                "target",
                "body.location",
                "body.properties.subnet.id",
                "body.properties.customNetworkInterfaceName",
                "body.properties.privateLinkServiceConnections",
            ],
            false,
            &["id", "networkInterfaceId"],
        ),
        schema(PRIVATE_DNS_ZONE, &["id"], false, &["id"]),
        schema(
            PRIVATE_DNS_ZONE_LINK,
            &["id", "body.properties.virtualNetwork.id"],
            false,
            &["id"],
        ),
    ];
    // Sent on create only: AKS requires the system pool inline, and the `azure.agent_pool` of
    // the same name owns it afterwards; an autoscaled pool's node count belongs to the
    // autoscaler once the pool exists.
    for schema in &mut schemas {
        match schema.kind.as_str() {
            MANAGED_CLUSTER => {
                schema.ignore_changes = vec!["body.properties.agentPoolProfiles".to_owned()]
            }
            AGENT_POOL => schema.ignore_changes = vec!["body.properties.count".to_owned()],
            _ => {}
        }
    }
    schemas
}

/// The upgrade step that changes objects of `kind` when a cluster moves to a new minor: AKS
/// versions its add-ons with the control plane (the Istio mesh revision, which AKS does not move,
/// is part of the managed cluster and must already be compatible: the scan checks it).
pub fn upgrade_phase(kind: &slipway_provider::Kind) -> Option<slipway_provider::UpgradePhase> {
    use slipway_provider::UpgradePhase;
    match kind.as_str() {
        MANAGED_CLUSTER => Some(UpgradePhase::ControlPlane),
        AGENT_POOL => Some(UpgradePhase::NodePools),
        _ => None,
    }
}

/// The part of a cluster build objects of `kind` belong to, for per-phase drill timings.
pub fn build_phase(kind: &slipway_provider::Kind) -> slipway_provider::BuildPhase {
    use slipway_provider::BuildPhase;
    match kind.as_str() {
        RESOURCE_GROUP | VIRTUAL_NETWORK | SUBNET => BuildPhase::Network,
        USER_ASSIGNED_IDENTITY | FEDERATED_IDENTITY_CREDENTIAL | ROLE_ASSIGNMENT => {
            BuildPhase::Identity
        }
        MANAGED_CLUSTER => BuildPhase::ControlPlane,
        AGENT_POOL => BuildPhase::NodePools,
        PRIVATE_ENDPOINT | PRIVATE_DNS_ZONE | PRIVATE_DNS_ZONE_LINK => BuildPhase::Endpoints,
        _ => BuildPhase::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_build_phase() {
        use slipway_provider::BuildPhase;
        for s in schemas() {
            assert_ne!(build_phase(&s.kind), BuildPhase::Other, "{}", s.kind);
        }
        assert_eq!(
            build_phase(&Kind::new(MANAGED_CLUSTER)),
            BuildPhase::ControlPlane
        );
        assert_eq!(build_phase(&Kind::new(AGENT_POOL)), BuildPhase::NodePools);
        assert_eq!(
            build_phase(&Kind::new(PRIVATE_DNS_ZONE_LINK)),
            BuildPhase::Endpoints
        );
        assert_eq!(build_phase(&Kind::new("azure.other")), BuildPhase::Other);
    }

    #[test]
    fn every_kind_is_namespaced_and_writes_through_arm() {
        let all = schemas();
        assert_eq!(all.len(), 11);
        for s in &all {
            assert_eq!(s.kind.provider(), "azure");
            assert_eq!(s.api, ApiClass::new(API_ARM_WRITE));
            assert!(s.replace_on.iter().any(|p| p == "id"), "{}", s.kind);
            assert!(s.outputs.iter().any(|o| o == "id"), "{}", s.kind);
        }
    }
}
