//! The Slipway blueprint language: the only crate that knows the file format.
//!
//! Loading runs in two phases: a span-carrying raw tree parsed from YAML (every node knows its
//! file, line and column), then the validated [`Fleet`] model the rest of Slipway trusts. Every
//! problem is collected and reported at once as a [`Diagnostic`]; loading never stops at the
//! first error and never panics on bad input.

pub mod catalog;
mod cluster;
mod diag;
pub mod dr;
mod fleet;
pub mod model;
mod read;
mod report;
mod schema;
pub mod subnets;
mod yaml;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

pub use diag::{Diagnostic, Location, Severity};
pub use model::*;
pub use report::{RULES, RuleInfo};
pub use schema::schema;

use report::{Code, Report};

/// What loading depends on besides the files.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The day support calendars and exception expiry are evaluated on.
    pub today: jiff::civil::Date,
    /// Cluster name → Kubernetes version to evaluate that cluster at instead of the one
    /// written, as if it had been upgraded (the upgrade-readiness scan). Applied after
    /// defaults and profiles are merged and before the invariants; the loaded model carries
    /// the override. A name that is no cluster of the fleet is an `unknown-cluster` error.
    pub kubernetes_overrides: BTreeMap<String, KubeVersion>,
}

impl LoadOptions {
    /// Options evaluated on `today`, without overrides.
    pub fn new(today: jiff::civil::Date) -> Self {
        Self {
            today,
            kubernetes_overrides: BTreeMap::new(),
        }
    }
}

/// One blueprint text with the name it is reported under.
#[derive(Debug, Clone)]
pub struct Source {
    /// File name used in diagnostics and the digest.
    pub name: PathBuf,
    /// The YAML text.
    pub text: String,
}

/// A successfully loaded blueprint.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The validated fleet.
    pub fleet: Fleet,
    /// Warnings (no errors), in file and line order.
    pub warnings: Vec<Diagnostic>,
}

/// A blueprint that did not load.
#[derive(Debug, Clone)]
pub struct LoadFailure {
    /// Errors and warnings, in file and line order.
    pub diagnostics: Vec<Diagnostic>,
}

impl LoadFailure {
    /// Number of error diagnostics.
    pub fn error_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }
}

impl fmt::Display for LoadFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "blueprint has {} error(s)", self.error_count())
    }
}

impl std::error::Error for LoadFailure {}

/// Loads a blueprint file, or a directory of `*.yaml`/`*.yml` files merged in name order.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Loaded, LoadFailure> {
    let fail = |detail: String| LoadFailure {
        diagnostics: vec![Diagnostic::new(
            Severity::Error,
            Code::ReadFailed.id(),
            Code::ReadFailed.summary(),
            detail,
        )],
    };
    let files = if path.is_dir() {
        let entries = std::fs::read_dir(path)
            .map_err(|e| fail(format!("Cannot list directory `{}`: {e}.", path.display())))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
        if files.is_empty() {
            return Err(fail(format!(
                "Directory `{}` holds no `*.yaml` or `*.yml` files.",
                path.display()
            )));
        }
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut sources = Vec::with_capacity(files.len());
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| fail(format!("Cannot read `{}`: {e}.", file.display())))?;
        sources.push(Source { name: file, text });
    }
    load_sources(sources, opts)
}

/// Loads blueprint texts as if they were the files of a directory, in the given order.
pub fn load_sources(sources: Vec<Source>, opts: &LoadOptions) -> Result<Loaded, LoadFailure> {
    let mut report = Report::default();
    let mut documents = Vec::new();
    let mut incomplete = false;
    let mut hasher = Sha256::new();
    for (i, source) in sources.iter().enumerate() {
        let name = source
            .name
            .file_name()
            .map_or_else(|| source.name.to_string_lossy(), |n| n.to_string_lossy());
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        hasher.update((source.text.len() as u64).to_le_bytes());
        hasher.update(source.text.as_bytes());
        let before = report.len();
        documents.extend(yaml::parse(i, &source.text, &mut report));
        incomplete |= report.codes_since(before).any(|c| c == Code::YamlSyntax);
    }
    let names: Vec<PathBuf> = sources.iter().map(|s| s.name.clone()).collect();
    let input = fleet::Input {
        names: &names,
        documents,
        incomplete,
        today: opts.today,
        overrides: &opts.kubernetes_overrides,
        digest: hex::encode(hasher.finalize()),
    };
    let fleet = fleet::load(&mut report, input);
    let texts: Vec<Arc<str>> = sources.iter().map(|s| Arc::from(s.text.as_str())).collect();
    let diagnostics: Vec<Diagnostic> = report
        .into_sorted()
        .into_iter()
        .map(|item| to_diagnostic(item, &names, &texts))
        .collect();
    match fleet {
        Some(fleet) if !diagnostics.iter().any(|d| d.severity == Severity::Error) => Ok(Loaded {
            fleet,
            warnings: diagnostics,
        }),
        _ => Err(LoadFailure { diagnostics }),
    }
}

fn to_diagnostic(item: report::Item, names: &[PathBuf], texts: &[Arc<str>]) -> Diagnostic {
    let d = Diagnostic::new(
        item.severity,
        item.code.id(),
        item.code.summary(),
        item.detail,
    );
    let d = match item.help {
        Some(h) => d.with_help(h),
        None => d,
    };
    match item.span {
        Some(s) => {
            let location = Location {
                file: names.get(s.file).cloned().unwrap_or_default(),
                line: s.line,
                column: s.column,
                offset: s.offset,
                len: s.len,
            };
            let text = texts.get(s.file).cloned().unwrap_or_else(|| Arc::from(""));
            d.with_location(location, item.path, text)
        }
        None => d,
    }
}
