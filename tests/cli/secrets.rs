//! Credentials and secrets never appear in state, journal or logs: a real apply runs against
//! each team backend with the most verbose logging, then everything it printed and everything
//! the backend stores (state, history, every run's journal) is searched for the secret.

use slipway_emulator::FaultConfig;

use crate::cloud::{Cloud, example};
use crate::one_json_document;
use crate::stress::Backend;

/// Applies, then returns every text the run printed or the backend stores.
fn everything_written(backend: &Backend, cloud: &Cloud) -> Vec<String> {
    let (dir, fleet) = example("aws");
    let fleet = fleet.to_str().unwrap();
    let applied = backend
        .slipway(dir.path())
        .env("SLIPWAY_LOG", "trace")
        .args(["--emulator-url", &cloud.url, "--output", "json"])
        .args(["apply", fleet, "--auto-approve", "--cluster", "dev-use1"])
        .assert()
        .code(0);
    let output = applied.get_output();
    let mut texts = vec![
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ];
    let read = |args: &[&str]| {
        let out = backend
            .slipway(dir.path())
            .env("SLIPWAY_LOG", "trace")
            .args(["--output", "json"])
            .args(args)
            .assert()
            .code(0);
        let out = out.get_output();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (state, logs) = read(&["state", "list", fleet]);
    texts.extend([state, logs]);
    let (history, logs) = read(&["state", "history", fleet]);
    let runs = one_json_document(history.as_bytes())["runs"].clone();
    texts.extend([history, logs]);
    for run in runs.as_array().unwrap() {
        let id = run["id"].as_str().unwrap();
        let (journal, logs) = read(&["state", "history", fleet, "--run", id]);
        assert!(journal.contains("\"intent\""), "run {id} journaled nothing");
        texts.extend([journal, logs]);
    }
    texts
}

fn assert_absent(secret: &str, texts: &[String]) {
    assert!(secret.len() >= 8, "`{secret}` is too short to search for");
    for text in texts {
        assert!(!text.contains(secret), "a secret leaked into:\n{text}");
    }
}

#[test]
fn no_backend_credential_reaches_state_journal_or_logs() {
    let cloud = Cloud::start(FaultConfig::default());

    let postgres = Backend::postgres();
    let password = slipway_testkit::postgres::shared().password().to_owned();
    assert!(
        postgres.url.contains(&password),
        "the URL must carry the password under test"
    );
    assert_absent(&password, &everything_written(&postgres, &cloud));

    let secret = "s3cret-key-9d41c7e0b2a6";
    assert_absent(secret, &everything_written(&Backend::s3(secret), &cloud));

    let azblob = Backend::azblob();
    let signature = azblob.env[0]
        .1
        .split('&')
        .find_map(|pair| pair.strip_prefix("sig="))
        .expect("the SAS carries a signature")
        .to_owned();
    assert_absent(&signature, &everything_written(&azblob, &cloud));
}
