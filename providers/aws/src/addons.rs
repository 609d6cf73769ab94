//! The EKS add-on catalogue: the names blueprints may use, the EKS add-on each one installs,
//! whether it needs nodes to become ready, and the AWS permissions its service account needs.
//!
//! Catalogue data only: it must never hold versions (defaults come from
//! `DescribeAddonVersions` for the cluster's Kubernetes minor) or anything that needs the cloud.

/// When an add-on is installed relative to the managed node groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Before node groups: DaemonSets that are ready with zero nodes, and that nodes should
    /// boot with (the CNI, kube-proxy, the Pod Identity agent), so nodes are not restarted
    /// when the managed add-on replaces EKS's self-managed bootstrap copy.
    BeforeNodes,
    /// After node groups: Deployments that stay `CREATING`/`DEGRADED` until nodes exist.
    AfterNodes,
}

/// AWS permissions an add-on's controller needs, granted through IRSA or Pod Identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddonIdentity {
    /// Namespace of the controller's service account.
    pub namespace: &'static str,
    /// The controller's service account.
    pub service_account: &'static str,
    /// AWS managed policy name, without the `arn:…:policy/` prefix.
    pub managed_policy: &'static str,
}

/// One catalogue entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddonSpec {
    /// The name blueprints use, e.g. `ebs-csi`; also the add-on's address name.
    pub name: &'static str,
    /// The EKS add-on name, e.g. `aws-ebs-csi-driver`; blueprints may use it too.
    pub eks_name: &'static str,
    /// When it is installed.
    pub placement: Placement,
    /// The role its controller needs, if any.
    pub identity: Option<AddonIdentity>,
}

/// The catalogue name of the EKS Pod Identity agent, added automatically in Pod Identity mode.
pub const POD_IDENTITY_AGENT: &str = "pod-identity-agent";

/// Every add-on blueprints may name for an AWS cluster.
pub const CATALOGUE: &[AddonSpec] = &[
    AddonSpec {
        name: "vpc-cni",
        eks_name: "vpc-cni",
        placement: Placement::BeforeNodes,
        identity: None,
    },
    AddonSpec {
        name: "kube-proxy",
        eks_name: "kube-proxy",
        placement: Placement::BeforeNodes,
        identity: None,
    },
    AddonSpec {
        name: POD_IDENTITY_AGENT,
        eks_name: "eks-pod-identity-agent",
        placement: Placement::BeforeNodes,
        identity: None,
    },
    AddonSpec {
        name: "coredns",
        eks_name: "coredns",
        placement: Placement::AfterNodes,
        identity: None,
    },
    AddonSpec {
        name: "ebs-csi",
        eks_name: "aws-ebs-csi-driver",
        placement: Placement::AfterNodes,
        identity: Some(AddonIdentity {
            namespace: "kube-system",
            service_account: "ebs-csi-controller-sa",
            managed_policy: "service-role/AmazonEBSCSIDriverPolicy",
        }),
    },
    AddonSpec {
        name: "efs-csi",
        eks_name: "aws-efs-csi-driver",
        placement: Placement::AfterNodes,
        identity: Some(AddonIdentity {
            namespace: "kube-system",
            service_account: "efs-csi-controller-sa",
            managed_policy: "service-role/AmazonEFSCSIDriverPolicy",
        }),
    },
    AddonSpec {
        name: "snapshot-controller",
        eks_name: "snapshot-controller",
        placement: Placement::AfterNodes,
        identity: None,
    },
    AddonSpec {
        name: "metrics-server",
        eks_name: "metrics-server",
        placement: Placement::AfterNodes,
        identity: None,
    },
    AddonSpec {
        name: "cloudwatch-observability",
        eks_name: "amazon-cloudwatch-observability",
        placement: Placement::AfterNodes,
        identity: Some(AddonIdentity {
            namespace: "amazon-cloudwatch",
            service_account: "cloudwatch-agent",
            managed_policy: "CloudWatchAgentServerPolicy",
        }),
    },
];

/// The catalogue entry for a blueprint name or an EKS add-on name.
pub fn lookup(name: &str) -> Option<&'static AddonSpec> {
    CATALOGUE
        .iter()
        .find(|a| a.name == name || a.eks_name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_eks_names_find_the_same_entry() {
        assert_eq!(lookup("ebs-csi"), lookup("aws-ebs-csi-driver"));
        assert_eq!(
            lookup("ebs-csi").map(|a| a.eks_name),
            Some("aws-ebs-csi-driver")
        );
        assert_eq!(
            lookup("pod-identity-agent").map(|a| a.eks_name),
            Some("eks-pod-identity-agent")
        );
        assert_eq!(lookup("istio"), None);
    }

    #[test]
    fn coredns_waits_for_nodes_and_the_cni_does_not() {
        assert_eq!(
            lookup("coredns").map(|a| a.placement),
            Some(Placement::AfterNodes)
        );
        assert_eq!(
            lookup("vpc-cni").map(|a| a.placement),
            Some(Placement::BeforeNodes)
        );
    }
}
