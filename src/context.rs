//! What every command needs: the evaluation date, the loaded blueprint, the state store, and
//! the provider registry. Wiring only; no domain logic.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use slipway_blueprints::{Fleet, LoadOptions, Severity};
use slipway_engine::Registry;
use slipway_state::{LockInfo, LockRequest, StateError, StateStore};

use crate::cli::Global;
use crate::failure::{self, Failure};
use crate::render::Out;

/// The date support calendars and exception expiry are evaluated on.
pub fn today(global: &Global) -> Result<jiff::civil::Date, Failure> {
    match &global.today {
        Some(text) => text.parse().map_err(|e| {
            failure::error(format!("--today `{text}` is not a date (YYYY-MM-DD): {e}"))
        }),
        None => Ok(jiff::Zoned::now().date()),
    }
}

/// Loads and validates a blueprint; warnings are rendered, errors fail with exit code 3.
pub fn load_fleet(path: &Path, global: &Global, out: &Out) -> Result<Fleet, Failure> {
    let options = LoadOptions::new(today(global)?);
    match slipway_blueprints::load(path, &options) {
        Ok(loaded) => {
            if !out.quiet {
                out.diagnostics(&loaded.warnings);
            }
            Ok(loaded.fleet)
        }
        Err(failure) => {
            if failure
                .diagnostics
                .iter()
                .any(|d| d.severity == Severity::Error)
            {
                Err(Failure::Invalid(failure.diagnostics))
            } else {
                Err(failure::error("blueprint could not be loaded"))
            }
        }
    }
}

/// The fleet as plans must see it: clusters that an upgrade rollout moved past the version the
/// blueprint declares are planned at the version they reached (with a warning), never moved
/// back, because clouds refuse downgrades and a plan that proposes one is a trap.
pub async fn with_rollouts(
    path: &Path,
    fleet: Fleet,
    store: &dyn StateStore,
    global: &Global,
    out: &Out,
) -> Result<Fleet, Failure> {
    let journal = store.journal(None).await?;
    let reached = slipway_engine::rollout::reached_versions(&journal);
    let ahead = slipway_engine::rollout::ahead_of_blueprint(&fleet, &reached);
    if ahead.is_empty() {
        return Ok(fleet);
    }
    for (name, reached) in &ahead {
        out.note(&format!(
            "warning: cluster `{name}` runs {reached} after an upgrade rollout but the blueprint declares an older minor; planning it at {reached} (update the blueprint)"
        ));
    }
    let mut options = LoadOptions::new(today(global)?);
    options.kubernetes_overrides = ahead;
    slipway_blueprints::load(path, &options)
        .map(|l| l.fleet)
        .map_err(|f| Failure::Invalid(f.diagnostics))
}

/// The fleet as plans must see it with its DR standbys: every standby state records resources
/// of (so `apply` keeps a built standby converged instead of deleting it), plus `building`, the
/// standby `dr build` is about to create.
pub async fn with_standbys(
    fleet: Fleet,
    store: &dyn StateStore,
    building: Option<&str>,
) -> Result<Fleet, Failure> {
    let snapshot = store.snapshot().await?;
    let mut names = slipway_engine::dr::built_standbys(&fleet, &snapshot);
    names.extend(building.map(str::to_owned));
    if names.is_empty() {
        return Ok(fleet);
    }
    Ok(fleet.with_standbys(names.iter().map(String::as_str)))
}

/// The directory state and other local files live beside: the blueprint's directory.
pub fn blueprint_dir(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }
}

/// Opens the state store selected by `--state` / `SLIPWAY_STATE`, or the local default.
pub fn open_state(blueprint: &Path, global: &Global) -> Result<Box<dyn StateStore>, Failure> {
    let url = global.state.as_deref().unwrap_or("");
    Ok(slipway_state::open_url(url, &blueprint_dir(blueprint))?)
}

/// Expanders of every cloud: enough to validate, graph and plan without touching a cloud.
pub fn expanders() -> Registry {
    let mut registry = Registry::new();
    registry.add_expander(Arc::new(slipway_aws::AwsExpander::default()));
    registry.add_expander(Arc::new(slipway_azure::AzureExpander::default()));
    registry
}

/// `user@host (pid N)`: who holds a lock or ran an operation.
pub fn holder() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "localhost".into());
    format!("{user}@{host} (pid {})", std::process::id())
}

/// Takes the state lock, mapping contention to exit code 4.
pub async fn lock(store: &dyn StateStore, operation: &str) -> Result<LockInfo, Failure> {
    let request = LockRequest {
        holder: holder(),
        operation: operation.to_owned(),
    };
    store.lock(&request).await.map_err(state_failure)
}

/// A state error as a failure: lock contention exits 4, anything else 1.
pub fn state_failure(e: StateError) -> Failure {
    match e {
        StateError::Locked(info) => Failure::Locked(info),
        other => other.into(),
    }
}

/// `git rev-parse HEAD` of the repository holding the blueprint, if any.
pub fn git_commit(blueprint: &Path) -> Option<String> {
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(blueprint_dir(blueprint))
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}
