//! Slipway engine: resource graph, plan, walk (apply and destroy).
//!
//! The engine turns a validated [`Fleet`](slipway_blueprints::Fleet) into a [`ResourceGraph`]
//! through the registered providers' expanders, diffs it against recorded state into a [`Plan`],
//! and walks the plan's actions against the providers, recording every intent and result in a
//! [`StateStore`](slipway_state::StateStore). It never speaks HTTP and never prints: progress goes
//! to an [`Observer`].
//!
//! ```text
//! Registry::new(); add_expander(Arc<dyn Expander>); add_provider(Arc<dyn Provider>);
//! expander(&str) -> Option<&Arc<dyn Expander>>; provider(&str) -> Option<&Arc<dyn Provider>>
//!
//! build_graph(&Fleet, &Registry, &Selection) -> Result<ResourceGraph, GraphError>
//! ResourceGraph::from_resources(Vec<Resource>) -> Result<ResourceGraph, GraphError>
//!   resources(), get(&Address), dependencies(&Address), dependents(&Address), topo_order(),
//!   to_dot(), to_mermaid(), to_json()
//! GraphError::Invalid { problems: Vec<GraphProblem> }   // every problem at once
//!
//! plan(&ResourceGraph, &Snapshot, &PlanOptions, &Registry).await -> Result<Plan, EngineError>
//! PlanOptions { mode: PlanMode::{Apply, Destroy}, refresh, selection, fleet, blueprint_digest }
//! Plan { format_version, fleet, blueprint_digest, state_serial, mode, selection, refreshed, actions }
//!   digest() -> String, summary() -> PlanSummary { add, change, replace, destroy }, has_changes()
//! PlannedAction { address, action: Action, reason, diffs: Vec<FieldDiff>, desired, prior, depends_on }
//! check_saved_plan(&Plan, &Snapshot, blueprint_digest) -> Result<(), EngineError>
//!
//! apply(&Plan, &ApplyContext<'_>).await -> Result<ApplyReport, EngineError>
//! ApplyContext { store, lock, registry, observer: Arc<dyn Observer>, pacer: Arc<dyn Pacer>,
//!                parallelism, run: RunRecord }
//! Observer::on_event(&WalkEvent)   // Waiting, Started, Progress, Finished, Failed, Skipped
//! TokenBucketPacer::default() / ::new([(ApiClass, Bucket { capacity, refill_per_sec })])
//!
//! scan::gather_evidence(..) / scan::assemble(ScanInput) -> ScanReport   // deprecation scans
//! rollout::advance(&RolloutContext, target) -> Advanced                // upgrade rings
//! dr::drill(&DrContext, &Fleet, cluster, teardown) -> DrillReport      // DR drills
//! ```

pub mod dr;
mod error;
mod graph;
mod pacer;
mod plan;
mod registry;
mod retry;
pub mod rollout;
mod runner;
pub mod scan;
mod walk;

pub use error::EngineError;
pub use graph::{GraphError, GraphProblem, ResourceGraph, Selection, build_graph};
pub use pacer::{Bucket, TokenBucketPacer, default_buckets};
pub use plan::{
    Action, FieldDiff, PLAN_FORMAT_VERSION, Plan, PlanMode, PlanOptions, PlanSummary,
    PlannedAction, check_saved_plan, plan,
};
pub use registry::Registry;
pub use walk::{
    ApplyContext, ApplyReport, NullObserver, Observer, OutcomeResult, ResourceOutcome, WalkEvent,
    apply,
};
