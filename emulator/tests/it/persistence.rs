//! The cloud persists across restarts when a data directory is given.

use slipway_emulator::EmulatorConfig;

use crate::{Env, quiet};

#[tokio::test]
async fn a_restarted_emulator_sees_the_same_cloud() {
    let dir = tempfile::tempdir().unwrap();
    let config = EmulatorConfig {
        data_dir: Some(dir.path().to_owned()),
        faults: quiet(),
        ..EmulatorConfig::default()
    };
    let first = Env::with(config.clone()).await;
    let vpc = first
        .ec2("CreateVpc", &[("CidrBlock", "10.40.0.0/16")])
        .await
        .tag("vpcId")
        .unwrap();
    crate::role(&first, "kept", "eks.amazonaws.com", &[]).await;
    first.emulator.shutdown().await;
    assert!(dir.path().join("aws.json").exists());

    let second = Env::with(config.clone()).await;
    let r = second.ec2("DescribeVpcs", &[("VpcId.1", &vpc)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        second.iam("GetRole", &[("RoleName", "kept")]).await.status,
        200
    );
    // New ids do not collide with persisted ones.
    let other = second
        .ec2("CreateVpc", &[("CidrBlock", "10.41.0.0/16")])
        .await
        .tag("vpcId")
        .unwrap();
    assert_ne!(other, vpc);
    assert_eq!(second.admin("POST", "reset", "").await.status, 200);
    second.emulator.shutdown().await;

    let third = Env::with(config).await;
    let gone = third.ec2("DescribeVpcs", &[("VpcId.1", &vpc)]).await;
    assert_eq!(gone.tag("Code").as_deref(), Some("InvalidVpcID.NotFound"));

    std::fs::write(dir.path().join("aws.json"), "{not json").unwrap();
    let err = slipway_emulator::Emulator::start(
        EmulatorConfig {
            data_dir: Some(dir.path().to_owned()),
            ..EmulatorConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");
}
