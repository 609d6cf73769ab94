//! `slipway scan`: what breaks if the selected clusters move to `--to`; exit 5 when something
//! blocks. Reads manifests and live objects, asks providers for evidence, and hands it all to
//! the engine's scan.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use slipway_blueprints::{Cluster, KubeVersion, LoadOptions};
use slipway_engine::scan::{
    self, Evidence, Ignore, ScanInput, ScanSource, manifest::ManifestSource,
};

use crate::cli::{Global, ScanArgs, ScanFormat};
use crate::cloud::CloudSession;
use crate::context;
use crate::failure::{self, EXIT_BLOCKED, EXIT_OK, Failure};
use crate::render::{self, Out};

pub async fn run(args: &ScanArgs, global: &Global, out: &Out) -> Result<u8, Failure> {
    let path = &args.blueprint.blueprint;
    let today = context::today(global)?;
    let target = KubeVersion::parse(&args.to).ok_or_else(|| {
        failure::error(format!(
            "--to `{}` is not a Kubernetes minor such as `1.33`",
            args.to
        ))
    })?;
    let ignores = args
        .ignores
        .iter()
        .map(|text| {
            text.parse::<Ignore>()
                .map_err(|e| failure::error(format!("--ignore: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let options = LoadOptions::new(today);
    let before = match slipway_blueprints::load(path, &options) {
        Ok(loaded) => loaded,
        Err(f) => return Err(Failure::Invalid(f.diagnostics)),
    };
    if !out.quiet {
        out.diagnostics(&before.warnings);
    }
    let fleet = &before.fleet;
    let clusters = select(fleet, &args.selection.clusters)?;
    let invariants = {
        let mut at_target = options.clone();
        at_target.kubernetes_overrides = clusters
            .iter()
            .filter(|c| c.kubernetes < target)
            .map(|c| (c.name.clone(), target))
            .collect();
        let after = match slipway_blueprints::load(path, &at_target) {
            Ok(loaded) => loaded.warnings,
            Err(f) => f.diagnostics,
        };
        scan::invariants_after_upgrade(&before.warnings, &after)
    };
    let mut sources = read_sources(&args.paths)?;
    let mut notes = Vec::new();
    let evidence = if args.no_cloud {
        clusters
            .iter()
            .map(|c| (c.name.clone(), Evidence::Skipped))
            .collect()
    } else {
        let store = context::open_state(path, global)?;
        let snapshot = store.snapshot().await?;
        let cloud = CloudSession::open(path, global).await?;
        let evidence =
            scan::gather_evidence(&cloud.registry, fleet, &clusters, target, &snapshot).await;
        cloud.close().await;
        evidence
    };
    match &args.kubeconfig {
        None => notes.push(
            "live cluster objects not read: pass --kubeconfig to check what runs in the clusters"
                .to_owned(),
        ),
        Some(kubeconfig) => {
            let kinds: BTreeSet<String> = scan::lifecycle::kinds()
                .into_iter()
                .map(str::to_owned)
                .collect();
            for cluster in &clusters {
                let context = if clusters.len() == 1 {
                    args.context.clone()
                } else {
                    Some(cluster.name.clone())
                };
                let target = slipway_kube::KubeTarget {
                    kubeconfig: kubeconfig.clone(),
                    context,
                };
                match slipway_kube::collect(&target, &kinds).await {
                    Ok(live) => {
                        notes.extend(live.notes.iter().map(|n| format!("{}: {n}", cluster.name)));
                        sources.extend(live.sources.into_iter().map(|s| ScanSource {
                            cluster: Some(cluster.name.clone()),
                            source: ManifestSource {
                                name: s.name,
                                text: s.text,
                            },
                        }));
                    }
                    Err(e) => notes.push(format!(
                        "{}: live cluster objects skipped: {e}",
                        cluster.name
                    )),
                }
            }
        }
    }
    let report = scan::assemble(ScanInput {
        fleet,
        clusters: &clusters,
        target,
        today,
        sources: &sources,
        evidence: &evidence,
        invariants: &invariants,
        ignores: &ignores,
        notes: &notes,
    });
    let format = if out.json() {
        ScanFormat::Json
    } else {
        args.format
    };
    match format {
        ScanFormat::Json => out.document(&serde_json::to_value(&report)?),
        ScanFormat::Sarif => {
            out.document(&render::scan_sarif(&report, &path.display().to_string()))
        }
        ScanFormat::Markdown => out.line(render::scan_markdown(&report).trim_end()),
        ScanFormat::Table => out.line(&render::scan_table(&report)),
    }
    Ok(if report.blocking {
        EXIT_BLOCKED
    } else {
        EXIT_OK
    })
}

fn select<'f>(
    fleet: &'f slipway_blueprints::Fleet,
    names: &[String],
) -> Result<Vec<&'f Cluster>, Failure> {
    if names.is_empty() {
        return Ok(fleet.clusters.iter().collect());
    }
    names
        .iter()
        .map(|n| {
            fleet.clusters.iter().find(|c| &c.name == n).ok_or_else(|| {
                failure::error(format!(
                    "--cluster `{n}` is not in fleet `{}` (clusters: {})",
                    fleet.name,
                    fleet
                        .clusters
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
        })
        .collect()
}

/// Reads every path: `-` is standard input, directories are walked in name order (hidden
/// entries skipped), files are read whole. A path that cannot be read fails the scan: a scan that
/// silently skipped input would report "nothing found" for the wrong reason.
fn read_sources(paths: &[PathBuf]) -> Result<Vec<ScanSource>, Failure> {
    let mut files = Vec::new();
    let mut stdin = false;
    for p in paths {
        if p.as_os_str() == "-" {
            stdin = true;
        } else if p.is_dir() {
            walk(p, &mut files)?;
        } else {
            files.push(p.clone());
        }
    }
    let mut sources = Vec::with_capacity(files.len() + usize::from(stdin));
    for file in files {
        let bytes = std::fs::read(&file)
            .map_err(|e| failure::error(format!("cannot read {}: {e}", file.display())))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| failure::error(format!("{} is not UTF-8 text", file.display())))?;
        sources.push(ScanSource {
            cluster: None,
            source: ManifestSource {
                name: file.display().to_string(),
                text,
            },
        });
    }
    if stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| failure::error(format!("cannot read standard input: {e}")))?;
        sources.push(ScanSource {
            cluster: None,
            source: ManifestSource {
                name: "-".to_owned(),
                text,
            },
        });
    }
    Ok(sources)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), Failure> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| failure::error(format!("cannot list {}: {e}", dir.display())))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    paths.sort();
    for p in paths {
        let meta = std::fs::symlink_metadata(&p)
            .map_err(|e| failure::error(format!("cannot read {}: {e}", p.display())))?;
        if meta.is_dir() {
            walk(&p, files)?;
        } else if p
            .extension()
            .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
        {
            files.push(p);
        }
    }
    Ok(())
}
