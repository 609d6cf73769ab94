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
                JournalEvent::Rollout { .. } => "rollout",
                JournalEvent::Drill { .. } => "drill",
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

/// A store whose journal appends hold a lock across an await, the way a networked backend's
/// transaction holds a row lock while it waits for the server.
struct TransactionalJournal<'a> {
    inner: &'a slipway_state::SqliteStore,
    sequence: tokio::sync::Mutex<()>,
}

#[async_trait::async_trait]
impl StateStore for TransactionalJournal<'_> {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn lock(
        &self,
        request: &slipway_state::LockRequest,
    ) -> Result<slipway_state::LockInfo, slipway_state::StateError> {
        self.inner.lock(request).await
    }
    async fn unlock(
        &self,
        lock: &slipway_state::LockInfo,
    ) -> Result<(), slipway_state::StateError> {
        self.inner.unlock(lock).await
    }
    async fn force_unlock(&self, id: &str) -> Result<(), slipway_state::StateError> {
        self.inner.force_unlock(id).await
    }
    async fn current_lock(
        &self,
    ) -> Result<Option<slipway_state::LockInfo>, slipway_state::StateError> {
        self.inner.current_lock().await
    }
    async fn snapshot(&self) -> Result<slipway_state::Snapshot, slipway_state::StateError> {
        self.inner.snapshot().await
    }
    async fn put_resource(
        &self,
        lock: &slipway_state::LockInfo,
        resource: &slipway_provider::ResourceState,
    ) -> Result<u64, slipway_state::StateError> {
        self.inner.put_resource(lock, resource).await
    }
    async fn remove_resource(
        &self,
        lock: &slipway_state::LockInfo,
        address: &Address,
        deposed: Option<&str>,
    ) -> Result<u64, slipway_state::StateError> {
        self.inner.remove_resource(lock, address, deposed).await
    }
    async fn begin_run(
        &self,
        lock: &slipway_state::LockInfo,
        run: &slipway_state::RunRecord,
    ) -> Result<(), slipway_state::StateError> {
        self.inner.begin_run(lock, run).await
    }
    async fn finish_run(
        &self,
        lock: &slipway_state::LockInfo,
        run_id: &str,
        outcome: slipway_state::RunOutcome,
    ) -> Result<(), slipway_state::StateError> {
        self.inner.finish_run(lock, run_id, outcome).await
    }
    async fn append_journal(
        &self,
        lock: &slipway_state::LockInfo,
        entry: &slipway_state::JournalEntry,
    ) -> Result<u64, slipway_state::StateError> {
        let _row = self.sequence.lock().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.inner.append_journal(lock, entry).await
    }
    async fn history(
        &self,
        limit: usize,
    ) -> Result<Vec<slipway_state::RunRecord>, slipway_state::StateError> {
        self.inner.history(limit).await
    }
    async fn journal(
        &self,
        run_id: Option<&str>,
    ) -> Result<Vec<slipway_state::JournalEntry>, slipway_state::StateError> {
        self.inner.journal(run_id).await
    }
}

/// Regression: the walk used to await its own journal writes without polling operations in
/// flight, so an operation suspended inside a store transaction could never release it.
#[tokio::test(start_paused = true)]
async fn a_store_holding_locks_across_awaits_never_deadlocks_the_walk() {
    let env = Env::new().await;
    let resources: Vec<Resource> = (0..12)
        .map(|i| {
            res(
                &addr("c", "thing", &format!("t{i}")),
                &[("n", Value::from(i64::from(i)))],
            )
        })
        .collect();
    let plan = env.plan(&resources, PlanMode::Apply).await;
    let store = TransactionalJournal {
        inner: &env.store,
        sequence: tokio::sync::Mutex::new(()),
    };
    let mut ctx = env.context(4);
    ctx.store = &store;
    let report = tokio::time::timeout(Duration::from_secs(3600), apply(&plan, &ctx))
        .await
        .expect("the walk deadlocked")
        .unwrap();
    assert!(report.is_success(), "{report:#?}");
}
