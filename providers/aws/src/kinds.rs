//! The AWS resource kinds: their names, which properties force replacement, which token
//! bucket their mutating calls draw from, and the outputs they produce.
//!
//! This is declaration only: it must never describe how to call the cloud, and its
//! replacement rules must follow what the AWS APIs can change in place, not convenience.

use slipway_provider::{ApiClass, Kind, KindSchema};

/// A VPC.
pub const VPC: &str = "aws.vpc";
/// A subnet.
pub const SUBNET: &str = "aws.subnet";
/// An internet gateway, attached to the VPC named by `vpc_id`.
pub const INTERNET_GATEWAY: &str = "aws.internet_gateway";
/// An Elastic IP address.
pub const EIP: &str = "aws.eip";
/// A NAT gateway.
pub const NAT_GATEWAY: &str = "aws.nat_gateway";
/// A route table with its routes and subnet associations inline.
pub const ROUTE_TABLE: &str = "aws.route_table";
/// A security group with its rules inline.
pub const SECURITY_GROUP: &str = "aws.security_group";
/// An IAM role with its trust policy, managed policy attachments and inline policies.
pub const IAM_ROLE: &str = "aws.iam_role";
/// An EKS cluster.
pub const EKS_CLUSTER: &str = "aws.eks_cluster";
/// An IAM OpenID Connect provider (for IRSA).
pub const IAM_OIDC_PROVIDER: &str = "aws.iam_oidc_provider";
/// An EKS managed node group.
pub const EKS_NODEGROUP: &str = "aws.eks_nodegroup";
/// An EKS add-on.
pub const EKS_ADDON: &str = "aws.eks_addon";
/// An EKS Pod Identity association.
pub const EKS_POD_IDENTITY_ASSOCIATION: &str = "aws.eks_pod_identity_association";
/// A VPC endpoint (Gateway or Interface).
pub const VPC_ENDPOINT: &str = "aws.vpc_endpoint";
/// An EKS access entry with its access policy associations inline.
pub const EKS_ACCESS_ENTRY: &str = "aws.eks_access_entry";

/// EC2 calls in the "mutating" bucket (50 tokens, 5/s).
pub const API_EC2_MUTATING: &str = "aws.ec2.mutating";
/// `CreateNatGateway`/`DeleteNatGateway` (10 tokens, 1/s).
pub const API_EC2_NAT: &str = "aws.ec2.nat";
/// `CreateVpcEndpoint`/`ModifyVpcEndpoint`/`DeleteVpcEndpoints` (4 tokens, 0.3/s).
pub const API_EC2_VPCE: &str = "aws.ec2.vpce";
/// IAM (unpublished buckets).
pub const API_IAM: &str = "aws.iam";
/// EKS control-plane API (unpublished buckets).
pub const API_EKS: &str = "aws.eks";

fn schema(
    kind: &str,
    replace_on: &[&str],
    create_before_destroy: bool,
    api: &str,
    outputs: &[&str],
) -> KindSchema {
    KindSchema {
        kind: Kind::new(kind),
        replace_on: replace_on.iter().map(|s| (*s).to_owned()).collect(),
        create_before_destroy,
        ignore_changes: Vec::new(),
        api: ApiClass::new(api),
        outputs: outputs.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// The schema of every kind the AWS expander produces, in a fixed order.
///
/// A node group's `desired_size` is sent on create only: the cluster autoscaler owns it after.
/// Every kind has a `region` property (where its API calls go); it forces replacement of all
/// but the global IAM kinds.
pub fn schemas() -> Vec<KindSchema> {
    let mut schemas = vec![
        schema(
            VPC,
            &["cidr_block"],
            false,
            API_EC2_MUTATING,
            &["id", "arn"],
        ),
        schema(
            SUBNET,
            &["vpc_id", "cidr_block", "availability_zone"],
            false,
            API_EC2_MUTATING,
            &["id", "arn"],
        ),
        // Re-attaching to another VPC is a detach plus attach; the VPC only changes when it is
        // itself replaced, so replacing the gateway is simpler and just as fast.
        schema(
            INTERNET_GATEWAY,
            &["vpc_id"],
            false,
            API_EC2_MUTATING,
            &["id", "arn"],
        ),
        schema(
            EIP,
            &["domain"],
            false,
            API_EC2_MUTATING,
            &["id", "public_ip"],
        ),
        // The EIP stays bound to the old gateway until it is deleted: destroy first.
        schema(
            NAT_GATEWAY,
            &["subnet_id", "allocation_id", "connectivity_type"],
            false,
            API_EC2_NAT,
            &["id"],
        ),
        schema(ROUTE_TABLE, &["vpc_id"], false, API_EC2_MUTATING, &["id"]),
        // EC2 cannot change a group's name or description.
        schema(
            SECURITY_GROUP,
            &["vpc_id", "group_name", "description"],
            false,
            API_EC2_MUTATING,
            &["id", "arn"],
        ),
        schema(IAM_ROLE, &["name", "path"], false, API_IAM, &["arn", "id"]),
        // Subnets and security groups update in place (UpdateClusterConfig, since 2023);
        // encryption can be enabled but never changed or removed, so any change replaces.
        schema(
            EKS_CLUSTER,
            &["name", "role_arn", "encryption_config", "access_config"],
            false,
            API_EKS,
            &[
                "arn",
                "name",
                "endpoint",
                "certificate_authority",
                "oidc_issuer",
                "cluster_security_group_id",
                "platform_version",
            ],
        ),
        schema(IAM_OIDC_PROVIDER, &["url"], false, API_IAM, &["arn", "url"]),
        schema(
            EKS_NODEGROUP,
            &[
                "cluster_name",
                "nodegroup_name",
                "instance_types",
                "disk_size",
                "ami_type",
                "capacity_type",
                "subnet_ids",
                "node_role_arn",
            ],
            true,
            API_EKS,
            &["arn"],
        ),
        schema(
            EKS_ADDON,
            &["cluster_name", "addon_name"],
            false,
            API_EKS,
            &["arn", "addon_version"],
        ),
        schema(
            EKS_POD_IDENTITY_ASSOCIATION,
            &["cluster_name", "namespace", "service_account"],
            false,
            API_EKS,
            &["arn", "id"],
        ),
        schema(
            VPC_ENDPOINT,
            &["vpc_id", "service_name", "vpc_endpoint_type"],
            false,
            API_EC2_VPCE,
            &["id"],
        ),
        schema(
            EKS_ACCESS_ENTRY,
            &["cluster_name", "principal_arn", "type"],
            false,
            API_EKS,
            &["arn"],
        ),
    ];
    for schema in &mut schemas {
        // Every regional object lives in its region for good; IAM is global, so moving a
        // cluster leaves its roles and only the OIDC provider follows (through its `url`).
        if !matches!(schema.kind.as_str(), IAM_ROLE | IAM_OIDC_PROVIDER) {
            schema.replace_on.insert(0, "region".to_owned());
        }
        if schema.kind.as_str() == EKS_NODEGROUP {
            schema.ignore_changes = vec!["scaling_config.desired_size".to_owned()];
        }
    }
    schemas
}

/// The upgrade step that changes objects of `kind` when a cluster moves to a new minor.
pub fn upgrade_phase(kind: &slipway_provider::Kind) -> Option<slipway_provider::UpgradePhase> {
    use slipway_provider::UpgradePhase;
    match kind.as_str() {
        EKS_CLUSTER => Some(UpgradePhase::ControlPlane),
        EKS_ADDON => Some(UpgradePhase::Addons),
        EKS_NODEGROUP => Some(UpgradePhase::NodePools),
        _ => None,
    }
}

/// The part of a cluster build objects of `kind` belong to, for per-phase drill timings.
pub fn build_phase(kind: &Kind) -> slipway_provider::BuildPhase {
    use slipway_provider::BuildPhase;
    match kind.as_str() {
        VPC | SUBNET | INTERNET_GATEWAY | EIP | NAT_GATEWAY | ROUTE_TABLE | SECURITY_GROUP => {
            BuildPhase::Network
        }
        IAM_ROLE | IAM_OIDC_PROVIDER | EKS_POD_IDENTITY_ASSOCIATION | EKS_ACCESS_ENTRY => {
            BuildPhase::Identity
        }
        EKS_CLUSTER => BuildPhase::ControlPlane,
        EKS_NODEGROUP => BuildPhase::NodePools,
        EKS_ADDON => BuildPhase::Addons,
        VPC_ENDPOINT => BuildPhase::Endpoints,
        _ => BuildPhase::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_build_phase() {
        use slipway_provider::BuildPhase;
        for s in schemas() {
            assert_ne!(build_phase(&s.kind), BuildPhase::Other, "{}", s.kind);
        }
        assert_eq!(
            build_phase(&Kind::new(EKS_CLUSTER)),
            BuildPhase::ControlPlane
        );
        assert_eq!(build_phase(&Kind::new(EIP)), BuildPhase::Network);
        assert_eq!(
            build_phase(&Kind::new(EKS_ACCESS_ENTRY)),
            BuildPhase::Identity
        );
        assert_eq!(build_phase(&Kind::new("aws.unknown")), BuildPhase::Other);
    }

    fn find(kind: &str) -> KindSchema {
        schemas()
            .into_iter()
            .find(|s| s.kind.as_str() == kind)
            .unwrap()
    }

    #[test]
    fn every_kind_is_declared_once_with_an_aws_prefix() {
        let all = schemas();
        let mut names: Vec<&str> = all.iter().map(|s| s.kind.as_str()).collect();
        assert!(names.iter().all(|n| n.starts_with("aws.")));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
        assert_eq!(all.len(), 15);
    }

    #[test]
    fn node_groups_are_replaced_before_destroy_and_scale_in_place() {
        let ng = find(EKS_NODEGROUP);
        assert!(ng.create_before_destroy);
        for p in [
            "instance_types",
            "disk_size",
            "ami_type",
            "subnet_ids",
            "node_role_arn",
            "capacity_type",
        ] {
            assert!(
                ng.replace_on.iter().any(|r| r == p),
                "{p} must force replacement"
            );
        }
        for p in [
            "scaling_config",
            "labels",
            "taints",
            "version",
            "update_config",
            "tags",
        ] {
            assert!(
                !ng.replace_on.iter().any(|r| r == p),
                "{p} must update in place"
            );
        }
    }

    #[test]
    fn rate_limited_kinds_use_their_own_buckets() {
        assert_eq!(find(NAT_GATEWAY).api, ApiClass::new(API_EC2_NAT));
        assert_eq!(find(VPC_ENDPOINT).api, ApiClass::new(API_EC2_VPCE));
        assert_eq!(find(IAM_ROLE).api, ApiClass::new(API_IAM));
        assert_eq!(find(EKS_CLUSTER).api, ApiClass::new(API_EKS));
        assert_eq!(find(SUBNET).api, ApiClass::new(API_EC2_MUTATING));
    }
}
