//! The generic half of ARM resources: resource groups, and PUT/GET/PATCH/DELETE/list of every
//! served type with preconditions (`If-Match`/`If-None-Match`), one operation at a time per
//! resource, and long-running operations (`Azure-AsyncOperation`, `Location`, `Retry-After`)
//! whose status and result URLs are served here too.
//!
//! What a type accepts, shows and refuses to delete is asked of its module (`network`,
//! `identity`, `aks`); this module must never interpret a type's properties.

use serde_json::{Map, Value, json};

use super::store::{AsyncOp, CANCELED, ErrorBody, OpKind, Resource, State};
use super::{
    ArmCtx, ArmError, ArmResult, Reply, Rid, Scope, aks, catalog, identity, network, timestamp,
};
use crate::lifecycle::Op;

/// What a type's PUT decided.
pub(crate) struct Planned {
    /// The body to store.
    pub body: Value,
    /// The long-running operation it starts (`None`: done at once).
    pub op: Option<Op>,
    /// Set when the operation will end `Failed`.
    pub error: Option<ErrorBody>,
}

impl Planned {
    /// A body that is stored as it is.
    pub(crate) fn at_once(body: Value) -> Self {
        Self {
            body,
            op: None,
            error: None,
        }
    }
}

fn canonical(rtype: &str) -> &'static str {
    catalog::type_spec(rtype).map_or("", |t| t.rtype)
}

fn group_not_found(rg: &str) -> ArmError {
    ArmError::new(
        404,
        "ResourceGroupNotFound",
        format!("Resource group '{rg}' could not be found."),
    )
}

/// 404 for a resource of a type under a group.
pub(crate) fn not_found(rid: &Rid) -> ArmError {
    let rtype = canonical(&rid.rtype());
    let names: Vec<&str> = rid.parts.iter().map(|(_, n)| n.as_str()).collect();
    ArmError::new(
        404,
        "ResourceNotFound",
        format!(
            "The Resource '{rtype}/{}' under resource group '{}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
            names.join("/"),
            rid.rg
        ),
    )
}

fn strip_etag(s: &str) -> &str {
    s.trim().trim_start_matches("W/").trim_matches('"')
}

fn preconditions(ctx: &ArmCtx<'_>, existing: Option<&Resource>) -> ArmResult<()> {
    let failed = || {
        ArmError::new(
            412,
            "PreconditionFailed",
            "The condition specified using HTTP conditional header(s) is not met.",
        )
    };
    if let Some(m) = ctx.header("if-match") {
        match existing {
            None => return Err(failed()),
            Some(e) if m.trim() != "*" && strip_etag(m) != e.etag => return Err(failed()),
            _ => {}
        }
    }
    if let Some(m) = ctx.header("if-none-match")
        && let Some(e) = existing
        && (m.trim() == "*" || strip_etag(m) == e.etag)
    {
        return Err(failed());
    }
    Ok(())
}

/// The location long-running operations of `rid` are reported under.
fn op_location(ctx: &ArmCtx<'_>, rid: &Rid, body: &Value) -> String {
    let mut r = Some(rid.clone());
    let mut location = body
        .get("location")
        .and_then(Value::as_str)
        .map(str::to_owned);
    while location.is_none() {
        let Some(p) = r.and_then(|x| x.parent()) else {
            break;
        };
        location = ctx
            .arm
            .get(&p.id())
            .and_then(|res| res.body.get("location"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        r = Some(p);
    }
    location
        .unwrap_or_else(|| "global".to_owned())
        .to_ascii_lowercase()
        .replace(' ', "")
}

/// Registers an operation on `key`; returns `(status URL, result URL, Retry-After)`.
fn start_op(
    ctx: &mut ArmCtx<'_>,
    op_id: &str,
    base_path: &str,
    key: &str,
    kind: OpKind,
    ms: u64,
    error: Option<ErrorBody>,
) -> (String, String, String) {
    let status_path = format!("{base_path}/operations/{op_id}");
    let result_path = format!("{base_path}/operationresults/{op_id}");
    ctx.arm.operations.insert(
        op_id.to_owned(),
        AsyncOp {
            path: status_path.clone(),
            resource: key.to_owned(),
            kind,
            start_ms: ctx.now,
            deadline_ms: ctx.now + ms,
            error,
            done: false,
        },
    );
    let v = &ctx.api_version;
    (
        format!("{}{status_path}?api-version={v}", ctx.base),
        format!("{}{result_path}?api-version={v}", ctx.base),
        retry_after(ms),
    )
}

fn retry_after(remaining_ms: u64) -> String {
    remaining_ms.div_ceil(1000).clamp(1, 15).to_string()
}

fn ns_base(rid: &Rid, location: &str) -> String {
    format!(
        "/subscriptions/{}/providers/{}/locations/{location}",
        rid.sub, rid.ns
    )
}

/// What GET shows for a resource.
pub(crate) fn render(ctx: &ArmCtx<'_>, res: &Resource) -> Value {
    let mut v = match &res.body {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    let mut out = Map::new();
    out.insert("id".into(), json!(res.id));
    out.insert("name".into(), json!(res.name()));
    out.insert("type".into(), json!(res.rtype));
    out.append(&mut v);
    let mut value = Value::Object(out);
    if res.rtype != catalog::ROLE_ASSIGNMENT && res.rtype != catalog::FEDERATED_TYPE {
        let props = value
            .as_object_mut()
            .map(|o| o.entry("properties").or_insert_with(|| json!({})));
        if let Some(Value::Object(p)) = props {
            p.insert("provisioningState".into(), json!(res.state.as_str()));
        }
    }
    match res.rtype.split('/').next().unwrap_or("") {
        "Microsoft.Network" => {
            value["etag"] = json!(format!("W/\"{}\"", res.etag));
            network::render(ctx, res, &mut value);
        }
        "Microsoft.ContainerService" => aks::render(ctx, res, &mut value),
        _ => {}
    }
    value
}

fn etag_header(res: &Resource) -> String {
    if res.rtype.starts_with("Microsoft.Network") {
        format!("W/\"{}\"", res.etag)
    } else {
        format!("\"{}\"", res.etag)
    }
}

fn check_group(ctx: &ArmCtx<'_>, rid: &Rid) -> ArmResult<()> {
    match ctx.arm.get(&rid.rg_id()) {
        None => Err(group_not_found(&rid.rg)),
        Some(_) => Ok(()),
    }
}

/// PUT of any served type below a resource group.
pub(crate) fn put(ctx: &mut ArmCtx<'_>, rid: &Rid, body: Value) -> ArmResult<Reply> {
    let rtype = canonical(&rid.rtype());
    let spec = catalog::type_spec(rtype).ok_or_else(|| not_found(rid))?;
    check_group(ctx, rid)?;
    if ctx
        .arm
        .get(&rid.rg_id())
        .is_some_and(|g| g.state == State::Deleting)
    {
        return Err(ArmError::new(
            409,
            "ResourceGroupBeingDeleted",
            format!(
                "The resource group '{}' is in deprovisioning state and cannot perform this operation.",
                rid.rg
            ),
        ));
    }
    if let Some(parent) = rid.parent()
        && ctx.arm.get(&parent.id()).is_none()
    {
        return Err(ArmError::new(
            404,
            "ParentResourceNotFound",
            format!(
                "Can not perform requested operation on nested resource. Parent resource '{}' not found.",
                parent
                    .parts
                    .iter()
                    .map(|(_, n)| n.as_str())
                    .collect::<Vec<_>>()
                    .join("/")
            ),
        ));
    }
    let existing = ctx.arm.get(&rid.id()).cloned();
    preconditions(ctx, existing.as_ref())?;
    if let Some(e) = &existing
        && e.op.is_some()
    {
        return Err(busy(rtype, e));
    }
    let op_id = ctx.uuid();
    let planned = match rtype {
        catalog::VNET
        | catalog::SUBNET
        | catalog::PRIVATE_ENDPOINT
        | catalog::ZONE_GROUP
        | catalog::DNS_ZONE
        | catalog::DNS_LINK => network::put(ctx, rtype, rid, existing.as_ref(), body, &op_id)?,
        catalog::IDENTITY_TYPE | catalog::FEDERATED_TYPE => {
            identity::put(ctx, rtype, rid, existing.as_ref(), body)?
        }
        catalog::CLUSTER | catalog::POOL => {
            aks::put(ctx, rtype, rid, existing.as_ref(), body, &op_id)?
        }
        _ => return Err(not_found(rid)),
    };
    let key = rid.key();
    let created = existing.is_none();
    let location = op_location(ctx, rid, &planned.body);
    let etag = ctx.uuid();
    let long = spec.long_running && planned.op.is_some();
    let res = Resource {
        id: existing.as_ref().map_or_else(|| rid.id(), |e| e.id.clone()),
        rtype: rtype.to_owned(),
        body: planned.body,
        etag,
        created_ms: existing.as_ref().map_or(ctx.now, |e| e.created_ms),
        state: match (long, created) {
            (false, _) => State::Succeeded,
            (true, true) => State::Creating,
            (true, false) => State::Updating,
        },
        op: long.then(|| op_id.clone()),
    };
    ctx.arm.resources.insert(key.clone(), res.clone());
    let mut reply = Reply::json(if created { 201 } else { 200 }, render(ctx, &res))
        .with("ETag", etag_header(&res));
    if let (true, Some(op)) = (long, planned.op) {
        let ms = ctx.duration(op, &format!("{key}/{op_id}"), &key);
        let kind = if created {
            OpKind::Create
        } else {
            OpKind::Update
        };
        let (status, _, retry) = start_op(
            ctx,
            &op_id,
            &ns_base(rid, &location),
            &key,
            kind,
            ms,
            planned.error,
        );
        reply = reply
            .with("Azure-AsyncOperation", status)
            .with("Retry-After", retry);
    }
    Ok(reply)
}

fn busy(rtype: &str, e: &Resource) -> ArmError {
    if rtype.starts_with("Microsoft.ContainerService") {
        ArmError::new(
            409,
            "OperationNotAllowed",
            format!(
                "Operation is not allowed because there's an in progress {} operation on '{}'. Please wait for it to finish before starting a new operation. See https://aka.ms/aks-pending-operation for more details",
                e.state.as_str().to_ascii_lowercase(),
                e.name()
            ),
        )
    } else {
        ArmError::new(
            409,
            "AnotherOperationInProgress",
            format!(
                "Another operation on this or dependent resource is in progress. To retrieve status of the operation use uri: {}",
                e.id
            ),
        )
    }
}

/// GET of one resource.
pub(crate) fn get(ctx: &mut ArmCtx<'_>, rid: &Rid) -> ArmResult<Reply> {
    check_group(ctx, rid)?;
    let res = ctx.arm.get(&rid.id()).ok_or_else(|| not_found(rid))?;
    Ok(Reply::json(200, render(ctx, res)).with("ETag", etag_header(res)))
}

/// PATCH: tags only (ARM's `TagsObject` updates).
pub(crate) fn patch(ctx: &mut ArmCtx<'_>, rid: &Rid, body: Value) -> ArmResult<Reply> {
    check_group(ctx, rid)?;
    let existing = ctx
        .arm
        .get(&rid.id())
        .cloned()
        .ok_or_else(|| not_found(rid))?;
    preconditions(ctx, Some(&existing))?;
    if let Some(key) = body
        .as_object()
        .and_then(|o| o.keys().find(|k| *k != "tags"))
    {
        return Err(ArmError::bad(
            "InvalidRequestContent",
            format!(
                "The request content was invalid and could not be deserialized: 'Could not find member '{key}' on object of type 'TagsObject'. Path '{key}'.'"
            ),
        ));
    }
    let etag = ctx.uuid();
    let key = rid.key();
    let res = ctx
        .arm
        .resources
        .get_mut(&key)
        .ok_or_else(|| not_found(rid))?;
    if let Some(tags) = body.get("tags") {
        res.body["tags"] = tags.clone();
    }
    res.etag = etag;
    let res = res.clone();
    Ok(Reply::json(200, render(ctx, &res)).with("ETag", etag_header(&res)))
}

/// DELETE of one resource.
pub(crate) fn delete(ctx: &mut ArmCtx<'_>, rid: &Rid) -> ArmResult<Reply> {
    let rtype = canonical(&rid.rtype());
    let spec = catalog::type_spec(rtype).ok_or_else(|| not_found(rid))?;
    check_group(ctx, rid)?;
    let Some(existing) = ctx.arm.get(&rid.id()).cloned() else {
        preconditions(ctx, None)?;
        return Ok(Reply::empty(204));
    };
    preconditions(ctx, Some(&existing))?;
    let key = rid.key();
    if existing.state == State::Deleting
        && let Some(op) = &existing.op
        && let Some(running) = ctx.arm.operations.get(op)
    {
        // A second DELETE while deleting answers with the running operation.
        let url = format!(
            "{}{}?api-version={}",
            ctx.base, running.path, ctx.api_version
        );
        let retry = retry_after(running.deadline_ms.saturating_sub(ctx.now));
        return Ok(Reply::empty(202)
            .with(
                "Location",
                url.replace("/operations/", "/operationresults/"),
            )
            .with("Azure-AsyncOperation", url)
            .with("Retry-After", retry));
    }
    let op = match rtype {
        catalog::VNET
        | catalog::SUBNET
        | catalog::PRIVATE_ENDPOINT
        | catalog::ZONE_GROUP
        | catalog::DNS_ZONE
        | catalog::DNS_LINK => network::check_delete(ctx, rtype, &existing)?,
        catalog::CLUSTER | catalog::POOL => aks::check_delete(ctx, rtype, rid, &existing)?,
        _ => None,
    };
    let (true, Some(op)) = (spec.long_running, op) else {
        ctx.arm.remove_tree(&key);
        return Ok(Reply::empty(200));
    };
    // A delete supersedes a running create or update, which ends `Canceled`.
    if let Some(running) = existing
        .op
        .as_ref()
        .and_then(|o| ctx.arm.operations.get_mut(o))
    {
        running.done = true;
        running.error = Some(ErrorBody {
            code: CANCELED.to_owned(),
            message: "The operation was canceled by a delete of the resource.".to_owned(),
        });
    }
    let op_id = ctx.uuid();
    let location = op_location(ctx, rid, &existing.body);
    let ms = ctx.duration(op, &format!("{key}/{op_id}"), &key);
    let (status, result, retry) = start_op(
        ctx,
        &op_id,
        &ns_base(rid, &location),
        &key,
        OpKind::Delete,
        ms,
        None,
    );
    if let Some(res) = ctx.arm.resources.get_mut(&key) {
        res.state = State::Deleting;
        res.op = Some(op_id);
    }
    Ok(Reply::empty(202)
        .with("Location", result)
        .with("Azure-AsyncOperation", status)
        .with("Retry-After", retry))
}

/// GET of a collection.
pub(crate) fn list(ctx: &mut ArmCtx<'_>, scope: &Scope, rtype: &str) -> Reply {
    let rtype = canonical(rtype);
    let prefix = match scope {
        Scope::Subscription(sub) => format!("/subscriptions/{sub}/").to_ascii_lowercase(),
        Scope::Group(sub, rg) => {
            format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/").to_ascii_lowercase()
        }
        Scope::Parent(rid) => format!("{}/", rid.key()),
    };
    let value: Vec<Value> = ctx
        .arm
        .resources
        .iter()
        .filter(|(k, r)| k.starts_with(&prefix) && r.rtype == rtype)
        .filter(|(k, _)| {
            // Direct children only under a parent.
            !matches!(scope, Scope::Parent(_)) || k[prefix.len()..].matches('/').count() == 1
        })
        .map(|(_, r)| render(ctx, r))
        .collect();
    Reply::json(200, json!({ "value": value }))
}

/// The status of an asynchronous operation (`Azure-AsyncOperation`).
pub(crate) fn operation_status(ctx: &mut ArmCtx<'_>, id: &str) -> ArmResult<Reply> {
    let op = ctx.arm.operations.get(id).ok_or_else(|| {
        ArmError::new(
            404,
            "OperationNotFound",
            format!("The operation '{id}' was not found."),
        )
    })?;
    let status = op.status(ctx.now);
    let mut body = json!({
        "id": op.path,
        "name": id,
        "status": status,
        "startTime": timestamp(op.start_ms),
    });
    if status != "InProgress" {
        body["endTime"] = json!(timestamp(op.deadline_ms.min(ctx.now.max(op.start_ms))));
        body["percentComplete"] = json!(100);
    }
    if let (Some(e), "Failed" | "Canceled") = (&op.error, status) {
        body["error"] = json!({ "code": e.code, "message": e.message });
    }
    let mut reply = Reply::json(200, body);
    if status == "InProgress" {
        reply = reply.with(
            "Retry-After",
            retry_after(op.deadline_ms.saturating_sub(ctx.now)),
        );
    }
    Ok(reply)
}

/// The result of an asynchronous operation (`Location`): 202 while it runs.
pub(crate) fn operation_result(ctx: &mut ArmCtx<'_>, id: &str) -> ArmResult<Reply> {
    let op = ctx.arm.operations.get(id).ok_or_else(|| {
        ArmError::new(
            404,
            "OperationNotFound",
            format!("The operation '{id}' was not found."),
        )
    })?;
    match op.status(ctx.now) {
        "InProgress" => {
            let url = format!(
                "{}{}?api-version={}",
                ctx.base,
                op.path.replace("/operations/", "/operationresults/"),
                ctx.api_version
            );
            Ok(Reply::empty(202).with("Location", url).with(
                "Retry-After",
                retry_after(op.deadline_ms.saturating_sub(ctx.now)),
            ))
        }
        "Succeeded" if op.kind == OpKind::Delete => Ok(Reply::empty(204)),
        "Succeeded" => {
            let res = ctx.arm.resources.get(&op.resource).cloned();
            Ok(match res {
                Some(r) => Reply::json(200, render(ctx, &r)),
                None => Reply::empty(204),
            })
        }
        _ => {
            let e = op.error.clone().unwrap_or(ErrorBody {
                code: "InternalServerError".into(),
                message: "The operation failed.".into(),
            });
            Err(ArmError::bad(e.code, e.message))
        }
    }
}

fn render_group(res: &Resource) -> Value {
    let mut v = json!({
        "id": res.id,
        "name": res.name(),
        "type": catalog::RESOURCE_GROUP,
        "location": res.body.get("location").cloned().unwrap_or(Value::Null),
        "properties": { "provisioningState": if res.state == State::Deleting { "Deleting" } else { "Succeeded" } },
    });
    for k in ["tags", "managedBy"] {
        if let Some(x) = res.body.get(k) {
            v[k] = x.clone();
        }
    }
    v
}

/// Lists the resource groups of a subscription.
pub(crate) fn list_groups(ctx: &mut ArmCtx<'_>, sub: &str) -> Reply {
    let prefix = format!("/subscriptions/{sub}/").to_ascii_lowercase();
    let value: Vec<Value> = ctx
        .arm
        .resources
        .iter()
        .filter(|(k, r)| k.starts_with(&prefix) && r.rtype == catalog::RESOURCE_GROUP)
        .map(|(_, r)| render_group(r))
        .collect();
    Reply::json(200, json!({ "value": value }))
}

fn check_group_name(rg: &str) -> ArmResult<()> {
    let ok = !rg.is_empty()
        && rg.len() <= 90
        && !rg.ends_with('.')
        && rg
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')'));
    if ok {
        Ok(())
    } else {
        Err(ArmError::bad(
            "InvalidResourceGroupName",
            format!(
                "Resource group name '{rg}' is invalid. It must be 1-90 letters, digits, '-', '_', '.', '(' or ')', and must not end with '.'."
            ),
        ))
    }
}

/// PUT/GET/HEAD/PATCH/DELETE of a resource group.
pub(crate) fn group(
    ctx: &mut ArmCtx<'_>,
    method: &str,
    sub: &str,
    rg: &str,
    body: Option<Value>,
) -> ArmResult<Reply> {
    let id = format!("/subscriptions/{sub}/resourceGroups/{rg}");
    let key = id.to_ascii_lowercase();
    let existing = ctx.arm.resources.get(&key).cloned();
    match method {
        "GET" => existing
            .map(|r| Reply::json(200, render_group(&r)))
            .ok_or_else(|| group_not_found(rg)),
        "HEAD" => Ok(Reply::empty(if existing.is_some() { 204 } else { 404 })),
        "PUT" => {
            check_group_name(rg)?;
            preconditions(ctx, existing.as_ref())?;
            let body = body.unwrap_or(Value::Null);
            let Some(location) = body.get("location").and_then(Value::as_str) else {
                return Err(ArmError::bad(
                    "LocationRequired",
                    "The location property is required for this definition.",
                ));
            };
            let mut stored = json!({ "location": location });
            for k in ["tags", "managedBy"] {
                if let Some(x) = body.get(k) {
                    stored[k] = x.clone();
                }
            }
            if let Some(e) = &existing {
                if e.state == State::Deleting {
                    return Err(ArmError::new(
                        409,
                        "ResourceGroupBeingDeleted",
                        format!(
                            "The resource group '{rg}' is in deprovisioning state and cannot perform this operation."
                        ),
                    ));
                }
                let old = e.body.get("location").and_then(Value::as_str).unwrap_or("");
                if !old.eq_ignore_ascii_case(location) {
                    return Err(ArmError::new(
                        409,
                        "InvalidResourceGroupLocation",
                        format!(
                            "Invalid resource group location '{location}'. The Resource group already exists in location '{old}'."
                        ),
                    ));
                }
            }
            let etag = ctx.uuid();
            let res = Resource {
                id: existing.as_ref().map_or(id, |e| e.id.clone()),
                rtype: catalog::RESOURCE_GROUP.to_owned(),
                body: stored,
                etag,
                created_ms: existing.as_ref().map_or(ctx.now, |e| e.created_ms),
                state: State::Succeeded,
                op: None,
            };
            ctx.arm.resources.insert(key, res.clone());
            Ok(Reply::json(
                if existing.is_some() { 200 } else { 201 },
                render_group(&res),
            ))
        }
        "PATCH" => {
            let mut res = existing.ok_or_else(|| group_not_found(rg))?;
            if let Some(tags) = body.as_ref().and_then(|b| b.get("tags")) {
                res.body["tags"] = tags.clone();
            }
            ctx.arm.resources.insert(key, res.clone());
            Ok(Reply::json(200, render_group(&res)))
        }
        "DELETE" => {
            let res = existing.ok_or_else(|| group_not_found(rg))?;
            preconditions(ctx, Some(&res))?;
            let base = format!("/subscriptions/{sub}");
            if let Some(running) = res.op.as_ref().and_then(|o| ctx.arm.operations.get(o)) {
                let url = format!(
                    "{}{}?api-version={}",
                    ctx.base,
                    running.path.replace("/operations/", "/operationresults/"),
                    ctx.api_version
                );
                return Ok(Reply::empty(202)
                    .with("Location", url)
                    .with("Retry-After", "1".into()));
            }
            let inner = format!("{key}/");
            let has_cluster = ctx
                .arm
                .resources
                .iter()
                .any(|(k, r)| k.starts_with(&inner) && r.rtype == catalog::CLUSTER);
            let op_id = ctx.uuid();
            let mut ms = ctx.duration(Op::ResourceGroupDelete, &format!("{key}/{op_id}"), &key);
            if has_cluster {
                ms += ctx.duration(Op::AksDelete, &format!("{key}/{op_id}/aks"), &key);
            }
            let (_, result, retry) = start_op(ctx, &op_id, &base, &key, OpKind::Delete, ms, None);
            if let Some(g) = ctx.arm.resources.get_mut(&key) {
                g.state = State::Deleting;
                g.op = Some(op_id);
            }
            Ok(Reply::empty(202)
                .with("Location", result)
                .with("Retry-After", retry))
        }
        m => Err(ArmError::new(
            405,
            "MethodNotAllowed",
            format!("The HTTP method '{m}' is not supported for resource groups."),
        )),
    }
}
