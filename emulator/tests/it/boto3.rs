//! The referee: boto3 (AWS's own parsers, paginators and waiters) drives the emulator through
//! `emulator/tests/boto3_conformance.py`, using the project venv at `<workspace>/.venv` that
//! `scripts/install-referees` sets up. A referee that cannot start fails the test.

use std::path::PathBuf;
use std::process::Stdio;

use slipway_emulator::EmulatorConfig;

use crate::{Env, quiet};

fn venv_python() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".venv").join("bin").join("python");
    let has_boto3 = std::process::Command::new(&python)
        .args(["-c", "import boto3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_boto3,
        "the boto3 referee cannot start: run `scripts/install-referees` in {}",
        root.display()
    );
    python
}

#[tokio::test]
async fn boto3_parsers_and_waiters_accept_the_emulator() {
    let python = venv_python();
    let env = Env::with(EmulatorConfig {
        time_scale: 3000.0,
        faults: quiet(),
        seed: 3,
        ..EmulatorConfig::default()
    })
    .await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("boto3_conformance.py");
    let out = tokio::process::Command::new(python)
        .arg(script)
        .env("EMULATOR_URL", env.emulator.url())
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "boto3 conformance failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(stdout.contains("boto3 conformance: ok"), "{stdout}");
}
