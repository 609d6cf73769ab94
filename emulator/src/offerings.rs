//! Which EC2 instance types and Azure VM sizes each region offers, so node groups and agent
//! pools asking for a size their region lacks are refused as the clouds refuse them, and
//! `DescribeInstanceTypeOfferings` has something true to answer.
//!
//! The emulator's own table of the facts Slipway's catalogue also encodes (never shared code):
//! families not listed are offered everywhere. This module must never touch cloud state.

/// Where a family or series is offered.
#[derive(Debug, Clone, Copy)]
enum Offered {
    /// Only in these regions.
    Only(&'static [&'static str]),
    /// Everywhere except these regions.
    Except(&'static [&'static str]),
}

impl Offered {
    fn contains(self, region: &str) -> bool {
        match self {
            Offered::Only(list) => list.contains(&region),
            Offered::Except(list) => !list.contains(&region),
        }
    }
}

/// Graviton4 regions.
const GRAVITON4: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-central-1",
    "eu-west-1",
    "eu-north-1",
    "ap-northeast-1",
    "ap-south-1",
    "ap-southeast-2",
];

/// Regions without the 7th-generation families.
const NO_GEN7: &[&str] = &["af-south-1", "me-south-1"];

/// AWS families with a regional footprint.
const AWS_FAMILIES: &[(&str, Offered)] = &[
    ("m8g", Offered::Only(GRAVITON4)),
    ("c8g", Offered::Only(GRAVITON4)),
    ("r8g", Offered::Only(GRAVITON4)),
    ("m7i", Offered::Except(NO_GEN7)),
    ("c7i", Offered::Except(NO_GEN7)),
    ("r7i", Offered::Except(NO_GEN7)),
    ("m7g", Offered::Except(NO_GEN7)),
    ("c7g", Offered::Except(NO_GEN7)),
    ("r7g", Offered::Except(NO_GEN7)),
];

/// Families `DescribeInstanceTypeOfferings` lists (with [`SIZES`]), besides `t3`.
const LISTED_FAMILIES: &[&str] = &[
    "m5", "c5", "r5", "m6i", "c6i", "r6i", "m6g", "c6g", "r6g", "m7i", "c7i", "r7i", "m7g", "c7g",
    "r7g", "m8g", "c8g", "r8g",
];

/// Sizes of the listed general, compute and memory families.
const SIZES: &[&str] = &[
    "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge",
];

/// Burstable sizes listed.
const T3_SIZES: &[&str] = &["micro", "small", "medium", "large", "xlarge", "2xlarge"];

/// Locations of the v6 series.
const V6_LOCATIONS: &[&str] = &[
    "eastus",
    "eastus2",
    "centralus",
    "westus2",
    "westus3",
    "canadacentral",
    "northeurope",
    "westeurope",
    "uksouth",
    "francecentral",
    "germanywestcentral",
    "swedencentral",
    "japaneast",
    "australiaeast",
    "southeastasia",
    "centralindia",
];

/// Locations without availability zones, which lack `Dpsv5`.
const NON_ZONAL: &[&str] = &[
    "westus",
    "northcentralus",
    "westcentralus",
    "canadaeast",
    "ukwest",
    "australiasoutheast",
    "southindia",
];

/// Azure series (lower case, e.g. `dsv6`) with a regional footprint.
const AZURE_SERIES: &[(&str, Offered)] = &[
    ("dsv6", Offered::Only(V6_LOCATIONS)),
    ("dasv6", Offered::Only(V6_LOCATIONS)),
    ("esv6", Offered::Only(V6_LOCATIONS)),
    ("dpsv6", Offered::Only(V6_LOCATIONS)),
    ("dpsv5", Offered::Except(NON_ZONAL)),
];

/// Whether `region` offers the EC2 instance type (`m8g.large`); unknown families are
/// offered everywhere.
pub(crate) fn aws_offered(instance_type: &str, region: &str) -> bool {
    let family = instance_type.split('.').next().unwrap_or(instance_type);
    AWS_FAMILIES
        .iter()
        .find(|(f, _)| f.eq_ignore_ascii_case(family))
        .is_none_or(|(_, o)| o.contains(region))
}

/// Every instance type the emulator lists, sorted.
pub(crate) fn aws_instance_types() -> Vec<String> {
    let mut out: Vec<String> = LISTED_FAMILIES
        .iter()
        .flat_map(|f| SIZES.iter().map(move |s| format!("{f}.{s}")))
        .chain(T3_SIZES.iter().map(|s| format!("t3.{s}")))
        .collect();
    out.sort();
    out
}

/// The series of a VM size, lower case: `Standard_D4as_v6` → `dasv6`.
fn azure_series(vm_size: &str) -> Option<String> {
    let lower = vm_size.to_ascii_lowercase();
    let rest = lower.strip_prefix("standard_")?;
    let (head, generation) = rest.split_once("_v")?;
    let family: String = head.chars().take_while(char::is_ascii_alphabetic).collect();
    let suffix: String = head
        .chars()
        .skip(family.len())
        .skip_while(|c| c.is_ascii_digit() || *c == '-')
        .collect();
    Some(format!("{family}{suffix}v{generation}"))
}

/// Whether the Azure `location` offers the VM size; unknown series are offered everywhere.
pub(crate) fn azure_offered(vm_size: &str, location: &str) -> bool {
    let location = location.to_ascii_lowercase().replace(' ', "");
    let Some(series) = azure_series(vm_size) else {
        return true;
    };
    AZURE_SERIES
        .iter()
        .find(|(s, _)| *s == series)
        .is_none_or(|(_, o)| o.contains(&location))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_families_follow_their_footprint() {
        assert!(aws_offered("m8g.large", "eu-west-1"));
        assert!(!aws_offered("m8g.large", "eu-west-2"));
        assert!(aws_offered("m7i.xlarge", "eu-west-2"));
        assert!(!aws_offered("c7g.xlarge", "af-south-1"));
        assert!(aws_offered("m5.large", "af-south-1"));
        assert!(
            aws_offered("x9z.large", "af-south-1"),
            "unknown families are everywhere"
        );
        let all = aws_instance_types();
        assert!(all.contains(&"t3.medium".to_owned()) && all.contains(&"r8g.16xlarge".to_owned()));
        assert!(all.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn azure_series_follow_their_footprint() {
        assert_eq!(azure_series("Standard_D4as_v6").as_deref(), Some("dasv6"));
        assert_eq!(azure_series("Standard_E32-8s_v6").as_deref(), Some("esv6"));
        assert!(azure_offered("Standard_D4s_v6", "westeurope"));
        assert!(!azure_offered("Standard_D4s_v6", "brazilsouth"));
        assert!(!azure_offered("Standard_D4ps_v6", "westus"));
        assert!(azure_offered("Standard_D4ps_v5", "brazilsouth"));
        assert!(!azure_offered("Standard_D4ps_v5", "West US"));
        assert!(azure_offered("Standard_D4s_v5", "westus"));
        assert!(
            azure_offered("Standard_B2ms", "westus"),
            "no generation: unknown series"
        );
    }
}
