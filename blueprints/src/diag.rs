//! Blueprint diagnostics: what went wrong, where, and how to fix it.
//!
//! Every problem found while loading a blueprint becomes one [`Diagnostic`] with a stable code,
//! a summary that is the same for every instance of that code, a detail in full sentences, an
//! optional help line and the file position plus YAML path of the offending node. This module
//! only describes and renders diagnostics; it must never decide whether something is an error.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use miette::{LabeledSpan, NamedSource, SourceCode};
use serde::Serialize;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Loading fails.
    Error,
    /// Loading succeeds; the user should still look.
    Warning,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// Where in a blueprint file a diagnostic points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The file, as given to the loader.
    pub file: PathBuf,
    /// Line, 1-based.
    pub line: usize,
    /// Column in characters, 1-based.
    pub column: usize,
    /// Byte offset of the node in the file.
    pub offset: usize,
    /// Length of the node in bytes.
    pub len: usize,
}

/// One problem found in a blueprint.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable code, e.g. `unknown-field`, or an invariant rule id such as `prod-min-zones`.
    pub code: &'static str,
    /// Constant text for the code, lowercase, without a trailing period.
    pub summary: String,
    /// What is wrong, in full sentences with identifiers in backticks.
    pub detail: String,
    /// How to fix it (often "did you mean …?").
    pub help: Option<String>,
    /// The offending node, when there is one.
    pub location: Option<Location>,
    /// YAML path of the offending node, e.g. `clusters[1].nodePools[0].min`.
    pub yaml_path: String,
    #[serde(skip)]
    source: Option<Arc<NamedSource<Arc<str>>>>,
}

impl Diagnostic {
    /// A diagnostic without a location; use the `with_*` methods to add one.
    pub fn new(
        severity: Severity,
        code: &'static str,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            severity,
            code,
            summary: summary.into(),
            detail: detail.into(),
            help: None,
            location: None,
            yaml_path: String::new(),
            source: None,
        }
    }

    /// Adds a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Points the diagnostic at a node of a source text (used for graphical rendering).
    pub fn with_location(
        mut self,
        location: Location,
        yaml_path: impl Into<String>,
        text: Arc<str>,
    ) -> Self {
        let name = location.file.display().to_string();
        self.location = Some(location);
        self.yaml_path = yaml_path.into();
        self.source = Some(Arc::new(NamedSource::new(name, text)));
        self
    }

    /// Stable plain-text rendering: a `file:line:col: error[code]: summary` header, then the
    /// YAML path, the detail and the help, each indented by two spaces.
    pub fn render_plain(&self) -> String {
        let mut out = String::new();
        if let Some(loc) = &self.location {
            out.push_str(&format!(
                "{}:{}:{}: ",
                loc.file.display(),
                loc.line,
                loc.column
            ));
        }
        out.push_str(&format!(
            "{}[{}]: {}",
            self.severity.as_str(),
            self.code,
            self.summary
        ));
        if !self.yaml_path.is_empty() {
            out.push_str(&format!("\n  at: {}", self.yaml_path));
        }
        if !self.detail.is_empty() {
            out.push_str(&format!("\n  {}", self.detail));
        }
        if let Some(help) = &self.help {
            out.push_str(&format!("\n  help: {help}"));
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary)
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        // Without a span there is no label to carry the detail, so the help line carries it.
        let text = match (&self.location, &self.help) {
            (Some(_), Some(help)) => format!("{help}\nat: {}", self.yaml_path),
            (Some(_), None) => format!("at: {}", self.yaml_path),
            (None, Some(help)) => format!("{}\n{help}", self.detail),
            (None, None) => self.detail.clone(),
        };
        Some(Box::new(text))
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_deref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let loc = self.location.as_ref()?;
        let span =
            LabeledSpan::new_primary_with_span(Some(self.detail.clone()), (loc.offset, loc.len));
        Some(Box::new(std::iter::once(span)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Diagnostic {
        let text: Arc<str> = Arc::from("a: 1\nb: x\n");
        let loc = Location {
            file: "f.yaml".into(),
            line: 2,
            column: 4,
            offset: 8,
            len: 1,
        };
        Diagnostic::new(
            Severity::Error,
            "wrong-type",
            "wrong type",
            "expected an integer, found a string",
        )
        .with_help("write a number")
        .with_location(loc, "b", text)
    }

    #[test]
    fn plain_rendering_is_stable() {
        assert_eq!(
            sample().render_plain(),
            "f.yaml:2:4: error[wrong-type]: wrong type\n  at: b\n  expected an integer, found a string\n  help: write a number"
        );
    }

    #[test]
    fn graphical_rendering_shows_the_labelled_source() {
        let mut text = String::new();
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .render_report(&mut text, &sample())
            .unwrap();
        assert!(text.contains("b: x"), "{text}");
        assert!(text.contains("expected an integer"), "{text}");
    }
}
