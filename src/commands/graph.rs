//! `slipway graph`: the resource graph as DOT, Mermaid or JSON.

use crate::cli::{Global, GraphArgs, GraphFormat};
use crate::context;
use crate::failure::{EXIT_OK, Failure};
use crate::render::Out;

pub fn run(args: &GraphArgs, global: &Global, out: &Out) -> Result<u8, Failure> {
    let fleet = context::load_fleet(&args.blueprint.blueprint, global, out)?;
    let registry = context::expanders();
    let selection = slipway_engine::Selection {
        clusters: args.selection.clusters.clone(),
    };
    let graph = slipway_engine::build_graph(&fleet, &registry, &selection)?;
    match (args.format, out.json()) {
        (GraphFormat::Json, _) | (_, true) => out.document(&graph.to_json()),
        (GraphFormat::Dot, false) => out.line(graph.to_dot().trim_end()),
        (GraphFormat::Mermaid, false) => out.line(graph.to_mermaid().trim_end()),
    }
    Ok(EXIT_OK)
}
