//! PostgreSQL backend (`postgres://user:password@host:port/database?namespace=NAME`): team state
//! in a database the platform team already runs.
//!
//! One database holds any number of fleets' states, each under its own namespace (the
//! `namespace` URL parameter, `default` when absent); the URL path is the database, as for
//! every PostgreSQL client. Tables are prefixed `slipway_` and created by forward-only
//! migrations recorded in `slipway_schema`; a database migrated by a newer Slipway is refused.
//!
//! The lock is a session-level advisory lock held on a connection dedicated to the lock for its
//! whole lifetime, plus a `slipway_locks` row naming holder, operation, time and id. A holder
//! that dies loses its connection and with it the advisory lock, so the next run takes over
//! without `force_unlock`. Every write runs in one transaction that share-locks the lock row and
//! checks it still carries the writer's lock id; counters (serial, journal sequence) are bumped
//! with row-locking `UPDATE … RETURNING` in the same transaction, so concurrent writers under
//! one lock never lose an update.
//!
//! Connections are unencrypted: use a loopback address, a Unix socket (`host=/run/postgresql`)
//! or a tunnel. URLs asking for TLS (`sslmode=require`, `verify-ca`, `verify-full`) are refused
//! rather than silently downgraded. The password comes from the URL or, when the URL has none,
//! from `PGPASSWORD`.
//!
//! This module must never write without checking the caller's lock in the same transaction,
//! never show the password (in `describe()`, `Debug` or errors), and never interpret resource
//! properties.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::Serialize;
use serde::de::DeserializeOwned;
use slipway_provider::{Address, ResourceState};
use tokio::sync::{OnceCell, Semaphore, SemaphorePermit};
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, NoTls, Transaction};

use crate::lockid::new_lock_id;
use crate::{
    JournalEntry, LockInfo, LockRequest, RunOutcome, RunRecord, Snapshot, StateError, StateStore,
};

/// Forward migrations; `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
/// Append only: released migrations are never edited.
const MIGRATIONS: &[&str] = &["
    CREATE TABLE slipway_fleets (
        id SERIAL PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        serial BIGINT NOT NULL DEFAULT 0,
        journal_seq BIGINT NOT NULL DEFAULT 0
    );
    -- `generation` is the second key of the advisory lock: releasing a lock bumps it, so a
    -- released or forced holder whose connection lingers no longer blocks anyone.
    CREATE TABLE slipway_locks (
        fleet INTEGER PRIMARY KEY REFERENCES slipway_fleets (id),
        generation INTEGER NOT NULL DEFAULT 0,
        id TEXT,
        info TEXT
    );
    -- `deposed` is '' for the current object, as in the SQLite backend.
    CREATE TABLE slipway_resources (
        fleet INTEGER NOT NULL REFERENCES slipway_fleets (id),
        address TEXT NOT NULL,
        deposed TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (fleet, address, deposed)
    );
    CREATE TABLE slipway_runs (
        fleet INTEGER NOT NULL REFERENCES slipway_fleets (id),
        id TEXT NOT NULL,
        started_us BIGINT NOT NULL,
        ord BIGSERIAL NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (fleet, id)
    );
    CREATE INDEX slipway_runs_started ON slipway_runs (fleet, started_us, ord);
    CREATE TABLE slipway_journal (
        fleet INTEGER NOT NULL REFERENCES slipway_fleets (id),
        seq BIGINT NOT NULL,
        run_id TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (fleet, seq)
    );
    CREATE INDEX slipway_journal_run ON slipway_journal (fleet, run_id, seq);
"];

/// Advisory lock key (two-int4 form) serialising migrations; fleet locks use the fleet id
/// (from 1) as first key, so they never collide with it.
const MIGRATION_KEY: (i32, i32) = (0, 0);

/// Namespace used when the URL names none.
const DEFAULT_NAMESPACE: &str = "default";

/// Connections a store opens at most for reads and writes (the lock's own connection aside).
const POOL_SIZE: usize = 8;

/// Keeps idle connections (above all the lock's) alive through NAT and firewalls, and lets
/// both ends notice a dead peer within minutes instead of hours.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);

/// PostgreSQL state store for one namespace of one database.
pub struct PostgresStore {
    config: Config,
    namespace: String,
    described: String,
    /// The namespace's row id, known once connected and migrated.
    fleet: OnceCell<i32>,
    idle: Mutex<Vec<Client>>,
    permits: Semaphore,
    /// The dedicated connection of each lock this store took, holding its advisory lock.
    held: Mutex<HashMap<String, Client>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("location", &self.described)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database named by `url` (`postgres://` or `postgresql://`), brings the
    /// schema up to date and registers the namespace.
    pub async fn connect(url: &str) -> Result<Self, StateError> {
        let store = Self::lazy(url)?;
        store.fleet().await?;
        Ok(store)
    }

    /// Parses `url` now and connects on first use: for callers that cannot await, such as
    /// [`crate::open_url`]. Connection and migration errors surface from the first operation.
    pub fn lazy(url: &str) -> Result<Self, StateError> {
        let location = Location::parse(url)?;
        Ok(Self {
            config: location.config,
            namespace: location.namespace,
            described: location.described,
            fleet: OnceCell::new(),
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(POOL_SIZE),
            held: Mutex::new(HashMap::new()),
        })
    }

    /// The namespace's id, migrating the schema and registering the namespace on first use.
    async fn fleet(&self) -> Result<i32, StateError> {
        self.fleet
            .get_or_try_init(|| async {
                let mut client = self.open_connection().await?;
                let fleet = migrate(&mut client, &self.namespace).await?;
                self.idle_pool().push(client);
                Ok(fleet)
            })
            .await
            .copied()
    }

    /// A new connection whose driver task runs on the current runtime.
    async fn open_connection(&self) -> Result<Client, StateError> {
        let (client, connection) = self.config.connect(NoTls).await.map_err(|e| {
            StateError::Backend(format!(
                "cannot connect to {}: {}",
                self.described,
                message(&e)
            ))
        })?;
        // The driver ends when the client is dropped or the server goes away; its error then
        // surfaces on the client's next query.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    fn idle_pool(&self) -> std::sync::MutexGuard<'_, Vec<Client>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn held_locks(&self) -> std::sync::MutexGuard<'_, HashMap<String, Client>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A pooled connection, waiting while [`POOL_SIZE`] are in use.
    async fn conn(&self) -> Result<Pooled<'_>, StateError> {
        self.fleet().await?;
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| StateError::Backend(format!("connection pool closed: {e}")))?;
        let reused = std::iter::from_fn(|| self.idle_pool().pop()).find(|c| !c.is_closed());
        let client = match reused {
            Some(client) => client,
            None => self.open_connection().await?,
        };
        Ok(Pooled {
            store: self,
            client: Some(client),
            _permit: permit,
        })
    }

    /// Starts a write transaction on `client` after checking, under a share lock on the lock
    /// row (which blocks unlocking and forcing until the write commits), that `lock` is
    /// current.
    async fn checked<'c>(
        &self,
        client: &'c mut Client,
        lock: &LockInfo,
    ) -> Result<Transaction<'c>, StateError> {
        let fleet = self.fleet().await?;
        let tx = client.transaction().await.map_err(db)?;
        let current: Option<String> = tx
            .query_one(
                "SELECT id FROM slipway_locks WHERE fleet = $1 FOR SHARE",
                &[&fleet],
            )
            .await
            .map_err(db)?
            .get(0);
        if current.as_deref() != Some(lock.id.as_str()) {
            return Err(StateError::LockLost(lock.id.clone()));
        }
        Ok(tx)
    }

    /// Clears the lock row if it carries `id`, bumping the generation so the released
    /// advisory lock is never needed again, then closes this store's dedicated connection
    /// for `id`, if any. Returns whether the row carried `id`.
    async fn release(&self, id: &str) -> Result<bool, StateError> {
        let fleet = self.fleet().await?;
        let released = {
            let mut conn = self.conn().await?;
            let tx = conn.client().transaction().await.map_err(db)?;
            let cleared = tx
                .execute(
                    "UPDATE slipway_locks
                     SET id = NULL, info = NULL,
                         generation = CASE WHEN generation = 2147483647 THEN 0
                                           ELSE generation + 1 END
                     WHERE fleet = $1 AND id = $2",
                    &[&fleet, &id],
                )
                .await
                .map_err(db)?;
            tx.commit().await.map_err(db)?;
            cleared == 1
        };
        // Dropping the client closes the connection, releasing its advisory lock.
        drop(self.held_locks().remove(id));
        Ok(released)
    }

    /// Bumps and returns one of the namespace's counters (`serial` or `journal_seq`).
    async fn bump(&self, tx: &Transaction<'_>, counter: Counter) -> Result<u64, StateError> {
        let sql = match counter {
            Counter::Serial => {
                "UPDATE slipway_fleets SET serial = serial + 1 WHERE id = $1 RETURNING serial"
            }
            Counter::Journal => {
                "UPDATE slipway_fleets SET journal_seq = journal_seq + 1 WHERE id = $1
                 RETURNING journal_seq"
            }
        };
        let fleet = self.fleet().await?;
        let value: i64 = tx.query_one(sql, &[&fleet]).await.map_err(db)?.get(0);
        to_u64(value, "counter")
    }
}

/// A connection borrowed from the pool, returned when dropped unless it broke.
struct Pooled<'s> {
    store: &'s PostgresStore,
    client: Option<Client>,
    _permit: SemaphorePermit<'s>,
}

impl Pooled<'_> {
    fn client(&mut self) -> &mut Client {
        self.client
            .as_mut()
            .expect("the client is only taken on drop")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        // An unfinished transaction was rolled back by its own drop, so the connection is
        // clean to reuse.
        if let Some(client) = self.client.take().filter(|c| !c.is_closed()) {
            self.store.idle_pool().push(client);
        }
    }
}

#[derive(Clone, Copy)]
enum Counter {
    Serial,
    Journal,
}

/// A parsed `postgres://` URL.
struct Location {
    config: Config,
    namespace: String,
    described: String,
}

impl Location {
    fn parse(url: &str) -> Result<Self, StateError> {
        let bad = |reason: String| StateError::BadUrl {
            url: redact(url),
            reason,
        };
        let trimmed = url.trim();
        if !(trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://")) {
            return Err(bad(
                "expected `postgres://user:password@host:port/database?namespace=NAME`".to_owned(),
            ));
        }
        let (base, query) = trimmed.split_once('?').unwrap_or((trimmed, ""));
        let mut namespace = None;
        let mut kept = form_urlencoded::Serializer::new(String::new());
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match &*key {
                "namespace" if value.is_empty() => {
                    return Err(bad("`namespace` must not be empty".to_owned()));
                }
                "namespace" => namespace = Some(value.into_owned()),
                "sslmode" if !matches!(&*value, "disable" | "prefer") => {
                    return Err(bad(format!(
                        "`sslmode={value}` asks for TLS, which the PostgreSQL backend does not \
                         support in this build; connect over loopback, a Unix socket or a tunnel \
                         with `sslmode=disable`"
                    )));
                }
                _ => {
                    kept.append_pair(&key, &value);
                }
            }
        }
        let kept = kept.finish();
        let rebuilt = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{kept}")
        };
        let mut config = Config::from_str(&rebuilt).map_err(|e| bad(message(&e)))?;
        if config.get_user().is_none() {
            return Err(bad(
                "the URL names no user, e.g. `postgres://slipway@host/database`".to_owned(),
            ));
        }
        if config.get_password().is_none()
            && let Ok(password) = std::env::var("PGPASSWORD")
        {
            config.password(password);
        }
        config.ssl_mode(SslMode::Disable);
        config.keepalives_idle(KEEPALIVE_IDLE);
        config.application_name("slipway");
        let namespace = namespace.unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        let redacted = redact(&rebuilt);
        let separator = if redacted.contains('?') { '&' } else { '?' };
        let described = format!(
            "{redacted}{separator}{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("namespace", &namespace)
                .finish()
        );
        Ok(Self {
            config,
            namespace,
            described,
        })
    }
}

/// `url` without its password: the `:password` of the user info and any `password`
/// parameter are removed.
fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (base, query) = match rest.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (rest, None),
    };
    let (authority, path) = base.split_at(base.find('/').unwrap_or(base.len()));
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            format!("{user}@{host}")
        }
        None => authority.to_owned(),
    };
    let mut out = if scheme.is_empty() {
        format!("{authority}{path}")
    } else {
        format!("{scheme}://{authority}{path}")
    };
    if let Some(query) = query {
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| {
                !pair
                    .split('=')
                    .next()
                    .unwrap_or("")
                    .eq_ignore_ascii_case("password")
            })
            .collect();
        if !kept.is_empty() {
            out.push('?');
            out.push_str(&kept.join("&"));
        }
    }
    out
}

/// Applies pending migrations and registers `namespace`, returning its fleet id. One
/// transaction under a transaction-scoped advisory lock, so concurrent first connections
/// cannot both migrate.
async fn migrate(client: &mut Client, namespace: &str) -> Result<i32, StateError> {
    let fail =
        |e: tokio_postgres::Error| StateError::Backend(format!("cannot migrate: {}", message(&e)));
    let tx = client.transaction().await.map_err(fail)?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, $2)",
        &[&MIGRATION_KEY.0, &MIGRATION_KEY.1],
    )
    .await
    .map_err(fail)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS slipway_schema (
            singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
            version INTEGER NOT NULL
        );
        INSERT INTO slipway_schema (version) VALUES (0) ON CONFLICT (singleton) DO NOTHING;",
    )
    .await
    .map_err(fail)?;
    let version: i32 = tx
        .query_one("SELECT version FROM slipway_schema", &[])
        .await
        .map_err(fail)?
        .get(0);
    let known = MIGRATIONS.len();
    let current = usize::try_from(version).unwrap_or(usize::MAX);
    if current > known {
        return Err(StateError::Backend(format!(
            "schema version {version} is newer than this build supports ({known}); upgrade slipway"
        )));
    }
    for sql in &MIGRATIONS[current..] {
        tx.batch_execute(sql).await.map_err(fail)?;
    }
    let known = i32::try_from(known).unwrap_or(i32::MAX);
    tx.execute("UPDATE slipway_schema SET version = $1", &[&known])
        .await
        .map_err(fail)?;
    tx.execute(
        "INSERT INTO slipway_fleets (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
        &[&namespace],
    )
    .await
    .map_err(fail)?;
    let fleet: i32 = tx
        .query_one(
            "SELECT id FROM slipway_fleets WHERE name = $1",
            &[&namespace],
        )
        .await
        .map_err(fail)?
        .get(0);
    tx.execute(
        "INSERT INTO slipway_locks (fleet) VALUES ($1) ON CONFLICT (fleet) DO NOTHING",
        &[&fleet],
    )
    .await
    .map_err(fail)?;
    tx.commit().await.map_err(fail)?;
    Ok(fleet)
}

fn db(e: tokio_postgres::Error) -> StateError {
    StateError::Backend(message(&e))
}

/// The error with its causes on one line: tokio-postgres shows only the outer kind (`db
/// error`), while the server's message is the cause.
fn message(e: &tokio_postgres::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string().replace('\n', "; "));
        source = cause.source();
    }
    out
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

fn to_u64(value: i64, what: &str) -> Result<u64, StateError> {
    u64::try_from(value).map_err(|_| StateError::Backend(format!("negative {what} {value}")))
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

#[async_trait]
impl StateStore for PostgresStore {
    fn describe(&self) -> String {
        self.described.clone()
    }

    /// Every contender first row-locks the lock row, then tries the advisory lock: the lock
    /// row is therefore always up to date when a contender reads it to name the holder.
    async fn lock(&self, request: &LockRequest) -> Result<LockInfo, StateError> {
        let fleet = self.fleet().await?;
        let mut client = self.open_connection().await?;
        let tx = client.transaction().await.map_err(db)?;
        let row = tx
            .query_one(
                "SELECT generation, info FROM slipway_locks WHERE fleet = $1 FOR UPDATE",
                &[&fleet],
            )
            .await
            .map_err(db)?;
        let generation: i32 = row.get(0);
        let recorded: Option<String> = row.get(1);
        let won: bool = tx
            .query_one(
                "SELECT pg_try_advisory_lock($1, $2)",
                &[&fleet, &generation],
            )
            .await
            .map_err(db)?
            .get(0);
        if !won {
            return match recorded {
                Some(body) => Err(StateError::Locked(from_json(|| "lock".to_owned(), &body)?)),
                None => Err(StateError::Backend(
                    "the lock is held by a session that recorded no holder; retry".to_owned(),
                )),
            };
        }
        // Any recorded holder here is dead: its advisory lock was released with its session.
        let info = LockInfo {
            id: new_lock_id(),
            holder: request.holder.clone(),
            operation: request.operation.clone(),
            since: Timestamp::now(),
        };
        tx.execute(
            "UPDATE slipway_locks SET id = $2, info = $3 WHERE fleet = $1",
            &[&fleet, &info.id, &to_json(&info)?],
        )
        .await
        .map_err(db)?;
        // On failure the connection is dropped, which releases the advisory lock too.
        tx.commit().await.map_err(db)?;
        self.held_locks().insert(info.id.clone(), client);
        Ok(info)
    }

    /// Releases `lock`; [`StateError::LockLost`] when it is no longer the current lock.
    async fn unlock(&self, lock: &LockInfo) -> Result<(), StateError> {
        if self.release(&lock.id).await? {
            Ok(())
        } else {
            Err(StateError::LockLost(lock.id.clone()))
        }
    }

    async fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        if self.release(id).await? {
            Ok(())
        } else {
            Err(StateError::NoSuchLock(id.to_owned()))
        }
    }

    /// The recorded lock, unless its holder's session is gone (its advisory lock is not
    /// granted to anyone): a dead holder's row stays until the next `lock` replaces it.
    async fn current_lock(&self) -> Result<Option<LockInfo>, StateError> {
        let mut conn = self.conn().await?;
        let fleet = self.fleet().await?;
        let row = conn
            .client()
            .query_one(
                "SELECT l.info, EXISTS (
                     SELECT 1 FROM pg_locks p
                     WHERE p.locktype = 'advisory' AND p.granted AND p.objsubid = 2
                       AND p.database = (SELECT oid FROM pg_database
                                         WHERE datname = current_database())
                       AND p.classid = l.fleet::oid AND p.objid = l.generation::oid)
                 FROM slipway_locks l WHERE l.fleet = $1",
                &[&fleet],
            )
            .await
            .map_err(db)?;
        let body: Option<String> = row.get(0);
        let alive: bool = row.get(1);
        body.filter(|_| alive)
            .map(|body| from_json(|| "lock".to_owned(), &body))
            .transpose()
    }

    async fn snapshot(&self) -> Result<Snapshot, StateError> {
        let mut conn = self.conn().await?;
        let fleet = self.fleet().await?;
        // One snapshot-isolated transaction so the serial matches the resources read.
        let tx = conn
            .client()
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(db)?;
        let serial: i64 = tx
            .query_one("SELECT serial FROM slipway_fleets WHERE id = $1", &[&fleet])
            .await
            .map_err(db)?
            .get(0);
        let mut snapshot = Snapshot {
            serial: to_u64(serial, "state serial")?,
            ..Snapshot::default()
        };
        let rows = tx
            .query(
                r#"SELECT address, deposed, body FROM slipway_resources WHERE fleet = $1
                   ORDER BY address COLLATE "C", deposed COLLATE "C""#,
                &[&fleet],
            )
            .await
            .map_err(db)?;
        for row in rows {
            let (address, deposed, body): (String, String, String) =
                (row.get(0), row.get(1), row.get(2));
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
        tx.commit().await.map_err(db)?;
        Ok(snapshot)
    }

    async fn put_resource(
        &self,
        lock: &LockInfo,
        resource: &ResourceState,
    ) -> Result<u64, StateError> {
        let address = resource.address.to_string();
        let deposed = deposed_key(resource.deposed.as_deref())?;
        let body = to_json(resource)?;
        let mut conn = self.conn().await?;
        let fleet = self.fleet().await?;
        let tx = self.checked(conn.client(), lock).await?;
        tx.execute(
            "INSERT INTO slipway_resources (fleet, address, deposed, body) VALUES ($1, $2, $3, $4)
             ON CONFLICT (fleet, address, deposed) DO UPDATE SET body = excluded.body",
            &[&fleet, &address, &deposed, &body],
        )
        .await
        .map_err(db)?;
        // Bumped last, so the namespace row stays locked only until the commit right after.
        let serial = self.bump(&tx, Counter::Serial).await?;
        tx.commit().await.map_err(db)?;
        Ok(serial)
    }

    /// Removing an address that is not recorded still bumps the serial, as in every backend.
    async fn remove_resource(
        &self,
        lock: &LockInfo,
        address: &Address,
        deposed: Option<&str>,
    ) -> Result<u64, StateError> {
        let address = address.to_string();
        let deposed = deposed_key(deposed)?;
        let mut conn = self.conn().await?;
        let fleet = self.fleet().await?;
        let tx = self.checked(conn.client(), lock).await?;
        tx.execute(
            "DELETE FROM slipway_resources WHERE fleet = $1 AND address = $2 AND deposed = $3",
            &[&fleet, &address, &deposed],
        )
        .await
        .map_err(db)?;
        let serial = self.bump(&tx, Counter::Serial).await?;
        tx.commit().await.map_err(db)?;
        Ok(serial)
    }

    async fn begin_run(&self, lock: &LockInfo, run: &RunRecord) -> Result<(), StateError> {
        let body = to_json(run)?;
        let started = run.started_at.as_microsecond();
        let mut conn = self.conn().await?;
        let fleet = self.fleet().await?;
        let tx = self.checked(conn.client(), lock).await?;
        tx.execute(
            "INSERT INTO slipway_runs (fleet, id, started_us, body) VALUES ($1, $2, $3, $4)",
            &[&fleet, &run.id, &started, &body],
        )
        .await
        .map_err(|e| {
            StateError::Backend(format!("cannot record run `{}`: {}", run.id, message(&e)))
        })?;
        tx.commit().await.map_err(db)
    }

    async fn finish_run(
        &self,
        lock: &LockInfo,
        run_id: &str,
        outcome: RunOutcome,
    ) -> Result<(), StateError> {
        let mut conn = self.conn().await?;
        let fleet = self.fleet().await?;
        let tx = self.checked(conn.client(), lock).await?;
        let row = tx
            .query_opt(
                "SELECT body FROM slipway_runs WHERE fleet = $1 AND id = $2 FOR UPDATE",
                &[&fleet, &run_id],
            )
            .await
            .map_err(db)?
            .ok_or_else(|| StateError::Backend(format!("no run with id `{run_id}`")))?;
        let mut run: RunRecord = from_json(|| format!("run `{run_id}`"), row.get(0))?;
        run.finished_at = Some(Timestamp::now());
        run.outcome = Some(outcome);
        tx.execute(
            "UPDATE slipway_runs SET body = $3 WHERE fleet = $1 AND id = $2",
            &[&fleet, &run_id, &to_json(&run)?],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    /// Sequence numbers come from a counter bumped in the appending transaction, so they are
    /// dense, start at 1 per namespace, and follow commit order.
    async fn append_journal(
        &self,
        lock: &LockInfo,
        entry: &JournalEntry,
    ) -> Result<u64, StateError> {
        let body = to_json(entry)?;
        let mut conn = self.conn().await?;
        let fleet = self.fleet().await?;
        let tx = self.checked(conn.client(), lock).await?;
        let seq = self.bump(&tx, Counter::Journal).await?;
        let stored = i64::try_from(seq).unwrap_or(i64::MAX);
        tx.execute(
            "INSERT INTO slipway_journal (fleet, seq, run_id, body) VALUES ($1, $2, $3, $4)",
            &[&fleet, &stored, &entry.run_id, &body],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(seq)
    }

    async fn history(&self, limit: usize) -> Result<Vec<RunRecord>, StateError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut conn = self.conn().await?;
        let fleet = self.fleet().await?;
        let rows = conn
            .client()
            .query(
                "SELECT id, body FROM slipway_runs WHERE fleet = $1
                 ORDER BY started_us DESC, ord DESC LIMIT $2",
                &[&fleet, &limit],
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|row| {
                let id: &str = row.get(0);
                from_json(|| format!("run `{id}`"), row.get(1))
            })
            .collect()
    }

    async fn journal(&self, run_id: Option<&str>) -> Result<Vec<JournalEntry>, StateError> {
        let mut conn = self.conn().await?;
        let fleet = self.fleet().await?;
        let rows = conn
            .client()
            .query(
                "SELECT seq, body FROM slipway_journal
                 WHERE fleet = $1 AND ($2::TEXT IS NULL OR run_id = $2) ORDER BY seq",
                &[&fleet, &run_id],
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|row| {
                let seq: i64 = row.get(0);
                let mut entry: JournalEntry =
                    from_json(|| format!("journal entry {seq}"), row.get(1))?;
                entry.seq = to_u64(seq, "journal sequence")?;
                Ok(entry)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_drops_every_password() {
        for (url, expected) in [
            (
                "postgres://alice:hunter2@db:5432/slipway?namespace=prod",
                "postgres://alice@db:5432/slipway?namespace=prod",
            ),
            (
                "postgresql://alice:p%40ss@db/x?password=hunter2&sslmode=disable",
                "postgresql://alice@db/x?sslmode=disable",
            ),
            ("postgres://db/x?PASSWORD=hunter2", "postgres://db/x"),
            ("postgres://al:ice@h@db", "postgres://al@db"),
        ] {
            assert_eq!(redact(url), expected, "{url}");
        }
    }

    #[test]
    fn urls_parse_to_namespace_and_redacted_description() {
        let loc = Location::parse("postgres://alice:hunter2@db:5433/states?namespace=prod")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loc.namespace, "prod");
        assert_eq!(
            loc.described,
            "postgres://alice@db:5433/states?namespace=prod"
        );
        assert_eq!(loc.config.get_dbname(), Some("states"));
        assert_eq!(loc.config.get_ports(), &[5433]);

        let loc = Location::parse("postgresql://alice@db/states?sslmode=disable")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loc.namespace, "default");
        assert_eq!(
            loc.described,
            "postgresql://alice@db/states?sslmode=disable&namespace=default"
        );
    }

    #[test]
    fn bad_urls_are_refused_without_their_password() {
        for (url, reason) in [
            ("postgres://a:hunter2@db/x?sslmode=require", "asks for TLS"),
            (
                "postgres://a:hunter2@db/x?sslmode=verify-full",
                "asks for TLS",
            ),
            ("postgres://a:hunter2@db/x?namespace=", "must not be empty"),
            ("postgres://a:hunter2@db/x?bogus=1", "unknown option"),
            ("postgres://db/x", "names no user"),
            ("mysql://a:hunter2@db/x", "expected `postgres://"),
        ] {
            match Location::parse(url) {
                Err(e @ StateError::BadUrl { .. }) => {
                    let message = e.to_string();
                    assert!(message.contains(reason), "{url}: {message}");
                    assert!(!message.contains("hunter2"), "{url}: {message}");
                }
                Err(other) => panic!("{url}: expected BadUrl, got {other}"),
                Ok(_) => panic!("{url}: accepted"),
            }
        }
    }

    #[test]
    fn empty_deposed_key_is_refused() {
        assert_eq!(deposed_key(None).unwrap_or_default(), "");
        assert!(deposed_key(Some("")).is_err());
    }
}
