//! Integration tests of the Azure provider: full expansions of fixture clusters, snapshotted
//! and checked against the invariants every expansion must hold, and the ARM poller against
//! Microsoft's long-running-operation scenarios, and upgrade and readiness evidence read from
//! emulated clusters.

mod evidence;
mod expansion;
mod fixtures;
mod lifecycle;
mod lro;
mod readiness;
