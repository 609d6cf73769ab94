//! The user contract of the `slipway` binary: commands, exit codes, stdout/stderr discipline.

mod aws;
mod azure;
mod cloud;
mod contract;
mod dr;
mod emulator;
mod scan;
mod scan_cloud;
mod secrets;
mod state;
mod stress;
mod upgrade;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The evaluation date every test pins, so calendar checks are reproducible.
pub const TODAY: &str = "2026-11-21";

/// A `slipway` command with a pinned date, no colour and no inherited state location.
pub fn slipway(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("slipway").expect("slipway binary");
    cmd.current_dir(dir)
        .env("SLIPWAY_TODAY", TODAY)
        .env("NO_COLOR", "1")
        .env_remove("SLIPWAY_STATE")
        .env_remove("SLIPWAY_LOG");
    cmd
}

/// A temporary directory holding a copy of the quickstart example as `fleet.yaml`.
pub fn quickstart() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart/fleet.yaml");
    let target = dir.path().join("fleet.yaml");
    std::fs::copy(source, &target).expect("copy example");
    (dir, target)
}

/// Parses stdout as exactly one JSON document.
pub fn one_json_document(stdout: &[u8]) -> serde_json::Value {
    let text = std::str::from_utf8(stdout).expect("utf-8 stdout");
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
    let doc = stream.next().expect("a JSON document").expect("valid JSON");
    assert!(
        stream.next().is_none(),
        "stdout holds more than one JSON document:\n{text}"
    );
    doc
}
