//! Microsoft's long-running-operation scenarios (npm `@microsoft.azure/autorest.testserver`,
//! the `/lro/...` routes of its `lro.json`) driven through the provider's ARM client and
//! poller: success cases must succeed, failure cases must fail with the right code.
//!
//! The server is installed by `scripts/install-referees`; a test that cannot start it fails.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use slipway_azure::{
    ArmClient, ArmMethod, AzureCredentialChoice, AzureProvider, AzureProviderConfig,
};
use slipway_provider::ErrorClass;

/// The test server, killed when dropped.
struct TestServer {
    child: Child,
    port: u16,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server() -> TestServer {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cli = root.join("node_modules/@microsoft.azure/autorest.testserver/dist/cli/cli.js");
    assert!(
        cli.exists(),
        "{} is missing: run scripts/install-referees (npm ci) first",
        cli.display()
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    let child = Command::new("node")
        .arg(&cli)
        .args(["run", "--port", &port.to_string()])
        .current_dir(&root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start node ({e}): run scripts/install-referees"));
    let server = TestServer { child, port };
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the autorest test server did not listen on port {port} within 60s; run scripts/install-referees"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

fn client(port: u16) -> ArmClient {
    AzureProvider::new(AzureProviderConfig {
        endpoint_url: Some(format!("http://127.0.0.1:{port}")),
        credential: AzureCredentialChoice::Static("test-token".into()),
        clock_scale: 1.0,
    })
    .expect("provider")
    .arm()
    .clone()
    .with_polling(Duration::from_secs(30), Duration::from_millis(20))
}

const SUCCEEDS: &[(ArmMethod, &str)] = &[
    // PUT answered inline, with and without a provisioning state.
    (ArmMethod::Put, "/lro/put/200/succeeded"),
    (ArmMethod::Put, "/lro/put/201/succeeded"),
    (ArmMethod::Put, "/lro/put/200/succeeded/nostate"),
    // PUT polled through provisioningState.
    (ArmMethod::Put, "/lro/put/201/creating/succeeded/200"),
    (ArmMethod::Put, "/lro/put/200/updating/succeeded/200"),
    // PUT polled through Location.
    (ArmMethod::Put, "/lro/put/202/retry/200"),
    (ArmMethod::Put, "/lro/put/noheader/202/200"),
    (ArmMethod::Put, "/lro/putsubresource/202/200"),
    (ArmMethod::Put, "/lro/putnonresource/202/200"),
    // PUT polled through Azure-AsyncOperation, with and without Retry-After.
    (ArmMethod::Put, "/lro/putasync/retry/succeeded"),
    (ArmMethod::Put, "/lro/putasync/noretry/succeeded"),
    (ArmMethod::Put, "/lro/putasync/noheader/201/200"),
    (ArmMethod::Put, "/lro/putsubresourceasync/202/200"),
    (ArmMethod::Put, "/lro/putnonresourceasync/202/200"),
    // PATCH.
    (ArmMethod::Patch, "/lro/patch/201/retry/onlyAsyncHeader"),
    (
        ArmMethod::Patch,
        "/lro/patch/202/retry/asyncAndLocationHeader",
    ),
    // DELETE: inline 204, Location (ending 200 or 204), Azure-AsyncOperation, provisioningState.
    (ArmMethod::Delete, "/lro/delete/204/succeeded"),
    (ArmMethod::Delete, "/lro/delete/202/retry/200"),
    (ArmMethod::Delete, "/lro/delete/202/noretry/204"),
    (ArmMethod::Delete, "/lro/delete/noheader"),
    (ArmMethod::Delete, "/lro/deleteasync/noheader/202/204"),
    (ArmMethod::Delete, "/lro/deleteasync/retry/succeeded"),
    (ArmMethod::Delete, "/lro/deleteasync/noretry/succeeded"),
    (
        ArmMethod::Delete,
        "/lro/delete/provisioning/202/accepted/200/succeeded",
    ),
    // POST with Location and with Azure-AsyncOperation.
    (ArmMethod::Post, "/lro/post/202/retry/200"),
    (ArmMethod::Post, "/lro/post/202/noretry/204"),
    (ArmMethod::Post, "/lro/postasync/retry/succeeded"),
    (ArmMethod::Post, "/lro/postasync/noretry/succeeded"),
    // 500s on the first call or poll, retried by azure_core's retry policy.
    (
        ArmMethod::Put,
        "/lro/retryerror/put/201/creating/succeeded/200",
    ),
    (ArmMethod::Put, "/lro/retryerror/putasync/retry/succeeded"),
    (
        ArmMethod::Delete,
        "/lro/retryerror/delete/provisioning/202/accepted/200/succeeded",
    ),
    (ArmMethod::Delete, "/lro/retryerror/delete/202/retry/200"),
    (
        ArmMethod::Delete,
        "/lro/retryerror/deleteasync/retry/succeeded",
    ),
    (ArmMethod::Post, "/lro/retryerror/post/202/retry/200"),
    (ArmMethod::Post, "/lro/retryerror/postasync/retry/succeeded"),
];

/// Failure scenarios and the error code the poller must report.
const FAILS: &[(ArmMethod, &str, &str)] = &[
    (ArmMethod::Put, "/lro/put/201/created/failed/200", "Failed"),
    (
        ArmMethod::Put,
        "/lro/put/200/accepted/canceled/200",
        "Canceled",
    ),
    (ArmMethod::Put, "/lro/putasync/retry/failed", "Failed"),
    (ArmMethod::Put, "/lro/putasync/noretry/canceled", "Canceled"),
    (
        ArmMethod::Delete,
        "/lro/delete/provisioning/202/deleting/200/failed",
        "Failed",
    ),
    (
        ArmMethod::Delete,
        "/lro/delete/provisioning/202/deleting/200/canceled",
        "Canceled",
    ),
    (ArmMethod::Delete, "/lro/deleteasync/retry/failed", "Failed"),
    (
        ArmMethod::Delete,
        "/lro/deleteasync/retry/canceled",
        "Canceled",
    ),
    // The operation status carries its own error code (a number here).
    (ArmMethod::Post, "/lro/postasync/retry/failed", "500"),
    (ArmMethod::Post, "/lro/postasync/retry/canceled", "Canceled"),
    // 400s on the call or a poll: the service's error, never retried.
    (ArmMethod::Put, "/lro/nonretryerror/put/400", "HTTP400"),
    (
        ArmMethod::Put,
        "/lro/nonretryerror/put/201/creating/400",
        "HTTP400",
    ),
    (
        ArmMethod::Put,
        "/lro/nonretryerror/putasync/retry/400",
        "HTTP400",
    ),
    (
        ArmMethod::Delete,
        "/lro/nonretryerror/delete/400",
        "HTTP400",
    ),
    (
        ArmMethod::Delete,
        "/lro/nonretryerror/delete/202/retry/400",
        "HTTP400",
    ),
    (
        ArmMethod::Delete,
        "/lro/nonretryerror/deleteasync/retry/400",
        "HTTP400",
    ),
    (ArmMethod::Post, "/lro/nonretryerror/post/400", "HTTP400"),
    (
        ArmMethod::Post,
        "/lro/nonretryerror/post/202/retry/400",
        "HTTP400",
    ),
    (
        ArmMethod::Post,
        "/lro/nonretryerror/postasync/retry/400",
        "HTTP400",
    ),
    // Malformed answers.
    (
        ArmMethod::Put,
        "/lro/error/put/200/invalidjson",
        "InvalidResponse",
    ),
    (
        ArmMethod::Put,
        "/lro/error/putasync/retry/nostatus",
        "InvalidResponse",
    ),
    (
        ArmMethod::Put,
        "/lro/error/putasync/retry/nostatuspayload",
        "InvalidResponse",
    ),
    (
        ArmMethod::Put,
        "/lro/error/putasync/retry/invalidjsonpolling",
        "InvalidResponse",
    ),
    (
        ArmMethod::Delete,
        "/lro/error/deleteasync/retry/nostatus",
        "InvalidResponse",
    ),
    (
        ArmMethod::Delete,
        "/lro/error/deleteasync/retry/invalidjsonpolling",
        "InvalidResponse",
    ),
    (
        ArmMethod::Post,
        "/lro/error/post/202/nolocation",
        "InvalidResponse",
    ),
    (
        ArmMethod::Post,
        "/lro/error/postasync/retry/invalidjsonpolling",
        "InvalidResponse",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microsofts_lro_scenarios_run_through_the_poller() {
    let server = start_server();
    let mut problems = Vec::new();
    for (method, path) in SUCCEEDS {
        // A fresh client per scenario: the server keeps scenario state in cookies.
        let arm = client(server.port);
        let body = Some(serde_json::json!({ "properties": {} }));
        let body = body.as_ref().filter(|_| *method != ArmMethod::Delete);
        let progress = |_: Duration| {};
        if let Err(e) = arm.execute(*method, path, body, "LRO", &progress).await {
            problems.push(format!(
                "{} {path}: expected success, got {e}",
                method.as_str()
            ));
        }
    }
    for (method, path, code) in FAILS {
        let arm = client(server.port);
        let body = Some(serde_json::json!({ "properties": {} }));
        let body = body.as_ref().filter(|_| *method != ArmMethod::Delete);
        let progress = |_: Duration| {};
        match arm.execute(*method, path, body, "LRO", &progress).await {
            Ok(v) => problems.push(format!(
                "{} {path}: expected {code}, got success {v:?}",
                method.as_str()
            )),
            Err(e) if e.code != *code => problems.push(format!(
                "{} {path}: expected {code}, got {} ({})",
                method.as_str(),
                e.code,
                e.message
            )),
            Err(e) => assert!(
                !e.class.is_retryable() || e.class == ErrorClass::Transient,
                "{e}"
            ),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn final_bodies_and_progress_come_from_the_right_place() {
    let server = start_server();
    let arm = client(server.port);
    let body = serde_json::json!({ "properties": {} });
    let polls = std::sync::atomic::AtomicUsize::new(0);
    let progress = |_: Duration| {
        polls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    };
    // Azure-AsyncOperation, then a final GET of the resource.
    let done = arm
        .execute(
            ArmMethod::Put,
            "/lro/putasync/retry/succeeded",
            Some(&body),
            "PUT x",
            &progress,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done["properties"]["provisioningState"], "Succeeded");
    assert!(polls.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    // Location: the body of the last poll.
    let done = arm
        .execute(
            ArmMethod::Put,
            "/lro/put/202/retry/200",
            Some(&body),
            "PUT x",
            &progress,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done["name"], "foo");
    // A delete ending in 204 has no body.
    let done = arm
        .execute(
            ArmMethod::Delete,
            "/lro/delete/202/noretry/204",
            None,
            "DELETE x",
            &progress,
        )
        .await
        .unwrap();
    assert_eq!(done, None);
}
