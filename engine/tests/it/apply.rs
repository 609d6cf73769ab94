//! Walks: failures and skips, retries, tainting, and resuming an interrupted apply.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use slipway_engine::{ApplyContext, OutcomeResult, PlanMode, TokenBucketPacer, WalkEvent, apply};
use slipway_provider::{Address, ErrorClass, Resource, ResourceStatus, Value};
use slipway_state::{JournalEvent, StateStore};

use crate::support::{Env, addr, lock_request, render, res};

/// net <- subnet <- pool, and an independent thing.
fn chain() -> (Vec<Resource>, [Address; 4]) {
    let net = addr("c", "net", "main");
    let subnet = addr("c", "subnet", "a");
    let pool = addr("c", "pool", "system");
    let thing = addr("c", "thing", "t");
    let rs = vec![
        res(&net, &[("cidr", Value::from("10.0.0.0/16"))]),
        res(&subnet, &[("net_id", Value::reference(&net, "id"))]),
        res(
            &pool,
            &[
                ("subnet_id", Value::reference(&subnet, "id")),
                ("size", Value::from("m")),
            ],
        ),
        res(&thing, &[("n", Value::from(1i64))]),
    ];
    (rs, [net, subnet, pool, thing])
}

#[tokio::test(start_paused = true)]
async fn a_failure_skips_exactly_its_descendants_and_independent_branches_carry_on() {
    let env = Env::new().await;
    let (rs, [net, subnet, pool, thing]) = chain();
    env.cloud
        .fail(&subnet, "create", ErrorClass::Fatal, u32::MAX);
    let p = env.plan(&rs, PlanMode::Apply).await;
    let report = env.apply(&p).await;
    assert_eq!(report.failed, vec![subnet.clone()]);
    assert_eq!(report.skipped, vec![pool.clone()]);
    assert_eq!(report.succeeded, 2);
    let pool_outcome = report.outcomes.iter().find(|o| o.address == pool).unwrap();
    assert_eq!(
        pool_outcome.result,
        OutcomeResult::Skipped {
            because: subnet.clone()
        }
    );

    let events = env.events.0.lock().unwrap().clone();
    let skipped: Vec<&WalkEvent> = events
        .iter()
        .filter(|e| matches!(e, WalkEvent::Skipped { .. }))
        .collect();
    assert_eq!(skipped.len(), 1);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, WalkEvent::Finished { address, .. } if *address == net))
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, WalkEvent::Finished { address, .. } if *address == thing))
    );
    assert!(events.iter().any(|e| matches!(e, WalkEvent::Waiting { address, on } if *address == pool && *on == [subnet.clone()])));

    let journal = env.store.journal(Some(&report.run_id)).await.unwrap();
    let outcomes: Vec<(String, bool)> = journal
        .iter()
        .filter_map(|e| match &e.event {
            JournalEvent::Outcome { ok, .. } => {
                Some((e.address.as_ref().unwrap().name.clone(), *ok))
            }
            _ => None,
        })
        .collect();
    assert_eq!(outcomes.len(), 4);
    assert!(outcomes.contains(&("system".into(), false)));
    let run = &env.store.history(1).await.unwrap()[0];
    assert_eq!(run.outcome, Some(slipway_state::RunOutcome::Failed));
    assert_eq!(run.plan_digest.as_deref(), Some(p.digest().as_str()));

    // Once the cloud recovers, the next plan picks up where this one stopped.
    env.cloud.fail(&subnet, "create", ErrorClass::Fatal, 0);
    let p = env.plan(&rs, PlanMode::Apply).await;
    assert_eq!(p.summary().add, 2);
    assert!(env.apply(&p).await.is_success());
}

#[tokio::test(start_paused = true)]
async fn retryable_errors_are_retried_and_never_surfaced_while_attempts_remain() {
    let env = Env::new().await;
    let (rs, [_, subnet, _, thing]) = chain();
    env.cloud.fail(&thing, "create", ErrorClass::Throttled, 3);
    env.cloud.fail(&subnet, "wait", ErrorClass::Transient, 2);
    let report = env.converge(&rs).await;
    assert_eq!(report.succeeded, 4);
    let events = env.events.0.lock().unwrap().clone();
    assert!(!events.iter().any(|e| matches!(e, WalkEvent::Failed { .. })));
    let retries = events
        .iter()
        .filter(
            |e| matches!(e, WalkEvent::Progress { message, .. } if message.contains("retrying")),
        )
        .count();
    assert_eq!(retries, 5);
    env.cloud.with(|c| assert_eq!(c.creates[&thing], 1));
}

#[tokio::test(start_paused = true)]
async fn a_failed_wait_taints_the_object_and_the_next_plan_replaces_it() {
    let env = Env::new().await;
    let (rs, [_, _, pool, _]) = chain();
    env.cloud.fail(&pool, "wait", ErrorClass::Fatal, 1);
    let p = env.plan(&rs, PlanMode::Apply).await;
    let report = env.apply(&p).await;
    assert_eq!(report.failed, vec![pool.clone()]);
    let snap = env.store.snapshot().await.unwrap();
    assert_eq!(snap.resources[&pool].status, ResourceStatus::Tainted);
    let p = env.plan(&rs, PlanMode::Apply).await;
    insta::assert_snapshot!(render(&p), @r"
    +/- c/aws.pool/system: tainted by a failed operation
    Plan: 0 to add, 0 to change, 1 to replace, 0 to destroy.
    ");
    assert!(env.apply(&p).await.is_success());
    env.cloud.with(|c| assert_eq!(c.objects_at(&pool).len(), 1));
}

#[tokio::test(start_paused = true)]
async fn an_interrupted_apply_converges_when_run_again_without_duplicates_or_orphans() {
    let env = Env::new().await;
    let (rs, [net, subnet, pool, thing]) = chain();
    // The cloud accepts the subnet, then the process dies before hearing back; the thing is
    // accepted and recorded pending, but the process dies during its wait.
    env.cloud.hang_after_accept(&subnet);
    env.cloud.slow_wait(&thing, Duration::from_secs(60));
    let p = env.plan(&rs, PlanMode::Apply).await;
    let ctx = env.context(4);
    let killed = tokio::time::timeout(Duration::from_secs(5), apply(&p, &ctx)).await;
    assert!(killed.is_err(), "the apply should have been cut short");
    env.cloud.slow_wait(&thing, Duration::ZERO);

    let snap = env.store.snapshot().await.unwrap();
    assert_eq!(snap.resources[&net].status, ResourceStatus::Ready);
    assert_eq!(snap.resources[&thing].status, ResourceStatus::Pending);
    assert!(!snap.resources.contains_key(&subnet));
    env.cloud
        .with(|c| assert_eq!(c.objects_at(&subnet).len(), 1));

    // A new session takes over the dead run's lock.
    env.store.force_unlock(&env.lock.id).await.unwrap();
    let lock = env
        .store
        .lock(&lock_request("tester@host (pid 2)"))
        .await
        .unwrap();
    let p = env.plan(&rs, PlanMode::Apply).await;
    insta::assert_snapshot!(render(&p), @r#"
    + c/aws.thing/t: resume: a previous run's operation was accepted but did not finish
    + c/aws.subnet/a: new resource
        net_id: - -> ${c/aws.net/main#id}
    + c/aws.pool/system: new resource
        size: - -> "m"
        subnet_id: - -> ${c/aws.subnet/a#id} [known after apply]
    Plan: 3 to add, 0 to change, 0 to replace, 0 to destroy.
    "#);
    let ctx = ApplyContext {
        store: &env.store,
        lock: &lock,
        registry: &env.registry,
        observer: env.events.clone(),
        pacer: Arc::new(TokenBucketPacer::default()),
        parallelism: 4,
        run: env.run_record(),
    };
    let report = apply(&p, &ctx).await.unwrap();
    assert!(report.is_success(), "{report:#?}");

    let snap = env.store.snapshot().await.unwrap();
    env.cloud.with(|c| {
        // No duplicates: one create per address, one object per address.
        assert!(c.creates.values().all(|&n| n == 1), "{:?}", c.creates);
        assert_eq!(c.objects.len(), 4);
        // No orphans: every cloud object is the recorded one.
        let recorded: BTreeMap<&String, &Address> = snap
            .resources
            .values()
            .map(|st| (st.cloud_id.as_ref().unwrap(), &st.address))
            .collect();
        for (id, obj) in &c.objects {
            assert_eq!(recorded.get(id), Some(&&obj.address), "orphan {id}");
        }
    });
    assert!(
        snap.resources
            .values()
            .all(|st| st.status == ResourceStatus::Ready)
    );
    assert_eq!(snap.resources.len(), 4);

    // Every create the cloud saw was announced in the journal before it was sent: the provider's
    // own intent (`FakeCreate`) follows the engine's (`create`), and an outcome closes each.
    let journal = env.store.journal(None).await.unwrap();
    for a in [&net, &subnet, &pool, &thing] {
        let ops: Vec<&str> = journal
            .iter()
            .filter(|e| e.address.as_ref() == Some(a))
            .map(|e| match &e.event {
                JournalEvent::Intent { operation, .. } => operation.as_str(),
                JournalEvent::Outcome { .. } => "outcome",
                JournalEvent::Note { .. } => "note",
            })
            .collect();
        let creates_sent = env.cloud.with(|c| {
            c.log
                .iter()
                .filter(|l| {
                    &l.address == a && l.op == "create" && l.phase == crate::fake::Phase::Begin
                })
                .count()
        });
        assert_eq!(
            ops.iter().filter(|o| **o == "FakeCreate").count(),
            creates_sent,
            "{a}: {ops:?}"
        );
        assert_eq!(ops.first(), Some(&"create"), "{a}: {ops:?}");
        assert_eq!(ops.last(), Some(&"outcome"), "{a}: {ops:?}");
    }
    assert!(!env.plan(&rs, PlanMode::Apply).await.has_changes());
}

#[tokio::test(start_paused = true)]
async fn the_walk_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let env = Env::new().await;
    let p = env.plan(&[], PlanMode::Apply).await;
    let ctx = env.context(1);
    let fut = apply(&p, &ctx);
    assert_send(&fut);
    assert!(fut.await.unwrap().is_success());
}
