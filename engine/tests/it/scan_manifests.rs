//! Acceptance tests of manifest scanning: one manifest per removed API proves the table and the
//! reader together, negatives prove there are no false positives, format cases prove the reader,
//! and the scanner files prove agreement with Pluto and kube-no-trouble (or an argued
//! disagreement).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use slipway_blueprints::KubeVersion;
use slipway_engine::scan::lifecycle::{self, ApiLifecycle, ApiStatus};
use slipway_engine::scan::manifest::{ApiFinding, ManifestSource, check, read_objects};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/scan")
}

fn v(minor: u32) -> KubeVersion {
    KubeVersion::new(1, minor)
}

/// Files under `dir`, recursively, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn source(path: &Path) -> ManifestSource {
    let name = path
        .strip_prefix(data_dir())
        .expect("under data dir")
        .to_string_lossy()
        .replace('\\', "/");
    ManifestSource {
        name,
        text: std::fs::read_to_string(path).expect("read manifest"),
    }
}

/// A corpus manifest and what its path says about it.
struct CorpusFile {
    path: PathBuf,
    removed: KubeVersion,
    api_version: String,
    kind: String,
}

/// `corpus/<removed>/<group>-<version>-<Kind>.yaml` (group `core` for the core group).
fn corpus() -> Vec<CorpusFile> {
    files_under(&data_dir().join("corpus"))
        .into_iter()
        .map(|path| {
            let dir = path.parent().and_then(Path::file_name).expect("dir");
            let removed = KubeVersion::parse(&dir.to_string_lossy()).expect("version dir");
            let stem = path
                .file_stem()
                .expect("stem")
                .to_string_lossy()
                .into_owned();
            let mut parts = stem.rsplitn(3, '-');
            let (kind, version, group) = (
                parts.next().expect("kind").to_owned(),
                parts.next().expect("version"),
                parts.next().expect("group"),
            );
            let api_version = if group == "core" {
                version.to_owned()
            } else {
                format!("{group}/{version}")
            };
            CorpusFile {
                path,
                removed,
                api_version,
                kind,
            }
        })
        .collect()
}

/// Targets: every removal release, the ones between, and two past the newest removal.
fn targets() -> Vec<KubeVersion> {
    let newest = lifecycle::lifecycles()
        .iter()
        .filter_map(|l| l.removed)
        .max()
        .expect("rows");
    (15..=newest.minor + 2).map(v).collect()
}

#[test]
fn corpus_yields_exactly_the_expected_findings() {
    let corpus = corpus();
    assert_eq!(corpus.len(), 50, "one manifest per removed API");
    for target in targets() {
        for file in &corpus {
            let (objects, errors) = read_objects(&source(&file.path));
            assert!(errors.is_empty(), "{errors:?}");
            assert_eq!(objects.len(), 1, "{}", file.path.display());
            let findings = check(&objects, target);
            let name = format!("{} at {target}", file.path.display());
            if file.removed <= target {
                // Removed-in comes from the directory, not from the table under test.
                assert_eq!(findings.len(), 1, "{name}");
                let f = &findings[0];
                assert_eq!(f.status, ApiStatus::Removed, "{name}");
                assert_eq!(f.lifecycle.removed, Some(file.removed), "{name}");
                assert_eq!(f.lifecycle.api_version(), file.api_version, "{name}");
                assert_eq!(f.lifecycle.kind, file.kind, "{name}");
                assert_eq!(f.object.line, 2, "{name}: the apiVersion line");
            } else {
                let row = lifecycle::find(&file.api_version, &file.kind).expect("row");
                let deprecated = row.deprecated.is_some_and(|d| d <= target);
                let statuses: Vec<ApiStatus> = findings.iter().map(|f| f.status).collect();
                let expected = if deprecated {
                    vec![ApiStatus::Deprecated]
                } else {
                    vec![]
                };
                assert_eq!(statuses, expected, "{name}");
            }
        }
    }
}

#[test]
fn every_actual_removal_in_the_table_has_a_corpus_manifest() {
    let from_table: BTreeSet<(String, String, KubeVersion)> = lifecycle::lifecycles()
        .iter()
        .filter(|l| !l.removal_planned)
        .map(|l| (l.api_version(), l.kind.clone(), l.removed.expect("removed")))
        .collect();
    let from_corpus: BTreeSet<(String, String, KubeVersion)> = corpus()
        .into_iter()
        .map(|f| (f.api_version, f.kind, f.removed))
        .collect();
    assert_eq!(from_table, from_corpus);
    let releases: BTreeSet<KubeVersion> = from_corpus.iter().map(|(_, _, r)| *r).collect();
    let expected: BTreeSet<KubeVersion> = [16, 22, 25, 26, 27, 29, 32].map(v).into();
    assert_eq!(releases, expected);
}

#[test]
fn negatives_yield_nothing_at_every_target() {
    let files = files_under(&data_dir().join("negative"));
    assert!(files.len() >= 30, "{}", files.len());
    for path in files {
        let (objects, errors) = read_objects(&source(&path));
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        for target in targets() {
            assert!(
                check(&objects, target).is_empty(),
                "{} at {target}",
                path.display()
            );
        }
    }
}

/// A Helm 3 release record as the Secret (`secret = true`) or ConfigMap driver stores it.
fn helm_record(secret: bool, name: &str, revision: u64, manifest: &str) -> ManifestSource {
    let json = serde_json::json!({"name": name, "version": revision, "manifest": manifest});
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(json.to_string().as_bytes()).expect("gzip");
    let payload = STANDARD.encode(gz.finish().expect("gzip"));
    let text = if secret {
        format!(
            "apiVersion: v1\nkind: Secret\ntype: helm.sh/release.v1\nmetadata:\n  name: sh.helm.release.v1.{name}.v{revision}\n  namespace: shop\ndata:\n  release: {}\n",
            STANDARD.encode(payload)
        )
    } else {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}.v{revision}\n  namespace: shop\n  labels:\n    owner: helm\ndata:\n  release: {payload}\n"
        )
    };
    ManifestSource {
        name: format!(
            "live:{}/shop/{name}.v{revision}",
            if secret { "secret" } else { "configmap" }
        ),
        text,
    }
}

const HELM_MANIFEST: &str = "---\n# Source: web/templates/pdb.yaml\napiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata:\n  name: web\n---\n# Source: web/templates/ingress.yaml\napiVersion: extensions/v1beta1\nkind: Ingress\nmetadata:\n  name: web\n---\n# Source: web/templates/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n";

fn format_sources() -> Vec<ManifestSource> {
    let mut sources: Vec<ManifestSource> = files_under(&data_dir().join("formats"))
        .iter()
        .map(|p| source(p))
        .collect();
    sources.push(helm_record(true, "web", 3, HELM_MANIFEST));
    sources.push(helm_record(false, "web", 2, HELM_MANIFEST));
    sources
}

fn render(findings: &[ApiFinding]) -> String {
    let mut out = String::new();
    for f in findings {
        let l = f.lifecycle;
        let replacement = l
            .replacement
            .as_ref()
            .map_or("-".to_owned(), |r| format!("{} {}", r.api_version, r.kind));
        writeln!(
            out,
            "{}:{}:{} doc {} {:?} {} {} name={} removed={} replacement={} via={}",
            f.object.file,
            f.object.line,
            f.object.column,
            f.object.document,
            f.status,
            f.object.api_version,
            f.object.kind,
            f.object.name.as_deref().unwrap_or("-"),
            l.removed.map_or("-".to_owned(), |r| r.to_string()),
            replacement,
            f.object.via.as_deref().unwrap_or("-"),
        )
        .expect("write to string");
    }
    out
}

fn scan_formats(target: KubeVersion) -> (String, Vec<String>) {
    let mut findings = Vec::new();
    let mut errors = Vec::new();
    for src in format_sources() {
        let (objects, errs) = read_objects(&src);
        findings.extend(check(&objects, target));
        errors.extend(errs.iter().map(ToString::to_string));
    }
    (render(&findings), errors)
}

#[test]
fn format_cases_at_1_25_and_1_32() {
    let (at_25, errors) = scan_formats(v(25));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("formats/broken.yaml:8:"),
        "{errors:?}"
    );
    insta::assert_snapshot!("scan_formats_1_25", at_25);
    let (at_32, _) = scan_formats(v(32));
    insta::assert_snapshot!("scan_formats_1_32", at_32);
}

#[test]
fn full_corpus_findings_at_1_25_for_review() {
    let mut findings = Vec::new();
    for file in corpus() {
        let (objects, _) = read_objects(&source(&file.path));
        findings.extend(check(&objects, v(25)));
    }
    insta::assert_snapshot!("scan_corpus_1_25", render(&findings));
}

/// Reads a CSV file of the scanner data (no quoting), skipping `#` comments and the header.
fn csv_rows(name: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(data_dir().join("scanners").join(name)).expect("read csv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .skip(1)
        .map(|l| l.split(',').map(|c| c.trim().to_owned()).collect())
        .collect()
}

/// `v1.9.0` → `1.9`; empty stays empty.
fn minor_of(text: &str) -> String {
    let t = text.trim_start_matches('v');
    let mut parts = t.split('.');
    match (parts.next(), parts.next()) {
        (Some(a), Some(b)) if !a.is_empty() => format!("{a}.{b}"),
        _ => String::new(),
    }
}

fn opt(v: Option<KubeVersion>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn replacement(l: &ApiLifecycle) -> String {
    l.replacement
        .as_ref()
        .map(|r| r.api_version.clone())
        .unwrap_or_default()
}

/// One scanner/table difference: (scanner, apiVersion, kind, field, theirs, ours).
type Disagreement = (String, String, String, String, String, String);

fn computed_disagreements() -> BTreeSet<Disagreement> {
    let pluto = csv_rows("pluto.csv");
    let kubent = csv_rows("kubent.csv");
    let mut out = BTreeSet::new();
    let mut add = |scanner: &str, l: &ApiLifecycle, field: &str, theirs: String, ours: String| {
        if theirs != ours {
            out.insert((
                scanner.to_owned(),
                l.api_version(),
                l.kind.clone(),
                field.to_owned(),
                theirs,
                ours,
            ));
        }
    };
    for file in corpus() {
        let l = lifecycle::find(&file.api_version, &file.kind).expect("row");
        match pluto
            .iter()
            .find(|r| r[0] == file.api_version && r[1] == file.kind)
        {
            Some(r) => {
                add("pluto", l, "deprecated", minor_of(&r[2]), opt(l.deprecated));
                add("pluto", l, "removed", minor_of(&r[3]), opt(l.removed));
                add("pluto", l, "replacement", r[4].clone(), replacement(l));
            }
            None => add("pluto", l, "row", "absent".into(), "present".into()),
        }
        match kubent
            .iter()
            .find(|r| r[2] == file.api_version && r[3] == file.kind)
        {
            Some(r) => {
                let theirs = if r[4] == "<removed>" { "" } else { &r[4] };
                add("kubent", l, "removed", r[6].clone(), opt(l.removed));
                add(
                    "kubent",
                    l,
                    "replacement",
                    theirs.to_owned(),
                    replacement(l),
                );
            }
            None => add("kubent", l, "row", "absent".into(), "present".into()),
        }
    }
    out
}

#[test]
fn scanners_agree_except_for_listed_disagreements() {
    let computed = computed_disagreements();
    let listed: BTreeSet<Disagreement> = csv_rows("disagreements.csv")
        .into_iter()
        .map(|r| {
            assert_eq!(r.len(), 7, "{r:?}");
            assert!(r[6].len() > 10, "a reason is required: {r:?}");
            (
                r[0].clone(),
                r[1].clone(),
                r[2].clone(),
                r[3].clone(),
                r[4].clone(),
                r[5].clone(),
            )
        })
        .collect();
    let unlisted: Vec<String> = computed
        .difference(&listed)
        .map(|d| format!("{},{},{},{},{},{},", d.0, d.1, d.2, d.3, d.4, d.5))
        .collect();
    let stale: Vec<&Disagreement> = listed.difference(&computed).collect();
    assert!(
        unlisted.is_empty() && stale.is_empty(),
        "unlisted disagreements (add with a reason):\n{}\nlisted but no longer disagreeing: {stale:?}",
        unlisted.join("\n")
    );
}
