//! The Kubernetes API lifecycle table: which built-in group/version/kinds were deprecated and
//! removed, when, and what replaces them.
//!
//! The table is data, not code: `engine/data/api-lifecycle.csv` is embedded at build time and
//! parsed once. Its rows come from the `prerelease-lifecycle-gen` values compiled into
//! `k8s.io/api` merged with the official deprecation guide (see `docs/scan-data.md`). A row whose
//! removal the guide has not confirmed is a *planned* removal and is reported as deprecated, never
//! as removed. This module must never guess: a kind not in the table is not reported at all.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde::Serialize;
use slipway_blueprints::KubeVersion;

/// The embedded table.
const DATA: &str = include_str!("../../data/api-lifecycle.csv");

/// The header the table must start with (after `#` comment lines).
const HEADER: &str = "group,version,kind,introduced,deprecated,removed,removal,replacement_api_version,replacement_kind,source";

/// A problem in the lifecycle table text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    /// The first non-comment line is not the expected header.
    #[error("line {line}: expected the header `{HEADER}`")]
    Header {
        /// 1-based line number.
        line: usize,
    },
    /// A row is malformed.
    #[error("line {line}: {message}")]
    Row {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// A reference to an API: `apiVersion` and `kind` as written in a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ApiRef {
    /// `group/version`, or `version` for the core group.
    pub api_version: String,
    /// The kind.
    pub kind: String,
}

/// The lifecycle of one built-in group/version/kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiLifecycle {
    /// API group; empty for the core group.
    pub group: String,
    /// API version, e.g. `v1beta1`.
    pub version: String,
    /// Kind, e.g. `Ingress`.
    pub kind: String,
    /// Release that introduced it, when known.
    pub introduced: Option<KubeVersion>,
    /// Release that deprecated it, when known.
    pub deprecated: Option<KubeVersion>,
    /// Release that stops (or, if `removal_planned`, is planned to stop) serving it.
    pub removed: Option<KubeVersion>,
    /// True when `removed` is only the generator's planned earliest removal, not confirmed by the
    /// deprecation guide.
    pub removal_planned: bool,
    /// What to migrate to, if anything.
    pub replacement: Option<ApiRef>,
    /// Where the values come from.
    pub source: String,
}

/// Where an API stands relative to a target Kubernetes version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiStatus {
    /// No longer served at the target.
    Removed,
    /// Served at the target but deprecated (or its removal is only planned).
    Deprecated,
    /// Served and not deprecated at the target.
    Current,
}

impl ApiLifecycle {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The status at `target`: removed only for confirmed removals at or before the target;
    /// deprecated once deprecated, or once a planned removal is reached.
    pub fn status_at(&self, target: KubeVersion) -> ApiStatus {
        let reached = |v: Option<KubeVersion>| v.is_some_and(|v| v <= target);
        if reached(self.removed) {
            if self.removal_planned {
                ApiStatus::Deprecated
            } else {
                ApiStatus::Removed
            }
        } else if reached(self.deprecated) {
            ApiStatus::Deprecated
        } else {
            ApiStatus::Current
        }
    }
}

/// Every row of the embedded table, in file order.
pub fn lifecycles() -> &'static [ApiLifecycle] {
    static TABLE: OnceLock<Vec<ApiLifecycle>> = OnceLock::new();
    // The embedded data is checked by this module's tests, so an error here is a build defect;
    // an empty table (no findings) is the only non-panicking fallback.
    TABLE.get_or_init(|| parse(DATA).unwrap_or_default())
}

/// The row for `apiVersion` + `kind`, if the table has one.
pub fn find(api_version: &str, kind: &str) -> Option<&'static ApiLifecycle> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    lifecycles()
        .iter()
        .find(|l| l.group == group && l.version == version && l.kind == kind)
}

/// The kinds named in the table, for listing live objects.
pub fn kinds() -> BTreeSet<&'static str> {
    lifecycles().iter().map(|l| l.kind.as_str()).collect()
}

/// Parses a lifecycle table in the `api-lifecycle.csv` format.
pub fn parse(text: &str) -> Result<Vec<ApiLifecycle>, LifecycleError> {
    let mut rows = Vec::new();
    let mut header_seen = false;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let row = raw.trim_end_matches('\r');
        if row.trim().is_empty() || row.starts_with('#') {
            continue;
        }
        if !header_seen {
            if row != HEADER {
                return Err(LifecycleError::Header { line });
            }
            header_seen = true;
            continue;
        }
        rows.push((line, parse_row(line, row)?));
    }
    if !header_seen {
        return Err(LifecycleError::Header { line: 1 });
    }
    check_consistency(&rows)?;
    Ok(rows.into_iter().map(|(_, row)| row).collect())
}

fn parse_row(line: usize, row: &str) -> Result<ApiLifecycle, LifecycleError> {
    let err = |message: String| LifecycleError::Row { line, message };
    if row.contains('"') {
        return Err(err("quoted cells are not supported".into()));
    }
    let cells: Vec<&str> = row.split(',').map(str::trim).collect();
    let [
        group,
        version,
        kind,
        introduced,
        deprecated,
        removed,
        removal,
        repl_version,
        repl_kind,
        source,
    ] = cells.as_slice()
    else {
        return Err(err(format!("expected 10 cells, found {}", cells.len())));
    };
    let version_cell = |name: &str, cell: &str| -> Result<Option<KubeVersion>, LifecycleError> {
        if cell.is_empty() {
            return Ok(None);
        }
        KubeVersion::parse(cell)
            .map(Some)
            .ok_or_else(|| err(format!("{name} `{cell}` is not a major.minor version")))
    };
    if version.is_empty() || kind.is_empty() {
        return Err(err("version and kind are required".into()));
    }
    let removed = version_cell("removed", removed)?;
    let removal_planned = match *removal {
        "actual" => false,
        "planned" => true,
        other => {
            return Err(err(format!(
                "removal `{other}` is not `actual` or `planned`"
            )));
        }
    };
    if removed.is_none() {
        return Err(err("removal is given but removed is empty".into()));
    }
    let replacement = match (*repl_version, *repl_kind) {
        ("", "") => None,
        ("", _) | (_, "") => {
            return Err(err(
                "replacement_api_version and replacement_kind go together".into(),
            ));
        }
        (v, k) => Some(ApiRef {
            api_version: v.to_owned(),
            kind: k.to_owned(),
        }),
    };
    if source.is_empty() {
        return Err(err("source is required".into()));
    }
    Ok(ApiLifecycle {
        group: (*group).to_owned(),
        version: (*version).to_owned(),
        kind: (*kind).to_owned(),
        introduced: version_cell("introduced", introduced)?,
        deprecated: version_cell("deprecated", deprecated)?,
        removed,
        removal_planned,
        replacement,
        source: (*source).to_owned(),
    })
}

/// Dates must be ordered, rows unique, and a replacement must not itself be removed earlier.
fn check_consistency(rows: &[(usize, ApiLifecycle)]) -> Result<(), LifecycleError> {
    let mut seen = BTreeSet::new();
    for (line, row) in rows {
        let bad = |message: String| LifecycleError::Row {
            line: *line,
            message: format!("{} {}: {message}", row.api_version(), row.kind),
        };
        if !seen.insert((row.group.as_str(), row.version.as_str(), row.kind.as_str())) {
            return Err(bad("duplicate row".into()));
        }
        let ordered = |a: Option<KubeVersion>, b: Option<KubeVersion>| match (a, b) {
            (Some(a), Some(b)) => a <= b,
            _ => true,
        };
        if !ordered(row.introduced, row.deprecated)
            || !ordered(row.deprecated, row.removed)
            || !ordered(row.introduced, row.removed)
        {
            return Err(bad(
                "introduced <= deprecated <= removed does not hold".into()
            ));
        }
        if let Some(repl) = &row.replacement
            && repl.api_version == row.api_version()
            && repl.kind == row.kind
        {
            return Err(bad("replaced by itself".into()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(minor: u32) -> KubeVersion {
        KubeVersion::new(1, minor)
    }

    #[test]
    fn embedded_table_parses_and_is_consistent() {
        let rows = parse(DATA).expect("embedded table parses");
        assert_eq!(rows.len(), lifecycles().len());
        assert!(rows.len() >= 50, "{} rows", rows.len());
        for row in &rows {
            assert!(row.removed.is_some(), "{} {}", row.api_version(), row.kind);
            // A replacement that is itself in the table must outlive the API it replaces.
            if let Some(repl) = &row.replacement
                && let Some(next) = find(&repl.api_version, &repl.kind)
            {
                assert!(
                    next.removed > row.removed,
                    "{} {} is replaced by {} which is removed no later",
                    row.api_version(),
                    row.kind,
                    repl.api_version
                );
            }
        }
    }

    #[test]
    fn find_splits_core_and_grouped_versions() {
        let ingress = find("extensions/v1beta1", "Ingress").expect("row");
        assert_eq!(ingress.removed, Some(v(22)));
        assert_eq!(ingress.api_version(), "extensions/v1beta1");
        assert!(find("networking.k8s.io/v1", "Ingress").is_none());
        assert!(find("v1", "Pod").is_none());
        assert!(kinds().contains("PodSecurityPolicy"));
    }

    #[test]
    fn status_depends_on_target_and_planned_removals_stay_deprecated() {
        let psp = find("policy/v1beta1", "PodSecurityPolicy").expect("row");
        assert_eq!(psp.status_at(v(20)), ApiStatus::Current);
        assert_eq!(psp.status_at(v(21)), ApiStatus::Deprecated);
        assert_eq!(psp.status_at(v(25)), ApiStatus::Removed);
        assert_eq!(psp.status_at(v(33)), ApiStatus::Removed);

        let planned = ApiLifecycle {
            removal_planned: true,
            ..psp.clone()
        };
        assert_eq!(planned.status_at(v(25)), ApiStatus::Deprecated);
        let core = ApiLifecycle {
            group: String::new(),
            version: "v1".into(),
            ..psp.clone()
        };
        assert_eq!(core.api_version(), "v1");
    }

    #[test]
    fn malformed_tables_are_errors_with_lines() {
        let head = format!("# comment\n{HEADER}\n");
        assert_eq!(parse("nope\n"), Err(LifecycleError::Header { line: 1 }));
        let short = format!("{head}apps,v1beta1,Deployment\n");
        assert!(matches!(
            parse(&short),
            Err(LifecycleError::Row { line: 3, .. })
        ));
        let bad_version = format!("{head}apps,v1beta1,Deployment,1.x,,1.16,actual,,,s\n");
        let message = parse(&bad_version).unwrap_err().to_string();
        assert!(message.contains("introduced `1.x`"), "{message}");
        let disordered = format!("{head}apps,v1beta1,Deployment,1.9,1.8,1.16,actual,,,s\n");
        assert!(parse(&disordered).is_err());
        let half_repl = format!("{head}apps,v1beta1,Deployment,,,1.16,actual,apps/v1,,s\n");
        assert!(parse(&half_repl).is_err());
        let dup = format!(
            "{head}apps,v1beta1,Deployment,,,1.16,actual,,,s\napps,v1beta1,Deployment,,,1.16,actual,,,s\n"
        );
        assert!(parse(&dup).unwrap_err().to_string().contains("duplicate"));
        let removal = format!("{head}apps,v1beta1,Deployment,,,1.16,maybe,,,s\n");
        assert!(parse(&removal).is_err());
    }
}
