//! `slipway apply` and `slipway destroy`: plan under the state lock, confirm, walk.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use slipway_engine::{ApplyContext, PlanMode, Registry, Selection};
use slipway_state::{LockInfo, RunRecord, StateStore};

use super::plan::{make_plan, read_plan, show_plan};
use crate::cli::{ApplyArgs, DestroyArgs, Global};
use crate::cloud::CloudSession;
use crate::context;
use crate::failure::{self, EXIT_ERROR, EXIT_OK, Failure};
use crate::render::{Out, ProgressRenderer};

/// How a converge run was asked for.
struct Request<'a> {
    blueprint: &'a Path,
    operation: &'static str,
    mode: PlanMode,
    saved_plan: Option<&'a Path>,
    auto_approve: bool,
    refresh: bool,
    selection: Selection,
    /// A DR standby to build: planned with the fleet although state holds none of it yet.
    standby: Option<&'a str>,
}

pub async fn apply(args: &ApplyArgs, global: &Global, out: &Out) -> Result<u8, Failure> {
    converge(
        Request {
            blueprint: &args.blueprint.blueprint,
            operation: "apply",
            mode: PlanMode::Apply,
            saved_plan: args.plan.as_deref(),
            auto_approve: args.auto_approve,
            refresh: args.refresh,
            selection: Selection {
                clusters: args.selection.clusters.clone(),
            },
            standby: None,
        },
        global,
        out,
    )
    .await
}

pub async fn destroy(args: &DestroyArgs, global: &Global, out: &Out) -> Result<u8, Failure> {
    converge(
        Request {
            blueprint: &args.blueprint.blueprint,
            operation: "destroy",
            mode: PlanMode::Destroy,
            saved_plan: None,
            auto_approve: args.auto_approve,
            refresh: false,
            selection: Selection {
                clusters: args.selection.clusters.clone(),
            },
            standby: None,
        },
        global,
        out,
    )
    .await
}

async fn converge(request: Request<'_>, global: &Global, out: &Out) -> Result<u8, Failure> {
    let fleet = context::load_fleet(request.blueprint, global, out)?;
    let store = context::open_state(request.blueprint, global)?;
    let fleet = context::with_rollouts(request.blueprint, fleet, &*store, global, out).await?;
    let standby = request
        .standby
        .map(|cluster| {
            slipway_engine::dr::standby_fleet(&fleet, cluster).map(|(_, s)| s.cluster.name.clone())
        })
        .transpose()?;
    let fleet = context::with_standbys(fleet, &*store, standby.as_deref()).await?;
    let request = Request {
        selection: match &standby {
            Some(name) => Selection {
                clusters: vec![name.clone()],
            },
            None => request.selection,
        },
        ..request
    };
    let lock = context::lock(&*store, request.operation).await?;
    let result = match CloudSession::open(request.blueprint, global).await {
        Ok(cloud) => {
            let result = converge_locked(
                &request,
                &fleet,
                &cloud.registry,
                &*store,
                &lock,
                global,
                out,
            )
            .await;
            cloud.close().await;
            result
        }
        Err(e) => Err(e),
    };
    if let Err(e) = store.unlock(&lock).await {
        out.error(&format!(
            "could not release the state lock {}: {e}",
            lock.id
        ));
    }
    result
}

/// `slipway dr build`: builds or converges the DR standby of `cluster` (a primary's name or
/// its standby's) through the normal plan and walk.
pub async fn build_standby(
    blueprint: &Path,
    cluster: &str,
    auto_approve: bool,
    global: &Global,
    out: &Out,
) -> Result<u8, Failure> {
    converge(
        Request {
            blueprint,
            operation: "dr build",
            mode: PlanMode::Apply,
            saved_plan: None,
            auto_approve,
            refresh: true,
            selection: Selection::all(),
            standby: Some(cluster),
        },
        global,
        out,
    )
    .await
}

async fn converge_locked(
    request: &Request<'_>,
    fleet: &slipway_blueprints::Fleet,
    registry: &Registry,
    store: &dyn StateStore,
    lock: &LockInfo,
    global: &Global,
    out: &Out,
) -> Result<u8, Failure> {
    let plan = match request.saved_plan {
        Some(file) => {
            let plan = read_plan(file)?;
            let snapshot = store.snapshot().await?;
            slipway_engine::check_saved_plan(&plan, &snapshot, &fleet.digest)?;
            plan
        }
        None => {
            make_plan(
                fleet,
                registry,
                store,
                request.mode,
                request.refresh,
                request.selection.clone(),
            )
            .await?
        }
    };
    if !plan.has_changes() {
        if out.json() {
            out.document(&serde_json::json!({ "version": 1, "changes": false, "plan_digest": plan.digest() }));
        } else {
            out.line("No changes. The fleet matches the blueprint.");
        }
        return Ok(EXIT_OK);
    }
    if !out.json() {
        show_plan(&plan, out);
    }
    if !request.auto_approve && !confirm(request.operation)? {
        out.line("Cancelled; nothing was changed.");
        return Ok(EXIT_ERROR);
    }
    let run = RunRecord {
        id: run_id(),
        operation: request.operation.to_owned(),
        holder: lock.holder.clone(),
        started_at: jiff::Timestamp::now(),
        finished_at: None,
        outcome: None,
        blueprint_digest: fleet.digest.clone(),
        git_commit: context::git_commit(request.blueprint),
        plan_digest: Some(plan.digest()),
    };
    let renderer = Arc::new(ProgressRenderer::new(out, &plan));
    let ctx = ApplyContext {
        store,
        lock,
        registry,
        observer: renderer.clone(),
        pacer: Arc::new(slipway_engine::TokenBucketPacer::default()),
        parallelism: global.parallelism.max(1),
        run,
    };
    let report = slipway_engine::apply(&plan, &ctx).await?;
    renderer.finish();
    if out.json() {
        out.document(&crate::render::report_json(&report, &plan));
    } else {
        out.line(&crate::render::report_summary(&report, request.operation));
    }
    Ok(if report.is_success() {
        EXIT_OK
    } else {
        EXIT_ERROR
    })
}

pub(super) fn confirm(operation: &str) -> Result<bool, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(failure::error(format!(
            "refusing to {operation} without confirmation: stdin is not a terminal; pass --auto-approve"
        )));
    }
    let mut stderr = std::io::stderr().lock();
    let _ = write!(
        stderr,
        "\nDo you want to {operation}? Only 'yes' is accepted: "
    );
    let _ = stderr.flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

pub fn run_id() -> String {
    let now = jiff::Timestamp::now();
    format!(
        "run-{}-{}",
        now.strftime("%Y%m%dT%H%M%SZ"),
        std::process::id()
    )
}
