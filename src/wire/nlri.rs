//! Prefixes as they appear in the NLRI and withdrawn-routes fields (RFC 4271 §4.3, RFC 4760 §5),
//! with the optional ADD-PATH path identifier (RFC 7911 §3).
//!
//! ```text
//! +---------------------------+
//! | Path Identifier (4 octets) |   only when ADD-PATH receive/send is negotiated for the family
//! +---------------------------+
//! | Length (1 octet, in bits)  |
//! +---------------------------+
//! | Prefix (ceil(Length/8))    |   trailing bits beyond Length are ignored (and cleared on decode)
//! +---------------------------+
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::BufMut;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::family::{Afi, Family};
use super::reader::Reader;

/// One route key in an UPDATE: a prefix and, with ADD-PATH, its path identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nlri {
    /// ADD-PATH path identifier (RFC 7911 §3); `None` when ADD-PATH is not negotiated.
    pub path_id: Option<u32>,
    /// The prefix, with host bits cleared.
    pub prefix: IpNet,
}

impl Nlri {
    /// A prefix without a path identifier.
    pub fn new(prefix: IpNet) -> Nlri {
        Nlri {
            path_id: None,
            prefix: prefix.trunc(),
        }
    }

    /// A prefix with an ADD-PATH path identifier.
    pub fn with_path_id(prefix: IpNet, path_id: u32) -> Nlri {
        Nlri {
            path_id: Some(path_id),
            prefix: prefix.trunc(),
        }
    }

    /// The family this prefix belongs to when carried as unicast.
    pub fn unicast_family(&self) -> Family {
        match self.prefix {
            IpNet::V4(_) => Family::IPV4_UNICAST,
            IpNet::V6(_) => Family::IPV6_UNICAST,
        }
    }
}

impl From<IpNet> for Nlri {
    fn from(prefix: IpNet) -> Nlri {
        Nlri::new(prefix)
    }
}

/// Why a prefix list could not be parsed; the caller maps it to a NOTIFICATION.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NlriError {
    /// Offset of the faulty prefix in the message.
    pub offset: usize,
}

/// Decodes a run of prefixes of `family` filling the whole reader (RFC 4271 §4.3, RFC 4760 §5.1.3),
/// appending them to `out`. `add_path` says whether each is preceded by a 4-octet path identifier.
pub(crate) fn decode_prefixes(
    mut r: Reader<'_>,
    family: Family,
    add_path: bool,
    out: &mut Vec<Nlri>,
) -> Result<(), NlriError> {
    let v6 = family.afi == Afi::IPV6;
    // A size hint from the input's own length, so allocation stays bounded by what was received:
    // a typical IPv4 prefix takes 4 octets, an IPv6 one 7 to 9.
    let per = if v6 { 7 } else { 4 } + if add_path { 4 } else { 0 };
    if !r.is_empty() {
        out.reserve(r.remaining() / per + 1);
    }
    while !r.is_empty() {
        let offset = r.offset();
        let err = NlriError { offset };
        let path_id = if add_path {
            Some(r.u32().ok_or(err)?)
        } else {
            None
        };
        let len = r.u8().ok_or(err)?;
        let nbytes = usize::from(len).div_ceil(8);
        // Read a fixed-width window (it may include octets of the next prefix; the mask clears
        // them) instead of a variable-length copy: this loop is the decoder's hot path.
        let rest = r.rest();
        r.take(nbytes).ok_or(err)?;
        let prefix = if v6 {
            if len > 128 {
                return Err(err);
            }
            let bits = match rest.first_chunk::<16>() {
                Some(w) => u128::from_be_bytes(*w),
                None => {
                    let mut a = [0u8; 16];
                    a.iter_mut().zip(rest).for_each(|(d, s)| *d = *s);
                    u128::from_be_bytes(a)
                }
            };
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            IpNet::V6(Ipv6Net::new(Ipv6Addr::from(bits & mask), len).map_err(|_| err)?)
        } else {
            if len > 32 {
                return Err(err);
            }
            let bits = match rest.first_chunk::<4>() {
                Some(w) => u32::from_be_bytes(*w),
                None => {
                    let mut a = [0u8; 4];
                    a.iter_mut().zip(rest).for_each(|(d, s)| *d = *s);
                    u32::from_be_bytes(a)
                }
            };
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            IpNet::V4(Ipv4Net::new(Ipv4Addr::from(bits & mask), len).map_err(|_| err)?)
        };
        out.push(Nlri { path_id, prefix });
    }
    Ok(())
}

/// Encoded size of one prefix.
pub(crate) fn encoded_len(n: &Nlri, add_path: bool) -> usize {
    let plen = usize::from(n.prefix.prefix_len()).div_ceil(8);
    1 + plen + if add_path { 4 } else { 0 }
}

/// Encodes one prefix. With `add_path`, a missing path identifier is sent as 0.
pub(crate) fn encode_prefix(n: &Nlri, add_path: bool, out: &mut impl BufMut) {
    if add_path {
        out.put_u32(n.path_id.unwrap_or(0));
    }
    let len = n.prefix.prefix_len();
    let nbytes = usize::from(len).div_ceil(8);
    out.put_u8(len);
    match n.prefix {
        IpNet::V4(p) => out.put_slice(p.network().octets().get(..nbytes).unwrap_or(&[])),
        IpNet::V6(p) => out.put_slice(p.network().octets().get(..nbytes).unwrap_or(&[])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8], family: Family, add_path: bool) -> Result<Vec<Nlri>, NlriError> {
        let mut v = Vec::new();
        decode_prefixes(Reader::new(bytes, 0), family, add_path, &mut v).map(|_| v)
    }

    fn encode(v: &[Nlri], add_path: bool) -> Vec<u8> {
        let mut out = Vec::new();
        for n in v {
            encode_prefix(n, add_path, &mut out);
        }
        out
    }

    #[test]
    fn ipv4_prefixes_round_trip_rfc4271_4_3() {
        let bytes = [24, 198, 51, 100, 0, 32, 203, 0, 113, 7, 15, 198, 18];
        let v = decode(&bytes, Family::IPV4_UNICAST, false).unwrap();
        let want: Vec<Nlri> = [
            "198.51.100.0/24",
            "0.0.0.0/0",
            "203.0.113.7/32",
            "198.18.0.0/15",
        ]
        .iter()
        .map(|s| Nlri::new(s.parse().unwrap()))
        .collect();
        assert_eq!(v, want);
        assert_eq!(encode(&v, false), bytes);
    }

    #[test]
    fn ipv6_prefixes_with_path_ids_round_trip_rfc7911_3() {
        let bytes = [0, 0, 0, 7, 48, 0x20, 0x01, 0x0d, 0xb8, 0, 1];
        let v = decode(&bytes, Family::IPV6_UNICAST, true).unwrap();
        assert_eq!(
            v,
            vec![Nlri::with_path_id("2001:db8:1::/48".parse().unwrap(), 7)]
        );
        assert_eq!(encode(&v, true), bytes);
    }

    #[test]
    fn host_bits_beyond_the_length_are_cleared() {
        let v = decode(&[23, 198, 51, 101], Family::IPV4_UNICAST, false).unwrap();
        assert_eq!(v[0].prefix, "198.51.100.0/23".parse::<IpNet>().unwrap());
    }

    #[test]
    fn a_prefix_length_over_32_or_128_is_rejected_with_its_offset() {
        assert_eq!(
            decode(
                &[24, 1, 2, 3, 33, 1, 2, 3, 4, 5],
                Family::IPV4_UNICAST,
                false
            ),
            Err(NlriError { offset: 4 })
        );
        assert!(decode(&[129; 17], Family::IPV6_UNICAST, false).is_err());
    }

    #[test]
    fn a_truncated_prefix_is_rejected() {
        assert!(decode(&[24, 198, 51], Family::IPV4_UNICAST, false).is_err());
        assert!(decode(&[0, 0, 0], Family::IPV4_UNICAST, true).is_err());
    }
}
