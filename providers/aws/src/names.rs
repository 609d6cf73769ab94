//! Physical names and ARNs of AWS objects, derived deterministically from the fleet, the
//! cluster and the resource's purpose, within each AWS name limit.
//!
//! Names here must never be random or time-dependent: the same blueprint always names the same
//! objects, which is what lets an interrupted create be found and adopted by name or tag.

use sha2::{Digest, Sha256};

/// IAM role names are at most 64 characters.
pub const IAM_ROLE_NAME_MAX: usize = 64;
/// EC2 security group names are at most 255 characters.
pub const SECURITY_GROUP_NAME_MAX: usize = 255;
/// EC2 tag values are at most 256 characters.
pub const TAG_VALUE_MAX: usize = 256;

/// Length of the hash suffix appended to names that had to be shortened.
const HASH_LEN: usize = 8;

/// The first 8 hex digits of the SHA-256 of `s`.
pub fn short_hash(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    digest
        .iter()
        .take(HASH_LEN / 2)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `name` unchanged when it has at most `max` characters; otherwise a readable prefix, `-`
/// and [`short_hash`] of the full name, `max` characters in all. Distinct long names keep
/// distinct results because the hash covers the whole name.
pub fn fit(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        return name.to_owned();
    }
    let keep = max.saturating_sub(HASH_LEN + 1);
    let prefix: String = name.chars().take(keep).collect();
    format!(
        "{}-{}",
        prefix.trim_end_matches(['-', '.', '_']),
        short_hash(name)
    )
}

/// Replaces characters IAM names do not allow (`[A-Za-z0-9+=,.@_-]`) with `-`.
fn iam_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@_-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The IAM role name for `purpose` (e.g. `cluster`, `nodes`, `wi-orders-api`).
///
/// IAM role names are account-global, so the fleet is part of the name: two fleets may both
/// have a cluster called `dev-use1`.
pub fn iam_role(fleet: &str, cluster: &str, purpose: &str) -> String {
    fit(
        &iam_safe(&format!("{fleet}-{cluster}-{purpose}")),
        IAM_ROLE_NAME_MAX,
    )
}

/// The security group name for `purpose`; unique per VPC, and never starting with `sg-`,
/// which EC2 reserves.
pub fn security_group(cluster: &str, purpose: &str) -> String {
    let name = format!("{cluster}-{purpose}");
    let name = if name.starts_with("sg-") {
        format!("slipway-{name}")
    } else {
        name
    };
    fit(&name, SECURITY_GROUP_NAME_MAX)
}

/// The `Name` tag of a resource: the cluster name and the resource's name in its address.
pub fn name_tag(cluster: &str, resource: &str) -> String {
    fit(&format!("{cluster}-{resource}"), TAG_VALUE_MAX)
}

/// The AWS partition of a region: `aws`, `aws-cn` or `aws-us-gov` (and the isolated ones).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else {
        "aws"
    }
}

/// The ARN of an AWS managed IAM policy, e.g. `AmazonEKSClusterPolicy` or
/// `service-role/AmazonEBSCSIDriverPolicy`.
pub fn managed_policy_arn(partition: &str, name: &str) -> String {
    format!("arn:{partition}:iam::aws:policy/{name}")
}

/// The ARN of an EKS access policy given as an ARN or a short name such as
/// `AmazonEKSClusterAdminPolicy`.
pub fn access_policy_arn(partition: &str, policy: &str) -> String {
    if policy.starts_with("arn:") {
        policy.to_owned()
    } else {
        format!("arn:{partition}:eks::aws:cluster-access-policy/{policy}")
    }
}

/// The service name of a VPC endpoint, e.g. `com.amazonaws.us-east-1.ecr.api`.
pub fn endpoint_service(region: &str, service: &str) -> String {
    format!("com.amazonaws.{region}.{service}")
}

/// The address name of an access entry: the resource part of the principal ARN with `/`
/// turned into `-` (`arn:aws:iam::1:role/ops/admins` → `role-ops-admins`).
/// `None` when `arn` is not an ARN with a resource part.
pub fn access_entry(arn: &str) -> Option<String> {
    let mut parts = arn.splitn(6, ':');
    if parts.next() != Some("arn") {
        return None;
    }
    let resource = parts.nth(4).filter(|r| !r.is_empty())?;
    Some(iam_safe(&resource.replace('/', "-")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_kept_and_long_ones_shortened_with_a_hash() {
        assert_eq!(
            iam_role("commerce", "prod-use1", "cluster"),
            "commerce-prod-use1-cluster"
        );
        let long = iam_role(
            "a-very-long-fleet-name-for-tests",
            "an-equally-long-cluster-name",
            "wi-orders-api",
        );
        assert_eq!(long.len(), IAM_ROLE_NAME_MAX);
        assert!(
            long.starts_with("a-very-long-fleet-name-for-tests-an-equally-long-cluste-"),
            "{long}"
        );
        let other = iam_role(
            "a-very-long-fleet-name-for-tests",
            "an-equally-long-cluster-name",
            "wi-orders-apj",
        );
        assert_ne!(long, other, "the hash must tell long names apart");
        assert_eq!(
            long,
            iam_role(
                "a-very-long-fleet-name-for-tests",
                "an-equally-long-cluster-name",
                "wi-orders-api"
            )
        );
    }

    #[test]
    fn fit_never_exceeds_the_limit() {
        for len in 0..80 {
            let name = "x".repeat(len);
            assert!(fit(&name, IAM_ROLE_NAME_MAX).chars().count() <= IAM_ROLE_NAME_MAX);
        }
    }

    #[test]
    fn security_groups_never_start_with_the_reserved_prefix() {
        assert_eq!(security_group("prod-use1", "nodes"), "prod-use1-nodes");
        assert_eq!(security_group("sg-east", "nodes"), "slipway-sg-east-nodes");
    }

    #[test]
    fn partitions_follow_the_region() {
        assert_eq!(partition("us-east-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(
            managed_policy_arn("aws-cn", "AmazonEKSClusterPolicy"),
            "arn:aws-cn:iam::aws:policy/AmazonEKSClusterPolicy"
        );
    }

    #[test]
    fn access_policies_accept_short_names_and_arns() {
        assert_eq!(
            access_policy_arn("aws", "AmazonEKSClusterAdminPolicy"),
            "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
        );
        let arn = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy";
        assert_eq!(access_policy_arn("aws", arn), arn);
    }

    #[test]
    fn access_entry_names_come_from_the_principal() {
        assert_eq!(
            access_entry("arn:aws:iam::111122223333:role/ops/admins").as_deref(),
            Some("role-ops-admins")
        );
        assert_eq!(
            access_entry("arn:aws:iam::111122223333:user/jane").as_deref(),
            Some("user-jane")
        );
        assert_eq!(access_entry("not-an-arn"), None);
        assert_eq!(access_entry("arn:aws:iam::111122223333:"), None);
    }
}
