//! Unit tests of the RIB (`rib`, with `rib::export` and `rib::outbox`): plain values in, the
//! UPDATEs each peer would receive out.
//!
//! The speaker under test is AS 65000 with router id 1.1.1.1. Its own address is 10.0.0.1 on
//! iBGP sessions and 198.19.2.254 on eBGP sessions (`fd00::1` for IPv6 everywhere), so that a next
//! hop of "self" is visible in what a peer receives and distinct from the router id.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::IpNet;
use proptest::prelude::*;
use thin_vec::thin_vec;

use super::best::{Options, Reason};
use super::*;
use crate::wire::{
    self, AsPath, Community, Family, MpReach, MpUnreach, NextHop, Nlri, Origin, PathAttributes,
    Update,
};

const ASN: u32 = 65000;
const RID: &str = "1.1.1.1";
const IBGP_SELF: &str = "10.0.0.1";
const EBGP_SELF: &str = "198.19.2.254";
const SELF6: &str = "fd00::1";

const P1: &str = "10.1.0.0/24";
const P2: &str = "10.2.0.0/24";
const P3: &str = "10.3.0.0/24";
const P6: &str = "2001:db8:1::/48";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn path(asns: &[u32]) -> AsPath {
    AsPath::from_sequence(asns.iter().copied())
}

/// A RIB for AS `asn` whose cluster id is its router id.
fn rib(asn: u32, rid: &str) -> Rib {
    rib_with_cluster(asn, rid, rid)
}

fn rib_with_cluster(asn: u32, rid: &str, cluster: &str) -> Rib {
    Rib::new(Global {
        asn,
        router_id: v4(rid),
        cluster_id: v4(cluster),
        best: Options::default(),
    })
}

fn peer_config(name: &str, addr: &str, remote_asn: u32) -> PeerConfig {
    PeerConfig {
        name: name.into(),
        address: addr.parse().unwrap(),
        remote_asn,
        local_asn: ASN,
        rr_client: false,
        next_hop_self: false,
        next_hop_keep: false,
        allow_local_as: 0,
        max_prefixes: None,
    }
}

/// An internal peer of AS 65000; `client` makes it our route-reflector client.
fn ibgp(name: &str, addr: &str, client: bool) -> PeerConfig {
    PeerConfig {
        rr_client: client,
        ..peer_config(name, addr, ASN)
    }
}

/// An external peer of AS `remote_asn`.
fn ebgp(name: &str, addr: &str, remote_asn: u32) -> PeerConfig {
    peer_config(name, addr, remote_asn)
}

/// An established session with both unicast families, 4-octet AS, no Graceful Restart.
fn session(rid: &str, self_v4: &str) -> SessionInfo {
    SessionInfo {
        router_id: v4(rid),
        families: vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
        four_octet_as: true,
        self_v4: Some(v4(self_v4)),
        self_v6: Some(v6(SELF6)),
        graceful_restart: false,
        restart_families: vec![(Family::IPV4_UNICAST, true), (Family::IPV6_UNICAST, true)],
        add_path_tx: Vec::new(),
    }
}

/// Our address on a session to a peer with this configuration.
fn self_for(config: &PeerConfig) -> &'static str {
    if config.is_ebgp() {
        EBGP_SELF
    } else {
        IBGP_SELF
    }
}

/// Adds the peer and brings its session up (router id `rid`, no Graceful Restart).
fn up(rib: &mut Rib, config: PeerConfig, rid: &str) -> PeerId {
    let s = session(rid, self_for(&config));
    up_with(rib, config, s)
}

fn up_with(rib: &mut Rib, config: PeerConfig, session: SessionInfo) -> PeerId {
    let p = rib.add_peer(config);
    rib.peer_up(p, session);
    p
}

/// Brings the peer's session up again after it went down (same router id and self address).
fn reconnect(rib: &mut Rib, peer: PeerId, rid: &str, graceful_restart: bool) -> Vec<Output> {
    let config = rib.peer_config(peer).unwrap().clone();
    let s = SessionInfo {
        graceful_restart,
        ..session(rid, self_for(&config))
    };
    rib.peer_up(peer, s)
}

/// No extra attributes.
fn plain(_: &mut PathAttributes) {}

/// An UPDATE announcing `prefixes` with ORIGIN IGP and `as_path`: IPv4 prefixes in the NLRI
/// field with a NEXT_HOP attribute when `next_hop` is IPv4, IPv6 prefixes in MP_REACH_NLRI when
/// it is IPv6. `extra` adds or changes attributes.
fn announce(
    prefixes: &[&str],
    next_hop: &str,
    as_path: &[u32],
    extra: impl FnOnce(&mut PathAttributes),
) -> Update {
    let mut attrs = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(path(as_path)),
        ..PathAttributes::default()
    };
    extra(&mut attrs);
    let nlri: Vec<Nlri> = prefixes.iter().map(|p| Nlri::new(net(p))).collect();
    match next_hop.parse::<IpAddr>().unwrap() {
        IpAddr::V4(a) => {
            assert!(nlri.iter().all(|n| n.prefix.addr().is_ipv4()));
            attrs.next_hop = Some(a);
            Update {
                attrs,
                nlri,
                ..Update::default()
            }
        }
        nh @ IpAddr::V6(_) => {
            assert!(nlri.iter().all(|n| n.prefix.addr().is_ipv6()));
            Update {
                attrs,
                mp_reach: Some(MpReach {
                    family: Family::IPV6_UNICAST,
                    next_hop: NextHop::from(nh),
                    nlri,
                }),
                ..Update::default()
            }
        }
    }
}

/// An UPDATE withdrawing `prefixes` (IPv4 in Withdrawn Routes, IPv6 in MP_UNREACH_NLRI).
fn withdraw(prefixes: &[&str]) -> Update {
    let (w4, w6): (Vec<Nlri>, Vec<Nlri>) = prefixes
        .iter()
        .map(|p| Nlri::new(net(p)))
        .partition(|n| n.prefix.addr().is_ipv4());
    Update {
        withdrawn: w4,
        mp_unreach: (!w6.is_empty()).then_some(MpUnreach {
            family: Family::IPV6_UNICAST,
            nlri: w6,
        }),
        ..Update::default()
    }
}

/// Attributes for [`Rib::originate`]: ORIGIN IGP, no AS_PATH, next hop "ourselves".
fn local(extra: impl FnOnce(&mut PathAttributes)) -> RouteAttrs {
    let mut attrs = PathAttributes {
        origin: Some(Origin::Igp),
        ..PathAttributes::default()
    };
    extra(&mut attrs);
    RouteAttrs {
        attrs,
        next_hop: None,
    }
}

/// Whether `out` reaches `peer`, as the RIB task delivers it ([`Rib::receives`]).
fn reaches(rib: &Rib, out: &Output, peer: PeerId) -> bool {
    rib.receives(out, peer)
}

/// The UPDATEs among `out` that `peer` receives, in order. Each must encode.
fn sent_to(rib: &Rib, out: &[Output], peer: PeerId) -> Vec<Update> {
    out.iter()
        .filter(|o| reaches(rib, o, peer))
        .map(|o| {
            let msg = wire::Message::Update(o.update.clone());
            wire::encode_to_vec(&msg, &wire::Ctx::default())
                .unwrap_or_else(|e| panic!("output does not encode: {e}: {:?}", o.update));
            o.update.clone()
        })
        .collect()
}

/// What one peer receives from a batch of outputs: per prefix the last announcement (with the
/// next hop moved out of the attributes, as the RIB stores it) or `None` for a withdrawal, the
/// End-of-RIB markers in order, and the number of UPDATE messages.
#[derive(Debug, Default)]
struct Rx {
    routes: BTreeMap<IpNet, Option<RouteAttrs>>,
    eor: Vec<Family>,
    messages: usize,
}

impl Rx {
    /// The announced attributes for `prefix`; panics when it was not announced.
    #[track_caller]
    fn got(&self, prefix: &str) -> &RouteAttrs {
        match self.routes.get(&net(prefix)) {
            Some(Some(a)) => a,
            other => panic!("{prefix} not announced, got {other:?} in {self:#?}"),
        }
    }

    fn announced(&self, prefix: &str) -> bool {
        matches!(self.routes.get(&net(prefix)), Some(Some(_)))
    }

    fn withdrew(&self, prefix: &str) -> bool {
        matches!(self.routes.get(&net(prefix)), Some(None))
    }

    /// Whether `prefix` is not mentioned at all.
    fn silent_on(&self, prefix: &str) -> bool {
        !self.routes.contains_key(&net(prefix))
    }

    fn is_empty(&self) -> bool {
        self.routes.is_empty() && self.eor.is_empty() && self.messages == 0
    }
}

fn rx(rib: &Rib, out: &[Output], peer: PeerId) -> Rx {
    let mut rx = Rx::default();
    for u in sent_to(rib, out, peer) {
        rx.messages += 1;
        if let Some(f) = u.as_end_of_rib() {
            rx.eor.push(f);
            continue;
        }
        for (_, n) in u.withdrawals() {
            rx.routes.insert(n.prefix, None);
        }
        for (_, n, nh) in u.announcements() {
            let mut attrs = u.attrs.clone();
            attrs.next_hop = None;
            rx.routes.insert(
                n.prefix,
                Some(RouteAttrs {
                    attrs,
                    next_hop: nh,
                }),
            );
        }
    }
    rx
}

fn nh4(s: &str) -> Option<NextHop> {
    Some(NextHop::V4(v4(s)))
}

fn nh6(s: &str) -> Option<NextHop> {
    Some(NextHop::V6 {
        global: v6(s),
        link_local: None,
    })
}

// ---------------------------------------------------------------------------------------------
// A consistency oracle: each peer's Adj-RIB-Out as rebuilt from the outputs it received must
// equal the export of the current best paths to it (without the paths it sent itself).
// ---------------------------------------------------------------------------------------------

/// A RIB with, per established peer, the routes it has been sent so far.
struct Lab {
    rib: Rib,
    views: BTreeMap<PeerId, BTreeMap<IpNet, RouteAttrs>>,
}

impl Lab {
    fn new(rib: Rib) -> Lab {
        Lab {
            rib,
            views: BTreeMap::new(),
        }
    }

    /// Applies a batch of outputs to the view of every established peer.
    fn apply(&mut self, out: &[Output]) {
        for (&p, view) in self.views.iter_mut() {
            for (prefix, route) in rx(&self.rib, out, p).routes {
                match route {
                    Some(a) => view.insert(prefix, a),
                    None => view.remove(&prefix),
                };
            }
        }
    }

    /// Adds the peer and brings it up with router id [`rid_of`] its id.
    fn add(&mut self, config: PeerConfig, graceful_restart: bool) -> PeerId {
        let p = self.rib.add_peer(config);
        self.up(p, graceful_restart);
        p
    }

    fn up(&mut self, peer: PeerId, graceful_restart: bool) {
        let out = reconnect(&mut self.rib, peer, &rid_str(peer), graceful_restart);
        self.views.insert(peer, BTreeMap::new());
        self.apply(&out);
    }

    fn down(&mut self, peer: PeerId, graceful: bool) -> bool {
        let (out, kept) = self.rib.peer_down(peer, graceful);
        self.views.remove(&peer);
        self.apply(&out);
        kept
    }

    fn update(&mut self, peer: PeerId, u: &Update) -> Vec<Output> {
        let out = self.rib.update(peer, u);
        self.apply(&out);
        out
    }

    fn end_of_rib(&mut self, peer: PeerId, family: Family) {
        let out = self.rib.end_of_rib(peer, family);
        self.apply(&out);
    }

    fn sweep(&mut self, peer: PeerId) {
        let out = self.rib.sweep_stale(peer);
        self.apply(&out);
    }

    fn originate(&mut self, prefix: &str, attrs: RouteAttrs) {
        let out = self.rib.originate(net(prefix), attrs);
        self.apply(&out);
    }

    fn withdraw_originated(&mut self, prefix: &str) {
        let out = self.rib.withdraw_originated(net(prefix));
        self.apply(&out);
    }

    /// What `peer` should hold: the export of every best path not learned from it.
    fn expected(&self, peer: PeerId) -> BTreeMap<IpNet, RouteAttrs> {
        let rib = &self.rib;
        let key = rib.group_key(rib.group_of(peer).unwrap()).unwrap();
        let mut want = BTreeMap::new();
        for (prefix, paths) in rib.routes() {
            let best = &paths[0];
            if best.peer() == peer {
                continue;
            }
            let learned = self.learned(best.peer());
            let family = match prefix {
                IpNet::V4(_) => Family::IPV4_UNICAST,
                IpNet::V6(_) => Family::IPV6_UNICAST,
            };
            if let Some(a) = export::export(rib.global(), learned, best.attrs(), family, key) {
                let c = rib.peer_config(peer).unwrap();
                if export::sent_to(&a.attrs, c.is_ebgp(), c.remote_asn) {
                    want.insert(prefix, a);
                }
            }
        }
        want
    }

    fn learned(&self, peer: PeerId) -> Learned {
        if peer == LOCAL {
            return Learned::Local;
        }
        let config = self.rib.peer_config(peer).unwrap();
        if config.is_ebgp() {
            Learned::Ebgp
        } else {
            Learned::Ibgp {
                client: config.rr_client,
                router_id: rid_of(peer),
            }
        }
    }

    /// Checks every established peer's view and the table's own invariants.
    #[track_caller]
    fn check(&self) {
        for (&p, view) in &self.views {
            assert_eq!(
                view,
                &self.expected(p),
                "Adj-RIB-Out of peer {p} ({}) differs from the export of the best paths",
                self.rib.peer_config(p).unwrap().name
            );
        }
        for (prefix, paths) in self.rib.routes() {
            assert!(!paths.is_empty());
            assert_eq!(
                self.rib.reasons(prefix).first(),
                Some(&None),
                "the first path of {prefix} is not the one the decision process selects"
            );
        }
    }
}

/// The router id used for peer `p` by [`Lab`] based tests: 1.1.1.(10 + p).
fn rid_of(peer: PeerId) -> Ipv4Addr {
    Ipv4Addr::new(1, 1, 1, 10 + peer as u8)
}

fn rid_str(peer: PeerId) -> String {
    rid_of(peer).to_string()
}

// ---------------------------------------------------------------------------------------------
// 1. Full mesh: iBGP split horizon and originated routes
// ---------------------------------------------------------------------------------------------

#[test]
fn a_path_from_an_ibgp_non_client_is_not_sent_to_another_ibgp_non_client() {
    let mut rib = rib(ASN, RID);
    let n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "10.0.0.2");
    let n2 = up(&mut rib, ibgp("n2", "10.0.0.3", false), "10.0.0.3");
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");

    let out = rib.update(n1, &announce(&[P1], "10.0.0.2", &[], plain));

    assert!(rib.best(net(P1)).is_some_and(|b| b.peer() == n1));
    assert!(rx(&rib, &out, n2).is_empty());
    assert!(rx(&rib, &out, n1).is_empty());
    assert_eq!(rx(&rib, &out, e1).got(P1).attrs.as_path, Some(path(&[ASN])));

    // Nor does a third non-client get it in its initial table.
    let n3 = rib.add_peer(ibgp("n3", "10.0.0.4", false));
    let dump = rib.peer_up(n3, session("10.0.0.4", IBGP_SELF));
    let got = rx(&rib, &dump, n3);
    assert!(got.silent_on(P1));
    assert_eq!(got.eor, [Family::IPV4_UNICAST, Family::IPV6_UNICAST]);
}

#[test]
fn an_originated_prefix_goes_to_ibgp_peers_with_local_pref_100_empty_as_path_and_our_next_hop() {
    let mut rib = rib(ASN, RID);
    let n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "10.0.0.2");
    let c1 = up(&mut rib, ibgp("c1", "10.0.0.11", true), "10.0.0.11");

    let out = rib.originate(net(P1), local(plain));

    for p in [n1, c1] {
        let a = rx(&rib, &out, p).got(P1).clone();
        assert_eq!(a.attrs.local_pref, Some(100));
        assert_eq!(a.attrs.as_path, Some(AsPath::default()));
        assert_eq!(a.attrs.origin, Some(Origin::Igp));
        assert_eq!(a.next_hop, nh4(IBGP_SELF));
        assert_eq!(a.attrs.originator_id, None);
        assert!(a.attrs.cluster_list.is_empty());
    }
    assert!(rib.best(net(P1)).is_some_and(|b| b.peer() == LOCAL));
}

#[test]
fn an_originated_prefix_goes_to_ebgp_peers_with_our_as_prepended_and_our_next_hop() {
    let mut rib = rib(ASN, RID);
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");

    let out = rib.originate(net(P1), local(plain));

    let a = rx(&rib, &out, e1).got(P1).clone();
    assert_eq!(a.attrs.as_path, Some(path(&[ASN])));
    assert_eq!(a.attrs.local_pref, None);
    assert_eq!(a.next_hop, nh4(EBGP_SELF));
}

#[test]
fn originating_again_replaces_the_route_and_withdraw_originated_withdraws_it_everywhere() {
    let mut rib = rib(ASN, RID);
    let n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "10.0.0.2");
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");
    rib.originate(net(P1), local(plain));

    let out = rib.originate(
        net(P1),
        local(|a| a.communities = thin_vec![Community::new(65000, 7)]),
    );
    for p in [n1, e1] {
        let got = rx(&rib, &out, p);
        assert_eq!(got.got(P1).attrs.communities, [Community::new(65000, 7)]);
    }
    assert_eq!(rib.paths(net(P1)).len(), 1);

    let out = rib.withdraw_originated(net(P1));
    for p in [n1, e1] {
        assert!(rx(&rib, &out, p).withdrew(P1));
    }
    assert!(rib.paths(net(P1)).is_empty());
    assert_eq!(rib.stats().prefixes, 0);
}

#[test]
fn peers_with_equal_export_rules_share_one_update_group_and_get_one_message() {
    let mut rib = rib(ASN, RID);
    let n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "10.0.0.2");
    let n2 = up(&mut rib, ibgp("n2", "10.0.0.3", false), "10.0.0.3");
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");
    assert_eq!(rib.group_of(n1), rib.group_of(n2));
    assert_ne!(rib.group_of(n1), rib.group_of(e1));
    assert_eq!(rib.stats().groups, 2);

    let out = rib.originate(net(P1), local(plain));

    // One UPDATE for the iBGP group, one for the eBGP group.
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|o| matches!(o.target, Target::Group { .. })));
    assert!(rx(&rib, &out, n1).announced(P1));
    assert!(rx(&rib, &out, n2).announced(P1));
}

// ---------------------------------------------------------------------------------------------
// 2. Route reflection (RFC 4456)
// ---------------------------------------------------------------------------------------------

/// A reflector (router id 1.1.1.1, cluster id 1.1.1.1) with clients c1, c2 and non-clients n1,
/// n2. Router ids differ from the addresses: c1 is 10.0.0.11 with router id 1.1.1.11.
struct Rr {
    rib: Rib,
    c1: PeerId,
    c2: PeerId,
    n1: PeerId,
    n2: PeerId,
}

fn rr() -> Rr {
    let mut rib = rib(ASN, RID);
    let c1 = up(&mut rib, ibgp("c1", "10.0.0.11", true), "1.1.1.11");
    let c2 = up(&mut rib, ibgp("c2", "10.0.0.12", true), "1.1.1.12");
    let n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "1.1.1.2");
    let n2 = up(&mut rib, ibgp("n2", "10.0.0.3", false), "1.1.1.3");
    Rr {
        rib,
        c1,
        c2,
        n1,
        n2,
    }
}

#[test]
fn a_client_path_is_reflected_to_the_other_clients_and_to_non_clients() {
    let Rr {
        mut rib,
        c1,
        c2,
        n1,
        n2,
    } = rr();

    let out = rib.update(c1, &announce(&[P1], "10.9.9.11", &[], plain));

    assert!(rx(&rib, &out, c1).is_empty());
    for p in [c2, n1, n2] {
        let a = rx(&rib, &out, p).got(P1).clone();
        assert_eq!(a.attrs.originator_id, Some(v4("1.1.1.11")), "peer {p}");
        assert_eq!(a.attrs.cluster_list, [v4(RID)], "peer {p}");
        assert_eq!(
            a.next_hop,
            nh4("10.9.9.11"),
            "the reflector keeps the next hop"
        );
        assert_eq!(a.attrs.local_pref, Some(100));
        assert_eq!(a.attrs.as_path, Some(AsPath::default()));
    }
}

#[test]
fn a_non_client_path_is_reflected_to_clients_only() {
    let Rr {
        mut rib,
        c1,
        c2,
        n1,
        n2,
    } = rr();

    let out = rib.update(
        n1,
        &announce(&[P1], "10.9.9.2", &[], |a| a.local_pref = Some(120)),
    );

    assert!(rx(&rib, &out, n1).is_empty());
    assert!(rx(&rib, &out, n2).is_empty());
    for p in [c1, c2] {
        let a = rx(&rib, &out, p).got(P1).clone();
        assert_eq!(a.attrs.originator_id, Some(v4("1.1.1.2")));
        assert_eq!(a.attrs.cluster_list, [v4(RID)]);
        assert_eq!(a.next_hop, nh4("10.9.9.2"));
        assert_eq!(a.attrs.local_pref, Some(120));
    }
}

#[test]
fn reflection_keeps_an_existing_originator_id_and_prepends_our_cluster_id() {
    let Rr {
        mut rib, c1, n1, ..
    } = rr();

    let out = rib.update(
        c1,
        &announce(&[P1], "10.9.9.11", &[], |a| {
            a.originator_id = Some(v4("7.7.7.7"));
            a.cluster_list = thin_vec![v4("8.8.8.8")];
        }),
    );

    let a = rx(&rib, &out, n1).got(P1).clone();
    assert_eq!(a.attrs.originator_id, Some(v4("7.7.7.7")));
    assert_eq!(a.attrs.cluster_list, [v4(RID), v4("8.8.8.8")]);
}

#[test]
fn a_configured_cluster_id_is_the_one_prepended() {
    let mut rib = rib_with_cluster(ASN, RID, "9.9.9.9");
    let c1 = up(&mut rib, ibgp("c1", "10.0.0.11", true), "1.1.1.11");
    let n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "1.1.1.2");

    let out = rib.update(c1, &announce(&[P1], "10.9.9.11", &[], plain));

    assert_eq!(
        rx(&rib, &out, n1).got(P1).attrs.cluster_list,
        [v4("9.9.9.9")]
    );
}

#[test]
fn a_received_path_whose_originator_id_is_our_router_id_is_rejected() {
    let Rr {
        mut rib, c1, n1, ..
    } = rr();

    let out = rib.update(
        n1,
        &announce(&[P1], "10.9.9.2", &[], |a| {
            a.originator_id = Some(v4(RID));
            a.cluster_list = thin_vec![v4("8.8.8.8")];
        }),
    );

    assert!(out.is_empty());
    assert!(rib.paths(net(P1)).is_empty());
    assert_eq!(rib.rejected_count(n1), 1);
    assert_eq!(rib.rejected_count(c1), 0);
    assert_eq!(rib.prefix_count(n1), 0);
}

#[test]
fn a_received_path_whose_cluster_list_holds_our_cluster_id_is_rejected() {
    let mut rib = rib_with_cluster(ASN, RID, "9.9.9.9");
    let n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "1.1.1.2");
    let c1 = up(&mut rib, ibgp("c1", "10.0.0.11", true), "1.1.1.11");

    let looped = announce(&[P1, P2], "10.9.9.2", &[], |a| {
        a.originator_id = Some(v4("1.1.1.99"));
        a.cluster_list = thin_vec![v4("8.8.8.8"), v4("9.9.9.9")];
    });
    let out = rib.update(n1, &looped);

    assert!(rx(&rib, &out, c1).is_empty());
    assert!(rib.paths(net(P1)).is_empty());
    assert!(rib.paths(net(P2)).is_empty());
    assert_eq!(rib.rejected_count(n1), 2);

    // Our router id in the CLUSTER_LIST is no loop when the cluster id is configured apart.
    let fine = announce(&[P3], "10.9.9.2", &[], |a| {
        a.cluster_list = thin_vec![v4(RID)]
    });
    rib.update(n1, &fine);
    assert_eq!(rib.paths(net(P3)).len(), 1);
    assert_eq!(rib.rejected_count(n1), 2);
}

#[test]
fn of_two_reflectors_with_one_cluster_id_each_rejects_the_paths_the_other_reflected() {
    let cluster = "10.255.0.1";
    // rr1 reflects from its client c to its non-client peer rr2.
    let mut rr1 = rib_with_cluster(ASN, "1.1.1.1", cluster);
    let c = up(&mut rr1, ibgp("c", "10.0.0.11", true), "1.1.1.11");
    let rr2_on_rr1 = up(&mut rr1, ibgp("rr2", "10.0.0.2", false), "1.1.1.2");
    // rr2 (same cluster) has rr1 as a non-client peer and a client of its own.
    let mut rr2 = rib_with_cluster(ASN, "1.1.1.2", cluster);
    let rr1_on_rr2 = up(&mut rr2, ibgp("rr1", "10.0.0.1", false), "1.1.1.1");
    let c2 = up(&mut rr2, ibgp("c2", "10.0.0.12", true), "1.1.1.12");
    // A reflector of another cluster, for contrast.
    let mut rr3 = rib_with_cluster(ASN, "1.1.1.3", "10.255.0.3");
    let rr1_on_rr3 = up(&mut rr3, ibgp("rr1", "10.0.0.1", false), "1.1.1.1");

    let out = rr1.update(c, &announce(&[P1], "10.0.0.11", &[], plain));
    let reflected = sent_to(&rr1, &out, rr2_on_rr1);
    assert_eq!(reflected.len(), 1);
    assert_eq!(reflected[0].attrs.cluster_list, [v4(cluster)]);

    let out2 = rr2.update(rr1_on_rr2, &reflected[0]);
    assert!(rx(&rr2, &out2, c2).is_empty());
    assert!(rr2.paths(net(P1)).is_empty());
    assert_eq!(rr2.rejected_count(rr1_on_rr2), 1);

    rr3.update(rr1_on_rr3, &reflected[0]);
    assert_eq!(rr3.paths(net(P1)).len(), 1);
    assert_eq!(rr3.rejected_count(rr1_on_rr3), 0);
}

// ---------------------------------------------------------------------------------------------
// 3. eBGP export and next-hop knobs
// ---------------------------------------------------------------------------------------------

#[test]
fn ebgp_export_prepends_our_as_sets_our_next_hop_and_strips_ibgp_only_attributes_and_med() {
    let mut rib = rib(ASN, RID);
    let c1 = up(&mut rib, ibgp("c1", "10.0.0.11", true), "1.1.1.11");
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");

    let out = rib.update(
        c1,
        &announce(&[P1], "10.9.9.11", &[65010], |a| {
            a.local_pref = Some(200);
            a.med = Some(50);
            a.originator_id = Some(v4("7.7.7.7"));
            a.cluster_list = thin_vec![v4("8.8.8.8")];
            a.communities = thin_vec![Community::new(65010, 1)];
        }),
    );

    let a = rx(&rib, &out, e1).got(P1).clone();
    assert_eq!(a.attrs.as_path, Some(path(&[ASN, 65010])));
    assert_eq!(a.next_hop, nh4(EBGP_SELF));
    assert_eq!(a.attrs.local_pref, None);
    assert_eq!(a.attrs.originator_id, None);
    assert!(a.attrs.cluster_list.is_empty());
    assert_eq!(a.attrs.med, None);
    assert_eq!(a.attrs.origin, Some(Origin::Igp));
    assert_eq!(a.attrs.communities, [Community::new(65010, 1)]);
}

#[test]
fn a_med_learned_from_an_ebgp_peer_is_kept_inside_the_as_and_removed_towards_other_ebgp_peers() {
    let mut rib = rib(ASN, RID);
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");
    let e2 = up(&mut rib, ebgp("e2", "198.19.2.2", 65002), "198.19.2.2");
    let n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "10.0.0.2");

    let out = rib.update(
        e1,
        &announce(&[P1], "198.19.2.1", &[65001], |a| a.med = Some(50)),
    );

    assert_eq!(rx(&rib, &out, e2).got(P1).attrs.med, None);
    assert_eq!(rx(&rib, &out, n1).got(P1).attrs.med, Some(50));
}

#[test]
fn an_originated_med_is_kept_towards_ebgp_peers() {
    let mut rib = rib(ASN, RID);
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");

    let out = rib.originate(net(P1), local(|a| a.med = Some(10)));

    assert_eq!(rx(&rib, &out, e1).got(P1).attrs.med, Some(10));
}

#[test]
fn a_per_peer_local_asn_is_prepended_instead_of_the_global_as() {
    let mut rib = rib(ASN, RID);
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");
    let e2 = up(
        &mut rib,
        PeerConfig {
            local_asn: 65100,
            ..ebgp("e2", "198.19.2.2", 65002)
        },
        "198.19.2.2",
    );
    let e3 = up(&mut rib, ebgp("e3", "198.19.2.3", 65003), "198.19.2.3");

    let out = rib.update(e1, &announce(&[P1], "198.19.2.1", &[65001], plain));
    assert_eq!(
        rx(&rib, &out, e2).got(P1).attrs.as_path,
        Some(path(&[65100, 65001]))
    );
    assert_eq!(
        rx(&rib, &out, e3).got(P1).attrs.as_path,
        Some(path(&[ASN, 65001]))
    );

    let out = rib.originate(net(P2), local(plain));
    assert_eq!(
        rx(&rib, &out, e2).got(P2).attrs.as_path,
        Some(path(&[65100]))
    );
}

#[test]
fn next_hop_keep_keeps_the_original_next_hop_towards_ebgp() {
    let mut rib = rib(ASN, RID);
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");
    let keep = up(
        &mut rib,
        PeerConfig {
            next_hop_keep: true,
            ..ebgp("keep", "198.19.2.2", 65002)
        },
        "198.19.2.2",
    );
    let normal = up(&mut rib, ebgp("normal", "198.19.2.3", 65003), "198.19.2.3");

    let out = rib.update(e1, &announce(&[P1], "198.19.2.77", &[65001], plain));
    assert_eq!(rx(&rib, &out, keep).got(P1).next_hop, nh4("198.19.2.77"));
    assert_eq!(rx(&rib, &out, normal).got(P1).next_hop, nh4(EBGP_SELF));

    // A route of our own has no next hop to keep: it gets ours.
    let out = rib.originate(net(P2), local(plain));
    assert_eq!(rx(&rib, &out, keep).got(P2).next_hop, nh4(EBGP_SELF));
}

#[test]
fn next_hop_self_on_an_ibgp_peer_sets_our_address_where_others_keep_the_next_hop() {
    let mut rib = rib(ASN, RID);
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");
    let n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "10.0.0.2");
    let nhs = up(
        &mut rib,
        PeerConfig {
            next_hop_self: true,
            ..ibgp("nhs", "10.0.0.3", false)
        },
        "10.0.0.3",
    );

    let out = rib.update(e1, &announce(&[P1], "198.19.2.1", &[65001], plain));

    assert_eq!(rx(&rib, &out, n1).got(P1).next_hop, nh4("198.19.2.1"));
    assert_eq!(rx(&rib, &out, nhs).got(P1).next_hop, nh4(IBGP_SELF));
}

#[test]
fn local_pref_received_from_an_ebgp_peer_is_stripped_on_import() {
    let mut rib = rib(ASN, RID);
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");
    let n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "10.0.0.2");
    let n2 = up(&mut rib, ibgp("n2", "10.0.0.3", false), "10.0.0.3");

    let out = rib.update(
        e1,
        &announce(&[P1], "198.19.2.1", &[65001], |a| a.local_pref = Some(500)),
    );
    assert_eq!(rib.best(net(P1)).unwrap().attrs().attrs.local_pref, None);
    assert_eq!(rx(&rib, &out, n1).got(P1).attrs.local_pref, Some(100));

    // So an internal path with LOCAL_PREF 150 beats it.
    rib.update(
        n2,
        &announce(&[P1], "10.0.0.3", &[65020], |a| a.local_pref = Some(150)),
    );
    let paths = rib.paths(net(P1));
    assert_eq!(paths[0].peer(), n2);
    assert_eq!(paths[1].peer(), e1);
    assert_eq!(rib.reasons(net(P1)), [None, Some(Reason::LocalPref)]);
}

// ---------------------------------------------------------------------------------------------
// 4. Well-known communities (RFC 1997)
// ---------------------------------------------------------------------------------------------

/// Sends P1 from e1 with `community` and returns what n1 (iBGP), c1 (client) and e2 (eBGP)
/// receive.
fn community_fanout(community: Community) -> (Rib, [Rx; 3]) {
    let mut rib = rib(ASN, RID);
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");
    let n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "10.0.0.2");
    let c1 = up(&mut rib, ibgp("c1", "10.0.0.11", true), "10.0.0.11");
    let e2 = up(&mut rib, ebgp("e2", "198.19.2.2", 65002), "198.19.2.2");
    let out = rib.update(
        e1,
        &announce(&[P1], "198.19.2.1", &[65001], |a| {
            a.communities = thin_vec![Community::new(65001, 5), community]
        }),
    );
    let got = [rx(&rib, &out, n1), rx(&rib, &out, c1), rx(&rib, &out, e2)];
    (rib, got)
}

#[test]
fn no_advertise_goes_to_no_peer_but_stays_in_the_rib() {
    let (rib, [n1, c1, e2]) = community_fanout(Community::NO_ADVERTISE);
    assert!(n1.is_empty());
    assert!(c1.is_empty());
    assert!(e2.is_empty());
    assert!(rib.best(net(P1)).is_some());
}

#[test]
fn no_export_goes_to_ibgp_peers_but_not_to_ebgp_peers() {
    let (_, [n1, c1, e2]) = community_fanout(Community::NO_EXPORT);
    assert!(e2.is_empty());
    for r in [n1, c1] {
        assert_eq!(
            r.got(P1).attrs.communities,
            [Community::new(65001, 5), Community::NO_EXPORT]
        );
    }
}

#[test]
fn no_export_subconfed_goes_to_ibgp_peers_but_not_to_ebgp_peers() {
    let (_, [n1, c1, e2]) = community_fanout(Community::NO_EXPORT_SUBCONFED);
    assert!(e2.is_empty());
    assert!(n1.announced(P1));
    assert!(c1.announced(P1));
}

#[test]
fn an_originated_no_export_route_is_not_sent_to_ebgp_peers() {
    let mut rib = rib(ASN, RID);
    let n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "10.0.0.2");
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");

    let out = rib.originate(
        net(P1),
        local(|a| a.communities = thin_vec![Community::NO_EXPORT]),
    );

    assert!(rx(&rib, &out, n1).announced(P1));
    assert!(rx(&rib, &out, e1).is_empty());
}

// ---------------------------------------------------------------------------------------------
// 5. AS-path loops
// ---------------------------------------------------------------------------------------------

#[test]
fn a_received_path_holding_our_as_is_rejected() {
    let mut rib = rib(ASN, RID);
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");
    let n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "10.0.0.2");

    let out = rib.update(
        e1,
        &announce(&[P1], "198.19.2.1", &[65001, ASN, 65020], plain),
    );
    assert!(out.is_empty());
    assert!(rib.paths(net(P1)).is_empty());
    assert_eq!(rib.rejected_count(e1), 1);
    assert_eq!(rib.prefix_count(e1), 0);

    // From an internal peer as well.
    rib.update(n1, &announce(&[P2], "10.0.0.2", &[65020, ASN], plain));
    assert!(rib.paths(net(P2)).is_empty());
    assert_eq!(rib.rejected_count(n1), 1);
}

#[test]
fn allow_local_as_one_accepts_one_occurrence_of_our_as_and_rejects_two() {
    let mut rib = rib(ASN, RID);
    let e1 = up(
        &mut rib,
        PeerConfig {
            allow_local_as: 1,
            ..ebgp("e1", "198.19.2.1", 65001)
        },
        "198.19.2.1",
    );
    let n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "10.0.0.2");

    let out = rib.update(e1, &announce(&[P1], "198.19.2.1", &[65001, ASN], plain));
    assert!(rx(&rib, &out, n1).announced(P1));
    assert_eq!(rib.paths(net(P1)).len(), 1);

    let twice = &[65001, ASN, 65005, ASN];
    rib.update(e1, &announce(&[P2], "198.19.2.1", twice, plain));
    assert!(rib.paths(net(P2)).is_empty());
    assert_eq!(rib.rejected_count(e1), 1);

    // A looped re-announcement of an accepted prefix withdraws it (RFC 4271 §9.1.2).
    let out = rib.update(e1, &announce(&[P1], "198.19.2.1", twice, plain));
    assert!(rx(&rib, &out, n1).withdrew(P1));
    assert!(rib.paths(net(P1)).is_empty());
    assert_eq!(rib.prefix_count(e1), 0);
    assert_eq!(rib.rejected_count(e1), 2);
}

#[test]
fn a_received_path_holding_the_peers_local_asn_override_is_rejected() {
    let mut rib = rib(ASN, RID);
    let e1 = up(
        &mut rib,
        PeerConfig {
            local_asn: 65100,
            ..ebgp("e1", "198.19.2.1", 65001)
        },
        "198.19.2.1",
    );

    rib.update(e1, &announce(&[P1], "198.19.2.1", &[65001, 65100], plain));

    assert!(rib.paths(net(P1)).is_empty());
    assert_eq!(rib.rejected_count(e1), 1);
}

#[test]
fn a_path_holding_an_ebgp_peers_as_is_not_sent_to_that_peer() {
    let mut rib = rib(ASN, RID);
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");
    let e2 = up(&mut rib, ebgp("e2", "198.19.2.2", 65002), "198.19.2.2");
    let e3 = up(&mut rib, ebgp("e3", "198.19.2.3", 65003), "198.19.2.3");

    let out = rib.update(e1, &announce(&[P1], "198.19.2.1", &[65001, 65002], plain));

    assert!(rx(&rib, &out, e2).is_empty());
    assert_eq!(
        rx(&rib, &out, e3).got(P1).attrs.as_path,
        Some(path(&[ASN, 65001, 65002]))
    );
    // Nor in e2's initial table after a reconnect.
    rib.peer_down(e2, false);
    let dump = reconnect(&mut rib, e2, "198.19.2.2", false);
    assert!(rx(&rib, &dump, e2).silent_on(P1));
}

// ---------------------------------------------------------------------------------------------
// 6. Decision process in the RIB
// ---------------------------------------------------------------------------------------------

#[test]
fn the_path_with_higher_local_pref_is_best_and_the_loser_reports_local_pref() {
    let mut rib = rib(ASN, RID);
    let n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "10.0.0.2");
    let n2 = up(&mut rib, ibgp("n2", "10.0.0.3", false), "10.0.0.3");
    let c1 = up(&mut rib, ibgp("c1", "10.0.0.11", true), "10.0.0.11");

    rib.update(
        n1,
        &announce(&[P1], "10.0.0.2", &[], |a| a.local_pref = Some(100)),
    );
    let out = rib.update(
        n2,
        &announce(&[P1], "10.0.0.3", &[65020, 65021], |a| {
            a.local_pref = Some(200)
        }),
    );

    let paths = rib.paths(net(P1));
    assert_eq!(paths.len(), 2);
    assert_eq!(paths[0].peer(), n2);
    assert_eq!(rib.best(net(P1)).unwrap().peer(), n2);
    assert_eq!(rib.reasons(net(P1)), [None, Some(Reason::LocalPref)]);
    let got = rx(&rib, &out, c1);
    assert_eq!(got.got(P1).attrs.local_pref, Some(200));
    assert_eq!(got.got(P1).attrs.originator_id, Some(v4("10.0.0.3")));
    assert_eq!(rib.stats().paths, 2);
    assert_eq!(rib.stats().prefixes, 1);
}

#[test]
fn the_path_with_the_shorter_as_path_is_best_and_the_loser_reports_as_path_length() {
    let mut rib = rib(ASN, RID);
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");
    let e2 = up(&mut rib, ebgp("e2", "198.19.2.2", 65002), "198.19.2.2");
    let n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "10.0.0.2");

    rib.update(e1, &announce(&[P1], "198.19.2.1", &[65001, 65010], plain));
    let out = rib.update(e2, &announce(&[P1], "198.19.2.2", &[65002], plain));

    assert_eq!(rib.best(net(P1)).unwrap().peer(), e2);
    let lost: Vec<_> = rib
        .paths(net(P1))
        .iter()
        .zip(rib.reasons(net(P1)))
        .map(|(p, r)| (p.peer(), r))
        .collect();
    assert_eq!(lost, [(e2, None), (e1, Some(Reason::AsPathLength))]);
    assert_eq!(rx(&rib, &out, n1).got(P1).next_hop, nh4("198.19.2.2"));
}

#[test]
fn withdrawing_the_best_path_announces_the_next_best_as_a_replacement() {
    let mut rib = rib(ASN, RID);
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");
    let e2 = up(&mut rib, ebgp("e2", "198.19.2.2", 65002), "198.19.2.2");
    let n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "10.0.0.2");
    rib.update(e1, &announce(&[P1], "198.19.2.1", &[65001], plain));
    rib.update(e2, &announce(&[P1], "198.19.2.2", &[65002, 65020], plain));
    assert_eq!(rib.best(net(P1)).unwrap().peer(), e1);

    let out = rib.update(e1, &withdraw(&[P1]));

    // n1 gets e2's path in place of e1's: an announcement, no withdrawal.
    let got = rx(&rib, &out, n1);
    assert_eq!(got.messages, 1);
    assert_eq!(got.got(P1).next_hop, nh4("198.19.2.2"));
    assert_eq!(got.got(P1).attrs.as_path, Some(path(&[65002, 65020])));
    assert!(sent_to(&rib, &out, n1)
        .iter()
        .all(|u| u.withdrawn.is_empty() && u.mp_unreach.is_none()));
    // e1 had nothing (its own path was best) and now gets e2's; e2 loses e1's.
    assert_eq!(
        rx(&rib, &out, e1).got(P1).attrs.as_path,
        Some(path(&[ASN, 65002, 65020]))
    );
    assert!(rx(&rib, &out, e2).withdrew(P1));
}

#[test]
fn the_peer_a_best_path_came_from_never_receives_it_back() {
    let mut lab = Lab::new(rib(ASN, RID));
    let c1 = lab.add(ibgp("c1", "10.0.0.11", true), false);
    let c2 = lab.add(ibgp("c2", "10.0.0.12", true), false);
    assert_eq!(lab.rib.group_of(c1), lab.rib.group_of(c2));

    let out = lab.update(c1, &announce(&[P1], "10.0.0.11", &[], plain));

    assert!(rx(&lab.rib, &out, c1).is_empty());
    assert!(rx(&lab.rib, &out, c2).announced(P1));
    // One group message that skips c1.
    assert_eq!(out.len(), 1);
    assert!(matches!(
        out[0].target,
        Target::Group { except, .. } if except.contains(&Some(c1))
    ));
    lab.check();
}

#[test]
fn when_the_best_moves_between_two_members_of_a_group_the_old_source_gets_the_new_path_and_the_new_source_a_withdrawal(
) {
    let mut lab = Lab::new(rib(ASN, RID));
    let c1 = lab.add(ibgp("c1", "10.0.0.11", true), false);
    let c2 = lab.add(ibgp("c2", "10.0.0.12", true), false);
    let n1 = lab.add(ibgp("n1", "10.0.0.2", false), false);
    let e1 = lab.add(ebgp("e1", "198.19.2.1", 65001), false);
    assert_eq!(lab.rib.group_of(c1), lab.rib.group_of(c2));

    lab.update(
        c1,
        &announce(&[P1], "10.0.0.11", &[], |a| a.local_pref = Some(100)),
    );
    lab.check();

    let out = lab.update(
        c2,
        &announce(&[P1], "10.0.0.12", &[], |a| a.local_pref = Some(200)),
    );
    assert_eq!(lab.rib.best(net(P1)).unwrap().peer(), c2);
    let to_c1 = rx(&lab.rib, &out, c1);
    assert_eq!(to_c1.got(P1).attrs.originator_id, Some(rid_of(c2)));
    assert_eq!(to_c1.got(P1).next_hop, nh4("10.0.0.12"));
    assert!(rx(&lab.rib, &out, c2).withdrew(P1));
    assert_eq!(
        rx(&lab.rib, &out, n1).got(P1).attrs.originator_id,
        Some(rid_of(c2))
    );
    // Towards eBGP both paths export to the same attributes: nothing to send.
    assert!(rx(&lab.rib, &out, e1).is_empty());
    lab.check();

    // And back when c2 withdraws.
    let out = lab.update(c2, &withdraw(&[P1]));
    assert!(rx(&lab.rib, &out, c1).withdrew(P1));
    assert_eq!(
        rx(&lab.rib, &out, c2).got(P1).attrs.originator_id,
        Some(rid_of(c1))
    );
    lab.check();
}

#[test]
fn two_ebgp_peers_of_one_as_share_a_group_and_never_receive_each_others_paths() {
    let mut lab = Lab::new(rib(ASN, RID));
    let e1 = lab.add(ebgp("e1", "198.19.2.1", 65001), false);
    let e2 = lab.add(ebgp("e2", "198.19.2.2", 65001), false);
    let n1 = lab.add(ibgp("n1", "10.0.0.2", false), false);
    assert_eq!(lab.rib.group_of(e1), lab.rib.group_of(e2));

    lab.update(e1, &announce(&[P1], "198.19.2.1", &[65001, 65010], plain));
    let out = lab.update(e2, &announce(&[P1], "198.19.2.2", &[65001], plain));

    assert_eq!(lab.rib.best(net(P1)).unwrap().peer(), e2);
    assert!(rx(&lab.rib, &out, e1).is_empty());
    assert!(rx(&lab.rib, &out, e2).is_empty());
    assert_eq!(rx(&lab.rib, &out, n1).got(P1).next_hop, nh4("198.19.2.2"));
    lab.check();
}

#[test]
fn a_change_that_does_not_move_the_best_path_sends_nothing() {
    let mut rib = rib(ASN, RID);
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");
    let e2 = up(&mut rib, ebgp("e2", "198.19.2.2", 65002), "198.19.2.2");
    let _n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "10.0.0.2");
    rib.update(e1, &announce(&[P1], "198.19.2.1", &[65001], plain));

    // A worse path arrives, changes, and goes: the best stays e1's throughout.
    assert!(rib
        .update(e2, &announce(&[P1], "198.19.2.2", &[65002, 65020], plain))
        .is_empty());
    assert!(rib
        .update(
            e2,
            &announce(&[P1], "198.19.2.2", &[65002, 65020, 65021], plain)
        )
        .is_empty());
    assert!(rib.update(e2, &withdraw(&[P1])).is_empty());
    // The same path again from its source.
    assert!(rib
        .update(e1, &announce(&[P1], "198.19.2.1", &[65001], plain))
        .is_empty());
    assert_eq!(rib.paths(net(P1)).len(), 1);
}

// ---------------------------------------------------------------------------------------------
// 7. Peer down and Graceful Restart (RFC 4724)
// ---------------------------------------------------------------------------------------------

/// e1 (Graceful Restart as given) with P1, P2, P3 and the IPv6 P6; e2 with a worse path for P3
/// and 10.4.0.0/24; n1 observes.
struct Gr {
    lab: Lab,
    e1: PeerId,
    e2: PeerId,
    n1: PeerId,
}

fn gr(graceful_restart: bool) -> Gr {
    let mut lab = Lab::new(rib(ASN, RID));
    let e1 = lab.add(ebgp("e1", "198.19.2.1", 65001), graceful_restart);
    let e2 = lab.add(ebgp("e2", "198.19.2.2", 65002), false);
    let n1 = lab.add(ibgp("n1", "10.0.0.2", false), false);
    lab.update(e1, &announce(&[P1, P2, P3], "198.19.2.1", &[65001], plain));
    lab.update(e1, &announce(&[P6], "2001:db8::1", &[65001], plain));
    lab.update(e2, &announce(&[P3], "198.19.2.2", &[65002, 65020], plain));
    lab.update(
        e2,
        &announce(&["10.4.0.0/24"], "198.19.2.2", &[65002], plain),
    );
    lab.check();
    Gr { lab, e1, e2, n1 }
}

#[test]
fn peer_down_without_graceful_withdraws_its_prefixes_and_leaves_the_others_alone() {
    let Gr {
        mut lab,
        e1,
        e2,
        n1,
    } = gr(true);

    let (out, kept) = lab.rib.peer_down(e1, false);
    lab.views.remove(&e1);
    lab.apply(&out);

    assert!(!kept);
    let got = rx(&lab.rib, &out, n1);
    assert!(got.withdrew(P1));
    assert!(got.withdrew(P2));
    assert!(got.withdrew(P6));
    // P3 falls back to e2's path, 10.4/24 is untouched.
    assert_eq!(got.got(P3).next_hop, nh4("198.19.2.2"));
    assert!(got.silent_on("10.4.0.0/24"));
    assert_eq!(lab.rib.prefix_count(e1), 0);
    assert!(lab.rib.adj_rib_in(e1).is_empty());
    assert_eq!(lab.rib.prefix_count(e2), 2);
    assert!(lab.rib.paths(net(P1)).is_empty());
    assert_eq!(lab.rib.session(e1), None);
    assert_eq!(lab.rib.group_of(e1), None);
    lab.check();
}

#[test]
fn graceful_peer_down_keeps_the_paths_as_stale_and_withdraws_nothing() {
    let Gr { mut lab, e1, .. } = gr(true);

    let (out, kept) = lab.rib.peer_down(e1, true);

    assert!(kept);
    assert!(out.is_empty());
    lab.views.remove(&e1);
    for p in [P1, P2, P3, P6] {
        let best = lab.rib.best(net(p)).unwrap();
        assert_eq!(best.peer(), e1);
        assert!(best.is_stale(), "{p}");
    }
    assert_eq!(lab.rib.prefix_count(e1), 4);
    assert!(lab.rib.adj_rib_in(e1).iter().all(|(_, p)| p.is_stale()));
    lab.check();
}

#[test]
fn end_of_rib_after_a_restart_removes_exactly_the_stale_paths_not_announced_again() {
    let Gr {
        mut lab,
        e1,
        e2,
        n1,
    } = gr(true);
    assert!(lab.down(e1, true));
    lab.up(e1, true);

    // P1 again unchanged (no update needed), P3 again with a MED (a change inside the AS).
    let out = lab.update(e1, &announce(&[P1], "198.19.2.1", &[65001], plain));
    assert!(out.is_empty());
    let out = lab.update(
        e1,
        &announce(&[P3], "198.19.2.1", &[65001], |a| a.med = Some(5)),
    );
    assert_eq!(rx(&lab.rib, &out, n1).got(P3).attrs.med, Some(5));
    assert!(!lab.rib.best(net(P1)).unwrap().is_stale());
    assert!(lab.rib.best(net(P2)).unwrap().is_stale());
    lab.check();

    let out = lab.rib.end_of_rib(e1, Family::IPV4_UNICAST);
    lab.apply(&out);
    let got = rx(&lab.rib, &out, n1);
    assert_eq!(got.routes.len(), 1);
    assert!(got.withdrew(P2));
    assert!(lab.rib.paths(net(P2)).is_empty());
    assert_eq!(lab.rib.best(net(P1)).unwrap().peer(), e1);
    assert_eq!(lab.rib.best(net(P3)).unwrap().peer(), e1);
    // The IPv6 path waits for the IPv6 End-of-RIB.
    assert!(lab.rib.best(net(P6)).unwrap().is_stale());
    assert!(rx(&lab.rib, &out, e2).silent_on(P6));
    lab.check();

    lab.end_of_rib(e1, Family::IPV6_UNICAST);
    assert!(lab.rib.paths(net(P6)).is_empty());
    let mut adj: Vec<IpNet> = lab.rib.adj_rib_in(e1).iter().map(|(n, _)| *n).collect();
    adj.sort();
    assert_eq!(adj, [net(P1), net(P3)]);
    assert!(lab.rib.adj_rib_in(e1).iter().all(|(_, p)| !p.is_stale()));
    lab.check();
}

#[test]
fn sweep_stale_removes_every_stale_path() {
    let Gr {
        mut lab, e1, n1, ..
    } = gr(true);
    assert!(lab.down(e1, true));

    let out = lab.rib.sweep_stale(e1);
    lab.apply(&out);

    let got = rx(&lab.rib, &out, n1);
    assert!(got.withdrew(P1) && got.withdrew(P2) && got.withdrew(P6));
    assert_eq!(got.got(P3).next_hop, nh4("198.19.2.2"));
    assert_eq!(lab.rib.prefix_count(e1), 0);
    assert!(lab
        .rib
        .routes()
        .all(|(_, paths)| paths.iter().all(|p| !p.is_stale())));
    lab.check();
}

#[test]
fn graceful_peer_down_of_a_peer_without_the_graceful_restart_capability_flushes_its_paths() {
    let Gr {
        mut lab, e1, n1, ..
    } = gr(false);

    let (out, kept) = lab.rib.peer_down(e1, true);
    lab.views.remove(&e1);
    lab.apply(&out);

    assert!(!kept);
    assert!(rx(&lab.rib, &out, n1).withdrew(P1));
    assert_eq!(lab.rib.prefix_count(e1), 0);
    lab.check();
}

// ---------------------------------------------------------------------------------------------
// 8. Initial table on peer up
// ---------------------------------------------------------------------------------------------

#[test]
fn peer_up_sends_the_table_through_the_groups_export_rules_then_end_of_rib_per_family() {
    let mut rib = rib(ASN, RID);
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");
    let n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "10.0.0.2");
    rib.originate(net(P1), local(plain));
    rib.update(
        e1,
        &announce(&[P2], "198.19.2.1", &[65001], |a| a.med = Some(3)),
    );
    rib.update(e1, &announce(&[P6], "2001:db8::1", &[65001], plain));
    rib.update(n1, &announce(&[P3], "10.0.0.2", &[], plain));

    let n2 = rib.add_peer(ibgp("n2", "10.0.0.3", false));
    let dump = rib.peer_up(n2, session("10.0.0.3", IBGP_SELF));

    assert!(dump.iter().all(|o| o.target == Target::Peer(n2)));
    let got = rx(&rib, &dump, n2);
    assert_eq!(got.routes.len(), 3);
    assert_eq!(got.got(P1).next_hop, nh4(IBGP_SELF));
    assert_eq!(got.got(P1).attrs.local_pref, Some(100));
    assert_eq!(got.got(P2).next_hop, nh4("198.19.2.1"));
    assert_eq!(got.got(P2).attrs.med, Some(3));
    assert_eq!(got.got(P6).next_hop, nh6("2001:db8::1"));
    assert!(got.silent_on(P3), "iBGP split horizon");
    assert_eq!(got.eor, [Family::IPV4_UNICAST, Family::IPV6_UNICAST]);
    let tail: Vec<_> = dump
        .iter()
        .rev()
        .take(2)
        .map(|o| o.update.as_end_of_rib())
        .collect();
    assert_eq!(
        tail,
        [Some(Family::IPV6_UNICAST), Some(Family::IPV4_UNICAST)],
        "End-of-RIB comes after the routes"
    );

    // An eBGP peer gets the same table through its own rules.
    let e2 = rib.add_peer(ebgp("e2", "198.19.2.2", 65002));
    let dump = rib.peer_up(e2, session("198.19.2.2", EBGP_SELF));
    let got = rx(&rib, &dump, e2);
    assert_eq!(got.got(P2).attrs.as_path, Some(path(&[ASN, 65001])));
    assert_eq!(got.got(P2).attrs.med, None);
    assert_eq!(got.got(P3).next_hop, nh4(EBGP_SELF));
    assert_eq!(got.got(P6).next_hop, nh6(SELF6));
}

#[test]
fn peer_up_of_an_ipv4_only_session_sends_no_ipv6_routes_and_one_end_of_rib() {
    let mut rib = rib(ASN, RID);
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");
    rib.update(e1, &announce(&[P1], "198.19.2.1", &[65001], plain));
    rib.update(e1, &announce(&[P6], "2001:db8::1", &[65001], plain));

    let n1 = rib.add_peer(ibgp("n1", "10.0.0.2", false));
    let dump = rib.peer_up(
        n1,
        SessionInfo {
            families: vec![Family::IPV4_UNICAST],
            self_v6: None,
            ..session("10.0.0.2", IBGP_SELF)
        },
    );

    let got = rx(&rib, &dump, n1);
    assert!(got.announced(P1));
    assert!(got.silent_on(P6));
    assert_eq!(got.eor, [Family::IPV4_UNICAST]);

    // Nor later.
    let out = rib.update(
        e1,
        &announce(&["2001:db8:2::/48"], "2001:db8::1", &[65001], plain),
    );
    assert!(rx(&rib, &out, n1).is_empty());
}

#[test]
fn peer_up_does_not_send_a_peer_its_own_paths() {
    let Gr { mut lab, e1, .. } = gr(true);
    assert!(lab.down(e1, true));

    let dump = reconnect(&mut lab.rib, e1, &rid_str(e1), true);

    let got = rx(&lab.rib, &dump, e1);
    // e1's stale paths are still best for P1, P2, P3 and P6: none of them goes back.
    for p in [P1, P2, P3, P6] {
        assert!(got.silent_on(p), "{p}");
    }
    assert_eq!(
        got.got("10.4.0.0/24").attrs.as_path,
        Some(path(&[ASN, 65002]))
    );
    assert_eq!(got.eor, [Family::IPV4_UNICAST, Family::IPV6_UNICAST]);
    lab.views.insert(e1, BTreeMap::new());
    lab.apply(&dump);
    lab.check();
}

// ---------------------------------------------------------------------------------------------
// 9. max_prefixes
// ---------------------------------------------------------------------------------------------

#[test]
fn over_max_prefixes_is_none_at_the_limit_and_the_limit_above_it() {
    let mut rib = rib(ASN, RID);
    let e1 = up(
        &mut rib,
        PeerConfig {
            max_prefixes: Some(3),
            ..ebgp("e1", "198.19.2.1", 65001)
        },
        "198.19.2.1",
    );
    let n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "10.0.0.2");

    rib.update(e1, &announce(&[P1, P2, P3], "198.19.2.1", &[65001], plain));
    assert_eq!(rib.prefix_count(e1), 3);
    assert_eq!(rib.over_max_prefixes(e1), None);

    // Rejected paths do not count.
    rib.update(
        e1,
        &announce(&["10.5.0.0/24"], "198.19.2.1", &[65001, ASN], plain),
    );
    assert_eq!(rib.over_max_prefixes(e1), None);

    rib.update(
        e1,
        &announce(&["10.4.0.0/24"], "198.19.2.1", &[65001], plain),
    );
    assert_eq!(rib.prefix_count(e1), 4);
    assert_eq!(rib.over_max_prefixes(e1), Some(3));

    rib.update(e1, &withdraw(&[P1]));
    assert_eq!(rib.over_max_prefixes(e1), None);
    assert_eq!(rib.over_max_prefixes(n1), None, "no limit configured");
}

// ---------------------------------------------------------------------------------------------
// 10. Interning and packing
// ---------------------------------------------------------------------------------------------

#[test]
fn a_thousand_prefixes_in_one_update_share_one_attribute_set_and_go_out_packed() {
    let mut rib = rib(ASN, RID);
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");
    let n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "10.0.0.2");
    let e2 = up(&mut rib, ebgp("e2", "198.19.2.2", 65002), "198.19.2.2");
    let names: Vec<String> = (0..1000)
        .map(|i| format!("172.{}.{}.0/24", 16 + i / 256, i % 256))
        .collect();
    let prefixes: Vec<&str> = names.iter().map(String::as_str).collect();

    let out = rib.update(e1, &announce(&prefixes, "198.19.2.1", &[65001], plain));

    let first = rib.best(net(prefixes[0])).unwrap().attrs().clone();
    for p in &prefixes {
        assert!(
            Arc::ptr_eq(rib.best(net(p)).unwrap().attrs(), &first),
            "{p}"
        );
    }
    let stats = rib.stats();
    assert_eq!(stats.prefixes, 1000);
    assert_eq!(stats.paths, 1000);
    // The received set and one exported set per group.
    assert!(stats.attr_sets <= 3, "{stats:?}");
    assert!(out.len() < 1000);
    for p in [n1, e2] {
        let got = rx(&rib, &out, p);
        assert_eq!(got.routes.len(), 1000);
        assert_eq!(got.messages, 1000usize.div_ceil(outbox::IPV4_PER_UPDATE));
    }

    // Withdrawals are packed the same way.
    let out = rib.update(e1, &withdraw(&prefixes));
    let got = rx(&rib, &out, n1);
    assert_eq!(got.routes.values().filter(|r| r.is_none()).count(), 1000);
    assert_eq!(got.messages, 1000usize.div_ceil(outbox::IPV4_PER_UPDATE));
    assert_eq!(rib.stats().prefixes, 0);
}

#[test]
fn equal_attributes_from_two_peers_are_one_attribute_set() {
    let mut rib = rib(ASN, RID);
    let n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "10.0.0.2");
    let n2 = up(&mut rib, ibgp("n2", "10.0.0.3", false), "10.0.0.3");

    rib.update(n1, &announce(&[P1], "10.0.0.9", &[65010], plain));
    rib.update(n2, &announce(&[P2], "10.0.0.9", &[65010], plain));

    let a = rib.best(net(P1)).unwrap().attrs();
    let b = rib.best(net(P2)).unwrap().attrs();
    assert!(Arc::ptr_eq(a, b));
}

// ---------------------------------------------------------------------------------------------
// 11. IPv6
// ---------------------------------------------------------------------------------------------

#[test]
fn an_ipv6_prefix_from_ebgp_goes_to_another_ebgp_peer_over_mp_reach_with_our_ipv6_next_hop() {
    let mut rib = rib(ASN, RID);
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");
    let e2 = up(&mut rib, ebgp("e2", "198.19.2.2", 65002), "198.19.2.2");

    let out = rib.update(e1, &announce(&[P6], "2001:db8::1", &[65001], plain));

    assert_eq!(
        rib.best(net(P6)).unwrap().attrs().next_hop,
        nh6("2001:db8::1")
    );
    let sent = sent_to(&rib, &out, e2);
    assert_eq!(sent.len(), 1);
    let u = &sent[0];
    assert!(u.nlri.is_empty());
    assert_eq!(u.attrs.next_hop, None);
    assert_eq!(u.attrs.as_path, Some(path(&[ASN, 65001])));
    assert_eq!(
        u.mp_reach,
        Some(MpReach {
            family: Family::IPV6_UNICAST,
            next_hop: nh6(SELF6).unwrap(),
            nlri: vec![Nlri::new(net(P6))],
        })
    );

    let out = rib.update(e1, &withdraw(&[P6]));
    let sent = sent_to(&rib, &out, e2);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].withdrawn.is_empty());
    assert_eq!(
        sent[0].mp_unreach,
        Some(MpUnreach {
            family: Family::IPV6_UNICAST,
            nlri: vec![Nlri::new(net(P6))],
        })
    );
    assert!(rib.paths(net(P6)).is_empty());
}

#[test]
fn an_ipv6_prefix_from_ebgp_goes_to_ibgp_peers_with_its_next_hop() {
    let mut rib = rib(ASN, RID);
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");
    let n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "10.0.0.2");

    let out = rib.update(e1, &announce(&[P6], "2001:db8::1", &[65001], plain));

    let a = rx(&rib, &out, n1).got(P6).clone();
    assert_eq!(a.next_hop, nh6("2001:db8::1"));
    assert_eq!(a.attrs.local_pref, Some(100));
}

#[test]
fn a_link_local_next_hop_is_not_passed_on_to_internal_peers() {
    let mut rib = rib(ASN, RID);
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");
    let n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "10.0.0.2");
    let mut u = announce(&[P6], "2001:db8::1", &[65001], plain);
    if let Some(mp) = &mut u.mp_reach {
        mp.next_hop = NextHop::V6 {
            global: v6("2001:db8::1"),
            link_local: Some(v6("fe80::1")),
        };
    }

    let out = rib.update(e1, &u);

    // e1's link-local address means nothing to n1, which is not on e1's link.
    assert_eq!(rx(&rib, &out, n1).got(P6).next_hop, nh6("2001:db8::1"));
}

#[test]
fn originated_ipv4_and_ipv6_prefixes_with_equal_attributes_each_get_their_own_family_next_hop() {
    let mut rib = rib(ASN, RID);
    rib.originate(net(P1), local(plain));
    rib.originate(net(P6), local(plain));
    assert!(Arc::ptr_eq(
        rib.best(net(P1)).unwrap().attrs(),
        rib.best(net(P6)).unwrap().attrs()
    ));

    // The initial table exports both in one operation.
    for config in [
        ibgp("n1", "10.0.0.2", false),
        ebgp("e1", "198.19.2.1", 65001),
    ] {
        let self_v4 = self_for(&config);
        let p = rib.add_peer(config);
        let dump = rib.peer_up(p, session("9.9.9.9", self_v4));
        let got = rx(&rib, &dump, p);
        assert_eq!(got.got(P1).next_hop, nh4(self_v4), "peer {p}");
        assert_eq!(got.got(P6).next_hop, nh6(SELF6), "peer {p}");
        for u in sent_to(&rib, &dump, p) {
            if let Some(mp) = &u.mp_reach {
                assert!(matches!(mp.next_hop, NextHop::V6 { .. }), "{u:?}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 12. Withdrawals of unknown prefixes
// ---------------------------------------------------------------------------------------------

#[test]
fn a_withdrawal_of_a_prefix_the_peer_never_sent_changes_nothing() {
    let mut rib = rib(ASN, RID);
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");
    let e2 = up(&mut rib, ebgp("e2", "198.19.2.2", 65002), "198.19.2.2");
    let _n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "10.0.0.2");
    rib.update(e1, &announce(&[P1], "198.19.2.1", &[65001], plain));
    let before = rib.stats();

    assert!(rib.update(e2, &withdraw(&[P1])).is_empty());
    assert!(rib.update(e2, &withdraw(&[P2, P6])).is_empty());
    assert!(rib.withdraw_originated(net(P3)).is_empty());
    assert!(rib.end_of_rib(e2, Family::IPV4_UNICAST).is_empty());
    assert!(rib.sweep_stale(e2).is_empty());

    assert_eq!(rib.stats(), before);
    assert_eq!(rib.best(net(P1)).unwrap().peer(), e1);
    assert_eq!(rib.prefix_count(e2), 0);
    assert_eq!(rib.rejected_count(e2), 0);
}

// ---------------------------------------------------------------------------------------------
// Several changes to one prefix in one UPDATE
// ---------------------------------------------------------------------------------------------

#[test]
fn a_prefix_both_withdrawn_and_announced_in_one_update_leaves_every_peer_consistent() {
    let mut lab = Lab::new(rib(ASN, RID));
    let c1 = lab.add(ibgp("c1", "10.0.0.11", true), false);
    let _c2 = lab.add(ibgp("c2", "10.0.0.12", true), false);
    let e1 = lab.add(ebgp("e1", "198.19.2.1", 65001), false);
    let _n1 = lab.add(ibgp("n1", "10.0.0.2", false), false);
    lab.update(
        c1,
        &announce(&[P1], "10.0.0.11", &[], |a| a.local_pref = Some(200)),
    );
    lab.update(e1, &announce(&[P1], "198.19.2.1", &[65001], plain));
    lab.check();

    // c1 sends P1 as withdrawn and announced in one UPDATE (RFC 4271 §4.3: treat it as announced).
    let mut u = announce(&[P1], "10.0.0.11", &[], |a| a.local_pref = Some(300));
    u.withdrawn = vec![Nlri::new(net(P1))];
    let out = lab.update(c1, &u);

    assert_eq!(lab.rib.best(net(P1)).unwrap().peer(), c1);
    // c1's own path is best: c1 must end up with nothing for P1, not e1's path.
    assert!(
        !rx(&lab.rib, &out, c1).announced(P1),
        "c1 was sent {:?}",
        sent_to(&lab.rib, &out, c1)
    );
    lab.check();
}

// ---------------------------------------------------------------------------------------------
// Property: after any sequence of operations, what each peer was sent is the export of the best
// paths, and the first path of every prefix is the one the decision process selects.
// ---------------------------------------------------------------------------------------------

/// The peers of the property test: (configuration, advertises Graceful Restart).
fn lab_peers() -> Vec<(PeerConfig, bool)> {
    vec![
        (ibgp("c1", "10.0.0.11", true), true),
        (ibgp("c2", "10.0.0.12", true), false),
        (ibgp("n1", "10.0.0.2", false), true),
        (ebgp("e1", "198.19.2.1", 65001), true),
        (ebgp("e2", "198.19.2.2", 65001), false),
        (ebgp("e3", "198.19.2.3", 65002), true),
        (
            PeerConfig {
                next_hop_self: true,
                ..ibgp("nhs", "10.0.0.3", false)
            },
            false,
        ),
        (
            PeerConfig {
                local_asn: 65100,
                allow_local_as: 1,
                ..ebgp("e4", "198.19.2.4", 65003)
            },
            false,
        ),
    ]
}

const LAB_PREFIXES: [&str; 4] = [P1, P2, P3, P6];

#[derive(Debug, Clone)]
enum Step {
    Announce {
        peer: usize,
        prefixes: Vec<usize>,
        local_pref: u32,
        extra_asns: usize,
        med: Option<u32>,
        no_export: bool,
        looped: bool,
    },
    Withdraw {
        peer: usize,
        prefixes: Vec<usize>,
    },
    Down {
        peer: usize,
        graceful: bool,
    },
    Up {
        peer: usize,
    },
    EndOfRib {
        peer: usize,
        v6: bool,
    },
    Sweep {
        peer: usize,
    },
    Originate {
        prefix: usize,
        med: u32,
    },
    StopOriginating {
        prefix: usize,
    },
}

fn arb_step() -> impl Strategy<Value = Step> {
    let peer = 0..lab_peers().len();
    let prefixes = proptest::collection::vec(0..4usize, 1..3);
    prop_oneof![
        4 => (
            peer.clone(),
            prefixes.clone(),
            prop_oneof![Just(100u32), Just(200)],
            0..3usize,
            proptest::option::of(0..3u32),
            proptest::bool::weighted(0.15),
            proptest::bool::weighted(0.1),
        )
            .prop_map(
                |(peer, prefixes, local_pref, extra_asns, med, no_export, looped)| {
                    Step::Announce {
                        peer,
                        prefixes,
                        local_pref,
                        extra_asns,
                        med,
                        no_export,
                        looped,
                    }
                }
            ),
        2 => (peer.clone(), prefixes).prop_map(|(peer, prefixes)| Step::Withdraw { peer, prefixes }),
        1 => (peer.clone(), any::<bool>()).prop_map(|(peer, graceful)| Step::Down { peer, graceful }),
        1 => peer.clone().prop_map(|peer| Step::Up { peer }),
        1 => (peer.clone(), any::<bool>()).prop_map(|(peer, v6)| Step::EndOfRib { peer, v6 }),
        1 => peer.prop_map(|peer| Step::Sweep { peer }),
        1 => (0..4usize, 0..3u32).prop_map(|(prefix, med)| Step::Originate { prefix, med }),
        1 => (0..4usize).prop_map(|prefix| Step::StopOriginating { prefix }),
    ]
}

/// Runs `steps` against a [`Lab`] with [`lab_peers`], checking after each one.
fn run_steps(steps: &[Step]) {
    let mut lab = Lab::new(rib(ASN, RID));
    let peers = lab_peers();
    let mut ids = Vec::new();
    for (config, gr) in &peers {
        let p = lab.rib.add_peer(config.clone());
        lab.up(p, *gr);
        ids.push(p);
    }
    lab.check();
    for step in steps {
        match step.clone() {
            Step::Announce {
                peer,
                prefixes,
                local_pref,
                extra_asns,
                med,
                no_export,
                looped,
            } => {
                let p = ids[peer];
                if !lab.views.contains_key(&p) {
                    continue;
                }
                let config = &peers[peer].0;
                let mut asns = Vec::new();
                if config.is_ebgp() {
                    asns.push(config.remote_asn);
                }
                asns.extend((0..extra_asns).map(|i| 65010 + i as u32));
                if looped {
                    // Rejected (twice our AS is over any allow_local_as here): a withdrawal.
                    asns.extend([ASN, 65100, ASN, 65100]);
                }
                let extra = |a: &mut PathAttributes| {
                    a.local_pref = Some(local_pref);
                    a.med = med;
                    if no_export {
                        a.communities = thin_vec![Community::NO_EXPORT];
                    }
                };
                let (v4s, v6s): (Vec<&str>, Vec<&str>) = prefixes
                    .iter()
                    .map(|&i| LAB_PREFIXES[i])
                    .partition(|s| s.contains('.'));
                let addr = match config.address {
                    IpAddr::V4(a) => a,
                    IpAddr::V6(_) => unreachable!(),
                };
                if !v4s.is_empty() {
                    lab.update(p, &announce(&v4s, &addr.to_string(), &asns, extra));
                }
                if !v6s.is_empty() {
                    let nh = format!("2001:db8::{}", addr.octets()[3]);
                    lab.update(p, &announce(&v6s, &nh, &asns, extra));
                }
            }
            Step::Withdraw { peer, prefixes } => {
                let p = ids[peer];
                if lab.views.contains_key(&p) {
                    let names: Vec<&str> = prefixes.iter().map(|&i| LAB_PREFIXES[i]).collect();
                    lab.update(p, &withdraw(&names));
                }
            }
            Step::Down { peer, graceful } => {
                let p = ids[peer];
                if lab.views.contains_key(&p) {
                    let had_paths = lab.rib.prefix_count(p) > 0;
                    let kept = lab.down(p, graceful);
                    assert_eq!(kept, graceful && peers[peer].1 && had_paths);
                }
            }
            Step::Up { peer } => {
                let p = ids[peer];
                if !lab.views.contains_key(&p) {
                    lab.up(p, peers[peer].1);
                }
            }
            Step::EndOfRib { peer, v6 } => {
                let p = ids[peer];
                if lab.views.contains_key(&p) {
                    let f = if v6 {
                        Family::IPV6_UNICAST
                    } else {
                        Family::IPV4_UNICAST
                    };
                    lab.end_of_rib(p, f);
                }
            }
            Step::Sweep { peer } => lab.sweep(ids[peer]),
            Step::Originate { prefix, med } => {
                // IPv6 originations carry a community of their own so that no attribute set is
                // shared between the families (see the ignored test
                // originated_ipv4_and_ipv6_prefixes_with_equal_attributes_each_get_their_own_family_next_hop).
                let v6_only = LAB_PREFIXES[prefix].contains(':');
                lab.originate(
                    LAB_PREFIXES[prefix],
                    local(|a| {
                        a.med = Some(med);
                        if v6_only {
                            a.communities = thin_vec![Community::new(65000, 6)];
                        }
                    }),
                )
            }
            Step::StopOriginating { prefix } => lab.withdraw_originated(LAB_PREFIXES[prefix]),
        }
        lab.check();
        for (i, &p) in ids.iter().enumerate() {
            let adj = lab.rib.adj_rib_in(p);
            assert_eq!(adj.len(), lab.rib.prefix_count(p), "peer {i}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn after_any_sequence_of_operations_every_peer_holds_the_export_of_the_best_paths(
        steps in proptest::collection::vec(arb_step(), 1..40)
    ) {
        run_steps(&steps);
    }
}

#[test]
fn multipath_keeps_paths_equal_up_to_igp_cost_and_drops_a_longer_as_path() {
    let mut r = Rib::new(Global {
        asn: 64512,
        router_id: v4("198.51.100.1"),
        cluster_id: v4("198.51.100.1"),
        best: Options {
            multipath: true,
            ..Options::default()
        },
    });
    let a = up(&mut r, ebgp("a", "198.18.0.2", 65001), "198.18.0.2");
    let b = up(&mut r, ebgp("b", "198.18.1.2", 65001), "198.18.1.2");
    let c = up(&mut r, ebgp("c", "198.18.2.2", 65002), "198.18.2.2");
    r.update(
        a,
        &announce(&["203.0.113.0/24"], "198.18.0.2", &[65001, 65010], plain),
    );
    r.update(
        b,
        &announce(&["203.0.113.0/24"], "198.18.1.2", &[65001, 65010], plain),
    );
    r.update(
        c,
        &announce(
            &["203.0.113.0/24"],
            "198.18.2.2",
            &[65002, 65020, 65010],
            plain,
        ),
    );
    let set: Vec<PeerId> = r
        .multipath(net("203.0.113.0/24"))
        .iter()
        .map(|p| p.peer())
        .collect();
    assert_eq!(set.len(), 2, "{set:?}");
    assert!(set.contains(&a) && set.contains(&b) && !set.contains(&c));
}

#[test]
fn without_multipath_only_the_best_path_goes_to_the_kernel() {
    let mut r = rib(64512, "198.51.100.1");
    let a = up(&mut r, ebgp("a", "198.18.0.2", 65001), "198.18.0.2");
    let b = up(&mut r, ebgp("b", "198.18.1.2", 65001), "198.18.1.2");
    r.update(
        a,
        &announce(&["203.0.113.0/24"], "198.18.0.2", &[65001], plain),
    );
    r.update(
        b,
        &announce(&["203.0.113.0/24"], "198.18.1.2", &[65001], plain),
    );
    assert_eq!(r.multipath(net("203.0.113.0/24")).len(), 1);
}

#[test]
fn only_families_listed_in_the_restart_capability_keep_stale_paths() {
    let mut r = rib(64512, "198.51.100.1");
    let a = r.add_peer(ebgp("a", "198.18.0.2", 65001));
    let s = SessionInfo {
        graceful_restart: true,
        restart_families: vec![(Family::IPV6_UNICAST, true)],
        ..session("198.18.0.2", EBGP_SELF)
    };
    r.peer_up(a, s);
    r.update(
        a,
        &announce(&["203.0.113.0/24"], "198.18.0.2", &[65001], plain),
    );
    let (_, kept) = r.peer_down(a, true);
    assert!(!kept, "IPv4 is not listed, so nothing is kept");
    assert!(r.paths(net("203.0.113.0/24")).is_empty());
}

#[test]
fn a_peer_back_without_the_forwarding_state_bit_loses_its_stale_paths_at_once() {
    let mut r = rib(64512, "198.51.100.1");
    let a = r.add_peer(ebgp("a", "198.18.0.2", 65001));
    let gr = |forwarding| SessionInfo {
        graceful_restart: true,
        restart_families: vec![(Family::IPV4_UNICAST, forwarding)],
        ..session("198.18.0.2", EBGP_SELF)
    };
    r.peer_up(a, gr(true));
    r.update(
        a,
        &announce(&["203.0.113.0/24"], "198.18.0.2", &[65001], plain),
    );
    let (_, kept) = r.peer_down(a, true);
    assert!(kept);
    assert!(r.paths(net("203.0.113.0/24"))[0].is_stale());
    r.peer_up(a, gr(false));
    assert!(
        r.paths(net("203.0.113.0/24")).is_empty(),
        "F bit clear: no End-of-RIB wait"
    );
}

/// (prefix, path id, announced?) for every NLRI `peer` receives in `out`.
fn add_path_rx(rib: &Rib, out: &[Output], peer: PeerId) -> Vec<(IpNet, Option<u32>, bool)> {
    let mut v = Vec::new();
    for u in sent_to_raw(rib, out, peer) {
        for n in &u.withdrawn {
            v.push((n.prefix, n.path_id, false));
        }
        for n in &u.nlri {
            v.push((n.prefix, n.path_id, true));
        }
    }
    v
}

/// Like `sent_to`, without the encode check (ADD-PATH NLRI need an ADD-PATH context).
fn sent_to_raw(rib: &Rib, out: &[Output], peer: PeerId) -> Vec<Update> {
    out.iter()
        .filter(|o| reaches(rib, o, peer))
        .map(|o| o.update.clone())
        .collect()
}

fn add_path_session(rid: &str) -> SessionInfo {
    SessionInfo {
        add_path_tx: vec![Family::IPV4_UNICAST],
        ..session(rid, IBGP_SELF)
    }
}

#[test]
fn an_add_path_peer_gets_every_path_with_its_own_identifier_and_not_its_own_path() {
    let mut r = rib(64512, "198.51.100.1");
    let a = up(&mut r, ebgp("a", "198.18.0.2", 65001), "198.18.0.2");
    let b = up(&mut r, ebgp("b", "198.18.1.2", 65002), "198.18.1.2");
    let c = r.add_peer(ibgp("c", "198.18.2.2", true));
    r.peer_up(c, add_path_session("198.18.2.2"));
    let out_a = r.update(
        a,
        &announce(&["203.0.113.0/24"], "198.18.0.2", &[65001], plain),
    );
    let out_b = r.update(
        b,
        &announce(&["203.0.113.0/24"], "198.18.1.2", &[65002, 65020], plain),
    );
    let got: Vec<_> = add_path_rx(&r, &out_a, c)
        .into_iter()
        .chain(add_path_rx(&r, &out_b, c))
        .collect();
    assert_eq!(got.len(), 2, "{got:?}");
    let ids: Vec<Option<u32>> = got.iter().map(|(_, id, _)| *id).collect();
    assert!(
        ids.iter().all(Option::is_some) && ids[0] != ids[1],
        "{ids:?}"
    );
    assert!(got
        .iter()
        .all(|(p, _, ann)| *p == net("203.0.113.0/24") && *ann));

    // b's (losing) path goes away: c hears the withdrawal of exactly that path id.
    let out = r.update(b, &withdraw(&["203.0.113.0/24"]));
    assert_eq!(
        add_path_rx(&r, &out, c),
        vec![(net("203.0.113.0/24"), ids[1], false)]
    );
    // A plain peer heard nothing: its best path did not change.
    let d = up(&mut r, ebgp("d", "198.18.3.2", 65003), "198.18.3.2");
    let out = r.update(
        a,
        &announce(&["198.51.100.0/24"], "198.18.0.2", &[65001], plain),
    );
    assert!(add_path_rx(&r, &out, d)
        .iter()
        .all(|(_, id, _)| id.is_none()));
}

#[test]
fn an_add_path_peer_coming_up_gets_all_paths_but_its_own() {
    let mut r = rib(64512, "198.51.100.1");
    let a = up(&mut r, ebgp("a", "198.18.0.2", 65001), "198.18.0.2");
    let b = up(&mut r, ebgp("b", "198.18.1.2", 65002), "198.18.1.2");
    r.update(
        a,
        &announce(&["203.0.113.0/24"], "198.18.0.2", &[65001], plain),
    );
    r.update(
        b,
        &announce(&["203.0.113.0/24"], "198.18.1.2", &[65002], plain),
    );
    let c = r.add_peer(ibgp("c", "198.18.2.2", true));
    let out = r.peer_up(c, add_path_session("198.18.2.2"));
    let got = add_path_rx(&r, &out, c);
    assert_eq!(got.len(), 2, "{got:?}");
    // c's own path is never sent back to it.
    let out = r.update(c, &announce(&["198.51.100.0/24"], "198.18.2.2", &[], plain));
    assert!(add_path_rx(&r, &out, c).is_empty());
}

#[test]
fn with_multipath_a_second_equal_path_is_reported_as_a_kernel_change() {
    let mut r = Rib::new(Global {
        asn: 64512,
        router_id: v4("198.51.100.1"),
        cluster_id: v4("198.51.100.1"),
        best: Options {
            multipath: true,
            ..Options::default()
        },
    });
    r.track_best_changes(true);
    let a = up(&mut r, ebgp("a", "198.18.0.2", 65001), "198.18.0.2");
    let b = up(&mut r, ebgp("b", "198.18.1.2", 65001), "198.18.1.2");
    r.update(
        a,
        &announce(&["203.0.113.0/24"], "198.18.0.2", &[65001], plain),
    );
    assert_eq!(r.take_best_changes(), vec![net("203.0.113.0/24")]);
    // b's equal path loses the tie-break, so the best does not change, but the ECMP set does.
    r.update(
        b,
        &announce(&["203.0.113.0/24"], "198.18.1.2", &[65001], plain),
    );
    assert_eq!(r.take_best_changes(), vec![net("203.0.113.0/24")]);
    assert_eq!(r.multipath(net("203.0.113.0/24")).len(), 2);
    r.update(b, &withdraw(&["203.0.113.0/24"]));
    assert_eq!(r.take_best_changes(), vec![net("203.0.113.0/24")]);
    assert_eq!(r.multipath(net("203.0.113.0/24")).len(), 1);
}

#[test]
fn advertised_counts_are_the_exportable_best_paths_minus_the_peers_own() {
    let mut r = rib(64512, "198.51.100.1");
    let a = up(&mut r, ebgp("a", "198.18.0.2", 65001), "198.18.0.2");
    let b = up(&mut r, ebgp("b", "198.18.1.2", 65002), "198.18.1.2");
    let c = up(&mut r, ebgp("c", "198.18.2.2", 65003), "198.18.2.2");
    r.update(
        a,
        &announce(&["203.0.113.0/26"], "198.18.0.2", &[65001], plain),
    );
    r.update(
        b,
        &announce(&["203.0.113.64/26"], "198.18.1.2", &[65002], plain),
    );
    // Never sent to a: its AS is in the path.
    r.update(
        c,
        &announce(&["203.0.113.128/26"], "198.18.2.2", &[65003, 65001], plain),
    );
    let n = r.advertised_counts();
    assert_eq!(n.get(&a), Some(&1), "b's prefix only: {n:?}");
    assert_eq!(n.get(&b), Some(&2), "{n:?}");
    assert_eq!(n.get(&c), Some(&2), "{n:?}");
}

// ---------------------------------------------------------------------------------------------
// Export policy (Calico's calico_export_to_bgp_peers, crate::policy)
// ---------------------------------------------------------------------------------------------

/// Pool 10.1.0.0/16 with the local block P1 (10.1.0.0/24),
/// pool 10.2.0.0/16 with disableBGPExport, community 65000:7 on the first pool.
fn calico_policy() -> crate::policy::ExportPolicy {
    crate::policy::ExportPolicy {
        aggregate: vec![net(P1)],
        no_export: vec![net("10.2.0.0/16")],
        accept_within: vec![net("10.1.0.0/16")],
        communities: vec![crate::policy::CommunityRule {
            prefix: net("10.1.0.0/16"),
            communities: vec![Community::new(65000, 7)],
            large_communities: Vec::new(),
        }],
    }
}

#[test]
fn with_an_export_policy_only_accepted_routes_leave_and_they_carry_the_added_communities() {
    let mut rib = rib(ASN, RID);
    rib.set_export_policy(Some(calico_policy()));
    let tor = up(&mut rib, ebgp("tor", "198.19.2.1", 65001), "198.19.2.1");
    let n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "10.0.0.2");
    let mut out = rib.originate(net(P1), local(plain));
    out.extend(rib.originate(net("10.1.0.7/32"), local(plain)));
    out.extend(rib.originate(net("10.2.0.0/24"), local(plain)));
    out.extend(rib.update(
        tor,
        &announce(&["0.0.0.0/0", "10.1.5.0/24"], "198.19.2.1", &[65001], plain),
    ));
    let got = rx(&rib, &out, n1);
    assert_eq!(
        got.got(P1).attrs.communities,
        [Community::new(65000, 7)],
        "the local block leaves with the pool's community"
    );
    assert!(got.silent_on("10.1.0.7/32"), "inside the local block");
    assert!(got.silent_on("10.2.0.0/24"), "disableBGPExport pool");
    assert!(got.silent_on("0.0.0.0/0"), "outside every pool");
    assert!(
        got.announced("10.1.5.0/24"),
        "inside the pool, from the ToR"
    );
    // The route stays in the RIB (and the kernel) either way.
    assert!(rib.best(net("0.0.0.0/0")).is_some());
}

#[test]
fn changing_the_export_policy_withdraws_and_announces_only_what_changed_without_a_reset() {
    let mut rib = rib(ASN, RID);
    rib.set_export_policy(Some(calico_policy()));
    let n1 = up(&mut rib, ibgp("n1", "10.0.0.2", false), "10.0.0.2");
    rib.originate(net(P1), local(plain));
    rib.originate(net("10.2.0.0/24"), local(plain));
    rib.originate(net(P3), local(plain));

    // The second pool is exported again, the first one's community changes, P3 stays out.
    let mut p = calico_policy();
    p.no_export.clear();
    p.accept_within.push(net("10.2.0.0/16"));
    p.communities[0].communities = vec![Community::new(65000, 8)];
    let out = rib.set_export_policy(Some(p.clone()));
    let got = rx(&rib, &out, n1);
    assert!(got.announced("10.2.0.0/24"));
    assert_eq!(got.got(P1).attrs.communities, [Community::new(65000, 8)]);
    assert!(got.silent_on(P3));
    assert!(got.eor.is_empty(), "no new dump, no reset");

    // The same policy again changes nothing.
    assert!(rib.set_export_policy(Some(p)).is_empty());

    // Dropping the policy exports everything: P3 now goes out.
    let out = rib.set_export_policy(None);
    let got = rx(&rib, &out, n1);
    assert!(got.announced(P3));
    assert!(
        got.got(P1).attrs.communities.is_empty(),
        "the added community goes with the policy"
    );
}

#[test]
fn a_peer_coming_up_gets_the_table_through_the_export_policy() {
    let mut rib = rib(ASN, RID);
    rib.set_export_policy(Some(calico_policy()));
    rib.originate(net(P1), local(plain));
    rib.originate(net(P3), local(plain));
    let p = rib.add_peer(ibgp("n1", "10.0.0.2", false));
    let out = rib.peer_up(p, session("10.0.0.2", IBGP_SELF));
    let got = rx(&rib, &out, p);
    assert!(got.announced(P1));
    assert!(got.silent_on(P3));
    assert_eq!(rib.advertised_counts().get(&p), Some(&1));
}

#[test]
fn a_new_cluster_id_re_announces_reflected_paths_with_it_and_nothing_else() {
    let Rr {
        mut rib,
        c1,
        c2,
        n1,
        n2,
    } = rr();
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");
    rib.update(c1, &announce(&[P1], "10.9.9.11", &[], plain));
    rib.originate(net(P2), local(plain));

    let out = rib.set_cluster_id(v4("9.9.9.9"));
    assert!(rx(&rib, &out, c1).is_empty(), "never back to its source");
    assert!(
        rx(&rib, &out, e1).is_empty(),
        "eBGP carries no CLUSTER_LIST"
    );
    for p in [c2, n1, n2] {
        let got = rx(&rib, &out, p);
        assert_eq!(got.got(P1).attrs.cluster_list, [v4("9.9.9.9")], "peer {p}");
        assert!(got.silent_on(P2), "our own route is not reflected");
        assert!(got.eor.is_empty());
    }
    assert!(rib.set_cluster_id(v4("9.9.9.9")).is_empty());
    // The new id is also the one that loops are checked against.
    let out = rib.update(
        n1,
        &announce(&[P3], "10.9.9.2", &[], |a| {
            a.originator_id = Some(v4("1.1.1.99"));
            a.cluster_list = thin_vec![v4("9.9.9.9")];
        }),
    );
    assert!(rx(&rib, &out, c2).silent_on(P3));
}

#[test]
fn ebgp_peers_of_different_ases_share_one_group_and_a_path_holding_a_members_as_is_withdrawn_from_it(
) {
    let mut rib = rib(ASN, RID);
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");
    let e2 = up(&mut rib, ebgp("e2", "198.19.2.2", 65002), "198.19.2.2");
    let e3 = up(&mut rib, ebgp("e3", "198.19.2.3", 65003), "198.19.2.3");
    assert_eq!(rib.group_of(e1), rib.group_of(e2));
    assert_eq!(rib.group_of(e2), rib.group_of(e3));

    let out = rib.update(e1, &announce(&[P1], "198.19.2.1", &[65001, 65010], plain));
    assert_eq!(out.len(), 1, "one message for the whole group");
    assert!(rx(&rib, &out, e2).announced(P1));
    assert!(rx(&rib, &out, e3).announced(P1));

    // The path now crosses e3's AS: e2 gets the new path, e3 loses the old one.
    let out = rib.update(e1, &announce(&[P1], "198.19.2.1", &[65001, 65003], plain));
    assert_eq!(
        rx(&rib, &out, e2).got(P1).attrs.as_path,
        Some(path(&[ASN, 65001, 65003]))
    );
    assert!(rx(&rib, &out, e3).withdrew(P1));
    assert!(rx(&rib, &out, e1).is_empty());
    assert_eq!(rib.advertised_counts().get(&e3), Some(&0));
    assert_eq!(rib.advertised_counts().get(&e2), Some(&1));
}

#[test]
fn trunc4_clears_host_bits_as_ipnet_does() {
    for len in 0..=32u8 {
        for addr in [0u32, 0x0a01_0203, 0xffff_ffff, 0x8000_0001, 0x0100_0000] {
            let k = ipnet::Ipv4Net::new(Ipv4Addr::from(addr), len).unwrap();
            assert_eq!(trunc4(k), k.trunc(), "{k}");
        }
    }
}

/// An UPDATE whose prefixes have host bits set is stored and sent on with them cleared (the
/// outbox takes Loc-RIB keys as they are).
#[test]
fn received_prefixes_with_host_bits_go_out_cleared() {
    let mut rib = rib(ASN, RID);
    let e1 = up(&mut rib, ebgp("e1", "198.19.2.1", 65001), "198.19.2.1");
    let e2 = up(&mut rib, ebgp("e2", "198.19.2.2", 65002), "198.19.2.2");
    let mut update = announce(&[P1], "198.19.2.1", &[65001], plain);
    update.nlri = vec![Nlri {
        path_id: None,
        prefix: net("10.1.0.7/24"),
    }];
    let out = rib.update(e1, &update);
    assert!(rib.best(net(P1)).is_some());
    assert!(rx(&rib, &out, e2).announced(P1));
    let sent: Vec<IpNet> = out
        .iter()
        .flat_map(|o| o.update.nlri.iter().map(|n| n.prefix))
        .collect();
    assert_eq!(sent, vec![net(P1)]);
}
