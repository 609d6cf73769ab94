//! Slipway's local cloud: one HTTP server speaking EC2 and IAM/STS (query protocols, XML) and
//! EKS (REST-JSON), routed by the service in each request's SigV4 credential scope, and Azure
//! Resource Manager (REST, long-running operations), routed by path, on one port, with
//! realistic lifecycles (scaled by a time factor), token-bucket rate limits,
//! seeded fault injection, strict validation, and a cloud that persists across runs.
//!
//! It exists to catch the providers' mistakes, so it must never depend on a Slipway crate
//! or share their code, and it must be at least as strict as AWS wherever it is modelled.

mod admin;
mod arm;
mod data;
mod ec2;
mod eks;
mod faults;
mod iam;
mod lifecycle;
mod offerings;
mod oplog;
mod ratelimit;
mod server;
mod state;
mod util;
mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

pub use faults::{FailureTarget, FaultConfig, FaultParseError, OperationFailure};

use server::{Inner, Shared};
use state::{Cloud, Settings};

/// How to run an emulator.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Directory holding `aws.json` and `azure.json`; `None` keeps the cloud in memory only.
    pub data_dir: Option<PathBuf>,
    /// Lifecycle speed-up: 600 makes a 10-minute EKS create take 1 s.
    pub time_scale: f64,
    /// Initial faults (see [`FaultConfig`]'s string syntax).
    pub faults: FaultConfig,
    /// Seed of ids and duration jitter.
    pub seed: u64,
    /// The account every ARN names.
    pub account_id: String,
    /// The date support calendars are evaluated on (`YYYY-MM-DD`); the wall clock when `None`.
    /// Slipway passes its `--today` so one pinned date governs blueprint and emulated cloud.
    pub today: Option<jiff::civil::Date>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            data_dir: None,
            time_scale: 1.0,
            faults: FaultConfig::default(),
            seed: 0,
            account_id: "000000000000".to_owned(),
            today: None,
        }
    }
}

/// Why an emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The data directory or state file could not be read or created.
    #[error("cannot access emulator state at {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The state file is not valid JSON of the expected shape.
    #[error("emulator state at {path} is corrupt")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The state file was written by an incompatible emulator.
    #[error("emulator state at {path} has format {found}, expected 1")]
    Format {
        /// The file.
        path: PathBuf,
        /// The format found.
        found: u32,
    },
    /// The time scale is not a positive finite number.
    #[error("time scale must be a positive finite number, got {0}")]
    TimeScale(f64),
    /// The account id is not 12 digits.
    #[error("account id must be 12 digits, got `{0}`")]
    AccountId(String),
}

/// Starts emulators.
#[derive(Debug)]
pub struct Emulator;

impl Emulator {
    /// Loads the persisted cloud (if any), binds `addr` (port 0 picks a free one) and serves
    /// until [`RunningEmulator::shutdown`].
    pub async fn start(
        config: EmulatorConfig,
        addr: SocketAddr,
    ) -> Result<RunningEmulator, EmulatorError> {
        if !(config.time_scale.is_finite() && config.time_scale > 0.0) {
            return Err(EmulatorError::TimeScale(config.time_scale));
        }
        if config.account_id.len() != 12 || !config.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(EmulatorError::AccountId(config.account_id));
        }
        let data_file = match &config.data_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| EmulatorError::Io {
                    path: dir.clone(),
                    source,
                })?;
                Some(dir.join("aws.json"))
            }
            None => None,
        };
        let azure_file = config.data_dir.as_ref().map(|d| d.join("azure.json"));
        let cloud = match &data_file {
            Some(path) => Cloud::load(path)?,
            None => Cloud::default(),
        };
        let arm = match &azure_file {
            Some(path) => arm::ArmCloud::load(path)?,
            None => arm::ArmCloud::default(),
        };
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| EmulatorError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind { addr, source })?;
        let shared = Arc::new(Shared {
            settings: Settings {
                time_scale: config.time_scale,
                seed: config.seed,
                account_id: config.account_id,
                data_file,
                azure_file,
                today: config.today.map(|d| d.to_string()),
            },
            inner: Mutex::new(Inner {
                cloud,
                arm,
                faults: config.faults,
                buckets: ratelimit::Buckets::default(),
            }),
            requests: AtomicU64::new(0),
        });
        let app = axum::Router::new()
            .fallback(server::handle)
            .with_state(Arc::clone(&shared));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "emulator server stopped");
            }
        });
        Ok(RunningEmulator {
            addr: local,
            shared,
            stop: tx,
            task,
        })
    }
}

/// A serving emulator.
#[derive(Debug)]
pub struct RunningEmulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl RunningEmulator {
    /// The base URL every service (and ARM, as `base_url`) is served at, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the faults in force (takes effect for the next request).
    pub fn set_faults(&self, faults: FaultConfig) {
        self.shared.lock().faults = faults;
    }

    /// Stops accepting connections, lets in-flight requests finish, and writes the cloud a
    /// last time.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
        let inner = self.shared.lock();
        self.shared.persist(&inner.cloud);
        self.shared.persist_arm(&inner.arm);
    }
}
