//! The AWS provider refereed by moto: a real 2-zone cluster expanded from a blueprint is
//! created, waited for, read, updated and deleted through the `Provider` trait against a
//! private `moto_server` per test from `slipway-testkit`; upgrade evidence and upgrade hops,
//! which need EKS add-ons, insights and failing updates moto lacks, run against Slipway's
//! emulator.

mod emulated;
mod evidence;
mod lifecycle;
mod readiness;
mod safety;
mod support;
mod upgrade;
