//! One module per command; each returns the process exit code or a [`Failure`].

mod apply;
mod dr;
mod graph;
mod plan;
mod scan;
mod state;
mod upgrade;
mod validate;

use crate::cli::{Cli, Command, EmulatorCommand, Global};
use crate::failure::{self, Failure};
use crate::render::Out;

/// Runs the parsed command.
pub async fn run(cli: Cli, out: &Out) -> Result<u8, Failure> {
    let global = &cli.global;
    match cli.command {
        Command::Validate(args) => validate::run(&args, global, out),
        Command::Plan(args) => plan::run(&args, global, out).await,
        Command::Apply(args) => apply::apply(&args, global, out).await,
        Command::Destroy(args) => apply::destroy(&args, global, out).await,
        Command::Graph(args) => graph::run(&args, global, out),
        Command::State(args) => state::run(args.command, global, out).await,
        Command::Scan(args) => scan::run(&args, global, out).await,
        Command::Upgrade(args) => upgrade::run(args.command, global, out).await,
        Command::Dr(args) => dr::run(args.command, global, out).await,
        Command::Emulator(args) => emulator(args.command, global, out).await,
        Command::Schema => {
            out.document(&slipway_blueprints::schema());
            Ok(failure::EXIT_OK)
        }
    }
}

async fn emulator(command: EmulatorCommand, global: &Global, out: &Out) -> Result<u8, Failure> {
    match command {
        EmulatorCommand::Serve { port, data, seed } => {
            let running = crate::cloud::serve(port, data.as_deref(), seed, global).await?;
            if out.json() {
                out.document(&serde_json::json!({ "version": 1, "url": running.url() }));
            } else {
                out.line(&format!(
                    "Emulator listening on {} (time scale {}); point slipway at it with --emulator-url {}",
                    running.url(),
                    global.time_scale,
                    running.url()
                ));
            }
            let stopped = tokio::signal::ctrl_c().await;
            running.shutdown().await;
            stopped?;
            Ok(failure::EXIT_OK)
        }
    }
}
