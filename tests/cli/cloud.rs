//! An emulator started in the test process, and helpers to run `slipway` against it and to
//! see the emulated cloud through the emulator's own API (never through Slipway's state).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};

use slipway_emulator::{Emulator, EmulatorConfig, FaultConfig, RunningEmulator};

use crate::{TODAY, one_json_document, slipway};

/// Emulated operations run 3000 times faster: an EKS create takes a fraction of a second.
const TIME_SCALE: f64 = 3000.0;

pub struct Cloud {
    runtime: tokio::runtime::Runtime,
    emulator: Option<RunningEmulator>,
    pub url: String,
}

impl Cloud {
    pub fn start(faults: FaultConfig) -> Self {
        Self::start_scaled(faults, TIME_SCALE)
    }

    /// An emulator running `time_scale` times faster than real clouds.
    pub fn start_scaled(faults: FaultConfig, time_scale: f64) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let config = EmulatorConfig {
            time_scale,
            faults,
            today: Some(TODAY.parse().unwrap()),
            ..EmulatorConfig::default()
        };
        let emulator = runtime
            .block_on(Emulator::start(
                config,
                SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            ))
            .unwrap();
        let url = emulator.url();
        Self {
            runtime,
            emulator: Some(emulator),
            url,
        }
    }

    /// Objects of every emulated service carrying `tag` (`KEY=VALUE`), via the emulator's API.
    pub fn objects(&self, tag: &str) -> Vec<serde_json::Value> {
        let (status, body) = http_get(&self.url, &format!("/_emulator/objects?tag={tag}"), "");
        assert_eq!(status, 200, "{body}");
        let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
        doc["objects"].as_array().unwrap().clone()
    }

    /// The HTTP status of an ARM GET of `id` at `api_version`, as any ARM client would send it.
    pub fn arm_get_status(&self, id: &str, api_version: &str) -> u16 {
        let path = format!("{id}?api-version={api_version}");
        http_get(&self.url, &path, "Authorization: Bearer test\r\n").0
    }

    pub fn set_faults(&self, faults: FaultConfig) {
        self.emulator.as_ref().unwrap().set_faults(faults);
    }
}

impl Drop for Cloud {
    fn drop(&mut self) {
        if let Some(emulator) = self.emulator.take() {
            self.runtime.block_on(emulator.shutdown());
        }
    }
}

/// A GET on a loopback server: the status code and the body.
fn http_get(base: &str, path: &str, headers: &str) -> (u16, String) {
    http("GET", base, path, headers, "")
}

/// One plain HTTP/1.1 request to a loopback server: the status code and the body.
pub fn http(method: &str, base: &str, path: &str, headers: &str, body: &str) -> (u16, String) {
    let host = base.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(host).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head}"));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// A temporary copy of `examples/<name>/fleet.yaml`.
pub fn example(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("fleet.yaml");
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
        .join("fleet.yaml");
    std::fs::copy(source, &target).unwrap();
    (dir, target)
}

pub fn run(dir: &Path, cloud: &Cloud, args: &[&str]) -> assert_cmd::assert::Assert {
    slipway(dir)
        .args(["--emulator-url", &cloud.url])
        .args(args)
        .assert()
}

/// Every Slipway-owned object, by address; fails on an address owning two objects.
pub fn owned_by_address(cloud: &Cloud, fleet: &str) -> BTreeMap<String, String> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for o in cloud.objects(&format!("slipway:fleet={fleet}")) {
        let address = o["tags"]["slipway:address"]
            .as_str()
            .unwrap_or("?")
            .to_owned();
        let id = o["id"].as_str().unwrap_or("?").to_owned();
        if let Some(previous) = seen.insert(address.clone(), id.clone()) {
            panic!("`{address}` owns two objects: {previous} and {id}");
        }
    }
    seen
}

/// `(address, cloud id, properties)` of every resource in Slipway's state.
pub fn recorded(
    dir: &Path,
    cloud: &Cloud,
    fleet: &str,
) -> Vec<(String, String, serde_json::Value)> {
    let state = run(dir, cloud, &["--output", "json", "state", "list", fleet]).code(0);
    let doc = one_json_document(&state.get_output().stdout);
    doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["address"].as_str().unwrap().to_owned(),
                r["cloud_id"].as_str().unwrap_or_default().to_owned(),
                r["properties"].clone(),
            )
        })
        .collect()
}

/// Addresses in Slipway's state, sorted.
pub fn recorded_addresses(dir: &Path, cloud: &Cloud, fleet: &str) -> Vec<String> {
    let state = run(dir, cloud, &["--output", "json", "state", "list", fleet]).code(0);
    let doc = one_json_document(&state.get_output().stdout);
    let mut addresses: Vec<String> = doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["address"].as_str().unwrap().to_owned())
        .collect();
    addresses.sort();
    addresses
}

pub fn edit(fleet: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(fleet).unwrap();
    assert!(text.contains(from), "`{from}` not in the example");
    std::fs::write(fleet, text.replacen(from, to, 1)).unwrap();
}

/// The journal entries of one run, as `state history --run` reports them.
pub fn journal(dir: &Path, cloud: &Cloud, fleet: &str, run_id: &str) -> Vec<serde_json::Value> {
    let history = run(
        dir,
        cloud,
        &[
            "--output", "json", "state", "history", fleet, "--run", run_id,
        ],
    )
    .code(0);
    one_json_document(&history.get_output().stdout)["journal"]
        .as_array()
        .unwrap()
        .clone()
}

/// Proves from the journal of `run_id` that `address` was replaced create-before-destroy:
/// the new object's `create_op`, then the engine's note that it is ready, then the old object's
/// `delete_op` — so there was never a moment without one.
pub fn assert_replaced_before_destroyed(
    dir: &Path,
    cloud: &Cloud,
    fleet: &str,
    run_id: &str,
    address: &str,
    (create_op, delete_op): (&str, &str),
) {
    let journal = journal(dir, cloud, fleet, run_id);
    let position = |what: &str, pred: &dyn Fn(&serde_json::Value) -> bool| {
        journal
            .iter()
            .position(|e| e["address"] == address && pred(&e["event"]))
            .unwrap_or_else(|| panic!("journal lacks {what}: {journal:#?}"))
    };
    let created = position(create_op, &|e| e["operation"] == create_op);
    let ready = position("the replacement's readiness", &|e| {
        e["type"] == "note"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("is ready"))
    });
    let deleted = position(delete_op, &|e| e["operation"] == delete_op);
    assert!(
        created < ready && ready < deleted,
        "the old object was deleted before the new one was ready: {journal:#?}"
    );
}
