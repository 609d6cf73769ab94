//! The engine's error type: everything that stops a graph build, a plan or a walk as a whole.
//!
//! Per-resource failures during a walk are not errors of this kind: they are reported in the
//! [`crate::ApplyReport`] so that independent branches carry on. This module never formats
//! for a terminal; the CLI renders these.

use slipway_provider::ProviderError;
use slipway_state::StateError;

use crate::graph::GraphError;

/// Why the engine could not build a graph, plan or walk.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The resource graph is invalid; every problem is listed.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// The state backend failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// A provider call outside a walk (a refresh read) failed for good.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// A saved plan no longer matches the state or the blueprint it was made from.
    #[error(
        "the saved plan is stale: it was made at state serial {plan_serial} from blueprint {plan_blueprint}, \
         but the state is at serial {state_serial} and the blueprint is {blueprint}; run `slipway plan` again"
    )]
    StalePlan {
        /// The state serial the plan was made at.
        plan_serial: u64,
        /// The state serial now.
        state_serial: u64,
        /// The blueprint digest the plan was made from.
        plan_blueprint: String,
        /// The blueprint digest now.
        blueprint: String,
    },
    /// A saved plan was written by an incompatible version of Slipway.
    #[error("the saved plan has format version {found}; this Slipway reads version {expected}")]
    PlanFormat {
        /// The version in the file.
        found: u32,
        /// The version this engine reads.
        expected: u32,
    },
    /// No provider is registered for a cloud the plan needs.
    #[error("no provider is registered for cloud `{cloud}`")]
    NoProvider {
        /// The cloud name, e.g. `aws`.
        cloud: String,
    },
    /// A resource kind is unknown to its provider, so its schema is unknown.
    #[error("resource kind `{kind}` is not declared by any registered provider")]
    UnknownKind {
        /// The kind.
        kind: String,
    },
    /// The operations of a plan cannot be ordered (recorded dependencies contradict the
    /// desired ones).
    #[error("the plan's operations form a cycle: {chain}")]
    WalkCycle {
        /// Addresses of the operations that could not be ordered.
        chain: String,
    },
}
