//! Resource addresses (`cluster/kind/name`) and kinds (`aws.subnet`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A resource kind, namespaced by provider: `aws.vpc`, `azure.managed_cluster`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Kind(pub String);

impl Kind {
    /// Builds a kind from its full name, e.g. `aws.subnet`.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The provider prefix: `aws` for `aws.subnet`.
    pub fn provider(&self) -> &str {
        self.0.split('.').next().unwrap_or(&self.0)
    }

    /// The full kind name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The stable identity of a resource in a fleet: `cluster/kind/name`,
/// e.g. `prod-use1/aws.subnet/private-a`. Addresses never contain cloud ids.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    /// The blueprint cluster the resource belongs to.
    pub cluster: String,
    /// The resource kind.
    pub kind: Kind,
    /// The name of the resource within its cluster and kind.
    pub name: String,
}

impl Address {
    /// Builds an address from its three parts.
    pub fn new(
        cluster: impl Into<String>,
        kind: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        Self {
            cluster: cluster.into(),
            kind: Kind(kind.into()),
            name: name.into(),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.cluster, self.kind, self.name)
    }
}

/// An address string that is not `cluster/kind/name`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a resource address; expected `cluster/kind/name`")]
pub struct AddressParseError(pub String);

impl FromStr for Address {
    type Err = AddressParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.splitn(3, '/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(c), Some(k), Some(n)) if !c.is_empty() && !k.is_empty() && !n.is_empty() => {
                Ok(Self::new(c, k, n))
            }
            _ => Err(AddressParseError(s.to_owned())),
        }
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_round_trips_through_its_string_form() {
        let a = Address::new("prod-use1", "aws.subnet", "private-a");
        assert_eq!(a.to_string(), "prod-use1/aws.subnet/private-a");
        assert_eq!(a.to_string().parse::<Address>().unwrap(), a);
        assert_eq!(a.kind.provider(), "aws");
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        assert!("prod/aws.vpc".parse::<Address>().is_err());
        assert!("//".parse::<Address>().is_err());
    }
}
