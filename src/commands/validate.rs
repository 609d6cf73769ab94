//! `slipway validate`: parse, validate and check invariants.

use crate::cli::{BlueprintArgs, Global};
use crate::context;
use crate::failure::{EXIT_OK, Failure};
use crate::render::Out;

pub fn run(args: &BlueprintArgs, global: &Global, out: &Out) -> Result<u8, Failure> {
    let fleet = context::load_fleet(&args.blueprint, global, out)?;
    if out.json() {
        out.document(&serde_json::json!({
            "version": 1,
            "valid": true,
            "fleet": fleet.name,
            "digest": fleet.digest,
            "clusters": fleet.clusters.iter().map(|c| &c.name).collect::<Vec<_>>(),
        }));
    } else {
        out.line(&format!(
            "{}: fleet `{}` is valid ({} cluster(s), {} ring(s))",
            args.blueprint.display(),
            fleet.name,
            fleet.clusters.len(),
            fleet.rings.len()
        ));
    }
    Ok(EXIT_OK)
}
