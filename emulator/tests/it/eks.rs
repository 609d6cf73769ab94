//! EKS's REST-JSON protocol: lifecycles under a time scale, typed errors, one-minor upgrades,
//! one update at a time, node groups and their dependencies, IAM propagation.

use serde_json::json;
use slipway_emulator::{EmulatorConfig, FaultConfig};

use crate::{Env, network, quiet, role};

async fn cluster_setup(env: &Env, name: &str) -> (String, Vec<String>) {
    let (vpc, subnets) = network(env, "10.20.0.0/16").await;
    let role_arn = role(
        env,
        &format!("{name}-cluster"),
        "eks.amazonaws.com",
        &["AmazonEKSClusterPolicy"],
    )
    .await;
    let r = env
        .eks(
            "POST",
            "/clusters",
            Some(json!({
                "name": name,
                "version": "1.34",
                "roleArn": role_arn,
                "resourcesVpcConfig": {"subnetIds": subnets, "endpointPrivateAccess": true},
                "accessConfig": {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": false},
                "clientRequestToken": "tok",
                "tags": {"slipway:fleet": "test"},
            })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    (vpc, subnets)
}

#[tokio::test]
async fn create_cluster_is_creating_then_active_under_the_time_scale() {
    let env = Env::start(6000.0).await;
    cluster_setup(&env, "c1").await;
    let first = env.eks("GET", "/clusters/c1", None).await;
    assert_eq!(first.status, 200);
    assert!(
        first
            .header("content-type")
            .is_some_and(|c| c.contains("json"))
    );
    assert!(first.header("x-amzn-RequestId").is_some());
    let c = &first.json()["cluster"];
    assert_eq!(c["status"], "CREATING");
    assert!(c.get("endpoint").is_none(), "no endpoint while creating");
    assert_eq!(c["arn"], "arn:aws:eks:us-east-1:000000000000:cluster/c1");
    assert!(
        c["identity"]["oidc"]["issuer"]
            .as_str()
            .unwrap()
            .starts_with("https://oidc.eks.us-east-1.amazonaws.com/id/")
    );
    assert!(
        c["resourcesVpcConfig"]["clusterSecurityGroupId"]
            .as_str()
            .unwrap()
            .starts_with("sg-")
    );
    assert!(c["createdAt"].is_f64());

    let active = env.wait_cluster("c1", "ACTIVE").await;
    let c = &active["cluster"];
    assert!(c["endpoint"].as_str().unwrap().starts_with("https://"));
    assert!(c["certificateAuthority"]["data"].is_string());
    assert_eq!(c["accessConfig"]["authenticationMode"], "API");

    let list = env.eks("GET", "/clusters", None).await.json();
    assert_eq!(list["clusters"], json!(["c1"]));
    // No bootstrap admin entry was asked for.
    let entries = env
        .eks("GET", "/clusters/c1/access-entries", None)
        .await
        .json();
    assert_eq!(entries["accessEntries"], json!([]));
}

#[tokio::test]
async fn create_cluster_validates_like_eks() {
    let env = Env::start(6000.0).await;
    let (_, subnets) = network(&env, "10.21.0.0/16").await;
    let role_arn = role(&env, "rc", "eks.amazonaws.com", &[]).await;
    let ec2_role = role(&env, "rn", "ec2.amazonaws.com", &[]).await;
    let base = |version: &str, role: &str, subnets: Vec<String>| json!({"name": "v", "version": version, "roleArn": role, "resourcesVpcConfig": {"subnetIds": subnets}});
    let cases = [
        (
            base("1.20", &role_arn, subnets.clone()),
            400,
            "InvalidParameterException",
        ),
        (
            base("1.34", &ec2_role, subnets.clone()),
            400,
            "InvalidParameterException",
        ),
        (
            base("1.34", &role_arn, subnets[..1].to_vec()),
            400,
            "InvalidParameterException",
        ),
        (
            base("1.34", &role_arn, vec!["subnet-0000000000000000f".into()]),
            400,
            "InvalidParameterException",
        ),
        (
            json!({"name": "v", "roleArn": role_arn, "resourcesVpcConfig": {"subnetIds": subnets}, "colour": "red"}),
            400,
            "InvalidParameterException",
        ),
        (
            json!({"name": "v", "roleArn": role_arn}),
            400,
            "InvalidParameterException",
        ),
    ];
    for (body, status, code) in cases {
        let r = env.eks("POST", "/clusters", Some(body.clone())).await;
        assert_eq!(
            (r.status, r.header("x-amzn-ErrorType")),
            (status, Some(code)),
            "{body} -> {}",
            r.body
        );
        assert!(r.json()["message"].is_string());
    }
    let missing = env.eks("GET", "/clusters/none", None).await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.header("x-amzn-ErrorType"),
        Some("ResourceNotFoundException")
    );
}

#[tokio::test]
async fn upgrades_go_one_minor_at_a_time_and_one_update_at_a_time() {
    let env = Env::start(6000.0).await;
    cluster_setup(&env, "up").await;
    let creating = env
        .eks(
            "POST",
            "/clusters/up/updates",
            Some(json!({"version": "1.35"})),
        )
        .await;
    assert_eq!(
        creating.status, 409,
        "no update while CREATING: {}",
        creating.body
    );
    env.wait_cluster("up", "ACTIVE").await;

    let skip = env
        .eks(
            "POST",
            "/clusters/up/updates",
            Some(json!({"version": "1.36"})),
        )
        .await;
    assert_eq!(skip.status, 400);
    assert_eq!(
        skip.header("x-amzn-ErrorType"),
        Some("InvalidParameterException")
    );
    assert!(
        skip.json()["message"]
            .as_str()
            .unwrap()
            .contains("one minor")
    );

    let ok = env
        .eks(
            "POST",
            "/clusters/up/updates",
            Some(json!({"version": "1.35"})),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let update = ok.json()["update"].clone();
    assert_eq!(update["type"], "VersionUpdate");
    assert_eq!(update["status"], "InProgress");
    let again = env
        .eks(
            "POST",
            "/clusters/up/update-config",
            Some(json!({"logging": {"clusterLogging": [{"types": ["api"], "enabled": true}]}})),
        )
        .await;
    assert_eq!(again.status, 409);
    assert_eq!(
        again.header("x-amzn-ErrorType"),
        Some("ResourceInUseException")
    );

    let done = env.wait_cluster("up", "ACTIVE").await;
    assert_eq!(done["cluster"]["version"], "1.35");
    let id = update["id"].as_str().unwrap();
    let described = env
        .eks("GET", &format!("/clusters/up/updates/{id}"), None)
        .await
        .json();
    assert_eq!(described["update"]["status"], "Successful");
    let ids = env.eks("GET", "/clusters/up/updates", None).await.json();
    assert_eq!(ids["updateIds"], json!([id]));
    let both = env
        .eks(
            "POST",
            "/clusters/up/update-config",
            Some(json!({
                "logging": {"clusterLogging": [{"types": ["api"], "enabled": true}]},
                "resourcesVpcConfig": {"endpointPublicAccess": false},
            })),
        )
        .await;
    assert_eq!(
        both.status, 400,
        "only one type of update per call: {}",
        both.body
    );
}

#[tokio::test]
async fn node_groups_block_cluster_deletion_and_follow_their_lifecycle() {
    let env = Env::start(6000.0).await;
    let (vpc, subnets) = cluster_setup(&env, "ng").await;
    let node_role = role(
        &env,
        "ng-nodes",
        "ec2.amazonaws.com",
        &[
            "AmazonEKSWorkerNodePolicy",
            "AmazonEC2ContainerRegistryReadOnly",
            "AmazonEKS_CNI_Policy",
        ],
    )
    .await;
    let body = json!({
        "nodegroupName": "general", "nodeRole": node_role, "subnets": subnets,
        "scalingConfig": {"minSize": 1, "maxSize": 3, "desiredSize": 2},
        "instanceTypes": ["m6i.large"], "amiType": "AL2023_x86_64_STANDARD",
        "taints": [{"key": "dedicated", "value": "x", "effect": "NO_SCHEDULE"}],
    });
    let early = env
        .eks("POST", "/clusters/ng/node-groups", Some(body.clone()))
        .await;
    assert_eq!(early.status, 400, "cluster still CREATING: {}", early.body);
    env.wait_cluster("ng", "ACTIVE").await;

    // Public subnets with an internet gateway route give the nodes egress.
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
    let main = env
        .ec2(
            "DescribeRouteTables",
            &[("Filter.1.Name", "vpc-id"), ("Filter.1.Value.1", &vpc)],
        )
        .await
        .tag("routeTableId")
        .unwrap();
    let route = env
        .ec2(
            "CreateRoute",
            &[
                ("RouteTableId", &main),
                ("DestinationCidrBlock", "0.0.0.0/0"),
                ("GatewayId", &igw),
            ],
        )
        .await;
    assert_eq!(route.status, 200, "{}", route.body);

    let r = env
        .eks("POST", "/clusters/ng/node-groups", Some(body.clone()))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["nodegroup"]["status"], "CREATING");
    let dup = env
        .eks("POST", "/clusters/ng/node-groups", Some(body))
        .await;
    assert_eq!(dup.status, 409);

    let mut status = String::new();
    for _ in 0..300 {
        let v = env
            .eks("GET", "/clusters/ng/node-groups/general", None)
            .await
            .json();
        status = v["nodegroup"]["status"].as_str().unwrap().to_owned();
        if status != "CREATING" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(status, "ACTIVE");
    // EKS made the node role's access entry.
    let entries = env
        .eks("GET", "/clusters/ng/access-entries", None)
        .await
        .json();
    assert_eq!(entries["accessEntries"].as_array().unwrap().len(), 1);

    let del = env.eks("DELETE", "/clusters/ng", None).await;
    assert_eq!(del.status, 409);
    assert_eq!(
        del.header("x-amzn-ErrorType"),
        Some("ResourceInUseException")
    );
    let subnet_in_use = env.ec2("DeleteSubnet", &[("SubnetId", &subnets[0])]).await;
    assert_eq!(
        subnet_in_use.tag("Code").as_deref(),
        Some("DependencyViolation")
    );

    assert_eq!(
        env.eks("DELETE", "/clusters/ng/node-groups/general", None)
            .await
            .status,
        200
    );
    for _ in 0..300 {
        if env
            .eks("GET", "/clusters/ng/node-groups/general", None)
            .await
            .status
            == 404
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let del = env.eks("DELETE", "/clusters/ng", None).await;
    assert_eq!(del.status, 200, "{}", del.body);
    assert_eq!(del.json()["cluster"]["status"], "DELETING");
}

#[tokio::test]
async fn a_new_role_cannot_be_assumed_until_iam_has_propagated() {
    let env = Env::with(EmulatorConfig {
        time_scale: 6000.0,
        faults: FaultConfig {
            iam_propagation_ms: 300,
            ..quiet()
        },
        ..EmulatorConfig::default()
    })
    .await;
    let (_, subnets) = network(&env, "10.22.0.0/16").await;
    let role_arn = role(&env, "fresh", "eks.amazonaws.com", &[]).await;
    let body = json!({"name": "p", "version": "1.34", "roleArn": role_arn, "resourcesVpcConfig": {"subnetIds": subnets}});
    let r = env.eks("POST", "/clusters", Some(body.clone())).await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("could not be assumed"),
        "{}",
        r.body
    );
    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    assert_eq!(env.eks("POST", "/clusters", Some(body)).await.status, 200);
}

#[tokio::test]
async fn addon_versions_come_from_the_catalogue_with_defaults() {
    let env = Env::start(6000.0).await;
    let r = env
        .eks(
            "GET",
            "/addons/supported-versions?kubernetesVersion=1.33&addonName=coredns",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let versions = v["addons"][0]["addonVersions"].as_array().unwrap();
    let defaults: Vec<&str> = versions
        .iter()
        .filter(|x| {
            x["compatibilities"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["defaultVersion"] == true)
        })
        .map(|x| x["addonVersion"].as_str().unwrap())
        .collect();
    assert_eq!(defaults, ["v1.13.2-eksbuild.4"]);
}

/// Finds an insight of a DescribeInsight-able list by name, returning its full description.
async fn describe_insight(env: &Env, cluster: &str, name: &str) -> serde_json::Value {
    let list = env
        .eks(
            "POST",
            &format!("/clusters/{cluster}/insights"),
            Some(json!({"filter": {"categories": ["UPGRADE_READINESS"]}})),
        )
        .await
        .json();
    let id = list["insights"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("no insight {name} in {list}"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = env
        .eks("GET", &format!("/clusters/{cluster}/insights/{id}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["insight"].clone()
}

#[tokio::test]
async fn upgrade_insights_follow_the_cluster_and_seeded_audit_evidence() {
    let env = Env::with(EmulatorConfig {
        time_scale: 6000.0,
        faults: quiet(),
        seed: 42,
        today: Some(jiff::civil::date(2026, 3, 1)),
        ..EmulatorConfig::default()
    })
    .await;
    let (_, subnets) = network(&env, "10.30.0.0/16").await;
    let cluster_role = role(
        &env,
        "ins-cluster",
        "eks.amazonaws.com",
        &["AmazonEKSClusterPolicy"],
    )
    .await;
    let node_role = role(
        &env,
        "ins-nodes",
        "ec2.amazonaws.com",
        &[
            "AmazonEKSWorkerNodePolicy",
            "AmazonEC2ContainerRegistryReadOnly",
            "AmazonEKS_CNI_Policy",
        ],
    )
    .await;
    let r = env
        .eks("POST", "/clusters", Some(json!({"name": "ins", "version": "1.31", "roleArn": cluster_role, "resourcesVpcConfig": {"subnetIds": subnets}})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    env.wait_cluster("ins", "ACTIVE").await;
    // kube-proxy at the 1.31 default, then a control-plane upgrade that forgets it.
    let r = env
        .eks(
            "POST",
            "/clusters/ins/addons",
            Some(json!({"addonName": "kube-proxy"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["addon"]["addonVersion"], "v1.31.13-eksbuild.2");
    let r = env
        .eks(
            "POST",
            "/clusters/ins/updates",
            Some(json!({"version": "1.32"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        env.wait_cluster("ins", "ACTIVE").await["cluster"]["version"],
        "1.32"
    );
    let ng = json!({
        "nodegroupName": "legacy", "nodeRole": node_role, "subnets": subnets, "version": "1.31",
        "scalingConfig": {"minSize": 1, "maxSize": 2, "desiredSize": 1},
        "instanceTypes": ["m6i.large"], "amiType": "AL2_x86_64",
    });
    let r = env.eks("POST", "/clusters/ins/node-groups", Some(ng)).await;
    assert_eq!(r.status, 200, "AL2 is fine up to 1.32: {}", r.body);

    // The add-on's 1.31 version carries over to 1.32 only; 1.33 offers newer ones.
    let offered = env
        .eks(
            "GET",
            "/addons/supported-versions?kubernetesVersion=1.33&addonName=kube-proxy",
            None,
        )
        .await
        .json();
    let versions: Vec<&str> = offered["addons"][0]["addonVersions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["addonVersion"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["v1.33.5-eksbuild.2", "v1.32.9-eksbuild.2"]);

    let al2 = describe_insight(&env, "ins", "Amazon Linux 2 compatibility").await;
    assert_eq!(al2["kubernetesVersion"], "1.33");
    assert_eq!(al2["insightStatus"]["status"], "ERROR");
    assert_eq!(al2["resources"].as_array().unwrap().len(), 1);
    let addons = describe_insight(&env, "ins", "EKS add-on version compatibility").await;
    assert_eq!(addons["insightStatus"]["status"], "ERROR");
    assert_eq!(
        addons["categorySpecificSummary"]["addonCompatibilityDetails"],
        json!([{"name": "kube-proxy", "compatibleVersions": ["v1.33.5-eksbuild.2", "v1.32.9-eksbuild.2"]}])
    );
    let skew = describe_insight(&env, "ins", "Kubelet version skew").await;
    assert_eq!(
        skew["insightStatus"]["status"], "WARNING",
        "1.31 nodes are within skew of 1.33"
    );
    let apis = describe_insight(&env, "ins", "Deprecated APIs removed in Kubernetes v1.33").await;
    assert_eq!(apis["insightStatus"]["status"], "PASSING");

    // Audit-log evidence is seeded through the admin API.
    let seed = json!({
        "cluster": "ins", "usage": "/apis/example.dev/v1beta1/widgets",
        "replacedWith": "/apis/example.dev/v1/widgets", "stopServingVersion": "1.33",
        "userAgent": "widget-operator/v0.3", "requestCount": 12, "lastRequestTime": "2026-02-27T10:00:00Z",
    });
    let r = env
        .admin("POST", "eks/deprecated-api-usage", &seed.to_string())
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let apis = describe_insight(&env, "ins", "Deprecated APIs removed in Kubernetes v1.33").await;
    assert_eq!(apis["insightStatus"]["status"], "ERROR");
    let detail = &apis["categorySpecificSummary"]["deprecationDetails"][0];
    assert_eq!(detail["usage"], "/apis/example.dev/v1beta1/widgets");
    assert_eq!(
        detail["clientStats"][0]["userAgent"],
        "widget-operator/v0.3"
    );
    assert_eq!(detail["clientStats"][0]["numberOfRequestsLast30Days"], 12);
    assert_eq!(detail["clientStats"][0]["lastRequestTime"], 1_772_186_400.0);

    // Filters: only the next minor has insights; statuses filter.
    let none = env
        .eks(
            "POST",
            "/clusters/ins/insights",
            Some(json!({"filter": {"kubernetesVersions": ["1.34"]}})),
        )
        .await
        .json();
    assert_eq!(none["insights"], json!([]));
    let errors = env
        .eks(
            "POST",
            "/clusters/ins/insights",
            Some(json!({"filter": {"statuses": ["ERROR"]}})),
        )
        .await
        .json();
    assert_eq!(errors["insights"].as_array().unwrap().len(), 3);

    // Seeding is validated.
    for (bad, why) in [
        (
            json!({"cluster": "nope", "usage": "/apis/batch/v1beta1/cronjobs", "userAgent": "x"}),
            "no EKS cluster",
        ),
        (
            json!({"cluster": "ins", "usage": "/apis/unknown/v1/things", "userAgent": "x"}),
            "stopServingVersion",
        ),
        (
            json!({"cluster": "ins", "usage": "/apis/batch/v1beta1/cronjobs"}),
            "userAgent",
        ),
    ] {
        let r = env
            .admin("POST", "eks/deprecated-api-usage", &bad.to_string())
            .await;
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.body.contains(why), "{}", r.body);
    }
}

/// Polls DescribeNodegroup until the node group is neither creating nor updating.
pub(crate) async fn settled_nodegroup(env: &Env, cluster: &str, name: &str) -> serde_json::Value {
    for _ in 0..500 {
        let v = env
            .eks(
                "GET",
                &format!("/clusters/{cluster}/node-groups/{name}"),
                None,
            )
            .await
            .json();
        if !matches!(
            v["nodegroup"]["status"].as_str(),
            Some("CREATING" | "UPDATING")
        ) {
            return v["nodegroup"].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("node group {cluster}/{name} never settled");
}

/// Gives the VPC's subnets egress through an internet gateway, then creates ACTIVE node
/// groups `(name, version)` in the (ACTIVE) cluster.
pub(crate) async fn active_node_groups(
    env: &Env,
    cluster: &str,
    vpc: &str,
    subnets: &[String],
    groups: &[(&str, &str)],
) {
    let igw = env
        .ec2("CreateInternetGateway", &[])
        .await
        .tag("internetGatewayId")
        .unwrap();
    env.ec2(
        "AttachInternetGateway",
        &[("InternetGatewayId", &igw), ("VpcId", vpc)],
    )
    .await;
    let main = env
        .ec2(
            "DescribeRouteTables",
            &[("Filter.1.Name", "vpc-id"), ("Filter.1.Value.1", vpc)],
        )
        .await
        .tag("routeTableId")
        .unwrap();
    let route = env
        .ec2(
            "CreateRoute",
            &[
                ("RouteTableId", &main),
                ("DestinationCidrBlock", "0.0.0.0/0"),
                ("GatewayId", &igw),
            ],
        )
        .await;
    assert_eq!(route.status, 200, "{}", route.body);
    let node_role = role(
        env,
        &format!("{cluster}-nodes"),
        "ec2.amazonaws.com",
        &[
            "AmazonEKSWorkerNodePolicy",
            "AmazonEC2ContainerRegistryReadOnly",
        ],
    )
    .await;
    for (name, version) in groups {
        let r = env
            .eks(
                "POST",
                &format!("/clusters/{cluster}/node-groups"),
                Some(json!({
                    "nodegroupName": name, "nodeRole": node_role, "subnets": subnets,
                    "version": version, "amiType": "AL2023_x86_64_STANDARD",
                    "scalingConfig": {"minSize": 1, "maxSize": 3, "desiredSize": 2},
                })),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    for (name, _) in groups {
        let ng = settled_nodegroup(env, cluster, name).await;
        assert_eq!(ng["status"], "ACTIVE", "{ng}");
    }
}

fn message(r: &crate::Reply) -> String {
    r.json()["message"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn version_updates_respect_skew_order_and_one_update_at_a_time() {
    let env = Env::start(6000.0).await;
    let (vpc, subnets) = cluster_setup(&env, "sk").await;
    env.wait_cluster("sk", "ACTIVE").await;
    // 1.31 is as far behind a 1.34 control plane as the kubelet skew allows (3 minors).
    active_node_groups(&env, "sk", &vpc, &subnets, &[("old", "1.31")]).await;

    let cluster_update = |version: &str| {
        env.eks(
            "POST",
            "/clusters/sk/updates",
            Some(json!({"version": version})),
        )
    };
    let skew = cluster_update("1.35").await;
    assert_eq!(skew.status, 400, "{}", skew.body);
    assert!(
        message(&skew).contains("more than 3 minor versions behind"),
        "{}",
        skew.body
    );

    let ng_update = |version: &str| {
        env.eks(
            "POST",
            "/clusters/sk/node-groups/old/update-version",
            Some(json!({"version": version})),
        )
    };
    let newer = ng_update("1.35").await;
    assert_eq!(
        newer.status, 400,
        "newer than the control plane: {}",
        newer.body
    );
    let between = ng_update("1.33").await;
    assert_eq!(
        between.status, 400,
        "neither its own minor nor the cluster's: {}",
        between.body
    );
    assert!(
        message(&between).contains("cluster version 1.34"),
        "{}",
        between.body
    );
    let rolling = ng_update("1.34").await;
    assert_eq!(rolling.status, 200, "{}", rolling.body);
    let busy = cluster_update("1.35").await;
    assert_eq!(busy.status, 409, "a node group is rolling: {}", busy.body);
    let again = ng_update("1.34").await;
    assert_eq!(
        again.status, 409,
        "one node group update at a time: {}",
        again.body
    );
    assert_eq!(
        settled_nodegroup(&env, "sk", "old").await["version"],
        "1.34"
    );

    let upgrading = cluster_update("1.35").await;
    assert_eq!(upgrading.status, 200, "{}", upgrading.body);
    let second = cluster_update("1.36").await;
    assert_eq!(
        second.status, 409,
        "one cluster update at a time: {}",
        second.body
    );
    assert_eq!(
        second.header("x-amzn-ErrorType"),
        Some("ResourceInUseException")
    );
    let during = ng_update("1.35").await;
    assert_eq!(
        during.status, 409,
        "no node group update during a cluster update: {}",
        during.body
    );
    env.wait_cluster("sk", "ACTIVE").await;
    assert_eq!(ng_update("1.35").await.status, 200);
}
