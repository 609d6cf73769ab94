//! The whole emulated cloud as one serialisable value, the per-request context handlers work
//! in, and its persistence to `data_dir/aws.json` (write to a temporary file, then rename).
//!
//! State changes only through the service modules; this module must never interpret a
//! service's objects beyond asking each service to advance its lifecycles.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::EmulatorError;
use crate::ec2::Ec2Region;
use crate::eks::EksRegion;
use crate::faults::FaultConfig;
use crate::iam::Iam;
use crate::lifecycle::Op;
use crate::oplog::{OpLog, OpRecord, Subject};
use crate::util::{hex_digits, mix, uuid};

/// Version of the persisted format.
const FORMAT: u32 = 1;

/// Everything the emulator knows, for every region.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Cloud {
    /// Draw counter behind every id, so ids are a function of the seed and creation order.
    pub counter: u64,
    /// EC2 objects per region.
    pub ec2: BTreeMap<String, Ec2Region>,
    /// IAM (global).
    pub iam: Iam,
    /// EKS objects per region.
    pub eks: BTreeMap<String, EksRegion>,
    /// Durations drawn for EC2 and EKS operations, oldest first.
    #[serde(default)]
    pub oplog: OpLog,
}

#[derive(Serialize, Deserialize)]
struct Persisted {
    format: u32,
    cloud: Cloud,
}

impl Cloud {
    /// Completes every transition whose deadline passed; `true` when anything changed.
    pub(crate) fn sweep(&mut self, now: u64) -> bool {
        let mut changed = false;
        // EC2 first: a node group finishing now looks at the NAT gateways as they are now.
        for ec2 in self.ec2.values_mut() {
            changed |= crate::ec2::sweep(ec2, now);
        }
        for (region, eks) in &mut self.eks {
            let ec2 = self.ec2.entry(region.clone()).or_default();
            changed |= crate::eks::sweep(eks, ec2, now);
        }
        changed
    }

    /// Loads the cloud persisted at `path`, or an empty one when there is no file yet.
    pub(crate) fn load(path: &Path) -> Result<Self, EmulatorError> {
        match std::fs::read(path) {
            Ok(bytes) => {
                let p: Persisted =
                    serde_json::from_slice(&bytes).map_err(|source| EmulatorError::Corrupt {
                        path: path.to_owned(),
                        source,
                    })?;
                if p.format != FORMAT {
                    return Err(EmulatorError::Format {
                        path: path.to_owned(),
                        found: p.format,
                    });
                }
                Ok(p.cloud)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(EmulatorError::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Writes the cloud to `path` atomically.
    pub(crate) fn save(&self, path: &Path) -> std::io::Result<()> {
        #[derive(Serialize)]
        struct Borrowed<'a> {
            format: u32,
            cloud: &'a Cloud,
        }
        let bytes = serde_json::to_vec(&Borrowed {
            format: FORMAT,
            cloud: self,
        })
        .map_err(std::io::Error::other)?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, path)
    }
}

/// Fixed settings of one emulator.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Lifecycle speed-up.
    pub time_scale: f64,
    /// Seed of ids and jitter.
    pub seed: u64,
    /// The 12-digit account.
    pub account_id: String,
    /// Where the cloud persists, if anywhere.
    pub data_file: Option<PathBuf>,
    /// Where the ARM cloud persists, if anywhere.
    pub azure_file: Option<PathBuf>,
    /// Pinned calendar date (`YYYY-MM-DD`), if any.
    pub today: Option<String>,
}

/// What a handler works with during one request.
pub(crate) struct Ctx<'a> {
    /// The cloud.
    pub cloud: &'a mut Cloud,
    /// Region from the request's credential scope.
    pub region: String,
    /// Wall-clock milliseconds at the start of the request.
    pub now: u64,
    /// Emulator settings.
    pub settings: &'a Settings,
    /// Faults in force.
    pub faults: &'a FaultConfig,
    /// Operation-log records of this request, kept only if it succeeds.
    pub ops: Vec<OpRecord>,
}

impl Ctx<'_> {
    /// The calendar date support windows are evaluated on.
    pub(crate) fn today(&self) -> String {
        self.settings
            .today
            .clone()
            .unwrap_or_else(|| crate::util::today(self.now))
    }

    /// A fresh 64-bit draw.
    pub(crate) fn draw(&mut self) -> u64 {
        self.cloud.counter += 1;
        mix(self.settings.seed ^ mix(self.cloud.counter))
    }

    /// `n` fresh hex digits.
    pub(crate) fn hex(&mut self, n: usize) -> String {
        let d = self.draw();
        hex_digits(d, n)
    }

    /// A fresh UUID.
    pub(crate) fn uuid(&mut self) -> String {
        let d = self.draw();
        uuid(d)
    }

    /// The wall-clock deadline of `op` started now on the object `key` (the jitter key), which
    /// the operation log records as `service` acting on `target` of `cluster`.
    pub(crate) fn deadline(
        &mut self,
        op: Op,
        key: &str,
        service: &str,
        target: &str,
        cluster: Option<&str>,
    ) -> u64 {
        let (ms, record) = crate::oplog::draw(
            op,
            key,
            self.settings.seed,
            self.settings.time_scale,
            self.now,
            Subject {
                service,
                target,
                cluster,
                region: &self.region,
            },
        );
        self.ops.push(record);
        self.now + ms
    }

    /// The wall-clock deadline of `op` on `key` without a log record: for spans that are not
    /// operations, like how long a deleted object stays visible.
    pub(crate) fn unlogged_deadline(&self, op: Op, key: &str) -> u64 {
        self.now
            + crate::lifecycle::duration_ms(op, key, self.settings.seed, self.settings.time_scale)
    }

    /// The account id.
    pub(crate) fn account(&self) -> &str {
        &self.settings.account_id
    }
}
