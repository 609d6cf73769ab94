"""Referee for the ARM side: Microsoft's own Python SDKs (azure-mgmt-resource, -network, -msi,
-containerservice) drive the emulator at EMULATOR_URL with their own serializers and LRO pollers
(`begin_*().result()`: Azure-AsyncOperation, Location, provisioningState, Retry-After).

The real bearer-token policy stays in the pipeline; only its https enforcement is lifted,
since the emulator speaks plain http. Prints `azure sdk conformance: ok` on success.
"""
import os
import sys
import time

from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.containerservice import models as cm
from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network import models as nm
from azure.mgmt.resource.resources import ResourceManagementClient

URL = os.environ["EMULATOR_URL"]
SUB = "00000000-0000-0000-0000-0000000000a1"
RG = "rg-referee"
LOC = "westeurope"
TAGS = {"slipway:fleet": "referee"}


class FakeCredential:
    """Any token: the emulator checks that a Bearer token is there, not what it says."""

    def get_token(self, *scopes, **kwargs):
        return AccessToken("referee-token", int(time.time()) + 3600)


class PlainHttpBearerPolicy(ARMChallengeAuthenticationPolicy):
    """The SDK's own bearer policy, allowed to send its token over http to the emulator."""

    def on_request(self, request):
        request.context["enforce_https"] = False
        return super().on_request(request)


def client(cls):
    cred = FakeCredential()
    policy = PlainHttpBearerPolicy(cred, "https://management.azure.com/.default")
    return cls(cred, SUB, base_url=URL, authentication_policy=policy)


def expect_error(code, fn):
    try:
        fn()
    except HttpResponseError as e:
        assert e.error is not None and e.error.code == code, (code, e.error and e.error.code, e.message)
        return e
    raise AssertionError(f"expected {code}")


def main():
    resources = client(ResourceManagementClient)
    network = client(NetworkManagementClient)
    msi = client(ManagedServiceIdentityClient)
    aks = client(ContainerServiceClient)

    rg = resources.resource_groups.create_or_update(RG, {"location": LOC, "tags": TAGS})
    assert rg.properties.provisioning_state == "Succeeded", rg
    assert resources.resource_groups.check_existence(RG)

    ident = msi.user_assigned_identities.create_or_update(
        RG, "id-referee", {"location": LOC, "tags": TAGS}
    )
    assert ident.principal_id and ident.client_id and ident.tenant_id, ident

    vnet = network.virtual_networks.begin_create_or_update(
        RG,
        "vnet-referee",
        nm.VirtualNetwork(
            location=LOC,
            tags=TAGS,
            address_space=nm.AddressSpace(address_prefixes=["10.30.0.0/16"]),
            subnets=[nm.Subnet(name="nodes", address_prefix="10.30.0.0/20")],
        ),
    ).result()
    assert vnet.provisioning_state == "Succeeded", vnet
    assert [s.name for s in vnet.subnets] == ["nodes"], vnet.subnets
    endpoints = network.subnets.begin_create_or_update(
        RG, "vnet-referee", "endpoints", nm.Subnet(address_prefix="10.30.16.0/24")
    ).result()
    assert endpoints.provisioning_state == "Succeeded", endpoints
    expect_error(
        "NetcfgSubnetRangesOverlap",
        lambda: network.subnets.begin_create_or_update(
            RG, "vnet-referee", "clash", nm.Subnet(address_prefix="10.30.1.0/24")
        ).result(),
    )
    nodes = network.subnets.get(RG, "vnet-referee", "nodes")
    assert len(list(network.subnets.list(RG, "vnet-referee"))) == 2

    cluster = cm.ManagedCluster(
        location=LOC,
        tags=TAGS,
        identity=cm.ManagedClusterIdentity(
            type="UserAssigned", user_assigned_identities={ident.id: {}}
        ),
        kubernetes_version="1.34",
        dns_prefix="referee",
        enable_rbac=True,
        agent_pool_profiles=[
            cm.ManagedClusterAgentPoolProfile(
                name="system",
                mode="System",
                count=1,
                vm_size="Standard_D4s_v5",
                os_type="Linux",
                vnet_subnet_id=nodes.id,
                orchestrator_version="1.34",
            )
        ],
        network_profile=cm.ContainerServiceNetworkProfile(
            network_plugin="azure",
            network_plugin_mode="overlay",
            pod_cidr="10.244.0.0/16",
            service_cidr="10.0.0.0/16",
            dns_service_ip="10.0.0.10",
        ),
        oidc_issuer_profile=cm.ManagedClusterOIDCIssuerProfile(enabled=True),
    )
    mc = aks.managed_clusters.begin_create_or_update(RG, "aks-referee", cluster).result()
    assert mc.provisioning_state == "Succeeded", mc
    assert mc.current_kubernetes_version.startswith("1.34."), mc.current_kubernetes_version
    assert mc.fqdn and mc.oidc_issuer_profile.issuer_url.startswith("https://"), mc
    assert mc.identity.user_assigned_identities[ident.id].principal_id == ident.principal_id
    versions = aks.managed_clusters.list_kubernetes_versions(LOC)
    assert any(v["version"] == "1.35" for v in versions["values"]), versions

    pool = aks.agent_pools.begin_create_or_update(
        RG,
        "aks-referee",
        "user1",
        cm.AgentPool(
            mode="User",
            count=2,
            vm_size="Standard_D4s_v5",
            os_type="Linux",
            vnet_subnet_id=nodes.id,
            orchestrator_version="1.34",
            tags=TAGS,
        ),
    ).result()
    assert pool.provisioning_state == "Succeeded", pool
    assert sorted(p.name for p in aks.agent_pools.list(RG, "aks-referee")) == ["system", "user1"]

    # Skipping a minor is refused; one minor at a time is an upgrade.
    mc = aks.managed_clusters.get(RG, "aks-referee")
    mc.kubernetes_version = "1.36"
    expect_error(
        "OperationNotAllowed",
        lambda: aks.managed_clusters.begin_create_or_update(RG, "aks-referee", mc).result(),
    )
    mc.kubernetes_version = "1.35"
    mc = aks.managed_clusters.begin_create_or_update(RG, "aks-referee", mc).result()
    assert mc.current_kubernetes_version.startswith("1.35."), mc.current_kubernetes_version
    profile = aks.managed_clusters.get_upgrade_profile(RG, "aks-referee")
    assert profile.control_plane_profile.kubernetes_version.startswith("1.35."), profile

    pool = aks.agent_pools.get(RG, "aks-referee", "user1")
    pool.orchestrator_version = "1.35"
    pool = aks.agent_pools.begin_create_or_update(RG, "aks-referee", "user1", pool).result()
    assert pool.current_orchestrator_version.startswith("1.35."), pool
    pool_profile = aks.agent_pools.get_upgrade_profile(RG, "aks-referee", "user1")
    assert pool_profile.kubernetes_version.startswith("1.35."), pool_profile

    fic = msi.federated_identity_credentials.create_or_update(
        RG,
        "id-referee",
        "aks-referee",
        {
            "issuer": mc.oidc_issuer_profile.issuer_url,
            "subject": "system:serviceaccount:apps:api",
            "audiences": ["api://AzureADTokenExchange"],
        },
    )
    assert fic.subject == "system:serviceaccount:apps:api", fic

    # The subnet is in use by the pools: NRP refuses to delete it.
    expect_error(
        "InUseSubnetCannotBeDeleted",
        lambda: network.subnets.begin_delete(RG, "vnet-referee", "nodes").result(),
    )

    aks.agent_pools.begin_delete(RG, "aks-referee", "user1").result()
    try:
        aks.agent_pools.get(RG, "aks-referee", "user1")
        raise AssertionError("deleted pool still readable")
    except ResourceNotFoundError:
        pass
    aks.managed_clusters.begin_delete(RG, "aks-referee").result()
    try:
        aks.managed_clusters.get(RG, "aks-referee")
        raise AssertionError("deleted cluster still readable")
    except ResourceNotFoundError:
        pass

    msi.federated_identity_credentials.delete(RG, "id-referee", "aks-referee")
    network.virtual_networks.begin_delete(RG, "vnet-referee").result()
    msi.user_assigned_identities.delete(RG, "id-referee")
    resources.resource_groups.begin_delete(RG).result()
    assert not resources.resource_groups.check_existence(RG)
    print("azure sdk conformance: ok")


if __name__ == "__main__":
    try:
        main()
    except HttpResponseError as e:
        print(f"HTTP error: {e.status_code} {e.message}", file=sys.stderr)
        raise
