//! `slipway upgrade`: upgrade rings. Wiring only: the rollout lives in `slipway_engine::rollout`,
//! its progress in the state journal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use slipway_blueprints::{Fleet, KubeVersion, LoadOptions};
use slipway_engine::rollout::{
    self, Advanced, Command, CommandRunner, FleetLoader, RolloutContext, RolloutError, Stop,
};
use slipway_state::{LockInfo, RunRecord, StateStore};

use crate::cli::{Global, RolloutTarget, UpgradeCommand};
use crate::cloud::CloudSession;
use crate::context;
use crate::failure::{self, EXIT_ERROR, EXIT_OK, EXIT_WAITING, Failure};
use crate::render::{self, Out};

/// The blueprint file, loaded with per-cluster version overrides for each step.
struct Blueprint {
    path: PathBuf,
    today: jiff::civil::Date,
}

impl FleetLoader for Blueprint {
    fn load(&self, versions: &BTreeMap<String, KubeVersion>) -> Result<Fleet, String> {
        let mut options = LoadOptions::new(self.today);
        options.kubernetes_overrides = versions.clone();
        slipway_blueprints::load(&self.path, &options)
            .map(|l| l.fleet)
            .map_err(|f| {
                f.diagnostics
                    .iter()
                    .filter(|d| d.severity == slipway_blueprints::Severity::Error)
                    .map(|d| d.render_plain())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
    }
}

/// Gate commands run by `sh -c` in the blueprint's directory.
struct Shell {
    dir: PathBuf,
}

#[async_trait]
impl CommandRunner for Shell {
    async fn run(&self, command: &str, env: &[(String, String)]) -> Result<(bool, String), String> {
        let output = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .current_dir(&self.dir)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|e| e.to_string())?;
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        let text: String = text.chars().take(2000).collect();
        Ok((output.status.success(), text))
    }
}

fn target_of(args: &RolloutTarget) -> Result<KubeVersion, Failure> {
    KubeVersion::parse(&args.to).ok_or_else(|| {
        failure::error(format!(
            "--to `{}` is not a Kubernetes minor such as `1.36`",
            args.to
        ))
    })
}

pub async fn run(command: UpgradeCommand, global: &Global, out: &Out) -> Result<u8, Failure> {
    match command {
        UpgradeCommand::Plan(t) => plan(&t, global, out).await,
        UpgradeCommand::Status { target, events } => status(&target, events, global, out).await,
        UpgradeCommand::Advance(t) => drive(&t, global, out, false).await,
        UpgradeCommand::Run(t) => drive(&t, global, out, true).await,
        UpgradeCommand::Approve { target, ring } => {
            operator(&target, global, out, Command::Approve { ring }).await
        }
        UpgradeCommand::Pause { target, reason } => {
            operator(&target, global, out, Command::Pause { reason }).await
        }
        UpgradeCommand::Resume(target) => operator(&target, global, out, Command::Resume).await,
        UpgradeCommand::Retry { target, cluster } => {
            operator(&target, global, out, Command::Retry { cluster }).await
        }
        UpgradeCommand::Skip {
            target,
            cluster,
            reason,
        } => {
            if reason.trim().is_empty() {
                return Err(failure::error("skip needs a --reason"));
            }
            operator(&target, global, out, Command::Skip { cluster, reason }).await
        }
    }
}

fn rollout_failure(e: RolloutError) -> Failure {
    match e {
        RolloutError::State(s) => context::state_failure(s),
        other => other.into(),
    }
}

struct Session {
    fleet: Fleet,
    store: Box<dyn StateStore>,
    loader: Blueprint,
    shell: Shell,
}

fn open(path: &Path, global: &Global, out: &Out) -> Result<Session, Failure> {
    let fleet = context::load_fleet(path, global, out)?;
    let store = context::open_state(path, global)?;
    Ok(Session {
        fleet,
        store,
        loader: Blueprint {
            path: path.to_path_buf(),
            today: context::today(global)?,
        },
        shell: Shell {
            dir: context::blueprint_dir(path),
        },
    })
}

impl Session {
    /// The rollout context of one locked invocation; its run record names `operation`.
    fn context<'a>(
        &'a self,
        lock: &'a LockInfo,
        registry: &'a slipway_engine::Registry,
        observer: Arc<dyn slipway_engine::Observer>,
        global: &Global,
        operation: &str,
    ) -> RolloutContext<'a> {
        RolloutContext {
            store: &*self.store,
            lock,
            registry,
            loader: &self.loader,
            commands: &self.shell,
            observer,
            parallelism: global.parallelism.max(1),
            run: RunRecord {
                id: super::apply::run_id(),
                operation: operation.to_owned(),
                holder: lock.holder.clone(),
                started_at: jiff::Timestamp::now(),
                finished_at: None,
                outcome: None,
                blueprint_digest: self.fleet.digest.clone(),
                git_commit: context::git_commit(&self.loader.path),
                plan_digest: None,
            },
            today: self.loader.today,
        }
    }
}

async fn with_lock<T>(
    store: &dyn StateStore,
    operation: &str,
    work: impl AsyncFnOnce(&LockInfo) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let lock = context::lock(store, operation).await?;
    let result = work(&lock).await;
    let unlocked = store.unlock(&lock).await;
    let value = result?;
    unlocked?;
    Ok(value)
}

async fn operator(
    args: &RolloutTarget,
    global: &Global,
    out: &Out,
    command: Command,
) -> Result<u8, Failure> {
    let path = &args.blueprint.blueprint;
    let target = target_of(args)?;
    let s = open(path, global, out)?;
    let registry = context::expanders();
    let what = match &command {
        Command::Approve { ring } => format!("Approved ring `{ring}`"),
        Command::Pause { reason } => format!("Paused ({reason})"),
        Command::Resume => "Resumed".to_owned(),
        Command::Retry { cluster } => format!("Cluster `{cluster}` will retry its failed step"),
        Command::Skip { cluster, reason } => format!("Skipped cluster `{cluster}` ({reason})"),
    };
    with_lock(&*s.store, "upgrade", async |lock| {
        let ctx = s.context(
            lock,
            &registry,
            Arc::new(slipway_engine::NullObserver),
            global,
            "upgrade",
        );
        rollout::record(&ctx, target, command)
            .await
            .map_err(rollout_failure)
    })
    .await?;
    if out.json() {
        out.document(&serde_json::json!({ "version": 1, "recorded": what }));
    } else {
        out.line(&format!("{what} in the rollout to {target}."));
    }
    Ok(EXIT_OK)
}

async fn drive(
    args: &RolloutTarget,
    global: &Global,
    out: &Out,
    to_end: bool,
) -> Result<u8, Failure> {
    let path = &args.blueprint.blueprint;
    let target = target_of(args)?;
    let s = open(path, global, out)?;
    let cloud = CloudSession::open(path, global).await?;
    let observer = Arc::new(render::RolloutLog::new(out));
    let mut total: Vec<Advanced> = Vec::new();
    let result = loop {
        let advanced = with_lock(&*s.store, "upgrade advance", async |lock| {
            let ctx = s.context(
                lock,
                &cloud.registry,
                observer.clone(),
                global,
                "upgrade advance",
            );
            rollout::advance(&ctx, target)
                .await
                .map_err(rollout_failure)
        })
        .await;
        let advanced = match advanced {
            Ok(a) => a,
            Err(e) => break Err(e),
        };
        for step in &advanced.steps {
            observer.step(step);
        }
        let soak_until = match &advanced.stop {
            Stop::Soaking { until, .. } if to_end => Some(*until),
            _ => None,
        };
        total.push(advanced);
        let Some(until) = soak_until else {
            break Ok(());
        };
        let wait = until.duration_since(jiff::Timestamp::now());
        let wait = std::time::Duration::try_from(wait).unwrap_or_default();
        tokio::time::sleep(wait + std::time::Duration::from_millis(50)).await;
    };
    cloud.close().await;
    result?;
    let did_work = total.iter().any(Advanced::did_work);
    let stop = total
        .last()
        .map(|a| a.stop.clone())
        .unwrap_or(Stop::Finished);
    let steps: Vec<&rollout::StepReport> = total.iter().flat_map(|a| a.steps.iter()).collect();
    if out.json() {
        out.document(&render::advance_json(target, &steps, &stop, did_work));
    } else {
        out.line(&render::advance_summary(target, &steps, &stop));
    }
    // `advance` reports progress (0) whenever it did something; `run` promised to finish, so
    // stopping anywhere short of the end for a human is "waiting".
    Ok(match stop {
        Stop::Finished => EXIT_OK,
        Stop::Halted { .. } => EXIT_ERROR,
        _ if did_work && !to_end => EXIT_OK,
        _ => EXIT_WAITING,
    })
}

async fn plan(args: &RolloutTarget, global: &Global, out: &Out) -> Result<u8, Failure> {
    let path = &args.blueprint.blueprint;
    let target = target_of(args)?;
    let s = open(path, global, out)?;
    let journal = s.store.journal(None).await?;
    let reached = rollout::reached_versions(&journal);
    let snapshot = s.store.snapshot().await?;
    let cloud = CloudSession::open(path, global).await?;
    let versions = rollout::current_versions(&cloud.registry, &s.fleet, &reached, &snapshot).await;
    cloud.close().await;
    let (rings, unringed) =
        rollout::plan_rollout(&s.fleet, &versions, target).map_err(rollout_failure)?;
    if out.json() {
        out.document(&render::rollout_plan_json(
            target, &s.fleet, &rings, &unringed,
        ));
    } else {
        out.line(&render::rollout_plan(target, &s.fleet, &rings, &unringed));
    }
    Ok(EXIT_OK)
}

async fn status(
    args: &RolloutTarget,
    with_events: bool,
    global: &Global,
    out: &Out,
) -> Result<u8, Failure> {
    let path = &args.blueprint.blueprint;
    let target = target_of(args)?;
    let s = open(path, global, out)?;
    let rollout = rollout::load(&*s.store, target)
        .await
        .map_err(rollout_failure)?;
    let Some(rollout) = rollout else {
        if out.json() {
            out.document(&serde_json::json!({ "version": 1, "target": target.to_string(), "started": false }));
        } else {
            out.line(&format!(
                "No rollout to {target} has started; `slipway upgrade advance {} --to {target}` starts it.",
                path.display()
            ));
        }
        return Ok(EXIT_OK);
    };
    let now = jiff::Timestamp::now();
    let next = rollout::decide(&rollout, &s.fleet, now).map_err(rollout_failure)?;
    let events = if with_events {
        let id = rollout::rollout_id(target);
        s.store
            .journal(None)
            .await?
            .into_iter()
            .filter_map(|e| match e.event {
                slipway_state::JournalEvent::Rollout { rollout, detail } if rollout == id => {
                    Some(serde_json::json!({ "seq": e.seq, "at": e.at, "run_id": e.run_id, "event": detail }))
                }
                _ => None,
            })
            .collect()
    } else {
        Vec::new()
    };
    if out.json() {
        let mut doc = render::status_json(&rollout, &next, now);
        if with_events {
            doc["events"] = serde_json::Value::Array(events);
        }
        out.document(&doc);
    } else {
        out.line(&render::status_table(&rollout, &next, now));
        for e in &events {
            out.line(&format!(
                "{} {} {}",
                e["at"].as_str().unwrap_or_default(),
                e["run_id"].as_str().unwrap_or_default(),
                e["event"]
            ));
        }
    }
    Ok(EXIT_OK)
}
