//! Integration tests: a real emulator on 127.0.0.1:0 driven over raw HTTP/1.1, as an SDK
//! would drive it (SigV4-shaped `Authorization` header, form or JSON bodies; ARM with a Bearer
//! token and JSON bodies).

mod admin;
mod arm;
mod azure_sdk;
mod boto3;
mod drills;
mod ec2;
mod eks;
mod faults;
mod iam;
mod persistence;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use slipway_emulator::{Emulator, EmulatorConfig, FaultConfig, RunningEmulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Reply {
    /// The text of the first `<name>` element.
    pub(crate) fn tag(&self, name: &str) -> Option<String> {
        let open = format!("<{name}>");
        let start = self.body.find(&open)? + open.len();
        let end = self.body[start..].find(&format!("</{name}>"))?;
        Some(self.body[start..start + end].to_owned())
    }

    /// Every text of `<name>` elements.
    pub(crate) fn tags(&self, name: &str) -> Vec<String> {
        let open = format!("<{name}>");
        let close = format!("</{name}>");
        self.body
            .split(&open)
            .skip(1)
            .filter_map(|s| s.split(&close).next().map(str::to_owned))
            .collect()
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A running emulator and a client for it.
pub(crate) struct Env {
    pub(crate) emulator: RunningEmulator,
    pub(crate) addr: SocketAddr,
}

/// Faults off and no rate limiting: tests that are not about them should never see them.
pub(crate) fn quiet() -> FaultConfig {
    FaultConfig {
        rate_limits: false,
        ..FaultConfig::default()
    }
}

impl Env {
    pub(crate) async fn start(time_scale: f64) -> Env {
        Self::with(EmulatorConfig {
            time_scale,
            faults: quiet(),
            seed: 42,
            ..EmulatorConfig::default()
        })
        .await
    }

    pub(crate) async fn with(config: EmulatorConfig) -> Env {
        let emulator = Emulator::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("emulator starts");
        let addr = emulator.local_addr();
        Env { emulator, addr }
    }

    pub(crate) async fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: &str,
    ) -> Reply {
        let mut stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut raw))
            .await
            .expect("response within 20 s")
            .unwrap();
        let text = String::from_utf8(raw).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let mut lines = head.lines();
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Reply {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    fn auth(service: &str, region: &str) -> (&'static str, String) {
        (
            "Authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/{region}/{service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000"
            ),
        )
    }

    /// A query-protocol call (EC2, IAM, STS).
    pub(crate) async fn query(
        &self,
        service: &str,
        action: &str,
        params: &[(&str, &str)],
    ) -> Reply {
        self.query_in("us-east-1", service, action, params).await
    }

    /// A query-protocol call signed for `region`.
    pub(crate) async fn query_in(
        &self,
        region: &str,
        service: &str,
        action: &str,
        params: &[(&str, &str)],
    ) -> Reply {
        let version = match service {
            "ec2" => "2016-11-15",
            "iam" => "2010-05-08",
            _ => "2011-06-15",
        };
        let mut form = form_encode(&[("Action", action), ("Version", version)]);
        if !params.is_empty() {
            form.push('&');
            form.push_str(&form_encode(params));
        }
        self.raw(
            "POST",
            "/",
            &[
                Self::auth(service, region),
                (
                    "Content-Type",
                    "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
                ),
            ],
            &form,
        )
        .await
    }

    pub(crate) async fn ec2(&self, action: &str, params: &[(&str, &str)]) -> Reply {
        self.query("ec2", action, params).await
    }

    pub(crate) async fn iam(&self, action: &str, params: &[(&str, &str)]) -> Reply {
        self.query("iam", action, params).await
    }

    /// A REST-JSON EKS call.
    pub(crate) async fn eks(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.eks_in("us-east-1", method, path, body).await
    }

    /// A REST-JSON EKS call signed for `region`.
    pub(crate) async fn eks_in(
        &self,
        region: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        self.raw(
            method,
            path,
            &[
                Self::auth("eks", region),
                ("Content-Type", "application/json".to_owned()),
            ],
            &body,
        )
        .await
    }

    /// An ARM call: `path` carries its own `api-version`.
    pub(crate) async fn arm(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.arm_with(method, path, body, &[]).await
    }

    /// An ARM call with extra headers.
    pub(crate) async fn arm_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, String)],
    ) -> Reply {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut all = vec![
            ("Authorization", "Bearer test-token".to_owned()),
            ("Content-Type", "application/json".to_owned()),
        ];
        all.extend(headers.iter().cloned());
        self.raw(method, path, &all, &body).await
    }

    pub(crate) async fn admin(&self, method: &str, path: &str, body: &str) -> Reply {
        self.raw(method, &format!("/_emulator/{path}"), &[], body)
            .await
    }

    /// Polls DescribeCluster until `status` or panics after 10 s.
    pub(crate) async fn wait_cluster(&self, name: &str, status: &str) -> Value {
        for _ in 0..500 {
            let r = self.eks("GET", &format!("/clusters/{name}"), None).await;
            let v = r.json();
            if v["cluster"]["status"] == status {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("cluster {name} never reached {status}");
    }
}

pub(crate) fn form_encode(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Creates a VPC with two subnets in two zones; returns (vpc, [subnets]).
pub(crate) async fn network(env: &Env, cidr: &str) -> (String, Vec<String>) {
    let r = env
        .ec2(
            "CreateVpc",
            &[
                ("CidrBlock", cidr),
                ("TagSpecification.1.ResourceType", "vpc"),
                ("TagSpecification.1.Tag.1.Key", "slipway:fleet"),
                ("TagSpecification.1.Tag.1.Value", "test"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let vpc = r.tag("vpcId").unwrap();
    let base: Vec<&str> = cidr.split('.').collect();
    let mut subnets = Vec::new();
    for (i, az) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
        let c = format!("{}.{}.{}.0/24", base[0], base[1], i);
        let r = env
            .ec2(
                "CreateSubnet",
                &[("VpcId", &vpc), ("CidrBlock", &c), ("AvailabilityZone", az)],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        subnets.push(r.tag("subnetId").unwrap());
    }
    (vpc, subnets)
}

/// Creates a role trusting `service` with the given managed policies; returns its ARN.
pub(crate) async fn role(env: &Env, name: &str, service: &str, policies: &[&str]) -> String {
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"{service}"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let r = env
        .iam(
            "CreateRole",
            &[("RoleName", name), ("AssumeRolePolicyDocument", &trust)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for p in policies {
        let arn = format!("arn:aws:iam::aws:policy/{p}");
        let r = env
            .iam(
                "AttachRolePolicy",
                &[("RoleName", name), ("PolicyArn", &arn)],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    r.tag("Arn").unwrap()
}
