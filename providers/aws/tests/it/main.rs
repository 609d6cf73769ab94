//! The AWS provider refereed by moto: a real 2-zone cluster expanded from a blueprint is
//! created, waited for, read, updated and deleted through the `Provider` trait against a
//! private `moto_server` per test from `slipway-testkit`; upgrade evidence, which needs EKS
//! add-ons and insights moto lacks, runs against Slipway's emulator.

mod evidence;
mod lifecycle;
mod safety;
mod support;
