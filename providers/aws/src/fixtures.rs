//! Test fixtures: validated fleet models built directly, as the blueprint loader would produce
//! them, so expansion tests do not depend on the parser. Test-only; never used by the library.

use std::collections::BTreeMap;

use slipway_blueprints::subnets;
use slipway_blueprints::{
    AccessEntry, Addon, AwsSettings, AwsWorkloadIdentityMode, Cloud, Cluster, Endpoint, Fleet,
    KubeVersion, Network, NodePool, PoolRole, PoolUpgrade, Tier, WorkloadIdentity,
};

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn pool(name: &str, role: PoolRole, instance_type: &str, min: u32, max: u32) -> NodePool {
    NodePool {
        name: name.to_owned(),
        role,
        instance_type: instance_type.to_owned(),
        min,
        max,
        desired: min,
        disk_size_gb: 50,
        labels: BTreeMap::new(),
        taints: Vec::new(),
        upgrade: PoolUpgrade {
            max_surge: "1".to_owned(),
            max_unavailable: 1,
        },
        os: None,
    }
}

fn addons(names: &[&str]) -> Vec<Addon> {
    names
        .iter()
        .map(|n| Addon {
            name: (*n).to_owned(),
            version: None,
        })
        .collect()
}

fn identity(name: &str, namespace: &str, policies: &[&str]) -> WorkloadIdentity {
    WorkloadIdentity {
        name: name.to_owned(),
        namespace: namespace.to_owned(),
        service_account: name.to_owned(),
        aws_policy_arns: strings(policies),
        azure_role_assignments: Vec::new(),
    }
}

fn network(cidr: &str, zones: &[String]) -> Network {
    let cidr = cidr.parse().expect("fixture CIDR");
    Network {
        cidr,
        subnets: subnets::derive(Cloud::Aws, cidr, zones).expect("fixture subnets"),
    }
}

/// A 3-zone prod cluster with a private endpoint, two pools, IRSA identities, VPC endpoints,
/// a KMS key and access entries.
pub fn prod_private() -> Cluster {
    let zones = strings(&["us-east-1a", "us-east-1b", "us-east-1c"]);
    let mut system = pool("system", PoolRole::System, "m6i.large", 3, 6);
    system.taints = strings(&["CriticalAddonsOnly=true:PreferNoSchedule"]);
    let mut general = pool("general", PoolRole::User, "m6i.xlarge", 3, 30);
    general.labels = map(&[("workload", "general")]);
    general.upgrade.max_unavailable = 2;
    Cluster {
        name: "prod-use1".to_owned(),
        profile: Some("prod-standard".to_owned()),
        provider: Cloud::Aws,
        region: "us-east-1".to_owned(),
        tier: Tier::Prod,
        kubernetes: KubeVersion::new(1, 33),
        endpoint: Endpoint::Private,
        network: network("10.10.0.0/16", &zones),
        zones,
        node_pools: vec![system, general],
        addons: addons(&["coredns", "kube-proxy", "vpc-cni", "ebs-csi"]),
        workload_identities: vec![
            identity(
                "orders-api",
                "orders",
                &["arn:aws:iam::aws:policy/AmazonSQSFullAccess"],
            ),
            identity(
                "reports",
                "analytics",
                &[
                    "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
                    "arn:aws:iam::aws:policy/AmazonAthenaFullAccess",
                ],
            ),
        ],
        private_endpoints: strings(&["s3", "ecr.api", "ecr.dkr", "sts"]),
        ring: Some("prod".to_owned()),
        labels: map(&[("criticality", "tier-1")]),
        tags: map(&[("cost-center", "commerce")]),
        dr: None,
        aws: Some(AwsSettings {
            workload_identity: AwsWorkloadIdentityMode::Irsa,
            secrets_kms_key_arn: Some(
                "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                    .to_owned(),
            ),
            access_entries: vec![
                AccessEntry {
                    principal_arn: "arn:aws:iam::111122223333:role/platform-admins".to_owned(),
                    policies: strings(&["AmazonEKSClusterAdminPolicy"]),
                    namespaces: Vec::new(),
                },
                AccessEntry {
                    principal_arn: "arn:aws:iam::111122223333:role/teams/orders-dev".to_owned(),
                    policies: strings(&[
                        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy",
                    ]),
                    namespaces: strings(&["orders"]),
                },
            ],
        }),
        azure: None,
    }
}

/// A 2-zone dev cluster with a public endpoint, one pool and Pod Identity.
pub fn dev_public() -> Cluster {
    let zones = strings(&["us-east-1a", "us-east-1b"]);
    Cluster {
        name: "dev-use1".to_owned(),
        profile: None,
        provider: Cloud::Aws,
        region: "us-east-1".to_owned(),
        tier: Tier::Dev,
        kubernetes: KubeVersion::new(1, 34),
        endpoint: Endpoint::Public,
        network: network("10.40.0.0/16", &zones),
        zones,
        node_pools: vec![pool("default", PoolRole::System, "t3.large", 1, 3)],
        addons: addons(&["coredns", "kube-proxy", "vpc-cni", "ebs-csi"]),
        workload_identities: vec![identity(
            "orders-api",
            "orders",
            &["arn:aws:iam::aws:policy/AmazonSQSFullAccess"],
        )],
        private_endpoints: Vec::new(),
        ring: Some("dev".to_owned()),
        labels: BTreeMap::new(),
        tags: map(&[("cost-center", "commerce")]),
        dr: None,
        aws: Some(AwsSettings {
            workload_identity: AwsWorkloadIdentityMode::PodIdentity,
            secrets_kms_key_arn: None,
            access_entries: Vec::new(),
        }),
        azure: None,
    }
}

/// The fleet holding both fixture clusters.
pub fn fleet() -> Fleet {
    Fleet {
        name: "commerce".to_owned(),
        owner: Some("platform-runtime".to_owned()),
        clusters: vec![prod_private(), dev_public()],
        rings: Vec::new(),
        digest: "0".repeat(64),
        standbys: Vec::new(),
    }
}
