//! `slipway plan`: what `apply` would do; exit 2 when there are changes.

use std::path::Path;

use slipway_blueprints::Fleet;
use slipway_engine::{Plan, PlanMode, PlanOptions, Registry, Selection};
use slipway_state::StateStore;

use crate::cli::{Global, PlanArgs};
use crate::cloud::CloudSession;
use crate::context;
use crate::failure::{self, EXIT_CHANGES, EXIT_OK, Failure};
use crate::render::{self, Out};

pub async fn run(args: &PlanArgs, global: &Global, out: &Out) -> Result<u8, Failure> {
    let path = &args.blueprint.blueprint;
    let fleet = context::load_fleet(path, global, out)?;
    let store = context::open_state(path, global)?;
    let fleet = context::with_rollouts(path, fleet, &*store, global, out).await?;
    let fleet = context::with_standbys(fleet, &*store, None).await?;
    let mode = if args.destroy {
        PlanMode::Destroy
    } else {
        PlanMode::Apply
    };
    let selection = Selection {
        clusters: args.selection.clusters.clone(),
    };
    let cloud = CloudSession::open(path, global).await?;
    let plan = make_plan(
        &fleet,
        &cloud.registry,
        &*store,
        mode,
        args.refresh,
        selection,
    )
    .await;
    cloud.close().await;
    let plan = plan?;
    if let Some(file) = &args.out {
        save_plan(&plan, file)?;
    }
    show_plan(&plan, out);
    if let Some(file) = &args.out {
        out.note(&format!(
            "Saved the plan to {}; apply it with `slipway apply {} --plan {}`",
            file.display(),
            path.display(),
            file.display()
        ));
    }
    Ok(if plan.has_changes() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    })
}

/// Builds the graph and plans it against the store's current snapshot.
pub async fn make_plan(
    fleet: &Fleet,
    registry: &Registry,
    store: &dyn StateStore,
    mode: PlanMode,
    refresh: bool,
    selection: Selection,
) -> Result<Plan, Failure> {
    let graph = slipway_engine::build_graph(fleet, registry, &selection)?;
    let snapshot = store.snapshot().await?;
    let options = PlanOptions {
        mode,
        refresh,
        selection,
        fleet: fleet.name.clone(),
        blueprint_digest: fleet.digest.clone(),
    };
    Ok(slipway_engine::plan(&graph, &snapshot, &options, registry).await?)
}

/// Renders a plan (human) or emits it as the JSON document.
pub fn show_plan(plan: &Plan, out: &Out) {
    if out.json() {
        out.document(&render::plan_json(plan));
    } else {
        out.line(render::render_plan(plan, out.color_stdout).trim_end());
    }
}

fn save_plan(plan: &Plan, file: &Path) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(plan)?;
    std::fs::write(file, text)
        .map_err(|e| failure::error(format!("cannot write plan to {}: {e}", file.display())))
}

/// Reads a plan saved by `plan --out`.
pub fn read_plan(file: &Path) -> Result<Plan, Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| failure::error(format!("cannot read plan {}: {e}", file.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| failure::error(format!("{} is not a Slipway plan: {e}", file.display())))
}
