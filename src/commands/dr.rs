//! `slipway dr`: DR standbys. Wiring only: derivation lives in the blueprint crate, drills in
//! `slipway_engine::dr`; this module writes the evidence files and records their digests.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use slipway_blueprints::Fleet;
use slipway_engine::PlanMode;
use slipway_engine::dr::{self, Artifact, DrContext, DrillReport};
use slipway_state::{LockInfo, RunRecord, StateStore};

use super::apply::{build_standby, confirm, run_id};
use super::plan::show_plan;
use crate::cli::{DrCommand, DrTarget, Global};
use crate::cloud::CloudSession;
use crate::context;
use crate::failure::{self, EXIT_CHANGES, EXIT_DRILL_FAILED, EXIT_ERROR, EXIT_OK, Failure};
use crate::render::{self, Out, ProgressRenderer};

pub async fn run(command: DrCommand, global: &Global, out: &Out) -> Result<u8, Failure> {
    match command {
        DrCommand::Plan(target) => plan(&target, global, out).await,
        DrCommand::Build {
            target,
            auto_approve,
        } => {
            build_standby(
                &target.blueprint.blueprint,
                &target.cluster,
                auto_approve,
                global,
                out,
            )
            .await
        }
        DrCommand::Drill {
            target,
            teardown,
            evidence_dir,
            auto_approve,
        } => {
            let request = DrillRequest {
                target: &target,
                teardown,
                evidence_dir,
                auto_approve,
            };
            drill(request, global, out).await
        }
        DrCommand::Report { blueprint, cluster } => {
            report(&blueprint.blueprint, cluster.as_deref(), global, out).await
        }
    }
}

/// The fleet as of the blueprint and the rollouts recorded in state.
async fn fleet(
    path: &Path,
    store: &dyn StateStore,
    global: &Global,
    out: &Out,
) -> Result<Fleet, Failure> {
    let fleet = context::load_fleet(path, global, out)?;
    context::with_rollouts(path, fleet, store, global, out).await
}

async fn plan(target: &DrTarget, global: &Global, out: &Out) -> Result<u8, Failure> {
    let path = &target.blueprint.blueprint;
    let store = context::open_state(path, global)?;
    let fleet = fleet(path, &*store, global, out).await?;
    let (with_standby, standby) = dr::standby_fleet(&fleet, &target.cluster)?;
    let cloud = CloudSession::open(path, global).await?;
    let planned = dr::plan_standby(
        &cloud.registry,
        &*store,
        &with_standby,
        &standby.cluster.name,
        PlanMode::Apply,
    )
    .await;
    cloud.close().await;
    let planned = planned?;
    if out.json() {
        out.document(&serde_json::json!({
            "version": 1,
            "standby": standby,
            "plan": render::plan_json(&planned),
        }));
    } else {
        out.line(render::dr::derivation(standby).trim_end());
        out.line("");
        show_plan(&planned, out);
    }
    Ok(if planned.has_changes() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    })
}

struct DrillRequest<'a> {
    target: &'a DrTarget,
    teardown: bool,
    evidence_dir: Option<PathBuf>,
    auto_approve: bool,
}

async fn drill(request: DrillRequest<'_>, global: &Global, out: &Out) -> Result<u8, Failure> {
    let path = &request.target.blueprint.blueprint;
    let store = context::open_state(path, global)?;
    let fleet = fleet(path, &*store, global, out).await?;
    // Refuse an unknown cluster before taking the lock or starting a cloud session.
    dr::standby_fleet(&fleet, &request.target.cluster)?;
    let lock = context::lock(&*store, "dr drill").await?;
    let result = match CloudSession::open(path, global).await {
        Ok(cloud) => {
            let result = drill_locked(&request, &fleet, &cloud, &*store, &lock, global, out).await;
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

async fn drill_locked(
    request: &DrillRequest<'_>,
    fleet: &Fleet,
    cloud: &CloudSession,
    store: &dyn StateStore,
    lock: &LockInfo,
    global: &Global,
    out: &Out,
) -> Result<u8, Failure> {
    let path = &request.target.blueprint.blueprint;
    let (with_standby, standby) = dr::standby_fleet(fleet, &request.target.cluster)?;
    let planned = dr::plan_standby(
        &cloud.registry,
        store,
        &with_standby,
        &standby.cluster.name,
        PlanMode::Apply,
    )
    .await?;
    if !out.json() {
        out.line(render::dr::derivation(standby).trim_end());
        out.line("");
        show_plan(&planned, out);
    }
    let changes = planned.has_changes() || request.teardown;
    if changes && !request.auto_approve && !confirm("run this drill")? {
        out.line("Cancelled; nothing was changed.");
        return Ok(EXIT_ERROR);
    }
    let run = RunRecord {
        id: run_id(),
        operation: "dr drill".to_owned(),
        holder: lock.holder.clone(),
        started_at: jiff::Timestamp::now(),
        finished_at: None,
        outcome: None,
        blueprint_digest: fleet.digest.clone(),
        git_commit: context::git_commit(path),
        plan_digest: None,
    };
    let renderer = Arc::new(ProgressRenderer::new(out, &planned));
    let ctx = DrContext {
        store,
        lock,
        registry: &cloud.registry,
        observer: renderer.clone(),
        parallelism: global.parallelism.max(1),
        run: run.clone(),
        time_scale: cloud.time_scale,
    };
    let report = dr::drill(&ctx, fleet, &request.target.cluster, request.teardown).await;
    renderer.finish();
    let report = report?;
    let dir = request
        .evidence_dir
        .clone()
        .unwrap_or_else(|| context::blueprint_dir(path).join(".slipway").join("drills"));
    let artifacts = write_evidence(&dir, &report)?;
    dr::record(store, lock, &run.id, &report, &artifacts).await?;
    if out.json() {
        out.document(&serde_json::json!({
            "version": 1,
            "report": report,
            "evidence": artifacts,
        }));
    } else {
        out.line(render::dr::summary(&report, &artifacts).trim_end());
    }
    let torn_down = report.teardown.as_ref().is_none_or(|t| t.succeeded);
    Ok(if report.passed && torn_down {
        EXIT_OK
    } else {
        EXIT_DRILL_FAILED
    })
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Writes `<drill id>.json` and `.md` into `dir`.
fn write_evidence(dir: &Path, report: &DrillReport) -> Result<Vec<Artifact>, Failure> {
    std::fs::create_dir_all(dir).map_err(|e| {
        failure::error(format!(
            "cannot create the evidence directory {}: {e}",
            dir.display()
        ))
    })?;
    // Absolute paths, so `dr report` finds the files from any working directory.
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mut json = serde_json::to_vec_pretty(report)?;
    json.push(b'\n');
    let markdown = render::dr::markdown(report);
    let mut artifacts = Vec::new();
    for (ext, bytes) in [("json", json.as_slice()), ("md", markdown.as_bytes())] {
        let file = dir.join(format!("{}.{ext}", report.id));
        std::fs::write(&file, bytes).map_err(|e| {
            failure::error(format!(
                "cannot write drill evidence {}: {e}",
                file.display()
            ))
        })?;
        artifacts.push(Artifact {
            path: file.display().to_string(),
            sha256: sha256(bytes),
        });
    }
    Ok(artifacts)
}

/// Whether an evidence file still has the digest the journal recorded.
fn verify(artifact: &Artifact) -> &'static str {
    match std::fs::read(&artifact.path) {
        Ok(bytes) if sha256(&bytes) == artifact.sha256 => "verified",
        Ok(_) => "MODIFIED",
        Err(_) => "missing",
    }
}

async fn report(
    path: &Path,
    cluster: Option<&str>,
    global: &Global,
    out: &Out,
) -> Result<u8, Failure> {
    let fleet = context::load_fleet(path, global, out)?;
    if let Some(name) = cluster {
        dr::standby_fleet(&fleet, name)?;
    }
    let store = context::open_state(path, global)?;
    let journal = store.journal(None).await?;
    let drills: Vec<(dr::DrillRecord, Vec<&'static str>)> = dr::drills(&journal)
        .into_iter()
        .filter(|d| cluster.is_none_or(|c| d.primary == c || d.standby == c))
        .map(|d| {
            let checked = d.artifacts.iter().map(verify).collect();
            (d, checked)
        })
        .collect();
    if out.json() {
        let listed: Vec<serde_json::Value> = drills
            .iter()
            .map(|(d, checked)| {
                serde_json::json!({
                    "drill": d,
                    "evidence": d.artifacts.iter().zip(checked).map(|(a, c)| serde_json::json!({
                        "path": a.path, "sha256": a.sha256, "status": c,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        out.document(&serde_json::json!({ "version": 1, "drills": listed }));
    } else if drills.is_empty() {
        out.line("No drills recorded.");
    } else {
        out.line(render::dr::drill_table(&drills).trim_end());
    }
    let tampered = drills
        .iter()
        .any(|(_, checked)| checked.contains(&"MODIFIED"));
    Ok(if tampered { EXIT_ERROR } else { EXIT_OK })
}
