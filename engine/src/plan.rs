//! Plans: the diff of the desired graph against recorded (and optionally refreshed) state, as
//! ordered actions with reasons and field-level diffs.
//!
//! A plan is complete (no-op actions are kept), serializable, and digest-stable, so that a saved
//! plan applies exactly what it shows or is refused. Planning is linear in resources and never
//! mutates the cloud or the state: refresh only reads, and its intent sink refuses every intent.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use slipway_provider::{
    Address, ErrorClass, IntentSink, KindSchema, LiveObject, OpContext, Properties, ProviderError,
    Resource, ResourceState, ResourceStatus, Value,
};
use slipway_state::Snapshot;

use crate::error::EngineError;
use crate::graph::{ResourceGraph, Selection};
use crate::pacer::TokenBucketPacer;
use crate::registry::Registry;
use crate::retry::retrying;
use crate::runner::Running;

/// The saved-plan format this engine writes and reads.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// Live reads in flight at once during a refresh.
const REFRESH_PARALLELISM: usize = 16;

/// What a plan is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanMode {
    /// Converge the selected clusters on the blueprint.
    Apply,
    /// Delete everything recorded for the selected clusters.
    Destroy,
}

/// Inputs of [`crate::plan`] besides the graph and the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOptions {
    /// Apply or destroy.
    pub mode: PlanMode,
    /// Read live objects through the providers before diffing.
    pub refresh: bool,
    /// The clusters covered; recorded resources outside it are left alone.
    pub selection: Selection,
    /// The fleet name.
    pub fleet: String,
    /// Digest of the blueprint sources the graph was built from.
    pub blueprint_digest: String,
}

/// What the walk does to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Action {
    /// Create it (or adopt what an interrupted create left behind).
    Create,
    /// Update it in place.
    Update,
    /// Replace it with a new object.
    Replace {
        /// Create the new object before deleting the old one; otherwise delete first.
        create_before_destroy: bool,
    },
    /// Delete it.
    Delete,
    /// Nothing to do.
    NoOp,
}

impl Action {
    /// Whether the action changes anything.
    pub fn is_change(self) -> bool {
        self != Action::NoOp
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace { .. } => "replace",
            Action::Delete => "delete",
            Action::NoOp => "no-op",
        })
    }
}

/// One changed property (or nested map entry, `tags.env`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDiff {
    /// Dotted path of the property.
    pub path: String,
    /// The recorded (or live, for drift) value.
    pub before: Option<Value>,
    /// The desired value, references symbolic.
    pub after: Option<Value>,
    /// Whether this change alone forces replacing the object.
    pub forces_replacement: bool,
    /// Whether `after` references an output that changes in this apply.
    #[serde(default)]
    pub known_after_apply: bool,
}

/// One planned action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedAction {
    /// The resource.
    pub address: Address,
    /// What to do.
    pub action: Action,
    /// Why, in a short sentence.
    pub reason: String,
    /// Field-level changes.
    pub diffs: Vec<FieldDiff>,
    /// The desired resource; absent for deletes and no-ops.
    pub desired: Option<Resource>,
    /// What state recorded; absent for creates of new resources and for no-ops. For deposed
    /// objects, `prior.deposed` is set.
    pub prior: Option<ResourceState>,
    /// Dependencies: desired ones for creates and updates, recorded ones for deletes.
    pub depends_on: Vec<Address>,
}

impl PlannedAction {
    /// The deposed key, when this action deletes a deposed object.
    pub fn deposed(&self) -> Option<&str> {
        self.prior.as_ref().and_then(|p| p.deposed.as_deref())
    }
}

/// Counts of changing actions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSummary {
    /// Creates.
    pub add: usize,
    /// In-place updates.
    pub change: usize,
    /// Replacements.
    pub replace: usize,
    /// Deletes.
    pub destroy: usize,
}

impl fmt::Display for PlanSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Plan: {} to add, {} to change, {} to replace, {} to destroy.",
            self.add, self.change, self.replace, self.destroy
        )
    }
}

/// A complete plan. Serialize it to save it; [`crate::check_saved_plan`] before applying it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// [`PLAN_FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// The fleet.
    pub fleet: String,
    /// Digest of the blueprint it was made from.
    pub blueprint_digest: String,
    /// State serial it was made at.
    pub state_serial: u64,
    /// Apply or destroy.
    pub mode: PlanMode,
    /// The clusters covered.
    pub selection: Selection,
    /// Whether live state was read.
    pub refreshed: bool,
    /// Every action, creates and updates in dependency order, then deletes.
    pub actions: Vec<PlannedAction>,
}

impl Plan {
    /// Hex SHA-256 of the plan's JSON form (field order fixed, maps sorted).
    pub fn digest(&self) -> String {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(&bytes))
    }

    /// Counts of changing actions.
    pub fn summary(&self) -> PlanSummary {
        let mut s = PlanSummary::default();
        for a in &self.actions {
            match a.action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Replace { .. } => s.replace += 1,
                Action::Delete => s.destroy += 1,
                Action::NoOp => {}
            }
        }
        s
    }

    /// Whether applying would change anything.
    pub fn has_changes(&self) -> bool {
        self.actions.iter().any(|a| a.action.is_change())
    }

    /// The changing actions.
    pub fn changes(&self) -> impl Iterator<Item = &PlannedAction> + '_ {
        self.actions.iter().filter(|a| a.action.is_change())
    }
}

/// Refuses a saved plan whose state serial, blueprint digest or format no longer match.
pub fn check_saved_plan(
    plan: &Plan,
    snapshot: &Snapshot,
    blueprint_digest: &str,
) -> Result<(), EngineError> {
    if plan.format_version != PLAN_FORMAT_VERSION {
        return Err(EngineError::PlanFormat {
            found: plan.format_version,
            expected: PLAN_FORMAT_VERSION,
        });
    }
    if plan.state_serial != snapshot.serial || plan.blueprint_digest != blueprint_digest {
        return Err(EngineError::StalePlan {
            plan_serial: plan.state_serial,
            state_serial: snapshot.serial,
            plan_blueprint: plan.blueprint_digest.clone(),
            blueprint: blueprint_digest.to_owned(),
        });
    }
    Ok(())
}

/// Plans the changes that converge the recorded state on the graph (or delete everything, in
/// destroy mode).
pub async fn plan(
    graph: &ResourceGraph,
    snapshot: &Snapshot,
    opts: &PlanOptions,
    registry: &Registry,
) -> Result<Plan, EngineError> {
    let actions = match opts.mode {
        PlanMode::Apply => {
            let live = if opts.refresh {
                refresh(graph, snapshot, opts, registry).await?
            } else {
                HashMap::new()
            };
            diff_actions(graph, snapshot, &live, &opts.selection, registry)?
        }
        PlanMode::Destroy => destroy_actions(snapshot, &opts.selection),
    };
    Ok(Plan {
        format_version: PLAN_FORMAT_VERSION,
        fleet: opts.fleet.clone(),
        blueprint_digest: opts.blueprint_digest.clone(),
        state_serial: snapshot.serial,
        mode: opts.mode,
        selection: opts.selection.clone(),
        refreshed: opts.refresh && opts.mode == PlanMode::Apply,
        actions,
    })
}

/// A sink for refresh reads: reads never journal, so any intent is refused.
struct ReadOnlySink;

/// The context of read-only provider calls (refresh, scan and drill evidence): paced like any
/// call, and refusing any intent, since a read never mutates the cloud.
pub(crate) fn read_only_context(fleet: &str, run_id: &str) -> OpContext {
    OpContext {
        fleet: fleet.to_owned(),
        run_id: run_id.to_owned(),
        pacer: Arc::new(TokenBucketPacer::default()),
        sink: Arc::new(ReadOnlySink),
    }
}

/// What state recorded for one cluster's resources.
pub(crate) fn recorded_of(snapshot: &Snapshot, cluster: &str) -> Vec<ResourceState> {
    snapshot
        .resources
        .values()
        .filter(|r| r.address.cluster == cluster)
        .cloned()
        .collect()
}

#[async_trait]
impl IntentSink for ReadOnlySink {
    async fn intent(
        &self,
        address: &Address,
        operation: &str,
        _detail: serde_json::Value,
    ) -> Result<(), ProviderError> {
        Err(ProviderError::new(
            ErrorClass::Fatal,
            operation,
            "ReadOnly",
            "planning never mutates the cloud",
        )
        .at(address))
    }

    fn progress(&self, _address: &Address, _message: &str) {}
}

/// Live objects of every recorded, ready resource in the graph whose provider is registered;
/// `None` marks an object that is gone.
async fn refresh(
    graph: &ResourceGraph,
    snapshot: &Snapshot,
    opts: &PlanOptions,
    registry: &Registry,
) -> Result<HashMap<Address, Option<LiveObject>>, EngineError> {
    let ctx = read_only_context(&opts.fleet, "refresh");
    let mut todo = graph.resources().filter_map(|r| {
        let st = snapshot.resources.get(&r.address)?;
        if st.status != ResourceStatus::Ready || st.cloud_id.is_none() {
            return None;
        }
        registry
            .provider(r.address.kind.provider())
            .map(|p| (p.clone(), st))
    });
    let mut running = Running::new();
    let mut out = HashMap::new();
    loop {
        while running.len() < REFRESH_PARALLELISM {
            let Some((provider, st)) = todo.next() else {
                break;
            };
            let ctx = &ctx;
            running.push(async move {
                let live = retrying(|| provider.read(ctx, st), |_, _, _| {}).await;
                (&st.address, live)
            });
        }
        let Some((address, live)) = running.next().await else {
            break;
        };
        let live = live.map_err(|e| {
            if e.address.is_none() {
                e.at(address)
            } else {
                e
            }
        })?;
        out.insert(address.clone(), live);
    }
    Ok(out)
}

fn diff_actions(
    graph: &ResourceGraph,
    snapshot: &Snapshot,
    live: &HashMap<Address, Option<LiveObject>>,
    selection: &Selection,
    registry: &Registry,
) -> Result<Vec<PlannedAction>, EngineError> {
    // Addresses whose outputs change in this apply: references to them are known after apply.
    let mut changing: HashSet<&Address> = HashSet::new();
    let mut actions = Vec::with_capacity(graph.len());
    for r in graph.resources() {
        let schema = registry
            .schema(&r.address.kind)
            .ok_or_else(|| EngineError::UnknownKind {
                kind: r.address.kind.to_string(),
            })?;
        let prior = snapshot.resources.get(&r.address);
        let refreshed = live.get(&r.address);
        let decision = decide(r, prior, refreshed, schema, &|a| changing.contains(a));
        if decision.outputs_change {
            changing.insert(&r.address);
        }
        let keep_payload = decision.action.is_change();
        actions.push(PlannedAction {
            address: r.address.clone(),
            action: decision.action,
            reason: decision.reason,
            diffs: decision.diffs,
            desired: keep_payload.then(|| r.clone()),
            prior: if keep_payload { prior.cloned() } else { None },
            depends_on: graph
                .dependencies(&r.address)
                .into_iter()
                .cloned()
                .collect(),
        });
    }
    for (address, st) in &snapshot.resources {
        if selection.includes(&address.cluster) && !graph.contains(address) {
            actions.push(delete_action(st, "no longer in the blueprint"));
        }
    }
    for st in &snapshot.deposed {
        if selection.includes(&st.address.cluster) {
            actions.push(delete_action(st, "deposed by a replacement"));
        }
    }
    Ok(actions)
}

fn destroy_actions(snapshot: &Snapshot, selection: &Selection) -> Vec<PlannedAction> {
    let current = snapshot.resources.values();
    current
        .chain(snapshot.deposed.iter())
        .filter(|st| selection.includes(&st.address.cluster))
        .map(|st| {
            let why = if st.deposed.is_some() {
                "deposed by a replacement"
            } else {
                "destroy requested"
            };
            delete_action(st, why)
        })
        .collect()
}

fn delete_action(st: &ResourceState, reason: &str) -> PlannedAction {
    PlannedAction {
        address: st.address.clone(),
        action: Action::Delete,
        reason: reason.to_owned(),
        diffs: Vec::new(),
        desired: None,
        prior: Some(st.clone()),
        depends_on: st.depends_on.clone(),
    }
}

struct Decision {
    action: Action,
    reason: String,
    diffs: Vec<FieldDiff>,
    /// Whether the resource's outputs (ids) may differ after this apply.
    outputs_change: bool,
}

fn decide(
    r: &Resource,
    prior: Option<&ResourceState>,
    refreshed: Option<&Option<LiveObject>>,
    schema: &KindSchema,
    changing: &dyn Fn(&Address) -> bool,
) -> Decision {
    let Some(prior) = prior else {
        return Decision {
            action: Action::Create,
            reason: "new resource".to_owned(),
            diffs: creation_diffs(r, changing),
            outputs_change: true,
        };
    };
    if matches!(refreshed, Some(None)) {
        return Decision {
            action: Action::Create,
            reason: "deleted outside Slipway; it will be created again".to_owned(),
            diffs: creation_diffs(r, changing),
            outputs_change: true,
        };
    }
    let mut diffs = Vec::new();
    diff_maps(
        "",
        &prior.properties,
        &r.properties,
        schema,
        changing,
        &mut diffs,
    );
    let cbd = schema.create_before_destroy;
    match prior.status {
        ResourceStatus::Pending => {
            return Decision {
                action: Action::Create,
                reason: "resume: a previous run's operation was accepted but did not finish"
                    .to_owned(),
                diffs,
                // The create adopts the accepted object, keeping its id.
                outputs_change: prior.cloud_id.is_none(),
            };
        }
        ResourceStatus::Tainted => {
            return Decision {
                action: Action::Replace {
                    create_before_destroy: cbd,
                },
                reason: "tainted by a failed operation".to_owned(),
                diffs,
                outputs_change: true,
            };
        }
        ResourceStatus::Deleting => {
            return Decision {
                action: Action::Replace {
                    create_before_destroy: false,
                },
                reason: "a previous delete did not finish".to_owned(),
                diffs,
                outputs_change: true,
            };
        }
        ResourceStatus::Ready => {}
    }
    let mut drifted = Vec::new();
    if let Some(Some(live)) = refreshed {
        let mut paths = Vec::new();
        drift_paths("", &prior.resolved, &live.properties, schema, &mut paths);
        for (path, now) in paths {
            // A field the blueprint changes is already in the plan; the live value adds nothing.
            if diffs
                .iter()
                .any(|d| covered_by(std::slice::from_ref(&d.path), &path))
            {
                continue;
            }
            drifted.push(path.clone());
            diffs.push(FieldDiff {
                forces_replacement: forces(schema, &path),
                before: Some(now),
                after: value_at(&r.properties, &path).cloned(),
                path,
                known_after_apply: false,
            });
        }
    }
    let forcing: Vec<&str> = diffs
        .iter()
        .filter(|d| d.forces_replacement)
        .map(|d| d.path.as_str())
        .collect();
    if !forcing.is_empty() {
        let reason = format!(
            "{} {} replacement",
            quote_list(&forcing),
            if forcing.len() == 1 {
                "forces"
            } else {
                "force"
            }
        );
        return Decision {
            action: Action::Replace {
                create_before_destroy: cbd,
            },
            reason,
            diffs,
            outputs_change: true,
        };
    }
    if diffs.is_empty() {
        return Decision {
            action: Action::NoOp,
            reason: "up to date".to_owned(),
            diffs,
            outputs_change: false,
        };
    }
    let changed: Vec<&str> = diffs
        .iter()
        .filter(|d| !drifted.iter().any(|k| k == &d.path))
        .map(|d| d.path.as_str())
        .collect();
    let mut parts = Vec::new();
    if !changed.is_empty() {
        parts.push(format!("{} changed", quote_list(&changed)));
    }
    if !drifted.is_empty() {
        let drifted: Vec<&str> = drifted.iter().map(String::as_str).collect();
        parts.push(format!("{} changed outside Slipway", quote_list(&drifted)));
    }
    Decision {
        action: Action::Update,
        reason: parts.join("; "),
        diffs,
        outputs_change: false,
    }
}

fn quote_list(paths: &[&str]) -> String {
    const SHOWN: usize = 4;
    let mut s = paths
        .iter()
        .take(SHOWN)
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if paths.len() > SHOWN {
        s.push_str(&format!(" and {} more", paths.len() - SHOWN));
    }
    s
}

/// Whether `path` is, or lies under, one of `entries` (dotted paths).
fn covered_by(entries: &[String], path: &str) -> bool {
    entries
        .iter()
        .any(|k| path == k || (path.starts_with(k.as_str()) && path[k.len()..].starts_with('.')))
}

/// Whether changing `path` forces replacement.
fn forces(schema: &KindSchema, path: &str) -> bool {
    covered_by(&schema.replace_on, path)
}

fn creation_diffs(r: &Resource, changing: &dyn Fn(&Address) -> bool) -> Vec<FieldDiff> {
    r.properties
        .iter()
        .map(|(k, v)| FieldDiff {
            path: k.clone(),
            before: None,
            after: Some(v.clone()),
            forces_replacement: false,
            known_after_apply: refers_to_changing(v, changing),
        })
        .collect()
}

fn refers_to_changing(v: &Value, changing: &dyn Fn(&Address) -> bool) -> bool {
    match v {
        Value::Ref(r) => changing(&r.address),
        Value::List(items) => items.iter().any(|i| refers_to_changing(i, changing)),
        Value::Map(m) => m.values().any(|i| refers_to_changing(i, changing)),
        _ => false,
    }
}

fn diff_maps(
    prefix: &str,
    before: &std::collections::BTreeMap<String, Value>,
    after: &std::collections::BTreeMap<String, Value>,
    schema: &KindSchema,
    changing: &dyn Fn(&Address) -> bool,
    out: &mut Vec<FieldDiff>,
) {
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for key in keys {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        diff_value(path, before.get(key), after.get(key), schema, changing, out);
    }
}

fn diff_value(
    path: String,
    before: Option<&Value>,
    after: Option<&Value>,
    schema: &KindSchema,
    changing: &dyn Fn(&Address) -> bool,
    out: &mut Vec<FieldDiff>,
) {
    if covered_by(&schema.ignore_changes, &path) {
        return;
    }
    if let (Some(Value::Map(b)), Some(Value::Map(a))) = (before, after) {
        diff_maps(&path, b, a, schema, changing, out);
        return;
    }
    let unknown = after.is_some_and(|v| refers_to_changing(v, changing));
    if before == after && !unknown {
        return;
    }
    let forces_replacement = forces(schema, &path);
    out.push(FieldDiff {
        path,
        before: before.cloned(),
        after: after.cloned(),
        forces_replacement,
        known_after_apply: unknown,
    });
}

/// Paths (with their live values) where a live object differs from what was recorded as sent.
/// Only recorded fields count, so values the cloud adds (read-only state) are not drift, and a
/// field the cloud does not report is not drift either.
fn drift_paths(
    prefix: &str,
    recorded: &Properties,
    live: &Properties,
    schema: &KindSchema,
    out: &mut Vec<(String, Value)>,
) {
    for (key, was) in recorded {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        if covered_by(&schema.ignore_changes, &path) {
            continue;
        }
        let Some(now) = live.get(key) else { continue };
        match (was, now) {
            (Value::Map(was), Value::Map(now)) => drift_paths(&path, was, now, schema, out),
            _ if was != now => out.push((path, now.clone())),
            _ => {}
        }
    }
}

/// The value at a dotted path of nested maps.
fn value_at<'v>(properties: &'v Properties, path: &str) -> Option<&'v Value> {
    let mut parts = path.split('.');
    let mut current = properties.get(parts.next()?)?;
    for part in parts {
        match current {
            Value::Map(m) => current = m.get(part)?,
            _ => return None,
        }
    }
    Some(current)
}
