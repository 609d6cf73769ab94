//! Rendering: the only place that writes to stdout and stderr.
//!
//! Human output goes to stdout (results) and stderr (diagnostics, progress); in JSON mode stdout
//! carries exactly one JSON document and nothing else.

pub mod dr;
mod plan;
mod progress;
mod report;
mod scan;
mod upgrade;

use std::io::{IsTerminal, Write};

pub use plan::{plan_json, render_plan};
pub use progress::ProgressRenderer;
pub use report::{report_json, report_summary};
pub use scan::{scan_markdown, scan_sarif, scan_table};
pub use upgrade::{
    RolloutLog, advance_json, advance_summary, rollout_plan, rollout_plan_json, status_json,
    status_table,
};

use crate::cli::{Global, OutputFormat};
use crate::failure::Failure;

/// Where and how to write.
pub struct Out {
    pub format: OutputFormat,
    /// Colour diagnostics and progress on stderr.
    pub color: bool,
    /// Colour results on stdout.
    pub color_stdout: bool,
    pub quiet: bool,
    pub stderr_is_terminal: bool,
}

impl Out {
    pub fn new(global: &Global) -> Self {
        let stderr_is_terminal = std::io::stderr().is_terminal();
        Self {
            format: global.output,
            color: !global.no_color && stderr_is_terminal,
            color_stdout: !global.no_color && std::io::stdout().is_terminal(),
            quiet: global.quiet,
            stderr_is_terminal,
        }
    }

    pub fn json(&self) -> bool {
        self.format == OutputFormat::Json
    }

    /// Writes a result line to stdout (human mode only).
    pub fn line(&self, text: &str) {
        if !self.json() {
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{text}");
        }
    }

    /// Writes the JSON document of this command to stdout.
    pub fn document(&self, value: &serde_json::Value) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
    }

    /// Writes a note to stderr unless quiet.
    pub fn note(&self, text: &str) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr().lock(), "{text}");
        }
    }

    /// Writes an error line to stderr.
    pub fn error(&self, text: &str) {
        let _ = writeln!(std::io::stderr().lock(), "error: {text}");
    }

    /// Renders blueprint diagnostics to stderr: graphical on a terminal, plain otherwise.
    pub fn diagnostics(&self, diagnostics: &[slipway_blueprints::Diagnostic]) {
        let mut stderr = std::io::stderr().lock();
        for d in diagnostics {
            if self.color {
                let mut text = String::new();
                let handler = miette::GraphicalReportHandler::new();
                if handler.render_report(&mut text, d).is_ok() {
                    let _ = write!(stderr, "{text}");
                    continue;
                }
            }
            let _ = writeln!(stderr, "{}\n", d.render_plain());
        }
    }

    /// Reports a failure and returns its exit code.
    pub fn failure(&self, failure: &Failure) -> u8 {
        match failure {
            Failure::Invalid(diagnostics) => {
                self.diagnostics(diagnostics);
                let errors = diagnostics
                    .iter()
                    .filter(|d| d.severity == slipway_blueprints::Severity::Error)
                    .count();
                if self.json() {
                    self.document(&serde_json::json!({
                        "version": 1,
                        "valid": false,
                        "diagnostics": diagnostics,
                    }));
                }
                self.error(&format!("blueprint has {errors} error(s)"));
            }
            Failure::Locked(lock) => {
                if self.json() {
                    self.document(
                        &serde_json::json!({ "version": 1, "error": "locked", "lock": lock }),
                    );
                }
                self.error(&format!(
                    "state is locked by {} for `{}` since {} (lock id {}); wait for that run, or if it died run `slipway state unlock --force {}`",
                    lock.holder, lock.operation, lock.since, lock.id, lock.id
                ));
            }
            Failure::Error(report) => {
                if self.json() {
                    self.document(
                        &serde_json::json!({ "version": 1, "error": format!("{report}") }),
                    );
                }
                let mut stderr = std::io::stderr().lock();
                if self.stderr_is_terminal {
                    let _ = writeln!(stderr, "error: {report:?}");
                } else {
                    // Logs are grepped: one unwrapped line per cause, no box drawing.
                    let _ = writeln!(stderr, "error: {report}");
                    for cause in report.chain().skip(1) {
                        let _ = writeln!(stderr, "  caused by: {cause}");
                    }
                }
            }
        }
        failure.exit_code()
    }
}
