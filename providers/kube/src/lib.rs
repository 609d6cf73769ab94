//! Slipway's only connection to a Kubernetes API server: the deprecation scan's live evidence.
//!
//! [`collect`] loads a kubeconfig context (token, token file, client certificate, basic auth or
//! exec plugin such as `aws eks get-token` and `kubelogin`), asks the server for its version
//! and API discovery, lists the objects of the kinds of interest at the version the server
//! prefers and returns the `kubectl.kubernetes.io/last-applied-configuration` of each (the
//! apiVersion the user actually applied: listing at an old version proves nothing, the server
//! converts every object), plus the latest Helm release Secret/ConfigMap of each release.
//!
//! It only ever sends GET requests: it never writes to the cluster.

mod collect;
mod config;
mod exec;
mod tls;

pub use collect::{KubeError, KubeTarget, LiveObjects, LiveSource, collect};
pub use config::ConfigError;
pub use exec::ExecError;
pub use tls::TlsError;
