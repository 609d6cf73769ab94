//! Plan rendering: grouped by cluster, Terraform-style symbols, field-level diffs, summary line.

use std::fmt::Write;

use slipway_engine::{Action, Plan, PlannedAction};
use slipway_provider::Value;

const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// The human form of a plan.
pub fn render_plan(plan: &Plan, color: bool) -> String {
    let paint = |code: &str, text: &str| {
        if color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_owned()
        }
    };
    let mut text = String::new();
    let mut current_cluster: Option<&str> = None;
    let mut changed: Vec<&PlannedAction> = plan
        .actions
        .iter()
        .filter(|a| a.action != Action::NoOp)
        .collect();
    changed.sort_by(|a, b| a.address.cmp(&b.address));
    for action in changed {
        if current_cluster != Some(action.address.cluster.as_str()) {
            current_cluster = Some(&action.address.cluster);
            let _ = writeln!(text, "\n{}", paint(BOLD, &action.address.cluster));
        }
        let target = format!("{}/{}", action.address.kind, action.address.name);
        let line = match action.action {
            Action::Create => paint(GREEN, &format!("  + {target}")),
            Action::Update => paint(YELLOW, &format!("  ~ {target}")),
            Action::Replace {
                create_before_destroy: true,
            } => paint(YELLOW, &format!("  +/- {target} (create before destroy)")),
            Action::Replace {
                create_before_destroy: false,
            } => paint(RED, &format!("  -/+ {target}")),
            Action::Delete => paint(RED, &format!("  - {target}")),
            Action::NoOp => continue,
        };
        let _ = writeln!(text, "{line}");
        // A create's reason is always "new resource"; other reasons explain the action.
        if action.action != Action::Create && !action.reason.is_empty() {
            let _ = writeln!(text, "      # {}", action.reason);
        }
        if matches!(action.action, Action::Update | Action::Replace { .. }) {
            for diff in &action.diffs {
                let before = diff
                    .before
                    .as_ref()
                    .map(show)
                    .unwrap_or_else(|| "(none)".into());
                let after = diff
                    .after
                    .as_ref()
                    .map(show)
                    .unwrap_or_else(|| "(none)".into());
                let forces = if diff.forces_replacement {
                    "  # forces replacement"
                } else {
                    ""
                };
                let _ = writeln!(text, "      {}: {before} → {after}{forces}", diff.path);
            }
        }
    }
    let summary = plan.summary();
    if text.is_empty() {
        text.push_str("No changes. The fleet matches the blueprint.\n");
    } else {
        let _ = writeln!(
            text,
            "\nPlan: {} to add, {} to change, {} to replace, {} to destroy.",
            summary.add, summary.change, summary.replace, summary.destroy
        );
    }
    text
}

fn show(value: &Value) -> String {
    match value {
        Value::Ref(r) => format!("(known after apply: {r})"),
        other => other.to_string(),
    }
}

/// The JSON document of a plan (schema version 1).
pub fn plan_json(plan: &Plan) -> serde_json::Value {
    let summary = plan.summary();
    serde_json::json!({
        "version": 1,
        "digest": plan.digest(),
        "changes": plan.has_changes(),
        "summary": {
            "add": summary.add,
            "change": summary.change,
            "replace": summary.replace,
            "destroy": summary.destroy,
        },
        "plan": plan,
    })
}
