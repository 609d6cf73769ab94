//! IAM's query protocol: `<member>` lists, the `ErrorResponse` shape, managed policies and
//! delete conflicts; STS identity.

use crate::{Env, role};

#[tokio::test]
async fn create_and_get_role_in_query_xml() {
    let env = Env::start(1.0).await;
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let r = env
        .iam(
            "CreateRole",
            &[
                ("RoleName", "fleet-c1-cluster"),
                ("AssumeRolePolicyDocument", trust),
                ("Tags.member.1.Key", "slipway:fleet"),
                ("Tags.member.1.Value", "f"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains(r#"<CreateRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><CreateRoleResult><Role>"#), "{}", r.body);
    assert!(
        r.body.contains("<ResponseMetadata><RequestId>"),
        "{}",
        r.body
    );
    assert_eq!(
        r.tag("Arn").as_deref(),
        Some("arn:aws:iam::000000000000:role/fleet-c1-cluster")
    );
    assert!(r.tag("RoleId").is_some_and(|id| id.starts_with("AROA")));
    assert!(
        r.body
            .contains("<Tags><member><Key>slipway:fleet</Key><Value>f</Value></member></Tags>")
    );
    // IAM returns policy documents URL-encoded.
    assert!(
        r.tag("AssumeRolePolicyDocument")
            .is_some_and(|d| d.starts_with("%7B%22Version%22"))
    );

    let dup = env
        .iam(
            "CreateRole",
            &[
                ("RoleName", "fleet-c1-cluster"),
                ("AssumeRolePolicyDocument", trust),
            ],
        )
        .await;
    assert_eq!(dup.status, 409);
    assert_eq!(dup.tag("Code").as_deref(), Some("EntityAlreadyExists"));

    let missing = env.iam("GetRole", &[("RoleName", "nope")]).await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>NoSuchEntity</Code>"), "{}", missing.body);
    assert!(missing.body.contains("<RequestId>"));

    let bad = env
        .iam(
            "CreateRole",
            &[("RoleName", "x"), ("AssumeRolePolicyDocument", "{not json")],
        )
        .await;
    assert_eq!(bad.tag("Code").as_deref(), Some("MalformedPolicyDocument"));
    let unknown = env
        .iam("GetRole", &[("RoleName", "x"), ("Colour", "red")])
        .await;
    assert_eq!(unknown.tag("Code").as_deref(), Some("ValidationError"));
}

#[tokio::test]
async fn managed_policies_must_be_known_and_block_deletion() {
    let env = Env::start(1.0).await;
    role(
        &env,
        "r1",
        "ec2.amazonaws.com",
        &[
            "AmazonEKSWorkerNodePolicy",
            "service-role/AmazonEBSCSIDriverPolicy",
        ],
    )
    .await;
    let unknown = env
        .iam(
            "AttachRolePolicy",
            &[
                ("RoleName", "r1"),
                ("PolicyArn", "arn:aws:iam::aws:policy/NoSuchPolicy"),
            ],
        )
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.tag("Code").as_deref(), Some("NoSuchEntity"));

    let listed = env
        .iam("ListAttachedRolePolicies", &[("RoleName", "r1")])
        .await;
    assert_eq!(
        listed.tags("PolicyName"),
        ["AmazonEKSWorkerNodePolicy", "AmazonEBSCSIDriverPolicy"]
    );
    assert!(listed.body.contains("<AttachedPolicies><member>"));
    assert_eq!(listed.tag("IsTruncated").as_deref(), Some("false"));

    let conflict = env.iam("DeleteRole", &[("RoleName", "r1")]).await;
    assert_eq!(conflict.status, 409);
    assert_eq!(conflict.tag("Code").as_deref(), Some("DeleteConflict"));
    for p in [
        "AmazonEKSWorkerNodePolicy",
        "service-role/AmazonEBSCSIDriverPolicy",
    ] {
        let arn = format!("arn:aws:iam::aws:policy/{p}");
        assert_eq!(
            env.iam(
                "DetachRolePolicy",
                &[("RoleName", "r1"), ("PolicyArn", &arn)]
            )
            .await
            .status,
            200
        );
    }
    assert_eq!(
        env.iam("DeleteRole", &[("RoleName", "r1")]).await.status,
        200
    );
}

#[tokio::test]
async fn oidc_providers_and_caller_identity() {
    let env = Env::start(1.0).await;
    let r = env
        .iam(
            "CreateOpenIDConnectProvider",
            &[
                ("Url", "https://oidc.eks.us-east-1.amazonaws.com/id/ABC"),
                ("ClientIDList.member.1", "sts.amazonaws.com"),
            ],
        )
        .await;
    let arn = r.tag("OpenIDConnectProviderArn").unwrap();
    assert_eq!(
        arn,
        "arn:aws:iam::000000000000:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"
    );
    let got = env
        .iam(
            "GetOpenIDConnectProvider",
            &[("OpenIDConnectProviderArn", &arn)],
        )
        .await;
    assert_eq!(
        got.tag("Url").as_deref(),
        Some("oidc.eks.us-east-1.amazonaws.com/id/ABC")
    );
    assert_eq!(
        got.tags("member").first().map(String::as_str),
        Some("sts.amazonaws.com")
    );
    let bad = env
        .iam("CreateOpenIDConnectProvider", &[("Url", "http://x")])
        .await;
    assert_eq!(bad.tag("Code").as_deref(), Some("InvalidInput"));

    let me = env.query("sts", "GetCallerIdentity", &[]).await;
    assert!(me.body.contains("<GetCallerIdentityResult>"), "{}", me.body);
    assert_eq!(me.tag("Account").as_deref(), Some("000000000000"));
}
