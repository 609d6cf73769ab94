//! Parsing `s3://BUCKET/PREFIX?region=…&endpoint=…` into where the S3 state lives. This module
//! only parses; it must never accept credentials in the URL (they come from the AWS chain).

use crate::StateError;

/// Where an S3 state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// The bucket.
    pub bucket: String,
    /// Key prefix of every object, empty or ending in `/`.
    pub prefix: String,
    /// Region to sign for; the AWS chain's region (`AWS_REGION`, profile) when `None`.
    pub region: Option<String>,
    /// An S3-compatible endpoint (moto, MinIO…); requests then use path-style addressing.
    pub endpoint: Option<String>,
}

impl S3Location {
    /// Parses `s3://BUCKET[/PREFIX][?region=R][&endpoint=URL]`. `env_endpoint` (the value of
    /// `SLIPWAY_S3_ENDPOINT`) applies when the URL names no endpoint.
    pub fn parse(url: &str, env_endpoint: Option<&str>) -> Result<Self, StateError> {
        let bad = |reason: String| StateError::BadUrl {
            url: url.to_owned(),
            reason,
        };
        let rest = url
            .trim()
            .strip_prefix("s3://")
            .ok_or_else(|| bad("an S3 state URL starts with `s3://`".to_owned()))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
        check_bucket(bucket).map_err(bad)?;
        if prefix.split('/').any(|part| part == "." || part == "..") {
            return Err(bad("the key prefix must not contain `.` or `..`".to_owned()));
        }
        let prefix = prefix.trim_matches('/');
        let mut location = S3Location {
            bucket: bucket.to_owned(),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
            region: None,
            endpoint: None,
        };
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let value = value.into_owned();
            if value.is_empty() {
                return Err(bad(format!("`{name}` needs a value")));
            }
            let slot = match name.as_ref() {
                "region" => &mut location.region,
                "endpoint" => &mut location.endpoint,
                other => {
                    return Err(bad(format!(
                        "unknown parameter `{other}`; accepted: `region`, `endpoint`"
                    )));
                }
            };
            if slot.replace(value).is_some() {
                return Err(bad(format!("`{name}` is given twice")));
            }
        }
        if location.endpoint.is_none() {
            location.endpoint = env_endpoint
                .filter(|e| !e.trim().is_empty())
                .map(|e| e.trim().to_owned());
        }
        if let Some(endpoint) = &location.endpoint {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                return Err(bad(format!(
                    "endpoint `{endpoint}` must start with http:// or https://"
                )));
            }
            // An endpoint carrying user:password@ would end up in `describe()`.
            if endpoint.split_once("://").is_some_and(|(_, authority)| {
                authority.split('/').next().is_some_and(|a| a.contains('@'))
            }) {
                return Err(bad(
                    "the endpoint must not carry credentials; use the AWS credential chain"
                        .to_owned(),
                ));
            }
        }
        Ok(location)
    }

    /// The full key of `name` under the prefix.
    pub(super) fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// `s3://bucket/prefix`, plus the endpoint when there is one; never credentials.
    pub fn describe(&self) -> String {
        let mut text = format!("s3://{}", self.bucket);
        if !self.prefix.is_empty() {
            text.push('/');
            text.push_str(self.prefix.trim_end_matches('/'));
        }
        if let Some(endpoint) = &self.endpoint {
            text.push_str(" at ");
            text.push_str(endpoint);
        }
        text
    }
}

/// S3's bucket naming rules, enough to catch typos before a request is signed.
fn check_bucket(bucket: &str) -> Result<(), String> {
    let valid_chars = bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    let edges = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if (3..=63).contains(&bucket.len())
        && valid_chars
        && edges(bucket.bytes().next())
        && edges(bucket.bytes().last())
    {
        Ok(())
    } else {
        Err(format!(
            "`{bucket}` is not a bucket name (3 to 63 lowercase letters, digits, `-` and `.`)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> S3Location {
        S3Location::parse(url, None).unwrap()
    }

    fn reason(url: &str, env: Option<&str>) -> String {
        match S3Location::parse(url, env) {
            Err(StateError::BadUrl { reason, .. }) => reason,
            other => panic!("expected BadUrl for {url}, got {other:?}"),
        }
    }

    #[test]
    fn bucket_prefix_region_and_endpoint() {
        assert_eq!(
            parse(
                "s3://my-bucket/fleets/prod/?region=eu-west-1&endpoint=http%3A%2F%2F127.0.0.1%3A5000"
            ),
            S3Location {
                bucket: "my-bucket".to_owned(),
                prefix: "fleets/prod/".to_owned(),
                region: Some("eu-west-1".to_owned()),
                endpoint: Some("http://127.0.0.1:5000".to_owned()),
            }
        );
        let bare = parse("s3://my.bucket");
        assert_eq!((bare.prefix.as_str(), bare.region.as_deref()), ("", None));
        assert_eq!(bare.key("lock.json"), "lock.json");
        assert_eq!(parse("s3://b12/p").key("lock.json"), "p/lock.json");
        // Unencoded endpoints are fine in a query too.
        assert_eq!(
            parse("s3://b12/p?endpoint=http://localhost:9000").endpoint,
            Some("http://localhost:9000".to_owned())
        );
    }

    #[test]
    fn environment_endpoint_applies_unless_the_url_has_one() {
        let env = Some("http://127.0.0.1:1");
        assert_eq!(
            S3Location::parse("s3://b12/p", env)
                .unwrap()
                .endpoint
                .as_deref(),
            env
        );
        assert_eq!(
            S3Location::parse("s3://b12/p?endpoint=https://s3.example", env)
                .unwrap()
                .endpoint
                .as_deref(),
            Some("https://s3.example")
        );
        assert_eq!(
            S3Location::parse("s3://b12/p", Some(" ")).unwrap().endpoint,
            None
        );
    }

    #[test]
    fn describe_shows_bucket_prefix_and_endpoint_only() {
        assert_eq!(
            parse("s3://b12/a/b?region=us-east-2").describe(),
            "s3://b12/a/b"
        );
        assert_eq!(
            parse("s3://b12?endpoint=http://127.0.0.1:5000").describe(),
            "s3://b12 at http://127.0.0.1:5000"
        );
    }

    #[test]
    fn malformed_urls_say_why() {
        assert!(reason("s3://", None).contains("not a bucket name"));
        assert!(reason("s3://UPPER/x", None).contains("not a bucket name"));
        assert!(reason("s3://ab/x", None).contains("not a bucket name"));
        assert!(reason("s3://b12/../x", None).contains("`..`"));
        assert!(reason("s3://b12/x?acl=private", None).contains("unknown parameter `acl`"));
        assert!(reason("s3://b12/x?region=a&region=b", None).contains("twice"));
        assert!(reason("s3://b12/x?region=", None).contains("needs a value"));
        assert!(reason("s3://b12/x?endpoint=localhost:9000", None).contains("http://"));
        assert!(reason("s3://b12/x", Some("ftp://x")).contains("http://"));
        assert!(
            reason("s3://b12/x?endpoint=http://u:p@host:1", None)
                .contains("must not carry credentials")
        );
    }
}
