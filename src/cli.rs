//! Command-line definitions: the user-facing contract of `docs/cli.md`. Parsing only.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Slipway: declarative EKS and AKS fleets.
#[derive(Debug, Parser)]
#[command(name = "slipway", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args)]
pub struct Global {
    /// Where state lives: `sqlite:PATH` (default `.slipway/state.db` beside the blueprint).
    #[arg(long, global = true, env = "SLIPWAY_STATE", value_name = "URL")]
    pub state: Option<String>,

    /// Output format; `json` writes exactly one JSON document to stdout.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,

    /// The date used for support calendars and exception expiry (YYYY-MM-DD).
    #[arg(long, global = true, env = "SLIPWAY_TODAY", value_name = "DATE")]
    pub today: Option<String>,

    /// More detail (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Never colour output.
    #[arg(long, global = true, env = "NO_COLOR", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_color: bool,

    /// Cloud operations in flight at once.
    #[arg(long, global = true, default_value_t = 16, value_name = "N")]
    pub parallelism: usize,

    /// Run against the embedded cloud emulator (cloud kept under `.slipway/emulator/` beside
    /// the blueprint) with fake credentials.
    #[arg(long, global = true, conflicts_with = "emulator_url")]
    pub emulator: bool,

    /// Use an emulator already running (`slipway emulator serve`) at this URL.
    #[arg(long, global = true, env = "SLIPWAY_EMULATOR_URL", value_name = "URL")]
    pub emulator_url: Option<String>,

    /// Emulated cloud operations run this many times faster than in real clouds.
    #[arg(long, global = true, default_value_t = DEFAULT_TIME_SCALE, value_name = "F")]
    pub time_scale: f64,

    /// Faults the embedded emulator injects, e.g. `throttle=0.2,5xx=0.05,seed=7`.
    #[arg(
        long,
        global = true,
        env = "SLIPWAY_EMULATOR_FAULTS",
        value_name = "SPEC"
    )]
    pub emulator_faults: Option<String>,
}

/// Emulated operations run 60 times faster: a 10-minute EKS create takes 10 s, so the
/// quickstart fleet applies in well under a minute while progress stays readable.
pub const DEFAULT_TIME_SCALE: f64 = 60.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and validate a blueprint; diagnostics on stderr.
    Validate(BlueprintArgs),
    /// Show what `apply` would do.
    Plan(PlanArgs),
    /// Converge the fleet to the blueprint.
    Apply(ApplyArgs),
    /// Delete what Slipway owns, in reverse dependency order.
    Destroy(DestroyArgs),
    /// Print the resource graph.
    Graph(GraphArgs),
    /// Inspect recorded state and the journal.
    State(StateArgs),
    /// Deprecation and upgrade-readiness scan against a target Kubernetes minor; exit 5 when
    /// anything blocks the upgrade.
    Scan(ScanArgs),
    /// Upgrade rings: move the fleet to a Kubernetes minor ring by ring, one minor at a time.
    Upgrade(UpgradeArgs),
    /// DR standbys: derive, build and drill a primary's standby in another region.
    Dr(DrArgs),
    /// Print the blueprint JSON Schema.
    Schema,
    /// Run the cloud emulator.
    Emulator(EmulatorArgs),
}

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    #[command(subcommand)]
    pub command: EmulatorCommand,
}

#[derive(Debug, Subcommand)]
pub enum EmulatorCommand {
    /// Serve the emulated AWS APIs until interrupted.
    Serve {
        /// Port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 4566)]
        port: u16,
        /// Directory the emulated cloud persists in; in memory when absent.
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Seed for ids, latency jitter and injected faults.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

#[derive(Debug, Args)]
pub struct BlueprintArgs {
    /// Blueprint file, or a directory of YAML files merged in name order.
    pub blueprint: PathBuf,
}

#[derive(Debug, Args)]
pub struct Selection {
    /// Limit to these clusters (repeatable).
    #[arg(long = "cluster", value_name = "NAME")]
    pub clusters: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub blueprint: BlueprintArgs,
    /// Manifests to check: files, directories (recursive; *.yaml, *.yml, *.json), or `-` for
    /// standard input (e.g. `helm template … | slipway scan fleet.yaml -`).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Target Kubernetes minor, e.g. `1.33`.
    #[arg(long = "to", value_name = "VERSION")]
    pub to: String,
    /// Report format; `--output json` also selects JSON.
    #[arg(long, value_enum, default_value_t = ScanFormat::Table)]
    pub format: ScanFormat,
    /// Suppress a rule: `RULE[@SUBJECT] until YYYY-MM-DD: REASON` (repeatable). SUBJECT is an
    /// `apiVersion/Kind`, a cluster, a file, `pool NAME` or an add-on. Expired exceptions block.
    #[arg(long = "ignore", value_name = "EXCEPTION")]
    pub ignores: Vec<String>,
    /// Read live objects from the cluster API with this kubeconfig (for one selected cluster its
    /// current or `--context` context; for several, the context named after each cluster).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use when one cluster is selected.
    #[arg(long, value_name = "NAME", requires = "kubeconfig")]
    pub context: Option<String>,
    /// Do not read the cloud: judge readiness from the blueprint and calendars only.
    #[arg(long)]
    pub no_cloud: bool,
    #[command(flatten)]
    pub selection: Selection,
}

#[derive(Debug, Args)]
pub struct UpgradeArgs {
    #[command(subcommand)]
    pub command: UpgradeCommand,
}

/// What every upgrade subcommand names: the blueprint and the target minor.
#[derive(Debug, Args)]
pub struct RolloutTarget {
    #[command(flatten)]
    pub blueprint: BlueprintArgs,
    /// Target Kubernetes minor, e.g. `1.36`.
    #[arg(long = "to", value_name = "VERSION")]
    pub to: String,
}

#[derive(Debug, Subcommand)]
pub enum UpgradeCommand {
    /// Show the rollout: rings in order, each cluster's hops and steps.
    Plan(RolloutTarget),
    /// Do whatever is due now and stop; exit 0 after doing something (or when finished), 6 when
    /// only waiting remains (soak, approval, pause), 1 when a ring halted. Safe to schedule.
    Advance(RolloutTarget),
    /// Drive the rollout to the end in this process, sleeping through soaks; stops (exit 6) at an
    /// approval or a pause, and (exit 1) when a ring halts.
    Run(RolloutTarget),
    /// Where every ring and cluster stands, and what happens next.
    Status {
        #[command(flatten)]
        target: RolloutTarget,
        /// Also list every journaled rollout event (the evidence: who, when, gate results,
        /// versions before and after).
        #[arg(long)]
        events: bool,
    },
    /// Approve a ring that requires it.
    Approve {
        #[command(flatten)]
        target: RolloutTarget,
        /// The ring.
        #[arg(long, value_name = "NAME")]
        ring: String,
    },
    /// Stop starting anything until `resume`.
    Pause {
        #[command(flatten)]
        target: RolloutTarget,
        /// Why (recorded).
        #[arg(long, value_name = "TEXT", default_value = "paused by an operator")]
        reason: String,
    },
    /// Undo `pause`.
    Resume(RolloutTarget),
    /// Run a failed cluster's failed step again.
    Retry {
        #[command(flatten)]
        target: RolloutTarget,
        /// The cluster.
        #[arg(long, value_name = "NAME")]
        cluster: String,
    },
    /// Leave a cluster out of the rollout (recorded with the reason).
    Skip {
        #[command(flatten)]
        target: RolloutTarget,
        /// The cluster.
        #[arg(long, value_name = "NAME")]
        cluster: String,
        /// Why (required).
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
}

#[derive(Debug, Args)]
pub struct DrArgs {
    #[command(subcommand)]
    pub command: DrCommand,
}

/// What `dr plan`, `build` and `drill` name: the blueprint and a primary cluster.
#[derive(Debug, Args)]
pub struct DrTarget {
    #[command(flatten)]
    pub blueprint: BlueprintArgs,
    /// The primary cluster (or its standby's name).
    #[arg(long, value_name = "NAME")]
    pub cluster: String,
}

#[derive(Debug, Subcommand)]
pub enum DrCommand {
    /// Show the standby derived from the primary and the plan that builds it; exit 2 when
    /// there are changes.
    Plan(DrTarget),
    /// Build or converge the standby through the normal plan and walk; once built, `apply`
    /// keeps it converged.
    Build {
        #[command(flatten)]
        target: DrTarget,
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
    },
    /// Build (or verify) the standby, check its readiness, time each phase against the RTO and
    /// write the evidence; exit 7 when the drill fails.
    Drill {
        #[command(flatten)]
        target: DrTarget,
        /// Delete the standby afterwards, whatever the outcome.
        #[arg(long)]
        teardown: bool,
        /// Where the JSON and Markdown evidence go (default `.slipway/drills/` beside the
        /// blueprint).
        #[arg(long, value_name = "DIR")]
        evidence_dir: Option<PathBuf>,
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
    },
    /// List past drills from the state journal and verify their evidence digests.
    Report {
        #[command(flatten)]
        blueprint: BlueprintArgs,
        /// Only drills of this primary.
        #[arg(long, value_name = "NAME")]
        cluster: Option<String>,
    },
}

/// How `scan` writes its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScanFormat {
    /// A table for terminals.
    Table,
    /// The JSON report.
    Json,
    /// Markdown for change records.
    Markdown,
    /// SARIF 2.1.0 for code-scanning UIs.
    Sarif,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub blueprint: BlueprintArgs,
    /// Save the plan to this file for `apply --plan`.
    #[arg(long, value_name = "PLAN")]
    pub out: Option<PathBuf>,
    /// Read live cloud objects before diffing.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,
    /// Plan the destruction of everything recorded.
    #[arg(long)]
    pub destroy: bool,
    #[command(flatten)]
    pub selection: Selection,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub blueprint: BlueprintArgs,
    /// Apply this saved plan exactly, or refuse if state or blueprint moved since.
    #[arg(long, value_name = "PLAN")]
    pub plan: Option<PathBuf>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// Read live cloud objects before diffing.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,
    #[command(flatten)]
    pub selection: Selection,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub blueprint: BlueprintArgs,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    #[command(flatten)]
    pub selection: Selection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
    Json,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub blueprint: BlueprintArgs,
    /// Graph notation.
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
    #[command(flatten)]
    pub selection: Selection,
}

#[derive(Debug, Args)]
pub struct StateArgs {
    #[command(subcommand)]
    pub command: StateCommand,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List recorded resources.
    List {
        #[command(flatten)]
        blueprint: BlueprintArgs,
        #[command(flatten)]
        selection: Selection,
    },
    /// Show one recorded resource.
    Show {
        #[command(flatten)]
        blueprint: BlueprintArgs,
        /// Resource address `cluster/kind/name`.
        address: String,
    },
    /// Runs, newest first, with their journal.
    History {
        #[command(flatten)]
        blueprint: BlueprintArgs,
        /// How many runs.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Show the journal of this run.
        #[arg(long, value_name = "RUN_ID")]
        run: Option<String>,
    },
    /// Copy all state (resources, history, journal) into another, empty, backend.
    Migrate {
        #[command(flatten)]
        blueprint: BlueprintArgs,
        /// Destination, e.g. `s3://bucket/prefix`, `azblob://account/container/prefix`,
        /// `postgres://host/db`, `sqlite:PATH`.
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Release the state lock.
    Unlock {
        #[command(flatten)]
        blueprint: BlueprintArgs,
        /// Release the lock with this id even though this process does not hold it.
        #[arg(long, value_name = "ID")]
        force: String,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
