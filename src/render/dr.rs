//! DR output: the derivation of a standby, a drill's summary and Markdown evidence, and the
//! list of past drills.

use std::fmt::Write as _;

use slipway_blueprints::{DerivedStandby, StandbyMode};
use slipway_engine::dr::{Artifact, DrillRecord, DrillReport, human};

use super::scan::{md, table};

fn mode(m: StandbyMode) -> &'static str {
    match m {
        StandbyMode::PilotLight => "pilot-light",
        StandbyMode::Warm => "warm",
        StandbyMode::Hot => "hot",
    }
}

/// How the standby differs from its primary, as a table.
pub fn derivation(standby: &DerivedStandby) -> String {
    let c = &standby.cluster;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "Standby `{}` of `{}`: {} {} ({}), network {}, mode {}, RTO {}",
        c.name,
        standby.primary,
        c.provider,
        c.region,
        if c.zones.is_empty() {
            "no zones".to_owned()
        } else {
            c.zones.join(", ")
        },
        c.network.cidr,
        mode(standby.mode),
        human(standby.rto.as_secs_f64()),
    );
    let rows: Vec<[String; 4]> = standby
        .changes
        .iter()
        .map(|d| {
            [
                d.field.clone(),
                d.primary.clone(),
                d.standby.clone(),
                d.reason.clone(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        table(&mut t, ["FIELD", "PRIMARY", "STANDBY", "WHY"], &rows);
    }
    t
}

/// Whether durations are real cloud time (no emulator speed-up to explain).
fn real_time(scale: f64) -> bool {
    (scale - 1.0).abs() < f64::EPSILON
}

fn seconds(wall: f64, cloud: f64, scale: f64) -> String {
    if real_time(scale) {
        human(wall)
    } else {
        format!("{} ({:.1}s wall)", human(cloud), wall)
    }
}

/// What a finished drill prints.
pub fn summary(report: &DrillReport, artifacts: &[Artifact]) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "\n{}", report.verdict);
    let _ = writeln!(
        t,
        "Drill {} of `{}` → `{}` ({}, {}):",
        report.id,
        report.primary.name,
        report.standby.name,
        report.standby.region,
        report.kind.as_str()
    );
    let checks: Vec<[String; 3]> = report
        .checks
        .iter()
        .map(|c| {
            [
                c.name.clone(),
                if c.passed { "pass" } else { "FAIL" }.to_owned(),
                c.details.join("; "),
            ]
        })
        .collect();
    table(&mut t, ["CHECK", "RESULT", "DETAIL"], &checks);
    let _ = writeln!(t);
    let phases: Vec<[String; 3]> = report
        .phases
        .iter()
        .map(|p| {
            [
                p.phase.clone(),
                seconds(p.wall_seconds, p.cloud_seconds, report.time_scale),
                if p.failed > 0 {
                    format!("{} ops, {} failed", p.operations, p.failed)
                } else {
                    format!("{} ops", p.operations)
                },
            ]
        })
        .collect();
    table(&mut t, ["PHASE", "DURATION", "OPERATIONS"], &phases);
    let _ = writeln!(
        t,
        "\nReady after {} against an RTO of {}{}.",
        human(report.recovery.cloud_seconds),
        human(report.recovery.rto_seconds as f64),
        if real_time(report.time_scale) {
            String::new()
        } else {
            format!(
                " (emulator time scale {}: {:.1}s wall)",
                report.time_scale, report.recovery.wall_seconds
            )
        }
    );
    if let Some(td) = &report.teardown {
        if td.succeeded {
            let _ = writeln!(
                t,
                "Torn down in {}; state holds nothing of `{}`.",
                human(td.cloud_seconds),
                report.standby.name
            );
        } else {
            let _ = writeln!(
                t,
                "TEARDOWN INCOMPLETE: {} still recorded; {}",
                td.remaining.len(),
                td.errors.join("; ")
            );
        }
    }
    for note in &report.notes {
        let _ = writeln!(t, "note: {note}");
    }
    for a in artifacts {
        let _ = writeln!(t, "Evidence: {} (sha256 {})", a.path, a.sha256);
    }
    t
}

/// The drill report as Markdown evidence.
pub fn markdown(report: &DrillReport) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# DR drill `{}`: `{}` → `{}`\n\n**{}**\n",
        report.id,
        report.primary.name,
        report.standby.name,
        md(&report.verdict)
    );
    let facts = [
        ("Fleet", report.fleet.clone()),
        ("Run by", report.who.clone()),
        ("Started", report.started_at.to_string()),
        ("Finished", report.finished_at.to_string()),
        (
            "Primary",
            format!(
                "{} {} `{}`",
                report.primary.provider, report.primary.region, report.primary.cidr
            ),
        ),
        (
            "Standby",
            format!(
                "{} {} `{}`, mode {}",
                report.standby.provider,
                report.standby.region,
                report.standby.cidr,
                mode(report.standby.mode)
            ),
        ),
        ("Drill kind", report.kind.as_str().to_owned()),
        (
            "Ready after",
            format!(
                "{} (RTO {}, {})",
                human(report.recovery.cloud_seconds),
                human(report.recovery.rto_seconds as f64),
                if report.recovery.within_rto {
                    "within"
                } else {
                    "exceeded"
                }
            ),
        ),
        ("Time scale", report.time_scale.to_string()),
        ("Blueprint digest", format!("`{}`", report.blueprint_digest)),
        ("Plan digest", format!("`{}`", report.plan_digest)),
        (
            "Git commit",
            report
                .git_commit
                .as_deref()
                .map_or_else(|| "-".to_owned(), |c| format!("`{c}`")),
        ),
    ];
    let _ = writeln!(t, "| | |\n|---|---|");
    for (k, v) in facts {
        let _ = writeln!(t, "| {k} | {} |", md(&v));
    }
    let _ = writeln!(
        t,
        "\n## Readiness checks\n\n| Check | Result | Detail |\n|---|---|---|"
    );
    for c in &report.checks {
        let _ = writeln!(
            t,
            "| {} | {} | {} |",
            c.name,
            if c.passed { "pass" } else { "**FAIL**" },
            md(&c.details.join("; "))
        );
    }
    let _ = writeln!(
        t,
        "\n## Phases\n\n| Phase | Started after (s, wall) | Wall (s) | Cloud time | Operations | Failed |\n|---|---|---|---|---|---|"
    );
    for p in &report.phases {
        let _ = writeln!(
            t,
            "| {} | {:.2} | {:.2} | {} | {} | {} |",
            p.phase,
            p.started_after_seconds,
            p.wall_seconds,
            human(p.cloud_seconds),
            p.operations,
            p.failed
        );
    }
    let _ = writeln!(t, "\n## Versions\n");
    let _ = writeln!(
        t,
        "- Kubernetes: {}",
        report.versions.kubernetes.as_deref().unwrap_or("-")
    );
    for (name, v) in &report.versions.node_pools {
        let _ = writeln!(t, "- node pool `{name}`: {}", md(v));
    }
    for (name, v) in &report.versions.addons {
        let _ = writeln!(t, "- add-on `{name}`: {}", md(v));
    }
    if !report.derivation.is_empty() {
        let _ = writeln!(
            t,
            "\n## Derivation\n\n| Field | Primary | Standby | Why |\n|---|---|---|---|"
        );
        for d in &report.derivation {
            let _ = writeln!(
                t,
                "| `{}` | {} | {} | {} |",
                d.field,
                md(&d.primary),
                md(&d.standby),
                md(&d.reason)
            );
        }
    }
    if let Some(td) = &report.teardown {
        let _ = writeln!(
            t,
            "\n## Teardown\n\n{} in {}{}",
            if td.succeeded {
                "Complete"
            } else {
                "**Incomplete**"
            },
            human(td.cloud_seconds),
            if td.remaining.is_empty() {
                String::new()
            } else {
                format!("; still recorded: {}", td.remaining.join(", "))
            }
        );
        for e in &td.errors {
            let _ = writeln!(t, "- {}", md(e));
        }
    }
    let _ = writeln!(
        t,
        "\n## Timeline\n\n| At (s, wall) | Event | Resource | Phase |\n|---|---|---|---|"
    );
    for e in &report.timeline {
        let _ = writeln!(
            t,
            "| {:.2} | {} {} | `{}` | {} |",
            e.at_seconds,
            e.action,
            e.event,
            e.address,
            e.phase.as_str()
        );
    }
    if !report.notes.is_empty() {
        let _ = writeln!(t, "\n## Notes\n");
        for n in &report.notes {
            let _ = writeln!(t, "- {}", md(n));
        }
    }
    t
}

/// Past drills, newest last.
pub fn drill_table(drills: &[(DrillRecord, Vec<&'static str>)]) -> String {
    let rows: Vec<[String; 8]> = drills
        .iter()
        .map(|(d, checked)| {
            [
                d.drill.clone(),
                d.started_at.strftime("%Y-%m-%d %H:%M").to_string(),
                format!("{} → {}", d.primary, d.standby),
                d.kind.as_str().to_owned(),
                if d.passed {
                    "pass".to_owned()
                } else if d.failed_checks.is_empty() {
                    "FAIL".to_owned()
                } else {
                    format!("FAIL ({})", d.failed_checks.join(", "))
                },
                format!(
                    "{} / {}",
                    human(d.recovery_seconds),
                    human(d.rto_seconds as f64)
                ),
                match d.teardown {
                    None => "-".to_owned(),
                    Some(true) => "done".to_owned(),
                    Some(false) => "INCOMPLETE".to_owned(),
                },
                if checked.is_empty() {
                    "-".to_owned()
                } else {
                    checked.join(", ")
                },
            ]
        })
        .collect();
    let mut t = String::new();
    table(
        &mut t,
        [
            "DRILL",
            "STARTED",
            "PRIMARY → STANDBY",
            "KIND",
            "RESULT",
            "READY / RTO",
            "TEARDOWN",
            "EVIDENCE",
        ],
        &rows,
    );
    t
}
