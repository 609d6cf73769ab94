//! Which clouds a command talks to: the embedded emulator (`--emulator`), an emulator already
//! running (`--emulator-url`), or the real clouds through their standard credential chains.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use slipway_aws::{AwsProvider, AwsProviderConfig, StaticCredentials};
use slipway_azure::{AzureCredentialChoice, AzureProvider, AzureProviderConfig};
use slipway_emulator::{Emulator, EmulatorConfig, FaultConfig, RunningEmulator};
use slipway_engine::Registry;

use crate::cli::Global;
use crate::context::blueprint_dir;
use crate::failure::{self, Failure};

/// Credentials the emulator accepts; it checks that requests are signed, not by whom.
const EMULATOR_KEY: &str = "slipway-emulator";

/// Providers wired to their clouds, and the embedded emulator when there is one.
pub struct CloudSession {
    /// Providers and expanders by cloud name.
    pub registry: Registry,
    /// Cloud seconds per wall second: the emulator's time scale (`--time-scale`, which must
    /// match the one `--emulator-url`'s emulator was started with), 1 on real clouds.
    pub time_scale: f64,
    emulator: Option<RunningEmulator>,
}

impl CloudSession {
    /// Connects as the global flags say.
    pub async fn open(blueprint: &Path, global: &Global) -> Result<Self, Failure> {
        let (endpoint, emulator) = if global.emulator {
            let running = start_embedded(blueprint, global).await?;
            (Some(running.url()), Some(running))
        } else {
            (global.emulator_url.clone(), None)
        };
        // Providers wait in cloud time: on the emulator their polls run as much faster as it does.
        let time_scale = if endpoint.is_some() {
            global.time_scale
        } else {
            1.0
        };
        let aws = AwsProviderConfig {
            static_credentials: endpoint.as_ref().map(|_| StaticCredentials {
                access_key_id: EMULATOR_KEY.to_owned(),
                secret_access_key: EMULATOR_KEY.to_owned(),
            }),
            endpoint_url: endpoint.clone(),
            region_override: None,
            clock_scale: time_scale,
        };
        let azure = AzureProviderConfig {
            credential: match &endpoint {
                Some(_) => AzureCredentialChoice::Static(EMULATOR_KEY.to_owned()),
                None => AzureCredentialChoice::Default,
            },
            endpoint_url: endpoint,
            clock_scale: time_scale,
        };
        let mut registry = Registry::new();
        registry.add_provider(Arc::new(AwsProvider::new(aws)?));
        registry.add_provider(Arc::new(AzureProvider::new(azure)?));
        Ok(Self {
            registry,
            time_scale,
            emulator,
        })
    }

    /// Stops the embedded emulator, persisting its cloud.
    pub async fn close(self) {
        if let Some(emulator) = self.emulator {
            emulator.shutdown().await;
        }
    }
}

/// Parses `--emulator-faults`.
pub fn faults(global: &Global) -> Result<FaultConfig, Failure> {
    match &global.emulator_faults {
        None => Ok(FaultConfig::default()),
        Some(spec) => spec
            .parse()
            .map_err(|e| failure::error(format!("--emulator-faults `{spec}`: {e}"))),
    }
}

/// The `--today` date, when given, so the emulated calendars agree with the blueprint's.
fn pinned_today(global: &Global) -> Result<Option<jiff::civil::Date>, Failure> {
    match global.today {
        Some(_) => crate::context::today(global).map(Some),
        None => Ok(None),
    }
}

async fn start_embedded(blueprint: &Path, global: &Global) -> Result<RunningEmulator, Failure> {
    let config = EmulatorConfig {
        data_dir: Some(blueprint_dir(blueprint).join(".slipway").join("emulator")),
        time_scale: global.time_scale,
        faults: faults(global)?,
        today: pinned_today(global)?,
        ..EmulatorConfig::default()
    };
    Ok(Emulator::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?)
}

/// `slipway emulator serve`: serves until interrupted.
pub async fn serve(
    port: u16,
    data: Option<&Path>,
    seed: u64,
    global: &Global,
) -> Result<RunningEmulator, Failure> {
    let config = EmulatorConfig {
        data_dir: data.map(Path::to_path_buf),
        time_scale: global.time_scale,
        faults: faults(global)?,
        today: pinned_today(global)?,
        seed,
        ..EmulatorConfig::default()
    };
    Ok(Emulator::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?)
}
