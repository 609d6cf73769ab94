//! The AWS provider refereed by moto: a real 2-zone cluster expanded from a blueprint is
//! created, waited for, read, updated and deleted through the `Provider` trait against a
//! `moto_server` started per test (see `moto`).

mod lifecycle;
mod moto;
mod safety;
mod support;
