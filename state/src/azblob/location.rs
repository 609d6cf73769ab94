//! Where Azure Blob state lives: parsing `azblob://ACCOUNT/CONTAINER/PREFIX[?endpoint=URL]`,
//! the blob names under the prefix, and scrubbing SAS signatures out of messages.
//!
//! This module never touches the network. It must never accept an endpoint that carries
//! credentials (a query string or user info), so that `describe()` can always show it.

use azure_core::http::Url;
use percent_encoding::percent_decode_str;

use crate::StateError;

/// The environment variable that overrides the blob endpoint.
pub(crate) const ENDPOINT_ENV: &str = "SLIPWAY_AZBLOB_ENDPOINT";

/// A parsed `azblob://` location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    /// The storage account.
    pub account: String,
    /// The container.
    pub container: String,
    /// Blob name prefix: empty, or segments joined by `/` with a trailing `/`.
    pub prefix: String,
    /// The blob service endpoint, without a trailing `/`
    /// (`https://ACCOUNT.blob.core.windows.net` unless overridden).
    pub endpoint: Url,
    /// Whether the endpoint was overridden (shown by `describe()`).
    pub endpoint_overridden: bool,
}

impl Location {
    /// Parses `url`; `env_endpoint` is the value of [`ENDPOINT_ENV`], used when the URL has no
    /// `endpoint` parameter.
    pub fn parse(url: &str, env_endpoint: Option<String>) -> Result<Self, StateError> {
        let bad = |reason: String| StateError::BadUrl {
            url: scrub(url),
            reason,
        };
        let rest = url
            .trim()
            .strip_prefix("azblob://")
            .ok_or_else(|| bad("an Azure Blob location starts with `azblob://`".to_owned()))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut endpoint = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode_str(value)
                .decode_utf8()
                .map_err(|_| bad(format!("parameter `{key}` is not UTF-8")))?;
            match key {
                "endpoint" if !value.is_empty() => endpoint = Some(value.into_owned()),
                "endpoint" => return Err(bad("`endpoint` needs a URL".to_owned())),
                other => {
                    return Err(bad(format!(
                        "unknown parameter `{other}`; the only one accepted is `endpoint` \
                         (credentials go in SLIPWAY_AZBLOB_SAS or the Azure identity environment)"
                    )));
                }
            }
        }
        let mut parts = path.splitn(3, '/');
        let account = parts.next().unwrap_or_default();
        let container = parts.next().unwrap_or_default();
        let prefix = parts.next().unwrap_or_default().trim_end_matches('/');
        check_account(account).map_err(bad)?;
        check_container(container).map_err(bad)?;
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            if let Some(segment) = prefix
                .split('/')
                .find(|s| s.is_empty() || *s == "." || *s == "..")
            {
                return Err(bad(format!(
                    "the blob prefix has an invalid segment `{segment}`"
                )));
            }
            format!("{prefix}/")
        };
        let endpoint_overridden = endpoint.is_some() || env_endpoint.is_some();
        let endpoint = match endpoint.or(env_endpoint) {
            Some(raw) => parse_endpoint(&raw).map_err(bad)?,
            None => Url::parse(&format!("https://{account}.blob.core.windows.net"))
                .map_err(|e| bad(format!("cannot build the endpoint: {e}")))?,
        };
        Ok(Self {
            account: account.to_owned(),
            container: container.to_owned(),
            prefix,
            endpoint,
            endpoint_overridden,
        })
    }

    /// The location as a URL without credentials.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "azblob://{}/{}/{}",
            self.account,
            self.container,
            self.prefix.trim_end_matches('/')
        );
        if self.endpoint_overridden {
            out.push_str("?endpoint=");
            out.push_str(self.endpoint.as_str().trim_end_matches('/'));
        }
        out
    }

    /// The URL of blob `name` (relative to the prefix), with `sas` as its query.
    pub fn blob_url(&self, name: &str, sas: Option<&str>) -> Result<Url, StateError> {
        let full = format!("{}{name}", self.prefix);
        let mut url = self.endpoint.clone();
        {
            let mut segments = url.path_segments_mut().map_err(|()| {
                StateError::Backend("the blob endpoint cannot hold a path".to_owned())
            })?;
            segments
                .pop_if_empty()
                .push(&self.container)
                .extend(full.split('/'));
        }
        url.set_query(sas);
        Ok(url)
    }

    /// The container URL, with `sas` as its query.
    pub fn container_url(&self, sas: Option<&str>) -> Result<Url, StateError> {
        let mut url = self.endpoint.clone();
        url.path_segments_mut()
            .map_err(|()| StateError::Backend("the blob endpoint cannot hold a path".to_owned()))?
            .pop_if_empty()
            .push(&self.container);
        url.set_query(sas);
        Ok(url)
    }
}

/// Storage account names: 3 to 24 lowercase letters and digits.
fn check_account(account: &str) -> Result<(), String> {
    let ok = (3..=24).contains(&account.len())
        && account
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{account}` is not a storage account name (3 to 24 lowercase letters and digits); \
             expected `azblob://ACCOUNT/CONTAINER/PREFIX`"
        ))
    }
}

/// Container names: 3 to 63 lowercase letters, digits and single hyphens, starting and ending
/// with a letter or digit.
fn check_container(container: &str) -> Result<(), String> {
    let bytes = container.as_bytes();
    let ok = (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
        && !container.contains("--");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{container}` is not a container name (3 to 63 lowercase letters, digits and \
             single hyphens); expected `azblob://ACCOUNT/CONTAINER/PREFIX`"
        ))
    }
}

/// An endpoint override: http(s), no credentials in it.
fn parse_endpoint(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim_end_matches('/'))
        .map_err(|e| format!("endpoint `{raw}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "endpoint `{raw}` must be an http(s) URL with a host"
        ));
    }
    if url.query().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(
            "the endpoint must not carry credentials; put a SAS token in SLIPWAY_AZBLOB_SAS"
                .to_owned(),
        );
    }
    Ok(url)
}

/// Replaces every SAS signature value (`sig=...`) in `text`, so transport errors quoting a
/// request URL cannot leak it.
pub(crate) fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = find_ignore_case(rest, "sig=") {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        out.push_str("<redacted>");
        let end = after[4..]
            .find(|c: char| c == '&' || c == '"' || c == '\'' || c == ')' || c.is_whitespace())
            .map_or(after.len(), |i| i + 4);
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<Location, String> {
        Location::parse(url, None).map_err(|e| e.to_string())
    }

    #[test]
    fn account_container_and_prefix() {
        let loc = parse("azblob://acct1/fleet-state/teams/prod/").unwrap();
        assert_eq!(
            (
                loc.account.as_str(),
                loc.container.as_str(),
                loc.prefix.as_str()
            ),
            ("acct1", "fleet-state", "teams/prod/")
        );
        assert_eq!(
            loc.endpoint.as_str(),
            "https://acct1.blob.core.windows.net/"
        );
        assert_eq!(loc.describe(), "azblob://acct1/fleet-state/teams/prod");
        assert_eq!(
            loc.blob_url("journal/00000000000000000001.json", Some("sv=1&sig=x"))
                .unwrap()
                .as_str(),
            "https://acct1.blob.core.windows.net/fleet-state/teams/prod/journal/00000000000000000001.json?sv=1&sig=x"
        );
        let bare = parse("azblob://acct1/fleet-state").unwrap();
        assert_eq!(bare.prefix, "");
        assert_eq!(
            bare.blob_url("lock", None).unwrap().as_str(),
            "https://acct1.blob.core.windows.net/fleet-state/lock"
        );
    }

    #[test]
    fn endpoint_from_the_url_wins_over_the_environment() {
        let env = Some("http://127.0.0.1:1/devstoreaccount1".to_owned());
        let loc = Location::parse("azblob://devstoreaccount1/c01/p", env.clone()).unwrap();
        assert_eq!(
            loc.blob_url("lock", None).unwrap().as_str(),
            "http://127.0.0.1:1/devstoreaccount1/c01/p/lock"
        );
        assert_eq!(
            loc.describe(),
            "azblob://devstoreaccount1/c01/p?endpoint=http://127.0.0.1:1/devstoreaccount1"
        );
        let loc = Location::parse(
            "azblob://devstoreaccount1/c01/p?endpoint=http%3A%2F%2F127.0.0.1%3A2%2Fx",
            env,
        )
        .unwrap();
        assert_eq!(loc.endpoint.as_str(), "http://127.0.0.1:2/x");
    }

    #[test]
    fn malformed_locations_are_refused() {
        for (url, needle) in [
            ("azblob://Acct/c01", "storage account"),
            ("azblob://acct", "container name"),
            ("azblob://acct/a--b", "container name"),
            ("azblob://acct/c01/a//b", "invalid segment"),
            ("azblob://acct/c01/a/../b", "invalid segment"),
            ("azblob://acct/c01?sig=abc", "unknown parameter"),
            ("azblob://acct/c01?endpoint=ftp://x", "http(s)"),
            (
                "azblob://acct/c01?endpoint=http://h/?sv%3D1",
                "must not carry credentials",
            ),
        ] {
            let err = parse(url).unwrap_err();
            assert!(err.contains(needle), "{url}: {err}");
            assert!(!err.contains("sig=abc"), "{url}: {err}");
        }
    }

    #[test]
    fn signatures_are_scrubbed() {
        assert_eq!(
            scrub("error sending request for url (http://h/c/lock?sv=2021&SIG=abc%2Bd&se=1)"),
            "error sending request for url (http://h/c/lock?sv=2021&<redacted>&se=1)"
        );
        assert_eq!(scrub("sig=abc"), "<redacted>");
        assert_eq!(scrub("no secrets"), "no secrets");
    }
}
