//! Reference data the emulator serves: the EKS version calendar, EKS add-on versions per
//! Kubernetes minor, the AWS managed IAM policies and EKS access policies it knows, and the
//! Kubernetes API removals behind upgrade insights.
//!
//! Copied from Slipway's collected data (2026) into the crate, since the emulator must never
//! read shared files at run time. Rows marked synthetic fill gaps the sources left (n/a in the
//! published tables) so every supported minor has a default; they are not AWS facts.

/// One Kubernetes minor on EKS: `(minor, EKS release, end of standard, end of extended)`.
pub(crate) const EKS_CALENDAR: &[(&str, &str, &str, &str)] = &[
    ("1.23", "2022-08-11", "2023-10-11", "2024-10-11"),
    ("1.24", "2022-11-15", "2024-01-31", "2025-01-31"),
    ("1.25", "2023-02-22", "2024-05-01", "2025-05-01"),
    ("1.26", "2023-04-11", "2024-06-11", "2025-06-11"),
    ("1.27", "2023-05-24", "2024-07-24", "2025-07-24"),
    ("1.28", "2023-09-26", "2024-11-26", "2025-11-26"),
    ("1.29", "2024-01-23", "2025-03-23", "2026-03-23"),
    ("1.30", "2024-05-23", "2025-07-23", "2026-07-23"),
    ("1.31", "2024-09-26", "2025-11-26", "2026-11-26"),
    ("1.32", "2025-01-23", "2026-03-23", "2027-03-23"),
    ("1.33", "2025-05-29", "2026-07-29", "2027-07-29"),
    ("1.34", "2025-10-02", "2026-12-02", "2027-12-02"),
    ("1.35", "2026-01-28", "2027-03-27", "2028-03-27"),
    ("1.36", "2026-06-02", "2027-08-02", "2028-08-02"),
];

/// Whether EKS accepts `version` for new clusters and upgrades on `today` (released and not
/// past the end of extended support).
pub(crate) fn supported(version: &str, today: &str) -> bool {
    EKS_CALENDAR
        .iter()
        .any(|(v, release, _, end)| *v == version && *release <= today && today <= *end)
}

/// Every supported version on `today`, oldest first.
pub(crate) fn supported_versions(today: &str) -> Vec<&'static str> {
    EKS_CALENDAR
        .iter()
        .filter(|(v, ..)| supported(v, today))
        .map(|(v, ..)| *v)
        .collect()
}

/// The version a cluster gets when CreateCluster names none: the newest released minor
/// still in standard support.
pub(crate) fn default_version(today: &str) -> Option<&'static str> {
    EKS_CALENDAR
        .iter()
        .rev()
        .find(|(_, release, end_std, _)| *release <= today && today <= *end_std)
        .map(|(v, ..)| *v)
}

/// `(minor, minor)` parsed from `1.33`.
pub(crate) fn minor(version: &str) -> Option<u32> {
    let mut parts = version.split('.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("1"), Some(m), None) => m.parse().ok(),
        _ => None,
    }
}

/// An EKS add-on: name, type, whether its workload needs nodes to become healthy, and the
/// default version per Kubernetes minor.
pub(crate) struct AddonCatalogue {
    /// EKS add-on name.
    pub name: &'static str,
    /// `networking`, `storage`, `observability`, `security`.
    pub kind: &'static str,
    /// Deployments (not DaemonSets): DEGRADED until a node group is ACTIVE.
    pub needs_nodes: bool,
    /// Whether it takes a service account role.
    pub iam: bool,
    /// `(minor, version)`: the default version for that minor.
    pub defaults: &'static [(&'static str, &'static str)],
}

/// The add-ons DescribeAddonVersions lists.
pub(crate) const ADDONS: &[AddonCatalogue] = &[
    AddonCatalogue {
        name: "vpc-cni",
        kind: "networking",
        needs_nodes: false,
        iam: true,
        defaults: &[
            ("1.23", "v1.18.5-eksbuild.1"),
            ("1.24", "v1.19.0-eksbuild.1"),
            ("1.25", "v1.19.0-eksbuild.1"),
            ("1.26", "v1.19.0-eksbuild.1"),
            ("1.27", "v1.20.1-eksbuild.3"),
            ("1.28", "v1.20.1-eksbuild.3"),
            ("1.29", "v1.20.1-eksbuild.3"),
            ("1.30", "v1.20.1-eksbuild.3"),
            ("1.31", "v1.20.1-eksbuild.3"),
            ("1.32", "v1.20.1-eksbuild.3"),
            ("1.33", "v1.20.1-eksbuild.3"),
            // Synthetic: the published tables stop at 1.33.
            ("1.34", "v1.20.1-eksbuild.3"),
            ("1.35", "v1.20.1-eksbuild.3"),
            ("1.36", "v1.20.1-eksbuild.3"),
        ],
    },
    AddonCatalogue {
        name: "coredns",
        kind: "networking",
        needs_nodes: true,
        iam: false,
        defaults: &[
            ("1.23", "v1.8.7-eksbuild.10"),
            ("1.24", "v1.9.3-eksbuild.15"),
            ("1.25", "v1.9.3-eksbuild.15"),
            ("1.26", "v1.9.3-eksbuild.39"),
            ("1.27", "v1.10.1-eksbuild.38"),
            ("1.28", "v1.10.1-eksbuild.38"),
            ("1.29", "v1.11.4-eksbuild.24"),
            ("1.30", "v1.11.4-eksbuild.33"),
            ("1.31", "v1.11.4-eksbuild.33"),
            ("1.32", "v1.11.4-eksbuild.33"),
            ("1.33", "v1.13.2-eksbuild.4"),
            ("1.34", "v1.13.2-eksbuild.7"),
            ("1.35", "v1.14.2-eksbuild.4"),
            // Synthetic.
            ("1.36", "v1.14.2-eksbuild.4"),
        ],
    },
    AddonCatalogue {
        name: "kube-proxy",
        kind: "networking",
        needs_nodes: false,
        iam: false,
        defaults: &[
            ("1.23", "v1.23.17-eksbuild.20"),
            ("1.24", "v1.24.17-eksbuild.19"),
            ("1.25", "v1.25.16-eksbuild.22"),
            ("1.26", "v1.26.15-eksbuild.35"),
            ("1.27", "v1.27.16-eksbuild.41"),
            ("1.28", "v1.28.15-eksbuild.31"),
            ("1.29", "v1.29.15-eksbuild.16"),
            ("1.30", "v1.30.14-eksbuild.8"),
            ("1.31", "v1.31.13-eksbuild.2"),
            ("1.32", "v1.32.9-eksbuild.2"),
            ("1.33", "v1.33.5-eksbuild.2"),
            ("1.34", "v1.34.1-eksbuild.2"),
            // Synthetic.
            ("1.35", "v1.35.0-eksbuild.1"),
            ("1.36", "v1.36.0-eksbuild.1"),
        ],
    },
    // Synthetic versions below: the sources say to ask DescribeAddonVersions.
    AddonCatalogue {
        name: "eks-pod-identity-agent",
        kind: "security",
        needs_nodes: false,
        iam: false,
        defaults: &[
            ("1.24", "v1.3.4-eksbuild.1"),
            ("1.25", "v1.3.4-eksbuild.1"),
            ("1.26", "v1.3.4-eksbuild.1"),
            ("1.27", "v1.3.4-eksbuild.1"),
            ("1.28", "v1.3.4-eksbuild.1"),
            ("1.29", "v1.3.4-eksbuild.1"),
            ("1.30", "v1.3.4-eksbuild.1"),
            ("1.31", "v1.3.4-eksbuild.1"),
            ("1.32", "v1.3.4-eksbuild.1"),
            ("1.33", "v1.3.8-eksbuild.2"),
            ("1.34", "v1.3.8-eksbuild.2"),
            ("1.35", "v1.3.8-eksbuild.2"),
            ("1.36", "v1.3.8-eksbuild.2"),
        ],
    },
    AddonCatalogue {
        name: "aws-ebs-csi-driver",
        kind: "storage",
        needs_nodes: true,
        iam: true,
        defaults: &[
            ("1.23", "v1.35.0-eksbuild.1"),
            ("1.24", "v1.35.0-eksbuild.1"),
            ("1.25", "v1.35.0-eksbuild.1"),
            ("1.26", "v1.35.0-eksbuild.1"),
            ("1.27", "v1.35.0-eksbuild.1"),
            ("1.28", "v1.41.0-eksbuild.1"),
            ("1.29", "v1.41.0-eksbuild.1"),
            ("1.30", "v1.41.0-eksbuild.1"),
            ("1.31", "v1.41.0-eksbuild.1"),
            ("1.32", "v1.41.0-eksbuild.1"),
            ("1.33", "v1.48.0-eksbuild.1"),
            ("1.34", "v1.48.0-eksbuild.1"),
            ("1.35", "v1.48.0-eksbuild.1"),
            ("1.36", "v1.48.0-eksbuild.1"),
        ],
    },
    AddonCatalogue {
        name: "aws-efs-csi-driver",
        kind: "storage",
        needs_nodes: true,
        iam: true,
        defaults: &[
            ("1.25", "v2.1.4-eksbuild.1"),
            ("1.26", "v2.1.4-eksbuild.1"),
            ("1.27", "v2.1.4-eksbuild.1"),
            ("1.28", "v2.1.4-eksbuild.1"),
            ("1.29", "v2.1.4-eksbuild.1"),
            ("1.30", "v2.1.4-eksbuild.1"),
            ("1.31", "v2.1.4-eksbuild.1"),
            ("1.32", "v2.1.4-eksbuild.1"),
            ("1.33", "v2.1.9-eksbuild.1"),
            ("1.34", "v2.1.9-eksbuild.1"),
            ("1.35", "v2.1.9-eksbuild.1"),
            ("1.36", "v2.1.9-eksbuild.1"),
        ],
    },
    AddonCatalogue {
        name: "snapshot-controller",
        kind: "storage",
        needs_nodes: true,
        iam: false,
        defaults: &[
            ("1.25", "v8.1.0-eksbuild.2"),
            ("1.26", "v8.1.0-eksbuild.2"),
            ("1.27", "v8.1.0-eksbuild.2"),
            ("1.28", "v8.1.0-eksbuild.2"),
            ("1.29", "v8.1.0-eksbuild.2"),
            ("1.30", "v8.1.0-eksbuild.2"),
            ("1.31", "v8.1.0-eksbuild.2"),
            ("1.32", "v8.1.0-eksbuild.2"),
            ("1.33", "v8.2.0-eksbuild.1"),
            ("1.34", "v8.2.0-eksbuild.1"),
            ("1.35", "v8.2.0-eksbuild.1"),
            ("1.36", "v8.2.0-eksbuild.1"),
        ],
    },
    AddonCatalogue {
        name: "metrics-server",
        kind: "observability",
        needs_nodes: true,
        iam: false,
        defaults: &[
            ("1.28", "v0.7.2-eksbuild.1"),
            ("1.29", "v0.7.2-eksbuild.1"),
            ("1.30", "v0.7.2-eksbuild.1"),
            ("1.31", "v0.7.2-eksbuild.1"),
            ("1.32", "v0.7.2-eksbuild.1"),
            ("1.33", "v0.8.0-eksbuild.1"),
            ("1.34", "v0.8.0-eksbuild.1"),
            ("1.35", "v0.8.0-eksbuild.1"),
            ("1.36", "v0.8.0-eksbuild.1"),
        ],
    },
    AddonCatalogue {
        name: "amazon-cloudwatch-observability",
        kind: "observability",
        needs_nodes: true,
        iam: true,
        defaults: &[
            ("1.25", "v2.6.0-eksbuild.1"),
            ("1.26", "v2.6.0-eksbuild.1"),
            ("1.27", "v2.6.0-eksbuild.1"),
            ("1.28", "v2.6.0-eksbuild.1"),
            ("1.29", "v2.6.0-eksbuild.1"),
            ("1.30", "v2.6.0-eksbuild.1"),
            ("1.31", "v2.6.0-eksbuild.1"),
            ("1.32", "v2.6.0-eksbuild.1"),
            ("1.33", "v4.1.0-eksbuild.1"),
            ("1.34", "v4.1.0-eksbuild.1"),
            ("1.35", "v4.1.0-eksbuild.1"),
            ("1.36", "v4.1.0-eksbuild.1"),
        ],
    },
];

/// The catalogue entry of an add-on.
pub(crate) fn addon(name: &str) -> Option<&'static AddonCatalogue> {
    ADDONS.iter().find(|a| a.name == name)
}

impl AddonCatalogue {
    /// Every version with the minors it is compatible with and whether it is the default for
    /// each: a version is compatible with the minors it is the default for and with the next
    /// minor (so an add-on keeps working across a control-plane upgrade).
    pub(crate) fn versions(&self) -> Vec<(&'static str, Vec<(&'static str, bool)>)> {
        let mut out: Vec<(&'static str, Vec<(&'static str, bool)>)> = Vec::new();
        for (i, (minor, version)) in self.defaults.iter().enumerate() {
            let mut compat = vec![(*minor, true)];
            if let Some((next, next_version)) = self.defaults.get(i + 1)
                && next_version != version
            {
                compat.push((*next, false));
            }
            match out.iter_mut().find(|(v, _)| v == version) {
                Some((_, c)) => {
                    for (m, d) in compat {
                        match c.iter_mut().find(|(cm, _)| *cm == m) {
                            Some(existing) => existing.1 |= d,
                            None => c.push((m, d)),
                        }
                    }
                }
                None => out.push((version, compat)),
            }
        }
        // Newest first, as EKS lists them.
        out.reverse();
        out
    }

    /// Whether `version` may run on `minor`.
    pub(crate) fn compatible(&self, version: &str, minor: &str) -> bool {
        self.versions()
            .iter()
            .any(|(v, c)| *v == version && c.iter().any(|(m, _)| *m == minor))
    }

    /// The default version for `minor`.
    pub(crate) fn default_for(&self, minor: &str) -> Option<&'static str> {
        self.defaults
            .iter()
            .find(|(m, _)| *m == minor)
            .map(|(_, v)| *v)
    }
}

/// Every AWS managed policy as `path name` lines, generated from moto's snapshot of AWS's list
/// by `emulator/scripts/gen_managed_policies.py`.
const MANAGED_POLICIES: &str = include_str!("../data/aws-managed-policies.txt");

/// `(path, name)` of every AWS managed policy (`arn:aws:iam::aws:policy<path><name>`).
fn managed_policies() -> &'static [(&'static str, &'static str)] {
    static PARSED: std::sync::OnceLock<Vec<(&'static str, &'static str)>> =
        std::sync::OnceLock::new();
    PARSED.get_or_init(|| {
        MANAGED_POLICIES
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| l.split_once(' '))
            .collect()
    })
}

/// `(path, name)` of a managed policy ARN the emulator knows.
pub(crate) fn managed_policy(arn: &str) -> Option<(&'static str, &'static str)> {
    let rest = arn.strip_prefix("arn:aws:iam::aws:policy")?;
    managed_policies()
        .iter()
        .find(|(path, name)| rest.strip_prefix(path) == Some(name))
        .copied()
}

/// EKS access policies (`arn:aws:eks::aws:cluster-access-policy/<name>`).
pub(crate) const ACCESS_POLICIES: &[&str] = &[
    "AmazonEKSAdminPolicy",
    "AmazonEKSAdminViewPolicy",
    "AmazonEKSClusterAdminPolicy",
    "AmazonEKSEditPolicy",
    "AmazonEKSViewPolicy",
    "AmazonEKSAutoNodePolicy",
    "AmazonEKSBlockStoragePolicy",
    "AmazonEKSComputePolicy",
    "AmazonEKSLoadBalancingPolicy",
    "AmazonEKSNetworkingPolicy",
];

/// APIs removed in a Kubernetes minor: `(removed in, usage, replaced with)`.
pub(crate) const API_REMOVALS: &[(&str, &str, &str)] = &[
    ("1.25", "/apis/policy/v1beta1/podsecuritypolicies", ""),
    (
        "1.25",
        "/apis/batch/v1beta1/cronjobs",
        "/apis/batch/v1/cronjobs",
    ),
    (
        "1.25",
        "/apis/policy/v1beta1/poddisruptionbudgets",
        "/apis/policy/v1/poddisruptionbudgets",
    ),
    (
        "1.25",
        "/apis/discovery.k8s.io/v1beta1/endpointslices",
        "/apis/discovery.k8s.io/v1/endpointslices",
    ),
    (
        "1.25",
        "/apis/events.k8s.io/v1beta1/events",
        "/apis/events.k8s.io/v1/events",
    ),
    (
        "1.25",
        "/apis/autoscaling/v2beta1/horizontalpodautoscalers",
        "/apis/autoscaling/v2/horizontalpodautoscalers",
    ),
    (
        "1.25",
        "/apis/node.k8s.io/v1beta1/runtimeclasses",
        "/apis/node.k8s.io/v1/runtimeclasses",
    ),
    (
        "1.26",
        "/apis/flowcontrol.apiserver.k8s.io/v1beta1/flowschemas",
        "/apis/flowcontrol.apiserver.k8s.io/v1beta2/flowschemas",
    ),
    (
        "1.26",
        "/apis/autoscaling/v2beta2/horizontalpodautoscalers",
        "/apis/autoscaling/v2/horizontalpodautoscalers",
    ),
    (
        "1.27",
        "/apis/storage.k8s.io/v1beta1/csistoragecapacities",
        "/apis/storage.k8s.io/v1/csistoragecapacities",
    ),
    (
        "1.29",
        "/apis/flowcontrol.apiserver.k8s.io/v1beta2/flowschemas",
        "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas",
    ),
    (
        "1.32",
        "/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas",
        "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas",
    ),
];

/// How many minors a kubelet may trail the API server (3 from 1.28; 2 before).
pub(crate) fn kubelet_skew(apiserver_minor: u32) -> u32 {
    if apiserver_minor >= 28 { 3 } else { 2 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_decides_support_by_date() {
        assert!(supported("1.33", "2026-11-01"));
        assert!(!supported("1.29", "2026-11-01"));
        assert!(!supported("1.36", "2026-01-01"));
        assert_eq!(default_version("2026-11-01"), Some("1.36"));
        assert_eq!(minor("1.33"), Some(33));
        assert_eq!(minor("1.33.1"), None);
        assert_eq!(minor("2.0"), None);
    }

    #[test]
    fn addon_versions_have_one_default_per_minor_and_carry_over_one_minor() {
        let coredns = addon("coredns").unwrap();
        assert_eq!(coredns.default_for("1.33"), Some("v1.13.2-eksbuild.4"));
        assert!(coredns.compatible("v1.13.2-eksbuild.4", "1.33"));
        assert!(coredns.compatible("v1.13.2-eksbuild.4", "1.34"));
        assert!(!coredns.compatible("v1.13.2-eksbuild.4", "1.35"));
        for a in ADDONS {
            for (minor, _) in a.defaults {
                let defaults = a
                    .versions()
                    .iter()
                    .filter(|(_, c)| c.iter().any(|(m, d)| m == minor && *d))
                    .count();
                assert_eq!(defaults, 1, "{} {minor}", a.name);
            }
        }
    }

    #[test]
    fn managed_policies_include_their_path() {
        assert_eq!(
            managed_policy("arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"),
            Some(("/service-role/", "AmazonEBSCSIDriverPolicy"))
        );
        assert!(managed_policy("arn:aws:iam::aws:policy/AmazonEBSCSIDriverPolicy").is_none());
        assert!(managed_policy("arn:aws:iam::aws:policy/AmazonEKSClusterPolicy").is_some());
    }
}
