//! The emulator as users run it: embedded (`--emulator`, persisted beside the blueprint) and
//! standalone (`slipway emulator serve`).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use predicates::prelude::*;

use crate::{TODAY, slipway};

#[test]
fn the_embedded_emulator_keeps_its_cloud_between_runs() {
    let (dir, fleet) = crate::cloud::example("aws");
    let fleet = fleet.to_str().unwrap();
    let args = [
        "--emulator",
        "--time-scale",
        "3000",
        "--cluster",
        "dev-use1",
    ];
    slipway(dir.path())
        .args(["apply", fleet, "--auto-approve"])
        .args(args)
        .assert()
        .code(0);
    assert!(dir.path().join(".slipway/emulator/aws.json").exists());
    // A new process, a new embedded emulator: it reads the same cloud, so refresh finds
    // every object and nothing is planned.
    slipway(dir.path())
        .args(["plan", fleet])
        .args(args)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("No changes"));
    slipway(dir.path())
        .args(["destroy", fleet, "--auto-approve"])
        .args(args)
        .assert()
        .code(0);
}

#[test]
fn emulator_serve_announces_its_url_and_stops_cleanly_on_interrupt() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("slipway"))
        .args(["emulator", "serve", "--port", "0", "--data"])
        .arg(data.path())
        .env("SLIPWAY_TODAY", TODAY)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();

    let (dir, fleet) = crate::cloud::example("aws");
    slipway(dir.path())
        .args(["--emulator-url", &url, "--time-scale", "3000"])
        .args(["plan", fleet.to_str().unwrap(), "--cluster", "dev-use1"])
        .assert()
        .code(2);

    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "serve exited with {status}");
    assert!(
        data.path().join("aws.json").exists(),
        "the cloud was not persisted on exit"
    );
}
