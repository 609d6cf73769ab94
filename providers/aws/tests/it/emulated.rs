//! What tests against Slipway's emulator need (moto has no EKS add-ons, insights or update
//! failures): an emulator on a pinned date, a provider and an SDK pointed at it, and the IAM
//! roles and waits that building objects behind the provider's back takes.

use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_sdk_ec2::config::{Credentials, Region};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use slipway_aws::{AwsProvider, AwsProviderConfig, StaticCredentials};
use slipway_emulator::{Emulator, EmulatorConfig, FaultConfig, RunningEmulator};
use slipway_provider::OpContext;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Journal, fleet};

/// How many times faster than real time the emulator runs; the provider is told the same.
pub const TIME_SCALE: f64 = 6000.0;

/// The referee cluster's EKS name.
pub const CLUSTER: &str = "ref-use1";

/// An emulator with `faults` (the text syntax) and no rate limits, on 2026-03-01, when 1.30
/// is still supported, so a cluster can start a minor behind.
pub async fn emulator(faults: &str) -> RunningEmulator {
    let faults: FaultConfig = faults.parse().expect("fault syntax");
    Emulator::start(
        EmulatorConfig {
            time_scale: TIME_SCALE,
            faults: FaultConfig {
                rate_limits: false,
                ..faults
            },
            seed: 7,
            today: Some(jiff::civil::date(2026, 3, 1)),
            ..EmulatorConfig::default()
        },
        "127.0.0.1:0".parse().expect("address"),
    )
    .await
    .expect("the emulator starts")
}

/// The provider pointed at `emu`.
pub fn provider(emu: &RunningEmulator) -> AwsProvider {
    AwsProvider::new(AwsProviderConfig {
        endpoint_url: Some(emu.url()),
        region_override: None,
        clock_scale: TIME_SCALE,
        static_credentials: Some(StaticCredentials {
            access_key_id: "testing".to_owned(),
            secret_access_key: "testing".to_owned(),
        }),
    })
    .expect("provider")
}

/// An operation context of the referee fleet recording into `journal`.
pub fn context(journal: &Arc<Journal>) -> OpContext {
    OpContext {
        fleet: fleet().name.clone(),
        run_id: "run-1".to_owned(),
        pacer: journal.clone(),
        sink: journal.clone(),
    }
}

/// POSTs a JSON body to the emulator's admin API, returning the status line.
pub async fn admin_post(emu: &RunningEmulator, path: &str, body: &serde_json::Value) -> String {
    let body = body.to_string();
    let mut tcp = tokio::net::TcpStream::connect(emu.local_addr())
        .await
        .expect("connect");
    let request = format!(
        "POST /_emulator/{path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.expect("read");
    response.lines().next().unwrap_or_default().to_owned()
}

/// SDK clients on the emulator.
pub struct Sdk {
    pub ec2: aws_sdk_ec2::Client,
    pub iam: aws_sdk_iam::Client,
    pub eks: aws_sdk_eks::Client,
}

pub async fn sdk(url: &str) -> Sdk {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await;
    Sdk {
        ec2: aws_sdk_ec2::Client::new(&config),
        iam: aws_sdk_iam::Client::new(&config),
        eks: aws_sdk_eks::Client::new(&config),
    }
}

/// A role trusting `service` with AWS managed policies `policies`; returns its ARN.
pub async fn role(sdk: &Sdk, name: &str, service: &str, policies: &[&str]) -> String {
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"{service}"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let out = sdk
        .iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust)
        .send()
        .await
        .expect("CreateRole");
    for p in policies {
        sdk.iam
            .attach_role_policy()
            .role_name(name)
            .policy_arn(format!("arn:aws:iam::aws:policy/{p}"))
            .send()
            .await
            .expect("AttachRolePolicy");
    }
    out.role().expect("role").arn().to_owned()
}

/// Polls until the referee cluster is ACTIVE on `version`.
pub async fn wait_active(sdk: &Sdk, version: &str) {
    for _ in 0..500 {
        let out = sdk
            .eks
            .describe_cluster()
            .name(CLUSTER)
            .send()
            .await
            .expect("DescribeCluster");
        let cl = out.cluster().expect("cluster");
        if cl.status().map(|s| s.as_str()) == Some("ACTIVE") && cl.version() == Some(version) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the cluster never became ACTIVE on {version}");
}
