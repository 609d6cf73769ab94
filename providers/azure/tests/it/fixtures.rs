//! Fleet and cluster values built directly (not parsed), with subnets from the blueprint
//! crate's deterministic derivation.

use std::collections::BTreeMap;

use slipway_blueprints::{
    Addon, AzureSettings, Cloud, Cluster, Endpoint, Fleet, KubeVersion, Network, NodeOs, NodePool,
    PoolRole, PoolUpgrade, RoleAssignment, Tier, WorkloadIdentity, subnets,
};

pub const SUBSCRIPTION: &str = "00000000-0000-0000-0000-0000000000a1";

fn map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn pool(name: &str, role: PoolRole, vm: &str, min: u32, max: u32) -> NodePool {
    NodePool {
        name: name.into(),
        role,
        instance_type: vm.into(),
        min,
        max,
        desired: min,
        disk_size_gb: 128,
        labels: BTreeMap::new(),
        taints: Vec::new(),
        upgrade: PoolUpgrade {
            max_surge: "33%".into(),
            max_unavailable: 0,
        },
        os: None,
    }
}

fn network(cidr: &str, zones: &[String]) -> Network {
    let cidr = cidr.parse().expect("fixture CIDR");
    Network {
        cidr,
        subnets: subnets::derive(Cloud::Azure, cidr, zones).expect("fixture subnets"),
    }
}

/// A private production cluster: three zones, a system pool, a Linux and a Windows Server
/// 2022 user pool, every add-on, two
/// workload identities with role assignments, private endpoints for ACR and Key Vault.
pub fn prod() -> Cluster {
    let zones: Vec<String> = ["1", "2", "3"].map(String::from).to_vec();
    let mut system = pool("system", PoolRole::System, "Standard_D4s_v5", 3, 6);
    system.taints = vec!["CriticalAddonsOnly=true:NoSchedule".into()];
    let mut general = pool("general", PoolRole::User, "Standard_D8s_v5", 3, 30);
    general.labels = map(&[("workload", "general")]);
    general.desired = 4;
    general.upgrade = PoolUpgrade {
        max_surge: "1".into(),
        max_unavailable: 1,
    };
    let mut win = pool("win", PoolRole::User, "Standard_D4s_v5", 1, 3);
    win.os = Some(NodeOs::Windows2022);
    let storage = format!(
        "/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/ordersdata"
    );
    let vault = format!(
        "/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-data/providers/Microsoft.KeyVault/vaults/kv-orders"
    );
    Cluster {
        name: "prod-weu".into(),
        profile: Some("prod-standard".into()),
        provider: Cloud::Azure,
        region: "westeurope".into(),
        tier: Tier::Prod,
        kubernetes: KubeVersion::new(1, 33),
        endpoint: Endpoint::Private,
        network: network("10.30.0.0/16", &zones),
        zones,
        node_pools: vec![system, general, win],
        addons: [
            "azure-keyvault-secrets-provider",
            "azure-policy",
            "monitoring",
            "keda",
            "vpa",
            "image-cleaner",
            "istio",
        ]
        .map(|name| Addon {
            name: name.into(),
            version: (name == "istio").then(|| "asm-1-28".into()),
        })
        .to_vec(),
        workload_identities: vec![
            WorkloadIdentity {
                name: "orders-api".into(),
                namespace: "orders".into(),
                service_account: "orders-api".into(),
                aws_policy_arns: Vec::new(),
                azure_role_assignments: vec![
                    RoleAssignment {
                        role: "Storage Blob Data Reader".into(),
                        scope: storage,
                    },
                    RoleAssignment {
                        role: "Key Vault Secrets User".into(),
                        scope: vault.clone(),
                    },
                ],
            },
            WorkloadIdentity {
                name: "payments-worker".into(),
                namespace: "payments".into(),
                service_account: "worker".into(),
                aws_policy_arns: Vec::new(),
                // Key Vault Crypto User, by definition GUID.
                azure_role_assignments: vec![RoleAssignment {
                    role: "12338af0-0e69-4776-bea7-57ae8d297424".into(),
                    scope: vault,
                }],
            },
        ],
        private_endpoints: vec!["acr".into(), "keyvault".into()],
        ring: Some("prod".into()),
        labels: map(&[("criticality", "tier-1")]),
        tags: map(&[("cost-center", "commerce"), ("env", "prod")]),
        dr: None,
        aws: None,
        azure: Some(AzureSettings {
            subscription_id: SUBSCRIPTION.into(),
            resource_group: "rg-prod-weu".into(),
            log_analytics_workspace_id: Some(format!(
                "/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ops/providers/Microsoft.OperationalInsights/workspaces/logs-weu"
            )),
            private_endpoint_targets: BTreeMap::from([
                (
                    "acr".to_owned(),
                    format!(
                        "/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-shared/providers/Microsoft.ContainerRegistry/registries/commerceacr"
                    ),
                ),
                (
                    "keyvault".to_owned(),
                    format!(
                        "/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-shared/providers/Microsoft.KeyVault/vaults/commerce-kv"
                    ),
                ),
            ]),
        }),
    }
}

/// A public development cluster in one zone, with one system pool and nothing else; its VNet
/// takes AKS's default service range, so the expansion must pick another.
pub fn dev() -> Cluster {
    let zones = vec!["1".to_owned()];
    Cluster {
        name: "dev-weu".into(),
        profile: None,
        provider: Cloud::Azure,
        region: "westeurope".into(),
        tier: Tier::Dev,
        kubernetes: KubeVersion::new(1, 34),
        endpoint: Endpoint::Public,
        network: network("10.0.0.0/16", &zones),
        zones,
        node_pools: vec![pool("default", PoolRole::System, "Standard_D2s_v5", 1, 3)],
        addons: Vec::new(),
        workload_identities: Vec::new(),
        private_endpoints: Vec::new(),
        ring: Some("dev".into()),
        labels: BTreeMap::new(),
        tags: map(&[("cost-center", "commerce")]),
        dr: None,
        aws: None,
        azure: Some(AzureSettings {
            subscription_id: SUBSCRIPTION.into(),
            resource_group: "rg-dev-weu".into(),
            log_analytics_workspace_id: None,
            private_endpoint_targets: BTreeMap::new(),
        }),
    }
}

/// The fleet holding both clusters.
pub fn fleet() -> Fleet {
    Fleet {
        name: "commerce".into(),
        owner: Some("platform-runtime".into()),
        clusters: vec![prod(), dev()],
        rings: Vec::new(),
        digest: "0".repeat(64),
        standbys: Vec::new(),
    }
}

/// The dev cluster at Kubernetes 1.32 with a Windows Server 2019 user pool (AKS runs that SKU
/// up to 1.32).
pub fn dev_windows_2019() -> Cluster {
    let mut c = dev();
    c.kubernetes = KubeVersion::new(1, 32);
    let mut win = pool("win19", PoolRole::User, "Standard_D4s_v5", 1, 1);
    win.os = Some(NodeOs::Windows2019);
    c.node_pools.push(win);
    c
}
