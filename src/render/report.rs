//! The end-of-run summary of an apply or destroy.

use slipway_engine::{ApplyReport, OutcomeResult, Plan};

/// One line: what succeeded, failed and was skipped, and how long it took.
pub fn report_summary(report: &ApplyReport, operation: &str) -> String {
    let mut text = format!(
        "{} {}: {} succeeded, {} failed, {} skipped in {:.1}s (run {}).",
        capitalised(operation),
        if report.is_success() {
            "complete"
        } else {
            "incomplete"
        },
        report.succeeded,
        report.failed.len(),
        report.skipped.len(),
        report.elapsed.as_secs_f64(),
        report.run_id
    );
    for outcome in &report.outcomes {
        match &outcome.result {
            OutcomeResult::Failed { error } => text.push_str(&format!(
                "\n  ✗ {}: {}",
                outcome.address,
                without_address(error, &outcome.address)
            )),
            OutcomeResult::Skipped { because } => text.push_str(&format!(
                "\n  ○ {}: skipped because {because} failed",
                outcome.address
            )),
            OutcomeResult::Succeeded { .. } => {}
        }
    }
    text
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The JSON document of a finished run (schema version 1).
pub fn report_json(report: &ApplyReport, plan: &Plan) -> serde_json::Value {
    let outcomes: Vec<serde_json::Value> = report
        .outcomes
        .iter()
        .map(|o| {
            let (result, extra) = match &o.result {
                OutcomeResult::Succeeded { elapsed } => (
                    "succeeded",
                    serde_json::json!({ "elapsed_s": elapsed.as_secs_f64() }),
                ),
                OutcomeResult::Failed { error } => {
                    ("failed", serde_json::json!({ "error": error }))
                }
                OutcomeResult::Skipped { because } => {
                    ("skipped", serde_json::json!({ "because": because }))
                }
            };
            let mut entry =
                serde_json::json!({ "address": o.address, "deposed": o.deposed, "result": result });
            if let (Some(entry), Some(extra)) = (entry.as_object_mut(), extra.as_object()) {
                entry.extend(extra.clone());
            }
            entry
        })
        .collect();
    serde_json::json!({
        "version": 1,
        "changes": true,
        "run_id": report.run_id,
        "plan_digest": plan.digest(),
        "success": report.is_success(),
        "succeeded": report.succeeded,
        "failed": report.failed,
        "skipped": report.skipped,
        "elapsed_s": report.elapsed.as_secs_f64(),
        "outcomes": outcomes,
    })
}

/// Provider errors already start with the resource address; lines that name it first drop it.
pub fn without_address<'e>(error: &'e str, address: &slipway_provider::Address) -> &'e str {
    let prefix = format!("{address}: ");
    error.strip_prefix(prefix.as_str()).unwrap_or(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_not_repeated() {
        let a: slipway_provider::Address = "c/aws.vpc/main".parse().unwrap();
        assert_eq!(
            without_address("c/aws.vpc/main: CreateVpc failed: X: y", &a),
            "CreateVpc failed: X: y"
        );
        assert_eq!(without_address("walk stopped", &a), "walk stopped");
    }
}
