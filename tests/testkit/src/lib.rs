//! The referee servers Slipway's test suites run against: moto (AWS), Azurite (Azure Blob) and
//! PostgreSQL, each started on a free loopback port and stopped when the test process ends,
//! however it ends. Dev-only: it must never be a dependency of a shipped crate nor depend on
//! one, and it never skips: a server that cannot start panics with the fix.

pub mod azurite;
mod guardian;
pub mod moto;
pub mod postgres;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use guardian::Guarded;

/// The fix every start failure names.
const INSTALL: &str = "run `scripts/install-referees` in the workspace root";

/// How long a server may take to accept connections (moto imports a lot of Python).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The workspace root (where `.venv`, `node_modules`, `scripts/` live).
pub fn workspace_root() -> PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // This crate lives at `tests/testkit`.
    manifest
        .ancestors()
        .nth(2)
        .unwrap_or(manifest)
        .to_path_buf()
}

/// A loopback port nothing listens on right now.
fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

/// Waits until `server` accepts connections on `port`; if it exits or times out, says so with
/// its log.
fn wait_for_port(name: &str, port: u16, server: &Guarded) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if server.exited() {
            return Err(format!(
                "{name} exited at start; its log:\n{}",
                server.log()
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{name} did not listen on 127.0.0.1:{port} within {}s; its log:\n{}",
                START_TIMEOUT.as_secs(),
                server.log()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Panics with why `name` could not start and the fix.
fn cannot_start(name: &str, reason: &str) -> ! {
    panic!("cannot start the {name} test server: {reason}; {INSTALL}")
}
