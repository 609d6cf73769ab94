//! ARM resource id builders and deterministic names.
//!
//! Every id here is computed from the subscription, the resource group and resource names, so
//! the desired state carries the exact id the provider will PUT to before the object exists.
//! This module only formats strings: it never validates blueprint input (see `expand`) and
//! never talks to ARM.

use sha2::{Digest, Sha256};

/// The subscription and resource group one cluster's resources live in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArmScope {
    /// Subscription id (a GUID).
    pub subscription: String,
    /// Resource group name.
    pub resource_group: String,
}

impl ArmScope {
    /// `/subscriptions/{sub}`.
    pub fn subscription_id(&self) -> String {
        format!("/subscriptions/{}", self.subscription)
    }

    /// `/subscriptions/{sub}/resourceGroups/{rg}`.
    pub fn resource_group_id(&self) -> String {
        format!(
            "{}/resourceGroups/{}",
            self.subscription_id(),
            self.resource_group
        )
    }

    fn provider(&self, namespace_and_type: &str, name: &str) -> String {
        format!(
            "{}/providers/{namespace_and_type}/{name}",
            self.resource_group_id()
        )
    }

    /// A virtual network.
    pub fn virtual_network(&self, name: &str) -> String {
        self.provider("Microsoft.Network/virtualNetworks", name)
    }

    /// A subnet of a virtual network.
    pub fn subnet(&self, vnet: &str, name: &str) -> String {
        format!("{}/subnets/{name}", self.virtual_network(vnet))
    }

    /// A user-assigned managed identity.
    pub fn user_assigned_identity(&self, name: &str) -> String {
        self.provider("Microsoft.ManagedIdentity/userAssignedIdentities", name)
    }

    /// A federated identity credential of a user-assigned identity.
    pub fn federated_identity_credential(&self, identity: &str, name: &str) -> String {
        format!(
            "{}/federatedIdentityCredentials/{name}",
            self.user_assigned_identity(identity)
        )
    }

    /// A managed cluster.
    pub fn managed_cluster(&self, name: &str) -> String {
        self.provider("Microsoft.ContainerService/managedClusters", name)
    }

    /// An agent pool of a managed cluster.
    pub fn agent_pool(&self, cluster: &str, name: &str) -> String {
        format!("{}/agentPools/{name}", self.managed_cluster(cluster))
    }

    /// A private endpoint.
    pub fn private_endpoint(&self, name: &str) -> String {
        self.provider("Microsoft.Network/privateEndpoints", name)
    }

    /// The DNS zone group of a private endpoint.
    pub fn private_dns_zone_group(&self, endpoint: &str, name: &str) -> String {
        format!(
            "{}/privateDnsZoneGroups/{name}",
            self.private_endpoint(endpoint)
        )
    }

    /// A private DNS zone.
    pub fn private_dns_zone(&self, zone: &str) -> String {
        self.provider("Microsoft.Network/privateDnsZones", zone)
    }

    /// A virtual network link of a private DNS zone.
    pub fn private_dns_zone_link(&self, zone: &str, name: &str) -> String {
        format!("{}/virtualNetworkLinks/{name}", self.private_dns_zone(zone))
    }

    /// A built-in or custom role definition, by GUID, as seen from this subscription.
    pub fn role_definition(&self, guid: &str) -> String {
        format!(
            "{}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
            self.subscription_id()
        )
    }
}

/// A role assignment at any ARM scope (a resource, a resource group, a subscription).
pub(crate) fn role_assignment(scope: &str, guid: &str) -> String {
    format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{guid}")
}

/// Whether `s` is a GUID in its 8-4-4-4-12 hexadecimal form.
pub(crate) fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A name-based GUID: the first 128 bits of SHA-256 of `seed`, marked as an RFC 9562
/// version-8 (custom) UUID. Role assignments need GUID names; deriving them from the seed makes
/// a re-run PUT to the same name, so an interrupted create is adopted instead of duplicated.
pub(crate) fn name_guid(seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The first eight hex digits of SHA-256 of `seed`: a short, stable discriminator for names.
pub(crate) fn short_hash(seed: &str) -> String {
    hex::encode(&Sha256::digest(seed.as_bytes())[..4])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> ArmScope {
        ArmScope {
            subscription: "00000000-0000-0000-0000-000000000001".into(),
            resource_group: "rg-prod".into(),
        }
    }

    #[test]
    fn ids_follow_the_arm_layout() {
        let s = scope();
        assert_eq!(
            s.subnet("vnet-a", "nodes"),
            "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-prod/providers/Microsoft.Network/virtualNetworks/vnet-a/subnets/nodes"
        );
        assert_eq!(
            s.agent_pool("prod", "system"),
            "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-prod/providers/Microsoft.ContainerService/managedClusters/prod/agentPools/system"
        );
        assert_eq!(
            role_assignment("/subscriptions/x", "g"),
            "/subscriptions/x/providers/Microsoft.Authorization/roleAssignments/g"
        );
    }

    #[test]
    fn name_guids_are_stable_well_formed_version_8_uuids() {
        let a = name_guid("fleet/prod/azure.role_assignment/x");
        assert_eq!(a, name_guid("fleet/prod/azure.role_assignment/x"));
        assert_ne!(a, name_guid("fleet/prod/azure.role_assignment/y"));
        assert!(is_guid(&a), "{a}");
        assert_eq!(&a[14..15], "8");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
    }

    #[test]
    fn guid_shape_is_checked() {
        assert!(is_guid("00000000-0000-0000-0000-000000000000"));
        assert!(!is_guid("00000000-0000-0000-0000-00000000000"));
        assert!(!is_guid("0000000g-0000-0000-0000-000000000000"));
        assert!(!is_guid("…"));
    }
}
