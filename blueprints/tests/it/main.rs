//! Integration tests of the blueprint loader: one binary, one module per feature.

mod support;

mod acceptance;
mod dr;
mod example;
mod features;
mod inputs;
mod node_os;
mod schema;
