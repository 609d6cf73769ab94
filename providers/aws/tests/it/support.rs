//! What every test needs: the blueprint, a recording intent journal and pacer, a small walk
//! that resolves references the way the engine does, and direct SDK clients to look at moto.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use slipway_aws::{AwsProvider, AwsProviderConfig, StaticCredentials, kinds};
use slipway_blueprints::{Fleet, LoadOptions, Source, load_sources};
use slipway_provider::{
    Address, ApiClass, CreateRequest, ErrorClass, Expander, IntentSink, OpContext, Pacer,
    Properties, Provider, ProviderError, Resource, ResourceState, ResourceStatus, Value, WaitFor,
};
use slipway_testkit::moto::OwnedMoto;

/// A 2-zone dev cluster with a public endpoint, IRSA identities and both kinds of VPC
/// endpoint; no add-ons, since moto has no EKS add-on API.
pub const BLUEPRINT: &str = r#"
apiVersion: slipway.dev/v1
kind: Fleet
metadata:
  name: referee
  owner: platform-runtime
clusters:
  - name: ref-use1
    provider: aws
    region: us-east-1
    tier: dev
    kubernetes: { version: "1.35" }
    endpoint: public
    zones: 2
    network: { cidr: 10.40.0.0/16 }
    nodePools:
      - { name: default, role: system, instanceType: { aws: t3.large }, min: 1, max: 3 }
    addons: []
    privateEndpoints: [s3, ecr.api]
    workloadIdentities:
      - name: orders-api
        namespace: orders
        serviceAccount: orders-api
        aws: { policyArns: ["arn:aws:iam::aws:policy/AmazonSQSFullAccess"] }
"#;

/// The kinds moto implements.
pub const MOTO_KINDS: &[&str] = &[
    kinds::VPC,
    kinds::SUBNET,
    kinds::INTERNET_GATEWAY,
    kinds::EIP,
    kinds::NAT_GATEWAY,
    kinds::ROUTE_TABLE,
    kinds::SECURITY_GROUP,
    kinds::VPC_ENDPOINT,
    kinds::IAM_ROLE,
    kinds::IAM_OIDC_PROVIDER,
    kinds::EKS_CLUSTER,
    kinds::EKS_NODEGROUP,
];

/// The fleet of [`BLUEPRINT`].
pub fn fleet() -> Fleet {
    fleet_of(BLUEPRINT)
}

/// The fleet of a blueprint text.
pub fn fleet_of(text: &str) -> Fleet {
    let sources = vec![Source {
        name: "fleet.yaml".into(),
        text: text.to_owned(),
    }];
    let options = LoadOptions::new(jiff::civil::date(2026, 11, 21));
    match load_sources(sources, &options) {
        Ok(loaded) => loaded.fleet,
        Err(failure) => panic!(
            "the referee blueprint does not load: {:#?}",
            failure.diagnostics
        ),
    }
}

/// One journaled intent.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    pub address: Address,
    pub operation: String,
    pub detail: serde_json::Value,
}

/// Records intents (refusing those named in `refuse`) and paced API classes.
#[derive(Default)]
pub struct Journal {
    pub intents: Mutex<Vec<Intent>>,
    pub paced: Mutex<Vec<ApiClass>>,
    pub refuse: Mutex<Vec<String>>,
    pub progress: Mutex<Vec<String>>,
}

impl Journal {
    /// The operations journaled for `address`, in order.
    pub fn operations(&self, address: &Address) -> Vec<String> {
        self.intents
            .lock()
            .unwrap()
            .iter()
            .filter(|i| &i.address == address)
            .map(|i| i.operation.clone())
            .collect()
    }

    /// Forgets what was recorded.
    pub fn clear(&self) {
        self.intents.lock().unwrap().clear();
        self.paced.lock().unwrap().clear();
    }
}

#[async_trait]
impl IntentSink for Journal {
    async fn intent(
        &self,
        address: &Address,
        operation: &str,
        detail: serde_json::Value,
    ) -> Result<(), ProviderError> {
        if self.refuse.lock().unwrap().iter().any(|r| r == operation) {
            return Err(ProviderError::new(
                ErrorClass::Fatal,
                operation,
                "JournalUnavailable",
                "the test refuses this intent",
            ));
        }
        self.intents.lock().unwrap().push(Intent {
            address: address.clone(),
            operation: operation.to_owned(),
            detail,
        });
        Ok(())
    }

    fn progress(&self, address: &Address, message: &str) {
        self.progress
            .lock()
            .unwrap()
            .push(format!("{address}: {message}"));
    }
}

#[async_trait]
impl Pacer for Journal {
    async fn acquire(&self, api: &ApiClass) {
        self.paced.lock().unwrap().push(api.clone());
    }
}

/// How long one provider operation may take against moto, where everything is instant.
const OP_LIMIT: Duration = Duration::from_secs(60);

/// A provider, a journal and the state of a small walk against moto or the emulator.
pub struct Walk {
    /// The moto server, when the walk runs against moto (kept alive as long as the walk).
    _moto: Option<OwnedMoto>,
    /// The endpoint the provider calls.
    pub url: String,
    pub provider: AwsProvider,
    pub journal: Arc<Journal>,
    pub ctx: OpContext,
    pub resources: Vec<Resource>,
    pub states: BTreeMap<Address, ResourceState>,
}

impl Walk {
    /// Starts moto and expands the referee cluster (moto's kinds only).
    pub fn new() -> Walk {
        let moto = slipway_testkit::moto::start();
        let provider = AwsProvider::new(AwsProviderConfig {
            endpoint_url: Some(moto.url.clone()),
            region_override: None,
            clock_scale: 1.0,
            static_credentials: Some(StaticCredentials {
                access_key_id: "testing".to_owned(),
                secret_access_key: "testing".to_owned(),
            }),
        })
        .expect("provider");
        let url = moto.url.clone();
        Walk::with(provider, url, Some(moto), &fleet(), Some(MOTO_KINDS))
    }

    /// A walk of `provider` (calling `url`) over the first cluster of `fleet`, keeping only
    /// `kinds` when given.
    pub fn with(
        provider: AwsProvider,
        url: String,
        moto: Option<OwnedMoto>,
        fleet: &Fleet,
        kinds: Option<&[&str]>,
    ) -> Walk {
        let resources = provider
            .expand(fleet, &fleet.clusters[0])
            .expect("the cluster expands")
            .into_iter()
            .filter(|r| kinds.is_none_or(|k| k.contains(&r.address.kind.as_str())))
            .collect();
        let journal = Arc::new(Journal::default());
        let ctx = OpContext {
            fleet: fleet.name.clone(),
            run_id: "run-1".to_owned(),
            pacer: journal.clone(),
            sink: journal.clone(),
        };
        Walk {
            _moto: moto,
            url,
            provider,
            journal,
            ctx,
            resources,
            states: BTreeMap::new(),
        }
    }

    /// The expanded resource of `kind` named `name`.
    pub fn resource(&self, kind: &str, name: &str) -> Resource {
        self.resources
            .iter()
            .find(|r| r.address.kind.as_str() == kind && r.address.name == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {kind}/{name} in the expansion"))
    }

    /// `r`'s properties with references resolved from the recorded outputs.
    pub fn resolve(&self, r: &Resource) -> Properties {
        let outputs: HashMap<&Address, &Properties> =
            self.states.iter().map(|(a, s)| (a, &s.outputs)).collect();
        let lookup = |reference: &slipway_provider::OutputRef| {
            outputs
                .get(&reference.address)
                .and_then(|o| o.get(&reference.output))
                .cloned()
        };
        r.properties
            .iter()
            .map(|(k, v)| {
                let v = v
                    .resolve(&lookup)
                    .unwrap_or_else(|missing| panic!("{}: unresolved {missing}", r.address));
                (k.clone(), v)
            })
            .collect()
    }

    /// Runs one provider operation, failing the test with the last progress reports when
    /// it takes longer than [`OP_LIMIT`].
    pub async fn bounded<T>(&self, what: &str, op: impl Future<Output = T>) -> T {
        match tokio::time::timeout(OP_LIMIT, op).await {
            Ok(t) => t,
            Err(_) => {
                let progress = self.journal.progress.lock().unwrap();
                let tail = &progress[progress.len().saturating_sub(5)..];
                panic!("{what} took over {OP_LIMIT:?}; last progress: {tail:#?}")
            }
        }
    }

    /// Creates `r` (waiting when it is not ready) and records it, as the engine does.
    pub async fn create(&mut self, r: &Resource) -> Result<ResourceState, ProviderError> {
        let what = format!("create {}", r.address);
        let st = self.bounded(&what, self.create_unbounded(r)).await?;
        self.states.insert(r.address.clone(), st.clone());
        Ok(st)
    }

    async fn create_unbounded(&self, r: &Resource) -> Result<ResourceState, ProviderError> {
        let resolved = self.resolve(r);
        let created = self
            .provider
            .create(
                &self.ctx,
                CreateRequest {
                    address: &r.address,
                    properties: &resolved,
                    replacing: None,
                },
            )
            .await?;
        let mut st = ResourceState {
            address: r.address.clone(),
            deposed: None,
            cloud_id: Some(created.cloud_id),
            properties: r.properties.clone(),
            resolved,
            outputs: created.outputs,
            depends_on: r.depends_on.clone(),
            status: ResourceStatus::Pending,
        };
        if !created.ready {
            let outputs = self.provider.wait(&self.ctx, &st, WaitFor::Ready).await?;
            st.outputs.extend(outputs);
        }
        st.status = ResourceStatus::Ready;
        Ok(st)
    }

    /// Creates every expanded resource in expansion order (a topological order).
    pub async fn create_all(&mut self) {
        for r in self.resources.clone() {
            self.create(&r)
                .await
                .unwrap_or_else(|e| panic!("create {}: {e}", r.address));
        }
    }

    /// Deletes `st` and waits until it is gone, as the engine does.
    pub async fn delete(&self, st: &ResourceState) -> Result<(), ProviderError> {
        let what = format!("delete {}", st.address);
        self.bounded(&what, async {
            self.provider.delete(&self.ctx, st).await?;
            self.provider.wait(&self.ctx, st, WaitFor::Deleted).await?;
            Ok(())
        })
        .await
    }

    /// A direct EC2 client on moto, to look behind the provider's back.
    pub async fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::from_conf(
            aws_sdk_ec2::Config::builder()
                .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
                .region(aws_sdk_ec2::config::Region::new("us-east-1"))
                .endpoint_url(&self.url)
                .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                    "testing", "testing", None, None, "test",
                ))
                .http_client(
                    aws_smithy_http_client::Builder::new()
                        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                        ))
                        .build_https(),
                )
                .build(),
        )
    }
}

/// The value of `key` in a properties map, for assertions.
pub fn prop<'p>(props: &'p Properties, key: &str) -> &'p Value {
    props
        .get(key)
        .unwrap_or_else(|| panic!("no `{key}` in {props:?}"))
}
