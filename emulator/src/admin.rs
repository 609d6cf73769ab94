//! The emulator's own API under `/_emulator/`: health, faults, reset, the objects of every
//! service carrying a tag (so tests can assert that nothing tagged is left behind), the log of
//! modelled operation durations (what DR drills compare their timings with), seeded EKS
//! deprecated-API usage (the audit-log evidence behind upgrade insights), and injected health
//! of node groups, add-ons and agent pools (for readiness drills).
//!
//! It needs no credentials and is never rate limited or faulted; it must never change a
//! cloud object except through `reset`, that seeding and those injections.

use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use crate::faults::FaultConfig;
use crate::oplog::OpRecord;
use crate::server::{Shared, plain};
use crate::state::Cloud;
use crate::util::{iso8601 as rfc3339, now_ms};

/// One tagged object, as the admin API lists it.
pub(crate) struct Tagged {
    /// `ec2`, `iam`, `eks` or `arm`.
    pub service: &'static str,
    /// E.g. `vpc`, `role`, `nodegroup`, `Microsoft.Network/virtualNetworks`.
    pub kind: &'static str,
    /// Id, name or ARN.
    pub id: String,
    /// Region (`global` for IAM), or an ARM location.
    pub region: String,
    /// Tags.
    pub tags: Vec<(String, String)>,
}

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut r = Response::new(axum::body::Body::from(value.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Every live object of every service, with its tags.
fn all_objects(cloud: &Cloud, arm: &crate::arm::ArmCloud) -> Vec<Tagged> {
    let mut out = Vec::new();
    for (region, ec2) in &cloud.ec2 {
        crate::ec2::tagged(region, ec2, &mut out);
    }
    crate::iam::tagged(&cloud.iam, &mut out);
    for (region, eks) in &cloud.eks {
        crate::eks::tagged(region, eks, &mut out);
    }
    crate::arm::tagged(arm, &mut out);
    out
}

/// Handles `/_emulator/<rest>`.
pub(crate) fn handle(
    shared: &Shared,
    method: &Method,
    rest: &str,
    query: &str,
    body: &[u8],
) -> Response {
    match (method.as_str(), rest) {
        ("GET", "health") => json_response(
            StatusCode::OK,
            &json!({
                "status": "ok",
                "services": ["ec2", "iam", "sts", "eks", "arm"],
                "time_scale": shared.settings.time_scale,
                "account_id": shared.settings.account_id,
                "persistent": shared.settings.data_file.is_some(),
            }),
        ),
        ("GET", "faults") => {
            let faults = shared.lock().faults.clone();
            json_response(StatusCode::OK, &json!(faults))
        }
        ("POST", "faults") => {
            let parsed: Result<FaultConfig, String> = match serde_json::from_slice(body) {
                Ok(f) => Ok(f),
                Err(json_err) => match std::str::from_utf8(body) {
                    Ok(text) if !text.trim_start().starts_with('{') => text
                        .trim()
                        .parse()
                        .map_err(|e: crate::faults::FaultParseError| e.to_string()),
                    _ => Err(json_err.to_string()),
                },
            };
            match parsed {
                Ok(f) => {
                    shared.lock().faults = f.clone();
                    json_response(StatusCode::OK, &json!(f))
                }
                Err(e) => json_response(StatusCode::BAD_REQUEST, &json!({ "error": e })),
            }
        }
        ("POST", "reset") => {
            let mut inner = shared.lock();
            inner.cloud = Cloud::default();
            inner.arm = crate::arm::ArmCloud::default();
            inner.buckets.clear();
            shared.persist(&inner.cloud);
            shared.persist_arm(&inner.arm);
            json_response(StatusCode::OK, &json!({ "status": "reset" }))
        }
        ("POST", "eks/deprecated-api-usage") => {
            let seeded = serde_json::from_slice(body)
                .map_err(|e| e.to_string())
                .and_then(|b| {
                    let mut inner = shared.lock();
                    let out = crate::eks::seed_deprecated_usage(&mut inner.cloud, &b, now_ms())?;
                    shared.persist(&inner.cloud);
                    Ok(out)
                });
            match seeded {
                Ok(v) => json_response(StatusCode::OK, &v),
                Err(e) => json_response(StatusCode::BAD_REQUEST, &json!({ "error": e })),
            }
        }
        ("GET", "operations") => operations(shared, query),
        ("POST", "eks/addon-health" | "eks/nodegroup-health") => {
            let of = if rest == "eks/addon-health" {
                crate::eks::HealthOf::Addon
            } else {
                crate::eks::HealthOf::Nodegroup
            };
            let injected = serde_json::from_slice(body)
                .map_err(|e| (400, e.to_string()))
                .and_then(|b| {
                    let mut inner = shared.lock();
                    let out = crate::eks::inject_health(&mut inner.cloud, &b, of)?;
                    shared.persist(&inner.cloud);
                    Ok(out)
                });
            injection_response(injected)
        }
        ("POST", "arm/agentpool-state") => {
            let injected = serde_json::from_slice(body)
                .map_err(|e| (400, e.to_string()))
                .and_then(|b| {
                    let mut inner = shared.lock();
                    let out = crate::arm::inject_pool_state(&mut inner.arm, &b)?;
                    shared.persist_arm(&inner.arm);
                    Ok(out)
                });
            injection_response(injected)
        }
        ("GET", "objects") => {
            let mut wanted: Vec<(String, Option<String>)> = Vec::new();
            for (k, v) in form_urlencoded::parse(query.as_bytes()) {
                if k == "tag" {
                    match v.split_once('=') {
                        Some((key, value)) => wanted.push((key.to_owned(), Some(value.to_owned()))),
                        None => wanted.push((v.into_owned(), None)),
                    }
                }
            }
            let mut inner = shared.lock();
            let now = now_ms();
            if inner.cloud.sweep(now) {
                shared.persist(&inner.cloud);
            }
            if inner.arm.sweep(now) {
                shared.persist_arm(&inner.arm);
            }
            let objects: Vec<serde_json::Value> = all_objects(&inner.cloud, &inner.arm)
                .into_iter()
                .filter(|o| {
                    wanted.iter().all(|(k, v)| {
                        o.tags
                            .iter()
                            .any(|(tk, tv)| tk == k && v.as_ref().is_none_or(|v| v == tv))
                    })
                })
                .map(|o| {
                    let tags: serde_json::Map<String, serde_json::Value> =
                        o.tags.into_iter().map(|(k, v)| (k, json!(v))).collect();
                    json!({ "service": o.service, "kind": o.kind, "id": o.id, "region": o.region, "tags": tags })
                })
                .collect();
            json_response(
                StatusCode::OK,
                &json!({ "count": objects.len(), "objects": objects }),
            )
        }
        _ => plain(
            StatusCode::NOT_FOUND,
            "unknown emulator endpoint (GET health, GET|POST faults, POST reset, GET objects?tag=KEY=VALUE, GET operations?cluster=NAME, POST eks/deprecated-api-usage, POST eks/addon-health, POST eks/nodegroup-health, POST arm/agentpool-state)",
        ),
    }
}

/// `{"error": …}` with the injection's status, or its result.
fn injection_response(result: Result<serde_json::Value, (u16, String)>) -> Response {
    match result {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err((status, e)) => json_response(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            &json!({ "error": e }),
        ),
    }
}

/// `GET operations[?cluster=NAME]`: the drawn durations of both clouds, oldest first.
fn operations(shared: &Shared, query: &str) -> Response {
    let cluster = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "cluster")
        .map(|(_, v)| v.into_owned());
    let inner = shared.lock();
    let mut records: Vec<&OpRecord> = inner
        .cloud
        .oplog
        .iter()
        .chain(inner.arm.oplog.iter())
        .filter(|r| {
            cluster
                .as_deref()
                .is_none_or(|c| r.cluster.as_deref() == Some(c))
        })
        .collect();
    // Stable: records of one cloud drawn in the same millisecond keep their order.
    records.sort_by_key(|r| r.started_ms);
    let operations: Vec<serde_json::Value> = records
        .into_iter()
        .map(|r| {
            json!({
                "service": r.service,
                "operation": r.operation,
                "target": r.target,
                "cluster": r.cluster,
                "region": r.region,
                "started_at": rfc3339(r.started_ms),
                "modelled_seconds": r.modelled_seconds,
                "wall_seconds": r.wall_seconds,
            })
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({ "time_scale": shared.settings.time_scale, "operations": operations }),
    )
}
