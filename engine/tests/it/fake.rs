//! An in-memory cloud behind the provider trait: objects by id, a call log with logical
//! timestamps, per-address failures and hangs, latencies on tokio's clock, create counts per
//! address (to catch duplicates), and adoption of objects by their address tag.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use slipway_blueprints::{Cluster, Fleet};
use slipway_provider::{
    Address, ApiClass, CreateRequest, Created, ErrorClass, EvidenceRequest, Expander, Kind,
    KindSchema, LiveObject, OpContext, Properties, Provider, ProviderError, Resource,
    ResourceState, UpdateRequest, UpgradeEvidence, Value, WaitFor,
};

/// A cloud object.
#[derive(Debug, Clone, PartialEq)]
pub struct Obj {
    pub address: Address,
    pub properties: Properties,
}

/// Where an operation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Begin,
    End,
}

/// One logged call.
#[derive(Debug, Clone)]
pub struct Call {
    pub t: u64,
    pub address: Address,
    pub op: &'static str,
    pub phase: Phase,
}

#[derive(Debug, Clone, Copy)]
struct Failure {
    op: &'static str,
    class: ErrorClass,
    times: u32,
}

#[derive(Default)]
pub struct Cloud {
    pub objects: BTreeMap<String, Obj>,
    next_id: u64,
    clock: u64,
    pub log: Vec<Call>,
    pub creates: HashMap<Address, usize>,
    pub in_flight: usize,
    pub max_in_flight: usize,
    open: HashMap<Address, &'static str>,
    failures: HashMap<Address, Failure>,
    hang_after_accept: HashSet<Address>,
    wait_latency: HashMap<Address, Duration>,
    evidence: HashMap<String, UpgradeEvidence>,
}

impl Cloud {
    fn begin(&mut self, address: &Address, op: &'static str) {
        self.clock += 1;
        self.log.push(Call {
            t: self.clock,
            address: address.clone(),
            op,
            phase: Phase::Begin,
        });
        self.open.insert(address.clone(), op);
        self.in_flight += 1;
        self.max_in_flight = self.max_in_flight.max(self.in_flight);
    }

    fn end(&mut self, address: &Address) {
        let Some(op) = self.open.remove(address) else {
            return;
        };
        self.clock += 1;
        self.log.push(Call {
            t: self.clock,
            address: address.clone(),
            op,
            phase: Phase::End,
        });
        self.in_flight -= 1;
    }

    fn take_failure(&mut self, address: &Address, op: &'static str) -> Option<ProviderError> {
        let f = self.failures.get_mut(address).filter(|f| f.op == op)?;
        if f.times == 0 {
            return None;
        }
        f.times -= 1;
        let class = f.class;
        Some(
            ProviderError::new(
                class,
                format!("Fake{op}"),
                format!("{class:?}"),
                "injected failure",
            )
            .at(address),
        )
    }

    /// Objects whose address tag is `address`.
    pub fn objects_at(&self, address: &Address) -> Vec<(&String, &Obj)> {
        self.objects
            .iter()
            .filter(|(_, o)| &o.address == address)
            .collect()
    }
}

/// The fake provider, named `aws` so blueprint clusters expand with it.
pub struct FakeCloud {
    kinds: Vec<KindSchema>,
    latency: Duration,
    pub cloud: Mutex<Cloud>,
}

pub fn kind(name: &str) -> String {
    format!("aws.{name}")
}

impl FakeCloud {
    pub fn new() -> Arc<Self> {
        let schema = |name: &str, replace_on: &[&str], cbd: bool| KindSchema {
            kind: Kind::new(kind(name)),
            replace_on: replace_on.iter().map(|s| s.to_string()).collect(),
            create_before_destroy: cbd,
            ignore_changes: Vec::new(),
            api: ApiClass::new("aws.ec2.mutating"),
            outputs: vec!["id".into(), "arn".into()],
        };
        Arc::new(Self {
            kinds: vec![
                schema("net", &["cidr"], false),
                schema("subnet", &["net_id", "cidr"], false),
                KindSchema {
                    // An autoscaler owns a pool's node count once the pool exists.
                    ignore_changes: vec!["scaling.desired".into()],
                    ..schema("pool", &["size"], true)
                },
                schema("thing", &["immutable"], false),
            ],
            latency: Duration::from_millis(10),
            cloud: Mutex::new(Cloud::default()),
        })
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut Cloud) -> T) -> T {
        f(&mut self.cloud.lock().unwrap())
    }

    /// Makes `op` (`create`, `update`, `delete`, `wait`) fail `times` times for `address`.
    pub fn fail(&self, address: &Address, op: &'static str, class: ErrorClass, times: u32) {
        self.with(|c| {
            c.failures
                .insert(address.clone(), Failure { op, class, times })
        });
    }

    /// The next create of `address` is accepted by the cloud, then never answers.
    pub fn hang_after_accept(&self, address: &Address) {
        self.with(|c| c.hang_after_accept.insert(address.clone()));
    }

    pub fn slow_wait(&self, address: &Address, d: Duration) {
        self.with(|c| c.wait_latency.insert(address.clone(), d));
    }

    /// What `upgrade_evidence` answers for `cluster` (default: the cluster is not in the cloud).
    pub fn set_evidence(&self, cluster: &str, evidence: UpgradeEvidence) {
        self.with(|c| c.evidence.insert(cluster.to_owned(), evidence));
    }
}

fn outputs(id: &str) -> Properties {
    BTreeMap::from([
        ("id".to_owned(), Value::from(id)),
        ("arn".to_owned(), Value::from(format!("arn:fake:{id}"))),
    ])
}

impl Expander for FakeCloud {
    fn name(&self) -> &'static str {
        "aws"
    }

    fn kinds(&self) -> &[KindSchema] {
        &self.kinds
    }

    /// A net, a subnet, one pool per node pool; a cluster labelled `primary: X` also gets a
    /// `thing/link` referencing X's net (a cross-cluster edge).
    fn expand(&self, _fleet: &Fleet, cluster: &Cluster) -> Result<Vec<Resource>, ProviderError> {
        let c = &cluster.name;
        let net = Address::new(c, kind("net"), "main");
        let subnet = Address::new(c, kind("subnet"), "a");
        let mut out = vec![
            Resource {
                address: net.clone(),
                properties: BTreeMap::from([(
                    "cidr".to_owned(),
                    Value::from(cluster.network.cidr.to_string()),
                )]),
                depends_on: vec![],
            },
            Resource {
                address: subnet.clone(),
                properties: BTreeMap::from([
                    (
                        "cidr".to_owned(),
                        Value::from(cluster.network.cidr.to_string()),
                    ),
                    ("net_id".to_owned(), Value::reference(&net, "id")),
                ]),
                depends_on: vec![],
            },
        ];
        for p in &cluster.node_pools {
            out.push(Resource {
                address: Address::new(c, kind("pool"), &p.name),
                properties: BTreeMap::from([
                    ("size".to_owned(), Value::from(p.instance_type.as_str())),
                    ("subnet_id".to_owned(), Value::reference(&subnet, "id")),
                ]),
                depends_on: vec![],
            });
        }
        if let Some(primary) = cluster.labels.get("primary") {
            out.push(Resource {
                address: Address::new(c, kind("thing"), "link"),
                properties: BTreeMap::from([(
                    "peer".to_owned(),
                    Value::reference(&Address::new(primary, kind("net"), "main"), "id"),
                )]),
                depends_on: vec![net],
            });
        }
        Ok(out)
    }
}

#[async_trait]
impl Provider for FakeCloud {
    async fn create(
        &self,
        ctx: &OpContext,
        req: CreateRequest<'_>,
    ) -> Result<Created, ProviderError> {
        ctx.intent(req.address, "FakeCreate", serde_json::json!({}))
            .await?;
        self.with(|c| c.begin(req.address, "create"));
        tokio::time::sleep(self.latency).await;
        let replacing = req.replacing.and_then(|r| r.cloud_id.clone());
        let (id, hang) = self.with(|c| {
            if let Some(e) = c.take_failure(req.address, "create") {
                c.end(req.address);
                return Err(e);
            }
            let adopted = c
                .objects
                .iter()
                .find(|(id, o)| &o.address == req.address && Some(*id) != replacing.as_ref())
                .map(|(id, _)| id.clone());
            let id = match adopted {
                Some(id) => id,
                None => {
                    c.next_id += 1;
                    let id = format!("obj-{}", c.next_id);
                    *c.creates.entry(req.address.clone()).or_default() += 1;
                    c.objects.insert(
                        id.clone(),
                        Obj {
                            address: req.address.clone(),
                            properties: req.properties.clone(),
                        },
                    );
                    id
                }
            };
            Ok((id, c.hang_after_accept.remove(req.address)))
        })?;
        if hang {
            std::future::pending::<()>().await;
        }
        Ok(Created {
            outputs: outputs(&id),
            cloud_id: id,
            ready: false,
        })
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        state: &ResourceState,
    ) -> Result<Option<LiveObject>, ProviderError> {
        let id = state.cloud_id.clone().unwrap_or_default();
        Ok(self.with(|c| {
            c.objects.get(&id).map(|o| LiveObject {
                cloud_id: id.clone(),
                properties: o.properties.clone(),
                outputs: outputs(&id),
            })
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        req: UpdateRequest<'_>,
    ) -> Result<Created, ProviderError> {
        ctx.intent(req.address, "FakeUpdate", serde_json::json!({}))
            .await?;
        self.with(|c| c.begin(req.address, "update"));
        tokio::time::sleep(self.latency).await;
        let id = req.prior.cloud_id.clone().unwrap_or_default();
        self.with(|c| {
            if let Some(e) = c.take_failure(req.address, "update") {
                c.end(req.address);
                return Err(e);
            }
            match c.objects.get_mut(&id) {
                Some(o) => {
                    o.properties = req.properties.clone();
                    Ok(())
                }
                None => {
                    c.end(req.address);
                    Err(
                        ProviderError::new(ErrorClass::NotFound, "FakeUpdate", "NotFound", "gone")
                            .at(req.address),
                    )
                }
            }
        })?;
        Ok(Created {
            cloud_id: id,
            outputs: Properties::new(),
            ready: false,
        })
    }

    async fn delete(&self, ctx: &OpContext, state: &ResourceState) -> Result<(), ProviderError> {
        ctx.intent(&state.address, "FakeDelete", serde_json::json!({}))
            .await?;
        self.with(|c| c.begin(&state.address, "delete"));
        tokio::time::sleep(self.latency).await;
        let id = state.cloud_id.clone().unwrap_or_default();
        self.with(|c| {
            if let Some(e) = c.take_failure(&state.address, "delete") {
                c.end(&state.address);
                return Err(e);
            }
            c.objects.remove(&id);
            Ok(())
        })
    }

    async fn wait(
        &self,
        _ctx: &OpContext,
        state: &ResourceState,
        until: WaitFor,
    ) -> Result<Properties, ProviderError> {
        let extra = self
            .with(|c| c.wait_latency.get(&state.address).copied())
            .unwrap_or_default();
        tokio::time::sleep(self.latency + extra).await;
        let id = state.cloud_id.clone().unwrap_or_default();
        self.with(|c| {
            if let Some(e) = c.take_failure(&state.address, "wait") {
                c.end(&state.address);
                return Err(e);
            }
            c.end(&state.address);
            Ok(match until {
                WaitFor::Ready => outputs(&id),
                WaitFor::Deleted => Properties::new(),
            })
        })
    }

    async fn upgrade_evidence(
        &self,
        _ctx: &OpContext,
        req: EvidenceRequest<'_>,
    ) -> Result<UpgradeEvidence, ProviderError> {
        Ok(self
            .with(|c| c.evidence.get(&req.cluster.name).cloned())
            .unwrap_or_default())
    }
}
