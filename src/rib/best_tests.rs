//! Unit and property tests of the decision process (`rib::best`).

use std::cmp::Ordering::{Equal, Greater, Less};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use thin_vec::thin_vec;

use super::*;
use crate::wire::{AsPath, Community, Origin, PathAttributes, Segment, SegmentType};

const STANDARD: Options = Options {
    always_compare_med: false,
    multipath: false,
};
const ALWAYS_MED: Options = Options {
    always_compare_med: true,
    multipath: false,
};
const MULTIPATH: Options = Options {
    always_compare_med: false,
    multipath: true,
};

fn v4(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, last)
}

/// An owned candidate: what a RIB entry would hold.
#[derive(Debug, Clone, PartialEq)]
struct P {
    attrs: PathAttributes,
    source: Source,
    reachable: bool,
    igp: Option<u32>,
}

impl P {
    /// An iBGP path from 10.0.0.`id` (router id and address alike), AS_PATH `64512`, ORIGIN IGP,
    /// no LOCAL_PREF, no MED, reachable, IGP cost unknown.
    fn from(id: u8) -> P {
        P {
            attrs: PathAttributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::from_sequence([64512])),
                ..PathAttributes::default()
            },
            source: Source {
                local: false,
                ebgp: false,
                peer_address: IpAddr::V4(v4(id)),
                router_id: v4(id),
            },
            reachable: true,
            igp: None,
        }
    }

    /// A path this speaker originated: empty AS_PATH, ORIGIN INCOMPLETE (redistributed).
    fn local() -> P {
        let mut p = P::from(100);
        p.source = Source {
            local: true,
            ebgp: false,
            peer_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            router_id: v4(100),
        };
        p.attrs.as_path = Some(AsPath::default());
        p.attrs.origin = Some(Origin::Incomplete);
        p
    }

    fn lp(mut self, v: u32) -> P {
        self.attrs.local_pref = Some(v);
        self
    }
    fn path(mut self, asns: &[u32]) -> P {
        self.attrs.as_path = Some(AsPath::from_sequence(asns.iter().copied()));
        self
    }
    fn segments(mut self, segments: Vec<Segment>) -> P {
        self.attrs.as_path = Some(AsPath { segments });
        self
    }
    fn origin(mut self, o: Option<Origin>) -> P {
        self.attrs.origin = o;
        self
    }
    fn med(mut self, v: u32) -> P {
        self.attrs.med = Some(v);
        self
    }
    fn ebgp(mut self) -> P {
        self.source.ebgp = true;
        self
    }
    fn unreachable(mut self) -> P {
        self.reachable = false;
        self
    }
    fn igp(mut self, v: u32) -> P {
        self.igp = Some(v);
        self
    }
    fn router_id(mut self, id: u8) -> P {
        self.source.router_id = v4(id);
        self
    }
    fn originator(mut self, id: u8) -> P {
        self.attrs.originator_id = Some(v4(id));
        self
    }
    fn clusters(mut self, n: usize) -> P {
        self.attrs.cluster_list = thin_vec![Ipv4Addr::new(10, 255, 0, 1); n];
        self
    }
    fn peer(mut self, a: IpAddr) -> P {
        self.source.peer_address = a;
        self
    }

    fn cand(&self) -> Candidate<'_> {
        Candidate {
            attrs: &self.attrs,
            source: self.source,
            next_hop_reachable: self.reachable,
            igp_cost: self.igp,
        }
    }
}

fn seg(kind: SegmentType, asns: &[u32]) -> Segment {
    Segment {
        kind,
        asns: asns.to_vec(),
    }
}

fn cands(paths: &[P]) -> Vec<Candidate<'_>> {
    paths.iter().map(P::cand).collect()
}

/// Asserts that `better` beats `worse` at `step`, both ways round and through `select` in both
/// input orders.
fn decides(better: &P, worse: &P, opts: &Options, step: Reason) {
    let (b, w) = (better.cand(), worse.cand());
    assert_eq!(compare(&b, &w, opts), (Less, step), "better vs worse");
    assert_eq!(compare(&w, &b, opts), (Greater, step), "worse vs better");
    let s = select(&[b, w], opts).unwrap();
    assert_eq!((s.best, s.lost), (0, vec![None, Some(step)]));
    let s = select(&[w, b], opts).unwrap();
    assert_eq!((s.best, s.lost), (1, vec![Some(step), None]));
}

// ---- one test per step ----------------------------------------------------------------------

#[test]
fn reachable_next_hop_beats_an_unreachable_local_path_with_higher_local_pref() {
    decides(
        &P::from(1).lp(50).path(&[1, 2, 3]),
        &P::local().lp(200).unreachable(),
        &STANDARD,
        Reason::NextHopUnreachable,
    );
}

#[test]
fn locally_originated_path_beats_a_learned_one_with_higher_local_pref() {
    decides(
        &P::local(),
        &P::from(1).lp(200),
        &STANDARD,
        Reason::NotLocal,
    );
}

#[test]
fn higher_local_pref_wins_over_shorter_as_path() {
    decides(
        &P::from(2).lp(200).path(&[64512, 64513, 64514]),
        &P::from(1).path(&[64512]),
        &STANDARD,
        Reason::LocalPref,
    );
}

#[test]
fn missing_local_pref_counts_as_the_default_100() {
    decides(
        &P::from(2).path(&[64512, 64513]),
        &P::from(1).lp(99),
        &STANDARD,
        Reason::LocalPref,
    );
    // Absent and an explicit 100 tie, so a later step decides.
    decides(
        &P::from(1),
        &P::from(2).lp(DEFAULT_LOCAL_PREF),
        &STANDARD,
        Reason::RouterId,
    );
}

#[test]
fn shorter_as_path_wins_over_better_origin() {
    decides(
        &P::from(2).path(&[64512]).origin(Some(Origin::Incomplete)),
        &P::from(1).path(&[64512, 64513]),
        &STANDARD,
        Reason::AsPathLength,
    );
}

#[test]
fn as_set_counts_one_however_many_ases_it_holds() {
    let with_set = P::from(2).segments(vec![
        seg(SegmentType::Sequence, &[64512]),
        seg(SegmentType::Set, &[1, 2, 3, 4]),
    ]);
    assert_eq!(with_set.cand().as_path_len(), 2);
    decides(
        &with_set,
        &P::from(1).path(&[64512, 64513, 64514]),
        &STANDARD,
        Reason::AsPathLength,
    );
    // Length 2 against length 2: the AS_PATH step does not decide.
    decides(
        &P::from(1).path(&[64512, 64513]),
        &with_set,
        &STANDARD,
        Reason::RouterId,
    );
}

#[test]
fn confederation_segments_count_zero() {
    let confed = P::from(2).segments(vec![
        seg(SegmentType::ConfedSequence, &[65100, 65101, 65102]),
        seg(SegmentType::ConfedSet, &[65103, 65104]),
        seg(SegmentType::Sequence, &[64512]),
    ]);
    assert_eq!(confed.cand().as_path_len(), 1);
    decides(
        &confed,
        &P::from(1).path(&[64512, 64513]),
        &STANDARD,
        Reason::AsPathLength,
    );
    decides(
        &P::from(1).path(&[64512]),
        &confed,
        &STANDARD,
        Reason::RouterId,
    );
}

#[test]
fn lower_origin_wins_over_lower_med() {
    decides(
        &P::from(2).origin(Some(Origin::Igp)).med(50),
        &P::from(1).origin(Some(Origin::Egp)),
        &STANDARD,
        Reason::Origin,
    );
    decides(
        &P::from(2).origin(Some(Origin::Egp)),
        &P::from(1).origin(Some(Origin::Incomplete)),
        &STANDARD,
        Reason::Origin,
    );
}

#[test]
fn missing_origin_counts_as_incomplete() {
    decides(
        &P::from(2).origin(Some(Origin::Egp)),
        &P::from(1).origin(None),
        &STANDARD,
        Reason::Origin,
    );
    decides(
        &P::from(1).origin(None),
        &P::from(2).origin(Some(Origin::Incomplete)),
        &STANDARD,
        Reason::RouterId,
    );
}

#[test]
fn lower_med_wins_within_the_same_neighbour_as() {
    decides(
        &P::from(2).path(&[64512, 1]).med(5).igp(100),
        &P::from(1).path(&[64512, 2]).med(6).ebgp().igp(1),
        &STANDARD,
        Reason::Med,
    );
}

#[test]
fn missing_med_counts_as_zero() {
    decides(&P::from(2), &P::from(1).med(1), &STANDARD, Reason::Med);
    decides(&P::from(1), &P::from(2).med(0), &STANDARD, Reason::RouterId);
}

#[test]
fn med_is_ignored_across_different_neighbour_ases_by_default() {
    let low_med = P::from(2).path(&[64513]).med(0);
    let high_med = P::from(1).path(&[64512]).med(100);
    decides(&high_med, &low_med, &STANDARD, Reason::RouterId);
}

#[test]
fn always_compare_med_compares_across_neighbour_ases() {
    let low_med = P::from(2).path(&[64513]).med(0);
    let high_med = P::from(1).path(&[64512]).med(100);
    decides(&low_med, &high_med, &ALWAYS_MED, Reason::Med);
}

#[test]
fn neighbour_as_skips_confederation_segments_and_is_local_for_empty_or_set_first_paths() {
    let n = |p: &P| p.cand().neighbour_as();
    assert_eq!(n(&P::from(1).path(&[64512, 7])), NeighbourAs::As(64512));
    assert_eq!(n(&P::local()), NeighbourAs::Local);
    let mut absent = P::from(1);
    absent.attrs.as_path = None;
    assert_eq!(n(&absent), NeighbourAs::Local);
    let confed = P::from(1).segments(vec![
        seg(SegmentType::ConfedSequence, &[65100]),
        seg(SegmentType::Sequence, &[64513, 7]),
    ]);
    assert_eq!(n(&confed), NeighbourAs::As(64513));
    let confed_only = P::from(1).segments(vec![seg(SegmentType::ConfedSequence, &[65100])]);
    assert_eq!(n(&confed_only), NeighbourAs::Local);
    let set_first = P::from(1).segments(vec![
        seg(SegmentType::Set, &[1, 2]),
        seg(SegmentType::Sequence, &[3]),
    ]);
    assert_eq!(n(&set_first), NeighbourAs::Local);
    // The locally originated group compares MED with itself.
    decides(
        &P::local().med(1),
        &{
            let mut p = P::local().med(2);
            p.source.router_id = v4(1);
            p
        },
        &STANDARD,
        Reason::Med,
    );
}

#[test]
fn ebgp_path_beats_ibgp_path_with_lower_igp_cost() {
    decides(
        &P::from(2).ebgp().igp(100),
        &P::from(1).igp(1),
        &STANDARD,
        Reason::EbgpOverIbgp,
    );
}

#[test]
fn lower_igp_cost_wins_when_both_are_known() {
    decides(
        &P::from(9).igp(1),
        &P::from(1).igp(5),
        &STANDARD,
        Reason::IgpCost,
    );
}

#[test]
fn unknown_igp_cost_is_treated_as_equal() {
    decides(&P::from(1), &P::from(2).igp(1), &STANDARD, Reason::RouterId);
    decides(&P::from(1).igp(7), &P::from(2), &STANDARD, Reason::RouterId);
}

#[test]
fn lower_router_id_wins_over_shorter_cluster_list() {
    decides(
        &P::from(1).clusters(2),
        &P::from(2),
        &STANDARD,
        Reason::RouterId,
    );
}

#[test]
fn originator_id_is_used_instead_of_router_id_when_present() {
    // Router id 10.0.0.1 but ORIGINATOR_ID 10.0.0.9 loses to router id 10.0.0.2.
    decides(
        &P::from(2),
        &P::from(1).originator(9),
        &STANDARD,
        Reason::RouterId,
    );
    assert_eq!(P::from(1).originator(9).cand().tie_break_id(), v4(9));
    // ORIGINATOR_ID 10.0.0.3 ties with router id 10.0.0.3: the cluster list decides.
    decides(
        &P::from(7).router_id(3),
        &P::from(1).originator(3).clusters(1),
        &STANDARD,
        Reason::ClusterListLength,
    );
}

#[test]
fn shorter_cluster_list_wins_over_lower_peer_address() {
    decides(
        &P::from(1).originator(5).clusters(1).peer(IpAddr::V4(v4(9))),
        &P::from(2).originator(5).clusters(2),
        &STANDARD,
        Reason::ClusterListLength,
    );
}

#[test]
fn lower_peer_address_wins_and_ipv4_comes_before_ipv6() {
    decides(
        &P::from(1).peer(IpAddr::V4(v4(1))),
        &P::from(1).peer(IpAddr::V4(v4(2))),
        &STANDARD,
        Reason::PeerAddress,
    );
    decides(
        &P::from(1).peer(IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1))),
        &P::from(1).peer(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        &STANDARD,
        Reason::PeerAddress,
    );
}

#[test]
fn identical_paths_compare_equal() {
    let (a, b) = (P::from(1), P::from(1));
    assert_eq!(
        compare(&a.cand(), &b.cand(), &STANDARD),
        (Equal, Reason::Equal)
    );
}

// ---- select ---------------------------------------------------------------------------------

#[test]
fn select_of_no_candidates_is_none() {
    assert_eq!(select(&[], &STANDARD), None);
}

#[test]
fn select_of_one_candidate_is_that_candidate_even_if_unreachable() {
    let p = [P::from(1).unreachable()];
    assert_eq!(
        select(&cands(&p), &MULTIPATH),
        Some(Selection {
            best: 0,
            lost: vec![None],
            multipath: vec![0],
        })
    );
}

#[test]
fn select_records_the_step_at_which_each_loser_was_eliminated() {
    let paths = [
        P::from(3).lp(50),
        P::from(4).unreachable(),
        P::from(2),
        P::from(5).origin(Some(Origin::Egp)),
        P::from(6).path(&[64512, 1]),
        P::from(2).peer(IpAddr::V4(v4(1))).clusters(1),
    ];
    let s = select(&cands(&paths), &STANDARD).unwrap();
    assert_eq!(s.best, 2);
    assert_eq!(
        s.lost,
        vec![
            Some(Reason::LocalPref),
            Some(Reason::NextHopUnreachable),
            None,
            Some(Reason::Origin),
            Some(Reason::AsPathLength),
            Some(Reason::ClusterListLength),
        ]
    );
    assert_eq!(s.multipath, vec![2]);
}

#[test]
fn full_ties_are_broken_by_the_paths_fields_not_by_input_order() {
    let mut a = P::from(1);
    a.attrs.communities = thin_vec![Community::new(64512, 2)];
    let mut b = P::from(1);
    b.attrs.communities = thin_vec![Community::new(64512, 1)];
    assert_eq!(
        compare(&a.cand(), &b.cand(), &STANDARD),
        (Equal, Reason::Equal)
    );
    for paths in [[a.clone(), b.clone()], [b.clone(), a.clone()]] {
        let s = select(&cands(&paths), &MULTIPATH).unwrap();
        assert_eq!(paths[s.best], b);
        let loser = 1 - s.best;
        assert_eq!(s.lost[loser], Some(Reason::Equal));
        assert_eq!(s.multipath, vec![0, 1]);
    }
}

#[test]
fn multipath_holds_paths_that_differ_only_in_router_id_or_peer_address() {
    let paths = [
        P::from(3).igp(10),
        P::from(1).igp(10),
        P::from(1).igp(10).peer(IpAddr::V4(v4(8))),
        P::from(2).igp(10).originator(4).clusters(1),
        P::from(0).igp(20),
        P::from(0).igp(10).med(1),
    ];
    let s = select(&cands(&paths), &MULTIPATH).unwrap();
    assert_eq!(s.best, 1);
    assert_eq!(s.multipath, vec![0, 1, 2, 3]);
    assert_eq!(
        s.lost,
        vec![
            Some(Reason::RouterId),
            None,
            Some(Reason::PeerAddress),
            Some(Reason::RouterId),
            Some(Reason::IgpCost),
            Some(Reason::Med),
        ]
    );
    let single = select(&cands(&paths), &STANDARD).unwrap();
    assert_eq!((single.best, single.multipath), (1, vec![1]));
}

#[test]
fn multipath_excludes_paths_with_a_higher_igp_cost() {
    let paths = [P::from(1).igp(5), P::from(2).igp(5), P::from(0).igp(6)];
    let s = select(&cands(&paths), &MULTIPATH).unwrap();
    assert_eq!((s.best, s.multipath), (0, vec![0, 1]));
    assert_eq!(s.lost[2], Some(Reason::IgpCost));
}

/// A beats B on MED (same neighbour AS), B beats C on router id, C beats A on router id.
fn med_cycle() -> [P; 3] {
    [
        P::from(3).path(&[64512]).med(0),
        P::from(1).path(&[64512]).med(10),
        P::from(2).path(&[64513]).med(50),
    ]
}

#[test]
fn med_makes_pairwise_comparison_cyclic() {
    let [a, b, c] = med_cycle();
    let (a, b, c) = (a.cand(), b.cand(), c.cand());
    assert_eq!(compare(&a, &b, &STANDARD), (Less, Reason::Med));
    assert_eq!(compare(&b, &c, &STANDARD), (Less, Reason::RouterId));
    assert_eq!(compare(&c, &a, &STANDARD), (Less, Reason::RouterId));
}

#[test]
fn med_non_transitivity_example_gives_the_same_winner_in_every_order() {
    let paths = med_cycle();
    let c = paths[2].clone();
    for order in [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ] {
        let shuffled: Vec<P> = order.iter().map(|&i| paths[i].clone()).collect();
        let s = select(&cands(&shuffled), &STANDARD).unwrap();
        assert_eq!(shuffled[s.best], c, "order {order:?}");
        for (p, lost) in shuffled.iter().zip(&s.lost) {
            let want = match p.source.router_id.octets()[3] {
                3 => Some(Reason::RouterId), // A: survives MED, loses to C
                1 => Some(Reason::Med),      // B: loses to A within AS 64512
                _ => None,
            };
            assert_eq!(*lost, want, "order {order:?}, path {p:?}");
        }
    }
    // Comparing MED across ASes makes the order total again: A (MED 0) wins.
    let s = select(&cands(&paths), &ALWAYS_MED).unwrap();
    assert_eq!(s.best, 0);
    assert_eq!(s.lost, vec![None, Some(Reason::Med), Some(Reason::Med)]);
}

#[test]
fn reasons_display_as_short_words_in_step_order() {
    let shown: Vec<String> = Reason::STEPS
        .iter()
        .chain([&Reason::Equal])
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        shown,
        [
            "unreachable next-hop",
            "not local",
            "lower local-pref",
            "longer as-path",
            "worse origin",
            "higher med",
            "ibgp vs ebgp",
            "higher igp-cost",
            "higher router-id",
            "longer cluster-list",
            "higher peer-address",
            "equal",
        ]
    );
    assert!(Reason::STEPS.windows(2).all(|w| w[0] < w[1]));
    assert!(Reason::PeerAddress < Reason::Equal);
}

// ---- properties -----------------------------------------------------------------------------

/// AS_PATHs over few ASes so that lengths and neighbour ASes often tie: mostly one AS_SEQUENCE of
/// one or two ASes starting with 64512 or 64513, sometimes with a leading confederation segment or
/// a trailing AS_SET, sometimes empty or absent.
fn arb_as_path() -> impl Strategy<Value = Option<AsPath>> {
    let asn = || prop::sample::select(vec![64512u32, 64513]);
    (
        prop::option::weighted(
            0.1,
            prop::collection::vec(prop::sample::select(vec![65100u32, 65101]), 1..3),
        ),
        prop_oneof![1 => Just(0usize), 7 => Just(1), 2 => Just(2)],
        prop::collection::vec(asn(), 2),
        prop::option::weighted(0.1, prop::collection::vec(asn(), 1..3)),
        prop::bool::weighted(0.05),
    )
        .prop_map(|(confed, len, mut seq, set, absent)| {
            if absent {
                return None;
            }
            seq.truncate(len);
            let mut segments = Vec::new();
            if let Some(asns) = confed {
                segments.push(Segment {
                    kind: SegmentType::ConfedSequence,
                    asns,
                });
            }
            if !seq.is_empty() {
                segments.push(Segment {
                    kind: SegmentType::Sequence,
                    asns: seq,
                });
            }
            if let Some(asns) = set {
                segments.push(Segment {
                    kind: SegmentType::Set,
                    asns,
                });
            }
            Some(AsPath { segments })
        })
}

/// Attributes from small, skewed value sets so that the early steps often tie and the later ones
/// (MED, IGP, router id, cluster list, peer address) get to decide.
fn arb_attrs() -> impl Strategy<Value = PathAttributes> {
    (
        prop_oneof![
            6 => Just(None),
            2 => Just(Some(100u32)),
            1 => Just(Some(90)),
            1 => Just(Some(110)),
        ],
        arb_as_path(),
        prop_oneof![
            8 => Just(Some(Origin::Igp)),
            1 => Just(Some(Origin::Egp)),
            1 => Just(Some(Origin::Incomplete)),
            1 => Just(None),
        ],
        prop::sample::select(vec![None, Some(0u32), Some(10)]),
        prop::sample::select(vec![None, None, Some(v4(1)), Some(v4(2))]),
        prop_oneof![3 => Just(0usize), 1 => Just(1), 1 => Just(2)],
    )
        .prop_map(
            |(local_pref, as_path, origin, med, originator_id, clusters)| PathAttributes {
                local_pref,
                as_path,
                origin,
                med,
                originator_id,
                cluster_list: thin_vec![Ipv4Addr::new(10, 255, 0, 1); clusters],
                ..PathAttributes::default()
            },
        )
}

/// Paths with IGP costs from {unknown, 1, 5}, mixed within one case.
fn arb_path() -> impl Strategy<Value = P> {
    (
        arb_attrs(),
        prop::bool::weighted(0.05),
        prop::bool::weighted(0.3),
        prop::sample::select(vec![
            IpAddr::V4(v4(1)),
            IpAddr::V4(v4(2)),
            IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1)),
        ]),
        prop::sample::select(vec![v4(1), v4(2), v4(3)]),
        prop::bool::weighted(0.95),
        prop::sample::select(vec![None, Some(1u32), Some(5)]),
    )
        .prop_map(
            |(attrs, local, ebgp, peer_address, router_id, reachable, igp)| P {
                attrs,
                source: Source {
                    local,
                    ebgp,
                    peer_address,
                    router_id,
                },
                reachable,
                igp,
            },
        )
}

/// Paths whose IGP costs are all known or all unknown (mixing them breaks transitivity by design).
fn arb_uniform_paths(n: std::ops::Range<usize>) -> impl Strategy<Value = Vec<P>> {
    (any::<bool>(), prop::collection::vec(arb_path(), n)).prop_map(|(known, mut paths)| {
        for p in &mut paths {
            p.igp = if known {
                Some(p.igp.unwrap_or(3))
            } else {
                None
            };
        }
        paths
    })
}

/// Paths and a permutation of their indexes.
fn with_permutation(
    paths: impl Strategy<Value = Vec<P>>,
) -> impl Strategy<Value = (Vec<P>, Vec<usize>)> {
    paths.prop_flat_map(|paths| {
        let n = paths.len();
        (Just(paths), Just((0..n).collect::<Vec<_>>()).prop_shuffle())
    })
}

/// Everything `compare` looks at with `always_compare_med`, in step order.
type Compared = (
    bool,
    bool,
    u32,
    usize,
    Origin,
    u32,
    bool,
    Option<u32>,
    Ipv4Addr,
    usize,
    IpAddr,
);

/// The fields of `c` that `compare` looks at with `always_compare_med`.
fn compared_fields(c: &Candidate) -> Compared {
    (
        c.next_hop_reachable,
        c.source.local,
        c.local_pref(),
        c.as_path_len(),
        c.origin(),
        c.med(),
        c.source.ebgp,
        c.igp_cost,
        c.tie_break_id(),
        c.cluster_list_len(),
        c.source.peer_address,
    )
}

/// Each path with its outcome, sorted, so that two selections over the same multiset of paths can
/// be compared whatever the order (identical paths are interchangeable).
fn outcome(paths: &[P], s: &Selection) -> (P, Vec<String>, Vec<String>) {
    let mut lost: Vec<String> = paths
        .iter()
        .zip(&s.lost)
        .map(|(p, l)| format!("{l:?} {p:?}"))
        .collect();
    lost.sort();
    let mut multi: Vec<String> = s
        .multipath
        .iter()
        .map(|&i| format!("{:?}", paths[i]))
        .collect();
    multi.sort();
    (paths[s.best].clone(), lost, multi)
}

proptest! {
    #[test]
    fn compare_is_a_total_order_with_always_compare_med(paths in arb_uniform_paths(1..6)) {
        let cs = cands(&paths);
        for a in &cs {
            for b in &cs {
                let (ab, why) = compare(a, b, &ALWAYS_MED);
                let (ba, why_back) = compare(b, a, &ALWAYS_MED);
                prop_assert_eq!(ab, ba.reverse(), "antisymmetry: {:?} vs {:?}", a, b);
                prop_assert_eq!(why, why_back);
                prop_assert_eq!(
                    ab == Equal,
                    compared_fields(a) == compared_fields(b),
                    "Equal iff every compared field is equal: {:?} vs {:?}", a, b
                );
                prop_assert_eq!(ab == Equal, why == Reason::Equal);
                for c in &cs {
                    let bc = compare(b, c, &ALWAYS_MED).0;
                    let ac = compare(a, c, &ALWAYS_MED).0;
                    if ab != Greater && bc != Greater {
                        let want = if ab == Equal && bc == Equal { Equal } else { Less };
                        prop_assert_eq!(ac, want, "transitivity: {:?} {:?} {:?}", a, b, c);
                    }
                }
            }
        }
    }

    #[test]
    fn select_gives_the_same_outcome_for_every_input_order(
        (paths, perm) in with_permutation(prop::collection::vec(arb_path(), 1..8)),
        always_compare_med in any::<bool>(),
        multipath in any::<bool>(),
    ) {
        let opts = Options { always_compare_med, multipath };
        let shuffled: Vec<P> = perm.iter().map(|&i| paths[i].clone()).collect();
        let s = select(&cands(&paths), &opts).unwrap();
        let t = select(&cands(&shuffled), &opts).unwrap();
        prop_assert_eq!(outcome(&paths, &s), outcome(&shuffled, &t));
        prop_assert_eq!(s.lost[s.best], None);
        prop_assert_eq!(s.lost.iter().filter(|l| l.is_none()).count(), 1);
        prop_assert!(s.multipath.contains(&s.best));
        prop_assert!(s.multipath.windows(2).all(|w| w[0] < w[1]));
        if !multipath {
            prop_assert_eq!(&s.multipath, &vec![s.best]);
        }
    }

    #[test]
    fn select_winner_is_never_beaten_with_always_compare_med(
        paths in arb_uniform_paths(1..8),
    ) {
        let cs = cands(&paths);
        let s = select(&cs, &ALWAYS_MED).unwrap();
        let best = &cs[s.best];
        for (c, lost) in cs.iter().zip(&s.lost) {
            let (o, why) = compare(best, c, &ALWAYS_MED);
            prop_assert_ne!(o, Greater, "{:?} beats the winner {:?}", c, best);
            // A total preorder: each loser lost exactly where it first differs from the winner.
            if lost.is_some() {
                prop_assert_eq!(*lost, Some(why));
            }
        }
    }

    #[test]
    fn select_winner_is_never_beaten_within_its_neighbour_as(paths in arb_uniform_paths(1..8)) {
        let cs = cands(&paths);
        let s = select(&cs, &STANDARD).unwrap();
        let best = &cs[s.best];
        for (c, lost) in cs.iter().zip(&s.lost) {
            if c.neighbour_as() == best.neighbour_as() {
                let (o, why) = compare(best, c, &STANDARD);
                prop_assert_ne!(o, Greater, "{:?} beats the winner {:?}", c, best);
                if lost.is_some() {
                    prop_assert_eq!(*lost, Some(why));
                }
            }
        }
    }
}
