//! Helpers shared by the test modules.

use std::path::PathBuf;

use slipway_blueprints::{LoadOptions, Source, load_sources};

/// The evaluation day of every test.
pub fn options() -> LoadOptions {
    LoadOptions::new(jiff::civil::date(2026, 11, 21))
}

/// The path of a fixture file.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Loads named sources and renders every diagnostic with `render_plain`; `ok` when there is
/// none. Warnings of a successful load are rendered too.
pub fn check_sources(sources: &[(&str, &str)]) -> String {
    let sources = sources
        .iter()
        .map(|(n, t)| Source {
            name: (*n).into(),
            text: (*t).to_owned(),
        })
        .collect();
    let diagnostics = match load_sources(sources, &options()) {
        Ok(loaded) => loaded.warnings,
        Err(failure) => failure.diagnostics,
    };
    if diagnostics.is_empty() {
        return "ok".to_owned();
    }
    diagnostics
        .iter()
        .map(|d| d.render_plain())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// [`check_sources`] for one file named `fleet.yaml`.
pub fn check(yaml: &str) -> String {
    check_sources(&[("fleet.yaml", yaml)])
}
