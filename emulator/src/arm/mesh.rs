//! The AKS Istio-based service mesh add-on: the mesh revisions AKS offers and the Kubernetes
//! minors each runs on, the rules a managed cluster's `serviceMeshProfile` follows (known
//! revisions, at most two and only as a canary upgrade pair, every revision compatible with the
//! cluster's minor, on create, update and control-plane upgrade), and the read-only
//! `meshRevisionProfiles` (per location) and `meshUpgradeProfiles` (per cluster) answers.
//!
//! The table is data copied into the crate (the emulator never reads shared files): rows marked
//! published come from the AKS support policy, rows marked synthetic extend it with AKS's cadence
//! (each revision drops the oldest minor and adds the next) up to the newest minor the emulator
//! knows, and are not AKS facts. Every revision is offered whatever the date: the emulator does
//! not model revision end-of-life. It must never decide anything about the cluster beyond the
//! mesh.

use serde_json::{Map, Value, json};

use super::{ArmCtx, ArmError, ArmResult, Reply, Rid};

/// One mesh revision: `(revision, oldest minor, newest minor, source)`; both ends inclusive.
pub(crate) const REVISIONS: &[(&str, u32, u32, &str)] = &[
    // Published: "Support policy for Istio-based service mesh add-on for AKS", compatible AKS
    // versions column (MicrosoftDocs/azure-aks-docs articles/aks/istio-support-policy.md).
    ("asm-1-25", 29, 33, "published: AKS Istio support policy"),
    ("asm-1-26", 29, 34, "published: AKS Istio support policy"),
    ("asm-1-27", 29, 35, "published: AKS Istio support policy"),
    ("asm-1-28", 30, 35, "published: AKS Istio support policy"),
    // The revisions exist (AKS release notes 2026-07-17, Azure/AKS#5872, patch `asm-1-29`
    // and `asm-1-30`), but no compatibility table for them was found: synthetic ranges.
    ("asm-1-29", 31, 36, "synthetic: published cadence"),
    ("asm-1-30", 32, 37, "synthetic: published cadence"),
];

/// Mesh modes `meshRevisionProfiles` and `meshUpgradeProfiles` serve.
const MODE: &str = "istio";

fn row(revision: &str) -> Option<&'static (&'static str, u32, u32, &'static str)> {
    REVISIONS.iter().find(|(r, ..)| *r == revision)
}

/// Whether `revision` runs on Kubernetes `1.{minor}`.
pub(crate) fn compatible(revision: &str, minor: u32) -> bool {
    row(revision).is_some_and(|(_, first, last, _)| (*first..=*last).contains(&minor))
}

/// The revisions a canary upgrade may go to from `revision`: the next two (AKS allows n+1 and
/// n+2), newest last.
fn upgrades(revision: &str) -> Vec<&'static str> {
    let Some(i) = REVISIONS.iter().position(|(r, ..)| *r == revision) else {
        return Vec::new();
    };
    REVISIONS.iter().skip(i + 1).take(2).map(|r| r.0).collect()
}

/// The revision AKS installs when `revisions` is left out: the second-newest revision for the
/// cluster's minor (AKS's n-1 default), or the only one.
pub(crate) fn default_for(minor: u32) -> Option<&'static str> {
    let all: Vec<&str> = REVISIONS
        .iter()
        .filter(|(r, ..)| compatible(r, minor))
        .map(|r| r.0)
        .collect();
    match all.len() {
        0 => None,
        1 => all.first().copied(),
        n => all.get(n - 2).copied(),
    }
}

fn kubernetes(revision: &str) -> Vec<String> {
    row(revision)
        .map(|(_, first, last, _)| (*first..=*last).map(|m| format!("1.{m}")).collect())
        .unwrap_or_default()
}

fn revision_json(revision: &str, upgrades: &[&str]) -> Value {
    json!({
        "revision": revision,
        "upgrades": upgrades,
        "compatibleWith": [{ "name": "kubernetes", "versions": kubernetes(revision) }],
    })
}

fn not_allowed(reason: String) -> ArmError {
    ArmError::bad(
        "BadRequest",
        format!("Requested change in revisions is not allowed. Reason: {reason}"),
    )
    .target("properties.serviceMeshProfile.istio.revisions")
}

/// Checks a managed cluster's `serviceMeshProfile` for a control plane at `version` (`1.M.P`)
/// and fills in the revision AKS picks when none is given: the installed one on updates, the
/// default for the minor on enable. `old` is the stored cluster body.
pub(crate) fn check(
    props: &mut Map<String, Value>,
    old: Option<&Value>,
    version: &str,
) -> ArmResult<()> {
    let minor = super::catalog::minor(version).unwrap_or(0);
    let installed: Vec<String> = old
        .filter(|o| {
            o.pointer("/properties/serviceMeshProfile/mode")
                .and_then(Value::as_str)
                .is_some_and(|m| m.eq_ignore_ascii_case("Istio"))
        })
        .and_then(|o| o.pointer("/properties/serviceMeshProfile/istio/revisions"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let Some(mesh) = props
        .get_mut("serviceMeshProfile")
        .and_then(Value::as_object_mut)
    else {
        return Ok(());
    };
    let istio_mode = mesh
        .get("mode")
        .and_then(Value::as_str)
        .is_some_and(|m| m.eq_ignore_ascii_case("Istio"));
    if !istio_mode {
        return Ok(());
    }
    let given: Vec<String> = mesh
        .get("istio")
        .and_then(|i| i.get("revisions"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let revisions = if !given.is_empty() {
        given
    } else if !installed.is_empty() {
        installed
    } else {
        let default = default_for(minor).ok_or_else(|| {
            not_allowed(format!(
                "no revision of the service mesh add-on supports Kubernetes {version}."
            ))
        })?;
        vec![default.to_owned()]
    };
    if revisions.len() > 2 {
        return Err(not_allowed(format!(
            "at most two revisions can be installed (during a canary upgrade), {} were given.",
            revisions.len()
        )));
    }
    for r in &revisions {
        if row(r).is_none() {
            return Err(not_allowed(format!(
                "Revision {r} is not supported by the service mesh add-on."
            )));
        }
    }
    if let [a, b] = revisions.as_slice() {
        let pair = upgrades(a).contains(&b.as_str()) || upgrades(b).contains(&a.as_str());
        if !pair {
            return Err(not_allowed(format!(
                "revisions {a} and {b} are not a canary upgrade pair; a revision upgrades to one of the next two revisions."
            )));
        }
    }
    if let Some(r) = revisions.iter().find(|r| !compatible(r, minor)) {
        return Err(ArmError::bad(
            "BadRequest",
            format!(
                "Service mesh revision {r} is not compatible with cluster version {version}. To find information about mesh-cluster compatibility, use 'az aks mesh get-upgrades'"
            ),
        )
        .target("properties.serviceMeshProfile.istio.revisions"));
    }
    let istio = mesh.entry("istio").or_insert_with(|| json!({}));
    if let Some(istio) = istio.as_object_mut() {
        istio.insert("revisions".into(), json!(revisions));
    }
    Ok(())
}

fn unknown_mode(mode: &str) -> ArmError {
    ArmError::new(
        404,
        "NotFound",
        format!("Mesh mode '{mode}' is not supported. Supported modes: {MODE}."),
    )
}

fn location_profile(sub: &str, location: &str) -> Value {
    let revisions: Vec<Value> = REVISIONS
        .iter()
        .map(|(r, ..)| revision_json(r, &upgrades(r)))
        .collect();
    json!({
        "id": format!("/subscriptions/{sub}/providers/Microsoft.ContainerService/locations/{location}/meshRevisionProfiles/{MODE}"),
        "name": MODE,
        "type": "Microsoft.ContainerService/locations/meshRevisionProfiles",
        "properties": { "meshRevisions": revisions },
    })
}

/// GET `locations/{location}/meshRevisionProfiles[/{mode}]`: every revision with its upgrades
/// and compatible Kubernetes minors.
pub(crate) fn revision_profiles(sub: &str, location: &str, mode: Option<&str>) -> ArmResult<Reply> {
    let profile = location_profile(sub, location);
    match mode {
        None => Ok(Reply::json(200, json!({ "value": [profile] }))),
        Some(m) if m.eq_ignore_ascii_case(MODE) => Ok(Reply::json(200, profile)),
        Some(m) => Err(unknown_mode(m)),
    }
}

/// GET `managedClusters/{name}/meshUpgradeProfiles[/{mode}]`: the installed (oldest, during a
/// canary) revision, the upgrades the cluster's minor allows, and its compatible minors.
pub(crate) fn upgrade_profiles(
    ctx: &mut ArmCtx<'_>,
    rid: &Rid,
    mode: Option<&str>,
) -> ArmResult<Reply> {
    if let Some(m) = mode.filter(|m| !m.eq_ignore_ascii_case(MODE)) {
        return Err(unknown_mode(m));
    }
    let cluster = ctx
        .arm
        .get(&rid.id())
        .ok_or_else(|| super::resources::not_found(rid))?;
    let minor = cluster
        .body
        .pointer("/properties/kubernetesVersion")
        .and_then(Value::as_str)
        .and_then(super::catalog::resolve)
        .and_then(|v| super::catalog::minor(&v))
        .unwrap_or(0);
    let meshed = cluster
        .body
        .pointer("/properties/serviceMeshProfile/mode")
        .and_then(Value::as_str)
        .is_some_and(|m| m.eq_ignore_ascii_case("Istio"));
    let installed = cluster
        .body
        .pointer("/properties/serviceMeshProfile/istio/revisions")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .min_by_key(|r| REVISIONS.iter().position(|x| x.0 == *r))
        })
        .filter(|_| meshed)
        .map(str::to_owned);
    let profile = installed.map(|r| {
        let ups: Vec<&str> = upgrades(&r)
            .into_iter()
            .filter(|u| compatible(u, minor))
            .collect();
        json!({
            "id": format!("{}/meshUpgradeProfiles/{MODE}", rid.id()),
            "name": MODE,
            "type": "Microsoft.ContainerService/managedClusters/meshUpgradeProfiles",
            "properties": revision_json(&r, &ups),
        })
    });
    match (mode, profile) {
        (None, p) => Ok(Reply::json(
            200,
            json!({ "value": p.into_iter().collect::<Vec<_>>() }),
        )),
        (Some(_), Some(p)) => Ok(Reply::json(200, p)),
        (Some(_), None) => Err(ArmError::new(
            404,
            "NotFound",
            format!(
                "The service mesh is not enabled on managed cluster '{}'.",
                rid.name()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_ordered_and_ends_at_the_newest_minor() {
        for w in REVISIONS.windows(2) {
            let n = |r: &str| r.trim_start_matches("asm-1-").parse::<u32>().unwrap();
            assert_eq!(n(w[1].0), n(w[0].0) + 1, "{w:?}");
            assert!(w[1].1 >= w[0].1 && w[1].2 >= w[0].2, "{w:?}");
        }
        let newest = super::super::catalog::AKS_CALENDAR.last().unwrap().0;
        assert_eq!(
            format!("1.{}", REVISIONS.last().unwrap().2),
            newest,
            "some revision runs on every minor the emulator knows"
        );
        assert!(compatible("asm-1-29", 35) && compatible("asm-1-29", 36));
        assert!(!compatible("asm-1-29", 37) && !compatible("asm-1-17", 28));
        assert_eq!(upgrades("asm-1-28"), ["asm-1-29", "asm-1-30"]);
        assert_eq!(upgrades("asm-1-30"), Vec::<&str>::new());
        assert_eq!(default_for(35), Some("asm-1-29"));
        assert_eq!(default_for(37), Some("asm-1-30"));
        assert_eq!(default_for(20), None);
    }

    #[test]
    fn profiles_are_checked_and_filled() {
        let mut props = json!({ "serviceMeshProfile": { "mode": "Istio" } });
        let p = props.as_object_mut().unwrap();
        check(p, None, "1.35.3").unwrap();
        assert_eq!(
            p["serviceMeshProfile"]["istio"]["revisions"],
            json!(["asm-1-29"])
        );
        // An update that names no revision keeps the installed one, and refuses a minor it
        // does not run on.
        let old = json!({ "properties": { "serviceMeshProfile": { "mode": "Istio", "istio": { "revisions": ["asm-1-28"] } } } });
        let mut props = json!({ "serviceMeshProfile": { "mode": "Istio" } });
        let e = check(props.as_object_mut().unwrap(), Some(&old), "1.36.1").unwrap_err();
        assert!(
            e.message
                .contains("asm-1-28 is not compatible with cluster version 1.36.1"),
            "{e:?}"
        );
        let bad = |revisions: Value| {
            let mut props = json!({ "serviceMeshProfile": { "mode": "Istio", "istio": { "revisions": revisions } } });
            check(props.as_object_mut().unwrap(), None, "1.35.1").map_err(|e| e.message)
        };
        assert!(bad(json!(["asm-1-28", "asm-1-29"])).is_ok());
        assert!(
            bad(json!(["asm-1-17"]))
                .unwrap_err()
                .contains("asm-1-17 is not supported")
        );
        assert!(
            bad(json!(["asm-1-27", "asm-1-28", "asm-1-29"]))
                .unwrap_err()
                .contains("at most two")
        );
        assert!(
            bad(json!(["asm-1-25", "asm-1-28"]))
                .unwrap_err()
                .contains("not a canary upgrade pair")
        );
        let mut off = json!({ "serviceMeshProfile": { "mode": "Disabled" } });
        assert!(check(off.as_object_mut().unwrap(), Some(&old), "1.37.1").is_ok());
    }
}
