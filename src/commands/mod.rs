//! One module per command; each returns the process exit code or a [`Failure`].

mod apply;
mod graph;
mod plan;
mod state;
mod validate;

use crate::cli::{Cli, Command};
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
        Command::Schema => {
            out.document(&slipway_blueprints::schema());
            Ok(failure::EXIT_OK)
        }
    }
}
