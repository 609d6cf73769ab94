//! `slipway state list|show|history|unlock`: inspect recorded state and the journal.

use slipway_provider::Address;

use crate::cli::{Global, StateCommand};
use crate::context;
use crate::failure::{self, EXIT_OK, Failure};
use crate::render::Out;

pub async fn run(command: StateCommand, global: &Global, out: &Out) -> Result<u8, Failure> {
    match command {
        StateCommand::List {
            blueprint,
            selection,
        } => {
            let store = context::open_state(&blueprint.blueprint, global)?;
            let snapshot = store.snapshot().await?;
            let selected = |a: &Address| {
                selection.clusters.is_empty() || selection.clusters.contains(&a.cluster)
            };
            let resources: Vec<_> = snapshot
                .resources
                .values()
                .filter(|r| selected(&r.address))
                .collect();
            let deposed: Vec<_> = snapshot
                .deposed
                .iter()
                .filter(|r| selected(&r.address))
                .collect();
            if out.json() {
                out.document(&serde_json::json!({
                    "version": 1,
                    "serial": snapshot.serial,
                    "resources": resources,
                    "deposed": deposed,
                }));
            } else {
                for r in &resources {
                    out.line(&format!(
                        "{}\t{}\t{}",
                        r.address,
                        status(r.status),
                        r.cloud_id.as_deref().unwrap_or("-")
                    ));
                }
                for r in &deposed {
                    out.line(&format!(
                        "{} (deposed {})\t{}\t{}",
                        r.address,
                        r.deposed.as_deref().unwrap_or("?"),
                        status(r.status),
                        r.cloud_id.as_deref().unwrap_or("-")
                    ));
                }
                out.note(&format!(
                    "{} resource(s) at serial {} in {}",
                    resources.len(),
                    snapshot.serial,
                    store.describe()
                ));
            }
        }
        StateCommand::Show { blueprint, address } => {
            let address: Address = address.parse()?;
            let store = context::open_state(&blueprint.blueprint, global)?;
            let snapshot = store.snapshot().await?;
            let Some(resource) = snapshot.resources.get(&address) else {
                return Err(failure::error(format!(
                    "`{address}` is not in the state ({})",
                    store.describe()
                )));
            };
            if out.json() {
                out.document(&serde_json::json!({ "version": 1, "resource": resource }));
            } else {
                out.line(&serde_json::to_string_pretty(resource)?);
            }
        }
        StateCommand::History {
            blueprint,
            limit,
            run,
        } => {
            let store = context::open_state(&blueprint.blueprint, global)?;
            match run {
                Some(run_id) => {
                    let entries = store.journal(Some(&run_id)).await?;
                    if out.json() {
                        out.document(
                            &serde_json::json!({ "version": 1, "run": run_id, "journal": entries }),
                        );
                    } else {
                        for e in &entries {
                            let address = e
                                .address
                                .as_ref()
                                .map(ToString::to_string)
                                .unwrap_or_default();
                            out.line(&format!(
                                "{:>6}  {}  {address}  {}",
                                e.seq,
                                e.at,
                                serde_json::to_string(&e.event)?
                            ));
                        }
                    }
                }
                None => {
                    let runs = store.history(limit).await?;
                    if out.json() {
                        out.document(&serde_json::json!({ "version": 1, "runs": runs }));
                    } else {
                        for r in &runs {
                            let outcome = match r.outcome {
                                Some(o) => {
                                    serde_json::to_value(o)?.as_str().unwrap_or("?").to_owned()
                                }
                                None => "unfinished".to_owned(),
                            };
                            out.line(&format!(
                                "{}  {}  {:<8} {:<10} {}  blueprint {}  commit {}",
                                r.id,
                                r.started_at,
                                r.operation,
                                outcome,
                                r.holder,
                                &r.blueprint_digest[..r.blueprint_digest.len().min(12)],
                                r.git_commit
                                    .as_deref()
                                    .map(|c| &c[..c.len().min(12)])
                                    .unwrap_or("-")
                            ));
                        }
                    }
                }
            }
        }
        StateCommand::Migrate { blueprint, to } => {
            let from = context::open_state(&blueprint.blueprint, global)?;
            let destination =
                slipway_state::open_url(&to, &context::blueprint_dir(&blueprint.blueprint))?;
            let request = slipway_state::LockRequest {
                holder: context::holder(),
                operation: "state migrate".to_owned(),
            };
            let copied = slipway_state::migrate(&*from, &*destination, &request)
                .await
                .map_err(context::state_failure)?;
            if out.json() {
                out.document(&serde_json::json!({
                    "version": 1,
                    "from": from.describe(),
                    "to": destination.describe(),
                    "copied": copied,
                }));
            } else {
                out.line(&format!(
                    "Migrated {} resource(s), {} deposed object(s), {} run(s) and {} journal entries from {} to {}.",
                    copied.resources,
                    copied.deposed,
                    copied.runs,
                    copied.journal,
                    from.describe(),
                    destination.describe()
                ));
                out.note(&format!(
                    "Point Slipway at the new location with --state {to} (or SLIPWAY_STATE); the old state is unchanged."
                ));
            }
        }
        StateCommand::Unlock { blueprint, force } => {
            let store = context::open_state(&blueprint.blueprint, global)?;
            store.force_unlock(&force).await?;
            out.line(&format!("Released lock {force}."));
        }
    }
    Ok(EXIT_OK)
}

fn status(status: slipway_provider::ResourceStatus) -> &'static str {
    use slipway_provider::ResourceStatus::*;
    match status {
        Pending => "pending",
        Ready => "ready",
        Tainted => "tainted",
        Deleting => "deleting",
    }
}
