//! The walk: applies a plan's actions to the cloud in dependency order, recording every step.
//!
//! An operation starts only when every operation it depends on succeeded; a failure marks
//! exactly its descendants skipped (reported once, naming the failed ancestor) while
//! independent branches carry on. Concurrency is bounded by `parallelism`, separately from the
//! graph, and every mutating call first takes a token of its kind's API class from the pacer.
//! Deletes run in reverse dependency order. Before each mutating call an intent is journaled;
//! accepted creates are recorded (pending, with their cloud id) before waiting, so a killed run
//! converges when re-run. The walk never speaks HTTP and never prints: it reports through an
//! [`Observer`].

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use slipway_provider::{
    Address, ApiClass, CreateRequest, ErrorClass, IntentSink, OpContext, OutputRef, Pacer,
    Properties, Provider, ProviderError, ResourceState, ResourceStatus, UpdateRequest, WaitFor,
};
use slipway_state::{
    JournalEntry, JournalEvent, LockInfo, RunOutcome, RunRecord, StateError, StateStore,
};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::Instrument;

use crate::error::EngineError;
use crate::plan::{Action, Plan, PlannedAction};
use crate::registry::Registry;
use crate::retry::{MAX_ATTEMPTS, retrying};
use crate::runner::Running;

/// Hears what the walk does. Called from the walk's task; implementations must be quick.
pub trait Observer: Send + Sync {
    /// One event.
    fn on_event(&self, event: &WalkEvent);
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullObserver;

impl Observer for NullObserver {
    fn on_event(&self, _event: &WalkEvent) {}
}

/// Something that happened during a walk.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WalkEvent {
    /// An action waits for other resources before it can start.
    Waiting {
        /// The resource.
        address: Address,
        /// The resources it waits for.
        on: Vec<Address>,
    },
    /// An action started.
    Started {
        /// The resource.
        address: Address,
        /// What is being done.
        action: Action,
    },
    /// Progress of a long operation or a retry after a retryable error.
    Progress {
        /// The resource.
        address: Address,
        /// What is happening, e.g. `CREATING for 4m`.
        message: String,
    },
    /// An action finished successfully.
    Finished {
        /// The resource.
        address: Address,
        /// What was done.
        action: Action,
        /// Time from start to finish.
        elapsed: Duration,
    },
    /// An action failed.
    Failed {
        /// The resource.
        address: Address,
        /// What was attempted.
        action: Action,
        /// Why it failed.
        error: String,
    },
    /// An action did not run because something it depends on failed.
    Skipped {
        /// The resource.
        address: Address,
        /// What would have been done.
        action: Action,
        /// The failed resource it depends on.
        because: Address,
    },
}

/// Everything a walk needs besides the plan.
pub struct ApplyContext<'a> {
    /// Where results and the journal are written.
    pub store: &'a dyn StateStore,
    /// The lock held for this run.
    pub lock: &'a LockInfo,
    /// Providers by cloud name.
    pub registry: &'a Registry,
    /// Hears progress.
    pub observer: Arc<dyn Observer>,
    /// Paces provider calls per API class.
    pub pacer: Arc<dyn Pacer>,
    /// Operations in flight at most (0 is treated as 1).
    pub parallelism: usize,
    /// The run being recorded; the caller fills holder, digests and git commit. Its plan digest
    /// is filled from the plan when empty.
    pub run: RunRecord,
}

/// How one action ended.
#[derive(Debug, Clone, PartialEq)]
pub enum OutcomeResult {
    /// Done.
    Succeeded {
        /// Time it took.
        elapsed: Duration,
    },
    /// Failed; its dependents were skipped.
    Failed {
        /// Why.
        error: String,
    },
    /// Not run because a resource it depends on failed.
    Skipped {
        /// That resource.
        because: Address,
    },
}

/// The outcome of one changing action.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceOutcome {
    /// The resource.
    pub address: Address,
    /// The deposed key, for deletes of deposed objects.
    pub deposed: Option<String>,
    /// What was planned.
    pub action: Action,
    /// How it ended.
    pub result: OutcomeResult,
}

/// What a walk did.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyReport {
    /// The run id.
    pub run_id: String,
    /// One outcome per changing action, in plan order.
    pub outcomes: Vec<ResourceOutcome>,
    /// Actions that succeeded.
    pub succeeded: usize,
    /// Resources whose action failed.
    pub failed: Vec<Address>,
    /// Resources whose action was skipped.
    pub skipped: Vec<Address>,
    /// Wall time of the walk.
    pub elapsed: Duration,
}

impl ApplyReport {
    /// Whether every action succeeded.
    pub fn is_success(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty()
    }
}

/// Applies exactly the actions of `plan`. Refuses when the state moved since the plan was made.
///
/// Per-resource failures are reported in the [`ApplyReport`]; an `Err` means the walk could not
/// start (stale plan, state unavailable, contradictory ordering).
pub async fn apply(plan: &Plan, ctx: &ApplyContext<'_>) -> Result<ApplyReport, EngineError> {
    apply_checked(plan, ctx, true).await
}

/// [`apply`], optionally without the serial check. Rollouts plan and apply one cluster while
/// sibling clusters' walks write state under the same lock: those writes concern other
/// addresses, so a moved serial does not make their per-cluster plans stale.
pub(crate) async fn apply_checked(
    plan: &Plan,
    ctx: &ApplyContext<'_>,
    check_serial: bool,
) -> Result<ApplyReport, EngineError> {
    let snapshot = ctx.store.snapshot().await?;
    if check_serial && snapshot.serial != plan.state_serial {
        return Err(EngineError::StalePlan {
            plan_serial: plan.state_serial,
            state_serial: snapshot.serial,
            plan_blueprint: plan.blueprint_digest.clone(),
            blueprint: plan.blueprint_digest.clone(),
        });
    }
    let ops = OpGraph::build(plan)?;
    let mut run = ctx.run.clone();
    if run.plan_digest.is_none() {
        run.plan_digest = Some(plan.digest());
    }
    ctx.store.begin_run(ctx.lock, &run).await?;
    let outputs: HashMap<Address, Properties> = snapshot
        .resources
        .into_iter()
        .map(|(address, st)| (address, st.outputs))
        .collect();
    let exec = Executor {
        ctx,
        run_id: &run.id,
        fleet: &plan.fleet,
    };
    let report = Walk::new(plan, &ops, &exec, outputs).run().await?;
    let outcome = if report.is_success() {
        RunOutcome::Succeeded
    } else {
        RunOutcome::Failed
    };
    ctx.store.finish_run(ctx.lock, &run.id, outcome).await?;
    Ok(report)
}

/// One step of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    /// Create, or adopt what an interrupted create left.
    Create,
    /// Create the replacement of a create-before-destroy replace, deposing the old object.
    CreateReplacement,
    /// Update in place.
    Update,
    /// No change; only orders dependents.
    Nothing,
    /// Delete the current object (a delete, or the first half of a destroy-before-create).
    DeleteCurrent,
    /// Delete the old object a create-before-destroy replacement deposed in this run.
    DeleteReplaced,
    /// Delete a deposed object recorded by an earlier run.
    DeleteDeposed,
}

struct Op {
    action: usize,
    kind: OpKind,
    successors: Vec<usize>,
    predecessors: Vec<usize>,
}

/// The operations of a plan and their ordering.
struct OpGraph {
    ops: Vec<Op>,
    /// Operations per action, in execution order.
    of_action: Vec<Vec<usize>>,
}

impl OpGraph {
    fn build(plan: &Plan) -> Result<Self, EngineError> {
        let mut ops: Vec<Op> = Vec::new();
        let mut of_action = vec![Vec::new(); plan.actions.len()];
        let mut push = |ops: &mut Vec<Op>, action: usize, kind: OpKind| {
            ops.push(Op {
                action,
                kind,
                successors: Vec::new(),
                predecessors: Vec::new(),
            });
            of_action[action].push(ops.len() - 1);
            ops.len() - 1
        };
        // Per address: the op that makes the desired object exist, the op that removes the
        // current recorded object, and ops removing old (deposed) objects.
        let mut apply_of: HashMap<&Address, usize> = HashMap::new();
        let mut remove_current_of: HashMap<&Address, usize> = HashMap::new();
        let mut remove_old_of: HashMap<&Address, Vec<usize>> = HashMap::new();
        // Per action: the op that removes the object its `prior` describes, if any.
        let mut removes_prior: Vec<Option<usize>> = vec![None; plan.actions.len()];
        let mut edges: Vec<(usize, usize)> = Vec::new();
        for (i, a) in plan.actions.iter().enumerate() {
            let addr = &a.address;
            match a.action {
                Action::Create => {
                    apply_of.insert(addr, push(&mut ops, i, OpKind::Create));
                }
                Action::Update => {
                    apply_of.insert(addr, push(&mut ops, i, OpKind::Update));
                }
                Action::NoOp => {
                    apply_of.insert(addr, push(&mut ops, i, OpKind::Nothing));
                }
                Action::Replace {
                    create_before_destroy: true,
                } => {
                    let create = push(&mut ops, i, OpKind::CreateReplacement);
                    let old = push(&mut ops, i, OpKind::DeleteReplaced);
                    edges.push((create, old));
                    apply_of.insert(addr, create);
                    remove_old_of.entry(addr).or_default().push(old);
                    removes_prior[i] = Some(old);
                }
                Action::Replace {
                    create_before_destroy: false,
                } => {
                    let old = push(&mut ops, i, OpKind::DeleteCurrent);
                    let create = push(&mut ops, i, OpKind::Create);
                    edges.push((old, create));
                    apply_of.insert(addr, create);
                    remove_current_of.insert(addr, old);
                    removes_prior[i] = Some(old);
                }
                Action::Delete if a.deposed().is_some() => {
                    let op = push(&mut ops, i, OpKind::DeleteDeposed);
                    remove_old_of.entry(addr).or_default().push(op);
                    removes_prior[i] = Some(op);
                }
                Action::Delete => {
                    let op = push(&mut ops, i, OpKind::DeleteCurrent);
                    remove_current_of.insert(addr, op);
                    removes_prior[i] = Some(op);
                }
            }
        }
        for (i, a) in plan.actions.iter().enumerate() {
            let apply_op = apply_of
                .get(&a.address)
                .copied()
                .filter(|&op| ops[op].action == i);
            if let Some(op) = apply_op {
                for d in &a.depends_on {
                    // Desired dependencies exist first.
                    if let Some(&dep) = apply_of.get(d) {
                        edges.push((dep, op));
                    }
                    // Old objects of a dependency go only once their dependents moved on.
                    for &old in remove_old_of.get(d).into_iter().flatten() {
                        edges.push((op, old));
                    }
                }
                for &old in remove_old_of.get(&a.address).into_iter().flatten() {
                    if ops[old].action != i {
                        edges.push((op, old));
                    }
                }
            }
            // A recorded object is removed only after whatever recorded a dependency on it is
            // gone (or, for plain deletes, has moved off it).
            let Some(prior) = &a.prior else { continue };
            for d in &prior.depends_on {
                let removals = remove_current_of
                    .get(d)
                    .into_iter()
                    .chain(remove_old_of.get(d).into_iter().flatten());
                for &removal in removals {
                    if ops[removal].action == i {
                        continue;
                    }
                    if let Some(mine) = removes_prior[i] {
                        edges.push((mine, removal));
                    } else if let (Some(op), OpKind::DeleteCurrent) = (apply_op, ops[removal].kind)
                        && plan.actions[ops[removal].action].action == Action::Delete
                    {
                        edges.push((op, removal));
                    }
                }
            }
        }
        for (from, to) in edges {
            ops[from].successors.push(to);
            ops[to].predecessors.push(from);
        }
        let graph = Self { ops, of_action };
        graph.check_acyclic(plan)?;
        Ok(graph)
    }

    fn check_acyclic(&self, plan: &Plan) -> Result<(), EngineError> {
        let mut indegree: Vec<usize> = self.ops.iter().map(|o| o.predecessors.len()).collect();
        let mut queue: VecDeque<usize> =
            (0..self.ops.len()).filter(|&i| indegree[i] == 0).collect();
        let mut done = 0;
        while let Some(i) = queue.pop_front() {
            done += 1;
            for &s in &self.ops[i].successors {
                indegree[s] -= 1;
                if indegree[s] == 0 {
                    queue.push_back(s);
                }
            }
        }
        if done == self.ops.len() {
            return Ok(());
        }
        let mut stuck: Vec<String> = (0..self.ops.len())
            .filter(|&i| indegree[i] > 0)
            .map(|i| plan.actions[self.ops[i].action].address.to_string())
            .collect();
        stuck.dedup();
        Err(EngineError::WalkCycle {
            chain: stuck.join(", "),
        })
    }
}

/// Why one operation failed.
#[derive(Debug, thiserror::Error)]
enum OpError {
    /// The provider failed for good (or ran out of retries).
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// Recording the result failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// A referenced output is not known.
    #[error("output `{0}` is not known; has that resource been created?")]
    Unresolved(OutputRef),
    /// No provider for the resource's cloud.
    #[error("no provider is registered for cloud `{0}`")]
    NoProvider(String),
    /// The plan lacks what this action needs.
    #[error("the plan is incomplete: {0}")]
    Incomplete(&'static str),
}

type OpResult = Result<Option<Properties>, OpError>;

/// A journal request from a provider's [`IntentSink`], answered by the operation that owns it.
struct IntentMsg {
    address: Address,
    operation: String,
    detail: serde_json::Value,
    reply: oneshot::Sender<Result<(), String>>,
}

/// The [`IntentSink`] handed to providers: forwards intents to the operation's journal writer
/// (the store is borrowed by the walk, so it cannot live in a `'static` sink).
struct WalkSink {
    tx: mpsc::UnboundedSender<IntentMsg>,
    observer: Arc<dyn Observer>,
}

#[async_trait]
impl IntentSink for WalkSink {
    async fn intent(
        &self,
        address: &Address,
        operation: &str,
        detail: serde_json::Value,
    ) -> Result<(), ProviderError> {
        let (reply, answer) = oneshot::channel();
        let msg = IntentMsg {
            address: address.clone(),
            operation: operation.to_owned(),
            detail,
            reply,
        };
        let failed = |why: String| {
            ProviderError::new(ErrorClass::Fatal, operation, "JournalFailed", why).at(address)
        };
        self.tx
            .send(msg)
            .map_err(|_| failed("the operation that owned this context has ended".to_owned()))?;
        match answer.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(why)) => Err(failed(why)),
            Err(_) => Err(failed("the journal writer went away".to_owned())),
        }
    }

    fn progress(&self, address: &Address, message: &str) {
        self.observer.on_event(&WalkEvent::Progress {
            address: address.clone(),
            message: message.to_owned(),
        });
    }
}

/// Performs single operations: provider calls, journal and state writes.
struct Executor<'a, 'c> {
    ctx: &'a ApplyContext<'c>,
    run_id: &'a str,
    fleet: &'a str,
}

impl Executor<'_, '_> {
    async fn journal(
        &self,
        address: Option<&Address>,
        event: JournalEvent,
    ) -> Result<(), StateError> {
        let entry = JournalEntry {
            seq: 0,
            run_id: self.run_id.to_owned(),
            at: Timestamp::now(),
            address: address.cloned(),
            event,
        };
        self.ctx
            .store
            .append_journal(self.ctx.lock, &entry)
            .await
            .map(|_| ())
    }

    async fn intent(
        &self,
        address: &Address,
        operation: &str,
        detail: serde_json::Value,
    ) -> Result<(), StateError> {
        let event = JournalEvent::Intent {
            operation: operation.to_owned(),
            detail,
        };
        self.journal(Some(address), event).await
    }

    async fn put(&self, st: &ResourceState) -> Result<(), StateError> {
        self.ctx
            .store
            .put_resource(self.ctx.lock, st)
            .await
            .map(|_| ())
    }

    fn provider(&self, address: &Address) -> Result<(&Arc<dyn Provider>, ApiClass), OpError> {
        let cloud = address.kind.provider();
        let provider = self
            .ctx
            .registry
            .provider(cloud)
            .ok_or_else(|| OpError::NoProvider(cloud.to_owned()))?;
        let api = self
            .ctx
            .registry
            .schema(&address.kind)
            .map(|s| s.api.clone())
            .unwrap_or_else(|| ApiClass::new(cloud));
        Ok((provider, api))
    }

    fn op_context(&self) -> (OpContext, mpsc::UnboundedReceiver<IntentMsg>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let sink = WalkSink {
            tx,
            observer: self.ctx.observer.clone(),
        };
        let ctx = OpContext {
            fleet: self.fleet.to_owned(),
            run_id: self.run_id.to_owned(),
            pacer: self.ctx.pacer.clone(),
            sink: Arc::new(sink),
        };
        (ctx, rx)
    }

    /// Drives `call` while journaling the intents its provider sends.
    async fn serve<T>(
        &self,
        rx: &mut mpsc::UnboundedReceiver<IntentMsg>,
        call: impl Future<Output = T>,
    ) -> T {
        tokio::pin!(call);
        loop {
            tokio::select! {
                biased;
                out = &mut call => return out,
                Some(msg) = rx.recv() => {
                    let event = JournalEvent::Intent { operation: msg.operation, detail: msg.detail };
                    let written = self.journal(Some(&msg.address), event).await.map_err(|e| e.to_string());
                    let _ = msg.reply.send(written);
                }
            }
        }
    }

    fn on_retry<'s>(
        &'s self,
        address: &'s Address,
        what: &'s str,
    ) -> impl FnMut(u32, Duration, &ProviderError) + 's {
        move |attempt, delay, e| {
            self.ctx.observer.on_event(&WalkEvent::Progress {
                address: address.clone(),
                message: format!(
                    "{what}: {} ({}); retrying in {:.1}s (attempt {}/{MAX_ATTEMPTS})",
                    e.code,
                    e.message,
                    delay.as_secs_f64(),
                    attempt + 1
                ),
            });
        }
    }

    async fn create(
        &self,
        a: &PlannedAction,
        resolved: Properties,
        replacing: Option<&ResourceState>,
    ) -> OpResult {
        let desired = a
            .desired
            .as_ref()
            .ok_or(OpError::Incomplete("a create without a desired resource"))?;
        let (provider, api) = self.provider(&a.address)?;
        let (ctx, mut rx) = self.op_context();
        let detail = serde_json::json!({
            "kind": a.address.kind.as_str(),
            "replacing": replacing.and_then(|r| r.cloud_id.clone()),
        });
        self.intent(&a.address, "create", detail).await?;
        let req = CreateRequest {
            address: &a.address,
            properties: &resolved,
            replacing,
        };
        let (ctxr, apir) = (&ctx, &api);
        let created = self
            .serve(
                &mut rx,
                retrying(
                    || async move {
                        ctxr.pace(apir).await;
                        provider.create(ctxr, req).await
                    },
                    self.on_retry(&a.address, "create"),
                ),
            )
            .await?;
        if let Some(old) = replacing {
            // Keep the old object recorded (deposed) before the new one takes its slot.
            let mut deposed = old.clone();
            deposed.deposed = Some(self.run_id.to_owned());
            self.put(&deposed).await?;
        }
        let mut st = ResourceState {
            address: a.address.clone(),
            deposed: None,
            cloud_id: Some(created.cloud_id),
            properties: desired.properties.clone(),
            resolved,
            outputs: created.outputs,
            depends_on: a.depends_on.clone(),
            status: if created.ready {
                ResourceStatus::Ready
            } else {
                ResourceStatus::Pending
            },
        };
        self.put(&st).await?;
        if !created.ready {
            self.wait_ready(provider, &ctx, &mut rx, &mut st).await?;
        }
        if let Some(old) = replacing {
            // Evidence that the replacement served before the old object was touched.
            let message = format!(
                "replacement {} is ready; {} is deleted next",
                st.cloud_id.as_deref().unwrap_or("?"),
                old.cloud_id.as_deref().unwrap_or("the old object")
            );
            self.journal(Some(&a.address), JournalEvent::Note { message })
                .await?;
        }
        Ok(Some(st.outputs))
    }

    async fn update(&self, a: &PlannedAction, resolved: Properties) -> OpResult {
        let desired = a
            .desired
            .as_ref()
            .ok_or(OpError::Incomplete("an update without a desired resource"))?;
        let prior = a
            .prior
            .as_ref()
            .ok_or(OpError::Incomplete("an update without a recorded object"))?;
        let (provider, api) = self.provider(&a.address)?;
        let (ctx, mut rx) = self.op_context();
        let mut changed: Vec<String> = a
            .diffs
            .iter()
            .map(|d| d.path.split('.').next().unwrap_or(&d.path).to_owned())
            .collect();
        changed.dedup();
        self.intent(
            &a.address,
            "update",
            serde_json::json!({ "changed": changed }),
        )
        .await?;
        let req = UpdateRequest {
            address: &a.address,
            properties: &resolved,
            prior,
            changed: &changed,
        };
        let (ctxr, apir) = (&ctx, &api);
        let updated = self
            .serve(
                &mut rx,
                retrying(
                    || async move {
                        ctxr.pace(apir).await;
                        provider.update(ctxr, req).await
                    },
                    self.on_retry(&a.address, "update"),
                ),
            )
            .await?;
        let mut st = prior.clone();
        if !updated.cloud_id.is_empty() {
            st.cloud_id = Some(updated.cloud_id);
        }
        st.properties = desired.properties.clone();
        st.resolved = resolved;
        st.outputs.extend(updated.outputs);
        st.depends_on = a.depends_on.clone();
        st.status = if updated.ready {
            ResourceStatus::Ready
        } else {
            ResourceStatus::Pending
        };
        self.put(&st).await?;
        if !updated.ready {
            self.wait_ready(provider, &ctx, &mut rx, &mut st).await?;
        }
        Ok(Some(st.outputs))
    }

    /// Waits until `st` is ready and records it so; records it tainted when the wait fails.
    async fn wait_ready(
        &self,
        provider: &Arc<dyn Provider>,
        ctx: &OpContext,
        rx: &mut mpsc::UnboundedReceiver<IntentMsg>,
        st: &mut ResourceState,
    ) -> Result<(), OpError> {
        let waited = {
            let pending: &ResourceState = st;
            self.serve(
                rx,
                retrying(
                    || provider.wait(ctx, pending, WaitFor::Ready),
                    self.on_retry(&pending.address, "wait"),
                ),
            )
            .await
        };
        match waited {
            Ok(outputs) => {
                st.outputs.extend(outputs);
                st.status = ResourceStatus::Ready;
                self.put(st).await?;
                Ok(())
            }
            Err(e) => {
                st.status = ResourceStatus::Tainted;
                self.put(st).await?;
                Err(e.into())
            }
        }
    }

    async fn delete(&self, st: &ResourceState) -> OpResult {
        let address = &st.address;
        if st.cloud_id.is_some() {
            let (provider, api) = self.provider(address)?;
            let (ctx, mut rx) = self.op_context();
            let detail = serde_json::json!({ "cloud_id": st.cloud_id, "deposed": st.deposed });
            self.intent(address, "delete", detail).await?;
            let (ctxr, apir) = (&ctx, &api);
            let deleted = self
                .serve(
                    &mut rx,
                    retrying(
                        || async move {
                            ctxr.pace(apir).await;
                            provider.delete(ctxr, st).await
                        },
                        self.on_retry(address, "delete"),
                    ),
                )
                .await;
            match deleted {
                Err(e) if e.class == ErrorClass::NotFound => {}
                other => other?,
            }
            let mut deleting = st.clone();
            deleting.status = ResourceStatus::Deleting;
            self.put(&deleting).await?;
            let gone = self
                .serve(
                    &mut rx,
                    retrying(
                        || provider.wait(&ctx, &deleting, WaitFor::Deleted),
                        self.on_retry(address, "wait"),
                    ),
                )
                .await;
            match gone {
                Err(e) if e.class == ErrorClass::NotFound => {}
                other => {
                    other?;
                }
            }
        }
        self.ctx
            .store
            .remove_resource(self.ctx.lock, address, st.deposed.as_deref())
            .await?;
        Ok(None)
    }
}

/// Bookkeeping of one walk.
struct Walk<'a, 'c> {
    plan: &'a Plan,
    graph: &'a OpGraph,
    exec: &'a Executor<'a, 'c>,
    outputs: HashMap<Address, Properties>,
    /// Unfinished predecessors per op.
    waiting_on: Vec<usize>,
    skipped: Vec<bool>,
    /// Ops left per action.
    left: Vec<usize>,
    started: Vec<Option<Instant>>,
    results: Vec<Option<OutcomeResult>>,
}

impl<'a, 'c> Walk<'a, 'c> {
    fn new(
        plan: &'a Plan,
        graph: &'a OpGraph,
        exec: &'a Executor<'a, 'c>,
        outputs: HashMap<Address, Properties>,
    ) -> Self {
        Self {
            plan,
            graph,
            exec,
            outputs,
            waiting_on: graph.ops.iter().map(|o| o.predecessors.len()).collect(),
            skipped: vec![false; graph.ops.len()],
            left: graph.of_action.iter().map(Vec::len).collect(),
            started: vec![None; plan.actions.len()],
            results: vec![None; plan.actions.len()],
        }
    }

    fn emit(&self, event: WalkEvent) {
        self.exec.ctx.observer.on_event(&event);
    }

    async fn run(mut self) -> Result<ApplyReport, EngineError> {
        let began = Instant::now();
        let parallelism = self.exec.ctx.parallelism.max(1);
        self.announce_waits();
        let mut ready: VecDeque<usize> = (0..self.graph.ops.len())
            .filter(|&i| self.waiting_on[i] == 0)
            .collect();
        let mut running = Running::new();
        let mut done: VecDeque<(usize, OpResult)> = VecDeque::new();
        loop {
            while running.len() < parallelism {
                let Some(op) = ready.pop_front() else { break };
                match self.start(op) {
                    Ok(Some(fut)) => running.push(fut),
                    Ok(None) => done.push_back((op, Ok(None))),
                    Err(e) => done.push_back((op, Err(e))),
                }
            }
            if done.is_empty() {
                match running.next().await {
                    Some(finished) => done.push_back(finished),
                    None => break,
                }
            }
            while let Some((op, result)) = done.pop_front() {
                // Finishing writes to the state store. Operations in flight may hold state
                // transactions of their own (a journal sequence, a row lock) that the store
                // needs released first, so they keep being polled meanwhile; whatever they
                // complete is finished next.
                let finishing = self.finish(op, result, &mut ready);
                tokio::pin!(finishing);
                loop {
                    tokio::select! {
                        biased;
                        finished = &mut finishing => {
                            finished?;
                            break;
                        }
                        Some(finished) = running.next() => done.push_back(finished),
                    }
                }
            }
        }
        Ok(self.report(began.elapsed()))
    }

    fn announce_waits(&self) {
        for (i, ops) in self.graph.of_action.iter().enumerate() {
            let action = &self.plan.actions[i];
            let Some(&first) = ops.first() else { continue };
            if !action.action.is_change() {
                continue;
            }
            let mut on: Vec<Address> = self.graph.ops[first]
                .predecessors
                .iter()
                .map(|&p| self.graph.ops[p].action)
                .filter(|&j| j != i && self.plan.actions[j].action.is_change())
                .map(|j| self.plan.actions[j].address.clone())
                .collect();
            if on.is_empty() {
                continue;
            }
            on.sort();
            on.dedup();
            self.emit(WalkEvent::Waiting {
                address: action.address.clone(),
                on,
            });
        }
    }

    /// Starts one op: `None` when it completes at once (nothing to do).
    #[allow(clippy::type_complexity)]
    fn start(
        &mut self,
        op: usize,
    ) -> Result<
        Option<std::pin::Pin<Box<dyn Future<Output = (usize, OpResult)> + Send + 'a>>>,
        OpError,
    > {
        let kind = self.graph.ops[op].kind;
        let i = self.graph.ops[op].action;
        let a: &'a PlannedAction = &self.plan.actions[i];
        if kind == OpKind::Nothing {
            return Ok(None);
        }
        if self.started[i].is_none() {
            self.started[i] = Some(Instant::now());
            self.emit(WalkEvent::Started {
                address: a.address.clone(),
                action: a.action,
            });
        }
        let resolved = match kind {
            OpKind::Create | OpKind::CreateReplacement | OpKind::Update => {
                let desired = a
                    .desired
                    .as_ref()
                    .ok_or(OpError::Incomplete("a missing desired resource"))?;
                Some(self.resolve(&desired.properties)?)
            }
            _ => None,
        };
        let exec = self.exec;
        let span = tracing::info_span!(
            "op",
            cluster = %a.address.cluster,
            resource = %a.address,
            action = %a.action,
        );
        let fut = async move {
            let result = match (kind, resolved) {
                (OpKind::Create, Some(props)) => exec.create(a, props, None).await,
                (OpKind::CreateReplacement, Some(props)) => {
                    exec.create(a, props, a.prior.as_ref()).await
                }
                (OpKind::Update, Some(props)) => exec.update(a, props).await,
                (OpKind::DeleteCurrent | OpKind::DeleteDeposed, _) => match &a.prior {
                    Some(prior) => exec.delete(prior).await,
                    None => Err(OpError::Incomplete("a delete without a recorded object")),
                },
                (OpKind::DeleteReplaced, _) => match &a.prior {
                    Some(prior) => {
                        let mut old = prior.clone();
                        old.deposed = Some(exec.run_id.to_owned());
                        exec.delete(&old).await
                    }
                    None => Err(OpError::Incomplete(
                        "a replacement without a recorded object",
                    )),
                },
                _ => Ok(None),
            };
            (op, result)
        };
        Ok(Some(Box::pin(fut.instrument(span))))
    }

    fn resolve(&self, props: &Properties) -> Result<Properties, OpError> {
        let lookup = |r: &OutputRef| {
            self.outputs
                .get(&r.address)
                .and_then(|o| o.get(&r.output))
                .cloned()
        };
        props
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.resolve(&lookup).map_err(OpError::Unresolved)?)))
            .collect()
    }

    async fn finish(
        &mut self,
        op: usize,
        result: OpResult,
        ready: &mut VecDeque<usize>,
    ) -> Result<(), EngineError> {
        let i = self.graph.ops[op].action;
        let a = &self.plan.actions[i];
        match result {
            Ok(outputs) => {
                if let Some(outputs) = outputs {
                    self.outputs.insert(a.address.clone(), outputs);
                }
                self.left[i] -= 1;
                if self.left[i] == 0 && a.action.is_change() {
                    let elapsed = self.started[i].map(|s| s.elapsed()).unwrap_or_default();
                    self.results[i] = Some(OutcomeResult::Succeeded { elapsed });
                    self.outcome(i, true, None).await?;
                    self.emit(WalkEvent::Finished {
                        address: a.address.clone(),
                        action: a.action,
                        elapsed,
                    });
                }
                for &s in &self.graph.ops[op].successors {
                    self.waiting_on[s] -= 1;
                    if self.waiting_on[s] == 0 && !self.skipped[s] {
                        ready.push_back(s);
                    }
                }
            }
            Err(e) => {
                let error = e.to_string();
                self.results[i] = Some(OutcomeResult::Failed {
                    error: error.clone(),
                });
                self.outcome(i, false, Some(error.clone())).await?;
                self.emit(WalkEvent::Failed {
                    address: a.address.clone(),
                    action: a.action,
                    error,
                });
                self.skip_descendants(op).await?;
            }
        }
        Ok(())
    }

    async fn skip_descendants(&mut self, failed: usize) -> Result<(), EngineError> {
        let because = self.plan.actions[self.graph.ops[failed].action]
            .address
            .clone();
        let mut queue: VecDeque<usize> =
            self.graph.ops[failed].successors.iter().copied().collect();
        while let Some(op) = queue.pop_front() {
            if self.skipped[op] {
                continue;
            }
            self.skipped[op] = true;
            queue.extend(self.graph.ops[op].successors.iter().copied());
            let i = self.graph.ops[op].action;
            let a = &self.plan.actions[i];
            if self.results[i].is_some() || !a.action.is_change() {
                continue;
            }
            self.results[i] = Some(OutcomeResult::Skipped {
                because: because.clone(),
            });
            self.outcome(i, false, Some(format!("skipped: `{because}` failed")))
                .await?;
            self.emit(WalkEvent::Skipped {
                address: a.address.clone(),
                action: a.action,
                because: because.clone(),
            });
        }
        Ok(())
    }

    async fn outcome(&self, i: usize, ok: bool, error: Option<String>) -> Result<(), EngineError> {
        let a = &self.plan.actions[i];
        let event = JournalEvent::Outcome {
            action: a.action.to_string(),
            ok,
            error,
        };
        self.exec.journal(Some(&a.address), event).await?;
        Ok(())
    }

    fn report(self, elapsed: Duration) -> ApplyReport {
        let mut report = ApplyReport {
            run_id: self.exec.run_id.to_owned(),
            outcomes: Vec::new(),
            succeeded: 0,
            failed: Vec::new(),
            skipped: Vec::new(),
            elapsed,
        };
        for (a, result) in self.plan.actions.iter().zip(self.results) {
            let Some(result) = result else { continue };
            match &result {
                OutcomeResult::Succeeded { .. } => report.succeeded += 1,
                OutcomeResult::Failed { .. } => report.failed.push(a.address.clone()),
                OutcomeResult::Skipped { .. } => report.skipped.push(a.address.clone()),
            }
            report.outcomes.push(ResourceOutcome {
                address: a.address.clone(),
                deposed: a.deposed().map(str::to_owned),
                action: a.action,
                result,
            });
        }
        report
    }
}
