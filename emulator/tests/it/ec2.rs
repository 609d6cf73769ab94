//! EC2's query protocol: XML shapes, filters, pagination, validation and dependency errors.

use crate::{Env, network};

#[tokio::test]
async fn create_vpc_then_describe_by_tag_and_id_in_ec2_xml() {
    let env = Env::start(1.0).await;
    let (vpc, _) = network(&env, "10.1.0.0/16").await;
    assert!(vpc.starts_with("vpc-") && vpc.len() == 21, "{vpc}");

    let r = env
        .ec2(
            "DescribeVpcs",
            &[
                ("Filter.1.Name", "tag:slipway:fleet"),
                ("Filter.1.Value.1", "test"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.starts_with("<?xml"));
    assert!(
        r.body
            .contains(r#"<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">"#)
    );
    assert!(r.tag("requestId").is_some());
    assert!(
        r.body.contains("<vpcSet><item><vpcId>"),
        "lists are <item>s: {}",
        r.body
    );
    assert_eq!(r.tag("cidrBlock").as_deref(), Some("10.1.0.0/16"));
    assert!(r.body.contains("<state>available</state>"), "{}", r.body);
    assert!(
        r.body
            .contains("<tagSet><item><key>slipway:fleet</key><value>test</value></item></tagSet>")
    );

    let none = env
        .ec2(
            "DescribeVpcs",
            &[
                ("Filter.1.Name", "tag:slipway:fleet"),
                ("Filter.1.Value.1", "other"),
            ],
        )
        .await;
    assert!(none.body.contains("<vpcSet></vpcSet>"), "{}", none.body);

    let by_id = env.ec2("DescribeVpcs", &[("VpcId.1", &vpc)]).await;
    assert_eq!(by_id.tag("vpcId"), Some(vpc));

    // The VPC's main route table and default security group come with it.
    let rt = env
        .ec2(
            "DescribeRouteTables",
            &[
                ("Filter.1.Name", "association.main"),
                ("Filter.1.Value.1", "true"),
            ],
        )
        .await;
    assert!(rt.body.contains("<main>true</main>"), "{}", rt.body);
    let sg = env
        .ec2(
            "DescribeSecurityGroups",
            &[
                ("Filter.1.Name", "group-name"),
                ("Filter.1.Value.1", "default"),
            ],
        )
        .await;
    assert_eq!(sg.tags("groupName").len(), 1, "{}", sg.body);
}

#[tokio::test]
async fn describe_paginates_with_max_results_and_next_token() {
    let env = Env::start(1.0).await;
    for i in 0..7 {
        let c = format!("10.{i}.0.0/16");
        assert_eq!(env.ec2("CreateVpc", &[("CidrBlock", &c)]).await.status, 200);
    }
    let first = env.ec2("DescribeVpcs", &[("MaxResults", "5")]).await;
    assert_eq!(first.tags("vpcId").len(), 5);
    let token = first.tag("nextToken").expect("a next token");
    let second = env
        .ec2(
            "DescribeVpcs",
            &[("MaxResults", "5"), ("NextToken", &token)],
        )
        .await;
    assert_eq!(second.tags("vpcId").len(), 2);
    assert!(second.tag("nextToken").is_none());
    let bad = env.ec2("DescribeVpcs", &[("MaxResults", "2")]).await;
    assert_eq!(bad.tag("Code").as_deref(), Some("InvalidParameterValue"));
}

#[tokio::test]
async fn errors_use_the_ec2_error_shape_and_codes() {
    let env = Env::start(1.0).await;
    let r = env.ec2("CreateVpc", &[("CidrBlock", "10.0.0.0/8")]).await;
    assert_eq!(r.status, 400);
    assert!(
        r.body
            .contains("<Response><Errors><Error><Code>InvalidVpc.Range</Code>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("<RequestID>"), "{}", r.body);

    let r = env.ec2("CreateVpc", &[("CidrBlock", "10.0.0.1/16")]).await;
    assert_eq!(r.tag("Code").as_deref(), Some("InvalidParameterValue"));
    let r = env.ec2("CreateVpc", &[("CidrBlok", "10.0.0.0/16")]).await;
    assert_eq!(r.tag("Code").as_deref(), Some("UnknownParameter"));
    let r = env.ec2("DeleteVpc", &[]).await;
    assert_eq!(r.tag("Code").as_deref(), Some("MissingParameter"));
    let r = env
        .ec2("DeleteVpc", &[("VpcId", "vpc-0123456789abcdef0")])
        .await;
    assert_eq!(r.tag("Code").as_deref(), Some("InvalidVpcID.NotFound"));
    let r = env
        .ec2(
            "DescribeVpcs",
            &[("Filter.1.Name", "colour"), ("Filter.1.Value.1", "red")],
        )
        .await;
    assert_eq!(r.tag("Code").as_deref(), Some("InvalidParameterValue"));
    let r = env.ec2("RunInstances", &[]).await;
    assert_eq!(r.tag("Code").as_deref(), Some("InvalidAction"));

    let (vpc, _) = network(&env, "10.2.0.0/16").await;
    let outside = env
        .ec2(
            "CreateSubnet",
            &[
                ("VpcId", &vpc),
                ("CidrBlock", "10.3.0.0/24"),
                ("AvailabilityZone", "us-east-1a"),
            ],
        )
        .await;
    assert_eq!(outside.tag("Code").as_deref(), Some("InvalidSubnet.Range"));
    let overlap = env
        .ec2(
            "CreateSubnet",
            &[
                ("VpcId", &vpc),
                ("CidrBlock", "10.2.0.0/23"),
                ("AvailabilityZone", "us-east-1a"),
            ],
        )
        .await;
    assert_eq!(
        overlap.tag("Code").as_deref(),
        Some("InvalidSubnet.Conflict")
    );
    let zone = env
        .ec2(
            "CreateSubnet",
            &[
                ("VpcId", &vpc),
                ("CidrBlock", "10.2.9.0/24"),
                ("AvailabilityZone", "eu-west-1a"),
            ],
        )
        .await;
    assert_eq!(zone.tag("Code").as_deref(), Some("InvalidParameterValue"));
}

#[tokio::test]
async fn requests_without_sigv4_authorization_are_refused() {
    let env = Env::start(1.0).await;
    let r = env
        .raw("POST", "/", &[], "Action=DescribeVpcs&Version=2016-11-15")
        .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("Authorization"), "{}", r.body);
}

#[tokio::test]
async fn a_vpc_with_dependencies_cannot_be_deleted_until_they_are_gone() {
    let env = Env::start(1.0).await;
    let (vpc, subnets) = network(&env, "10.4.0.0/16").await;
    let igw = env
        .ec2("CreateInternetGateway", &[])
        .await
        .tag("internetGatewayId")
        .unwrap();
    assert_eq!(
        env.ec2(
            "AttachInternetGateway",
            &[("InternetGatewayId", &igw), ("VpcId", &vpc)]
        )
        .await
        .status,
        200
    );

    let r = env.ec2("DeleteVpc", &[("VpcId", &vpc)]).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.tag("Code").as_deref(), Some("DependencyViolation"));
    let r = env
        .ec2("DeleteInternetGateway", &[("InternetGatewayId", &igw)])
        .await;
    assert_eq!(r.tag("Code").as_deref(), Some("DependencyViolation"));

    assert_eq!(
        env.ec2(
            "DetachInternetGateway",
            &[("InternetGatewayId", &igw), ("VpcId", &vpc)]
        )
        .await
        .status,
        200
    );
    assert_eq!(
        env.ec2("DeleteInternetGateway", &[("InternetGatewayId", &igw)])
            .await
            .status,
        200
    );
    for s in &subnets {
        assert_eq!(
            env.ec2("DeleteSubnet", &[("SubnetId", s)]).await.status,
            200
        );
    }
    let r = env.ec2("DeleteVpc", &[("VpcId", &vpc)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.tag("return").as_deref(), Some("true"));
    let gone = env.ec2("DescribeVpcs", &[("VpcId.1", &vpc)]).await;
    assert_eq!(gone.tag("Code").as_deref(), Some("InvalidVpcID.NotFound"));
}

#[tokio::test]
async fn nat_gateways_are_idempotent_pending_then_available_and_hold_their_eip() {
    let env = Env::start(600.0).await;
    let (vpc, subnets) = network(&env, "10.5.0.0/16").await;
    let eip = env
        .ec2("AllocateAddress", &[("Domain", "vpc")])
        .await
        .tag("allocationId")
        .unwrap();
    let no_igw = env
        .ec2(
            "CreateNatGateway",
            &[("SubnetId", &subnets[0]), ("AllocationId", &eip)],
        )
        .await;
    assert_eq!(no_igw.tag("Code").as_deref(), Some("Gateway.NotAttached"));
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

    let params = [
        ("SubnetId", subnets[0].as_str()),
        ("AllocationId", eip.as_str()),
        ("ClientToken", "tok-1"),
    ];
    let a = env.ec2("CreateNatGateway", &params).await;
    assert_eq!(a.tag("state").as_deref(), Some("pending"), "{}", a.body);
    let b = env.ec2("CreateNatGateway", &params).await;
    assert_eq!(
        a.tag("natGatewayId"),
        b.tag("natGatewayId"),
        "same token, same gateway"
    );
    let nat = a.tag("natGatewayId").unwrap();

    let r = env.ec2("ReleaseAddress", &[("AllocationId", &eip)]).await;
    assert_eq!(r.tag("Code").as_deref(), Some("InvalidIPAddress.InUse"));
    let mut state = String::new();
    for _ in 0..300 {
        state = env
            .ec2("DescribeNatGateways", &[("NatGatewayId.1", &nat)])
            .await
            .tag("state")
            .unwrap();
        if state == "available" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(state, "available");
    let missing = env
        .ec2(
            "DescribeNatGateways",
            &[("NatGatewayId.1", "nat-0000000000000000f")],
        )
        .await;
    assert_eq!(missing.tag("Code").as_deref(), Some("NatGatewayNotFound"));
}

#[tokio::test]
async fn security_group_rules_reject_duplicates_and_group_in_describe() {
    let env = Env::start(1.0).await;
    let (vpc, _) = network(&env, "10.6.0.0/16").await;
    let r = env
        .ec2(
            "CreateSecurityGroup",
            &[
                ("GroupName", "nodes"),
                ("GroupDescription", "d"),
                ("VpcId", &vpc),
            ],
        )
        .await;
    let sg = r.tag("groupId").unwrap();
    let rule = [
        ("GroupId", sg.as_str()),
        ("IpPermissions.1.IpProtocol", "tcp"),
        ("IpPermissions.1.FromPort", "443"),
        ("IpPermissions.1.ToPort", "443"),
        ("IpPermissions.1.IpRanges.1.CidrIp", "10.6.0.0/16"),
        ("IpPermissions.1.IpRanges.1.Description", "api"),
    ];
    let ok = env.ec2("AuthorizeSecurityGroupIngress", &rule).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(
        ok.tag("securityGroupRuleId")
            .is_some_and(|id| id.starts_with("sgr-"))
    );
    let dup = env.ec2("AuthorizeSecurityGroupIngress", &rule).await;
    assert_eq!(
        dup.tag("Code").as_deref(),
        Some("InvalidPermission.Duplicate")
    );
    let d = env
        .ec2("DescribeSecurityGroups", &[("GroupId.1", &sg)])
        .await;
    assert!(d.body.contains("<ipRanges><item><cidrIp>10.6.0.0/16</cidrIp><description>api</description></item></ipRanges>"), "{}", d.body);
    // The default allow-all egress rule every new group gets.
    assert!(
        d.body
            .contains("<ipPermissionsEgress><item><ipProtocol>-1</ipProtocol>"),
        "{}",
        d.body
    );
    let rules = env
        .ec2(
            "DescribeSecurityGroupRules",
            &[("Filter.1.Name", "group-id"), ("Filter.1.Value.1", &sg)],
        )
        .await;
    assert_eq!(rules.tags("securityGroupRuleId").len(), 2, "{}", rules.body);

    let mut renamed = rule;
    renamed[5] = ("IpPermissions.1.IpRanges.1.Description", "kubernetes api");
    let updated = env
        .ec2("UpdateSecurityGroupRuleDescriptionsIngress", &renamed)
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    let d = env
        .ec2("DescribeSecurityGroups", &[("GroupId.1", &sg)])
        .await;
    assert!(
        d.body.contains("<description>kubernetes api</description>"),
        "{}",
        d.body
    );
    let mut absent = rule;
    absent[2] = ("IpPermissions.1.FromPort", "8443");
    absent[3] = ("IpPermissions.1.ToPort", "8443");
    let missing = env
        .ec2("UpdateSecurityGroupRuleDescriptionsIngress", &absent)
        .await;
    assert_eq!(
        missing.tag("Code").as_deref(),
        Some("InvalidPermission.NotFound")
    );
}
