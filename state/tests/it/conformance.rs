//! The state backend conformance suite: every check is written against [`StateStore`] alone and
//! run, through [`conformance!`], against every backend. A backend's test module implements
//! [`Backend`] (how to get a second client on the same state, and what a crashed lock holder
//! leaves behind) and instantiates the suite with `conformance!(module, async_factory_expr)`.
//!
//! Checks never sleep longer than the backend's lease TTL needs, and never rely on timing for
//! exclusivity: racing is done with many tasks on a multi-threaded runtime.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use slipway_state::{
    JournalEntry, JournalEvent, LockInfo, RunOutcome, RunRecord, StateError, StateStore,
};

use crate::{at, request, resource, take_lock};

/// What happens to a lock whose holder died without unlocking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(
    dead_code,
    reason = "each variant is used by the backends of some feature sets only"
)]
pub enum CrashSemantics {
    /// The lock stays until someone runs `force_unlock(ID)` (SQLite, S3).
    HeldUntilForced,
    /// The lock is a lease: it lapses this long after the holder's last renewal, and a live
    /// holder renews it for as long as it holds it.
    ExpiresAfter(Duration),
    /// The lock is tied to the holder's connection and is free once the server notices the
    /// connection is gone (Postgres session advisory locks).
    ReleasedOnDisconnect,
}

/// One backend under test: a state location that several clients can open.
#[async_trait]
pub trait Backend: Send + Sync {
    /// A new client on the same state location (a second laptop).
    async fn client(&self) -> Box<dyn StateStore>;

    /// What happens to a lock whose holder died without unlocking.
    fn crash_semantics(&self) -> CrashSemantics;

    /// Simulates the holder dying: drops the client without unlocking (and, for leases, stops
    /// renewing).
    async fn crash(&self, client: Box<dyn StateStore>);

    /// Every credential the clients were configured with (passwords, SAS signatures, secret
    /// keys): none may appear in `describe()` or in error messages.
    fn secrets(&self) -> Vec<String>;
}

/// Instantiates the conformance suite: `conformance!(name, factory)` expands to `mod name`
/// with one `#[tokio::test]` per check. `factory` is an expression (evaluated inside that
/// module, which imports its parent's items) of a future yielding a value of a type that
/// implements [`Backend`]; each test builds its own backend, so state never leaks between
/// checks.
macro_rules! conformance {
    ($name:ident, $factory:expr) => {
        $crate::conformance::conformance!(@tests $name, $factory;
            lock_contention_has_exactly_one_winner,
            locked_reports_holder_operation_since_and_id,
            unlock_with_another_id_releases_nothing,
            force_unlock_releases_only_the_named_lock,
            crash_while_holding_follows_crash_semantics,
            live_holder_keeps_its_lock_past_the_ttl,
            writes_under_a_lost_lock_are_refused,
            concurrent_writers_under_one_lock_lose_no_update,
            resources_round_trip_with_deposed_objects,
            history_is_newest_first_with_outcomes,
            journal_keeps_order_across_a_fresh_client,
            describe_never_contains_credentials,
        );
    };
    (@tests $name:ident, $factory:expr; $($check:ident,)+) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let backend = $factory.await;
                    $crate::conformance::$check(&backend).await;
                }
            )+
        }
    };
}
pub(crate) use conformance;

/// Many tasks on several clients race for the lock: exactly one wins and every loser is told
/// who holds it. After the winner unlocks, another client can lock.
pub async fn lock_contention_has_exactly_one_winner(b: &dyn Backend) {
    let mut clients: Vec<Arc<dyn StateStore>> = Vec::new();
    for _ in 0..4 {
        clients.push(Arc::from(b.client().await));
    }
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let client = Arc::clone(&clients[i % clients.len()]);
            tokio::spawn(async move { client.lock(&request(&format!("run {i}"), "apply")).await })
        })
        .collect();
    let mut winners = Vec::new();
    let mut refusals = Vec::new();
    for task in tasks {
        match task.await.expect("lock task") {
            Ok(info) => winners.push(info),
            Err(StateError::Locked(holder)) => refusals.push(holder),
            Err(other) => panic!("unexpected lock error: {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one winner: {winners:?}");
    assert_eq!(refusals.len(), 15);
    assert!(
        refusals.iter().all(|holder| *holder == winners[0]),
        "every loser names the winner {:?}: {refusals:?}",
        winners[0]
    );

    let winner = &winners[0];
    let owner: usize = winner
        .holder
        .trim_start_matches("run ")
        .parse()
        .expect("holder names the run");
    clients[owner % clients.len()]
        .unlock(winner)
        .await
        .expect("winner unlocks");
    let next = clients[(owner + 1) % clients.len()]
        .lock(&request("next", "apply"))
        .await
        .expect("lock is free after unlock");
    assert_ne!(next.id, winner.id);
}

/// `Locked` and `current_lock` report exactly what the holder was given.
pub async fn locked_reports_holder_operation_since_and_id(b: &dyn Backend) {
    let (alice, bob) = (b.client().await, b.client().await);
    let before = jiff::Timestamp::now();
    let held = alice
        .lock(&request("alice@laptop (pid 1)", "apply"))
        .await
        .expect("alice locks");
    let after = jiff::Timestamp::now();
    assert_eq!(held.holder, "alice@laptop (pid 1)");
    assert_eq!(held.operation, "apply");
    let slack = jiff::SignedDuration::from_secs(5);
    assert!(
        held.since >= before - slack && held.since <= after + slack,
        "since {} is the time of locking ({before}..{after})",
        held.since
    );
    assert!(!held.id.is_empty());

    match bob.lock(&request("bob@runner (pid 2)", "destroy")).await {
        Err(StateError::Locked(info)) => assert_eq!(info, held),
        other => panic!("expected Locked, got {other:?}"),
    }
    let message = bob
        .lock(&request("bob@runner (pid 2)", "destroy"))
        .await
        .expect_err("still locked")
        .to_string();
    assert!(
        message.contains("alice@laptop (pid 1)")
            && message.contains("apply")
            && message.contains(&held.id),
        "{message}"
    );
    assert_eq!(bob.current_lock().await.unwrap(), Some(held.clone()));
    assert_eq!(alice.current_lock().await.unwrap(), Some(held.clone()));

    alice.unlock(&held).await.expect("alice unlocks");
    assert_eq!(bob.current_lock().await.unwrap(), None);
    let bobs = bob
        .lock(&request("bob@runner (pid 2)", "destroy"))
        .await
        .expect("bob locks after alice");
    assert_eq!(bobs.operation, "destroy");
    assert_ne!(bobs.id, held.id);
    assert_eq!(alice.current_lock().await.unwrap(), Some(bobs));
}

/// `unlock` with a lock that is not the current one releases nothing and says `LockLost`.
pub async fn unlock_with_another_id_releases_nothing(b: &dyn Backend) {
    let (a, other) = (b.client().await, b.client().await);
    let held = take_lock(a.as_ref()).await;
    let mut stranger = held.clone();
    stranger.id = "0".repeat(32);
    assert!(
        matches!(other.unlock(&stranger).await, Err(StateError::LockLost(ref id)) if *id == stranger.id)
    );
    assert_eq!(a.current_lock().await.unwrap(), Some(held));
}

/// `force_unlock` names one lock; any other id is `NoSuchLock` and leaves the lock alone.
pub async fn force_unlock_releases_only_the_named_lock(b: &dyn Backend) {
    let (a, other) = (b.client().await, b.client().await);
    let held = take_lock(a.as_ref()).await;
    assert!(
        matches!(other.force_unlock("nope").await, Err(StateError::NoSuchLock(ref id)) if id == "nope")
    );
    assert_eq!(a.current_lock().await.unwrap(), Some(held.clone()));

    other.force_unlock(&held.id).await.expect("force unlock");
    assert_eq!(a.current_lock().await.unwrap(), None);
    assert!(matches!(
        other.force_unlock(&held.id).await,
        Err(StateError::NoSuchLock(_))
    ));
    let fresh = take_lock(other.as_ref()).await;
    assert_ne!(fresh.id, held.id);
}

/// A holder dies without unlocking. Depending on the backend the lock stays until forced,
/// lapses after the lease TTL, or is freed when the connection goes. In every case the dead
/// holder's lock can no longer be written under once someone else took over.
pub async fn crash_while_holding_follows_crash_semantics(b: &dyn Backend) {
    let doomed = b.client().await;
    let held = take_lock(doomed.as_ref()).await;
    let acquired = Instant::now();
    b.crash(doomed).await;

    let survivor = b.client().await;
    let taken = match b.crash_semantics() {
        CrashSemantics::HeldUntilForced => {
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert_locked_by(survivor.as_ref(), &held).await;
            survivor.force_unlock(&held.id).await.expect("force unlock");
            take_lock(survivor.as_ref()).await
        }
        CrashSemantics::ExpiresAfter(ttl) => {
            assert_locked_by(survivor.as_ref(), &held).await;
            let taken = lock_within(survivor.as_ref(), ttl * 2 + Duration::from_secs(5)).await;
            assert!(
                acquired.elapsed() >= ttl.mul_f64(0.9),
                "the lease lapsed after {:?}, before its TTL of {ttl:?}",
                acquired.elapsed()
            );
            taken
        }
        CrashSemantics::ReleasedOnDisconnect => {
            lock_within(survivor.as_ref(), Duration::from_secs(10)).await
        }
    };
    assert_ne!(taken.id, held.id);
    assert_eq!(survivor.current_lock().await.unwrap(), Some(taken.clone()));

    // A client still carrying the dead holder's lock (a zombie) cannot write.
    let zombie = b.client().await;
    assert!(matches!(
        zombie.put_resource(&held, &resource("a", None)).await,
        Err(StateError::LockLost(_))
    ));
    assert_eq!(survivor.snapshot().await.unwrap().serial, 0);
    survivor.unlock(&taken).await.expect("survivor unlocks");
}

/// A live holder keeps its lock for longer than the lease TTL (it renews), and can still
/// write at the end. For backends without leases this checks a holder is not timed out.
pub async fn live_holder_keeps_its_lock_past_the_ttl(b: &dyn Backend) {
    let wait = match b.crash_semantics() {
        CrashSemantics::ExpiresAfter(ttl) => ttl + ttl / 2,
        CrashSemantics::HeldUntilForced | CrashSemantics::ReleasedOnDisconnect => {
            Duration::from_millis(300)
        }
    };
    let (holder, other) = (b.client().await, b.client().await);
    let held = take_lock(holder.as_ref()).await;
    tokio::time::sleep(wait).await;
    assert_locked_by(other.as_ref(), &held).await;
    assert_eq!(
        holder
            .put_resource(&held, &resource("a", None))
            .await
            .expect("the holder still writes"),
        1
    );
    tokio::time::sleep(wait).await;
    assert_locked_by(other.as_ref(), &held).await;
    holder.unlock(&held).await.expect("unlock after renewals");
    assert_eq!(other.current_lock().await.unwrap(), None);
}

/// Every write under a lock that was forced (or released) fails with `LockLost` naming it,
/// and changes nothing.
pub async fn writes_under_a_lost_lock_are_refused(b: &dyn Backend) {
    let (a, other) = (b.client().await, b.client().await);
    let stale = take_lock(a.as_ref()).await;
    a.begin_run(&stale, &run("r0", 0)).await.expect("begin run");
    other.force_unlock(&stale.id).await.expect("force unlock");
    let fresh = take_lock(other.as_ref()).await;

    let lost = |what: &str, r: Result<(), StateError>| match r {
        Err(StateError::LockLost(id)) => assert_eq!(id, stale.id, "{what}"),
        other => panic!("{what}: expected LockLost, got {other:?}"),
    };
    lost(
        "put",
        a.put_resource(&stale, &resource("a", None)).await.map(drop),
    );
    lost(
        "remove",
        a.remove_resource(&stale, &resource("a", None).address, None)
            .await
            .map(drop),
    );
    lost("begin run", a.begin_run(&stale, &run("r1", 1)).await);
    lost(
        "finish run",
        a.finish_run(&stale, "r0", RunOutcome::Succeeded).await,
    );
    lost(
        "journal",
        a.append_journal(&stale, &entry("r0", 0, note("late")))
            .await
            .map(drop),
    );
    lost("unlock", a.unlock(&stale).await);

    // Nothing was written, and the new holder still holds the lock.
    let snapshot = other.snapshot().await.unwrap();
    assert_eq!(snapshot.serial, 0);
    assert!(snapshot.resources.is_empty());
    assert!(other.journal(None).await.unwrap().is_empty());
    let history = other.history(10).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].outcome, None);
    assert_eq!(other.current_lock().await.unwrap(), Some(fresh.clone()));

    // After a normal unlock, the released lock is just as dead.
    other.unlock(&fresh).await.unwrap();
    assert!(matches!(
        other.put_resource(&fresh, &resource("a", None)).await,
        Err(StateError::LockLost(_))
    ));
}

/// Many tasks on two clients write under the same lock at once: every write gets its own
/// serial, the final serial is the number of writes, and no resource or journal entry is lost.
pub async fn concurrent_writers_under_one_lock_lose_no_update(b: &dyn Backend) {
    const TASKS: usize = 16;
    const WRITES: usize = 3;
    let clients: [Arc<dyn StateStore>; 2] =
        [Arc::from(b.client().await), Arc::from(b.client().await)];
    let lock = take_lock(clients[0].as_ref()).await;

    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let client = Arc::clone(&clients[i % 2]);
            let lock = lock.clone();
            tokio::spawn(async move {
                let mut serials = Vec::new();
                let mut seqs = Vec::new();
                for j in 0..WRITES {
                    let name = format!("r{i}-{j}");
                    serials.push(
                        client
                            .put_resource(&lock, &resource(&name, None))
                            .await
                            .expect("put"),
                    );
                    seqs.push(
                        client
                            .append_journal(&lock, &entry("run", 0, note(&name)))
                            .await
                            .expect("journal"),
                    );
                }
                (serials, seqs)
            })
        })
        .collect();
    let mut serials = Vec::new();
    let mut seqs = Vec::new();
    for task in tasks {
        let (s, q) = task.await.expect("writer task");
        serials.extend(s);
        seqs.extend(q);
    }
    let total = TASKS * WRITES;
    serials.sort_unstable();
    assert_eq!(
        serials,
        (1..=u64::try_from(total).unwrap()).collect::<Vec<_>>(),
        "each write got its own serial"
    );
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), total, "each journal entry got its own sequence");

    let fresh = b.client().await;
    let snapshot = fresh.snapshot().await.unwrap();
    assert_eq!(snapshot.serial, u64::try_from(total).unwrap());
    assert_eq!(snapshot.resources.len(), total);
    let journal = fresh.journal(None).await.unwrap();
    assert_eq!(
        journal.iter().map(|e| e.seq).collect::<Vec<_>>(),
        seqs,
        "the journal lists every entry in sequence order"
    );
}

/// Resources and deposed objects round trip exactly; the serial counts every write, removals
/// included; deposed objects are listed by address then deposed key.
pub async fn resources_round_trip_with_deposed_objects(b: &dyn Backend) {
    let store = b.client().await;
    let empty = store.snapshot().await.unwrap();
    assert_eq!(
        (empty.serial, empty.resources.len(), empty.deposed.len()),
        (0, 0, 0)
    );
    let lock = take_lock(store.as_ref()).await;

    let a = resource("a", None);
    let bee = resource("b", None);
    let a_old = resource("a", Some("d1"));
    let a_older = resource("a", Some("d0"));
    let b_old = resource("b", Some("d0"));
    for (i, r) in [&a, &bee, &a_old, &a_older, &b_old].into_iter().enumerate() {
        assert_eq!(
            store.put_resource(&lock, r).await.unwrap(),
            u64::try_from(i + 1).unwrap()
        );
    }
    let snap = store.snapshot().await.unwrap();
    assert_eq!(snap.serial, 5);
    assert_eq!(snap.resources.len(), 2);
    assert_eq!(snap.resources[&a.address], a);
    assert_eq!(snap.resources[&bee.address], bee);
    assert_eq!(
        snap.deposed,
        vec![a_older.clone(), a_old.clone(), b_old.clone()]
    );

    // Overwrite in place: same key, new body.
    let mut a2 = a.clone();
    a2.cloud_id = Some("subnet-new".to_owned());
    assert_eq!(store.put_resource(&lock, &a2).await.unwrap(), 6);
    // Removing the deposed object leaves the current one, and vice versa.
    assert_eq!(
        store
            .remove_resource(&lock, &a.address, Some("d1"))
            .await
            .unwrap(),
        7
    );
    assert_eq!(
        store
            .remove_resource(&lock, &bee.address, None)
            .await
            .unwrap(),
        8
    );
    // Removing what is not recorded is idempotent and still bumps the serial.
    assert_eq!(
        store
            .remove_resource(&lock, &bee.address, None)
            .await
            .unwrap(),
        9
    );

    let snap = b.client().await.snapshot().await.unwrap();
    assert_eq!(snap.serial, 9);
    assert_eq!(
        snap.resources.into_iter().collect::<Vec<_>>(),
        vec![(a.address.clone(), a2)]
    );
    assert_eq!(snap.deposed, vec![a_older, b_old]);
}

/// Runs come back newest first (by start time) with their outcomes, limited as asked; run ids
/// are unique and finishing an unknown run fails.
pub async fn history_is_newest_first_with_outcomes(b: &dyn Backend) {
    let store = b.client().await;
    let lock = take_lock(store.as_ref()).await;
    store.begin_run(&lock, &run("old", 0)).await.unwrap();
    store.begin_run(&lock, &run("new", 100)).await.unwrap();
    store.begin_run(&lock, &run("mid", 50)).await.unwrap();
    store
        .finish_run(&lock, "old", RunOutcome::Succeeded)
        .await
        .unwrap();
    store
        .finish_run(&lock, "mid", RunOutcome::Failed)
        .await
        .unwrap();

    let history = b.client().await.history(10).await.unwrap();
    let summary: Vec<_> = history.iter().map(|r| (r.id.as_str(), r.outcome)).collect();
    assert_eq!(
        summary,
        vec![
            ("new", None),
            ("mid", Some(RunOutcome::Failed)),
            ("old", Some(RunOutcome::Succeeded)),
        ]
    );
    assert!(history[0].finished_at.is_none());
    assert!(history[1].finished_at.is_some_and(|t| t >= at(0)));
    assert_eq!(history[2], {
        let mut old = run("old", 0);
        old.finished_at = history[2].finished_at;
        old.outcome = Some(RunOutcome::Succeeded);
        old
    });

    let limited: Vec<_> = store
        .history(2)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(limited, vec!["new", "mid"]);
    assert!(store.history(0).await.unwrap().is_empty());

    assert!(
        store
            .finish_run(&lock, "nope", RunOutcome::Failed)
            .await
            .is_err(),
        "finishing an unknown run fails"
    );
    assert!(
        store.begin_run(&lock, &run("old", 200)).await.is_err(),
        "run ids are unique"
    );
    assert_eq!(store.history(10).await.unwrap().len(), 3);
}

/// Journal entries come back exactly, in append order, from a client opened afterwards, with
/// strictly increasing sequence numbers that keep growing after the writer is gone.
pub async fn journal_keeps_order_across_a_fresh_client(b: &dyn Backend) {
    let written = {
        let store = b.client().await;
        let lock = take_lock(store.as_ref()).await;
        let events = [
            (
                "r1",
                JournalEvent::Intent {
                    operation: "ec2:CreateSubnet".to_owned(),
                    detail: serde_json::json!({"cidr": "10.0.0.0/24", "tags": {"b": 1, "a": 2}}),
                },
            ),
            ("r2", note("other run")),
            (
                "r1",
                JournalEvent::Outcome {
                    action: "create".to_owned(),
                    ok: false,
                    error: Some("throttled".to_owned()),
                },
            ),
            ("r1", note("done")),
        ];
        let mut written = Vec::new();
        for (i, (run_id, event)) in events.into_iter().enumerate() {
            let mut e = entry(run_id, i64::try_from(i).unwrap(), event);
            e.seq = store.append_journal(&lock, &e).await.unwrap();
            written.push(e);
        }
        assert!(
            written.windows(2).all(|w| w[0].seq < w[1].seq),
            "sequence numbers increase: {:?}",
            written.iter().map(|e| e.seq).collect::<Vec<_>>()
        );
        store.unlock(&lock).await.unwrap();
        written
    };

    let store = b.client().await;
    assert_eq!(store.journal(None).await.unwrap(), written);
    let r1: Vec<_> = written
        .iter()
        .filter(|e| e.run_id == "r1")
        .cloned()
        .collect();
    assert_eq!(store.journal(Some("r1")).await.unwrap(), r1);
    assert!(store.journal(Some("nope")).await.unwrap().is_empty());

    let lock = take_lock(store.as_ref()).await;
    let later = store
        .append_journal(&lock, &entry("r3", 9, note("later")))
        .await
        .unwrap();
    assert!(later > written[3].seq, "sequence numbers keep growing");
}

/// `describe()` and error messages never carry a credential: neither one the backend was
/// configured with nor anything shaped like one.
pub async fn describe_never_contains_credentials(b: &dyn Backend) {
    let (a, other) = (b.client().await, b.client().await);
    let held = take_lock(a.as_ref()).await;
    let mut texts = vec![a.describe(), other.describe()];
    texts.push(
        other
            .lock(&request("bob", "apply"))
            .await
            .expect_err("locked")
            .to_string(),
    );
    texts.push(
        other
            .force_unlock("nope")
            .await
            .expect_err("no such lock")
            .to_string(),
    );
    let mut stranger = held.clone();
    stranger.id = "f".repeat(32);
    texts.push(
        other
            .unlock(&stranger)
            .await
            .expect_err("lock lost")
            .to_string(),
    );

    let secrets = b.secrets();
    for text in &texts {
        assert!(!text.is_empty());
        for secret in &secrets {
            assert!(
                secret.is_empty() || !text.contains(secret.as_str()),
                "`{text}` contains a secret"
            );
        }
        let lower = text.to_ascii_lowercase();
        for marker in [
            "password=",
            "sig=",
            "accountkey=",
            "secret",
            "x-amz-signature",
        ] {
            assert!(!lower.contains(marker), "`{text}` contains `{marker}`");
        }
    }
}

/// Fails unless `store` refuses the lock naming `held`.
async fn assert_locked_by(store: &dyn StateStore, held: &LockInfo) {
    match store.lock(&request("someone else", "apply")).await {
        Err(StateError::Locked(info)) => assert_eq!(info, *held),
        other => panic!("expected Locked by {}, got {other:?}", held.id),
    }
}

/// Retries the lock until it is granted, failing after `limit`.
async fn lock_within(store: &dyn StateStore, limit: Duration) -> LockInfo {
    let start = Instant::now();
    loop {
        match store.lock(&request("survivor", "apply")).await {
            Ok(info) => return info,
            Err(StateError::Locked(_)) if start.elapsed() < limit => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => panic!("lock not free within {limit:?} of a crash: {other:?}"),
        }
    }
}

fn run(id: &str, started: i64) -> RunRecord {
    RunRecord {
        id: id.to_owned(),
        operation: "apply".to_owned(),
        holder: "alice@host (pid 1)".to_owned(),
        started_at: at(started),
        finished_at: None,
        outcome: None,
        blueprint_digest: "ab".repeat(32),
        git_commit: Some("deadbeef".to_owned()),
        plan_digest: None,
    }
}

fn entry(run_id: &str, n: i64, event: JournalEvent) -> JournalEntry {
    JournalEntry {
        seq: 0,
        run_id: run_id.to_owned(),
        at: at(n),
        address: Some(resource("a", None).address),
        event,
    }
}

fn note(message: &str) -> JournalEvent {
    JournalEvent::Note {
        message: message.to_owned(),
    }
}
