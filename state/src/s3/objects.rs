//! The handful of S3 calls the store makes, with their answers sorted into what the store
//! reasons about: missing, unchanged, precondition failed. This module never retries beyond
//! the SDK's per-call retries, never interprets object bodies, and never puts anything but the
//! bucket and key in its error messages (no signatures, no credentials).

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use jiff::Timestamp;

use crate::StateError;

/// One bucket, through one client.
#[derive(Debug, Clone)]
pub(super) struct Bucket {
    pub(super) client: Client,
    pub(super) name: String,
}

/// An object's body and the ETag it was read with.
#[derive(Debug, Clone)]
pub(super) struct Object {
    pub(super) body: Vec<u8>,
    pub(super) etag: String,
}

/// What a conditional GET found.
#[derive(Debug)]
pub(super) enum Fetched {
    /// No such object (or its latest version is a delete marker).
    Missing,
    /// The object still has the ETag given as `If-None-Match`.
    Unchanged,
    /// The object as it is now.
    Found(Object),
}

/// The precondition of a PUT.
#[derive(Debug, Clone, Copy)]
pub(super) enum Precondition<'a> {
    /// `If-None-Match: *`: only if no object exists (exactly one creator wins).
    Absent,
    /// `If-Match: ETAG`: only if the object is still the version read.
    Is(&'a str),
}

/// What a conditional PUT or DELETE did.
#[derive(Debug)]
pub(super) enum Written {
    /// Done.
    Done(Stored),
    /// The precondition failed: someone else wrote (or deleted) the object first.
    Conflict,
}

/// What S3 says about an object it just stored.
#[derive(Debug, Default)]
pub(super) struct Stored {
    /// The new ETag (empty after a delete).
    pub(super) etag: String,
    /// Whether the bucket kept it as a new version (versioning enabled, not suspended).
    pub(super) versioned: bool,
}

/// One stored version of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Version {
    pub(super) version_id: String,
    pub(super) last_modified: Option<Timestamp>,
    pub(super) latest: bool,
}

/// HTTP status of a failed call, when it got a response.
fn status<E>(e: &SdkError<E, HttpResponse>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

/// 412 is a failed precondition; 409 is S3's "a concurrent conditional write to this key is
/// in progress"; 404 on an `If-Match` write means the object was deleted since it was read.
/// All three mean another writer got there first.
fn lost_race(status: Option<u16>) -> bool {
    matches!(status, Some(409 | 412 | 404))
}

impl Bucket {
    /// A failed call, described by S3's error code and message when S3 answered, by the
    /// SDK's error chain otherwise (connection, timeout, credentials), never by raw responses.
    fn fail<E>(&self, op: &str, key: &str, e: &SdkError<E, HttpResponse>) -> StateError
    where
        E: std::error::Error + ProvideErrorMetadata + 'static,
    {
        let detail = match e.as_service_error() {
            Some(service) => format!(
                "{} (HTTP {}): {}",
                service.code().unwrap_or("unknown error"),
                status(e).unwrap_or_default(),
                service.message().unwrap_or("no message")
            ),
            None => DisplayErrorContext(e).to_string(),
        };
        StateError::Backend(format!(
            "s3 {op} of `s3://{}/{key}` failed: {detail}",
            self.name
        ))
    }

    /// Reads `key`; with `unless` the ETag held, answers [`Fetched::Unchanged`] when it still
    /// matches, saving the download.
    pub(super) async fn get(&self, key: &str, unless: Option<&str>) -> Result<Fetched, StateError> {
        let request = self
            .client
            .get_object()
            .bucket(&self.name)
            .key(key)
            .set_if_none_match(unless.map(str::to_owned));
        let output = match request.send().await {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                return Ok(Fetched::Missing);
            }
            Err(e) => {
                return match status(&e) {
                    Some(404) => Ok(Fetched::Missing),
                    Some(304) => Ok(Fetched::Unchanged),
                    _ => Err(self.fail("GetObject", key, &e)),
                };
            }
        };
        let etag = output.e_tag().unwrap_or_default().to_owned();
        let body = output.body.collect().await.map_err(|e| {
            StateError::Backend(format!(
                "s3 GetObject of `s3://{}/{key}` failed while reading: {e}",
                self.name
            ))
        })?;
        Ok(Fetched::Found(Object {
            body: body.to_vec(),
            etag,
        }))
    }

    /// Reads `key` if it exists.
    pub(super) async fn get_if_exists(&self, key: &str) -> Result<Option<Object>, StateError> {
        match self.get(key, None).await? {
            Fetched::Found(object) => Ok(Some(object)),
            Fetched::Missing | Fetched::Unchanged => Ok(None),
        }
    }

    /// Reads one stored version of `key`.
    pub(super) async fn get_version(
        &self,
        key: &str,
        version_id: &str,
    ) -> Result<Vec<u8>, StateError> {
        let output = self
            .client
            .get_object()
            .bucket(&self.name)
            .key(key)
            .version_id(version_id)
            .send()
            .await
            .map_err(|e| self.fail("GetObject", key, &e))?;
        let body = output.body.collect().await.map_err(|e| {
            StateError::Backend(format!(
                "s3 GetObject of `s3://{}/{key}` failed while reading: {e}",
                self.name
            ))
        })?;
        Ok(body.to_vec())
    }

    /// Writes `key` only if `precondition` holds.
    pub(super) async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        precondition: Precondition<'_>,
    ) -> Result<Written, StateError> {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.name)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body));
        request = match precondition {
            Precondition::Absent => request.if_none_match("*"),
            Precondition::Is(etag) => request.if_match(etag),
        };
        match request.send().await {
            Ok(output) => Ok(Written::Done(Stored {
                etag: output.e_tag().unwrap_or_default().to_owned(),
                // A suspended bucket answers the version id `null`.
                versioned: output.version_id().is_some_and(|v| v != "null"),
            })),
            Err(e) if lost_race(status(&e)) => Ok(Written::Conflict),
            Err(e) => Err(self.fail("PutObject", key, &e)),
        }
    }

    /// Deletes `key` only if it is still the version with `etag`.
    pub(super) async fn delete(&self, key: &str, etag: &str) -> Result<Written, StateError> {
        let request = self
            .client
            .delete_object()
            .bucket(&self.name)
            .key(key)
            .if_match(etag);
        match request.send().await {
            Ok(_) => Ok(Written::Done(Stored::default())),
            Err(e) if lost_race(status(&e)) => Ok(Written::Conflict),
            Err(e) => Err(self.fail("DeleteObject", key, &e)),
        }
    }

    /// Every key under `prefix` after `start_after`, in S3's (byte-wise ascending) order.
    pub(super) async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
    ) -> Result<Vec<String>, StateError> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let output = self
                .client
                .list_objects_v2()
                .bucket(&self.name)
                .prefix(prefix)
                .set_start_after(start_after.map(str::to_owned))
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| self.fail("ListObjectsV2", prefix, &e))?;
            keys.extend(
                output
                    .contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
            match output.next_continuation_token() {
                Some(next) if output.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => return Ok(keys),
            }
        }
    }

    /// Every stored version of `key` (delete markers excluded), newest first.
    pub(super) async fn versions(&self, key: &str) -> Result<Vec<Version>, StateError> {
        let mut versions = Vec::new();
        let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
        loop {
            let output = self
                .client
                .list_object_versions()
                .bucket(&self.name)
                .prefix(key)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| self.fail("ListObjectVersions", key, &e))?;
            versions.extend(
                output
                    .versions()
                    .iter()
                    .filter(|v| v.key() == Some(key))
                    .map(|v| Version {
                        version_id: v.version_id().unwrap_or("null").to_owned(),
                        last_modified: v.last_modified().and_then(|t| {
                            Timestamp::new(t.secs(), i32::try_from(t.subsec_nanos()).ok()?).ok()
                        }),
                        latest: v.is_latest() == Some(true),
                    }),
            );
            if output.is_truncated() != Some(true) {
                break;
            }
            key_marker = output.next_key_marker().map(str::to_owned);
            version_marker = output.next_version_id_marker().map(str::to_owned);
            if key_marker.is_none() {
                break;
            }
        }
        // S3 lists a key's versions newest first; sort anyway so a compatible store that does
        // not still gives the documented order.
        versions.sort_by(|a, b| {
            b.latest
                .cmp(&a.latest)
                .then(b.last_modified.cmp(&a.last_modified))
        });
        Ok(versions)
    }
}
