//! Choosing a state backend from the `--state` URL (or `SLIPWAY_STATE`). This module only
//! parses and dispatches; it must never create state anywhere but where the URL says.

use std::path::Path;

use crate::{SqliteStore, StateError, StateStore};

/// Schemes listed when a URL is not understood.
const ACCEPTED: &str =
    "`sqlite:PATH`, `s3://BUCKET/KEY`, `azblob://ACCOUNT/CONTAINER/BLOB`, `postgres://…`";

/// Opens the state backend named by `url`.
///
/// `sqlite:PATH` opens that file (a relative path is relative to the current directory); an
/// empty URL opens `default_dir/.slipway/state.db`. Team backends (`s3://`, `azblob://`,
/// `postgres://`) are recognised but not available in this build yet.
pub fn open_url(url: &str, default_dir: &Path) -> Result<Box<dyn StateStore>, StateError> {
    let bad = |reason: String| StateError::BadUrl {
        url: url.to_owned(),
        reason,
    };
    let trimmed = url.trim();
    if trimmed.is_empty() {
        let path = default_dir.join(".slipway").join("state.db");
        return Ok(Box::new(SqliteStore::open(&path)?));
    }
    if let Some(path) = trimmed.strip_prefix("sqlite:") {
        if path.is_empty() {
            return Err(bad(
                "`sqlite:` needs a path, e.g. `sqlite:.slipway/state.db`".to_owned(),
            ));
        }
        return Ok(Box::new(SqliteStore::open(Path::new(path))?));
    }
    for (scheme, name) in [
        ("s3://", "S3"),
        ("azblob://", "Azure Blob"),
        ("postgres://", "PostgreSQL"),
    ] {
        if trimmed.starts_with(scheme) {
            return Err(bad(format!(
                "the {name} backend is not available in this build yet"
            )));
        }
    }
    Err(bad(format!("unknown state backend; accepted: {ACCEPTED}")))
}
