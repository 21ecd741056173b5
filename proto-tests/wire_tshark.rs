//! An independent check of the wire encoder by Wireshark's BGP dissector.
//!
//! Every message type and path attribute wren sends is encoded with `wren::wire::encode_to_vec`,
//! written into a pcap as one TCP segment per message, and dissected by `tshark -T json`. The test
//! then asserts that tshark found nothing malformed or suspicious and that the fields it dissected
//! are the values that were encoded. Wireshark's dissector shares no code or authors with wren, so
//! a layout mistake that a round trip through our own decoder would hide shows up here.
//!
//! Needs `tshark` (Debian package `tshark`); `make test` installs it. Run by hand with
//! `cargo test --test wire_tshark -- --include-ignored --nocapture`. Written against tshark 4.0;
//! the field names below were read off `tshark -T json` / `tshark -V` output, not guessed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use thin_vec::thin_vec;
use wren::wire::{
    cease_subcode, code, encode_to_vec, update_subcode, AddPathFamily, AddPathMode, Aggregator,
    AsPath, Capability, Community, Ctx, ExtCommunity, Family, GracefulRestart,
    GracefulRestartFamily, LargeCommunity, Message, MpReach, MpUnreach, NextHop, Nlri,
    Notification, Open, Origin, PathAttributes, RawAttribute, RouteRefresh, RouteRefreshSubtype,
    Segment, SegmentType, Update,
};

// ------------------------------------------------------------------------------------------------
// pcap writer: raw IPv4 (LINKTYPE_RAW), one TCP segment per message, 198.51.100.1 -> .2:179.
// ------------------------------------------------------------------------------------------------

const SRC: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const DST: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const BGP_PORT: u16 = 179;
const LINKTYPE_RAW: u32 = 101;

/// The Internet checksum (RFC 1071) over the concatenation of `parts` (each of even length but
/// the last).
fn inet_checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = parts
        .iter()
        .flat_map(|p| p.chunks(2))
        .map(|w| u32::from(w[0]) << 8 | w.get(1).copied().map_or(0, u32::from))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// One direction of a TCP connection: each segment continues the sequence numbers of the last,
/// so tshark sees a gap-free stream and reports no TCP analysis warnings.
struct Flow {
    src_port: u16,
    seq: u32,
    ip_id: u16,
}

impl Flow {
    fn new(src_port: u16) -> Flow {
        Flow {
            src_port,
            seq: 1_000,
            ip_id: 1,
        }
    }

    /// An IPv4 packet carrying `payload` in the next TCP segment (PSH|ACK), both checksums set.
    fn segment(&mut self, payload: &[u8]) -> Vec<u8> {
        let mut tcp = Vec::with_capacity(20 + payload.len());
        tcp.extend_from_slice(&self.src_port.to_be_bytes());
        tcp.extend_from_slice(&BGP_PORT.to_be_bytes());
        tcp.extend_from_slice(&self.seq.to_be_bytes());
        tcp.extend_from_slice(&1u32.to_be_bytes()); // acknowledgment number
        tcp.extend_from_slice(&[5 << 4, 0x18]); // data offset 5 words; PSH|ACK
        tcp.extend_from_slice(&65535u16.to_be_bytes()); // window
        tcp.extend_from_slice(&[0, 0, 0, 0]); // checksum (set below), urgent pointer
        tcp.extend_from_slice(payload);
        let tcp_len = u16::try_from(tcp.len()).unwrap().to_be_bytes();
        let pseudo = [&SRC.octets()[..], &DST.octets(), &[0, 6], &tcp_len].concat();
        let sum = inet_checksum(&[&pseudo, &tcp]);
        tcp[16..18].copy_from_slice(&sum.to_be_bytes());

        let total = u16::try_from(20 + tcp.len()).unwrap();
        let mut ip = vec![0x45, 0]; // version 4, IHL 5; DSCP 0
        ip.extend_from_slice(&total.to_be_bytes());
        ip.extend_from_slice(&self.ip_id.to_be_bytes());
        ip.extend_from_slice(&[0x40, 0, 64, 6, 0, 0]); // DF; TTL 64; TCP; checksum (set below)
        ip.extend_from_slice(&SRC.octets());
        ip.extend_from_slice(&DST.octets());
        let sum = inet_checksum(&[&ip]);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        ip.extend_from_slice(&tcp);

        self.seq = self.seq.wrapping_add(u32::try_from(payload.len()).unwrap());
        self.ip_id = self.ip_id.wrapping_add(1);
        ip
    }
}

/// A classic pcap file (little-endian, microsecond timestamps) of raw IPv4 packets.
fn pcap(packets: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes()); // magic
    out.extend_from_slice(&2u16.to_le_bytes()); // version 2.4
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes()); // thiszone
    out.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
    out.extend_from_slice(&65535u32.to_le_bytes()); // snaplen
    out.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
    for (i, p) in packets.iter().enumerate() {
        let len = u32::try_from(p.len()).unwrap().to_le_bytes();
        out.extend_from_slice(&1_700_000_000u32.to_le_bytes()); // ts_sec
        out.extend_from_slice(&(u32::try_from(i).unwrap() * 1000).to_le_bytes()); // ts_usec
        out.extend_from_slice(&len); // captured length
        out.extend_from_slice(&len); // original length
        out.extend_from_slice(p);
    }
    out
}

// ------------------------------------------------------------------------------------------------
// tshark's JSON, kept in document order.
// ------------------------------------------------------------------------------------------------

/// A JSON value whose objects keep their keys in document order, duplicates included.
/// `serde_json::Value` sorts keys (the crate is built without `preserve_order`), which would
/// scramble tshark's tree: prefixes, AS numbers and communities must be compared in wire order.
#[derive(Debug)]
enum Node {
    Str(String),
    Obj(Vec<(String, Node)>),
    Arr(Vec<Node>),
    Other,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
        let mut v = Vec::new();
        while let Some(n) = a.next_element()? {
            v.push(n);
        }
        Ok(Node::Arr(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
        let mut v = Vec::new();
        while let Some(entry) = a.next_entry::<String, Node>()? {
            v.push(entry);
        }
        Ok(Node::Obj(v))
    }
}

impl Node {
    /// Calls `f(key, node)` for every keyed node below `self`, depth first in document order.
    /// Arrays are transparent: each element is reported under the array's key.
    fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a str, &'a Node)) {
        fn visit<'a>(k: &'a str, v: &'a Node, f: &mut dyn FnMut(&'a str, &'a Node)) {
            match v {
                Node::Arr(items) => items.iter().for_each(|i| visit(k, i, f)),
                _ => {
                    f(k, v);
                    v.walk(f);
                }
            }
        }
        match self {
            Node::Obj(entries) => entries.iter().for_each(|(k, v)| visit(k, v, f)),
            Node::Arr(items) => items.iter().for_each(|i| i.walk(f)),
            _ => {}
        }
    }

    /// Every node under `key`, in document order.
    fn subtrees(&self, key: &str) -> Vec<&Node> {
        let mut out = Vec::new();
        self.walk(&mut |k, v| {
            if k == key {
                out.push(v);
            }
        });
        out
    }

    /// The string values of any of `keys`, interleaved in document order.
    fn values(&self, keys: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        self.walk(&mut |k, v| {
            if let (true, Node::Str(s)) = (keys.contains(&k), v) {
                out.push(s.clone());
            }
        });
        out
    }

    /// The first value of `key` directly in this object.
    fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Obj(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// A part of the dissection (a BGP PDU, or one path attribute or capability in it) with a label
/// for assertion messages.
struct View<'a> {
    node: &'a Node,
    what: String,
}

impl<'a> View<'a> {
    /// Every value of the Wireshark field `key`, in wire order.
    fn all(&self, key: &str) -> Vec<String> {
        self.node.values(&[key])
    }

    /// Asserts that field `key` has exactly the values `want`, in order.
    fn expect(&self, key: &str, want: &[&str]) {
        assert_eq!(self.all(key), want, "{}: field {key}", self.what);
    }

    /// Asserts the values of several fields, interleaved as they occur in the tree.
    fn expect_seq(&self, keys: &[&str], want: &[&str]) {
        assert_eq!(
            self.node.values(keys),
            want,
            "{}: fields {keys:?}",
            self.what
        );
    }

    /// Prefixes `addr/len` of the field `prefix_key`, each paired with the `bgp.prefix_length`
    /// dissected just before it.
    fn prefixes(&self, prefix_key: &str) -> Vec<String> {
        let mut len = String::from("?");
        let mut out = Vec::new();
        self.node.walk(&mut |k, v| match (k, v) {
            ("bgp.prefix_length", Node::Str(s)) => len = s.clone(),
            (k, Node::Str(s)) if k == prefix_key => out.push(format!("{s}/{len}")),
            _ => {}
        });
        out
    }

    fn expect_prefixes(&self, prefix_key: &str, want: &[&str]) {
        assert_eq!(
            self.prefixes(prefix_key),
            want,
            "{}: {prefix_key}",
            self.what
        );
    }

    /// The path attributes as `(type code, flags, length)`, in wire order.
    fn attr_headers(&self) -> Vec<(String, String, String)> {
        self.node
            .subtrees("bgp.update.path_attribute")
            .into_iter()
            .map(|a| {
                let f = |k: &str| a.values(&[k]).into_iter().next().unwrap_or_default();
                (
                    f("bgp.update.path_attribute.type_code"),
                    f("bgp.update.path_attribute.flags"),
                    f("bgp.update.path_attribute.length"),
                )
            })
            .collect()
    }

    /// Asserts the attribute type codes and flags octets, in wire order.
    fn expect_attrs(&self, want: &[(u8, u8)]) {
        let got: Vec<(String, String)> = self
            .attr_headers()
            .into_iter()
            .map(|(t, f, _)| (t, f))
            .collect();
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(t, f)| (t.to_string(), format!("0x{f:02x}")))
            .collect();
        assert_eq!(got, want, "{}: path attributes (type, flags)", self.what);
    }

    /// The one subtree under `key`.
    fn part(&self, key: &str) -> View<'a> {
        let found = self.node.subtrees(key);
        assert_eq!(found.len(), 1, "{}: {key}", self.what);
        View {
            node: found[0],
            what: format!("{} {key}", self.what),
        }
    }

    /// The one path attribute with `type_code`.
    fn attr(&self, type_code: u8) -> View<'a> {
        let tc = type_code.to_string();
        let found: Vec<&Node> = self
            .node
            .subtrees("bgp.update.path_attribute")
            .into_iter()
            .filter(|a| a.values(&["bgp.update.path_attribute.type_code"]) == [tc.as_str()])
            .collect();
        assert_eq!(found.len(), 1, "{}: attribute {type_code}", self.what);
        View {
            node: found[0],
            what: format!("{} attribute {type_code}", self.what),
        }
    }

    /// The AS path segments of this AS_PATH / AS4_PATH attribute as `"<type> <as2|as4>: ASNs"`,
    /// where the width is the field Wireshark used to dissect the numbers.
    fn segments(&self) -> Vec<String> {
        const AS2: &str = "bgp.update.path_attribute.as_path_segment.as2";
        const AS4: &str = "bgp.update.path_attribute.as_path_segment.as4";
        self.node
            .subtrees("bgp.update.path_attribute.as_path_segment")
            .into_iter()
            .map(|s| {
                let kind = s.values(&["bgp.update.path_attribute.as_path_segment.type"]);
                let (as2, as4) = (s.values(&[AS2]), s.values(&[AS4]));
                let (width, asns) = if as2.is_empty() {
                    ("as4", as4)
                } else {
                    ("as2", as2)
                };
                format!("{} {width}: {}", kind.join(","), asns.join(" "))
            })
            .collect()
    }

    fn expect_segments(&self, want: &[&str]) {
        assert_eq!(self.segments(), want, "{}: AS path segments", self.what);
    }
}

/// Runs tshark, failing with the Debian package name when it is not installed.
fn tshark(args: &[&str]) -> String {
    let out = match Command::new("tshark").args(args).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "the `tshark` binary is missing: install the Debian package `tshark` \
             (`apt-get install tshark`; `make test` installs it)"
        ),
        Err(e) => panic!("cannot run tshark: {e}"),
    };
    assert!(
        out.status.success(),
        "tshark {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Expert severities (epan/proto.h: PI_CHAT 0x00200000, PI_NOTE 0x00400000, PI_WARN 0x00600000,
/// PI_ERROR 0x00800000); tshark's JSON prints them in decimal.
const PI_WARN: u64 = 0x0060_0000;

/// Every expert item of severity warning or above, and every malformed-packet marker, in one
/// packet's layers (all protocols, TCP and IP included), as `"message (severity)"`.
fn expert_problems(layers: &Node) -> Vec<String> {
    let mut out = Vec::new();
    layers.walk(&mut |k, v| match k {
        "_ws.expert" => {
            let sev = v.values(&["_ws.expert.severity"]);
            let sev = sev
                .first()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(u64::MAX);
            if sev >= PI_WARN {
                let msg = v.values(&["_ws.expert.message"]).join("; ");
                out.push(format!("expert: {msg} (severity {sev:#x})"));
            }
        }
        "_ws.malformed" => {
            if let Node::Str(s) = v {
                out.push(format!("malformed: {s}"));
            }
        }
        _ => {}
    });
    out
}

// ------------------------------------------------------------------------------------------------
// The messages and what Wireshark must make of them.
// ------------------------------------------------------------------------------------------------

type Check = Box<dyn Fn(&View<'_>)>;

/// One message of the capture, the session it is sent on, and the dissection it must get.
struct Case {
    what: &'static str,
    msg: Message,
    ctx: Ctx,
    /// TCP source port: one port per BGP session.
    port: u16,
    check: Check,
}

/// The main session: both sides sent the 4-octet AS capability.
const SESSION_4OCTET: u16 = 40000;
/// A session with a 2-octet-AS peer (RFC 6793 §4.2.2: AS_TRANS, AS4_PATH, AS4_AGGREGATOR).
const SESSION_2OCTET: u16 = 40001;
/// ADD-PATH send negotiated for IPv4 and IPv6 unicast (RFC 7911).
const SESSION_ADD_PATH: u16 = 40002;

fn case(what: &'static str, msg: Message, check: impl Fn(&View<'_>) + 'static) -> Case {
    Case {
        what,
        msg,
        ctx: Ctx {
            ibgp: true,
            ..Ctx::default()
        },
        port: SESSION_4OCTET,
        check: Box::new(check),
    }
}

impl Case {
    fn on(mut self, port: u16, ctx: Ctx) -> Case {
        self.port = port;
        self.ctx = ctx;
        self
    }

    fn msg_type(&self) -> u8 {
        match self.msg {
            Message::Open(_) => 1,
            Message::Update(_) => 2,
            Message::Notification(_) => 3,
            Message::Keepalive => 4,
            Message::RouteRefresh(_) => 5,
        }
    }
}

fn pfx(s: &str) -> Nlri {
    Nlri::new(s.parse().unwrap())
}

fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn update(u: Update) -> Message {
    Message::Update(u)
}

fn seq(asns: &[u32]) -> Segment {
    Segment {
        kind: SegmentType::Sequence,
        asns: asns.to_vec(),
    }
}

fn segment(kind: SegmentType, asns: &[u32]) -> Segment {
    Segment {
        kind,
        asns: asns.to_vec(),
    }
}

// Attribute flags octets as RFC 4271 §5 and each attribute's RFC define them, written out here
// rather than taken from wren.
const WELL_KNOWN: u8 = 0x40;
const OPT_NON_TRANSITIVE: u8 = 0x80;
const OPT_TRANSITIVE: u8 = 0xc0;

/// An optional transitive attribute unknown to wren and to Wireshark 4.0. (Wireshark gives the
/// unassigned type 99 to BGP-LS, so an arbitrary unassigned code will not do.)
const UNKNOWN_ATTR_TYPE: u8 = 200;
/// A capability code from the private-use range (RFC 5492 §4) that Wireshark 4.0 does not know.
const UNKNOWN_CAPABILITY: u8 = 200;

const SHUTDOWN_TEXT: &str = "maintenance: back at 14:00 — ticket #4711";

fn open_with_every_capability() -> Case {
    let all_caps = Open::new(
        4200000001,
        90,
        Ipv4Addr::new(198, 51, 100, 1),
        vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::Multiprotocol(Family::IPV6_UNICAST),
            Capability::RouteRefresh,
            Capability::EnhancedRouteRefresh,
            Capability::GracefulRestart(GracefulRestart {
                restart_state: true,
                notification: true,
                restart_time: 120,
                families: vec![
                    GracefulRestartFamily {
                        family: Family::IPV4_UNICAST,
                        forwarding_preserved: true,
                    },
                    GracefulRestartFamily {
                        family: Family::IPV6_UNICAST,
                        forwarding_preserved: false,
                    },
                ],
            }),
            Capability::AddPath(vec![
                AddPathFamily {
                    family: Family::IPV4_UNICAST,
                    mode: AddPathMode::Both,
                },
                AddPathFamily {
                    family: Family::IPV6_UNICAST,
                    mode: AddPathMode::Receive,
                },
            ]),
            Capability::ExtendedMessage,
            Capability::Unknown {
                code: UNKNOWN_CAPABILITY,
                value: Bytes::from_static(&[0xca, 0xfe]),
            },
        ],
    );
    case("OPEN with every capability", Message::Open(all_caps), |p| {
        p.expect("bgp.open.version", &["4"]);
        p.expect("bgp.open.myas", &["23456"]); // AS_TRANS (RFC 6793 §4.1)
        p.expect("bgp.open.holdtime", &["90"]);
        p.expect("bgp.open.identifier", &["198.51.100.1"]);
        p.expect("bgp.open.opt.param.type", &["2"]); // one Capabilities parameter
        p.expect(
            "bgp.cap.type",
            &["1", "1", "2", "70", "64", "69", "6", "200", "65"],
        );
        p.expect(
            "bgp.cap.length",
            &["4", "4", "0", "0", "10", "8", "0", "2", "4"],
        );
        // Multiprotocol: AFI, reserved, SAFI (RFC 4760 §8).
        p.expect_seq(
            &["bgp.cap.mp.afi", "bgp.cap.reserved", "bgp.cap.mp.safi"],
            &["1", "00", "1", "2", "00", "1"],
        );
        // Graceful Restart: R and N bits, 120 s, IPv4 with F, IPv6 without (RFC 4724 §3).
        p.expect("bgp.cap.gr.timers", &["0xc078"]);
        p.expect("bgp.cap.gr.timers.restart_flag", &["1"]);
        p.expect("bgp.cap.gr.timers.notification_flag", &["1"]);
        p.expect("bgp.cap.gr.timers.restart_time", &["120"]);
        p.expect_seq(
            &["bgp.cap.gr.afi", "bgp.cap.gr.safi", "bgp.cap.gr.flag"],
            &["1", "1", "0x80", "2", "1", "0x00"],
        );
        // ADD-PATH: IPv4 both (3), IPv6 receive (1) (RFC 7911 §4).
        p.expect_seq(
            &[
                "bgp.cap.ap.afi",
                "bgp.cap.ap.safi",
                "bgp.cap.ap.sendreceive",
            ],
            &["1", "1", "3", "2", "1", "1"],
        );
        p.expect("bgp.cap.unknown", &["ca:fe"]);
        p.expect("bgp.cap.4as", &["4200000001"]);
    })
}

/// The capture, in order: the main session (OPEN, KEEPALIVE, UPDATEs, ROUTE-REFRESHes, Cease),
/// a 2-octet-AS session, and last an ADD-PATH session.
fn cases() -> Vec<Case> {
    let full = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath {
            segments: vec![
                seq(&[64512, 4200000001]),
                segment(SegmentType::Set, &[64600, 64601]),
            ],
        }),
        next_hop: Some(Ipv4Addr::new(198, 51, 100, 1)),
        med: Some(10),
        local_pref: Some(100),
        atomic_aggregate: true,
        aggregator: Some(Aggregator {
            asn: 64512,
            address: Ipv4Addr::new(198, 51, 100, 9),
        }),
        communities: thin_vec![
            Community::NO_EXPORT,
            Community::NO_ADVERTISE,
            Community::NO_EXPORT_SUBCONFED,
            Community::NO_PEER,
            Community::new(64512, 100),
        ],
        originator_id: Some(Ipv4Addr::new(198, 51, 100, 2)),
        cluster_list: thin_vec![
            Ipv4Addr::new(198, 51, 100, 3),
            Ipv4Addr::new(198, 51, 100, 4),
        ],
        ext_communities: thin_vec![ExtCommunity::route_target(64512, 7)],
        large_communities: thin_vec![
            LargeCommunity {
                global: 4200000001,
                local1: 1,
                local2: 2,
            },
            LargeCommunity {
                global: 64512,
                local1: 0,
                local2: u32::MAX,
            },
        ],
        unknown: thin_vec![RawAttribute {
            flags: OPT_TRANSITIVE,
            type_code: UNKNOWN_ATTR_TYPE,
            value: Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef]),
        }],
    };
    let confed = PathAttributes {
        origin: Some(Origin::Incomplete),
        as_path: Some(AsPath {
            segments: vec![
                segment(SegmentType::ConfedSequence, &[65001, 65002]),
                segment(SegmentType::ConfedSet, &[65003]),
                seq(&[64513]),
            ],
        }),
        next_hop: Some(Ipv4Addr::new(198, 51, 100, 5)),
        ..PathAttributes::default()
    };
    let v6_attrs = PathAttributes {
        origin: Some(Origin::Egp),
        as_path: Some(AsPath::from_sequence([64514])),
        ..PathAttributes::default()
    };
    let two_octet = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::from_sequence([64515, 4200000001, 4200000002])),
        next_hop: Some(Ipv4Addr::new(198, 51, 100, 6)),
        aggregator: Some(Aggregator {
            asn: 4200000003,
            address: Ipv4Addr::new(198, 51, 100, 10),
        }),
        ..PathAttributes::default()
    };
    vec![
        open_with_every_capability(),
        case("KEEPALIVE", Message::Keepalive, |p| {
            p.expect("bgp.length", &["19"]);
        }),
        case(
            "UPDATE IPv4 with every attribute",
            update(Update {
                withdrawn: vec![pfx("198.18.0.0/16"), pfx("198.19.128.0/17")],
                attrs: full,
                nlri: vec![pfx("198.51.100.0/24"), pfx("203.0.113.5/32")],
                ..Update::default()
            }),
            |p| {
                p.expect_prefixes(
                    "bgp.withdrawn_prefix",
                    &["198.18.0.0/16", "198.19.128.0/17"],
                );
                p.expect_prefixes("bgp.nlri_prefix", &["198.51.100.0/24", "203.0.113.5/32"]);
                p.expect_attrs(&[
                    (1, WELL_KNOWN),
                    (2, WELL_KNOWN),
                    (3, WELL_KNOWN),
                    (4, OPT_NON_TRANSITIVE),
                    (5, WELL_KNOWN),
                    (6, WELL_KNOWN),
                    (7, OPT_TRANSITIVE),
                    (8, OPT_TRANSITIVE),
                    (9, OPT_NON_TRANSITIVE),
                    (10, OPT_NON_TRANSITIVE),
                    (16, OPT_TRANSITIVE),
                    (32, OPT_TRANSITIVE),
                    (UNKNOWN_ATTR_TYPE, OPT_TRANSITIVE),
                ]);
                p.attr(1).expect("bgp.update.path_attribute.origin", &["0"]);
                p.attr(2)
                    .expect_segments(&["2 as4: 64512 4200000001", "1 as4: 64600 64601"]);
                p.attr(3)
                    .expect("bgp.update.path_attribute.next_hop", &["198.51.100.1"]);
                p.attr(4)
                    .expect("bgp.update.path_attribute.multi_exit_disc", &["10"]);
                p.attr(5)
                    .expect("bgp.update.path_attribute.local_pref", &["100"]);
                p.attr(6).expect("bgp.update.path_attribute.length", &["0"]);
                let aggregator = p.attr(7);
                aggregator.expect("bgp.update.path_attribute.aggregator_as", &["64512"]);
                aggregator.expect(
                    "bgp.update.path_attribute.aggregator_origin",
                    &["198.51.100.9"],
                );
                // NO_EXPORT, NO_ADVERTISE, NO_EXPORT_SUBCONFED, NOPEER (RFC 1997, RFC 3765),
                // then 64512:100, in wire order.
                p.attr(8).expect_seq(
                    &[
                        "bgp.update.path_attribute.community_wellknown",
                        "bgp.update.path_attribute.community_as",
                        "bgp.update.path_attribute.community_value",
                    ],
                    &[
                        "0xffffff01",
                        "0xffffff02",
                        "0xffffff03",
                        "0xffffff04",
                        "64512",
                        "100",
                    ],
                );
                p.attr(9)
                    .expect("bgp.update.path_attribute.originator_id", &["198.51.100.2"]);
                p.attr(10).expect(
                    "bgp.path_attribute.cluster_id",
                    &["198.51.100.3", "198.51.100.4"],
                );
                // Route target 64512:7: type 0x00 (transitive 2-octet AS), sub-type 0x02.
                p.attr(16).expect_seq(
                    &[
                        "bgp.ext_com.type",
                        "bgp.ext_com.stype_tr_as2",
                        "bgp.ext_com.value_as2",
                        "bgp.ext_com.value_an4",
                    ],
                    &["0x00", "0x02", "64512", "7"],
                );
                p.attr(32).expect_seq(
                    &[
                        "bgp.large_communities.ga",
                        "bgp.large_communities.ldp1",
                        "bgp.large_communities.ldp2",
                    ],
                    &["4200000001", "1", "2", "64512", "0", "4294967295"],
                );
                // Passed through untouched; the value is only visible in the raw bytes (-x).
                p.attr(UNKNOWN_ATTR_TYPE)
                    .expect("bgp.update.path_attributes.unknown_raw", &["deadbeef"]);
            },
        ),
        case(
            "UPDATE IPv4 with confederation segments",
            update(Update {
                attrs: confed,
                // Wireshark's ADD-PATH heuristic takes a zero-length prefix followed by more
                // octets for a path identifier, so the default route travels alone.
                nlri: vec![pfx("0.0.0.0/0")],
                ..Update::default()
            }),
            |p| {
                p.expect_attrs(&[(1, WELL_KNOWN), (2, WELL_KNOWN), (3, WELL_KNOWN)]);
                p.attr(1).expect("bgp.update.path_attribute.origin", &["2"]);
                // AS_CONFED_SEQUENCE (3), AS_CONFED_SET (4), AS_SEQUENCE (2) (RFC 5065 §3).
                p.attr(2)
                    .expect_segments(&["3 as4: 65001 65002", "4 as4: 65003", "2 as4: 64513"]);
                p.attr(3)
                    .expect("bgp.update.path_attribute.next_hop", &["198.51.100.5"]);
                p.expect_prefixes("bgp.nlri_prefix", &["0.0.0.0/0"]);
                p.expect("bgp.withdrawn_prefix", &[]);
            },
        ),
        case(
            "UPDATE MP_REACH_NLRI IPv6, global next hop",
            update(Update {
                attrs: v6_attrs.clone(),
                mp_reach: Some(MpReach {
                    family: Family::IPV6_UNICAST,
                    next_hop: NextHop::V6 {
                        global: v6("2001:db8::1"),
                        link_local: None,
                    },
                    nlri: vec![pfx("2001:db8:a::/48"), pfx("2001:db8:b:1::/64")],
                }),
                ..Update::default()
            }),
            |p| {
                p.expect_attrs(&[(1, WELL_KNOWN), (2, WELL_KNOWN), (14, OPT_NON_TRANSITIVE)]);
                p.attr(1).expect("bgp.update.path_attribute.origin", &["1"]);
                p.attr(2).expect_segments(&["2 as4: 64514"]);
                let mp = p.attr(14);
                mp.expect("bgp.update.path_attribute.mp_reach_nlri.afi", &["2"]);
                mp.expect("bgp.update.path_attribute.mp_reach_nlri.safi", &["1"]);
                mp.expect(
                    "bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv6",
                    &["2001:db8::1"],
                );
                mp.expect(
                    "bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv6.link_local",
                    &[],
                );
                mp.expect("bgp.update.path_attribute.mp_reach_nlri.nbr_snpa", &["0"]);
                mp.expect_prefixes(
                    "bgp.mp_reach_nlri_ipv6_prefix",
                    &["2001:db8:a::/48", "2001:db8:b:1::/64"],
                );
                p.expect("bgp.update.path_attribute.next_hop", &[]);
                p.expect("bgp.nlri_prefix", &[]);
            },
        ),
        case(
            "UPDATE MP_REACH_NLRI IPv6, global and link-local next hop",
            update(Update {
                attrs: v6_attrs,
                mp_reach: Some(MpReach {
                    family: Family::IPV6_UNICAST,
                    next_hop: NextHop::V6 {
                        global: v6("2001:db8::2"),
                        link_local: Some(v6("fe80::2")),
                    },
                    nlri: vec![pfx("2001:db8:c::/48"), pfx("2001:db8:d::1/128")],
                }),
                ..Update::default()
            }),
            |p| {
                p.expect_attrs(&[(1, WELL_KNOWN), (2, WELL_KNOWN), (14, OPT_NON_TRANSITIVE)]);
                let mp = p.attr(14);
                mp.expect("bgp.update.path_attribute.length", &["61"]); // 5 + 32 + 24
                mp.expect(
                    "bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv6",
                    &["2001:db8::2"],
                );
                mp.expect(
                    "bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv6.link_local",
                    &["fe80::2"],
                );
                mp.expect_prefixes(
                    "bgp.mp_reach_nlri_ipv6_prefix",
                    &["2001:db8:c::/48", "2001:db8:d::1/128"],
                );
            },
        ),
        case(
            "UPDATE MP_UNREACH_NLRI IPv6",
            update(Update {
                mp_unreach: Some(MpUnreach {
                    family: Family::IPV6_UNICAST,
                    nlri: vec![pfx("2001:db8:a::/48"), pfx("2001:db8:e:8000::/49")],
                }),
                ..Update::default()
            }),
            |p| {
                p.expect_attrs(&[(15, OPT_NON_TRANSITIVE)]);
                let mp = p.attr(15);
                mp.expect("bgp.update.path_attribute.mp_unreach_nlri.afi", &["2"]);
                mp.expect("bgp.update.path_attribute.mp_unreach_nlri.safi", &["1"]);
                mp.expect_prefixes(
                    "bgp.mp_unreach_nlri_ipv6_prefix",
                    &["2001:db8:a::/48", "2001:db8:e:8000::/49"],
                );
            },
        ),
        case(
            "UPDATE MP_UNREACH_NLRI IPv6 default route",
            update(Update {
                mp_unreach: Some(MpUnreach {
                    family: Family::IPV6_UNICAST,
                    nlri: vec![pfx("::/0")],
                }),
                ..Update::default()
            }),
            |p| {
                p.expect_attrs(&[(15, OPT_NON_TRANSITIVE)]);
                p.attr(15)
                    .expect_prefixes("bgp.mp_unreach_nlri_ipv6_prefix", &["::/0"]);
            },
        ),
        case(
            "End-of-RIB IPv4",
            update(Update::end_of_rib(Family::IPV4_UNICAST)),
            |p| {
                // RFC 4724 §2: an UPDATE with nothing in it.
                p.expect("bgp.length", &["23"]);
                p.expect("bgp.update.withdrawn_routes.length", &["0"]);
                p.expect("bgp.update.path_attributes.length", &["0"]);
                p.expect_attrs(&[]);
            },
        ),
        case(
            "End-of-RIB IPv6",
            update(Update::end_of_rib(Family::IPV6_UNICAST)),
            |p| {
                // RFC 4724 §2: only an MP_UNREACH_NLRI with AFI/SAFI and no prefixes.
                p.expect("bgp.update.withdrawn_routes.length", &["0"]);
                p.expect_attrs(&[(15, OPT_NON_TRANSITIVE)]);
                let mp = p.attr(15);
                mp.expect("bgp.update.path_attribute.length", &["3"]);
                mp.expect("bgp.update.path_attribute.mp_unreach_nlri.afi", &["2"]);
                mp.expect("bgp.update.path_attribute.mp_unreach_nlri.safi", &["1"]);
                mp.expect("bgp.mp_unreach_nlri_ipv6_prefix", &[]);
            },
        ),
        case(
            "ROUTE-REFRESH normal, IPv4 unicast",
            Message::RouteRefresh(RouteRefresh::new(Family::IPV4_UNICAST)),
            |p| {
                p.expect_seq(
                    &[
                        "bgp.route_refresh.afi",
                        "bgp.route_refresh.subtype",
                        "bgp.route_refresh.safi",
                    ],
                    &["1", "0", "1"],
                );
            },
        ),
        case(
            "ROUTE-REFRESH BoRR, IPv6 unicast",
            Message::RouteRefresh(RouteRefresh {
                family: Family::IPV6_UNICAST,
                subtype: RouteRefreshSubtype::BeginningOfRouteRefresh,
            }),
            |p| {
                p.expect_seq(
                    &[
                        "bgp.route_refresh.afi",
                        "bgp.route_refresh.subtype",
                        "bgp.route_refresh.safi",
                    ],
                    &["2", "1", "1"],
                );
            },
        ),
        case(
            "ROUTE-REFRESH EoRR, IPv6 unicast",
            Message::RouteRefresh(RouteRefresh {
                family: Family::IPV6_UNICAST,
                subtype: RouteRefreshSubtype::EndOfRouteRefresh,
            }),
            |p| {
                p.expect_seq(
                    &[
                        "bgp.route_refresh.afi",
                        "bgp.route_refresh.subtype",
                        "bgp.route_refresh.safi",
                    ],
                    &["2", "2", "1"],
                );
            },
        ),
        case(
            "NOTIFICATION Cease / Administrative Shutdown",
            Message::Notification(Notification::cease_with_communication(
                cease_subcode::ADMINISTRATIVE_SHUTDOWN,
                SHUTDOWN_TEXT,
            )),
            |p| {
                p.expect("bgp.notify.major_error", &["6"]);
                p.expect("bgp.notify.minor_error_cease", &["2"]);
                // RFC 9003 §2: length octet, then UTF-8 (the em dash is 3 octets).
                p.expect(
                    "bgp.notify.communication_length",
                    &[&SHUTDOWN_TEXT.len().to_string()],
                );
                p.expect("bgp.notify.communication", &[SHUTDOWN_TEXT]);
            },
        ),
        case(
            "OPEN on the 2-octet-AS session (AS 64515 itself, no AS_TRANS)",
            Message::Open(Open::new(
                64515,
                180,
                Ipv4Addr::new(198, 51, 100, 1),
                vec![Capability::Multiprotocol(Family::IPV4_UNICAST)],
            )),
            |p| {
                p.expect("bgp.open.myas", &["64515"]);
                p.expect("bgp.open.holdtime", &["180"]);
                p.expect("bgp.cap.type", &["1", "65"]);
                p.expect("bgp.cap.4as", &["64515"]);
            },
        )
        .on(SESSION_2OCTET, Ctx::default()),
        case(
            "UPDATE on a 2-octet-AS session: AS4_PATH, AS4_AGGREGATOR",
            update(Update {
                attrs: two_octet,
                nlri: vec![pfx("203.0.113.64/26")],
                ..Update::default()
            }),
            |p| {
                p.expect_attrs(&[
                    (1, WELL_KNOWN),
                    (2, WELL_KNOWN),
                    (3, WELL_KNOWN),
                    (7, OPT_TRANSITIVE),
                    (17, OPT_TRANSITIVE),
                    (18, OPT_TRANSITIVE),
                ]);
                // RFC 6793 §4.2.2: 2-octet AS_PATH and AGGREGATOR with AS_TRANS (23456) for the
                // numbers that do not fit; the real ones in AS4_PATH and AS4_AGGREGATOR.
                p.attr(2).expect_segments(&["2 as2: 64515 23456 23456"]);
                let aggregator = p.attr(7);
                aggregator.expect("bgp.update.path_attribute.length", &["6"]);
                aggregator.expect("bgp.update.path_attribute.aggregator_as", &["23456"]);
                aggregator.expect(
                    "bgp.update.path_attribute.aggregator_origin",
                    &["198.51.100.10"],
                );
                p.attr(17)
                    .expect_segments(&["2 as4: 64515 4200000001 4200000002"]);
                let as4_aggregator = p.attr(18);
                as4_aggregator.expect("bgp.update.path_attribute.length", &["8"]);
                as4_aggregator.expect("bgp.update.path_attribute.aggregator_as", &["4200000003"]);
                as4_aggregator.expect(
                    "bgp.update.path_attribute.aggregator_origin",
                    &["198.51.100.10"],
                );
                p.attr(3)
                    .expect("bgp.update.path_attribute.next_hop", &["198.51.100.6"]);
                p.expect_prefixes("bgp.nlri_prefix", &["203.0.113.64/26"]);
            },
        )
        .on(
            SESSION_2OCTET,
            Ctx {
                four_octet_as: false,
                ..Ctx::default()
            },
        ),
        case(
            "NOTIFICATION UPDATE Message Error / Attribute Length Error",
            Message::Notification(Notification::with_data(
                code::UPDATE_MESSAGE,
                update_subcode::ATTRIBUTE_LENGTH_ERROR,
                vec![0x40, 1, 2, 0, 0],
            )),
            |p| {
                p.expect("bgp.notify.major_error", &["3"]);
                p.expect("bgp.notify.minor_error_update", &["5"]);
                p.expect("bgp.notify.minor_data", &["40:01:02:00:00"]);
            },
        )
        .on(SESSION_2OCTET, Ctx::default()),
        case(
            "UPDATE with ADD-PATH path identifiers, IPv4 and IPv6",
            update(Update {
                attrs: PathAttributes {
                    origin: Some(Origin::Igp),
                    as_path: Some(AsPath::from_sequence([64512])),
                    next_hop: Some(Ipv4Addr::new(198, 51, 100, 1)),
                    ..PathAttributes::default()
                },
                nlri: vec![
                    Nlri::with_path_id("198.51.100.0/24".parse().unwrap(), 1),
                    Nlri::with_path_id("198.51.100.0/24".parse().unwrap(), 2),
                ],
                mp_reach: Some(MpReach {
                    family: Family::IPV6_UNICAST,
                    next_hop: NextHop::V6 {
                        global: v6("2001:db8::1"),
                        link_local: None,
                    },
                    nlri: vec![Nlri::with_path_id("2001:db8:a::/48".parse().unwrap(), 7)],
                }),
                ..Update::default()
            }),
            |p| {
                // Wireshark does not follow the session's capabilities; it guesses path
                // identifiers from the NLRI bytes. Identifiers below 2^24 start with a zero
                // octet, which read without ADD-PATH is a /0 followed by more data, so the guess
                // is unambiguous here (and these ids are asserted).
                let nlri = p.part("bgp.update.nlri");
                nlri.expect_seq(
                    &["bgp.nlri_path_id", "bgp.nlri_prefix"],
                    &["1", "198.51.100.0", "2", "198.51.100.0"],
                );
                nlri.expect_prefixes("bgp.nlri_prefix", &["198.51.100.0/24", "198.51.100.0/24"]);
                p.attr(14).expect_seq(
                    &["bgp.nlri_path_id", "bgp.mp_reach_nlri_ipv6_prefix"],
                    &["7", "2001:db8:a::"],
                );
            },
        )
        .on(
            SESSION_ADD_PATH,
            Ctx {
                add_path_tx: vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
                ..Ctx::default()
            },
        ),
    ]
}

// ------------------------------------------------------------------------------------------------
// The test.
// ------------------------------------------------------------------------------------------------

/// Removes the scratch directory when the test passes; keeps it (and says where) when it fails.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("wire_tshark: capture kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn scratch_dir() -> Scratch {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!("wren-wire-tshark-{}-{nanos}", std::process::id());
    let dir = std::env::temp_dir().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

/// Encodes every case and writes the pcap; returns its path and each message's length.
fn write_capture(dir: &Path, cases: &[Case]) -> (PathBuf, Vec<usize>) {
    let mut flows: Vec<Flow> = Vec::new();
    let mut packets = Vec::new();
    let mut lens = Vec::new();
    for c in cases {
        let bytes =
            encode_to_vec(&c.msg, &c.ctx).unwrap_or_else(|e| panic!("encoding {}: {e}", c.what));
        let i = match flows.iter().position(|f| f.src_port == c.port) {
            Some(i) => i,
            None => {
                flows.push(Flow::new(c.port));
                flows.len() - 1
            }
        };
        packets.push(flows[i].segment(&bytes));
        lens.push(bytes.len());
    }
    let path = dir.join("wren.pcap");
    std::fs::write(&path, pcap(&packets)).unwrap();
    (path, lens)
}

#[test]
#[ignore = "needs tshark: run via make test"]
fn wireshark_dissects_every_encoded_message_as_encoded() {
    let started = std::time::Instant::now();
    let scratch = scratch_dir();
    let cases = cases();
    let (file, lens) = write_capture(&scratch.0, &cases);
    let file = file.to_str().unwrap();

    // `-d` pins port 179 to BGP in case a profile moved it. TCP and BGP desegmentation are on by
    // default, so a wrong length field would merge or split messages and fail the length check.
    // Checksum validation (off by default) keeps the pcap writer honest: a bad one is an Error.
    let opts = [
        "-r",
        file,
        "-d",
        "tcp.port==179,bgp",
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "tcp.check_checksum:TRUE",
    ];
    // `-x` adds each field's raw bytes (`<field>_raw`), the only way to see an unknown
    // attribute's value.
    let json = tshark(&[&opts[..], &["-T", "json", "-x"]].concat());
    let doc: Node = serde_json::from_str(&json).unwrap();
    let Node::Arr(packets) = &doc else {
        panic!("tshark -T json did not print an array")
    };
    let layers: Vec<&Node> = packets
        .iter()
        .map(|p| p.get("_source").and_then(|s| s.get("layers")).unwrap())
        .collect();
    assert_eq!(layers.len(), cases.len(), "one packet per message");

    // (a) Nothing malformed, no expert item at warning level or above, in any layer. Both ways of
    // asking tshark 4.0 work: in `-T json` an expert item is a `_ws.expert` object with a decimal
    // `_ws.expert.severity`, and a dissector exception adds `_ws.malformed`; `-q -z expert,warn`
    // prints a "Warns (n)" or "Errors (n)" table. (Checked by corrupting a capture: an attribute
    // length overrunning the UPDATE gives `_ws.malformed` plus an Error item, an unknown BGP-LS TLV
    // a Warning item; each appears in both.) The JSON says which packet; `-z` is a cross-check.
    let mut problems = Vec::new();
    for (i, (l, c)) in layers.iter().zip(&cases).enumerate() {
        for p in expert_problems(l) {
            problems.push(format!("packet {} ({}): {p}", i + 1, c.what));
        }
    }
    assert!(
        problems.is_empty(),
        "tshark flagged:\n{}",
        problems.join("\n")
    );
    let experts = tshark(&[&opts[..], &["-q", "-z", "expert,warn"]].concat());
    assert!(
        !experts.contains("Warns (") && !experts.contains("Errors ("),
        "tshark -z expert,warn:\n{experts}"
    );

    // (b) One BGP PDU per packet, of the type and length encoded, then each case's own fields.
    for (i, ((l, c), len)) in layers.iter().zip(&cases).zip(&lens).enumerate() {
        let what = format!("packet {} ({})", i + 1, c.what);
        let pdus = l.subtrees("bgp");
        assert_eq!(pdus.len(), 1, "{what}: BGP PDUs in the packet");
        let tcp = l.get("tcp").unwrap();
        assert_eq!(
            tcp.values(&["tcp.srcport"]),
            [c.port.to_string()],
            "{what}: TCP source port"
        );
        let pdu = View {
            node: pdus[0],
            what,
        };
        pdu.expect("bgp.type", &[&c.msg_type().to_string()]);
        pdu.expect("bgp.length", &[&len.to_string()]);
        (c.check)(&pdu);
    }
    println!(
        "wire_tshark: {} messages dissected by tshark as encoded in {:.2?}",
        cases.len(),
        started.elapsed()
    );
}

// ------------------------------------------------------------------------------------------------
// The helpers themselves (no tshark needed).
// ------------------------------------------------------------------------------------------------

#[test]
fn inet_checksum_matches_a_known_ipv4_header() {
    // 192.168.0.1 -> 192.168.0.199, UDP, checksum field zeroed; the known checksum is 0xb861.
    let header = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];
    assert_eq!(inet_checksum(&[&header]), 0xb861);
    // An odd-length tail is padded with a zero octet (RFC 1071 §4.1).
    assert_eq!(inet_checksum(&[&[0x01]]), !0x0100);
}

#[test]
fn node_keeps_tshark_order_and_duplicate_keys() {
    // tshark -T json repeats keys for repeated fields; serde_json::Value would keep only the last.
    let n: Node =
        serde_json::from_str(r#"{"bgp": {"a": "2", "b": {"a": "1"}, "a": ["3", "0"], "n": null}}"#)
            .unwrap();
    assert_eq!(n.values(&["a"]), ["2", "1", "3", "0"]);
    assert_eq!(n.subtrees("b").len(), 1);
}

#[test]
fn expert_problems_reports_warnings_errors_and_malformed_but_not_notes() {
    // Shapes copied from tshark 4.0.17 output on deliberately corrupted captures.
    let layers: Node = serde_json::from_str(
        r#"{
          "tcp": {"_ws.expert": {"tcp.analysis.x": "", "_ws.expert.message": "a note",
                                 "_ws.expert.severity": "4194304", "_ws.expert.group": "1"}},
          "bgp": {
            "bgp.update.path_attribute.link_state": {
              "_ws.expert": {"bgp.ls.warn": "",
                             "_ws.expert.message": "Unknown BGP-LS Attribute TLV Code (57005)!",
                             "_ws.expert.severity": "6291456",
                             "_ws.expert.group": "150994944"}}},
          "_ws.malformed": {
            "_ws.expert": {"_ws.malformed.expert": "",
                           "_ws.expert.message": "Malformed Packet (Exception occurred)",
                           "_ws.expert.severity": "8388608", "_ws.expert.group": "117440512"},
            "_ws.malformed": "Malformed Packet"}
        }"#,
    )
    .unwrap();
    assert_eq!(
        expert_problems(&layers),
        [
            "expert: Unknown BGP-LS Attribute TLV Code (57005)! (severity 0x600000)",
            "expert: Malformed Packet (Exception occurred) (severity 0x800000)",
            "malformed: Malformed Packet",
        ]
    );
}

#[test]
fn view_pairs_each_prefix_with_its_length_and_reads_as_path_widths() {
    let n: Node = serde_json::from_str(
        r#"{"bgp.update.nlri": {
              "x/24": {"bgp.prefix_length": "24", "bgp.nlri_prefix": "198.51.100.0"},
              "y/0": {"bgp.prefix_length": "0", "bgp.nlri_prefix": "0.0.0.0"}},
            "bgp.update.path_attribute": {"bgp.update.path_attribute.type_code": "2",
              "bgp.update.path_attribute.as_path_segment": {
                "bgp.update.path_attribute.as_path_segment.type": "2",
                "bgp.update.path_attribute.as_path_segment.as2": "64515",
                "bgp.update.path_attribute.as_path_segment.as2": "23456"}}}"#,
    )
    .unwrap();
    let v = View {
        node: &n,
        what: "sample".into(),
    };
    v.expect_prefixes("bgp.nlri_prefix", &["198.51.100.0/24", "0.0.0.0/0"]);
    v.attr(2).expect_segments(&["2 as2: 64515 23456"]);
}
