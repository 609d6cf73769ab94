//! Graph building: every problem reported at once, cross-cluster edges, selection.

use std::collections::BTreeMap;

use slipway_blueprints::{
    Cloud, Cluster, Endpoint, Fleet, KubeVersion, Network, NodePool, PoolRole, PoolUpgrade, Tier,
};
use slipway_engine::{GraphProblem, Registry, ResourceGraph, Selection, build_graph};
use slipway_provider::{Address, Value};

use crate::fake::FakeCloud;
use crate::support::{addr, res};

pub(crate) fn cluster(name: &str, cidr: &str, labels: &[(&str, &str)]) -> Cluster {
    Cluster {
        name: name.into(),
        profile: None,
        provider: Cloud::Aws,
        region: "us-east-1".into(),
        tier: Tier::Prod,
        kubernetes: KubeVersion::new(1, 33),
        endpoint: Endpoint::Private,
        zones: vec!["us-east-1a".into()],
        network: Network {
            cidr: cidr.parse().unwrap(),
            subnets: vec![],
        },
        node_pools: vec![NodePool {
            name: "system".into(),
            role: PoolRole::System,
            instance_type: "m7i.large".into(),
            min: 1,
            max: 3,
            desired: 2,
            disk_size_gb: 50,
            labels: BTreeMap::new(),
            taints: vec![],
            upgrade: PoolUpgrade {
                max_surge: "1".into(),
                max_unavailable: 0,
            },
            os: None,
        }],
        addons: vec![],
        workload_identities: vec![],
        private_endpoints: vec![],
        ring: None,
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        tags: BTreeMap::new(),
        dr: None,
        aws: None,
        azure: None,
    }
}

fn fleet() -> Fleet {
    Fleet {
        name: "fleet".into(),
        owner: None,
        clusters: vec![
            cluster("primary", "10.0.0.0/16", &[]),
            cluster("standby", "10.1.0.0/16", &[("primary", "primary")]),
            cluster("other", "10.2.0.0/16", &[]),
        ],
        rings: vec![],
        digest: "d".into(),
        standbys: Vec::new(),
    }
}

fn registry() -> Registry {
    let mut r = Registry::new();
    r.add_provider(FakeCloud::new());
    r
}

#[test]
fn cross_cluster_references_become_edges_and_selection_pulls_in_dependencies() {
    let fleet = fleet();
    let all = build_graph(&fleet, &registry(), &Selection::all()).unwrap();
    assert_eq!(all.len(), 10);
    let link = addr("standby", "thing", "link");
    let deps: Vec<String> = all
        .dependencies(&link)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(deps, ["primary/aws.net/main", "standby/aws.net/main"]);

    let only_standby = Selection {
        clusters: vec!["standby".into()],
    };
    let g = build_graph(&fleet, &registry(), &only_standby).unwrap();
    let mut addrs: Vec<String> = g.resources().map(|r| r.address.to_string()).collect();
    addrs.sort();
    insta::assert_snapshot!(addrs.join("\n"), @r"
    primary/aws.net/main
    standby/aws.net/main
    standby/aws.pool/system
    standby/aws.subnet/a
    standby/aws.thing/link
    ");
    // Dependencies come before dependents.
    let order: Vec<&Address> = g.topo_order().into_iter().map(|r| &r.address).collect();
    let pos = |a: &Address| order.iter().position(|x| *x == a).unwrap();
    assert!(pos(&addr("primary", "net", "main")) < pos(&link));
    assert!(pos(&addr("standby", "subnet", "a")) < pos(&addr("standby", "pool", "system")));
    insta::assert_snapshot!(g.to_mermaid());
}

#[test]
fn unknown_clusters_and_providers_are_reported_together() {
    let mut fleet = fleet();
    fleet.clusters[2].provider = Cloud::Azure;
    let sel = Selection {
        clusters: vec!["nope".into()],
    };
    let err = build_graph(&fleet, &registry(), &sel).unwrap_err();
    insta::assert_snapshot!(err.to_string(), @r"
    the resource graph has 2 problem(s):
      - cluster `nope` is not in the fleet
      - cluster `other` uses provider `azure`, which is not registered
    ");
}

#[test]
fn every_cycle_is_reported_with_its_chain_along_with_dangling_references_and_duplicates() {
    let a = addr("c", "thing", "a");
    let b = addr("c", "thing", "b");
    let c = addr("c", "thing", "c");
    let x = addr("d", "thing", "x");
    let y = addr("d", "thing", "y");
    let s = addr("d", "thing", "self");
    let missing = addr("d", "thing", "missing");
    let resources = vec![
        res(&a, &[("p", Value::reference(&c, "id"))]),
        res(&b, &[("p", Value::reference(&a, "id"))]),
        res(&c, &[("p", Value::reference(&b, "id"))]),
        res(
            &x,
            &[
                ("p", Value::reference(&y, "id")),
                ("q", Value::reference(&missing, "id")),
            ],
        ),
        {
            let mut r = res(&y, &[]);
            r.depends_on = vec![x.clone()];
            r
        },
        res(&s, &[("me", Value::reference(&s, "arn"))]),
        res(&s, &[]),
    ];
    let err = ResourceGraph::from_resources(resources).unwrap_err();
    let cycles = err
        .problems()
        .iter()
        .filter(|p| matches!(p, GraphProblem::Cycle { .. }))
        .count();
    assert_eq!(cycles, 3);
    insta::assert_snapshot!(err.to_string(), @r"
    the resource graph has 5 problem(s):
      - `d/aws.thing/self` is defined more than once
      - `d/aws.thing/x` references (property `q`) `d/aws.thing/missing`, which is not a resource of the fleet
      - dependency cycle: c/aws.thing/a -> c/aws.thing/b -> c/aws.thing/c -> c/aws.thing/a
      - dependency cycle: d/aws.thing/self -> d/aws.thing/self
      - dependency cycle: d/aws.thing/x -> d/aws.thing/y -> d/aws.thing/x
    ");
}

#[test]
fn renderings_are_deterministic() {
    let g = build_graph(
        &fleet(),
        &registry(),
        &Selection {
            clusters: vec!["primary".into()],
        },
    )
    .unwrap();
    insta::assert_snapshot!(g.to_dot());
    insta::assert_snapshot!(serde_json::to_string_pretty(&g.to_json()).unwrap());
}
