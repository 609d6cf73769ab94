//! Choosing a state backend from the `--state` URL (or `SLIPWAY_STATE`). This module only
//! parses and dispatches; it must never create state anywhere but where the URL says.

use std::path::Path;

use crate::{SqliteStore, StateError, StateStore};

/// Schemes listed when a URL is not understood.
const ACCEPTED: &str = "`sqlite:PATH`, `s3://BUCKET/PREFIX`, `azblob://ACCOUNT/CONTAINER/PREFIX`, \
     `postgres://USER@HOST/DB`";

/// Opens the state backend named by `url`.
///
/// `sqlite:PATH` opens that file (a relative path is relative to the current directory); an
/// empty URL opens `default_dir/.slipway/state.db`; `s3://`, `azblob://` and `postgres://`
/// open the team backends (each behind a default-on cargo feature). Errors never echo a
/// password or signature from the URL.
pub fn open_url(url: &str, default_dir: &Path) -> Result<Box<dyn StateStore>, StateError> {
    let bad = |reason: String| StateError::BadUrl {
        url: redact(url),
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
    #[cfg(feature = "s3")]
    if trimmed.starts_with("s3://") {
        return Ok(Box::new(crate::S3Store::from_url(url)?));
    }
    #[cfg(feature = "azblob")]
    if trimmed.starts_with("azblob://") {
        return Ok(Box::new(crate::AzureBlobStore::from_url(trimmed)?));
    }
    #[cfg(feature = "postgres")]
    if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
        return Ok(Box::new(crate::PostgresStore::lazy(trimmed)?));
    }
    for (scheme, feature) in [
        ("s3://", "s3"),
        ("azblob://", "azblob"),
        ("postgres://", "postgres"),
        ("postgresql://", "postgres"),
    ] {
        if trimmed.starts_with(scheme) {
            return Err(bad(format!(
                "this build of slipway was compiled without the `{feature}` feature"
            )));
        }
    }
    Err(bad(format!("unknown state backend; accepted: {ACCEPTED}")))
}

/// The URL with any password and any secret-looking query value replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let base = match base.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest
                .split_once('/')
                .map_or((rest, None), |(a, p)| (a, Some(p)));
            let authority = match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _password)) => format!("{user}:***@{host}"),
                    None => format!("{userinfo}@{host}"),
                },
                None => authority.to_owned(),
            };
            match path {
                Some(path) => format!("{scheme}://{authority}/{path}"),
                None => format!("{scheme}://{authority}"),
            }
        }
        None => base.to_owned(),
    };
    if query.is_empty() {
        return base;
    }
    let secret = |key: &str| {
        let key = key.to_ascii_lowercase();
        ["sig", "password", "secret", "token", "key", "credential"]
            .iter()
            .any(|s| key.contains(s))
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if secret(k) => format!("{k}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_and_signatures_are_redacted() {
        assert_eq!(
            redact("postgres://ops:hunter2@db:5432/state?namespace=x"),
            "postgres://ops:***@db:5432/state?namespace=x"
        );
        assert_eq!(
            redact("azblob://acct/c/p?endpoint=http://h&sig=abc%2Fdef&se=2030"),
            "azblob://acct/c/p?endpoint=http://h&sig=***&se=2030"
        );
        assert_eq!(redact("s3://bucket/prefix"), "s3://bucket/prefix");
        assert_eq!(redact("sqlite:state.db"), "sqlite:state.db");
    }
}
