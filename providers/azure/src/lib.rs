//! Slipway's Azure provider: what a blueprint cluster becomes on AKS.
//!
//! The pure half, [`AzureExpander`], expands one cluster into ARM resources without
//! credentials or network. [`AzureProvider`] adds the ARM operations on top of it (azure_core
//! pipeline, long-running-operation polling, adoption of interrupted creates) and sends exactly
//! what the expansion describes.
//!
//! # Resources
//!
//! Every resource has three properties the provider acts on:
//! - `id`: the ARM resource id, derived from subscription, resource group and names, so the
//!   provider PUTs to a known URL and a re-run adopts what an interrupted run created;
//! - `api_version`: the `api-version` query parameter (see the `API_*` constants);
//! - `body`: the PUT body, spelled as ARM spells it (`location`, `tags`, `identity`, `sku`,
//!   camelCase `properties`), with [`slipway_provider::Value::Ref`]s where a field needs
//!   another resource's output (a subnet's `id`, an identity's `principalId`, the cluster's
//!   `oidcIssuerUrl`).
//!
//! Some kinds carry one more: `azure.role_assignment` has `role` (as written in the blueprint)
//! and `scope`; `azure.private_endpoint` has `target` (the catalogue name, e.g. `acr`) and
//! `dns_zone_group` (`id` and `body` of its `privateDnsZoneGroups/default` child, which the
//! provider PUTs with [`API_NETWORK`] after the endpoint so that the endpoint's address lands in the
//! `privatelink.*` zone).
//!
//! Ownership tags ([`slipway_provider::TAG_FLEET`], [`slipway_provider::TAG_CLUSTER`],
//! [`slipway_provider::TAG_ADDRESS`]) and the cluster's tags are in `body.tags` of every
//! tracked resource (resource group, VNet, identities, managed cluster, private endpoints,
//! private DNS zones and links) and in `body.properties.tags` of agent pools (their scale-set
//! tags; agent pools have no top-level tags). Subnets, federated credentials and role
//! assignments are not taggable in ARM.
//!
//! # API versions
//!
//! ContainerService [`API_CONTAINER_SERVICE`] (2026-08-01, the swagger this crate follows);
//! Network [`API_NETWORK`] (2024-05-01) and its separately versioned private DNS
//! [`API_PRIVATE_DNS`] (2024-06-01); ManagedIdentity [`API_MANAGED_IDENTITY`] (2023-01-31, the
//! first GA version with federated credentials); Authorization [`API_AUTHORIZATION`]
//! (2022-04-01); Resources [`API_RESOURCES`] (2024-11-01). All are GA versions.
//!
//! # Kind schemas
//!
//! [`KindSchema::replace_on`](slipway_provider::KindSchema) entries are **dotted paths** into
//! a resource's properties: `body.properties.vmSize` is the `vmSize` key of the `properties`
//! map inside `body`. A change at or below such a path forces replacement; everything else
//! updates in place with a PUT. Only agent pools are replaced create-before-destroy. Every kind
//! writes through the [`API_ARM_WRITE`] bucket (PUT and DELETE); reads use [`API_ARM_READ`].
//!
//! # Decisions the provider relies on
//!
//! - **Names.** Address names are stable roles (`main`, `nodes`, `control-plane`,
//!   `wi-<identity>`, the pool name, the endpoint target, the DNS zone); ARM names follow the
//!   Azure naming conventions (`vnet-<cluster>`, `id-<cluster>-control-plane`,
//!   `id-<cluster>-wi-<identity>`, `pe-<cluster>-<target>`, the cluster name for the managed
//!   cluster, the pool name for agent pools). Names are checked against ARM's limits and
//!   refused with an error, never truncated, except the DNS prefix (cluster name cut to 54).
//!   One resource group per cluster is assumed: two clusters sharing one would share the
//!   `azure.resource_group` object and the `privatelink.*` zones.
//! - **The system pool.** AKS refuses to create a cluster without a system pool, so the first
//!   `system` pool is inline in the cluster's `agentPoolProfiles`; it is also an
//!   `azure.agent_pool` resource of the same name, which owns the pool afterwards. Its create
//!   finds the pool the cluster made and PUTs the same body (an idempotent update); the provider
//!   sends `agentPoolProfiles` only when creating the cluster and updates the cluster by
//!   reading it and overlaying everything else, so pools are never changed through the cluster.
//!   When the inline pool is replaced, AKS keeps the cluster; the stale inline profile is never
//!   sent again.
//! - **Pool replacement.** Agent pools are create-before-destroy; pool names are at most 12
//!   lowercase letters and digits and fixed per cluster, so the provider creates the
//!   replacement under a new physical name (the first 10 characters of the pool name and two
//!   base-36 characters derived from the replaced object's id) and reports it as the `name`
//!   output.
//! - **Autoscaling.** A pool with `min < max` has `enableAutoScaling` with `minCount` and
//!   `maxCount`; `count` is the creation size, and the provider sends the live count on
//!   updates so it never fights the autoscaler.
//! - **API endpoint.** `private` is a private cluster with AKS's system-managed private DNS
//!   zone (`privateDNSZone: system`) and no public FQDN, so no zone resource is expanded for
//!   it. `public` and `public-and-private` are a public API server: AKS cannot serve both
//!   without API Server VNet Integration, which needs a delegated subnet the derived layout
//!   does not have.
//! - **Network.** Azure CNI overlay with the Cilium dataplane and policy; pod and service
//!   ranges are the first fixed RFC 1918 candidates clear of the VNet (they depend on the VNet
//!   CIDR only, so they never move). The control-plane identity gets Network Contributor on
//!   the VNet before the cluster is created. VNet updates must keep the live `subnets`: a VNet
//!   PUT without them deletes them, so the provider reads and merges.
//! - **Roles.** A role given as a GUID or full role definition id is in
//!   `body.properties.roleDefinitionId`; a display name (`Storage Blob Data Reader`) is left in
//!   `role` and the provider resolves it (`roleDefinitions?$filter=roleName eq '…'` at the
//!   scope) before the PUT. Role assignment names are GUIDs derived from fleet, subscription
//!   and address (SHA-256, RFC 9562 version 8), so a re-run PUTs to the same name.
//! - **Private endpoints.** Each endpoint connects to the resource the blueprint names
//!   (`privateEndpoints: [{name, resourceId}]`, in `AzureSettings::private_endpoint_targets`):
//!   its id is `privateLinkServiceId`, the catalogue gives `groupIds` and the zone; the
//!   `target` property names the catalogue entry. An endpoint without a target is an error.
//! - **Monitoring.** `omsagent` sends to the blueprint's Log Analytics workspace
//!   (`azure.logAnalyticsWorkspaceId`); without one the expansion fails.
//! - **Node OS.** A pool's `os` maps to `osType`/`osSKU`: none or `ubuntu` → Linux/Ubuntu (AKS's
//!   default), `azure-linux` → Linux/AzureLinux, `windows-2019`/`windows-2022` → Windows with that
//!   SKU; EKS image families are an error. Windows pools must be user pools with names of at most
//!   6 characters. Linux SKU changes update in place (AKS's OS SKU migration); an `osType` change
//!   or a Windows SKU change (the `windows_sku` property of Windows pools) replaces the pool.
//! - **Upgrade evidence.** `upgrade_evidence` GETs the managed cluster, its agent pools, its
//!   `upgradeProfiles/default` and the location's `kubernetesVersions`, paced as reads and never
//!   journaled. `upgrades_offered` holds the minors above the current one that the upgrade
//!   profile lists. The 2026-08-01 API has no add-on versions (`componentsByReleases` is
//!   preview-only), so add-ons get a note instead of invented versions; `istio` is the
//!   exception: its evidence is the installed mesh revision and the location's
//!   `meshRevisionProfiles/istio` revisions compatible with the target minor.
//! - **Readiness evidence.** `readiness_evidence` GETs the managed cluster, its agent pools,
//!   and per workload identity its user-assigned identity (principal: the client id) and
//!   federated credentials, following `nextLink`. Add-ons are those the cluster has switched
//!   on, under their blueprint names (`workload-identity` for the security profile switch),
//!   ready when the cluster is. A stopped cluster or pool is degraded.
//! - **Add-ons.** `azure-keyvault-secrets-provider`, `azure-policy` and `monitoring` are
//!   `addonProfiles` (`azureKeyvaultSecretsProvider`, `azurepolicy`, `omsagent`); `keda` and
//!   `vpa` are `workloadAutoScalerProfile` switches; `image-cleaner` is
//!   `securityProfile.imageCleaner`. AKS versions them with the cluster, so a pinned version is
//!   an error. `istio` is the exception: it is `serviceMeshProfile` (mode `Istio`) and its
//!   `version` is the mesh revision sent as `istio.revisions: [REV]`; unpinned, `revisions` is
//!   left out and AKS installs its default revision for the cluster's minor. The auto-upgrade
//!   channel is `none`: Slipway's rings own version changes.

mod aks;
mod expand;
mod identity;
mod ids;
mod kinds;
mod network;
mod provider;

pub use aks::addon_catalogue;
pub use expand::{AzureExpander, ExpandError};
pub use kinds::{
    AGENT_POOL, API_ARM_READ, API_ARM_WRITE, API_AUTHORIZATION, API_CONTAINER_SERVICE,
    API_MANAGED_IDENTITY, API_NETWORK, API_PRIVATE_DNS, API_RESOURCES,
    FEDERATED_IDENTITY_CREDENTIAL, MANAGED_CLUSTER, PRIVATE_DNS_ZONE, PRIVATE_DNS_ZONE_LINK,
    PRIVATE_ENDPOINT, RESOURCE_GROUP, ROLE_ASSIGNMENT, SUBNET, USER_ASSIGNED_IDENTITY,
    VIRTUAL_NETWORK,
};
pub use network::private_endpoint_catalogue;
pub use provider::{
    ArmClient, ArmMethod, ArmResponse, AzureCredentialChoice, AzureProvider, AzureProviderConfig,
    CONFLICT_GRACE,
};
