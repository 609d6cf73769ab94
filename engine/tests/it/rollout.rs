//! Rollout plans: rings in blueprint order, one minor at a time from what runs, never back.

use std::collections::BTreeMap;
use std::time::Duration;

use slipway_blueprints::{Fleet, KubeVersion, Ring};
use slipway_engine::rollout::plan_rollout;

use crate::graph::cluster;

fn fleet() -> Fleet {
    let mut a = cluster("a", "10.0.0.0/16", &[]);
    a.kubernetes = KubeVersion::new(1, 34);
    a.ring = Some("prod".into());
    let mut b = cluster("b", "10.1.0.0/16", &[]);
    b.kubernetes = KubeVersion::new(1, 35);
    b.ring = Some("dev".into());
    let lone = cluster("lone", "10.2.0.0/16", &[]);
    let ring = |name: &str| Ring {
        name: name.into(),
        soak: Duration::ZERO,
        max_parallel: 1,
        failure_threshold: 0,
        gates: vec![],
        approval: false,
    };
    Fleet {
        name: "f".into(),
        owner: None,
        clusters: vec![a, b, lone],
        rings: vec![ring("dev"), ring("prod")],
        digest: "d".into(),
        standbys: Vec::new(),
    }
}

#[test]
fn rings_keep_blueprint_order_and_hops_go_one_minor_at_a_time_from_what_runs() {
    let fleet = fleet();
    let (rings, unringed) =
        plan_rollout(&fleet, &BTreeMap::new(), KubeVersion::new(1, 36)).unwrap();
    let names: Vec<&str> = rings.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["dev", "prod"]);
    assert_eq!(rings[0].clusters[0].hops, ["1.36"]);
    assert_eq!(rings[1].clusters[0].from, "1.34");
    assert_eq!(rings[1].clusters[0].hops, ["1.35", "1.36"]);
    assert_eq!(unringed, ["lone"]);

    // The cloud runs `a` at 1.35 already (the blueprint lags): one hop left.
    let live = BTreeMap::from([("a".to_owned(), KubeVersion::new(1, 35))]);
    let (rings, _) = plan_rollout(&fleet, &live, KubeVersion::new(1, 36)).unwrap();
    assert_eq!(rings[1].clusters[0].hops, ["1.36"]);

    // A cluster at the target has nothing to do; one past it refuses the rollout.
    let (rings, _) = plan_rollout(&fleet, &BTreeMap::new(), KubeVersion::new(1, 35)).unwrap();
    assert!(rings[0].clusters[0].hops.is_empty());
    let err = plan_rollout(&fleet, &BTreeMap::new(), KubeVersion::new(1, 34)).unwrap_err();
    assert!(err.to_string().contains("`b` runs 1.35"), "{err}");
    assert!(err.to_string().contains("never goes back"), "{err}");
}
