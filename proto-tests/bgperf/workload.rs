//! What the emulated peers announce and what the monitors must receive: the scenarios, the
//! address plan, the prefixes, the attribute sets, and the pre-encoded UPDATEs.
//!
//! Everything here is a pure function of a [`Spec`], so the harness (which writes the spec and
//! the targets' configurations) and the generator (which sends and checks) agree without
//! exchanging more than the spec file.

use std::net::Ipv4Addr;

use bytes::BytesMut;
use ipnet::{IpNet, Ipv4Net};
use serde::{Deserialize, Serialize};
use thin_vec::thin_vec;
use wren::wire::{
    self, AsPath, Community, Ctx, Message, Nlri, Origin, PathAttributes, Update, MAX_MESSAGE_LEN,
};

/// The target's AS (eBGP router, or the route reflector's own AS).
pub const TARGET_AS: u32 = 64512;
/// The monitor's AS in the eBGP scenarios.
pub const MONITOR_AS: u32 = 64999;
/// AS of tester `i` is `FIRST_TESTER_AS + i` in the eBGP scenarios.
pub const FIRST_TESTER_AS: u32 = 65001;
/// The address the target listens on (a /32 on the namespace's `lo`).
pub const TARGET_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// The monitor's source address.
pub const MONITOR_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
/// Hold time every session proposes (the generator sends a KEEPALIVE every third of it).
pub const HOLD_TIME: u16 = 90;
/// First eBGP prefix: tester `p`'s `k`-th /24 is `EBGP_BASE + ((p * per_peer + k) << 8)`, so
/// 1,000,000 /24s span 16.0.0.0–31.255.255.0. Announced only; nothing is installed anywhere.
pub const EBGP_BASE: Ipv4Addr = Ipv4Addr::new(16, 0, 0, 0);
/// First route-reflector prefix: client `p`'s `k`-th /26 (a Calico IPAM block) is
/// `RR_BASE + ((p * per_peer + k) << 6)`; 1024 blocks fit in the /16.
pub const RR_BASE: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 0);
/// Most attribute sets per eBGP tester.
pub const MAX_SETS_PER_PEER: u32 = 300;
/// Transit ASes the generated AS paths pass through.
const TRANSIT: [u32; 16] = [
    3356, 174, 1299, 2914, 6939, 6453, 6762, 3257, 1273, 701, 7018, 3491, 9002, 6461, 5511, 4637,
];

/// The role of the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// eBGP router: every tester in its own AS, one eBGP monitor; next hop self, AS prepended.
    Ebgp,
    /// iBGP route reflector: every tester is an rr client in the target's AS and also a monitor
    /// that must receive every other client's routes with the next hop unchanged.
    IbgpRr,
}

/// One emulated BGP speaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerSpec {
    /// Source address (a /32 on `lo`), also the router id.
    pub addr: Ipv4Addr,
    /// Its AS.
    pub asn: u32,
}

/// Everything the generator needs for one run (written by the harness as JSON).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Spec {
    /// Scenario letter and size, e.g. `a-quick`.
    pub scenario: String,
    /// eBGP router or route reflector.
    pub mode: Mode,
    /// The target's address and port.
    pub target: Ipv4Addr,
    /// TCP port of the target.
    pub port: u16,
    /// Testers (in RR mode: the clients).
    pub testers: Vec<PeerSpec>,
    /// The eBGP monitor (`None` in RR mode: the clients monitor).
    pub monitor: Option<PeerSpec>,
    /// Prefixes each tester announces.
    pub per_peer: u32,
    /// Attribute sets per tester (eBGP; RR clients have one).
    pub sets_per_peer: u32,
    /// Churn: after the load converged, withdraw every prefix whose index within its tester is a
    /// multiple of this (10 = 10 %), wait for the monitor to lose them, announce them again and
    /// wait for the monitor to hold everything again.
    pub churn_every: Option<u32>,
    /// How long the generator may run in all, in milliseconds (then it reports a timeout).
    pub deadline_ms: u64,
    /// Most connection attempts (TCP connect + OPEN/KEEPALIVE exchange) in flight at once; 0:
    /// every peer connects at the same moment.
    pub max_connecting: u32,
}

/// A scenario of the benchmark.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// `a`..`e`.
    pub letter: char,
    /// Short description for the table.
    pub title: &'static str,
    /// eBGP or RR.
    pub mode: Mode,
    /// Testers (clients in RR mode).
    pub peers: u32,
    /// Prefixes per tester.
    pub per_peer: u32,
    /// Churn divisor (scenario e).
    pub churn_every: Option<u32>,
}

impl Scenario {
    /// Every scenario letter, in order.
    pub const LETTERS: [char; 5] = ['a', 'b', 'c', 'd', 'e'];

    /// Scenario `letter` at full size or at the `--quick` size.
    pub fn get(letter: char, quick: bool) -> Option<Scenario> {
        let (title, mode, full, small, churn) = match letter {
            'a' => (
                "eBGP, few peers, many prefixes",
                Mode::Ebgp,
                (10, 100_000),
                (10, 2000),
                None,
            ),
            'b' => (
                "eBGP, many peers, few prefixes",
                Mode::Ebgp,
                (100, 1000),
                (20, 100),
                None,
            ),
            'c' => (
                "Calico route reflector (/26 blocks)",
                Mode::IbgpRr,
                (500, 2),
                (50, 2),
                None,
            ),
            'd' => (
                "full-table ingest",
                Mode::Ebgp,
                (1, 1_000_000),
                (1, 20_000),
                None,
            ),
            'e' => (
                "churn: 10% withdrawn and re-announced",
                Mode::Ebgp,
                (10, 100_000),
                (10, 2000),
                Some(10),
            ),
            _ => return None,
        };
        let (peers, per_peer) = if quick { small } else { full };
        Some(Scenario {
            letter,
            title,
            mode,
            peers,
            per_peer,
            churn_every: churn,
        })
    }

    /// `a` or `a-quick`.
    pub fn name(&self, quick: bool) -> String {
        if quick {
            format!("{}-quick", self.letter)
        } else {
            self.letter.to_string()
        }
    }

    /// The generator spec of this scenario.
    pub fn spec(&self, quick: bool, deadline_ms: u64, max_connecting: u32) -> Spec {
        let testers = (0..self.peers)
            .map(|i| PeerSpec {
                addr: tester_addr(i),
                asn: match self.mode {
                    Mode::Ebgp => FIRST_TESTER_AS + i,
                    Mode::IbgpRr => TARGET_AS,
                },
            })
            .collect();
        let monitor = (self.mode == Mode::Ebgp).then_some(PeerSpec {
            addr: MONITOR_ADDR,
            asn: MONITOR_AS,
        });
        Spec {
            scenario: self.name(quick),
            mode: self.mode,
            target: TARGET_ADDR,
            port: 179,
            testers,
            monitor,
            per_peer: self.per_peer,
            sets_per_peer: match self.mode {
                Mode::Ebgp => self.per_peer.clamp(1, MAX_SETS_PER_PEER),
                Mode::IbgpRr => 1,
            },
            churn_every: self.churn_every,
            deadline_ms,
            max_connecting,
        }
    }
}

/// Source address of tester `i`: 198.18.1.1, 198.18.1.2, … 250 per /24 (198.18.1–198.18.8).
pub fn tester_addr(i: u32) -> Ipv4Addr {
    let third = 1 + i / 250;
    let fourth = 1 + i % 250;
    Ipv4Addr::new(198, 18, third as u8, fourth as u8)
}

impl Spec {
    /// Number of testers.
    pub fn peers(&self) -> u32 {
        self.testers.len() as u32
    }

    /// The monitor (if any) and then every tester: the target's peers in configuration order.
    pub fn peers_with_monitor(&self) -> Vec<PeerSpec> {
        self.monitor
            .iter()
            .copied()
            .chain(self.testers.iter().copied())
            .collect()
    }

    /// Prefixes announced in all.
    pub fn total(&self) -> u64 {
        u64::from(self.peers()) * u64::from(self.per_peer)
    }

    /// Prefixes each monitor must hold at the end: all of them (eBGP), or every other client's
    /// (RR: a client does not get its own routes back).
    pub fn expected_per_monitor(&self) -> u64 {
        match self.mode {
            Mode::Ebgp => self.total(),
            Mode::IbgpRr => self.total() - u64::from(self.per_peer),
        }
    }

    /// Prefixes withdrawn by the churn phase.
    pub fn churned(&self) -> u64 {
        match self.churn_every {
            Some(every) => {
                u64::from(self.peers()) * u64::from(self.per_peer.div_ceil(every.max(1)))
            }
            None => 0,
        }
    }

    /// Checks the address plan has room for this many peers and prefixes.
    pub fn validate(&self) -> Result<(), String> {
        if self.testers.len() > 2000 {
            return Err(format!("{} testers: at most 2000", self.testers.len()));
        }
        match self.mode {
            Mode::Ebgp if self.total() > 1 << 24 => {
                Err(format!("{} /24s do not fit in 16.0.0.0/4", self.total()))
            }
            Mode::IbgpRr if self.total() > 1024 => {
                Err(format!("{} /26s do not fit in 198.19.0.0/16", self.total()))
            }
            _ => Ok(()),
        }
    }

    /// Prefixes per attribute set: tester `p`'s prefix `k` uses set `k / run_len`.
    pub fn run_len(&self) -> u32 {
        self.per_peer.div_ceil(self.sets_per_peer.max(1)).max(1)
    }

    /// Tester `p`'s `k`-th prefix.
    pub fn prefix(&self, p: u32, k: u32) -> Ipv4Net {
        let index = p * self.per_peer + k;
        let (base, shift, len) = match self.mode {
            Mode::Ebgp => (EBGP_BASE, 8, 24),
            Mode::IbgpRr => (RR_BASE, 6, 26),
        };
        let addr = Ipv4Addr::from(u32::from(base).wrapping_add(index << shift));
        Ipv4Net::new(addr, len).unwrap_or_default()
    }

    /// The inverse of [`Spec::prefix`]: `(p, k)` of a received prefix, `None` if it is not one
    /// of ours.
    pub fn index_of(&self, net: &IpNet) -> Option<(u32, u32)> {
        let IpNet::V4(net) = net else {
            return None;
        };
        let (base, shift, len) = match self.mode {
            Mode::Ebgp => (EBGP_BASE, 8, 24),
            Mode::IbgpRr => (RR_BASE, 6, 26),
        };
        if net.prefix_len() != len {
            return None;
        }
        let offset = u32::from(net.addr()).checked_sub(u32::from(base))?;
        let index = u64::from(offset >> shift);
        if index >= self.total() {
            return None;
        }
        let index = index as u32;
        Some((index / self.per_peer, index % self.per_peer))
    }

    /// The AS path tester `p` sends for attribute set `s`: its own AS, then 0–3 transit ASes,
    /// then (for odd sets) a 4-octet origin AS. Empty in RR mode (routes originated in the AS).
    pub fn sent_path(&self, p: u32, s: u32) -> Vec<u32> {
        let Some(me) = self.testers.get(p as usize) else {
            return Vec::new();
        };
        if self.mode == Mode::IbgpRr {
            return Vec::new();
        }
        let mut path = vec![me.asn];
        for i in 0..(s % 4) {
            let t = (s as usize + p as usize + i as usize * 7) % TRANSIT.len();
            path.push(TRANSIT.get(t).copied().unwrap_or(174));
        }
        if s % 2 == 1 {
            path.push(4_200_000_000 + s);
        }
        path
    }

    /// The AS path a monitor must see for tester `p`'s set `s`: the target's AS prepended
    /// (eBGP), unchanged (RR).
    pub fn expected_path(&self, p: u32, s: u32) -> Vec<u32> {
        let sent = self.sent_path(p, s);
        match self.mode {
            Mode::Ebgp => std::iter::once(TARGET_AS).chain(sent).collect(),
            Mode::IbgpRr => sent,
        }
    }

    /// The next hop a monitor must see for tester `p`'s routes: the target's address (eBGP next
    /// hop self), or the client's own (reflected unchanged).
    pub fn expected_next_hop(&self, p: u32) -> Ipv4Addr {
        match self.mode {
            Mode::Ebgp => self.target,
            Mode::IbgpRr => self
                .testers
                .get(p as usize)
                .map_or(Ipv4Addr::UNSPECIFIED, |t| t.addr),
        }
    }

    /// The path attributes of tester `p`'s set `s`: ORIGIN IGP, the AS path, NEXT_HOP = the
    /// tester's address; eBGP adds MED = `s` and two communities, RR adds LOCAL_PREF 100.
    pub fn attrs(&self, p: u32, s: u32) -> PathAttributes {
        let me = self.testers.get(p as usize).copied().unwrap_or(PeerSpec {
            addr: Ipv4Addr::UNSPECIFIED,
            asn: 0,
        });
        let mut a = PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::from_sequence(self.sent_path(p, s))),
            next_hop: Some(me.addr),
            ..PathAttributes::default()
        };
        match self.mode {
            Mode::Ebgp => {
                a.med = Some(s * 10);
                a.communities = thin_vec![
                    Community(((me.asn & 0xffff) << 16) | (s & 0xffff)),
                    Community((64496 << 16) | (s % 50)),
                ];
            }
            Mode::IbgpRr => a.local_pref = Some(100),
        }
        a
    }

    /// Tester `p`'s UPDATEs announcing the prefixes `ks` (ascending), grouped by attribute set
    /// and packed into messages of at most 4096 octets, encoded back to back.
    pub fn encode_announcements(&self, p: u32, ks: &[u32]) -> Result<Encoded, String> {
        let ctx = Ctx {
            ibgp: self.mode == Mode::IbgpRr,
            ..Ctx::default()
        };
        let run = self.run_len();
        let mut out = Encoded::default();
        let mut i = 0;
        while let Some(&k0) = ks.get(i) {
            let set = k0 / run;
            let same: Vec<u32> = ks
                .iter()
                .skip(i)
                .take_while(|&&k| k / run == set)
                .copied()
                .collect();
            i += same.len();
            let attrs = self.attrs(p, set);
            // Octets per prefix: /24 = 4, /26 = 5; the message minus NLRI from a 1-prefix encode.
            let per_prefix = match self.mode {
                Mode::Ebgp => 4,
                Mode::IbgpRr => 5,
            };
            let one = Update {
                attrs: attrs.clone(),
                nlri: vec![Nlri::new(IpNet::V4(self.prefix(p, k0)))],
                ..Update::default()
            };
            let one_len = wire::encode_to_vec(&Message::Update(one), &ctx)
                .map_err(|e| format!("encode: {e}"))?
                .len();
            let fit = 1 + (MAX_MESSAGE_LEN - one_len) / per_prefix;
            for chunk in same.chunks(fit.max(1)) {
                let u = Update {
                    attrs: attrs.clone(),
                    nlri: chunk
                        .iter()
                        .map(|&k| Nlri::new(IpNet::V4(self.prefix(p, k))))
                        .collect(),
                    ..Update::default()
                };
                out.push(&Message::Update(u), chunk.len(), &ctx)?;
            }
        }
        Ok(out)
    }

    /// Tester `p`'s UPDATEs withdrawing the prefixes `ks`, packed into 4096-octet messages.
    pub fn encode_withdrawals(&self, p: u32, ks: &[u32]) -> Result<Encoded, String> {
        let ctx = Ctx {
            ibgp: self.mode == Mode::IbgpRr,
            ..Ctx::default()
        };
        let per_prefix = match self.mode {
            Mode::Ebgp => 4,
            Mode::IbgpRr => 5,
        };
        let fit = (MAX_MESSAGE_LEN - 23) / per_prefix;
        let mut out = Encoded::default();
        for chunk in ks.chunks(fit) {
            let u = Update {
                withdrawn: chunk
                    .iter()
                    .map(|&k| Nlri::new(IpNet::V4(self.prefix(p, k))))
                    .collect(),
                ..Update::default()
            };
            out.push(&Message::Update(u), chunk.len(), &ctx)?;
        }
        Ok(out)
    }

    /// The prefix indexes the churn phase withdraws and re-announces (every `churn_every`-th).
    pub fn churn_indexes(&self) -> Vec<u32> {
        match self.churn_every {
            Some(every) => (0..self.per_peer).step_by(every.max(1) as usize).collect(),
            None => Vec::new(),
        }
    }
}

/// Messages encoded back to back, ready for one `write_all`.
#[derive(Clone, Debug, Default)]
pub struct Encoded {
    /// The octets.
    pub bytes: Vec<u8>,
    /// Number of messages.
    pub messages: u64,
    /// Number of prefixes in them.
    pub prefixes: u64,
}

impl Encoded {
    fn push(&mut self, msg: &Message, prefixes: usize, ctx: &Ctx) -> Result<(), String> {
        let mut buf = BytesMut::with_capacity(MAX_MESSAGE_LEN);
        wire::encode(msg, ctx, &mut buf).map_err(|e| format!("encode: {e}"))?;
        self.bytes.extend_from_slice(&buf);
        self.messages += 1;
        self.prefixes += prefixes as u64;
        Ok(())
    }
}
