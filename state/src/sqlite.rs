//! SQLite backend: the default state store, one database file per fleet
//! (`.slipway/state.db`), safe to share between concurrent processes on one machine.
//!
//! Records are stored as JSON of the contract types so the schema does not follow every field
//! change; columns exist only for keys, ordering and the lock id. This module must never let a
//! write through without checking, in the same transaction, that the caller's lock is still the
//! current one, and must never interpret resource properties.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use slipway_provider::{Address, ResourceState};

use crate::lockid::new_lock_id;
use crate::{
    JournalEntry, LockInfo, LockRequest, RunOutcome, RunRecord, Snapshot, StateError, StateStore,
};

/// How long a statement waits for another process's write transaction before failing.
/// Transactions here are a handful of row operations, so a few seconds only matters when
/// something is badly wrong.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Forward migrations; `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
/// Append only: released migrations are never edited.
const MIGRATIONS: &[&str] = &["
    CREATE TABLE lock (
        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
        id TEXT NOT NULL,
        info TEXT NOT NULL
    );
    CREATE TABLE serial (
        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
        value INTEGER NOT NULL
    );
    INSERT INTO serial (singleton, value) VALUES (1, 0);
    -- `deposed` is '' for the current object: NULLs are distinct in SQLite keys.
    CREATE TABLE resources (
        address TEXT NOT NULL,
        deposed TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (address, deposed)
    );
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        started_us INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX runs_started ON runs (started_us);
    CREATE TABLE journal (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX journal_run ON journal (run_id, seq);
"];

/// SQLite state store.
///
/// rusqlite is synchronous, so every operation runs on tokio's blocking pool
/// (`spawn_blocking`) rather than inline: a write may wait up to [`BUSY_TIMEOUT`] for another
/// process and then fsync, which must not stall the async workers driving cloud calls. The
/// connection sits behind a mutex, which also serialises this process's writers.
pub struct SqliteStore {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating it and its parent directories if needed) the state database at `path`
    /// and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            StateError::Backend(format!("{what} `{}`: {e}", path.display()))
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| fail("cannot create the directory of", &e))?;
        }
        let mut conn = Connection::open(path).map_err(|e| fail("cannot open", &e))?;
        configure(&conn).map_err(|e| fail("cannot configure", &e))?;
        migrate(&mut conn).map_err(|e| match e {
            StateError::Backend(msg) => fail("cannot migrate", &msg),
            other => other,
        })?;
        Ok(Self {
            path: path.to_owned(),
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` on the connection on the blocking pool.
    async fn with_conn<T, F>(&self, f: F) -> Result<T, StateError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StateError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic elsewhere cannot leave a transaction open: rusqlite rolls back on drop.
            let mut guard = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut guard)
        })
        .await
        .map_err(|e| StateError::Backend(format!("state worker failed: {e}")))?
    }

    /// Runs `f` in an IMMEDIATE transaction after checking `lock` is still current, and commits.
    async fn write<T, F>(&self, lock: &LockInfo, f: F) -> Result<T, StateError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, StateError> + Send + 'static,
    {
        let lock_id = lock.id.clone();
        self.with_conn(move |conn| {
            let tx = immediate(conn)?;
            let current: Option<String> = tx
                .query_row("SELECT id FROM lock WHERE singleton = 1", [], |r| r.get(0))
                .optional()
                .map_err(db)?;
            if current.as_deref() != Some(lock_id.as_str()) {
                return Err(StateError::LockLost(lock_id));
            }
            let out = f(&tx)?;
            tx.commit().map_err(db)?;
            Ok(out)
        })
        .await
    }
}

/// Per-connection settings.
///
/// WAL lets readers (`slipway state list` during an apply) proceed while a run writes.
/// `synchronous=NORMAL` under WAL: every commit survives a killed process — the failure the
/// journal exists for — and only an OS crash or power loss can drop the last few commits,
/// never corrupt the file. Objects created in that window carry ownership tags and idempotency
/// tokens, so the next run adopts them. FULL would fsync on every journal append, which for a
/// 40 000-resource fleet costs more than it protects.
fn configure(conn: &Connection) -> Result<(), String> {
    let err = |e: rusqlite::Error| e.to_string();
    conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!("journal mode is `{mode}`, expected `wal`"));
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(err)
}

/// Applies pending migrations in one IMMEDIATE transaction, so two processes opening a new
/// file at once cannot both apply them.
fn migrate(conn: &mut Connection) -> Result<(), StateError> {
    let tx = immediate(conn)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
            singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
            version INTEGER NOT NULL
        );
        INSERT OR IGNORE INTO schema_version (singleton, version) VALUES (1, 0);",
    )
    .map_err(db)?;
    let version: i64 = tx
        .query_row(
            "SELECT version FROM schema_version WHERE singleton = 1",
            [],
            |r| r.get(0),
        )
        .map_err(db)?;
    let known = MIGRATIONS.len();
    let current = usize::try_from(version).unwrap_or(usize::MAX);
    if current > known {
        return Err(StateError::Backend(format!(
            "schema version {version} is newer than this build supports ({known}); upgrade slipway"
        )));
    }
    for sql in &MIGRATIONS[current..] {
        tx.execute_batch(sql).map_err(db)?;
    }
    tx.execute(
        "UPDATE schema_version SET version = ?1 WHERE singleton = 1",
        [to_i64(known)],
    )
    .map_err(db)?;
    tx.commit().map_err(db)
}

/// Starts a write transaction that takes the write lock up front. A deferred transaction
/// upgrading from read to write gets SQLITE_BUSY without waiting; IMMEDIATE honours
/// the busy timeout.
fn immediate(conn: &mut Connection) -> Result<Transaction<'_>, StateError> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)
}

fn db(e: rusqlite::Error) -> StateError {
    StateError::Backend(e.to_string())
}

fn to_json<T: Serialize>(value: &T) -> Result<String, StateError> {
    serde_json::to_string(value)
        .map_err(|e| StateError::Backend(format!("cannot encode record: {e}")))
}

fn from_json<T: DeserializeOwned>(
    what: impl FnOnce() -> String,
    body: &str,
) -> Result<T, StateError> {
    serde_json::from_str(body).map_err(|source| StateError::Corrupt {
        what: what(),
        source,
    })
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The `deposed` key column value; the current object uses `''`.
fn deposed_key(deposed: Option<&str>) -> Result<String, StateError> {
    match deposed {
        None => Ok(String::new()),
        Some("") => Err(StateError::Backend(
            "a deposed key must not be empty".to_owned(),
        )),
        Some(key) => Ok(key.to_owned()),
    }
}

/// Increments and returns the serial.
fn bump_serial(tx: &Transaction<'_>) -> Result<u64, StateError> {
    let serial: i64 = tx
        .query_row(
            "UPDATE serial SET value = value + 1 WHERE singleton = 1 RETURNING value",
            [],
            |r| r.get(0),
        )
        .map_err(db)?;
    u64::try_from(serial)
        .map_err(|_| StateError::Backend(format!("negative state serial {serial}")))
}

fn read_lock(conn: &Connection) -> Result<Option<LockInfo>, StateError> {
    let row: Option<String> = conn
        .query_row("SELECT info FROM lock WHERE singleton = 1", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(db)?;
    row.map(|body| from_json(|| "lock".to_owned(), &body))
        .transpose()
}

#[async_trait]
impl StateStore for SqliteStore {
    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    async fn lock(&self, request: &LockRequest) -> Result<LockInfo, StateError> {
        let info = LockInfo {
            id: new_lock_id(),
            holder: request.holder.clone(),
            operation: request.operation.clone(),
            since: Timestamp::now(),
        };
        let body = to_json(&info)?;
        self.with_conn(move |conn| {
            let tx = immediate(conn)?;
            let inserted = tx
                .execute(
                    "INSERT INTO lock (singleton, id, info) VALUES (1, ?1, ?2)
                     ON CONFLICT (singleton) DO NOTHING",
                    params![info.id, body],
                )
                .map_err(db)?;
            if inserted == 0 {
                return match read_lock(&tx)? {
                    Some(held) => Err(StateError::Locked(held)),
                    None => Err(StateError::Backend(
                        "lock row vanished inside a transaction".to_owned(),
                    )),
                };
            }
            tx.commit().map_err(db)?;
            Ok(info)
        })
        .await
    }

    /// Releases `lock`; [`StateError::LockLost`] when it is no longer the current lock
    /// (it was forced), so the caller learns its run was not exclusive to the end.
    async fn unlock(&self, lock: &LockInfo) -> Result<(), StateError> {
        let id = lock.id.clone();
        self.with_conn(move |conn| {
            let removed = conn
                .execute("DELETE FROM lock WHERE id = ?1", [&id])
                .map_err(db)?;
            if removed == 0 {
                return Err(StateError::LockLost(id));
            }
            Ok(())
        })
        .await
    }

    async fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        let id = id.to_owned();
        self.with_conn(move |conn| {
            let removed = conn
                .execute("DELETE FROM lock WHERE id = ?1", [&id])
                .map_err(db)?;
            if removed == 0 {
                return Err(StateError::NoSuchLock(id));
            }
            Ok(())
        })
        .await
    }

    async fn current_lock(&self) -> Result<Option<LockInfo>, StateError> {
        self.with_conn(|conn| read_lock(conn)).await
    }

    async fn snapshot(&self) -> Result<Snapshot, StateError> {
        self.with_conn(|conn| {
            // One read transaction so the serial matches the resources read.
            let tx = conn.transaction().map_err(db)?;
            let serial: i64 = tx
                .query_row("SELECT value FROM serial WHERE singleton = 1", [], |r| {
                    r.get(0)
                })
                .map_err(db)?;
            let mut snapshot = Snapshot {
                serial: u64::try_from(serial)
                    .map_err(|_| StateError::Backend(format!("negative state serial {serial}")))?,
                ..Snapshot::default()
            };
            let mut stmt = tx
                .prepare("SELECT address, deposed, body FROM resources ORDER BY address, deposed")
                .map_err(db)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })
                .map_err(db)?;
            for row in rows {
                let (address, deposed, body) = row.map_err(db)?;
                let what = || {
                    if deposed.is_empty() {
                        format!("resource `{address}`")
                    } else {
                        format!("resource `{address}` (deposed `{deposed}`)")
                    }
                };
                let resource: ResourceState = from_json(what, &body)?;
                if resource.deposed.is_some() {
                    snapshot.deposed.push(resource);
                } else {
                    snapshot
                        .resources
                        .insert(resource.address.clone(), resource);
                }
            }
            Ok(snapshot)
        })
        .await
    }

    async fn put_resource(
        &self,
        lock: &LockInfo,
        resource: &ResourceState,
    ) -> Result<u64, StateError> {
        let address = resource.address.to_string();
        let deposed = deposed_key(resource.deposed.as_deref())?;
        let body = to_json(resource)?;
        self.write(lock, move |tx| {
            tx.execute(
                "INSERT INTO resources (address, deposed, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT (address, deposed) DO UPDATE SET body = excluded.body",
                params![address, deposed, body],
            )
            .map_err(db)?;
            bump_serial(tx)
        })
        .await
    }

    /// Removing an address that is not recorded still bumps the serial: the caller's view
    /// of state changed (it now knows the object is gone), and idempotent removal keeps
    /// re-runs after a kill simple.
    async fn remove_resource(
        &self,
        lock: &LockInfo,
        address: &Address,
        deposed: Option<&str>,
    ) -> Result<u64, StateError> {
        let address = address.to_string();
        let deposed = deposed_key(deposed)?;
        self.write(lock, move |tx| {
            tx.execute(
                "DELETE FROM resources WHERE address = ?1 AND deposed = ?2",
                params![address, deposed],
            )
            .map_err(db)?;
            bump_serial(tx)
        })
        .await
    }

    async fn begin_run(&self, lock: &LockInfo, run: &RunRecord) -> Result<(), StateError> {
        let id = run.id.clone();
        let started = run.started_at.as_microsecond();
        let body = to_json(run)?;
        self.write(lock, move |tx| {
            tx.execute(
                "INSERT INTO runs (id, started_us, body) VALUES (?1, ?2, ?3)",
                params![id, started, body],
            )
            .map_err(|e| StateError::Backend(format!("cannot record run `{id}`: {e}")))?;
            Ok(())
        })
        .await
    }

    async fn finish_run(
        &self,
        lock: &LockInfo,
        run_id: &str,
        outcome: RunOutcome,
    ) -> Result<(), StateError> {
        let id = run_id.to_owned();
        self.write(lock, move |tx| {
            let body: Option<String> = tx
                .query_row("SELECT body FROM runs WHERE id = ?1", [&id], |r| r.get(0))
                .optional()
                .map_err(db)?;
            let body = body.ok_or_else(|| StateError::Backend(format!("no run with id `{id}`")))?;
            let mut run: RunRecord = from_json(|| format!("run `{id}`"), &body)?;
            run.finished_at = Some(Timestamp::now());
            run.outcome = Some(outcome);
            tx.execute(
                "UPDATE runs SET body = ?1 WHERE id = ?2",
                params![to_json(&run)?, id],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn append_journal(
        &self,
        lock: &LockInfo,
        entry: &JournalEntry,
    ) -> Result<u64, StateError> {
        let run_id = entry.run_id.clone();
        let body = to_json(entry)?;
        self.write(lock, move |tx| {
            tx.execute(
                "INSERT INTO journal (run_id, body) VALUES (?1, ?2)",
                params![run_id, body],
            )
            .map_err(db)?;
            u64::try_from(tx.last_insert_rowid())
                .map_err(|_| StateError::Backend("negative journal sequence".to_owned()))
        })
        .await
    }

    async fn history(&self, limit: usize) -> Result<Vec<RunRecord>, StateError> {
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare("SELECT id, body FROM runs ORDER BY started_us DESC, rowid DESC LIMIT ?1")
                .map_err(db)?;
            let rows = stmt
                .query_map([to_i64(limit)], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(db)?;
            rows.map(|row| {
                let (id, body) = row.map_err(db)?;
                from_json(|| format!("run `{id}`"), &body)
            })
            .collect()
        })
        .await
    }

    async fn journal(&self, run_id: Option<&str>) -> Result<Vec<JournalEntry>, StateError> {
        let run_id = run_id.map(str::to_owned);
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare(
                    "SELECT seq, body FROM journal WHERE ?1 IS NULL OR run_id = ?1 ORDER BY seq",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map([&run_id], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(db)?;
            rows.map(|row| {
                let (seq, body) = row.map_err(db)?;
                let mut entry: JournalEntry = from_json(|| format!("journal entry {seq}"), &body)?;
                entry.seq = u64::try_from(seq)
                    .map_err(|_| StateError::Backend(format!("negative journal sequence {seq}")))?;
                Ok(entry)
            })
            .collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_records_name_the_record() {
        let err = from_json::<LockInfo>(|| "lock".to_owned(), "{not json").unwrap_err();
        assert!(
            matches!(err, StateError::Corrupt { ref what, .. } if what == "lock"),
            "{err}"
        );
    }

    #[test]
    fn empty_deposed_key_is_refused() {
        assert_eq!(deposed_key(None).unwrap(), "");
        assert_eq!(deposed_key(Some("d1")).unwrap(), "d1");
        assert!(deposed_key(Some("")).is_err());
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        drop(SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute("UPDATE schema_version SET version = 99", [])
            .unwrap();
        drop(conn);
        let err = SqliteStore::open(&path).unwrap_err();
        assert!(
            err.to_string().contains("schema version 99 is newer"),
            "{err}"
        );
    }
}
