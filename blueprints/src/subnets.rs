//! Deterministic subnet derivation: the same network CIDR and zones always give the same subnets.
//!
//! AWS (zonal subnets): the CIDR is cut into `2^k` equal blocks, the smallest `k` with
//! `2^k >= zones + 1`. Blocks `0..zones` are the private subnets, one per zone, in zone order;
//! the last block is cut again into `2^j >= zones` blocks whose first `zones` are the public
//! subnets. A /16 with 3 zones gives private /18s and public /20s.
//!
//! Azure (regional subnets): the first half of the CIDR is the `nodes` subnet; the first
//! sixteenth of the second half is the `endpoints` subnet for private endpoints.

use ipnet::Ipv4Net;

use crate::model::{Cloud, Subnet, SubnetRole};

/// Smallest prefix length allowed for a node (private) subnet: at least 256 addresses.
pub const MAX_NODE_SUBNET_PREFIX: u8 = 24;
/// Smallest prefix length allowed for public and endpoint subnets (the clouds' own minimum).
pub const MAX_SMALL_SUBNET_PREFIX: u8 = 28;

/// Why subnets cannot be derived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubnetError {
    /// The network is too small for the requested layout.
    #[error(
        "`{cidr}` is too small for {zones} zone(s): {role} subnets would be /{prefix}, smaller than /{limit}"
    )]
    TooSmall {
        /// The network CIDR.
        cidr: Ipv4Net,
        /// Requested zones.
        zones: usize,
        /// The subnet role that does not fit.
        role: &'static str,
        /// Prefix the subnets would get.
        prefix: u8,
        /// Largest allowed prefix.
        limit: u8,
    },
    /// No zones were given for a zonal layout.
    #[error("at least one zone is required")]
    NoZones,
}

/// Derives the subnets of a cluster network.
pub fn derive(cloud: Cloud, cidr: Ipv4Net, zones: &[String]) -> Result<Vec<Subnet>, SubnetError> {
    let cidr = cidr.trunc();
    match cloud {
        Cloud::Aws => derive_aws(cidr, zones),
        Cloud::Azure => derive_azure(cidr, zones.len()),
    }
}

fn bits_for(count: usize) -> u8 {
    // ceil(log2(count)), with count >= 1; at most 7 since zone counts are small.
    let mut bits = 0u8;
    while (1usize << bits) < count {
        bits += 1;
    }
    bits
}

fn split(
    cidr: Ipv4Net,
    extra_bits: u8,
    role: &'static str,
    zones: usize,
    limit: u8,
) -> Result<Vec<Ipv4Net>, SubnetError> {
    let prefix = cidr.prefix_len() + extra_bits;
    if prefix > limit {
        return Err(SubnetError::TooSmall {
            cidr,
            zones,
            role,
            prefix,
            limit,
        });
    }
    Ok(cidr
        .subnets(prefix)
        .map_err(|_| SubnetError::TooSmall {
            cidr,
            zones,
            role,
            prefix,
            limit,
        })?
        .collect())
}

fn zone_suffix(zone: &str, index: usize) -> String {
    // `us-east-1a` → `a`; fall back to the index for zones without a letter.
    match zone.chars().last() {
        Some(c) if c.is_ascii_lowercase() => c.to_string(),
        _ => (index + 1).to_string(),
    }
}

fn derive_aws(cidr: Ipv4Net, zones: &[String]) -> Result<Vec<Subnet>, SubnetError> {
    if zones.is_empty() {
        return Err(SubnetError::NoZones);
    }
    let n = zones.len();
    let blocks = split(cidr, bits_for(n + 1), "private", n, MAX_NODE_SUBNET_PREFIX)?;
    let public_block = *blocks
        .last()
        .expect("at least two blocks for one or more zones");
    let public = split(
        public_block,
        bits_for(n),
        "public",
        n,
        MAX_SMALL_SUBNET_PREFIX,
    )?;
    let mut subnets = Vec::with_capacity(2 * n);
    for (i, zone) in zones.iter().enumerate() {
        let suffix = zone_suffix(zone, i);
        subnets.push(Subnet {
            name: format!("private-{suffix}"),
            cidr: blocks[i],
            role: SubnetRole::Private,
            zone: Some(zone.clone()),
        });
        subnets.push(Subnet {
            name: format!("public-{suffix}"),
            cidr: public[i],
            role: SubnetRole::Public,
            zone: Some(zone.clone()),
        });
    }
    Ok(subnets)
}

fn derive_azure(cidr: Ipv4Net, zones: usize) -> Result<Vec<Subnet>, SubnetError> {
    let halves = split(cidr, 1, "nodes", zones, MAX_NODE_SUBNET_PREFIX)?;
    let endpoints = split(halves[1], 3, "endpoints", zones, MAX_SMALL_SUBNET_PREFIX)?;
    Ok(vec![
        Subnet {
            name: "nodes".into(),
            cidr: halves[0],
            role: SubnetRole::Private,
            zone: None,
        },
        Subnet {
            name: "endpoints".into(),
            cidr: endpoints[0],
            role: SubnetRole::Endpoints,
            zone: None,
        },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zones(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn aws_three_zones_in_a_slash_16() {
        let subnets = derive(
            Cloud::Aws,
            "10.10.0.0/16".parse().unwrap(),
            &zones(&["us-east-1a", "us-east-1b", "us-east-1c"]),
        )
        .unwrap();
        let got: Vec<String> = subnets
            .iter()
            .map(|s| format!("{} {}", s.name, s.cidr))
            .collect();
        assert_eq!(
            got,
            [
                "private-a 10.10.0.0/18",
                "public-a 10.10.192.0/20",
                "private-b 10.10.64.0/18",
                "public-b 10.10.208.0/20",
                "private-c 10.10.128.0/18",
                "public-c 10.10.224.0/20",
            ]
        );
    }

    #[test]
    fn subnets_are_disjoint_and_inside_the_network() {
        for n in 1..=6 {
            let zs: Vec<String> = (0..n)
                .map(|i| format!("r-1{}", (b'a' + i as u8) as char))
                .collect();
            let net: Ipv4Net = "10.0.0.0/16".parse().unwrap();
            let subnets = derive(Cloud::Aws, net, &zs).unwrap();
            assert_eq!(subnets.len(), 2 * n);
            for (i, a) in subnets.iter().enumerate() {
                assert!(net.contains(&a.cidr));
                for b in &subnets[i + 1..] {
                    assert!(
                        !a.cidr.contains(&b.cidr) && !b.cidr.contains(&a.cidr),
                        "{a:?} overlaps {b:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn too_small_networks_are_refused_with_the_offending_role() {
        let err = derive(
            Cloud::Aws,
            "10.0.0.0/23".parse().unwrap(),
            &zones(&["a", "b", "c"]),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                SubnetError::TooSmall {
                    role: "private",
                    prefix: 25,
                    ..
                }
            ),
            "{err}"
        );
        assert!(derive(Cloud::Azure, "10.0.0.0/24".parse().unwrap(), &zones(&["1"])).is_err());
        let azure = derive(
            Cloud::Azure,
            "10.30.0.0/16".parse().unwrap(),
            &zones(&["1", "2", "3"]),
        )
        .unwrap();
        assert_eq!(azure[0].cidr.to_string(), "10.30.0.0/17");
        assert_eq!(azure[1].cidr.to_string(), "10.30.128.0/20");
    }
}
