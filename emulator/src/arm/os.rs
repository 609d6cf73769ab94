//! AKS node operating systems: which OS SKU a pool runs, the Kubernetes minors each SKU is
//! offered on, what may change in place, and the node image a pool boots.
//!
//! Rules, as AKS documents them (2026): Windows SKUs are for user pools only and cap pool
//! names at 6 characters (swagger `OSSKU`, "Use system node pools" limitations); Windows Server
//! 2019 runs up to Kubernetes 1.32 and Windows Server 2022 up to 1.36 (AKS Windows FAQ; the AKS
//! release notes of 2026-06-19 moved the 2022 limit from 1.34 to 1.36), and clusters holding such pools cannot move their
//! control plane past that; `AzureLinux` is Azure Linux 2.0 up to 1.31 and 3.0 from 1.32, and
//! the 2.0 images were removed on 2026-03-31 (Azure Linux support lifecycle); `Ubuntu` is 22.04
//! up to 1.34 and 24.04 from 1.35 ("Upgrade the OS version" in the AKS docs). Linux SKUs
//! migrate in place (OS SKU migration); the OS type and Windows SKUs never do. This module
//! holds no state and never decides how errors are reported beyond building them.

use super::ArmError;
use crate::util::hash_str;

/// The day AKS removed the Azure Linux 2.0 node images.
const AZURE_LINUX_2_REMOVED: &str = "2026-03-31";

/// A pool's OS type and SKU, with AKS's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PoolOs {
    /// `Linux` or `Windows`.
    pub os_type: String,
    /// The OS SKU (`Ubuntu`, `AzureLinux`, `Windows2022`, …).
    pub sku: String,
}

impl PoolOs {
    /// The OS of a pool from its `osType` and `osSKU`: the type follows a Windows SKU when it is
    /// missing; the SKU defaults to `Ubuntu` on Linux and `Windows2022` on Windows.
    pub fn of(os_type: Option<&str>, sku: Option<&str>) -> Self {
        let sku_windows = sku.is_some_and(is_windows_sku);
        let os_type = match os_type {
            Some(t) if t.eq_ignore_ascii_case("windows") => "Windows",
            Some(_) => "Linux",
            None if sku_windows => "Windows",
            None => "Linux",
        };
        let sku = match sku {
            Some(s) => s.to_owned(),
            None if os_type == "Windows" => "Windows2022".to_owned(),
            None => "Ubuntu".to_owned(),
        };
        Self {
            os_type: os_type.to_owned(),
            sku,
        }
    }

    /// Whether the pool runs Windows.
    pub fn windows(&self) -> bool {
        self.os_type == "Windows"
    }

    /// The newest minor AKS offers this SKU on, when it has a last one.
    pub fn last_minor(&self) -> Option<u32> {
        match self.sku.to_ascii_lowercase().as_str() {
            "windows2019" => Some(32),
            "windows2022" => Some(36),
            _ => None,
        }
    }

    /// Whether the SKU runs Kubernetes `1.minor`.
    pub fn runs(&self, minor: u32) -> bool {
        self.last_minor().is_none_or(|last| minor <= last)
    }
}

fn is_windows_sku(sku: &str) -> bool {
    sku.to_ascii_lowercase().starts_with("windows")
}

fn bad_sku(message: String) -> ArmError {
    ArmError::bad("InvalidOSSKU", message).target("osSKU")
}

/// What AKS refuses for a pool's OS: a SKU of the other OS type, a Windows system pool or
/// long Windows name, a SKU not offered on the pool's minor, and removed Azure Linux 2.0
/// images when the pool needs new nodes (`provisions`).
pub(crate) fn check(
    name: &str,
    os: &PoolOs,
    minor: u32,
    system: bool,
    provisions: bool,
    today: &str,
) -> Result<(), ArmError> {
    if is_windows_sku(&os.sku) != os.windows() {
        return Err(bad_sku(format!(
            "OSSKU '{}' is not valid for OSType '{}'.",
            os.sku, os.os_type
        )));
    }
    if os.windows() && system {
        return Err(ArmError::bad(
            "InvalidParameter",
            format!(
                "Agent pool {name} uses OSSKU '{}', which is unsupported for system node pools. System node pools must run Linux.",
                os.sku
            ),
        )
        .target("mode"));
    }
    if os.windows() && name.len() > 6 {
        return Err(ArmError::bad(
            "InvalidParameter",
            format!(
                "The value of parameter agentPoolProfile.name is invalid: '{name}'. Windows agent pool names must have max length of 6."
            ),
        )
        .target("agentPoolProfile.name"));
    }
    if let Some(last) = os.last_minor()
        && minor > last
    {
        return Err(bad_sku(format!(
            "OSSKU '{}' is not supported on Kubernetes version 1.{minor}: its node images are available up to Kubernetes 1.{last}. Please re-create your Windows node pool with a supported OS SKU.",
            os.sku
        )));
    }
    let azure_linux_2 = matches!(
        os.sku.to_ascii_lowercase().as_str(),
        "azurelinux" | "cblmariner"
    ) && minor <= 31;
    if azure_linux_2 && provisions && today >= AZURE_LINUX_2_REMOVED {
        return Err(bad_sku(format!(
            "Azure Linux 2.0 node images were removed on {AZURE_LINUX_2_REMOVED}; agent pool {name} cannot get new nodes at Kubernetes 1.{minor}. Upgrade the node pool to Kubernetes 1.32 or later, or migrate it to OSSKU 'AzureLinux3'."
        )));
    }
    Ok(())
}

/// Refuses to move a control plane to `1.minor` while pool `name` runs a SKU that stops before
/// it (AKS blocks such upgrades until the pool is re-created with a supported SKU).
pub(crate) fn check_control_plane(name: &str, os: &PoolOs, minor: u32) -> Result<(), ArmError> {
    match os.last_minor() {
        Some(last) if minor > last => Err(bad_sku(format!(
            "Upgrading the control plane to Kubernetes 1.{minor} is not allowed: agent pool {name} uses OSSKU '{}', whose node images are available up to Kubernetes 1.{last}. Please re-create your Windows node pool with a supported OS SKU.",
            os.sku
        ))),
        _ => Ok(()),
    }
}

/// What AKS refuses to change in place: the OS type, and any Windows SKU change.
pub(crate) fn check_change(old: &PoolOs, new: &PoolOs) -> Result<(), ArmError> {
    let refused = |property: &str| {
        ArmError::bad(
            "PropertyChangeNotAllowed",
            format!("Changing property '{property}' is not allowed."),
        )
        .target(property)
    };
    if old.os_type != new.os_type {
        return Err(refused("osType"));
    }
    if old.windows() && !old.sku.eq_ignore_ascii_case(&new.sku) {
        return Err(refused("osSKU"));
    }
    Ok(())
}

/// The node image a pool of `os` boots at Kubernetes `1.minor`.
pub(crate) fn node_image(os: &PoolOs, minor: u32, seed: u64) -> String {
    let n = hash_str(seed, &format!("{}/{minor}", os.sku)) % 28 + 1;
    match os.sku.to_ascii_lowercase().as_str() {
        "windows2019" => format!("AKSWindows-2019-containerd-17763.{}.260714", 7000 + n),
        "windows2022" => format!("AKSWindows-2022-containerd-20348.{}.260714", 3800 + n),
        "windows2025" => format!("AKSWindows-2025-26100.{}.260714", 4000 + n),
        // Frozen at its last release.
        "azurelinux" | "cblmariner" if minor <= 31 => "AKSAzureLinux-V2gen2-202512.06.0".to_owned(),
        "azurelinux" | "cblmariner" | "azurelinux3" => {
            format!("AKSAzureLinux-V3gen2-202607.{n:02}.0")
        }
        "azurecontainerlinux" => format!("AKSAzureContainerLinux-gen2-202607.{n:02}.0"),
        "ubuntu2204" => format!("AKSUbuntu-2204gen2containerd-202607.{n:02}.0"),
        "ubuntu2404" => format!("AKSUbuntu-2404gen2containerd-202607.{n:02}.0"),
        _ if minor >= 35 => format!("AKSUbuntu-2404gen2containerd-202607.{n:02}.0"),
        _ => format!("AKSUbuntu-2204gen2containerd-202607.{n:02}.0"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_os_type() {
        assert_eq!(PoolOs::of(None, None).sku, "Ubuntu");
        assert_eq!(PoolOs::of(Some("Windows"), None).sku, "Windows2022");
        assert_eq!(PoolOs::of(None, Some("Windows2019")).os_type, "Windows");
    }

    #[test]
    fn windows_skus_end_at_their_last_minor() {
        let ws2019 = PoolOs::of(Some("Windows"), Some("Windows2019"));
        assert!(check("win", &ws2019, 32, false, true, "2026-08-01").is_ok());
        let e = check("win", &ws2019, 33, false, true, "2026-08-01").unwrap_err();
        assert_eq!(e.code, "InvalidOSSKU");
        let ws2022 = PoolOs::of(Some("Windows"), Some("Windows2022"));
        assert!(check("win", &ws2022, 36, false, true, "2026-08-01").is_ok());
        assert!(check("win", &ws2022, 37, false, true, "2026-08-01").is_err());
        assert!(check("win", &ws2022, 34, true, true, "2026-08-01").is_err());
        assert!(check("windows1", &ws2022, 34, false, true, "2026-08-01").is_err());
        let mismatch = PoolOs::of(Some("Linux"), Some("Windows2022"));
        assert!(check("p", &mismatch, 34, false, true, "2026-08-01").is_err());
    }

    #[test]
    fn azure_linux_2_has_no_images_after_its_removal() {
        let al = PoolOs::of(Some("Linux"), Some("AzureLinux"));
        assert!(check("p", &al, 31, false, true, "2026-03-30").is_ok());
        assert!(check("p", &al, 31, false, true, "2026-04-01").is_err());
        assert!(check("p", &al, 31, false, false, "2026-04-01").is_ok());
        assert!(check("p", &al, 32, false, true, "2026-04-01").is_ok());
    }

    #[test]
    fn linux_skus_migrate_in_place_and_windows_ones_do_not() {
        let ubuntu = PoolOs::of(Some("Linux"), Some("Ubuntu"));
        let al = PoolOs::of(Some("Linux"), Some("AzureLinux"));
        let ws2019 = PoolOs::of(Some("Windows"), Some("Windows2019"));
        let ws2022 = PoolOs::of(Some("Windows"), Some("Windows2022"));
        assert!(check_change(&ubuntu, &al).is_ok());
        assert!(check_change(&ubuntu, &ws2022).is_err());
        assert!(check_change(&ws2019, &ws2022).is_err());
    }

    #[test]
    fn node_images_follow_sku_and_minor() {
        let img = |sku: &str, minor| node_image(&PoolOs::of(None, Some(sku)), minor, 1);
        assert!(img("Ubuntu", 34).starts_with("AKSUbuntu-2204gen2containerd-202607."));
        assert!(img("Ubuntu", 35).starts_with("AKSUbuntu-2404gen2containerd-202607."));
        assert_eq!(img("AzureLinux", 31), "AKSAzureLinux-V2gen2-202512.06.0");
        assert!(img("AzureLinux", 32).starts_with("AKSAzureLinux-V3gen2-"));
        assert!(img("Windows2019", 32).starts_with("AKSWindows-2019-containerd-17763."));
        assert!(img("Windows2022", 34).starts_with("AKSWindows-2022-containerd-20348."));
    }
}
