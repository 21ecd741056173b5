//! What a session runs with once both OPENs are known: the intersection of the two capability
//! sets (RFC 5492 §3), the hold time (RFC 4271 §4.2), and the codec [`Ctx`] derived from them.
//!
//! ```text
//!   local OPEN ──┐
//!                ├── negotiate() ──> Negotiated { ctx: Ctx, hold_time, families, ... }
//!  remote OPEN ──┘
//!
//!  capability            used when                          (RFC)
//!  Multiprotocol         family in both sets                 RFC 4760 §8 (none = IPv4 unicast)
//!  4-octet AS            both sent it                        RFC 6793 §4
//!  Extended Message      both sent it                        RFC 8654 §3
//!  ADD-PATH receive      we can receive and they can send    RFC 7911 §4
//!  ADD-PATH send         we can send and they can receive    RFC 7911 §4
//!  Route Refresh         they sent it (we may ask them)      RFC 2918 §4
//!  Enhanced RR           both sent it                        RFC 7313 §4
//!  Graceful Restart      theirs kept for the session         RFC 4724 §4
//! ```
//!
//! Nothing here rejects a session: checking the peer's AS, BGP Identifier and hold time against
//! configuration, and refusing capabilities, is the FSM's job.

use std::net::Ipv4Addr;

use super::capability::{AddPathFamily, AddPathMode, GracefulRestart};
use super::family::Family;
use super::open::Open;
use super::Ctx;

/// What both OPENs agree on (RFC 4271 §4.2, RFC 5492 §3, RFC 6793 §4, RFC 7911 §4, RFC 8654 §3,
/// RFC 4724 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The codec context for every later message: 4-octet AS and Extended Message when both sent
    /// them, the ADD-PATH directions per family, and whether the peer is internal.
    pub ctx: Ctx,
    /// The smaller of the two hold times, in seconds; 0 means no hold timer and no KEEPALIVEs
    /// (RFC 4271 §4.2).
    pub hold_time: u16,
    /// One third of the hold time, the usual KEEPALIVE interval (RFC 4271 §10). The FSM reports
    /// its configured interval here instead when that is shorter (`fsm::Config::keepalive_time`).
    pub keepalive_time: u16,
    /// Families both sides announced, sorted (RFC 4760 §8; a side without Multiprotocol
    /// capabilities counts as IPv4 unicast only).
    pub families: Vec<Family>,
    /// Our AS ([`Open::asn`] of the local OPEN).
    pub local_asn: u32,
    /// The peer's AS ([`Open::asn`] of the remote OPEN, RFC 6793 §4.1).
    pub remote_asn: u32,
    /// The peer's BGP Identifier (RFC 4271 §4.2).
    pub remote_bgp_id: Ipv4Addr,
    /// The peer accepts ROUTE-REFRESH: it sent Route Refresh or Enhanced Route Refresh
    /// (RFC 2918 §4, RFC 7313 §3.1).
    pub route_refresh: bool,
    /// Both sides sent Enhanced Route Refresh, so BoRR / EoRR demarcation is used (RFC 7313 §4).
    pub enhanced_route_refresh: bool,
    /// The peer's Graceful Restart capability, if it sent one (RFC 4724 §3).
    pub remote_graceful_restart: Option<GracefulRestart>,
}

/// Works out what a session runs with from the OPEN we sent and the OPEN we received
/// (RFC 4271 §4.2, RFC 5492 §3).
///
/// ADD-PATH is only negotiated for families that are themselves negotiated, and a family repeated
/// in a peer's ADD-PATH capability takes its last entry (RFC 7911 §4 is silent on repeats).
pub fn negotiate(local: &Open, remote: &Open) -> Negotiated {
    let remote_families = remote.families();
    let mut families: Vec<Family> = local
        .families()
        .into_iter()
        .filter(|f| remote_families.contains(f))
        .collect();
    families.sort();
    families.dedup();

    // The last entry for a family counts, as in [`Open::add_path_mode`].
    let (local_ap, remote_ap) = (local.add_path(), remote.add_path());
    let mode =
        |v: &[AddPathFamily], f: Family| v.iter().rev().find(|a| a.family == f).map(|a| a.mode);
    let direction = |we: fn(AddPathMode) -> bool, they: fn(AddPathMode) -> bool| {
        families
            .iter()
            .copied()
            .filter(|f| {
                mode(&local_ap, *f).is_some_and(we) && mode(&remote_ap, *f).is_some_and(they)
            })
            .collect::<Vec<Family>>()
    };
    let add_path_rx = direction(AddPathMode::can_receive, AddPathMode::can_send);
    let add_path_tx = direction(AddPathMode::can_send, AddPathMode::can_receive);

    let local_asn = local.asn();
    let remote_asn = remote.asn();
    let hold_time = local.hold_time.min(remote.hold_time);
    Negotiated {
        ctx: Ctx {
            four_octet_as: local.four_octet_as().is_some() && remote.four_octet_as().is_some(),
            extended_message: local.supports_extended_message()
                && remote.supports_extended_message(),
            add_path_rx,
            add_path_tx,
            ibgp: local_asn == remote_asn,
        },
        hold_time,
        keepalive_time: hold_time / 3,
        families,
        local_asn,
        remote_asn,
        remote_bgp_id: remote.bgp_id,
        route_refresh: remote.supports_route_refresh(),
        enhanced_route_refresh: local.supports_enhanced_route_refresh()
            && remote.supports_enhanced_route_refresh(),
        remote_graceful_restart: remote.graceful_restart().cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::capability::{Capability, GracefulRestartFamily};
    use super::*;

    const V4: Family = Family::IPV4_UNICAST;
    const V6: Family = Family::IPV6_UNICAST;
    const V4_MC: Family = Family::new(1, 2);

    fn open(asn: u32, hold: u16, caps: Vec<Capability>) -> Open {
        Open::new(
            asn,
            hold,
            Ipv4Addr::new(192, 0, 2, (asn % 250) as u8 + 1),
            caps,
        )
    }

    fn mp(fams: &[Family]) -> Vec<Capability> {
        fams.iter().map(|f| Capability::Multiprotocol(*f)).collect()
    }

    fn with_add_path(fams: &[Family], entries: &[(Family, AddPathMode)]) -> Vec<Capability> {
        let mut caps = mp(fams);
        caps.push(Capability::AddPath(
            entries
                .iter()
                .map(|&(family, mode)| AddPathFamily { family, mode })
                .collect(),
        ));
        caps
    }

    #[test]
    fn families_are_the_sorted_intersection_of_both_multiprotocol_sets_rfc4760_8() {
        let a = open(65001, 90, mp(&[V6, V4_MC, V4]));
        let b = open(65002, 90, mp(&[V4, V6, Family::new(25, 70)]));
        assert_eq!(negotiate(&a, &b).families, [V4, V6]);
        assert_eq!(negotiate(&b, &a).families, [V4, V6]);
    }

    #[test]
    fn a_side_without_multiprotocol_capabilities_gets_ipv4_unicast_only_rfc4760_8() {
        let a = open(65001, 90, mp(&[V4, V6]));
        let b = open(65002, 90, vec![Capability::RouteRefresh]);
        assert_eq!(negotiate(&a, &b).families, [V4]);
        assert_eq!(negotiate(&b, &a).families, [V4]);
        // And one that only speaks IPv6 shares nothing with it.
        let c = open(65003, 90, mp(&[V6]));
        assert_eq!(negotiate(&b, &c).families, []);
    }

    #[test]
    fn hold_time_is_the_smaller_one_and_zero_wins_rfc4271_4_2() {
        let n = negotiate(&open(65001, 90, vec![]), &open(65002, 240, vec![]));
        assert_eq!((n.hold_time, n.keepalive_time), (90, 30));
        let n = negotiate(&open(65001, 240, vec![]), &open(65002, 9, vec![]));
        assert_eq!((n.hold_time, n.keepalive_time), (9, 3));
        let n = negotiate(&open(65001, 90, vec![]), &open(65002, 0, vec![]));
        assert_eq!((n.hold_time, n.keepalive_time), (0, 0));
        let n = negotiate(&open(65001, 0, vec![]), &open(65002, 90, vec![]));
        assert_eq!((n.hold_time, n.keepalive_time), (0, 0));
    }

    #[test]
    fn four_octet_as_numbers_only_when_both_sent_the_capability_rfc6793_4() {
        let a = open(65001, 90, vec![]);
        let b = open(65002, 90, vec![]);
        assert!(negotiate(&a, &b).ctx.four_octet_as);
        let old = Open {
            my_as: 65002,
            hold_time: 90,
            bgp_id: Ipv4Addr::new(192, 0, 2, 9),
            capabilities: mp(&[V4]),
        };
        let n = negotiate(&a, &old);
        assert!(!n.ctx.four_octet_as);
        assert_eq!(n.remote_asn, 65002);
        assert!(!negotiate(&old, &a).ctx.four_octet_as);
    }

    #[test]
    fn add_path_receive_needs_our_receive_and_their_send_and_vice_versa_rfc7911_4() {
        use AddPathMode::*;
        let local = open(
            65001,
            90,
            with_add_path(&[V4, V6], &[(V4, Receive), (V6, Send)]),
        );
        let remote = open(
            65002,
            90,
            with_add_path(&[V4, V6], &[(V4, Send), (V6, Receive)]),
        );
        let n = negotiate(&local, &remote);
        assert_eq!(n.ctx.add_path_rx, [V4]);
        assert_eq!(n.ctx.add_path_tx, [V6]);

        // Mismatched directions negotiate nothing.
        let remote = open(
            65002,
            90,
            with_add_path(&[V4, V6], &[(V4, Receive), (V6, Send)]),
        );
        let n = negotiate(&local, &remote);
        assert_eq!((n.ctx.add_path_rx.len(), n.ctx.add_path_tx.len()), (0, 0));

        // Both on both sides: both directions.
        let both = open(
            65001,
            90,
            with_add_path(&[V4, V6], &[(V4, Both), (V6, Both)]),
        );
        let n = negotiate(&both, &both.clone());
        assert_eq!(
            (n.ctx.add_path_rx, n.ctx.add_path_tx),
            (vec![V4, V6], vec![V4, V6])
        );

        // Only one side sent ADD-PATH: nothing.
        let n = negotiate(&both, &open(65002, 90, mp(&[V4, V6])));
        assert_eq!((n.ctx.add_path_rx.len(), n.ctx.add_path_tx.len()), (0, 0));
    }

    #[test]
    fn add_path_is_only_negotiated_for_negotiated_families_rfc7911_4() {
        use AddPathMode::*;
        let local = open(
            65001,
            90,
            with_add_path(&[V4, V6], &[(V4, Both), (V6, Both)]),
        );
        let remote = open(65002, 90, with_add_path(&[V4], &[(V4, Both), (V6, Both)]));
        let n = negotiate(&local, &remote);
        assert_eq!(n.families, [V4]);
        assert_eq!((n.ctx.add_path_rx, n.ctx.add_path_tx), (vec![V4], vec![V4]));
    }

    #[test]
    fn the_last_add_path_entry_for_a_family_counts_rfc7911_4() {
        use AddPathMode::*;
        let local = open(65001, 90, with_add_path(&[V4], &[(V4, Both)]));
        let remote = open(
            65002,
            90,
            with_add_path(&[V4], &[(V4, Send), (V4, Receive)]),
        );
        let n = negotiate(&local, &remote);
        assert_eq!((n.ctx.add_path_rx.len(), n.ctx.add_path_tx), (0, vec![V4]));
    }

    #[test]
    fn ibgp_is_detected_from_the_four_octet_as_not_as_trans_rfc6793_4_1() {
        let a = open(4_200_000_001, 90, vec![]);
        let b = open(4_200_000_001, 90, vec![]);
        assert_eq!((a.my_as, b.my_as), (23456, 23456));
        let n = negotiate(&a, &b);
        assert!(n.ctx.ibgp);
        assert_eq!((n.local_asn, n.remote_asn), (4_200_000_001, 4_200_000_001));
        // Same AS_TRANS in my_as, different real AS: external.
        let c = open(4_200_000_002, 90, vec![]);
        let n = negotiate(&a, &c);
        assert!(!n.ctx.ibgp);
        assert_eq!(n.remote_asn, 4_200_000_002);
        // 2-octet ASes compare as they are.
        assert!(
            negotiate(&open(64512, 90, vec![]), &open(64512, 90, vec![]))
                .ctx
                .ibgp
        );
        assert!(
            !negotiate(&open(64512, 90, vec![]), &open(64513, 90, vec![]))
                .ctx
                .ibgp
        );
    }

    #[test]
    fn extended_message_needs_both_sides_rfc8654_3() {
        let yes = open(65001, 90, vec![Capability::ExtendedMessage]);
        let no = open(65002, 90, vec![]);
        let n = negotiate(&yes, &yes.clone());
        assert!(n.ctx.extended_message);
        assert_eq!(n.ctx.max_message_len(), 65535);
        assert!(!negotiate(&yes, &no).ctx.extended_message);
        assert!(!negotiate(&no, &yes).ctx.extended_message);
        assert_eq!(negotiate(&no, &yes).ctx.max_message_len(), 4096);
    }

    #[test]
    fn route_refresh_follows_the_peer_and_enhanced_needs_both_rfc2918_4_rfc7313_4() {
        let rr = open(65001, 90, vec![Capability::RouteRefresh]);
        let err = open(
            65002,
            90,
            vec![Capability::RouteRefresh, Capability::EnhancedRouteRefresh],
        );
        let none = open(65003, 90, vec![]);
        let n = negotiate(&err, &rr);
        assert!(n.route_refresh && !n.enhanced_route_refresh);
        let n = negotiate(&none, &rr);
        assert!(n.route_refresh && !n.enhanced_route_refresh);
        let n = negotiate(&rr, &none);
        assert!(!n.route_refresh);
        let n = negotiate(&err, &err.clone());
        assert!(n.route_refresh && n.enhanced_route_refresh);
        // Enhanced alone still means the peer accepts ROUTE-REFRESH.
        let only_err = open(65004, 90, vec![Capability::EnhancedRouteRefresh]);
        assert!(negotiate(&none, &only_err).route_refresh);
    }

    #[test]
    fn the_peers_graceful_restart_and_identity_are_kept_rfc4724_3() {
        let gr = GracefulRestart {
            restart_state: true,
            notification: false,
            restart_time: 120,
            families: vec![GracefulRestartFamily {
                family: V4,
                forwarding_preserved: true,
            }],
        };
        let remote = open(65002, 90, vec![Capability::GracefulRestart(gr.clone())]);
        let local = open(65001, 90, vec![]);
        let n = negotiate(&local, &remote);
        assert_eq!(n.remote_graceful_restart, Some(gr));
        assert_eq!(n.remote_bgp_id, remote.bgp_id);
        assert_eq!((n.local_asn, n.remote_asn), (65001, 65002));
        assert_eq!(negotiate(&remote, &local).remote_graceful_restart, None);
    }
}
