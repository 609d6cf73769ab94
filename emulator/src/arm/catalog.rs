//! Reference data of the ARM side: the resource types served with the api-versions each
//! accepts, the built-in role definitions, and the AKS version calendar.
//!
//! Copied from Slipway's collected data (2026) and Microsoft's published GUIDs into the crate,
//! since the emulator must never read shared files at run time. Patch versions are synthetic
//! (`1.M.1`..`1.M.3`): the calendar knows minors only. Nothing here may hold state.

/// A served resource type: its canonical spelling, api-versions (the one Slipway's
/// expansion sends first), and whether its writes are long-running operations.
pub(crate) struct TypeSpec {
    /// `Namespace/type[/child…]`, as ARM spells it.
    pub rtype: &'static str,
    /// Accepted api-versions.
    pub versions: &'static [&'static str],
    /// PUT and DELETE answer 201/202 with `Azure-AsyncOperation`.
    pub long_running: bool,
}

const RESOURCES: &[&str] = &[
    "2024-11-01",
    "2025-04-01",
    "2024-07-01",
    "2024-03-01",
    "2023-07-01",
    "2022-09-01",
    "2021-04-01",
];
const NETWORK: &[&str] = &[
    "2024-05-01",
    "2026-03-01",
    "2025-05-01",
    "2025-03-01",
    "2025-01-01",
    "2024-10-01",
    "2024-07-01",
    "2024-03-01",
    "2024-01-01",
    "2023-11-01",
    "2023-09-01",
];
const PRIVATE_DNS: &[&str] = &["2024-06-01", "2020-06-01", "2018-09-01"];
const IDENTITY: &[&str] = &["2023-01-31", "2024-11-30", "2018-11-30"];
/// Federated credentials came with 2022-01-31-preview; 2018-11-30 does not have them.
const FEDERATED: &[&str] = &["2023-01-31", "2024-11-30"];
const AUTHORIZATION: &[&str] = &["2022-04-01", "2020-10-01", "2015-07-01"];
const CONTAINER_SERVICE: &[&str] = &[
    "2026-08-01",
    "2025-10-01",
    "2025-08-01",
    "2025-07-01",
    "2025-05-01",
    "2025-03-01",
    "2025-01-01",
    "2024-10-01",
    "2024-09-01",
];

/// Resource group type.
pub(crate) const RESOURCE_GROUP: &str = "Microsoft.Resources/resourceGroups";
/// Virtual network type.
pub(crate) const VNET: &str = "Microsoft.Network/virtualNetworks";
/// Subnet type.
pub(crate) const SUBNET: &str = "Microsoft.Network/virtualNetworks/subnets";
/// Private endpoint type.
pub(crate) const PRIVATE_ENDPOINT: &str = "Microsoft.Network/privateEndpoints";
/// A private endpoint's DNS zone group.
pub(crate) const ZONE_GROUP: &str = "Microsoft.Network/privateEndpoints/privateDnsZoneGroups";
/// Private DNS zone type.
pub(crate) const DNS_ZONE: &str = "Microsoft.Network/privateDnsZones";
/// A private DNS zone's VNet link.
pub(crate) const DNS_LINK: &str = "Microsoft.Network/privateDnsZones/virtualNetworkLinks";
/// User-assigned identity type.
pub(crate) const IDENTITY_TYPE: &str = "Microsoft.ManagedIdentity/userAssignedIdentities";
/// Federated identity credential type.
pub(crate) const FEDERATED_TYPE: &str =
    "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials";
/// Role assignment type.
pub(crate) const ROLE_ASSIGNMENT: &str = "Microsoft.Authorization/roleAssignments";
/// Role definition type.
pub(crate) const ROLE_DEFINITION: &str = "Microsoft.Authorization/roleDefinitions";
/// Managed cluster type.
pub(crate) const CLUSTER: &str = "Microsoft.ContainerService/managedClusters";
/// Agent pool type.
pub(crate) const POOL: &str = "Microsoft.ContainerService/managedClusters/agentPools";

const TYPES: &[TypeSpec] = &[
    TypeSpec {
        rtype: RESOURCE_GROUP,
        versions: RESOURCES,
        long_running: false,
    },
    TypeSpec {
        rtype: VNET,
        versions: NETWORK,
        long_running: true,
    },
    TypeSpec {
        rtype: SUBNET,
        versions: NETWORK,
        long_running: true,
    },
    TypeSpec {
        rtype: PRIVATE_ENDPOINT,
        versions: NETWORK,
        long_running: true,
    },
    TypeSpec {
        rtype: ZONE_GROUP,
        versions: NETWORK,
        long_running: true,
    },
    TypeSpec {
        rtype: DNS_ZONE,
        versions: PRIVATE_DNS,
        long_running: true,
    },
    TypeSpec {
        rtype: DNS_LINK,
        versions: PRIVATE_DNS,
        long_running: true,
    },
    TypeSpec {
        rtype: IDENTITY_TYPE,
        versions: IDENTITY,
        long_running: false,
    },
    TypeSpec {
        rtype: FEDERATED_TYPE,
        versions: FEDERATED,
        long_running: false,
    },
    TypeSpec {
        rtype: ROLE_ASSIGNMENT,
        versions: AUTHORIZATION,
        long_running: false,
    },
    TypeSpec {
        rtype: ROLE_DEFINITION,
        versions: AUTHORIZATION,
        long_running: false,
    },
    TypeSpec {
        rtype: CLUSTER,
        versions: CONTAINER_SERVICE,
        long_running: true,
    },
    TypeSpec {
        rtype: POOL,
        versions: CONTAINER_SERVICE,
        long_running: true,
    },
];

/// The served type spelled `rtype` (case-insensitive).
pub(crate) fn type_spec(rtype: &str) -> Option<&'static TypeSpec> {
    TYPES.iter().find(|t| t.rtype.eq_ignore_ascii_case(rtype))
}

/// Whether ARM knows the namespace at all (else `InvalidResourceNamespace`).
pub(crate) fn known_namespace(ns: &str) -> bool {
    TYPES.iter().any(|t| {
        t.rtype
            .split('/')
            .next()
            .is_some_and(|n| n.eq_ignore_ascii_case(ns))
    })
}

/// Built-in role definitions: `(GUID, roleName, description)`.
pub(crate) const ROLES: &[(&str, &str, &str)] = &[
    (
        "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
        "Owner",
        "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
    ),
    (
        "b24988ac-6180-42a0-ab88-20f7382dd24c",
        "Contributor",
        "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC.",
    ),
    (
        "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        "Reader",
        "View all resources, but does not allow you to make any changes.",
    ),
    (
        "4d97b98b-1d4f-4787-a291-c67834d212e7",
        "Network Contributor",
        "Lets you manage networks, but not access to them.",
    ),
    (
        "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
        "Storage Blob Data Reader",
        "Allows for read access to Azure Storage blob containers and data",
    ),
    (
        "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
        "Storage Blob Data Contributor",
        "Allows for read, write and delete access to Azure Storage blob containers and data",
    ),
    (
        "4633458b-17de-408a-b874-0445c86b69e6",
        "Key Vault Secrets User",
        "Read secret contents.",
    ),
    (
        "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
        "Key Vault Secrets Officer",
        "Perform any action on the secrets of a key vault, except manage permissions.",
    ),
    (
        "7f951dda-4ed3-4680-a7ca-43fe172d538d",
        "AcrPull",
        "acr pull",
    ),
    (
        "8311e382-0749-4cb8-b61a-304f252e45ec",
        "AcrPush",
        "acr push",
    ),
    (
        "f1a07417-d97a-45cb-824c-7a7467783830",
        "Managed Identity Operator",
        "Read and Assign User Assigned Identity",
    ),
    (
        "b12aa53e-6015-4669-85d0-8515ebb3ae7f",
        "Private DNS Zone Contributor",
        "Lets you manage private DNS zone resources, but not the virtual networks they are linked to.",
    ),
    (
        "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b",
        "Azure Kubernetes Service RBAC Cluster Admin",
        "Lets you manage all resources in the cluster.",
    ),
];

/// One Kubernetes minor on AKS: `(minor, GA, end of community support, end of LTS)`; month-only
/// dates in the published table are read as the first (GA) or last (ends) day of the month.
pub(crate) const AKS_CALENDAR: &[(&str, &str, &str, Option<&str>)] = &[
    ("1.23", "2022-04-26", "2023-04-02", None),
    ("1.24", "2022-08-17", "2023-07-31", None),
    ("1.25", "2022-12-14", "2024-01-14", None),
    ("1.26", "2023-04-18", "2024-04-11", None),
    ("1.27", "2023-07-01", "2024-07-31", Some("2025-07-31")),
    ("1.28", "2023-11-01", "2025-01-31", Some("2026-02-28")),
    ("1.29", "2024-03-01", "2025-03-31", Some("2026-04-30")),
    ("1.30", "2024-07-01", "2025-08-22", Some("2026-07-31")),
    ("1.31", "2024-11-01", "2025-11-01", Some("2026-11-30")),
    ("1.32", "2025-04-01", "2026-03-31", Some("2027-03-31")),
    ("1.33", "2025-06-01", "2026-07-31", Some("2027-07-31")),
    ("1.34", "2025-11-01", "2026-11-30", Some("2027-11-30")),
    ("1.35", "2026-03-01", "2027-03-31", Some("2028-03-31")),
    ("1.36", "2026-06-01", "2027-06-30", Some("2028-06-30")),
    ("1.37", "2026-10-01", "2027-10-31", Some("2028-10-31")),
];

/// Synthetic patch releases of every minor.
const PATCHES: [u32; 3] = [1, 2, 3];

/// The minor number of `1.M` or `1.M.P`.
pub(crate) fn minor(version: &str) -> Option<u32> {
    let mut parts = version.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("1"), Some(m), _, None) => m.parse().ok(),
        _ => None,
    }
}

/// Whether `1.M` may run on `today` (LTS extends support for Premium clusters).
pub(crate) fn supported_minor(minor_version: &str, today: &str, lts: bool) -> bool {
    AKS_CALENDAR.iter().any(|(v, ga, end, lts_end)| {
        *v == minor_version
            && *ga <= today
            && (today <= *end || (lts && lts_end.is_some_and(|e| today <= e)))
    })
}

/// Every minor supported on `today`, oldest first.
pub(crate) fn supported_minors(today: &str, lts: bool) -> Vec<&'static str> {
    AKS_CALENDAR
        .iter()
        .filter(|(v, ..)| supported_minor(v, today, lts))
        .map(|(v, ..)| *v)
        .collect()
}

/// Whether `1.M` has a long-term-support window at all.
pub(crate) fn has_lts(minor_version: &str) -> bool {
    AKS_CALENDAR
        .iter()
        .any(|(v, _, _, lts)| *v == minor_version && lts.is_some())
}

/// The patch versions of `1.M`, oldest first.
pub(crate) fn patches(minor_version: &str) -> Vec<String> {
    PATCHES
        .iter()
        .map(|p| format!("{minor_version}.{p}"))
        .collect()
}

/// The full version a request's `1.M` or `1.M.P` runs as, when it names a known release.
pub(crate) fn resolve(version: &str) -> Option<String> {
    let m = minor(version)?;
    let minor_version = format!("1.{m}");
    AKS_CALENDAR.iter().find(|(v, ..)| *v == minor_version)?;
    let all = patches(&minor_version);
    if version == minor_version {
        all.last().cloned()
    } else {
        all.into_iter().find(|p| p == version)
    }
}

/// The version a cluster gets when it names none: the second-newest supported minor, as AKS
/// defaults to a well-soaked release rather than the newest.
pub(crate) fn default_minor(today: &str) -> Option<&'static str> {
    let all = supported_minors(today, false);
    match all.len() {
        0 => None,
        1 => all.first().copied(),
        n => all.get(n - 2).copied(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calendar_answers_support_on_a_date() {
        assert!(supported_minor("1.33", "2026-07-01", false));
        assert!(!supported_minor("1.33", "2026-08-01", false));
        assert!(supported_minor("1.33", "2026-08-01", true));
        assert!(!supported_minor("1.26", "2026-08-01", true));
        assert_eq!(
            supported_minors("2026-08-01", false),
            ["1.34", "1.35", "1.36"]
        );
        assert_eq!(default_minor("2026-08-01"), Some("1.35"));
        assert_eq!(resolve("1.34").as_deref(), Some("1.34.3"));
        assert_eq!(resolve("1.34.2").as_deref(), Some("1.34.2"));
        assert_eq!(resolve("1.34.9"), None);
        assert_eq!(resolve("2.0"), None);
        assert_eq!(minor("1.33.2"), Some(33));
    }

    #[test]
    fn types_and_namespaces_are_found_case_insensitively() {
        assert_eq!(
            type_spec("microsoft.network/VIRTUALNETWORKS").map(|t| t.rtype),
            Some(VNET)
        );
        assert!(known_namespace("microsoft.containerservice"));
        assert!(!known_namespace("Microsoft.Compute"));
        assert!(ROLES.iter().any(|(_, n, _)| *n == "AcrPull"));
    }
}
