//! ROUTE-REFRESH (RFC 2918 §3) and its Enhanced Route Refresh subtypes (RFC 7313 §3.2).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |              AFI              | Message Subtype |    SAFI     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The body is exactly these 4 octets. Message Subtype was a reserved octet in RFC 2918; RFC 7313
//! gives it 0 (normal request), 1 (BoRR) and 2 (EoRR). A message of another length is a
//! ROUTE-REFRESH Message Error / Invalid Message Length carrying the whole message (RFC 7313 §5).
//! Ignoring unknown subtypes and families that were not negotiated is the session's business.

use bytes::BufMut;

use super::error::{DecodeError, DecodeErrorKind};
use super::family::Family;
use super::reader::Reader;

/// Length of the ROUTE-REFRESH body: AFI (2), subtype (1), SAFI (1) (RFC 2918 §3).
const BODY_LEN: usize = 4;

/// A ROUTE-REFRESH message (RFC 2918 §3, RFC 7313 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteRefresh {
    /// The AFI/SAFI whose routes are asked for, or whose refresh begins or ends.
    pub family: Family,
    /// What kind of ROUTE-REFRESH this is.
    pub subtype: RouteRefreshSubtype,
}

/// The Message Subtype octet (RFC 7313 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteRefreshSubtype {
    /// 0: a request to re-advertise the Adj-RIB-Out (RFC 2918 §3, RFC 7313 §3.2).
    Normal,
    /// 1: Beginning of Route Refresh, BoRR (RFC 7313 §3.2).
    BeginningOfRouteRefresh,
    /// 2: End of Route Refresh, EoRR (RFC 7313 §3.2).
    EndOfRouteRefresh,
    /// 3 to 255: not defined; the receiver ignores the message (RFC 7313 §3.2). Holding 0, 1 or 2
    /// here encodes as the named subtype.
    Reserved(u8),
}

impl RouteRefreshSubtype {
    /// The subtype for a Message Subtype octet (RFC 7313 §3.2).
    pub fn from_u8(v: u8) -> RouteRefreshSubtype {
        match v {
            0 => RouteRefreshSubtype::Normal,
            1 => RouteRefreshSubtype::BeginningOfRouteRefresh,
            2 => RouteRefreshSubtype::EndOfRouteRefresh,
            other => RouteRefreshSubtype::Reserved(other),
        }
    }

    /// The Message Subtype octet (RFC 7313 §3.2).
    pub fn to_u8(self) -> u8 {
        match self {
            RouteRefreshSubtype::Normal => 0,
            RouteRefreshSubtype::BeginningOfRouteRefresh => 1,
            RouteRefreshSubtype::EndOfRouteRefresh => 2,
            RouteRefreshSubtype::Reserved(v) => v,
        }
    }
}

impl RouteRefresh {
    /// A normal request for `family`'s routes (RFC 2918 §3).
    pub fn new(family: Family) -> Self {
        RouteRefresh {
            family,
            subtype: RouteRefreshSubtype::Normal,
        }
    }

    /// Decodes the body of a ROUTE-REFRESH; `frame` is the whole message, header included, which
    /// becomes the NOTIFICATION data when the body is not exactly 4 octets (RFC 7313 §5).
    pub(crate) fn decode_body(body: &[u8], frame: &[u8]) -> Result<RouteRefresh, DecodeError> {
        let bad_len = || {
            DecodeError::with_data(
                16,
                DecodeErrorKind::BadRouteRefreshLength(
                    u16::try_from(frame.len()).unwrap_or(u16::MAX),
                ),
                frame.to_vec(),
            )
        };
        if body.len() != BODY_LEN {
            return Err(bad_len());
        }
        let mut r = Reader::new(body, frame.len().saturating_sub(body.len()));
        let afi = r.u16().ok_or_else(bad_len)?;
        let subtype = RouteRefreshSubtype::from_u8(r.u8().ok_or_else(bad_len)?);
        let safi = r.u8().ok_or_else(bad_len)?;
        Ok(RouteRefresh {
            family: Family::new(afi, safi),
            subtype,
        })
    }

    /// Encodes the 4-octet body (RFC 2918 §3, RFC 7313 §3.2).
    pub(crate) fn encode_body(&self, out: &mut impl BufMut) {
        out.put_u16(self.family.afi.0);
        out.put_u8(self.subtype.to_u8());
        out.put_u8(self.family.safi.0);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A whole ROUTE-REFRESH message around `body` (RFC 4271 §4.1 header, type 5).
    fn frame(body: &[u8]) -> Vec<u8> {
        let mut v = vec![0xff; 16];
        v.extend_from_slice(&(19 + body.len() as u16).to_be_bytes());
        v.push(5);
        v.extend_from_slice(body);
        v
    }

    fn both_ways(body: [u8; 4], want: RouteRefresh) {
        assert_eq!(
            RouteRefresh::decode_body(&body, &frame(&body)).unwrap(),
            want
        );
        let mut out = Vec::new();
        want.encode_body(&mut out);
        assert_eq!(out, body);
    }

    #[test]
    fn a_normal_request_for_ipv4_and_ipv6_unicast_rfc2918_3() {
        // AFI 1, subtype 0 (normal), SAFI 1
        both_ways([0, 1, 0, 1], RouteRefresh::new(Family::IPV4_UNICAST));
        // AFI 2, subtype 0 (normal), SAFI 1
        both_ways([0, 2, 0, 1], RouteRefresh::new(Family::IPV6_UNICAST));
    }

    #[test]
    fn beginning_and_end_of_route_refresh_for_ipv4_and_ipv6_rfc7313_3_2() {
        use RouteRefreshSubtype::*;
        for (afi, family) in [(1u8, Family::IPV4_UNICAST), (2, Family::IPV6_UNICAST)] {
            // AFI, subtype 1 (BoRR), SAFI 1
            both_ways(
                [0, afi, 1, 1],
                RouteRefresh {
                    family,
                    subtype: BeginningOfRouteRefresh,
                },
            );
            // AFI, subtype 2 (EoRR), SAFI 1
            both_ways(
                [0, afi, 2, 1],
                RouteRefresh {
                    family,
                    subtype: EndOfRouteRefresh,
                },
            );
        }
    }

    #[test]
    fn undefined_subtypes_are_kept_for_the_session_to_ignore_rfc7313_3_2() {
        for v in [3u8, 128, 255] {
            both_ways(
                [0, 1, v, 1],
                RouteRefresh {
                    family: Family::IPV4_UNICAST,
                    subtype: RouteRefreshSubtype::Reserved(v),
                },
            );
        }
        for v in 0..=255u8 {
            assert_eq!(RouteRefreshSubtype::from_u8(v).to_u8(), v);
        }
    }

    #[test]
    fn bodies_of_3_and_5_octets_are_invalid_message_length_with_the_whole_message_rfc7313_5() {
        for body in [&[0u8, 1, 0][..], &[0, 1, 0, 1, 0], &[]] {
            let msg = frame(body);
            let e = RouteRefresh::decode_body(body, &msg).unwrap_err();
            assert_eq!(
                e.kind,
                DecodeErrorKind::BadRouteRefreshLength(msg.len() as u16)
            );
            let n = e.notification();
            assert_eq!((n.code, n.subcode), (7, 1));
            assert_eq!(n.data.to_vec(), msg);
        }
    }

    #[test]
    fn the_dispatcher_frames_route_refresh_both_ways_rfc2918_3() {
        let rr = RouteRefresh {
            family: Family::IPV6_UNICAST,
            subtype: RouteRefreshSubtype::EndOfRouteRefresh,
        };
        let msg = frame(&[0, 2, 2, 1]);
        let m = super::super::Message::RouteRefresh(rr);
        let ctx = super::super::Ctx::default();
        assert_eq!(super::super::encode_to_vec(&m, &ctx).unwrap(), msg);
        assert_eq!(super::super::decode(&msg, &ctx).unwrap().message, m);
        let long = frame(&[0, 2, 2, 1, 0]);
        let n = super::super::decode(&long, &ctx)
            .unwrap_err()
            .notification();
        assert_eq!((n.code, n.subcode, n.data.to_vec()), (7, 1, long));
    }

    proptest! {
        #[test]
        fn random_bytes_never_make_the_route_refresh_decoder_panic(
            body in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            let msg = frame(&body);
            match RouteRefresh::decode_body(&body, &msg) {
                Ok(rr) => {
                    let mut out = Vec::new();
                    rr.encode_body(&mut out);
                    prop_assert_eq!(out, body);
                }
                Err(e) => prop_assert_eq!(e.data.to_vec(), msg),
            }
        }

        #[test]
        fn any_route_refresh_round_trips_rfc7313_3_2(
            afi in any::<u16>(),
            sub in any::<u8>(),
            safi in any::<u8>(),
        ) {
            let rr = RouteRefresh {
                family: Family::new(afi, safi),
                subtype: RouteRefreshSubtype::from_u8(sub),
            };
            let mut out = Vec::new();
            rr.encode_body(&mut out);
            prop_assert_eq!(RouteRefresh::decode_body(&out, &frame(&out)).unwrap(), rr);
        }
    }
}
