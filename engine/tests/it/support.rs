//! Test environment: a fake cloud, a SQLite store in a temporary directory, a held lock, and
//! helpers to plan, apply and render plans compactly.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use slipway_engine::{
    Action, ApplyContext, ApplyReport, Observer, Plan, PlanMode, PlanOptions, Registry,
    ResourceGraph, Selection, TokenBucketPacer, WalkEvent, apply, plan,
};
use slipway_provider::{Address, Resource, Value};
use slipway_state::{LockInfo, LockRequest, RunRecord, SqliteStore, StateStore};

use crate::fake::{FakeCloud, kind};

pub const DIGEST: &str = "blueprint-digest-1";

/// Records every walk event.
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<WalkEvent>>);

impl Observer for Recorder {
    fn on_event(&self, event: &WalkEvent) {
        self.0.lock().unwrap().push(event.clone());
    }
}

pub struct Env {
    pub dir: tempfile::TempDir,
    pub store: SqliteStore,
    pub cloud: Arc<FakeCloud>,
    pub registry: Registry,
    pub lock: LockInfo,
    pub events: Arc<Recorder>,
    runs: AtomicUsize,
}

impl Env {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("state.db")).unwrap();
        let cloud = FakeCloud::new();
        let mut registry = Registry::new();
        registry.add_provider(cloud.clone());
        let lock = store
            .lock(&lock_request("tester@host (pid 1)"))
            .await
            .unwrap();
        Self {
            dir,
            store,
            cloud,
            registry,
            lock,
            events: Arc::new(Recorder::default()),
            runs: AtomicUsize::new(0),
        }
    }

    pub fn options(&self, mode: PlanMode) -> PlanOptions {
        PlanOptions {
            mode,
            refresh: false,
            selection: Selection::all(),
            fleet: "fleet".into(),
            blueprint_digest: DIGEST.into(),
        }
    }

    pub async fn plan(&self, resources: &[Resource], mode: PlanMode) -> Plan {
        self.plan_with(resources, &self.options(mode)).await
    }

    pub async fn plan_with(&self, resources: &[Resource], opts: &PlanOptions) -> Plan {
        let graph = ResourceGraph::from_resources(resources.to_vec()).unwrap();
        let snapshot = self.store.snapshot().await.unwrap();
        plan(&graph, &snapshot, opts, &self.registry).await.unwrap()
    }

    pub fn run_record(&self) -> RunRecord {
        let n = self.runs.fetch_add(1, Ordering::SeqCst);
        RunRecord {
            id: format!("run-{n}"),
            operation: "apply".into(),
            holder: self.lock.holder.clone(),
            started_at: Timestamp::UNIX_EPOCH,
            finished_at: None,
            outcome: None,
            blueprint_digest: DIGEST.into(),
            git_commit: None,
            plan_digest: None,
        }
    }

    pub fn context(&self, parallelism: usize) -> ApplyContext<'_> {
        ApplyContext {
            store: &self.store,
            lock: &self.lock,
            registry: &self.registry,
            observer: self.events.clone(),
            pacer: Arc::new(TokenBucketPacer::default()),
            parallelism,
            run: self.run_record(),
        }
    }

    pub async fn apply(&self, plan: &Plan) -> ApplyReport {
        apply(plan, &self.context(4)).await.unwrap()
    }

    /// Plans and applies `resources`, expecting success.
    pub async fn converge(&self, resources: &[Resource]) -> ApplyReport {
        let p = self.plan(resources, PlanMode::Apply).await;
        let report = self.apply(&p).await;
        assert!(report.is_success(), "{report:#?}");
        report
    }
}

pub fn lock_request(holder: &str) -> LockRequest {
    LockRequest {
        holder: holder.into(),
        operation: "apply".into(),
    }
}

pub fn addr(cluster: &str, k: &str, name: &str) -> Address {
    Address::new(cluster, kind(k), name)
}

pub fn res(address: &Address, props: &[(&str, Value)]) -> Resource {
    Resource {
        address: address.clone(),
        properties: props
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
        depends_on: vec![],
    }
}

/// A compact text form of a plan, one line per changing action and one per diff.
pub fn render(plan: &Plan) -> String {
    let mut s = String::new();
    for a in plan.changes() {
        let sign = match a.action {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace {
                create_before_destroy: true,
            } => "+/-",
            Action::Replace {
                create_before_destroy: false,
            } => "-/+",
            Action::Delete => "-",
            Action::NoOp => " ",
        };
        let deposed = a
            .deposed()
            .map(|d| format!(" (deposed {d})"))
            .unwrap_or_default();
        let _ = writeln!(s, "{sign} {}{deposed}: {}", a.address, a.reason);
        for d in &a.diffs {
            let show = |v: &Option<Value>| {
                v.as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_else(|| "-".into())
            };
            let mut flags = String::new();
            if d.forces_replacement {
                flags.push_str(" [forces replacement]");
            }
            if d.known_after_apply {
                flags.push_str(" [known after apply]");
            }
            let _ = writeln!(
                s,
                "    {}: {} -> {}{flags}",
                d.path,
                show(&d.before),
                show(&d.after)
            );
        }
    }
    let _ = write!(s, "{}", plan.summary());
    s
}
