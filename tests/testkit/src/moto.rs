//! `moto_server` from the workspace's `.venv`: one shared by the whole test binary (tests
//! isolate themselves with names of their own), or a private one per test for tests that reset
//! or fault it. Moto accepts any credentials. The managed IAM policies are loaded, as the AWS
//! provider attaches them by ARN.

use std::ops::Deref;
use std::process::Command;
use std::sync::OnceLock;

use crate::guardian::{Guarded, server_dir};

/// A running moto server.
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

/// A private moto server, stopped on drop.
pub struct OwnedMoto {
    moto: Moto,
    _guard: Guarded,
}

impl Deref for OwnedMoto {
    type Target = Moto;

    fn deref(&self) -> &Moto {
        &self.moto
    }
}

/// The shared server with its guardian, which lives until the binary exits.
struct Shared {
    moto: Moto,
    _guard: Guarded,
}

/// One moto for the whole test binary (started on first use, stopped when the binary exits).
pub fn shared() -> &'static Moto {
    static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();
    // A failed start is remembered, so later tests fail at once instead of retrying.
    match SHARED.get_or_init(|| launch().map(|(moto, _guard)| Shared { moto, _guard })) {
        Ok(shared) => &shared.moto,
        Err(reason) => crate::cannot_start("moto", reason),
    }
}

/// A private moto, stopped on drop (for tests that reset or fault it).
pub fn start() -> OwnedMoto {
    match launch() {
        Ok((moto, _guard)) => OwnedMoto { moto, _guard },
        Err(reason) => crate::cannot_start("moto", &reason),
    }
}

fn launch() -> Result<(Moto, Guarded), String> {
    let binary = crate::workspace_root().join(".venv/bin/moto_server");
    if !binary.is_file() {
        return Err(format!("moto is not installed at {}", binary.display()));
    }
    let port = crate::free_port()?;
    let mut server = Command::new(&binary);
    server
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true");
    let guard = Guarded::spawn(&server, &server_dir("slipway-moto-")?, "TERM")?;
    crate::wait_for_port("moto_server", port, &guard)?;
    let moto = Moto {
        url: format!("http://127.0.0.1:{port}"),
    };
    Ok((moto, guard))
}
