//! The Slipway blueprint language: the only crate that knows the file format.
//!
//! Loading runs in two phases: a span-carrying raw tree parsed from YAML (every node knows its
//! file, line and column), then the validated [`Fleet`] model the rest of Slipway trusts. Every
//! problem is collected and reported at once as a [`Diagnostic`]; loading never stops at the
//! first error and never panics on bad input.

pub mod model;
pub mod subnets;

pub use model::*;
