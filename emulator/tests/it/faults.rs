//! Injected faults and rate limits: service-appropriate codes, reproducible with a seed.

use slipway_emulator::{EmulatorConfig, FaultConfig};

use crate::{Env, quiet};

async fn codes(env: &Env, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let r = env.ec2("DescribeVpcs", &[]).await;
        out.push(r.tag("Code").unwrap_or_else(|| r.status.to_string()));
    }
    out
}

#[tokio::test]
async fn seeded_throttling_and_server_errors_replay_identically() {
    let faults: FaultConfig = "throttle=0.3,5xx=0.2,seed=7,ratelimit=off".parse().unwrap();
    let config = EmulatorConfig {
        faults: faults.clone(),
        seed: 1,
        ..EmulatorConfig::default()
    };
    let a = Env::with(config.clone()).await;
    let b = Env::with(config).await;
    let first = codes(&a, 60).await;
    let second = codes(&b, 60).await;
    assert_eq!(first, second, "same seed, same faults");
    assert!(
        first.iter().any(|c| c == "RequestLimitExceeded"),
        "{first:?}"
    );
    assert!(
        first
            .iter()
            .any(|c| c == "InternalError" || c == "Unavailable"),
        "{first:?}"
    );
    assert!(first.iter().any(|c| c == "200"), "{first:?}");

    // The same faults speak each service's dialect.
    a.emulator
        .set_faults("throttle=1,ratelimit=off".parse().unwrap());
    let r = a.eks("GET", "/clusters", None).await;
    assert_eq!(
        (r.status, r.header("x-amzn-ErrorType")),
        (429, Some("ThrottlingException"))
    );
    let r = a.iam("ListRoles", &[]).await;
    assert_eq!(r.tag("Code").as_deref(), Some("Throttling"));
    let r = a.ec2("DescribeVpcs", &[]).await;
    assert_eq!(r.status, 503);

    let off = a.admin("POST", "faults", "ratelimit=off").await;
    assert_eq!(off.status, 200, "{}", off.body);
    assert_eq!(a.ec2("DescribeVpcs", &[]).await.status, 200);
    let bad = a.admin("POST", "faults", "throttle=7").await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn token_buckets_throttle_bursts_per_api_class() {
    let env = Env::with(EmulatorConfig {
        faults: FaultConfig::default(),
        ..EmulatorConfig::default()
    })
    .await;
    let (vpc, _) = crate::network(&env, "10.30.0.0/16").await;
    let service = "com.amazonaws.us-east-1.s3";
    let mut codes = Vec::new();
    for _ in 0..5 {
        let r = env
            .ec2(
                "CreateVpcEndpoint",
                &[("VpcId", &vpc), ("ServiceName", service)],
            )
            .await;
        codes.push(r.tag("Code").unwrap_or_else(|| r.status.to_string()));
    }
    // CreateVpcEndpoint: 4 tokens, 0.3/s.
    assert_eq!(codes, ["200", "200", "200", "200", "RequestLimitExceeded"]);
    assert_eq!(
        env.ec2("DescribeVpcs", &[]).await.status,
        200,
        "other buckets are separate"
    );
    let quiet_env = Env::with(EmulatorConfig {
        faults: quiet(),
        ..EmulatorConfig::default()
    })
    .await;
    let mut eks = Vec::new();
    for _ in 0..120 {
        eks.push(quiet_env.eks("GET", "/clusters", None).await.status);
    }
    assert!(
        eks.iter().all(|s| *s == 200),
        "rate limits can be switched off"
    );
    // 100 tokens refilling at 10/s: a tight loop empties the bucket whatever the machine.
    let mut throttled = None;
    for _ in 0..1000 {
        let r = env.eks("GET", "/clusters", None).await;
        if r.status != 200 {
            throttled = r.header("x-amzn-ErrorType").map(str::to_owned);
            break;
        }
    }
    assert_eq!(throttled.as_deref(), Some("TooManyRequestsException"));
}

#[tokio::test]
async fn configured_operation_failures_fail_matching_node_groups() {
    let env = Env::with(EmulatorConfig {
        time_scale: 6000.0,
        faults: "fail=nodegroup:gpu-*,ratelimit=off".parse().unwrap(),
        ..EmulatorConfig::default()
    })
    .await;
    let (vpc, subnets) = crate::network(&env, "10.31.0.0/16").await;
    let cr = crate::role(&env, "fc", "eks.amazonaws.com", &[]).await;
    let nr = crate::role(
        &env,
        "fn",
        "ec2.amazonaws.com",
        &[
            "AmazonEKSWorkerNodePolicy",
            "AmazonEC2ContainerRegistryReadOnly",
        ],
    )
    .await;
    let igw = env
        .ec2("CreateInternetGateway", &[])
        .await
        .tag("internetGatewayId")
        .unwrap();
    env.ec2(
        "AttachInternetGateway",
        &[("InternetGatewayId", &igw), ("VpcId", &vpc)],
    )
    .await;
    let rt = env
        .ec2("DescribeRouteTables", &[])
        .await
        .tag("routeTableId")
        .unwrap();
    env.ec2(
        "CreateRoute",
        &[
            ("RouteTableId", &rt),
            ("DestinationCidrBlock", "0.0.0.0/0"),
            ("GatewayId", &igw),
        ],
    )
    .await;
    let body = serde_json::json!({"name": "f", "version": "1.34", "roleArn": cr, "resourcesVpcConfig": {"subnetIds": subnets}});
    assert_eq!(env.eks("POST", "/clusters", Some(body)).await.status, 200);
    env.wait_cluster("f", "ACTIVE").await;
    for name in ["gpu-a", "cpu-a"] {
        let ng = serde_json::json!({"nodegroupName": name, "nodeRole": nr, "subnets": subnets});
        assert_eq!(
            env.eks("POST", "/clusters/f/node-groups", Some(ng))
                .await
                .status,
            200
        );
    }
    let mut final_status = std::collections::BTreeMap::new();
    for _ in 0..300 {
        for name in ["gpu-a", "cpu-a"] {
            let v = env
                .eks("GET", &format!("/clusters/f/node-groups/{name}"), None)
                .await
                .json();
            final_status.insert(name, v["nodegroup"].clone());
        }
        if final_status.values().all(|n| n["status"] != "CREATING") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(final_status["cpu-a"]["status"], "ACTIVE");
    assert_eq!(final_status["gpu-a"]["status"], "CREATE_FAILED");
    assert_eq!(
        final_status["gpu-a"]["health"]["issues"][0]["code"],
        "NodeCreationFailure"
    );
}

#[tokio::test]
async fn a_node_group_update_failure_leaves_the_old_version_and_once_lets_a_retry_succeed() {
    let env = Env::with(EmulatorConfig {
        time_scale: 6000.0,
        faults: "fail=nodegroup-update-once:gpu-*,ratelimit=off"
            .parse()
            .unwrap(),
        ..EmulatorConfig::default()
    })
    .await;
    let (vpc, subnets) = crate::network(&env, "10.32.0.0/16").await;
    let cr = crate::role(&env, "uc", "eks.amazonaws.com", &[]).await;
    let body = serde_json::json!({"name": "u", "version": "1.34", "roleArn": cr, "resourcesVpcConfig": {"subnetIds": subnets}});
    assert_eq!(env.eks("POST", "/clusters", Some(body)).await.status, 200);
    env.wait_cluster("u", "ACTIVE").await;
    crate::eks::active_node_groups(
        &env,
        "u",
        &vpc,
        &subnets,
        &[("gpu-a", "1.33"), ("cpu-a", "1.33")],
    )
    .await;
    let env = &env;
    let update = |name: &'static str| async move {
        let r = env
            .eks(
                "POST",
                &format!("/clusters/u/node-groups/{name}/update-version"),
                Some(serde_json::json!({"version": "1.34"})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["update"]["status"], "InProgress");
        r.json()["update"]["id"].as_str().unwrap().to_owned()
    };
    let describe = |name: &'static str, id: String| async move {
        env.eks(
            "GET",
            &format!("/clusters/u/updates/{id}?nodegroupName={name}"),
            None,
        )
        .await
        .json()["update"]
            .clone()
    };

    let (gpu, cpu) = (update("gpu-a").await, update("cpu-a").await);
    let gpu_ng = crate::eks::settled_nodegroup(env, "u", "gpu-a").await;
    let cpu_ng = crate::eks::settled_nodegroup(env, "u", "cpu-a").await;
    let failed = describe("gpu-a", gpu).await;
    assert_eq!(failed["status"], "Failed");
    let error = &failed["errors"][0];
    assert_eq!(error["errorCode"], "PodEvictionFailure");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .contains("evict pods from nodes in node group gpu-a"),
        "{error}"
    );
    assert_eq!(error["resourceIds"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        gpu_ng["status"], "ACTIVE",
        "back to ACTIVE after a failed roll"
    );
    assert_eq!(
        gpu_ng["version"], "1.33",
        "a failed roll keeps the old version"
    );
    assert_eq!(describe("cpu-a", cpu).await["status"], "Successful");
    assert_eq!(cpu_ng["version"], "1.34", "only matching node groups fail");
    assert_eq!(cpu_ng["releaseVersion"], "1.34.0-20260101");

    // `-once`: the second attempt on the same node group rolls through.
    let retry = update("gpu-a").await;
    let gpu_ng = crate::eks::settled_nodegroup(env, "u", "gpu-a").await;
    let done = describe("gpu-a", retry).await;
    assert_eq!(done["status"], "Successful", "{done}");
    assert_eq!(done["errors"], serde_json::json!([]));
    assert_eq!(gpu_ng["version"], "1.34");
}
