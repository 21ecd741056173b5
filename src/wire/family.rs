//! Address families: AFI and SAFI (RFC 4760 §3, IANA registries).

use std::fmt;

/// Address Family Identifier (RFC 4760 §3; IANA "Address Family Numbers").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Afi(pub u16);

impl Afi {
    /// IPv4 (AFI 1).
    pub const IPV4: Afi = Afi(1);
    /// IPv6 (AFI 2).
    pub const IPV6: Afi = Afi(2);
}

/// Subsequent Address Family Identifier (RFC 4760 §6; IANA "SAFI Values").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Safi(pub u8);

impl Safi {
    /// Unicast forwarding (SAFI 1).
    pub const UNICAST: Safi = Safi(1);
    /// Multicast forwarding (SAFI 2).
    pub const MULTICAST: Safi = Safi(2);
}

/// An AFI/SAFI pair: the unit that capabilities, ADD-PATH and End-of-RIB are negotiated per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Family {
    /// Address family.
    pub afi: Afi,
    /// Subsequent address family.
    pub safi: Safi,
}

impl Family {
    /// IPv4 unicast, the family of the plain UPDATE NLRI and withdrawn fields (RFC 4271 §4.3).
    pub const IPV4_UNICAST: Family = Family {
        afi: Afi::IPV4,
        safi: Safi::UNICAST,
    };
    /// IPv6 unicast, carried in MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760, RFC 2545).
    pub const IPV6_UNICAST: Family = Family {
        afi: Afi::IPV6,
        safi: Safi::UNICAST,
    };

    /// Builds a family from its raw numbers.
    pub const fn new(afi: u16, safi: u8) -> Family {
        Family {
            afi: Afi(afi),
            safi: Safi(safi),
        }
    }

    /// Whether wren can parse this family's NLRI: IPv4 or IPv6 with unicast or multicast SAFI, whose
    /// NLRI are plain prefixes (RFC 4760 §5).
    pub fn is_ip_prefix(self) -> bool {
        matches!(self.afi, Afi::IPV4 | Afi::IPV6)
            && matches!(self.safi, Safi::UNICAST | Safi::MULTICAST)
    }

    /// Maximum prefix length in bits for this family's NLRI.
    pub fn max_prefix_len(self) -> u8 {
        if self.afi == Afi::IPV6 {
            128
        } else {
            32
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Family::IPV4_UNICAST => f.write_str("ipv4-unicast"),
            Family::IPV6_UNICAST => f.write_str("ipv6-unicast"),
            Family {
                afi: Afi::IPV4,
                safi: Safi::MULTICAST,
            } => f.write_str("ipv4-multicast"),
            Family {
                afi: Afi::IPV6,
                safi: Safi::MULTICAST,
            } => f.write_str("ipv6-multicast"),
            Family { afi, safi } => write!(f, "afi{}-safi{}", afi.0, safi.0),
        }
    }
}
