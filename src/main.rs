//! The `slipway` binary: parses argv, wires the blueprint loader, providers, state backend and
//! engine together, and renders results. The only crate that prints.

mod cli;
mod cloud;
mod commands;
mod context;
mod failure;
mod render;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::render::Out;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = Out::new(&cli.global);
    init_tracing(&cli.global);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            out.error(&format!("cannot start the async runtime: {e}"));
            return ExitCode::from(failure::EXIT_ERROR);
        }
    };
    match runtime.block_on(commands::run(cli, &out)) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => ExitCode::from(out.failure(&failure)),
    }
}

fn init_tracing(global: &cli::Global) {
    let level = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SLIPWAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(!global.no_color)
        .without_time()
        .init();
}
