//! Built-in reference data: support calendars, node OS windows, regions and zones, add-ons,
//! private endpoints, instance offerings per region.
//!
//! The calendars, node OS windows and instance offerings are CSV files under `blueprints/data/` embedded at compile time and parsed
//! once; the tables of regions, add-ons and private-endpoint services are Rust constants. The
//! loader validates blueprints against this data and the engine may use it to expand clusters
//! (EKS add-on names, Azure private-endpoint group ids). This module must never read files or
//! the network at run time.

use std::sync::OnceLock;

use jiff::civil::Date;

use crate::model::{Cloud, KubeVersion, NodeOs};

/// Why an embedded data file cannot be parsed (caught by this module's unit tests).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// A row has the wrong number of columns.
    #[error("{file}:{line}: expected {expected} columns, found {found}")]
    Columns {
        /// Data file name.
        file: &'static str,
        /// 1-based line.
        line: usize,
        /// Columns in the header.
        expected: usize,
        /// Columns in the row.
        found: usize,
    },
    /// A cell is not what its column needs.
    #[error("{file}:{line}: `{value}` is not a valid {what}")]
    Cell {
        /// Data file name.
        file: &'static str,
        /// 1-based line.
        line: usize,
        /// The cell text.
        value: String,
        /// What the column holds.
        what: &'static str,
    },
}

/// The support window of one Kubernetes minor on one cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionWindow {
    /// The Kubernetes minor.
    pub version: KubeVersion,
    /// EKS release or AKS general availability.
    pub released: Date,
    /// Last day of standard support (EKS) or community support (AKS).
    pub standard_until: Date,
    /// Last day of EKS extended support, or of AKS long-term support (Premium tier only).
    pub extended_until: Option<Date>,
    /// Where the dates come from.
    pub source: String,
}

/// Where a version stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupportStatus {
    /// Not in the calendar at all.
    Unknown,
    /// Not yet released on that day.
    NotReleased {
        /// Release day.
        on: Date,
    },
    /// In standard (EKS) or community (AKS) support.
    Standard {
        /// Last supported day.
        until: Date,
    },
    /// EKS extended support: supported, at extra cost.
    Extended {
        /// Last supported day.
        until: Date,
    },
    /// AKS long-term support only: usable only on the Premium tier with LTS enabled.
    LtsOnly {
        /// Last supported day.
        until: Date,
    },
    /// Support ended.
    Ended {
        /// Last supported day.
        on: Date,
    },
}

const EKS_VERSIONS: &str = include_str!("../data/eks-versions.csv");
const AKS_VERSIONS: &str = include_str!("../data/aks-versions.csv");
const EKS_ADDON_VERSIONS: &str = include_str!("../data/eks-addon-versions.csv");
const NODE_OS: &str = include_str!("../data/node-os.csv");
const OFFERINGS: &str = include_str!("../data/instance-offerings.csv");

/// Splits CSV text into rows of cells (RFC 4180 quoting), skipping the header.
fn csv_rows(file: &'static str, text: &str) -> Result<Vec<(usize, Vec<String>)>, CatalogError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let expected = lines.next().map_or(0, |(_, h)| split_csv(h).len());
    lines
        .map(|(i, line)| {
            let cells = split_csv(line);
            if cells.len() != expected {
                return Err(CatalogError::Columns {
                    file,
                    line: i + 1,
                    expected,
                    found: cells.len(),
                });
            }
            Ok((i + 1, cells))
        })
        .collect()
}

fn split_csv(line: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                if let Some(s) = cells.last_mut() {
                    s.push('"');
                }
            }
            ('"', _) => quoted = !quoted,
            (',', false) => cells.push(String::new()),
            (c, _) => {
                if let Some(s) = cells.last_mut() {
                    s.push(c);
                }
            }
        }
    }
    cells
}

fn date(file: &'static str, line: usize, value: &str) -> Result<Date, CatalogError> {
    value.parse().map_err(|_| CatalogError::Cell {
        file,
        line,
        value: value.to_owned(),
        what: "date (YYYY-MM-DD)",
    })
}

fn version(file: &'static str, line: usize, value: &str) -> Result<KubeVersion, CatalogError> {
    KubeVersion::parse(value).ok_or_else(|| CatalogError::Cell {
        file,
        line,
        value: value.to_owned(),
        what: "Kubernetes version",
    })
}

fn parse_calendar(file: &'static str, text: &str) -> Result<Vec<VersionWindow>, CatalogError> {
    csv_rows(file, text)?
        .into_iter()
        .map(|(line, c)| {
            Ok(VersionWindow {
                version: version(file, line, &c[0])?,
                released: date(file, line, &c[1])?,
                standard_until: date(file, line, &c[2])?,
                extended_until: if c[3].is_empty() {
                    None
                } else {
                    Some(date(file, line, &c[3])?)
                },
                source: c[4].clone(),
            })
        })
        .collect()
}

/// One published add-on version for a Kubernetes minor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddonVersion {
    /// Kubernetes minor.
    pub kubernetes: KubeVersion,
    /// Catalogue add-on name (`coredns`, `kube-proxy`, `vpc-cni`).
    pub addon: String,
    /// Latest EKS add-on version seen in the docs, e.g. `v1.11.4-eksbuild.33`.
    pub latest: String,
    /// Where it comes from.
    pub source: String,
}

fn parse_addon_versions(text: &str) -> Result<Vec<AddonVersion>, CatalogError> {
    const FILE: &str = "eks-addon-versions.csv";
    csv_rows(FILE, text)?
        .into_iter()
        .map(|(line, c)| {
            Ok(AddonVersion {
                kubernetes: version(FILE, line, &c[0])?,
                addon: c[1].clone(),
                latest: c[2].clone(),
                source: c[3].clone(),
            })
        })
        .collect()
}

/// The support calendar of a cloud, oldest first.
pub fn versions(cloud: Cloud) -> &'static [VersionWindow] {
    static EKS: OnceLock<Vec<VersionWindow>> = OnceLock::new();
    static AKS: OnceLock<Vec<VersionWindow>> = OnceLock::new();
    match cloud {
        Cloud::Aws => EKS.get_or_init(|| {
            parse_calendar("eks-versions.csv", EKS_VERSIONS)
                .expect("embedded data is checked by unit tests")
        }),
        Cloud::Azure => AKS.get_or_init(|| {
            parse_calendar("aks-versions.csv", AKS_VERSIONS)
                .expect("embedded data is checked by unit tests")
        }),
    }
}

/// Latest known EKS add-on versions per Kubernetes minor (the real default comes from
/// `DescribeAddonVersions`; this is a fallback and a hint).
pub fn eks_addon_versions() -> &'static [AddonVersion] {
    static DATA: OnceLock<Vec<AddonVersion>> = OnceLock::new();
    DATA.get_or_init(|| {
        parse_addon_versions(EKS_ADDON_VERSIONS).expect("embedded data is checked by unit tests")
    })
}

/// The latest known EKS version of a catalogue add-on for a Kubernetes minor.
pub fn eks_addon_latest(addon: &str, kubernetes: KubeVersion) -> Option<&'static str> {
    eks_addon_versions()
        .iter()
        .find(|a| a.addon == addon && a.kubernetes == kubernetes)
        .map(|a| a.latest.as_str())
}

/// Where `version` stands on `cloud` on `today`. Window ends are inclusive.
pub fn support(cloud: Cloud, version: KubeVersion, today: Date) -> SupportStatus {
    let Some(w) = versions(cloud).iter().find(|w| w.version == version) else {
        return SupportStatus::Unknown;
    };
    if today < w.released {
        SupportStatus::NotReleased { on: w.released }
    } else if today <= w.standard_until {
        SupportStatus::Standard {
            until: w.standard_until,
        }
    } else {
        match (cloud, w.extended_until) {
            (Cloud::Aws, Some(until)) if today <= until => SupportStatus::Extended { until },
            (Cloud::Azure, Some(until)) if today <= until => SupportStatus::LtsOnly { until },
            (_, Some(until)) => SupportStatus::Ended { on: until },
            (_, None) => SupportStatus::Ended {
                on: w.standard_until,
            },
        }
    }
}

/// Versions usable without extra cost or tier on `today` (standard support).
pub fn standard_versions(cloud: Cloud, today: Date) -> Vec<KubeVersion> {
    versions(cloud)
        .iter()
        .filter(|w| {
            matches!(
                support(cloud, w.version, today),
                SupportStatus::Standard { .. }
            )
        })
        .map(|w| w.version)
        .collect()
}

/// The Kubernetes versions for which a cloud publishes node images of one OS family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeOsWindow {
    /// The OS family.
    pub os: NodeOs,
    /// The first Kubernetes minor with images.
    pub first: KubeVersion,
    /// The last Kubernetes minor with images; `None` while the family is still published.
    pub last: Option<KubeVersion>,
    /// The cloud's name for the family: the EKS `amiType` prefix (`AL2023`, `AL2`,
    /// `BOTTLEROCKET`) or the AKS `osSKU` (`Ubuntu`, `AzureLinux`, `Windows2019`…).
    pub cloud_name: String,
    /// Where the window comes from.
    pub source: String,
}

impl NodeOsWindow {
    /// Whether images exist for `version` (both ends inclusive).
    pub fn covers(&self, version: KubeVersion) -> bool {
        version >= self.first && self.last.is_none_or(|l| version <= l)
    }
}

fn parse_node_os(text: &str) -> Result<Vec<(Cloud, NodeOsWindow)>, CatalogError> {
    const FILE: &str = "node-os.csv";
    let cell = |line: usize, value: &str, what: &'static str| CatalogError::Cell {
        file: FILE,
        line,
        value: value.to_owned(),
        what,
    };
    csv_rows(FILE, text)?
        .into_iter()
        .map(|(line, c)| {
            let cloud = match c[0].as_str() {
                "aws" => Cloud::Aws,
                "azure" => Cloud::Azure,
                other => return Err(cell(line, other, "cloud (`aws` or `azure`)")),
            };
            let os = NodeOs::parse(&c[1])
                .filter(|os| os.cloud() == cloud)
                .ok_or_else(|| cell(line, &c[1], "node OS of that cloud"))?;
            Ok((
                cloud,
                NodeOsWindow {
                    os,
                    first: version(FILE, line, &c[2])?,
                    last: if c[3].is_empty() {
                        None
                    } else {
                        Some(version(FILE, line, &c[3])?)
                    },
                    cloud_name: c[4].clone(),
                    source: c[5].clone(),
                },
            ))
        })
        .collect()
}

/// The node OS families of a cloud, in data-file order (the cloud's default first).
pub fn node_os(cloud: Cloud) -> &'static [NodeOsWindow] {
    static EKS: OnceLock<Vec<NodeOsWindow>> = OnceLock::new();
    static AKS: OnceLock<Vec<NodeOsWindow>> = OnceLock::new();
    let of = |cloud: Cloud| -> Vec<NodeOsWindow> {
        parse_node_os(NODE_OS)
            .expect("embedded data is checked by unit tests")
            .into_iter()
            .filter(|(c, _)| *c == cloud)
            .map(|(_, w)| w)
            .collect()
    };
    match cloud {
        Cloud::Aws => EKS.get_or_init(|| of(Cloud::Aws)),
        Cloud::Azure => AKS.get_or_init(|| of(Cloud::Azure)),
    }
}

/// The image window of one OS family.
pub fn node_os_window(os: NodeOs) -> Option<&'static NodeOsWindow> {
    node_os(os.cloud()).iter().find(|w| w.os == os)
}

/// Whether the cloud of `os` publishes node images of that family for `version`. A family
/// missing from the data has no images.
pub fn node_os_supports(os: NodeOs, version: KubeVersion) -> bool {
    node_os_window(os).is_some_and(|w| w.covers(version))
}

/// The OS family a pool gets when the blueprint names none: `al2023` on EKS (the managed node
/// group default from Kubernetes 1.30), `ubuntu` on AKS.
pub fn default_node_os(cloud: Cloud) -> NodeOs {
    match cloud {
        Cloud::Aws => NodeOs::Al2023,
        Cloud::Azure => NodeOs::Ubuntu,
    }
}

/// A cloud region and its availability zones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// Region name, e.g. `us-east-1`, `westeurope`.
    pub name: &'static str,
    /// Zone names in order (AWS `us-east-1a`…; Azure `1`,`2`,`3`; empty for Azure regions
    /// without availability zones).
    pub zones: &'static [&'static str],
}

const fn r(name: &'static str, zones: &'static [&'static str]) -> Region {
    Region { name, zones }
}

const AZ3: &[&str] = &["1", "2", "3"];

const AWS_REGIONS: &[Region] = &[
    r(
        "us-east-1",
        &[
            "us-east-1a",
            "us-east-1b",
            "us-east-1c",
            "us-east-1d",
            "us-east-1e",
            "us-east-1f",
        ],
    ),
    r("us-east-2", &["us-east-2a", "us-east-2b", "us-east-2c"]),
    r("us-west-1", &["us-west-1b", "us-west-1c"]),
    r(
        "us-west-2",
        &["us-west-2a", "us-west-2b", "us-west-2c", "us-west-2d"],
    ),
    r(
        "ca-central-1",
        &["ca-central-1a", "ca-central-1b", "ca-central-1d"],
    ),
    r("sa-east-1", &["sa-east-1a", "sa-east-1b", "sa-east-1c"]),
    r("eu-west-1", &["eu-west-1a", "eu-west-1b", "eu-west-1c"]),
    r("eu-west-2", &["eu-west-2a", "eu-west-2b", "eu-west-2c"]),
    r("eu-west-3", &["eu-west-3a", "eu-west-3b", "eu-west-3c"]),
    r(
        "eu-central-1",
        &["eu-central-1a", "eu-central-1b", "eu-central-1c"],
    ),
    r(
        "eu-central-2",
        &["eu-central-2a", "eu-central-2b", "eu-central-2c"],
    ),
    r("eu-north-1", &["eu-north-1a", "eu-north-1b", "eu-north-1c"]),
    r("eu-south-1", &["eu-south-1a", "eu-south-1b", "eu-south-1c"]),
    r("ap-south-1", &["ap-south-1a", "ap-south-1b", "ap-south-1c"]),
    r(
        "ap-southeast-1",
        &["ap-southeast-1a", "ap-southeast-1b", "ap-southeast-1c"],
    ),
    r(
        "ap-southeast-2",
        &["ap-southeast-2a", "ap-southeast-2b", "ap-southeast-2c"],
    ),
    r(
        "ap-northeast-1",
        &["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"],
    ),
    r(
        "ap-northeast-2",
        &[
            "ap-northeast-2a",
            "ap-northeast-2b",
            "ap-northeast-2c",
            "ap-northeast-2d",
        ],
    ),
    r(
        "ap-northeast-3",
        &["ap-northeast-3a", "ap-northeast-3b", "ap-northeast-3c"],
    ),
    r("me-south-1", &["me-south-1a", "me-south-1b", "me-south-1c"]),
    r("af-south-1", &["af-south-1a", "af-south-1b", "af-south-1c"]),
];

const AZURE_REGIONS: &[Region] = &[
    r("eastus", AZ3),
    r("eastus2", AZ3),
    r("centralus", AZ3),
    r("southcentralus", AZ3),
    r("westus2", AZ3),
    r("westus3", AZ3),
    r("westus", &[]),
    r("northcentralus", &[]),
    r("westcentralus", &[]),
    r("canadacentral", AZ3),
    r("canadaeast", &[]),
    r("brazilsouth", AZ3),
    r("northeurope", AZ3),
    r("westeurope", AZ3),
    r("uksouth", AZ3),
    r("ukwest", &[]),
    r("francecentral", AZ3),
    r("germanywestcentral", AZ3),
    r("swedencentral", AZ3),
    r("switzerlandnorth", AZ3),
    r("norwayeast", AZ3),
    r("italynorth", AZ3),
    r("polandcentral", AZ3),
    r("eastasia", AZ3),
    r("southeastasia", AZ3),
    r("japaneast", AZ3),
    r("japanwest", AZ3),
    r("koreacentral", AZ3),
    r("australiaeast", AZ3),
    r("australiasoutheast", &[]),
    r("centralindia", AZ3),
    r("southindia", &[]),
    r("southafricanorth", AZ3),
    r("uaenorth", AZ3),
    r("qatarcentral", AZ3),
    r("israelcentral", AZ3),
];

/// Known regions of a cloud.
pub fn regions(cloud: Cloud) -> &'static [Region] {
    match cloud {
        Cloud::Aws => AWS_REGIONS,
        Cloud::Azure => AZURE_REGIONS,
    }
}

/// The region with this name.
pub fn region(cloud: Cloud, name: &str) -> Option<&'static Region> {
    regions(cloud).iter().find(|r| r.name == name)
}

/// The largest node count one node pool may reach (EKS managed node group quota; AKS limit).
pub fn max_pool_nodes(cloud: Cloud) -> u32 {
    match cloud {
        Cloud::Aws => 450,
        Cloud::Azure => 1000,
    }
}

/// How an add-on is provided on Azure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AzureAddon {
    /// Not available on AKS.
    Unavailable,
    /// Part of every AKS cluster: nothing to install, dropped from the validated model.
    BuiltIn,
    /// An AKS managed feature; the string is the managed-cluster property that enables it.
    Feature(&'static str),
}

/// One entry of the cross-cloud add-on catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddonInfo {
    /// Catalogue name used in blueprints.
    pub name: &'static str,
    /// The EKS add-on name, if EKS offers it.
    pub eks: Option<&'static str>,
    /// How AKS provides it.
    pub azure: AzureAddon,
    /// The catalogue name of the closest add-on on the other cloud, for help text.
    pub alternative: Option<&'static str>,
}

const fn addon(
    name: &'static str,
    eks: Option<&'static str>,
    azure: AzureAddon,
    alternative: Option<&'static str>,
) -> AddonInfo {
    AddonInfo {
        name,
        eks,
        azure,
        alternative,
    }
}

const ADDONS: &[AddonInfo] = &[
    addon("coredns", Some("coredns"), AzureAddon::BuiltIn, None),
    addon("kube-proxy", Some("kube-proxy"), AzureAddon::BuiltIn, None),
    addon("vpc-cni", Some("vpc-cni"), AzureAddon::BuiltIn, None),
    addon(
        "ebs-csi",
        Some("aws-ebs-csi-driver"),
        AzureAddon::BuiltIn,
        None,
    ),
    addon(
        "efs-csi",
        Some("aws-efs-csi-driver"),
        AzureAddon::BuiltIn,
        None,
    ),
    addon(
        "pod-identity-agent",
        Some("eks-pod-identity-agent"),
        AzureAddon::BuiltIn,
        None,
    ),
    addon(
        "snapshot-controller",
        Some("snapshot-controller"),
        AzureAddon::BuiltIn,
        None,
    ),
    addon(
        "metrics-server",
        Some("metrics-server"),
        AzureAddon::BuiltIn,
        None,
    ),
    addon(
        "cloudwatch-observability",
        Some("amazon-cloudwatch-observability"),
        AzureAddon::Unavailable,
        Some("monitoring"),
    ),
    addon(
        "azure-keyvault-secrets-provider",
        None,
        AzureAddon::Feature("addonProfiles.azureKeyvaultSecretsProvider"),
        None,
    ),
    addon(
        "azure-policy",
        None,
        AzureAddon::Feature("addonProfiles.azurepolicy"),
        None,
    ),
    addon(
        "monitoring",
        None,
        AzureAddon::Feature("addonProfiles.omsagent"),
        Some("cloudwatch-observability"),
    ),
    addon(
        "keda",
        None,
        AzureAddon::Feature("workloadAutoScalerProfile.keda"),
        None,
    ),
    addon(
        "vpa",
        None,
        AzureAddon::Feature("workloadAutoScalerProfile.verticalPodAutoscaler"),
        None,
    ),
    addon(
        "image-cleaner",
        None,
        AzureAddon::Feature("securityProfile.imageCleaner"),
        None,
    ),
    addon(
        ISTIO_ADDON,
        None,
        AzureAddon::Feature("serviceMeshProfile.istio"),
        None,
    ),
];

/// The AKS Istio-based service mesh add-on; its `version` is a mesh revision (`asm-1-28`).
pub const ISTIO_ADDON: &str = "istio";

/// Whether `revision` is spelled like an AKS service mesh revision: `asm-1-N`, Istio's minor
/// after the major (`asm-1-28` is Istio 1.28).
pub fn is_mesh_revision(revision: &str) -> bool {
    revision.strip_prefix("asm-1-").is_some_and(|m| {
        !m.is_empty()
            && m.len() <= 3
            && m.bytes().all(|b| b.is_ascii_digit())
            && !m.starts_with('0')
    })
}

/// The whole add-on catalogue.
pub fn addons() -> &'static [AddonInfo] {
    ADDONS
}

/// The catalogue entry with this name.
pub fn addon_info(name: &str) -> Option<&'static AddonInfo> {
    ADDONS.iter().find(|a| a.name == name)
}

impl AddonInfo {
    /// Whether a blueprint may list it for a cluster on `cloud`.
    pub fn accepted_on(&self, cloud: Cloud) -> bool {
        match cloud {
            Cloud::Aws => self.eks.is_some(),
            Cloud::Azure => self.azure != AzureAddon::Unavailable,
        }
    }

    /// Whether it becomes a real resource on `cloud` (kept in the validated model).
    pub fn installed_on(&self, cloud: Cloud) -> bool {
        match cloud {
            Cloud::Aws => self.eks.is_some(),
            Cloud::Azure => matches!(self.azure, AzureAddon::Feature(_)),
        }
    }
}

/// Add-ons an AWS cluster gets when it lists none.
pub const DEFAULT_AWS_ADDONS: &[&str] = &["coredns", "kube-proxy", "vpc-cni"];

/// How a private endpoint is realised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointKind {
    /// AWS gateway VPC endpoint (route-table based).
    AwsGateway,
    /// AWS interface VPC endpoint (ENIs in the private subnets, private DNS on).
    AwsInterface,
    /// Azure private endpoint with this sub-resource (group id).
    AzureGroup(&'static str),
}

/// A service reachable through a private endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrivateEndpointService {
    /// Name used in blueprints: AWS `com.amazonaws.<region>.<name>` suffix, or an Azure target.
    pub name: &'static str,
    /// How it is built.
    pub kind: EndpointKind,
}

const fn pe(name: &'static str, kind: EndpointKind) -> PrivateEndpointService {
    PrivateEndpointService { name, kind }
}

const AWS_ENDPOINTS: &[PrivateEndpointService] = &[
    pe("s3", EndpointKind::AwsGateway),
    pe("ecr.api", EndpointKind::AwsInterface),
    pe("ecr.dkr", EndpointKind::AwsInterface),
    pe("sts", EndpointKind::AwsInterface),
    pe("logs", EndpointKind::AwsInterface),
    pe("ec2", EndpointKind::AwsInterface),
    pe("elasticloadbalancing", EndpointKind::AwsInterface),
    pe("autoscaling", EndpointKind::AwsInterface),
    pe("kms", EndpointKind::AwsInterface),
    pe("ssm", EndpointKind::AwsInterface),
    pe("ssmmessages", EndpointKind::AwsInterface),
    pe("ec2messages", EndpointKind::AwsInterface),
    pe("secretsmanager", EndpointKind::AwsInterface),
];

const AZURE_ENDPOINTS: &[PrivateEndpointService] = &[
    pe("acr", EndpointKind::AzureGroup("registry")),
    pe("keyvault", EndpointKind::AzureGroup("vault")),
    pe("storage-blob", EndpointKind::AzureGroup("blob")),
    pe("storage-file", EndpointKind::AzureGroup("file")),
    pe("servicebus", EndpointKind::AzureGroup("namespace")),
    pe("eventhub", EndpointKind::AzureGroup("namespace")),
    pe("sql", EndpointKind::AzureGroup("sqlServer")),
    pe("cosmos", EndpointKind::AzureGroup("Sql")),
];

/// Private endpoint services of a cloud.
pub fn private_endpoint_services(cloud: Cloud) -> &'static [PrivateEndpointService] {
    match cloud {
        Cloud::Aws => AWS_ENDPOINTS,
        Cloud::Azure => AZURE_ENDPOINTS,
    }
}

/// The private endpoint service with this name on `cloud`.
pub fn private_endpoint_service(
    cloud: Cloud,
    name: &str,
) -> Option<&'static PrivateEndpointService> {
    private_endpoint_services(cloud)
        .iter()
        .find(|s| s.name == name)
}

/// Which regions of the catalogue offer an instance family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offered {
    /// Every region.
    All,
    /// Every region with availability zones.
    Zonal,
    /// Only these regions.
    Only(Vec<String>),
    /// Every region except these.
    Except(Vec<String>),
}

impl Offered {
    fn covers(&self, region: &Region) -> bool {
        match self {
            Offered::All => true,
            Offered::Zonal => !region.zones.is_empty(),
            Offered::Only(list) => list.iter().any(|r| r == region.name),
            Offered::Except(list) => !list.iter().any(|r| r == region.name),
        }
    }
}

/// An instance family (AWS `m7i`) or VM series (Azure `Dsv6`) with the regions offering it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceFamily {
    /// The cloud.
    pub cloud: Cloud,
    /// Family name as the offerings data writes it: `m8g`, `Dpsv5`.
    pub family: String,
    /// CPU architecture: `x86_64` or `arm64`.
    pub arch: String,
    /// Where the family is offered.
    pub offered: Offered,
    /// Families to use instead where this one is not offered, newest first; each has the same
    /// architecture, vCPUs per size and memory per vCPU.
    pub fallbacks: Vec<String>,
    /// Where the facts come from.
    pub source: String,
}

fn parse_offerings(text: &str) -> Result<Vec<InstanceFamily>, CatalogError> {
    const FILE: &str = "instance-offerings.csv";
    let cell = |line: usize, value: &str, what: &'static str| CatalogError::Cell {
        file: FILE,
        line,
        value: value.to_owned(),
        what,
    };
    let words = |s: &str| -> Vec<String> { s.split_whitespace().map(str::to_owned).collect() };
    csv_rows(FILE, text)?
        .into_iter()
        .map(|(line, c)| {
            let cloud = match c[0].as_str() {
                "aws" => Cloud::Aws,
                "azure" => Cloud::Azure,
                other => return Err(cell(line, other, "cloud (`aws` or `azure`)")),
            };
            if !matches!(c[2].as_str(), "x86_64" | "arm64") {
                return Err(cell(line, &c[2], "architecture (`x86_64` or `arm64`)"));
            }
            let offered = match c[3].as_str() {
                "all" => Offered::All,
                "zonal" => Offered::Zonal,
                "" => return Err(cell(line, "", "region list")),
                s => match s.strip_prefix("except ") {
                    Some(rest) => Offered::Except(words(rest)),
                    None => Offered::Only(words(s)),
                },
            };
            Ok(InstanceFamily {
                cloud,
                family: c[1].clone(),
                arch: c[2].clone(),
                offered,
                fallbacks: words(&c[4]),
                source: c[5].clone(),
            })
        })
        .collect()
}

/// The instance families of the offerings catalogue, in data-file order.
pub fn instance_families() -> &'static [InstanceFamily] {
    static FAMILIES: OnceLock<Vec<InstanceFamily>> = OnceLock::new();
    FAMILIES
        .get_or_init(|| parse_offerings(OFFERINGS).expect("embedded data is checked by unit tests"))
}

/// AWS sizes whose vCPU count is the same in every family (`large` = 2 … `16xlarge` = 64), so
/// that a substitute of the same size has the same vCPUs.
const AWS_SIZES: &[&str] = &[
    "medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge",
];

/// An instance type split into its family and size: AWS `m8g.xlarge` → (`m8g`, `xlarge`);
/// Azure `Standard_D4ps_v6` → (`Dpsv6`, `4`).
fn split_instance_type(cloud: Cloud, instance_type: &str) -> Option<(String, String)> {
    match cloud {
        Cloud::Aws => {
            let (family, size) = instance_type.split_once('.')?;
            AWS_SIZES
                .contains(&size)
                .then(|| (family.to_owned(), size.to_owned()))
        }
        Cloud::Azure => {
            // Standard_<series><vCPUs><modifiers>s_v<generation>
            let (name, generation) = instance_type.strip_prefix("Standard_")?.split_once("_v")?;
            let series_len = name.find(|c: char| !c.is_ascii_uppercase())?;
            let rest = &name[series_len..];
            let digits = rest.find(|c: char| !c.is_ascii_digit())?;
            let modifiers = rest[digits..].strip_suffix('s')?;
            let valid = series_len > 0
                && digits > 0
                && modifiers.bytes().all(|b| b.is_ascii_lowercase())
                && !generation.is_empty()
                && generation.bytes().all(|b| b.is_ascii_digit());
            valid.then(|| {
                (
                    format!("{}{modifiers}sv{generation}", &name[..series_len]),
                    rest[..digits].to_owned(),
                )
            })
        }
    }
}

/// The instance type of `family` in `size`: the inverse of [`split_instance_type`].
fn join_instance_type(cloud: Cloud, family: &str, size: &str) -> Option<String> {
    match cloud {
        Cloud::Aws => Some(format!("{family}.{size}")),
        Cloud::Azure => {
            let (head, generation) = family.rsplit_once("sv")?;
            let series_len = head
                .find(|c: char| !c.is_ascii_uppercase())
                .unwrap_or(head.len());
            let (series, modifiers) = head.split_at(series_len);
            Some(format!("Standard_{series}{size}{modifiers}s_v{generation}"))
        }
    }
}

fn instance_family(cloud: Cloud, family: &str) -> Option<&'static InstanceFamily> {
    instance_families()
        .iter()
        .find(|f| f.cloud == cloud && f.family == family)
}

/// Whether `region` offers `instance_type`; `None` when the type's family is not in the
/// offerings catalogue (or the region is unknown), so nothing can be said about it.
pub fn instance_offered(cloud: Cloud, instance_type: &str, region: &str) -> Option<bool> {
    let (family, _) = split_instance_type(cloud, instance_type)?;
    let region = self::region(cloud, region)?;
    Some(instance_family(cloud, &family)?.offered.covers(region))
}

/// The same-size instance type of the newest fallback family of `instance_type`'s family that
/// `region` offers (same architecture and memory per vCPU); `None` when there is none, or the
/// type is not in the catalogue.
pub fn instance_substitute(cloud: Cloud, instance_type: &str, region: &str) -> Option<String> {
    let (family, size) = split_instance_type(cloud, instance_type)?;
    let region = self::region(cloud, region)?;
    instance_family(cloud, &family)?
        .fallbacks
        .iter()
        .filter_map(|f| instance_family(cloud, f))
        .find(|f| f.offered.covers(region))
        .and_then(|f| join_instance_type(cloud, &f.family, &size))
}

/// The CPU architecture (`x86_64`, `arm64`) of a catalogued instance type.
pub fn instance_arch(cloud: Cloud, instance_type: &str) -> Option<&'static str> {
    let (family, _) = split_instance_type(cloud, instance_type)?;
    instance_family(cloud, &family).map(|f| f.arch.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_row_parses() {
        let eks = parse_calendar("eks-versions.csv", EKS_VERSIONS).unwrap();
        let aks = parse_calendar("aks-versions.csv", AKS_VERSIONS).unwrap();
        assert_eq!(eks.len(), EKS_VERSIONS.lines().count() - 1);
        assert_eq!(aks.len(), AKS_VERSIONS.lines().count() - 1);
        for w in eks.iter().chain(&aks) {
            assert!(w.released <= w.standard_until, "{w:?}");
            assert!(
                w.extended_until.is_none_or(|e| e >= w.standard_until),
                "{w:?}"
            );
            assert!(!w.source.is_empty());
        }
        let addons = parse_addon_versions(EKS_ADDON_VERSIONS).unwrap();
        assert_eq!(addons.len(), EKS_ADDON_VERSIONS.lines().count() - 1);
        assert!(
            addons
                .iter()
                .all(|a| addon_info(&a.addon).is_some() && a.latest.starts_with('v'))
        );
    }

    #[test]
    fn node_os_rows_cover_every_family_once() {
        let rows = parse_node_os(NODE_OS).unwrap();
        assert_eq!(rows.len(), NODE_OS.lines().count() - 1);
        for os in NodeOs::ALL {
            assert_eq!(rows.iter().filter(|(_, w)| w.os == os).count(), 1, "{os}");
        }
        for (cloud, w) in &rows {
            assert_eq!(w.os.cloud(), *cloud);
            assert!(w.last.is_none_or(|l| l >= w.first), "{w:?}");
            assert!(!w.source.is_empty() && !w.cloud_name.is_empty(), "{w:?}");
            // Every window starts inside the cloud's calendar.
            assert!(
                versions(*cloud).iter().any(|v| v.version == w.first),
                "{w:?}"
            );
        }
        for cloud in [Cloud::Aws, Cloud::Azure] {
            assert_eq!(node_os(cloud)[0].os, default_node_os(cloud));
            assert_eq!(node_os_window(default_node_os(cloud)).unwrap().last, None);
        }
        let v = |m| KubeVersion::new(1, m);
        assert!(node_os_supports(NodeOs::Al2, v(32)));
        assert!(!node_os_supports(NodeOs::Al2, v(33)));
        assert!(node_os_supports(NodeOs::Al2023, v(36)));
        assert!(!node_os_supports(NodeOs::Windows2019, v(33)));
        assert!(node_os_supports(NodeOs::Windows2022, v(36)));
        assert!(!node_os_supports(NodeOs::Windows2022, v(37)));
        assert!(!node_os_supports(NodeOs::Ubuntu, v(22)));
        assert!(matches!(
            parse_node_os("c,o,f,l,n,s\naws,ubuntu,1.30,,Ubuntu,src\n"),
            Err(CatalogError::Cell { line: 2, .. })
        ));
    }

    #[test]
    fn bad_rows_are_reported_with_their_line() {
        let err = parse_calendar("x.csv", "h1,h2,h3,h4,h5\n1.30,2024-13-01,2025-01-01,,src\n")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.csv:2: `2024-13-01` is not a valid date (YYYY-MM-DD)"
        );
        assert!(matches!(
            parse_calendar("x.csv", "a,b\n1,2,3\n"),
            Err(CatalogError::Columns { line: 2, .. })
        ));
    }

    #[test]
    fn support_windows_on_a_fixed_day() {
        let day: Date = "2026-11-21".parse().unwrap();
        let v = |m| KubeVersion::new(1, m);
        assert!(matches!(
            support(Cloud::Aws, v(34), day),
            SupportStatus::Standard { .. }
        ));
        assert!(matches!(
            support(Cloud::Aws, v(33), day),
            SupportStatus::Extended { .. }
        ));
        assert!(matches!(
            support(Cloud::Aws, v(30), day),
            SupportStatus::Ended { .. }
        ));
        assert!(matches!(
            support(Cloud::Aws, v(40), day),
            SupportStatus::Unknown
        ));
        assert!(matches!(
            support(Cloud::Azure, v(33), day),
            SupportStatus::LtsOnly { .. }
        ));
        assert!(matches!(
            support(Cloud::Azure, v(34), day),
            SupportStatus::Standard { .. }
        ));
        assert!(matches!(
            support(Cloud::Azure, v(37), "2026-09-01".parse().unwrap()),
            SupportStatus::NotReleased { .. }
        ));
        assert_eq!(standard_versions(Cloud::Aws, day), [v(34), v(35), v(36)]);
        assert_eq!(
            eks_addon_latest("coredns", v(35)),
            Some("v1.14.2-eksbuild.4")
        );
    }

    #[test]
    fn catalogues_are_consistent() {
        for cloud in [Cloud::Aws, Cloud::Azure] {
            assert!(
                region(
                    cloud,
                    if cloud == Cloud::Aws {
                        "us-east-1"
                    } else {
                        "westeurope"
                    }
                )
                .is_some()
            );
        }
        assert_eq!(region(Cloud::Aws, "us-east-1").unwrap().zones.len(), 6);
        assert_eq!(
            addon_info("ebs-csi").unwrap().eks,
            Some("aws-ebs-csi-driver")
        );
        assert!(addon_info("ebs-csi").unwrap().accepted_on(Cloud::Azure));
        assert!(!addon_info("ebs-csi").unwrap().installed_on(Cloud::Azure));
        assert!(!addon_info("keda").unwrap().accepted_on(Cloud::Aws));
        let istio = addon_info(ISTIO_ADDON).unwrap();
        assert!(!istio.accepted_on(Cloud::Aws));
        assert!(istio.installed_on(Cloud::Azure));
        assert!(is_mesh_revision("asm-1-28"));
        for bad in [
            "asm-1-",
            "asm-2-28",
            "asm-1-028",
            "1.28",
            "asm-1-2x",
            "ASM-1-28",
        ] {
            assert!(!is_mesh_revision(bad), "{bad}");
        }
        assert!(DEFAULT_AWS_ADDONS.iter().all(|a| addon_info(a).is_some()));
        assert_eq!(
            private_endpoint_service(Cloud::Azure, "acr").unwrap().kind,
            EndpointKind::AzureGroup("registry")
        );
    }

    #[test]
    fn offerings_are_consistent() {
        let rows = parse_offerings(OFFERINGS).unwrap();
        assert_eq!(rows.len(), OFFERINGS.lines().count() - 1);
        for f in &rows {
            if let Offered::Only(list) | Offered::Except(list) = &f.offered {
                for r in list {
                    assert!(region(f.cloud, r).is_some(), "{} names {r}", f.family);
                }
            }
            // Arm families are marked in their names: AWS `g`, Azure `p`.
            let arm = match f.cloud {
                Cloud::Aws => f.family.contains('g'),
                Cloud::Azure => f.family.contains('p'),
            };
            assert_eq!(arm, f.arch == "arm64", "{}", f.family);
            for fb in &f.fallbacks {
                let fb = instance_family(f.cloud, fb).unwrap();
                assert_eq!((&fb.arch, &fb.family[..1]), (&f.arch, &f.family[..1]));
            }
            assert!(!f.source.is_empty());
        }
        assert!(matches!(
            parse_offerings("c,f,a,o,fb,s\naws,m5,sparc,all,,src\n"),
            Err(CatalogError::Cell { line: 2, .. })
        ));
    }

    #[test]
    fn instance_offerings_and_substitutes() {
        let (aws, azure) = (Cloud::Aws, Cloud::Azure);
        assert_eq!(instance_offered(aws, "m8g.xlarge", "us-east-1"), Some(true));
        assert_eq!(
            instance_offered(aws, "m8g.xlarge", "af-south-1"),
            Some(false)
        );
        assert_eq!(
            instance_offered(aws, "m7i.large", "me-south-1"),
            Some(false)
        );
        assert_eq!(instance_offered(aws, "m6i.large", "af-south-1"), Some(true));
        assert_eq!(instance_offered(aws, "x2iedn.xlarge", "us-east-1"), None);
        assert_eq!(instance_offered(aws, "m8g.metal-24xl", "us-east-1"), None);
        assert_eq!(
            instance_substitute(aws, "m8g.xlarge", "af-south-1").as_deref(),
            Some("m6g.xlarge")
        );
        assert_eq!(
            instance_substitute(aws, "m8g.xlarge", "eu-west-2").as_deref(),
            Some("m7g.xlarge")
        );
        assert_eq!(
            instance_substitute(aws, "r7i.2xlarge", "af-south-1").as_deref(),
            Some("r6i.2xlarge")
        );
        assert_eq!(instance_arch(aws, "c8g.large"), Some("arm64"));
        assert_eq!(
            instance_offered(azure, "Standard_D4s_v6", "polandcentral"),
            Some(false)
        );
        assert_eq!(
            instance_substitute(azure, "Standard_D4s_v6", "polandcentral").as_deref(),
            Some("Standard_D4s_v5")
        );
        assert_eq!(
            instance_substitute(azure, "Standard_D8as_v6", "italynorth").as_deref(),
            Some("Standard_D8as_v5")
        );
        assert_eq!(
            instance_substitute(azure, "Standard_D4ps_v6", "polandcentral").as_deref(),
            Some("Standard_D4ps_v5")
        );
        assert_eq!(
            instance_offered(azure, "Standard_D4ps_v6", "westus"),
            Some(false)
        );
        assert_eq!(
            instance_substitute(azure, "Standard_D4ps_v6", "westus"),
            None
        );
        assert_eq!(instance_offered(azure, "Standard_B2s", "westus"), None);
        assert_eq!(instance_offered(azure, "Standard_E8-4s_v5", "westus"), None);
        assert_eq!(
            instance_offered(azure, "Standard_E8s_v5", "westus"),
            Some(true)
        );
    }
}
