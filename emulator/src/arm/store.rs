//! The ARM cloud as one serialisable value: every resource by lower-cased id (ARM ids are
//! case-insensitive) and every asynchronous operation by id, persisted to
//! `data_dir/azure.json` beside `aws.json`.
//!
//! Operations carry absolute deadlines; [`ArmCloud::sweep`] completes the ones that passed,
//! so nothing runs in the background. This module must never validate a request.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::EmulatorError;

/// Version of the persisted format.
const FORMAT: u32 = 1;
/// Error code of an operation superseded by a delete: its status reads `Canceled`.
pub(crate) const CANCELED: &str = "OperationCanceled";
/// How long finished operations stay pollable (real milliseconds).
const OPERATION_RETENTION_MS: u64 = 24 * 3_600_000;

/// `provisioningState` of a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum State {
    /// Being created.
    Creating,
    /// Being updated.
    Updating,
    /// Being deleted.
    Deleting,
    /// The last operation succeeded.
    Succeeded,
    /// The last operation failed.
    Failed,
}

impl State {
    /// ARM's spelling.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            State::Creating => "Creating",
            State::Updating => "Updating",
            State::Deleting => "Deleting",
            State::Succeeded => "Succeeded",
            State::Failed => "Failed",
        }
    }
}

/// One ARM resource.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Resource {
    /// The id, cased as it was first created.
    pub id: String,
    /// Canonical type, e.g. `Microsoft.Network/virtualNetworks/subnets`.
    pub rtype: String,
    /// What GET shows, minus `id`, `name`, `type`, etag and `provisioningState`.
    pub body: Value,
    /// Current entity tag.
    pub etag: String,
    /// Wall-clock creation time (ms).
    pub created_ms: u64,
    /// Provisioning state.
    pub state: State,
    /// The operation in progress, if any.
    pub op: Option<String>,
}

impl Resource {
    /// The last segment of the id.
    pub(crate) fn name(&self) -> &str {
        self.id.rsplit('/').next().unwrap_or(&self.id)
    }

    /// `properties.<key>` of the body.
    pub(crate) fn prop(&self, key: &str) -> Option<&Value> {
        self.body.get("properties").and_then(|p| p.get(key))
    }
}

/// What an operation does to its resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum OpKind {
    /// PUT of a new resource.
    Create,
    /// PUT of an existing resource.
    Update,
    /// DELETE.
    Delete,
}

/// An ARM error object (`{"code","message"}`) an operation ends with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ErrorBody {
    /// Error code.
    pub code: String,
    /// Message.
    pub message: String,
}

/// An asynchronous operation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AsyncOp {
    /// Its status path (`/subscriptions/…/operations/{id}`), the `id` its status shows.
    pub path: String,
    /// Lower-cased id of the resource it acts on.
    pub resource: String,
    /// What it does.
    pub kind: OpKind,
    /// Start (wall-clock ms).
    pub start_ms: u64,
    /// When it completes (wall-clock ms).
    pub deadline_ms: u64,
    /// Set when it ends `Failed`.
    pub error: Option<ErrorBody>,
    /// Whether its effect has been applied.
    pub done: bool,
}

impl AsyncOp {
    /// `InProgress`, `Succeeded` or `Failed` at `now`.
    pub(crate) fn status(&self, now: u64) -> &'static str {
        if !self.done && now < self.deadline_ms {
            "InProgress"
        } else if self.error.as_ref().is_some_and(|e| e.code == CANCELED) {
            "Canceled"
        } else if self.error.is_some() {
            "Failed"
        } else {
            "Succeeded"
        }
    }
}

/// Everything the ARM side knows.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct ArmCloud {
    /// Draw counter behind ids.
    pub counter: u64,
    /// Resources by lower-cased id.
    pub resources: BTreeMap<String, Resource>,
    /// Operations by id.
    pub operations: BTreeMap<String, AsyncOp>,
    /// Durations drawn for ARM operations, oldest first.
    #[serde(default)]
    pub oplog: crate::oplog::OpLog,
}

#[derive(Serialize, Deserialize)]
struct Persisted {
    format: u32,
    arm: ArmCloud,
}

impl ArmCloud {
    /// The resource with this id (any casing).
    pub(crate) fn get(&self, id: &str) -> Option<&Resource> {
        self.resources.get(&id.to_ascii_lowercase())
    }

    /// Removes a resource and everything below it (children, role assignments at it).
    pub(crate) fn remove_tree(&mut self, key: &str) {
        let prefix = format!("{key}/");
        self.resources
            .retain(|k, _| k != key && !k.starts_with(&prefix));
    }

    /// Resources directly under `parent` (lower-cased id) of type `rtype`.
    pub(crate) fn children<'a>(
        &'a self,
        parent: &'a str,
        rtype: &'a str,
    ) -> impl Iterator<Item = &'a Resource> + 'a {
        let prefix = format!("{parent}/");
        self.resources
            .range(prefix.clone()..)
            .take_while(move |(k, _)| k.starts_with(&prefix))
            .map(|(_, r)| r)
            .filter(move |r| r.rtype == rtype)
    }

    /// Completes every operation whose deadline passed; `true` when anything changed.
    pub(crate) fn sweep(&mut self, now: u64) -> bool {
        let mut due: Vec<(u64, String)> = self
            .operations
            .iter()
            .filter(|(_, op)| !op.done && op.deadline_ms <= now)
            .map(|(id, op)| (op.deadline_ms, id.clone()))
            .collect();
        due.sort();
        let mut changed = !due.is_empty();
        for (_, id) in due {
            let Some(op) = self.operations.get_mut(&id) else {
                continue;
            };
            op.done = true;
            let (key, kind, failed) = (op.resource.clone(), op.kind, op.error.is_some());
            if kind == OpKind::Delete && !failed {
                self.remove_tree(&key);
            } else if let Some(res) = self.resources.get_mut(&key)
                && res.op.as_deref() == Some(id.as_str())
            {
                res.op = None;
                res.state = if failed {
                    State::Failed
                } else {
                    State::Succeeded
                };
            }
            // Children started by the same operation (inline subnets, inline pools).
            for res in self.resources.values_mut() {
                if res.op.as_deref() == Some(id.as_str()) {
                    res.op = None;
                    res.state = if failed {
                        State::Failed
                    } else {
                        State::Succeeded
                    };
                }
            }
        }
        let before = self.operations.len();
        self.operations
            .retain(|_, op| !op.done || op.deadline_ms + OPERATION_RETENTION_MS > now);
        changed |= before != self.operations.len();
        changed
    }

    /// Loads the ARM cloud persisted at `path`, or an empty one when there is no file yet.
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
                Ok(p.arm)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(EmulatorError::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Writes the ARM cloud to `path` atomically.
    pub(crate) fn save(&self, path: &Path) -> std::io::Result<()> {
        #[derive(Serialize)]
        struct Borrowed<'a> {
            format: u32,
            arm: &'a ArmCloud,
        }
        let bytes = serde_json::to_vec(&Borrowed {
            format: FORMAT,
            arm: self,
        })
        .map_err(std::io::Error::other)?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn res(id: &str, rtype: &str) -> Resource {
        Resource {
            id: id.into(),
            rtype: rtype.into(),
            body: json!({}),
            etag: "e".into(),
            created_ms: 0,
            state: State::Creating,
            op: Some("op1".into()),
        }
    }

    #[test]
    fn sweeping_completes_creates_and_deletes_whole_trees() {
        let mut c = ArmCloud::default();
        c.resources.insert("/s/rg/v".into(), res("/s/rg/V", "vnet"));
        c.resources.insert(
            "/s/rg/v/subnets/a".into(),
            res("/s/rg/V/subnets/a", "subnet"),
        );
        c.resources
            .insert("/s/rg/vv".into(), res("/s/rg/vv", "vnet"));
        c.operations.insert(
            "op1".into(),
            AsyncOp {
                path: "/p".into(),
                resource: "/s/rg/v".into(),
                kind: OpKind::Create,
                start_ms: 0,
                deadline_ms: 10,
                error: None,
                done: false,
            },
        );
        assert_eq!(c.operations["op1"].status(5), "InProgress");
        assert!(!c.sweep(5));
        assert!(c.sweep(10));
        assert_eq!(c.resources["/s/rg/v/subnets/a"].state, State::Succeeded);
        assert_eq!(c.children("/s/rg/v", "subnet").count(), 1);
        c.remove_tree("/s/rg/v");
        assert_eq!(c.resources.len(), 1, "siblings sharing a prefix survive");
    }
}
