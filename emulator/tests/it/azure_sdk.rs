//! The ARM referee: Microsoft's Python SDKs (azure-mgmt-resource, -network, -msi,
//! -containerservice with their LRO pollers) drive the emulator through
//! `emulator/tests/azure_sdk_conformance.py`, using the project venv at `<workspace>/.venv`
//! that `scripts/install-referees` sets up. A referee that cannot start fails the test.

use std::path::PathBuf;
use std::process::Stdio;

use slipway_emulator::EmulatorConfig;

use crate::{Env, quiet};

fn venv_python() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".venv").join("bin").join("python");
    let has_sdks = std::process::Command::new(&python)
        .args([
            "-c",
            "import azure.mgmt.containerservice, azure.mgmt.network, azure.mgmt.msi, azure.mgmt.resource.resources",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_sdks,
        "the Azure SDK referee cannot start: run `scripts/install-referees` in {}",
        root.display()
    );
    python
}

#[tokio::test]
async fn azure_sdks_and_their_pollers_accept_the_emulator() {
    let python = venv_python();
    let env = Env::with(EmulatorConfig {
        time_scale: 3000.0,
        faults: quiet(),
        seed: 5,
        today: Some("2026-08-01".parse().unwrap()),
        ..EmulatorConfig::default()
    })
    .await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("azure_sdk_conformance.py");
    let out = tokio::process::Command::new(python)
        .arg(script)
        .env("EMULATOR_URL", env.emulator.url())
        .env_remove("AZURE_CLIENT_ID")
        .env_remove("AZURE_TENANT_ID")
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "azure sdk conformance failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(stdout.contains("azure sdk conformance: ok"), "{stdout}");
}
