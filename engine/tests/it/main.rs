//! Integration tests of the engine against an in-memory fake cloud and a SQLite store.

mod apply;
mod fake;
mod graph;
mod plan;
mod rollout;
mod scan_manifests;
mod scan_readiness;
mod support;
mod walk_props;
