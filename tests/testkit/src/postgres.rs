//! A throwaway PostgreSQL cluster (initdb + postgres) shared by the whole test binary, in a
//! temporary directory that goes with it; one database per test. The superuser's password is
//! stored as MD5: SCRAM's 4096 PBKDF2 rounds cost tens of milliseconds per connection in an
//! unoptimised test build. PostgreSQL refuses to run as root, so as root (CI) the server runs
//! as `nobody` through `setpriv`. Administration goes over the Unix socket (trusted), so it
//! never needs the password.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::guardian::{Guarded, server_dir};

/// The superuser the tests connect as.
const USER: &str = "slipway";
/// Its password: the credential tests check never leaks.
const PASSWORD: &str = "Pg-Testkit-7f3a";

/// A running PostgreSQL server.
pub struct Postgres {
    port: u16,
    /// Holds the Unix socket.
    dir: PathBuf,
    databases: AtomicU32,
    _guard: Guarded,
}

/// One PostgreSQL for the whole test binary (started on first use, stopped and deleted when
/// the binary exits).
pub fn shared() -> &'static Postgres {
    static SHARED: OnceLock<Result<Postgres, String>> = OnceLock::new();
    match SHARED.get_or_init(launch) {
        Ok(server) => server,
        Err(reason) => crate::cannot_start("PostgreSQL", reason),
    }
}

impl Postgres {
    /// A fresh, empty database; returns its name.
    pub fn create_database(&self) -> String {
        let name = format!("t{}", self.databases.fetch_add(1, Ordering::Relaxed));
        if let Err(reason) = self.admin(&format!("CREATE DATABASE {name}")) {
            panic!("cannot create database {name}: {reason}");
        }
        name
    }

    /// `postgres://USER:PASSWORD@127.0.0.1:PORT/DATABASE?namespace=NAMESPACE`.
    pub fn url(&self, database: &str, namespace: &str) -> String {
        format!(
            "postgres://{USER}:{PASSWORD}@127.0.0.1:{}/{database}?namespace={namespace}",
            self.port
        )
    }

    /// The password in those URLs (tests grep for it to prove it never leaks).
    pub fn password(&self) -> &str {
        PASSWORD
    }

    /// Runs `sql` as the superuser over the socket. On a thread and runtime of its own: the
    /// caller may be inside a test's runtime, which must not block on another.
    fn admin(&self, sql: &str) -> Result<(), String> {
        let (dir, port, sql) = (self.dir.clone(), self.port, sql.to_owned());
        std::thread::spawn(move || admin_now(&dir, port, &sql))
            .join()
            .map_err(|_| "the administration thread panicked".to_owned())?
    }
}

fn admin_now(dir: &Path, port: u16, sql: &str) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    runtime.block_on(async {
        let mut config = tokio_postgres::Config::new();
        config
            .host_path(dir)
            .port(port)
            .user(USER)
            .dbname("postgres");
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("socket connection: {e:?}"))?;
        let driver = tokio::spawn(connection);
        client
            .batch_execute(sql)
            .await
            .map_err(|e| format!("{e:?}"))?;
        drop(client);
        let _ = driver.await;
        Ok(())
    })
}

fn launch() -> Result<Postgres, String> {
    let bin = bin_dir()?;
    let dir = server_dir("slipway-pg-")?;
    let data = dir.join("data");
    let as_root = run(Command::new("id").arg("-u"))?.trim() == "0";
    if as_root {
        run(Command::new("chown").args(["-R", "nobody"]).arg(&dir))?;
    }
    let as_server_user = |program: &Path| {
        let mut command = if as_root {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
                .arg(program);
            c
        } else {
            Command::new(program)
        };
        command.current_dir(&dir);
        command
    };
    if let Err(reason) = run(as_server_user(&bin.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args(["-U", USER, "--auth-local=trust", "--auth-host=md5"])
        .args(["--no-sync", "-E", "UTF8", "--locale=C"]))
    {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(reason);
    }

    let port = crate::free_port()?;
    let mut server = as_server_user(&bin.join("postgres"));
    server.arg("-D").arg(&data);
    server.args(["-p", &port.to_string(), "-k"]).arg(&dir);
    for setting in [
        "listen_addresses=127.0.0.1",
        "fsync=off",
        "synchronous_commit=off",
        "full_page_writes=off",
        "max_connections=300",
    ] {
        server.args(["-c", setting]);
    }
    // SIGINT is PostgreSQL's fast shutdown.
    let guard = Guarded::spawn(&server, &dir, "INT")?;
    let deadline = Instant::now() + crate::START_TIMEOUT;
    loop {
        let ready = Command::new(bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
            .status()
            .map_err(|e| format!("cannot run pg_isready: {e}"))?;
        if ready.success() {
            break;
        }
        let log = guard.log();
        // pg_isready's own probes during startup log "the database system is starting up".
        let failed = guard.exited()
            || log
                .lines()
                .any(|l| l.contains("FATAL") && !l.contains("starting up"));
        if Instant::now() > deadline || failed {
            return Err(format!("the server did not become ready; its log:\n{log}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let server = Postgres {
        port,
        dir,
        databases: AtomicU32::new(0),
        _guard: guard,
    };
    server.admin(&format!(
        "SET password_encryption = 'md5'; ALTER ROLE {USER} PASSWORD '{PASSWORD}'"
    ))?;
    Ok(server)
}

/// Where `initdb`, `postgres` and `pg_isready` live: beside `postgres` on the PATH, else the
/// newest Debian `/usr/lib/postgresql/*/bin`.
fn bin_dir() -> Result<PathBuf, String> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("postgres"))
        .find(|p| p.is_file())
        .and_then(|p| std::fs::canonicalize(p).ok())
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let debian = || {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .collect();
        dirs.sort_by_key(|d| {
            d.parent()
                .and_then(|v| v.file_name())
                .and_then(|v| v.to_str())
                .and_then(|v| v.parse::<u32>().ok())
        });
        dirs.pop()
    };
    on_path
        .into_iter()
        .chain(debian())
        .find(|dir| {
            ["initdb", "postgres", "pg_isready"]
                .iter()
                .all(|b| dir.join(b).is_file())
        })
        .ok_or_else(|| {
            "the PostgreSQL server binaries (initdb, postgres, pg_isready) were not found on the \
             PATH nor in /usr/lib/postgresql/*/bin"
                .to_owned()
        })
}

/// Runs `command`, returning its stdout, or its stderr as the error.
fn run(command: &mut Command) -> Result<String, String> {
    let out = command
        .output()
        .map_err(|e| format!("cannot run {:?}: {e}", command.get_program()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{command:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
