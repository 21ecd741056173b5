//! UPDATE (RFC 4271 §4.3) with multiprotocol reachability (RFC 4760), IPv6 next hops
//! (RFC 2545 §3), ADD-PATH (RFC 7911), End-of-RIB (RFC 4724 §2) and RFC 7606 treat-as-withdraw.
//!
//! ```text
//! +-----------------------------------------------------+
//! |   Withdrawn Routes Length (2 octets)                |
//! +-----------------------------------------------------+
//! |   Withdrawn Routes (variable, IPv4 unicast)         |
//! +-----------------------------------------------------+
//! |   Total Path Attribute Length (2 octets)            |
//! +-----------------------------------------------------+
//! |   Path Attributes (variable)                        |
//! +-----------------------------------------------------+
//! |   Network Layer Reachability Information (IPv4)     |
//! +-----------------------------------------------------+
//!
//! MP_REACH_NLRI value (RFC 4760 §3):          MP_UNREACH_NLRI value (RFC 4760 §4):
//! +---------------------------------------+   +---------------------------------------+
//! | AFI (2) | SAFI (1)                    |   | AFI (2) | SAFI (1)                    |
//! | Length of Next Hop (1)                |   | Withdrawn Routes (variable)           |
//! | Next Hop (4; 16 or 32 for IPv6)       |   +---------------------------------------+
//! | Reserved (1)                          |
//! | NLRI (variable)                       |
//! +---------------------------------------+
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::{BufMut, BytesMut};

use super::attr::{self, AttrFault, PathAttributes, Rfc7606Action};
use super::error::{DecodeError, DecodeErrorKind, EncodeError};
use super::family::{Afi, Family};
use super::nlri::{self, Nlri};
use super::reader::Reader;
use super::Ctx;

/// Next hop carried in MP_REACH_NLRI (RFC 4760 §3, RFC 2545 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NextHop {
    /// An IPv4 next hop (4 octets).
    V4(Ipv4Addr),
    /// An IPv6 global next hop, optionally followed by a link-local one (16 or 32 octets).
    V6 {
        /// Global unicast address.
        global: Ipv6Addr,
        /// Link-local address, when the peer is on a shared link (RFC 2545 §3).
        link_local: Option<Ipv6Addr>,
    },
}

impl NextHop {
    /// The address to forward to: the global one for IPv6.
    pub fn addr(&self) -> IpAddr {
        match *self {
            NextHop::V4(a) => IpAddr::V4(a),
            NextHop::V6 { global, .. } => IpAddr::V6(global),
        }
    }

    fn len(&self) -> usize {
        match self {
            NextHop::V4(_) => 4,
            NextHop::V6 {
                link_local: None, ..
            } => 16,
            NextHop::V6 {
                link_local: Some(_),
                ..
            } => 32,
        }
    }
}

impl From<IpAddr> for NextHop {
    fn from(a: IpAddr) -> NextHop {
        match a {
            IpAddr::V4(a) => NextHop::V4(a),
            IpAddr::V6(global) => NextHop::V6 {
                global,
                link_local: None,
            },
        }
    }
}

/// MP_REACH_NLRI: reachable prefixes of one family with their next hop (RFC 4760 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpReach {
    /// AFI/SAFI of the prefixes.
    pub family: Family,
    /// Next hop for all of them.
    pub next_hop: NextHop,
    /// The prefixes.
    pub nlri: Vec<Nlri>,
}

/// MP_UNREACH_NLRI: withdrawn prefixes of one family (RFC 4760 §4). Empty `nlri` with nothing
/// else in the UPDATE is that family's End-of-RIB marker (RFC 4724 §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpUnreach {
    /// AFI/SAFI of the prefixes.
    pub family: Family,
    /// The prefixes.
    pub nlri: Vec<Nlri>,
}

/// An UPDATE message (RFC 4271 §4.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    /// IPv4 unicast prefixes in the Withdrawn Routes field.
    pub withdrawn: Vec<Nlri>,
    /// Path attributes, for `nlri` and `mp_reach`.
    pub attrs: PathAttributes,
    /// MP_REACH_NLRI.
    pub mp_reach: Option<MpReach>,
    /// MP_UNREACH_NLRI.
    pub mp_unreach: Option<MpUnreach>,
    /// IPv4 unicast prefixes in the NLRI field.
    pub nlri: Vec<Nlri>,
}

impl Update {
    /// The End-of-RIB marker for `family` (RFC 4724 §2): an empty UPDATE for IPv4 unicast, an
    /// UPDATE with only an empty MP_UNREACH_NLRI otherwise.
    pub fn end_of_rib(family: Family) -> Update {
        if family == Family::IPV4_UNICAST {
            Update::default()
        } else {
            Update {
                mp_unreach: Some(MpUnreach {
                    family,
                    nlri: Vec::new(),
                }),
                ..Update::default()
            }
        }
    }

    /// The family whose End-of-RIB this is, if it is one (RFC 4724 §2).
    pub fn as_end_of_rib(&self) -> Option<Family> {
        let bare = self.withdrawn.is_empty()
            && self.nlri.is_empty()
            && self.mp_reach.is_none()
            && self.attrs == PathAttributes::default();
        match &self.mp_unreach {
            _ if !bare => None,
            None => Some(Family::IPV4_UNICAST),
            Some(u) if u.nlri.is_empty() => Some(u.family),
            Some(_) => None,
        }
    }

    /// Every withdrawn prefix with its family, from both the Withdrawn Routes field and
    /// MP_UNREACH_NLRI.
    pub fn withdrawals(&self) -> impl Iterator<Item = (Family, &Nlri)> {
        let v4 = self.withdrawn.iter().map(|n| (Family::IPV4_UNICAST, n));
        let mp = self
            .mp_unreach
            .iter()
            .flat_map(|u| u.nlri.iter().map(move |n| (u.family, n)));
        v4.chain(mp)
    }

    /// Every announced prefix with its family and next hop, from both the NLRI field (next hop
    /// from NEXT_HOP) and MP_REACH_NLRI.
    pub fn announcements(&self) -> impl Iterator<Item = (Family, &Nlri, Option<NextHop>)> {
        self.announced_lists()
            .flat_map(|(family, list, nh)| list.iter().map(move |n| (family, n, nh)))
    }

    /// The announced NLRI as [`Update::announcements`] yields them, one list per next hop: the
    /// NLRI field with NEXT_HOP (RFC 4271 §4.3), then MP_REACH_NLRI's (RFC 4760 §3). For callers
    /// that do per-next-hop work once per list rather than once per prefix.
    pub fn announced_lists(&self) -> impl Iterator<Item = (Family, &[Nlri], Option<NextHop>)> {
        let v4 = (
            Family::IPV4_UNICAST,
            self.nlri.as_slice(),
            self.attrs.next_hop.map(NextHop::V4),
        );
        std::iter::once(v4).chain(
            self.mp_reach
                .iter()
                .map(|m| (m.family, m.nlri.as_slice(), Some(m.next_hop))),
        )
    }

    /// Turns the UPDATE into a withdrawal of everything it announced (RFC 7606 §2
    /// treat-as-withdraw). Returns `false` when MP_REACH_NLRI and MP_UNREACH_NLRI carry
    /// different families that cannot share one withdrawal, which the caller resets over.
    fn treat_as_withdraw(&mut self) -> bool {
        self.withdrawn.append(&mut self.nlri);
        self.attrs = PathAttributes::default();
        if let Some(reach) = self.mp_reach.take() {
            match &mut self.mp_unreach {
                None => {
                    self.mp_unreach = Some(MpUnreach {
                        family: reach.family,
                        nlri: reach.nlri,
                    })
                }
                Some(u) if u.family == reach.family => u.nlri.extend(reach.nlri),
                Some(_) if reach.family == Family::IPV4_UNICAST => {
                    self.withdrawn.extend(reach.nlri)
                }
                Some(_) => return false,
            }
        }
        true
    }
}

/// Decodes an UPDATE body (everything after the header), applying RFC 7606.
pub(crate) fn decode_body(
    body: &[u8],
    base: usize,
    ctx: &Ctx,
) -> Result<(Update, Vec<AttrFault>), DecodeError> {
    let mut r = Reader::new(body, base);
    let malformed =
        |r: &Reader<'_>| DecodeError::new(r.offset(), DecodeErrorKind::MalformedAttributeList);
    // RFC 4271 §6.3: the two length fields must fit the message.
    let wlen = r.u16().ok_or_else(|| malformed(&r))?;
    let withdrawn_r = r.sub(usize::from(wlen)).ok_or_else(|| malformed(&r))?;
    let alen = r.u16().ok_or_else(|| malformed(&r))?;
    let attrs_r = r.sub(usize::from(alen)).ok_or_else(|| malformed(&r))?;
    let nlri_r = Reader::new(r.rest(), r.offset());

    let add_path = ctx.add_path_rx(Family::IPV4_UNICAST);
    let invalid =
        |e: nlri::NlriError| DecodeError::new(e.offset, DecodeErrorKind::InvalidNetworkField);
    let mut u = Update::default();
    nlri::decode_prefixes(
        withdrawn_r,
        Family::IPV4_UNICAST,
        add_path,
        &mut u.withdrawn,
    )
    .map_err(invalid)?;
    nlri::decode_prefixes(nlri_r, Family::IPV4_UNICAST, add_path, &mut u.nlri).map_err(invalid)?;

    let d = attr::decode_attributes(attrs_r, ctx, !u.nlri.is_empty())?;
    u.attrs = d.attrs;
    u.mp_reach = d.mp_reach;
    u.mp_unreach = d.mp_unreach;
    let faults = d.faults;
    if let Some(f) = faults
        .iter()
        .find(|f| f.action == Rfc7606Action::TreatAsWithdraw)
    {
        // RFC 7606 §5.2: nothing reachable to withdraw means the error cannot be contained.
        let reach = !u.nlri.is_empty() || u.mp_reach.as_ref().is_some_and(|m| !m.nlri.is_empty());
        if !reach || !u.treat_as_withdraw() {
            return Err(DecodeError::new(
                f.offset,
                DecodeErrorKind::MalformedAttributeWithoutNlri(f.type_code),
            ));
        }
    }
    Ok((u, faults))
}

/// Encodes an UPDATE body.
pub(crate) fn encode_body(u: &Update, ctx: &Ctx, out: &mut BytesMut) -> Result<(), EncodeError> {
    let add_path = ctx.add_path_tx(Family::IPV4_UNICAST);
    let wlen: usize = u
        .withdrawn
        .iter()
        .map(|n| nlri::encoded_len(n, add_path))
        .sum();
    out.put_u16(u16::try_from(wlen).map_err(|_| EncodeError::TooLong {
        len: wlen,
        max: 0xffff,
    })?);
    for n in &u.withdrawn {
        nlri::encode_prefix(n, add_path, out);
    }
    let at = out.len();
    out.put_u16(0);
    attr::encode_attributes(
        &u.attrs,
        u.mp_reach.as_ref(),
        u.mp_unreach.as_ref(),
        ctx,
        out,
    )?;
    let alen = out.len() - at - 2;
    let alen16 = u16::try_from(alen).map_err(|_| EncodeError::TooLong {
        len: alen,
        max: 0xffff,
    })?;
    if let Some(l) = out.get_mut(at..at + 2) {
        l.copy_from_slice(&alen16.to_be_bytes());
    }
    for n in &u.nlri {
        nlri::encode_prefix(n, add_path, out);
    }
    Ok(())
}

fn mp_error(r: &Reader<'_>, t: u8, value: &[u8]) -> DecodeError {
    DecodeError::with_data(
        r.offset(),
        DecodeErrorKind::MalformedMpAttribute(t),
        value.to_vec(),
    )
}

/// Decodes an MP_REACH_NLRI value. `Ok(None)` for a family whose NLRI wren does not parse; an
/// inconsistent next-hop length or malformed NLRI resets the session (RFC 7606 §7.11).
pub(crate) fn decode_mp_reach(
    mut r: Reader<'_>,
    ctx: &Ctx,
) -> Result<Option<MpReach>, DecodeError> {
    let value = r.rest();
    let err = |r: &Reader<'_>| mp_error(r, attr::attr_type::MP_REACH_NLRI, value);
    let afi = r.u16().ok_or_else(|| err(&r))?;
    let safi = r.u8().ok_or_else(|| err(&r))?;
    let family = Family::new(afi, safi);
    if !family.is_ip_prefix() {
        return Ok(None);
    }
    let nh_len = r.u8().ok_or_else(|| err(&r))?;
    let mut nh = r.sub(usize::from(nh_len)).ok_or_else(|| err(&r))?;
    let v6 = |nh: &mut Reader<'_>| nh.array::<16>().map(Ipv6Addr::from);
    let next_hop = match (family.afi, nh_len) {
        (Afi::IPV4, 4) => nh.array::<4>().map(|a| NextHop::V4(Ipv4Addr::from(a))),
        // IPv6 next hops, also for IPv4 NLRI (RFC 8950).
        (_, 16) => v6(&mut nh).map(|global| NextHop::V6 {
            global,
            link_local: None,
        }),
        (_, 32) => v6(&mut nh)
            .zip(v6(&mut nh))
            .map(|(global, ll)| NextHop::V6 {
                global,
                link_local: Some(ll),
            }),
        _ => None,
    }
    .ok_or_else(|| err(&nh))?;
    // Reserved octet (formerly the SNPA count): ignored on receipt (RFC 4760 §3).
    r.u8().ok_or_else(|| err(&r))?;
    let mut nlri = Vec::new();
    nlri::decode_prefixes(r, family, ctx.add_path_rx(family), &mut nlri).map_err(|e| {
        DecodeError::with_data(
            e.offset,
            DecodeErrorKind::MalformedMpAttribute(14),
            value.to_vec(),
        )
    })?;
    Ok(Some(MpReach {
        family,
        next_hop,
        nlri,
    }))
}

/// Decodes an MP_UNREACH_NLRI value; `Ok(None)` for a family wren does not parse.
pub(crate) fn decode_mp_unreach(
    mut r: Reader<'_>,
    ctx: &Ctx,
) -> Result<Option<MpUnreach>, DecodeError> {
    let value = r.rest();
    let err = |r: &Reader<'_>| mp_error(r, attr::attr_type::MP_UNREACH_NLRI, value);
    let afi = r.u16().ok_or_else(|| err(&r))?;
    let safi = r.u8().ok_or_else(|| err(&r))?;
    let family = Family::new(afi, safi);
    if !family.is_ip_prefix() {
        return Ok(None);
    }
    let mut nlri = Vec::new();
    nlri::decode_prefixes(r, family, ctx.add_path_rx(family), &mut nlri).map_err(|e| {
        DecodeError::with_data(
            e.offset,
            DecodeErrorKind::MalformedMpAttribute(15),
            value.to_vec(),
        )
    })?;
    Ok(Some(MpUnreach { family, nlri }))
}

pub(crate) fn mp_reach_len(mp: &MpReach, ctx: &Ctx) -> usize {
    let ap = ctx.add_path_tx(mp.family);
    5 + mp.next_hop.len()
        + mp.nlri
            .iter()
            .map(|n| nlri::encoded_len(n, ap))
            .sum::<usize>()
}

pub(crate) fn encode_mp_reach(mp: &MpReach, ctx: &Ctx, out: &mut BytesMut) {
    out.put_u16(mp.family.afi.0);
    out.put_u8(mp.family.safi.0);
    out.put_u8(mp.next_hop.len() as u8);
    match mp.next_hop {
        NextHop::V4(a) => out.put_slice(&a.octets()),
        NextHop::V6 { global, link_local } => {
            out.put_slice(&global.octets());
            if let Some(ll) = link_local {
                out.put_slice(&ll.octets());
            }
        }
    }
    out.put_u8(0);
    let ap = ctx.add_path_tx(mp.family);
    for n in &mp.nlri {
        nlri::encode_prefix(n, ap, out);
    }
}

pub(crate) fn mp_unreach_len(mp: &MpUnreach, ctx: &Ctx) -> usize {
    let ap = ctx.add_path_tx(mp.family);
    3 + mp
        .nlri
        .iter()
        .map(|n| nlri::encoded_len(n, ap))
        .sum::<usize>()
}

pub(crate) fn encode_mp_unreach(mp: &MpUnreach, ctx: &Ctx, out: &mut BytesMut) {
    out.put_u16(mp.family.afi.0);
    out.put_u8(mp.family.safi.0);
    let ap = ctx.add_path_tx(mp.family);
    for n in &mp.nlri {
        nlri::encode_prefix(n, ap, out);
    }
}
