//! Integration tests of the Azure expander: full expansions of fixture clusters, snapshotted
//! and checked against the invariants every expansion must hold.

mod expansion;
mod fixtures;
