//! Moving state between backends without loss: resources (deposed included), run history and the
//! whole journal, with both locations locked so nothing writes meanwhile, and the copy verified
//! before the source is released. The source is never modified.

use jiff::Timestamp;

use crate::{
    JournalEntry, JournalEvent, LockInfo, LockRequest, RunOutcome, RunRecord, StateError,
    StateStore,
};

/// What a migration copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Migration {
    /// Current resources.
    pub resources: usize,
    /// Deposed objects awaiting deletion.
    pub deposed: usize,
    /// Runs of the history.
    pub runs: usize,
    /// Journal entries.
    pub journal: usize,
}

/// Copies everything `from` holds into the empty `to`.
pub async fn migrate(
    from: &dyn StateStore,
    to: &dyn StateStore,
    request: &LockRequest,
) -> Result<Migration, StateError> {
    let source_lock = from.lock(request).await?;
    let result = match to.lock(request).await {
        Ok(target_lock) => {
            let copied = copy(from, to, &target_lock).await;
            let released = to.unlock(&target_lock).await;
            copied.and_then(|m| released.map(|()| m))
        }
        Err(e) => Err(e),
    };
    let released = from.unlock(&source_lock).await;
    result.and_then(|m| released.map(|()| m))
}

async fn copy(
    from: &dyn StateStore,
    to: &dyn StateStore,
    lock: &LockInfo,
) -> Result<Migration, StateError> {
    let existing = to.snapshot().await?;
    if !existing.resources.is_empty()
        || !existing.deposed.is_empty()
        || !to.history(1).await?.is_empty()
        || !to.journal(None).await?.is_empty()
    {
        return Err(StateError::NotEmpty(to.describe()));
    }
    let snapshot = from.snapshot().await?;
    let mut runs = from.history(usize::MAX).await?;
    runs.reverse();
    let journal = from.journal(None).await?;

    for resource in snapshot.resources.values().chain(&snapshot.deposed) {
        to.put_resource(lock, resource).await?;
    }
    for run in &runs {
        to.begin_run(lock, run).await?;
    }
    for entry in &journal {
        to.append_journal(lock, entry).await?;
    }

    let copied = to.snapshot().await?;
    let copied_runs = to.history(usize::MAX).await?.len();
    let copied_journal = to.journal(None).await?;
    let same_journal = copied_journal.len() == journal.len()
        && copied_journal
            .iter()
            .zip(&journal)
            .all(|(a, b)| a.run_id == b.run_id && a.address == b.address && a.event == b.event);
    if copied.resources != snapshot.resources
        || copied.deposed.len() != snapshot.deposed.len()
        || copied_runs != runs.len()
        || !same_journal
    {
        return Err(StateError::Backend(format!(
            "the copy in {} does not match {}; the source is unchanged",
            to.describe(),
            from.describe()
        )));
    }

    record_migration(from, to, lock).await?;
    Ok(Migration {
        resources: snapshot.resources.len(),
        deposed: snapshot.deposed.len(),
        runs: runs.len(),
        journal: journal.len(),
    })
}

/// Leaves evidence in the destination's history and journal of where its state came from.
async fn record_migration(
    from: &dyn StateStore,
    to: &dyn StateStore,
    lock: &LockInfo,
) -> Result<(), StateError> {
    let run = RunRecord {
        id: format!("migrate-{}", lock.id),
        operation: "state migrate".to_owned(),
        holder: lock.holder.clone(),
        started_at: Timestamp::now(),
        finished_at: None,
        outcome: None,
        blueprint_digest: String::new(),
        git_commit: None,
        plan_digest: None,
    };
    to.begin_run(lock, &run).await?;
    let note = JournalEntry {
        seq: 0,
        run_id: run.id.clone(),
        at: Timestamp::now(),
        address: None,
        event: JournalEvent::Note {
            message: format!("state migrated from {}", from.describe()),
        },
    };
    to.append_journal(lock, &note).await?;
    to.finish_run(lock, &run.id, RunOutcome::Succeeded).await
}
