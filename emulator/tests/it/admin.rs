//! The admin API: health and objects of every service by tag.

use serde_json::json;

use crate::{Env, network, role};

#[tokio::test]
async fn objects_are_listed_across_services_by_tag() {
    let env = Env::start(6000.0).await;
    let health = env.admin("GET", "health", "").await.json();
    assert_eq!(health["status"], "ok");

    let (_, subnets) = network(&env, "10.50.0.0/16").await;
    let r = env
        .iam(
            "CreateRole",
            &[
                ("RoleName", "tagged"),
                ("AssumeRolePolicyDocument", r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#),
                ("Tags.member.1.Key", "slipway:fleet"),
                ("Tags.member.1.Value", "test"),
            ],
        )
        .await;
    let arn = r.tag("Arn").unwrap();
    role(&env, "untagged", "eks.amazonaws.com", &[]).await;
    let c = env
        .eks("POST", "/clusters", Some(json!({"name": "t", "version": "1.34", "roleArn": arn, "resourcesVpcConfig": {"subnetIds": subnets}, "tags": {"slipway:fleet": "test"}})))
        .await;
    assert_eq!(c.status, 200, "{}", c.body);

    let listed = env
        .admin("GET", "objects?tag=slipway:fleet=test", "")
        .await
        .json();
    let kinds: Vec<(&str, &str)> = listed["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["service"].as_str().unwrap(), o["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("ec2", "vpc"), ("iam", "role"), ("eks", "cluster")]);
    let any_value = env
        .admin("GET", "objects?tag=slipway:fleet", "")
        .await
        .json();
    assert_eq!(any_value["count"], 3);
    let none = env
        .admin("GET", "objects?tag=slipway:fleet=prod", "")
        .await
        .json();
    assert_eq!(none["count"], 0);
    assert_eq!(env.admin("GET", "nope", "").await.status, 404);
}
