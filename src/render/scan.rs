//! Scan reports as a terminal table, Markdown for change records, and SARIF 2.1.0 for
//! code-scanning UIs. JSON is the report's own serde form.

use std::fmt::Write as _;

use slipway_engine::scan::{Finding, FindingSeverity, ScanReport, rule};

fn location(f: &Finding) -> String {
    match (&f.location, &f.cluster) {
        (Some(l), _) => {
            let doc = l
                .document
                .filter(|d| *d > 0)
                .map(|d| format!(" (document {})", d + 1))
                .unwrap_or_default();
            format!("{}:{}:{}{doc}", l.file, l.line, l.column)
        }
        (None, Some(c)) => format!("{c} · {}", f.subject),
        (None, None) => f.subject.clone(),
    }
}

fn verdict(report: &ScanReport) -> String {
    let s = &report.summary;
    format!(
        "{} blocker(s), {} warning(s), {} info, {} ignored",
        s.blockers, s.warnings, s.info, s.ignored
    )
}

/// The terminal table.
pub fn scan_table(report: &ScanReport) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "Scan of fleet `{}` for Kubernetes {} on {}: {} manifest source(s), {} object(s), {} cluster(s)",
        report.fleet,
        report.target,
        report.today,
        report.sources,
        report.objects,
        report.clusters.len()
    );
    if !report.clusters.is_empty() {
        let rows: Vec<[String; 5]> = report
            .clusters
            .iter()
            .map(|c| {
                [
                    c.name.clone(),
                    c.cloud.clone(),
                    c.region.clone(),
                    format!("{}{}", c.current, if c.live { "" } else { " (blueprint)" }),
                    if c.path.is_empty() {
                        "—".to_owned()
                    } else {
                        c.path.join(" → ")
                    },
                ]
            })
            .collect();
        t.push('\n');
        table(
            &mut t,
            ["CLUSTER", "CLOUD", "REGION", "CURRENT", "PATH"],
            &rows,
        );
    }
    let shown: Vec<&Finding> = report.findings.iter().collect();
    if shown.is_empty() {
        t.push_str("\nNo findings.\n");
    } else {
        let rows: Vec<[String; 4]> = shown
            .iter()
            .map(|f| {
                [
                    if f.ignored.is_some() {
                        "ignored".to_owned()
                    } else {
                        f.severity.to_string()
                    },
                    f.rule.to_owned(),
                    location(f),
                    match &f.ignored {
                        Some(i) => {
                            format!("{} [ignored until {}: {}]", f.message, i.until, i.reason)
                        }
                        None => f.message.clone(),
                    },
                ]
            })
            .collect();
        t.push('\n');
        table(&mut t, ["SEVERITY", "RULE", "WHERE", "FINDING"], &rows);
    }
    let notes = all_notes(report);
    if !notes.is_empty() {
        t.push_str("\nNotes:\n");
        for n in notes {
            let _ = writeln!(t, "  - {n}");
        }
    }
    let _ = write!(
        t,
        "\nResult: {}{}",
        verdict(report),
        if report.blocking {
            " — the upgrade is blocked."
        } else {
            " — nothing blocks the upgrade."
        }
    );
    t
}

fn all_notes(report: &ScanReport) -> Vec<String> {
    report
        .clusters
        .iter()
        .flat_map(|c| c.notes.iter().map(move |n| format!("{}: {n}", c.name)))
        .chain(report.notes.iter().cloned())
        .collect()
}

pub(super) fn table<const N: usize>(out: &mut String, header: [&str; N], rows: &[[String; N]]) {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>, out: &mut String| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == N {
                text.push_str(cell);
            } else {
                let pad = widths[i] - cell.chars().count();
                text.push_str(cell);
                text.push_str(&" ".repeat(pad + 2));
            }
        }
        let _ = writeln!(out, "  {}", text.trim_end());
    };
    line(header.to_vec(), out);
    for row in rows {
        line(row.iter().map(String::as_str).collect(), out);
    }
}

pub(super) fn md(cell: &str) -> String {
    cell.replace('|', "\\|").replace('\n', " ")
}

/// Markdown for a change record.
pub fn scan_markdown(report: &ScanReport) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# Upgrade readiness: fleet `{}` → Kubernetes {}\n",
        report.fleet, report.target
    );
    let _ = writeln!(
        t,
        "Evaluated on {} · {} manifest source(s), {} object(s) · **{}**: {}\n",
        report.today,
        report.sources,
        report.objects,
        if report.blocking { "blocked" } else { "ready" },
        verdict(report)
    );
    if !report.clusters.is_empty() {
        t.push_str("## Clusters\n\n| Cluster | Cloud | Region | Current | Path | Cloud checks passed |\n|---|---|---|---|---|---|\n");
        for c in &report.clusters {
            let _ = writeln!(
                t,
                "| {} | {} | {} | {}{} | {} | {} |",
                md(&c.name),
                c.cloud,
                md(&c.region),
                md(&c.current),
                if c.live { "" } else { " (blueprint)" },
                if c.path.is_empty() {
                    "—".to_owned()
                } else {
                    c.path.join(" → ")
                },
                if c.checks_passed.is_empty() {
                    "—".to_owned()
                } else {
                    md(&c.checks_passed.join(", "))
                }
            );
        }
        t.push('\n');
    }
    let (ignored, active): (Vec<&Finding>, Vec<&Finding>) =
        report.findings.iter().partition(|f| f.ignored.is_some());
    t.push_str("## Findings\n\n");
    if active.is_empty() {
        t.push_str("None.\n\n");
    } else {
        t.push_str("| Severity | Rule | Where | Finding |\n|---|---|---|---|\n");
        for f in active {
            let _ = writeln!(
                t,
                "| {} | `{}` | {} | {} |",
                f.severity,
                f.rule,
                md(&location(f)),
                md(&f.message)
            );
        }
        t.push('\n');
    }
    if !ignored.is_empty() {
        t.push_str("## Ignored by exception\n\n| Rule | Where | Finding | Reason | Until |\n|---|---|---|---|---|\n");
        for f in ignored {
            if let Some(i) = &f.ignored {
                let _ = writeln!(
                    t,
                    "| `{}` | {} | {} | {} | {} |",
                    f.rule,
                    md(&location(f)),
                    md(&f.message),
                    md(&i.reason),
                    i.until
                );
            }
        }
        t.push('\n');
    }
    let notes = all_notes(report);
    if !notes.is_empty() {
        t.push_str("## Notes\n\n");
        for n in notes {
            let _ = writeln!(t, "- {}", n.replace('\n', " "));
        }
        t.push('\n');
    }
    t
}

/// SARIF 2.1.0: one run, every scan rule, one result per finding. Findings without a file point
/// at the blueprint and name the cluster as a logical location.
pub fn scan_sarif(report: &ScanReport, blueprint: &str) -> serde_json::Value {
    let rules: Vec<serde_json::Value> = rule::SCAN_RULES
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id,
                "name": r.id,
                "shortDescription": { "text": r.title },
                "help": { "text": r.help },
            })
        })
        .collect();
    let results: Vec<serde_json::Value> = report
        .findings
        .iter()
        .map(|f| {
            let level = match f.severity {
                FindingSeverity::Blocker => "error",
                FindingSeverity::Warning => "warning",
                FindingSeverity::Info => "note",
            };
            let (uri, line, column) = match &f.location {
                Some(l) => (l.file.clone(), l.line.max(1), l.column.max(1)),
                None => (blueprint.to_owned(), 1, 1),
            };
            let mut result = serde_json::json!({
                "ruleId": f.rule,
                "ruleIndex": rule::SCAN_RULES.iter().position(|r| r.id == f.rule),
                "level": level,
                "message": { "text": f.message },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri },
                        "region": { "startLine": line, "startColumn": column },
                    },
                }],
                "properties": {
                    "severity": f.severity,
                    "subject": f.subject,
                    "target": report.target,
                },
            });
            if let Some(c) = &f.cluster {
                result["locations"][0]["logicalLocations"] =
                    serde_json::json!([{ "name": c, "kind": "resource" }]);
            }
            if let Some(api) = &f.api {
                result["properties"]["api"] = serde_json::to_value(api).unwrap_or_default();
            }
            if let Some(i) = &f.ignored {
                result["suppressions"] = serde_json::json!([{
                    "kind": "external",
                    "status": "accepted",
                    "justification": format!("{} (until {})", i.reason, i.until),
                }]);
            }
            result
        })
        .collect();
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "slipway",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": "https://example.invalid/slipway/docs/scan.md",
                    "rules": rules,
                },
            },
            "results": results,
        }],
    })
}
