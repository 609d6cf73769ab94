//! Azurite's blob server from the workspace's `node_modules`, one shared by the whole test
//! binary (tests isolate themselves with a container each), in memory. The Rust blob client
//! has no shared-key auth, so clients get an account SAS for Azurite's well-known development
//! account, signed here. The key and signature must never be shown except to the tests.

use std::process::Command;
use std::sync::OnceLock;

use azure_core::credentials::Secret;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::guardian::{Guarded, server_dir};

/// Azurite's development account.
pub const ACCOUNT: &str = "devstoreaccount1";
/// Its published key (not a secret, but it must still never show up in messages).
pub const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A running Azurite blob server.
pub struct Azurite {
    /// `http://127.0.0.1:PORT/devstoreaccount1`.
    pub endpoint: String,
    /// An account SAS for the blob service, valid for every container (query string without
    /// the leading `?`).
    pub sas: String,
}

/// The shared server with its guardian, which lives until the binary exits.
struct Shared {
    azurite: Azurite,
    _guard: Guarded,
}

/// One Azurite for the whole test binary (started on first use, stopped when the binary exits).
pub fn shared() -> &'static Azurite {
    static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();
    match SHARED.get_or_init(launch) {
        Ok(shared) => &shared.azurite,
        Err(reason) => crate::cannot_start("Azurite", reason),
    }
}

fn launch() -> Result<Shared, String> {
    let binary = crate::workspace_root().join("node_modules/.bin/azurite-blob");
    if !binary.is_file() {
        return Err(format!("Azurite is not installed at {}", binary.display()));
    }
    let port = crate::free_port()?;
    let dir = server_dir("slipway-azurite-")?;
    let mut server = Command::new(&binary);
    server
        .args(["--inMemoryPersistence", "--disableTelemetry"])
        .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()]);
    let guard = Guarded::spawn(&server, &dir, "TERM")?;
    crate::wait_for_port("azurite-blob", port, &guard)?;
    Ok(Shared {
        azurite: Azurite {
            endpoint: format!("http://127.0.0.1:{port}/{ACCOUNT}"),
            sas: account_sas()?,
        },
        _guard: guard,
    })
}

/// An account SAS for the blob service: all resource types, read/write/delete/list/add/create.
fn account_sas() -> Result<String, String> {
    let (version, services, types, permissions) = ("2021-08-06", "b", "sco", "rwdlac");
    let (expiry, protocols) = ("2099-01-01T00:00:00Z", "https,http");
    // Account SAS string-to-sign (version 2020-12-06 and later): account, permissions,
    // services, resource types, start, expiry, IP, protocols, version, encryption scope.
    let to_sign = format!(
        "{ACCOUNT}\n{permissions}\n{services}\n{types}\n\n{expiry}\n\n{protocols}\n{version}\n\n"
    );
    let signature = azure_core::hmac::hmac_sha256(&to_sign, &Secret::new(ACCOUNT_KEY))
        .map_err(|e| format!("cannot sign the account SAS: {e}"))?;
    let enc = |v: &str| utf8_percent_encode(v, NON_ALPHANUMERIC).to_string();
    Ok(format!(
        "sv={version}&ss={services}&srt={types}&sp={permissions}&se={}&spr={}&sig={}",
        enc(expiry),
        enc(protocols),
        enc(&signature)
    ))
}
