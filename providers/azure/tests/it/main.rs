//! Integration tests of the Azure provider: full expansions of fixture clusters, snapshotted
//! and checked against the invariants every expansion must hold, and the ARM poller against
//! Microsoft's long-running-operation scenarios, and upgrade evidence read from an emulated
//! cluster.

mod evidence;
mod expansion;
mod fixtures;
mod lifecycle;
mod lro;
