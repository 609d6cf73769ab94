//! Create → read → adopt → update → delete through the `Provider` trait against the ARM side
//! of `slipway_emulator`, started in-process on 127.0.0.1:0: the reference-free part of a
//! cluster (resource group, VNet, subnets, control-plane identity).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use slipway_azure::{
    AzureCredentialChoice, AzureExpander, AzureProvider, AzureProviderConfig, RESOURCE_GROUP,
    SUBNET, USER_ASSIGNED_IDENTITY, VIRTUAL_NETWORK,
};
use slipway_emulator::{Emulator, EmulatorConfig};
use slipway_provider::{
    Address, CreateRequest, ErrorClass, IntentSink, NoPacing, OpContext, Provider, ProviderError,
    ResourceState, ResourceStatus, UpdateRequest, Value, WaitFor,
};

use crate::fixtures;

/// Records every intent, so the test can check one was journaled before each mutation.
#[derive(Default)]
struct Journal {
    intents: Mutex<Vec<(String, String)>>,
}

#[async_trait]
impl IntentSink for Journal {
    async fn intent(
        &self,
        address: &Address,
        operation: &str,
        _detail: serde_json::Value,
    ) -> Result<(), ProviderError> {
        self.intents
            .lock()
            .unwrap()
            .push((address.to_string(), operation.to_owned()));
        Ok(())
    }

    fn progress(&self, _address: &Address, _message: &str) {}
}

fn state_of(r: &slipway_provider::Resource, cloud_id: &str) -> ResourceState {
    ResourceState {
        address: r.address.clone(),
        deposed: None,
        cloud_id: Some(cloud_id.to_owned()),
        properties: r.properties.clone(),
        resolved: r.properties.clone(),
        outputs: Default::default(),
        depends_on: r.depends_on.clone(),
        status: ResourceStatus::Ready,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_and_identity_converge_read_back_adopt_update_and_delete() {
    let emulator = Emulator::start(
        EmulatorConfig {
            time_scale: 1000.0,
            ..EmulatorConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .expect("emulator");
    let provider = AzureProvider::new(AzureProviderConfig {
        endpoint_url: Some(emulator.url()),
        credential: AzureCredentialChoice::Static("emulator".into()),
        clock_scale: 1.0,
    })
    .unwrap()
    .with_bounds(
        Duration::from_secs(60),
        Duration::from_millis(20),
        Duration::from_secs(5),
    );
    let journal = Arc::new(Journal::default());
    let ctx = OpContext {
        fleet: "commerce".into(),
        run_id: "run-1".into(),
        pacer: Arc::new(NoPacing),
        sink: journal.clone(),
    };
    let resources: Vec<_> = AzureExpander::new()
        .expand_cluster(&fixtures::fleet(), &fixtures::dev())
        .unwrap()
        .into_iter()
        .filter(|r| {
            [
                RESOURCE_GROUP,
                VIRTUAL_NETWORK,
                SUBNET,
                USER_ASSIGNED_IDENTITY,
            ]
            .contains(&r.address.kind.as_str())
        })
        .collect();
    assert!(resources.len() >= 4, "{resources:#?}");

    let mut states = Vec::new();
    for r in &resources {
        let created = provider
            .create(
                &ctx,
                CreateRequest {
                    address: &r.address,
                    properties: &r.properties,
                    replacing: None,
                },
            )
            .await
            .unwrap_or_else(|e| panic!("create {}: {e}", r.address));
        let state = state_of(r, &created.cloud_id);
        if !created.ready {
            provider.wait(&ctx, &state, WaitFor::Ready).await.unwrap();
        }
        assert_eq!(
            created.outputs["id"].as_str().map(str::to_ascii_lowercase),
            Some(created.cloud_id.to_ascii_lowercase())
        );
        if r.address.kind.as_str() == USER_ASSIGNED_IDENTITY {
            assert!(
                created.outputs.contains_key("principalId"),
                "{:?}",
                created.outputs
            );
        }
        let live = provider.read(&ctx, &state).await.unwrap().expect("exists");
        assert_eq!(
            live.properties, state.resolved,
            "{} reads back as resolved",
            r.address
        );
        states.push((r.clone(), state));
    }
    // One PUT intent per resource, each journaled before its call.
    let puts = journal
        .intents
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, op)| op.starts_with("PUT "))
        .count();
    assert_eq!(puts, resources.len());

    // Adoption: creating again finds each object by its deterministic id and its tags.
    for (r, state) in &states {
        let again = provider
            .create(
                &ctx,
                CreateRequest {
                    address: &r.address,
                    properties: &r.properties,
                    replacing: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(Some(again.cloud_id.as_str()), state.cloud_id.as_deref());
    }
    // Another address never takes over an owned object.
    let (vnet, _) = states
        .iter()
        .find(|(r, _)| r.address.kind.as_str() == VIRTUAL_NETWORK)
        .unwrap();
    let thief = Address::new("dev-weu", VIRTUAL_NETWORK, "other");
    let err = provider
        .create(
            &ctx,
            CreateRequest {
                address: &thief,
                properties: &vnet.properties,
                replacing: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.class, err.code.as_str()),
        (ErrorClass::Conflict, "NotOwned")
    );

    // Update in place: a new tag on the VNet keeps its subnets.
    let (vnet, vnet_state) = states
        .iter()
        .find(|(r, _)| r.address.kind.as_str() == VIRTUAL_NETWORK)
        .unwrap();
    let mut props = vnet.properties.clone();
    if let Some(Value::Map(body)) = props.get_mut("body")
        && let Some(Value::Map(tags)) = body.get_mut("tags")
    {
        tags.insert("team".into(), Value::from("runtime"));
    }
    provider
        .update(
            &ctx,
            UpdateRequest {
                address: &vnet.address,
                properties: &props,
                prior: vnet_state,
                changed: &["body".to_owned()],
            },
        )
        .await
        .unwrap();
    let mut updated = vnet_state.clone();
    updated.resolved = props.clone();
    let live = provider.read(&ctx, &updated).await.unwrap().unwrap();
    assert_eq!(live.properties, props);
    for (r, state) in states
        .iter()
        .filter(|(r, _)| r.address.kind.as_str() == SUBNET)
    {
        assert!(
            provider.read(&ctx, state).await.unwrap().is_some(),
            "{} survives the VNet update",
            r.address
        );
    }

    // Delete in reverse order; deleting again succeeds; intents precede every DELETE.
    let before = journal.intents.lock().unwrap().len();
    for (r, state) in states.iter().rev() {
        provider
            .delete(&ctx, state)
            .await
            .unwrap_or_else(|e| panic!("delete {}: {e}", r.address));
        provider.wait(&ctx, state, WaitFor::Deleted).await.unwrap();
        assert!(
            provider.read(&ctx, state).await.unwrap().is_none(),
            "{} is gone",
            r.address
        );
        provider.delete(&ctx, state).await.unwrap();
    }
    let deletes = journal.intents.lock().unwrap()[before..]
        .iter()
        .filter(|(_, op)| op.starts_with("DELETE "))
        .count();
    assert!(
        deletes >= states.len(),
        "{deletes} DELETE intents for {} objects",
        states.len()
    );
    emulator.shutdown().await;
}
