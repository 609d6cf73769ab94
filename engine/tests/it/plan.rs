//! Plans: every action kind, known-after-apply propagation, refresh, saved plans, locks, scale.

use std::collections::BTreeMap;
use std::time::Instant;

use slipway_engine::{
    Action, EngineError, Plan, PlanMode, Registry, ResourceGraph, Selection, apply,
    check_saved_plan, plan,
};
use slipway_provider::{Resource, ResourceState, ResourceStatus, Value};
use slipway_state::{Snapshot, SqliteStore, StateError, StateStore};

use crate::fake::FakeCloud;
use crate::support::{DIGEST, Env, addr, lock_request, render, res};

fn tags(env: &str) -> Value {
    Value::Map(BTreeMap::from([
        ("env".to_owned(), Value::from(env)),
        ("team".to_owned(), Value::from("core")),
    ]))
}

/// A small network: net <- subnet <- pool, plus independent things.
fn stage(net_cidr: &str, pool_size: &str, env: &str, with_gone: bool) -> Vec<Resource> {
    let net = addr("c", "net", "main");
    let subnet = addr("c", "subnet", "a");
    let mut out = vec![
        res(&net, &[("cidr", Value::from(net_cidr))]),
        res(
            &subnet,
            &[
                ("cidr", Value::from("10.0.1.0/24")),
                ("net_id", Value::reference(&net, "id")),
            ],
        ),
        res(
            &addr("c", "pool", "system"),
            &[
                ("size", Value::from(pool_size)),
                ("subnet_id", Value::reference(&subnet, "id")),
            ],
        ),
        res(&addr("c", "thing", "tagged"), &[("tags", tags(env))]),
        res(
            &addr("c", "thing", "stable"),
            &[("immutable", Value::from("x"))],
        ),
    ];
    if with_gone {
        out.push(res(
            &addr("c", "thing", "gone"),
            &[("n", Value::from(1i64))],
        ));
    }
    out
}

#[tokio::test(start_paused = true)]
async fn plans_show_every_action_with_reasons_and_field_diffs() {
    let env = Env::new().await;
    let first = stage("10.0.0.0/16", "m", "dev", true);
    let p = env.plan(&first, PlanMode::Apply).await;
    insta::assert_snapshot!("initial_creates", render(&p));
    assert!(env.apply(&p).await.is_success());

    let again = env.plan(&first, PlanMode::Apply).await;
    assert!(!again.has_changes(), "{}", render(&again));
    assert_eq!(again.actions.len(), 6);

    // Destroy-before-create replace of the net; the subnet's `net_id` is known after apply and
    // forces its replacement; the pool's `subnet_id` is known after apply but updates in place.
    let second = stage("10.9.0.0/16", "m", "prod", false);
    let p = env.plan(&second, PlanMode::Apply).await;
    insta::assert_snapshot!("replace_update_delete", render(&p));
    let report = env.apply(&p).await;
    assert!(report.is_success(), "{report:#?}");
    assert!(!env.plan(&second, PlanMode::Apply).await.has_changes());
    env.cloud.with(|c| {
        let nets = c.objects_at(&addr("c", "net", "main"));
        assert_eq!(nets.len(), 1);
        assert_eq!(nets[0].1.properties["cidr"], Value::from("10.9.0.0/16"));
        assert!(c.objects_at(&addr("c", "thing", "gone")).is_empty());
        // The pool was updated to point at the new subnet.
        let subnet_id = c.objects_at(&addr("c", "subnet", "a"))[0].0.clone();
        let pool = c.objects_at(&addr("c", "pool", "system"));
        assert_eq!(
            pool[0].1.properties["subnet_id"],
            Value::from(subnet_id.as_str())
        );
    });

    // Create-before-destroy replace of the pool: new object first, old one deposed and deleted.
    let third = stage("10.9.0.0/16", "xl", "prod", false);
    let p = env.plan(&third, PlanMode::Apply).await;
    insta::assert_snapshot!("create_before_destroy", render(&p));
    assert!(env.apply(&p).await.is_success());
    let snap = env.store.snapshot().await.unwrap();
    assert!(snap.deposed.is_empty());
    env.cloud.with(|c| {
        let pools = c.objects_at(&addr("c", "pool", "system"));
        assert_eq!(pools.len(), 1);
        assert_eq!(pools[0].1.properties["size"], Value::from("xl"));
        // The new pool was created before the old one was deleted.
        let pool = addr("c", "pool", "system");
        let calls: Vec<&str> = c
            .log
            .iter()
            .filter(|l| l.address == pool)
            .map(|l| l.op)
            .collect();
        assert_eq!(
            calls[calls.len() - 4..],
            ["create", "create", "delete", "delete"]
        );
    });
    assert!(!env.plan(&third, PlanMode::Apply).await.has_changes());

    let destroy = env.plan(&third, PlanMode::Destroy).await;
    assert_eq!(destroy.summary().destroy, 5);
    assert!(env.apply(&destroy).await.is_success());
    assert!(env.cloud.with(|c| c.objects.is_empty()));
    assert!(env.store.snapshot().await.unwrap().resources.is_empty());
}

#[tokio::test(start_paused = true)]
async fn refresh_finds_drift_and_objects_deleted_outside() {
    let env = Env::new().await;
    let rs = stage("10.0.0.0/16", "m", "dev", false);
    env.converge(&rs).await;
    env.cloud.with(|c| {
        let id = c.objects_at(&addr("c", "thing", "tagged"))[0].0.clone();
        c.objects
            .get_mut(&id)
            .unwrap()
            .properties
            .insert("tags".into(), tags("hacked"));
        let id = c.objects_at(&addr("c", "thing", "stable"))[0].0.clone();
        c.objects.remove(&id);
    });
    let mut opts = env.options(PlanMode::Apply);
    assert!(!env.plan_with(&rs, &opts).await.has_changes());
    opts.refresh = true;
    let p = env.plan_with(&rs, &opts).await;
    insta::assert_snapshot!(render(&p), @r#"
    ~ c/aws.thing/tagged: `tags.env` changed outside Slipway
        tags.env: "hacked" -> "dev"
    + c/aws.thing/stable: deleted outside Slipway; it will be created again
        immutable: - -> "x"
    Plan: 1 to add, 1 to change, 0 to replace, 0 to destroy.
    "#);
    assert!(env.apply(&p).await.is_success());
    assert!(!env.plan_with(&rs, &opts).await.has_changes());
}

#[tokio::test(start_paused = true)]
async fn saved_plans_apply_exactly_or_are_refused_when_state_or_blueprint_moved() {
    let env = Env::new().await;
    let rs = stage("10.0.0.0/16", "m", "dev", false);
    let p = env.plan(&rs, PlanMode::Apply).await;
    let json = serde_json::to_string(&p).unwrap();
    let saved: Plan = serde_json::from_str(&json).unwrap();
    assert_eq!(saved, p);
    assert_eq!(saved.digest(), p.digest());

    let snapshot = env.store.snapshot().await.unwrap();
    check_saved_plan(&saved, &snapshot, DIGEST).unwrap();
    let err = check_saved_plan(&saved, &snapshot, "another-digest").unwrap_err();
    assert!(matches!(err, EngineError::StalePlan { .. }), "{err}");

    // Applying the saved plan does exactly what it says.
    let report = env.apply(&saved).await;
    assert_eq!(report.succeeded, 5);
    env.cloud.with(|c| assert_eq!(c.objects.len(), 5));

    let snapshot = env.store.snapshot().await.unwrap();
    let err = check_saved_plan(&saved, &snapshot, DIGEST).unwrap_err();
    insta::assert_snapshot!(
        err.to_string().replace(&snapshot.serial.to_string(), "N"),
        @"the saved plan is stale: it was made at state serial 0 from blueprint blueprint-digest-1, but the state is at serial N and the blueprint is blueprint-digest-1; run `slipway plan` again"
    );
    let err = apply(&saved, &env.context(2)).await.unwrap_err();
    assert!(
        matches!(err, EngineError::StalePlan { plan_serial: 0, .. }),
        "{err}"
    );
    env.cloud.with(|c| assert_eq!(c.objects.len(), 5));

    let mut future = saved.clone();
    future.format_version = 99;
    assert!(matches!(
        check_saved_plan(&future, &snapshot, DIGEST),
        Err(EngineError::PlanFormat { found: 99, .. })
    ));
}

#[tokio::test]
async fn a_second_session_cannot_take_the_lock_and_learns_who_holds_it() {
    let env = Env::new().await;
    let other = SqliteStore::open(&env.dir.path().join("state.db")).unwrap();
    match other.lock(&lock_request("someone@else (pid 2)")).await {
        Err(StateError::Locked(info)) => {
            assert_eq!(info.holder, "tester@host (pid 1)");
            assert_eq!(info.id, env.lock.id);
        }
        other => panic!("expected the lock to be held, got {other:?}"),
    }
}

#[tokio::test]
async fn destroy_plans_cover_only_the_selected_clusters() {
    let env = Env::new().await;
    let rs = vec![
        res(&addr("a", "thing", "x"), &[]),
        res(&addr("b", "thing", "y"), &[]),
    ];
    let snapshot = Snapshot {
        serial: 7,
        resources: rs
            .iter()
            .map(|r| (r.address.clone(), recorded(r)))
            .collect(),
        deposed: vec![],
    };
    let graph = ResourceGraph::from_resources(rs).unwrap();
    let mut opts = env.options(PlanMode::Destroy);
    opts.selection = Selection {
        clusters: vec!["b".into()],
    };
    let p = plan(&graph, &snapshot, &opts, &env.registry).await.unwrap();
    insta::assert_snapshot!(render(&p), @r"
    - b/aws.thing/y: destroy requested
    Plan: 0 to add, 0 to change, 0 to replace, 1 to destroy.
    ");
    assert_eq!(p.state_serial, 7);
}

fn recorded(r: &Resource) -> ResourceState {
    ResourceState {
        address: r.address.clone(),
        deposed: None,
        cloud_id: Some(format!("id-{}", r.address.name)),
        properties: r.properties.clone(),
        resolved: r.properties.clone(),
        outputs: BTreeMap::from([(
            "id".to_owned(),
            Value::from(format!("id-{}", r.address.name)),
        )]),
        depends_on: r.depends_on.clone(),
        status: ResourceStatus::Ready,
    }
}

/// 40 000 resources in chains of 40, all recorded and unchanged: planning stays linear.
#[tokio::test]
async fn planning_forty_thousand_resources_is_fast() {
    let mut registry = Registry::new();
    registry.add_provider(FakeCloud::new());
    let mut resources = Vec::with_capacity(40_000);
    for c in 0..1000 {
        let cluster = format!("c{c}");
        let net = addr(&cluster, "net", "main");
        resources.push(res(&net, &[("cidr", Value::from("10.0.0.0/16"))]));
        for i in 0..39 {
            let prev = resources
                .last()
                .map(|r: &Resource| r.address.clone())
                .unwrap_or_else(|| net.clone());
            resources.push(res(
                &addr(&cluster, "thing", &format!("t{i}")),
                &[
                    ("parent", Value::reference(&prev, "id")),
                    ("tags", tags("prod")),
                ],
            ));
        }
    }
    let snapshot = Snapshot {
        serial: 1,
        resources: resources
            .iter()
            .map(|r| (r.address.clone(), recorded(r)))
            .collect(),
        deposed: vec![],
    };
    let started = Instant::now();
    let graph = ResourceGraph::from_resources(resources).unwrap();
    let opts = slipway_engine::PlanOptions {
        mode: PlanMode::Apply,
        refresh: false,
        selection: Selection::all(),
        fleet: "f".into(),
        blueprint_digest: "d".into(),
    };
    let p = plan(&graph, &snapshot, &opts, &registry).await.unwrap();
    let took = started.elapsed();
    assert_eq!(p.actions.len(), 40_000);
    assert!(p.actions.iter().all(|a| a.action == Action::NoOp));
    // Generous for unoptimised test builds; release builds take a fraction of this.
    assert!(took.as_secs_f64() < 10.0, "planning took {took:?}");
}

#[tokio::test(start_paused = true)]
async fn ignored_paths_are_sent_on_create_but_never_diffed() {
    let env = Env::new().await;
    let pool = |desired: i64, max: i64| {
        vec![res(
            &addr("c", "pool", "system"),
            &[
                ("size", Value::from("m")),
                (
                    "scaling",
                    Value::Map(BTreeMap::from([
                        ("desired".to_owned(), Value::from(desired)),
                        ("max".to_owned(), Value::from(max)),
                    ])),
                ),
            ],
        )]
    };
    let p = env.plan(&pool(3, 6), PlanMode::Apply).await;
    assert!(env.apply(&p).await.is_success());

    let unchanged = env.plan(&pool(5, 6), PlanMode::Apply).await;
    assert!(!unchanged.has_changes(), "{}", render(&unchanged));

    // The autoscaler moved the live count: refresh sees it, and it is not drift.
    env.cloud.with(|c| {
        let id = c.objects_at(&addr("c", "pool", "system"))[0].0.clone();
        let scaling = c
            .objects
            .get_mut(&id)
            .unwrap()
            .properties
            .get_mut("scaling")
            .unwrap();
        if let Value::Map(m) = scaling {
            m.insert("desired".to_owned(), Value::from(7i64));
        }
    });
    let mut opts = env.options(PlanMode::Apply);
    opts.refresh = true;
    let refreshed = env.plan_with(&pool(3, 6), &opts).await;
    assert!(!refreshed.has_changes(), "{}", render(&refreshed));

    let scaled = env.plan(&pool(5, 9), PlanMode::Apply).await;
    let action = &scaled.actions[0];
    assert_eq!(action.action, Action::Update);
    let paths: Vec<&str> = action.diffs.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(paths, ["scaling.max"]);
}
