//! Integration tests: `collect` against a fake Kubernetes API server on 127.0.0.1.

mod collect;
mod server;
