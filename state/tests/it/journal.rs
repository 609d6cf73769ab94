use slipway_state::{JournalEntry, JournalEvent, RunOutcome, RunRecord, StateStore};

use crate::{at, open, resource, take_lock, temp_db};

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

#[tokio::test]
async fn journal_keeps_order_and_survives_reopen() {
    let (_dir, path) = temp_db();
    let written = {
        let store = open(&path);
        let lock = take_lock(&store).await;
        let events = [
            (
                "r1",
                JournalEvent::Intent {
                    operation: "ec2:CreateSubnet".to_owned(),
                    detail: serde_json::json!({"cidr": "10.0.0.0/24"}),
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
        let seqs: Vec<u64> = written.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![1, 2, 3, 4]);
        store.unlock(&lock).await.unwrap();
        written
    };

    let store = open(&path);
    assert_eq!(store.journal(None).await.unwrap(), written);
    let r1: Vec<_> = written
        .iter()
        .filter(|e| e.run_id == "r1")
        .cloned()
        .collect();
    assert_eq!(store.journal(Some("r1")).await.unwrap(), r1);
    assert!(store.journal(Some("nope")).await.unwrap().is_empty());

    // Sequence numbers keep growing after reopen.
    let lock = take_lock(&store).await;
    assert_eq!(
        store
            .append_journal(&lock, &entry("r3", 9, note("later")))
            .await
            .unwrap(),
        5
    );
}

#[tokio::test]
async fn history_is_newest_first_with_outcomes() {
    let (_dir, path) = temp_db();
    let store = open(&path);
    let lock = take_lock(&store).await;
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

    let history = open(&path).history(10).await.unwrap();
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
    assert_eq!(history[2].git_commit.as_deref(), Some("deadbeef"));

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
            .is_err()
    );
    assert!(
        store.begin_run(&lock, &run("old", 200)).await.is_err(),
        "run ids are unique"
    );
}
