//! A Calico cluster end to end: several nodes running `wren run` in Calico mode against one real
//! etcd, a GoBGP ToR as a global BGPPeer, and "pods" behind Felix-like `cali*` veths.
//!
//! Namespaces: `lan` (a Linux bridge: every node, etcd and the ToR on 198.18.50.0/24), `etcd`
//! (.100), `tor` (GoBGP, AS 65001, .254), `node1`…`node4` (wren, AS 64512, .1….4) and one
//! `pod<i>` per node. The datastore holds the default BGPConfiguration (mesh on), two IP pools
//! and, per node, its Node and one confirmed /26 block affinity in each pool:
//!
//! * `203.0.113.0/24`, `ipipMode: CrossSubnet`: the nodes share a subnet, so blocks are routed
//!   `via <node address> dev eth0` (no tunnel), and pods reach each other through them;
//! * `198.51.100.0/24`, `ipipMode: Always`: blocks are routed `via <node address> dev tunl0
//!   onlink`. This kernel may have no `ipip`: then `tunl0` is a veth stub, only the route shape is
//!   checked and a NOTE says so (`WREN_REQUIRE_IPIP=1` fails instead); with `ipip`, pods also
//!   reach each other through real IP-in-IP.
//!
//! A pod is a namespace with its two addresses (one per pool) on `eth0`, a `default dev eth0`
//! route, and on the node the other end `calipod<i>` with `proxy_arp` and a `/32 dev calipod<i>`
//! route per address, as Felix programs them. "Reaching" a pod is a TCP SYN to a closed port
//! answered by the pod's kernel with a RST (bash's `/dev/tcp` reports "Connection refused": a
//! round trip), plus a ping when `ping` is installed.
//!
//! 1. Three nodes in a full mesh: each wren has `Mesh_<ip>` sessions to the two others and
//!    `Global_198_18_50_254` to the ToR, all Established (read through `wren show protocols
//!    --json` on each wren's control socket); each kernel has protocol-12 routes to the other
//!    nodes' blocks and protocol-12 blackholes for its own; the ToR learns every block from its
//!    owner with AS path [64512]; pods reach each other.
//! 2. The same cluster changed through the datastore only, every wren keeping its PID and logging
//!    `listening on` once: a fourth node joins (the others add a mesh session to it, no existing
//!    session resets); the ToR's BGPPeer is deleted (every node's ToR session goes, the mesh stays);
//!    node1 becomes a route reflector in three converged steps — `routeReflectorClusterID` and
//!    label `route-reflector` (node1 leaves the mesh, the others stay meshed), a BGPPeer
//!    `nodeSelector: all()` / `peerSelector: has(route-reflector)` (everyone also peers with
//!    node1), the mesh off (sessions to the reflector only, no `Node_` session reset) — and every
//!    kernel still routes every other block to its owner (reflection keeps the next hop;
//!    ORIGINATOR_ID = the owner, CLUSTER_LIST = node1's `routeReflectorClusterID`, set live).
//!
//! Pods' /32s, learned from their `cali*` veths, stay behind their node's block as with Calico's
//! `calico_aggr`: no node gets a protocol-12 /32 and the ToR learns none (asserted).
//!
//! Needs root, `etcd`, `etcdctl`, `gobgpd` and `bash`, so `#[ignore]`d and run by `make test`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "lab/mod.rs"]
mod lab;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use serde_json::Value;

use lab::gobgp::{Gobgp, GobgpConfig, GobgpNeighbor};
use lab::wren::Wren;
use lab::{wait_until, Family, Lab, LabError, Lan, Node};

const DEADLINE: Duration = Duration::from_secs(30);
const RES: &str = "/calico/resources/v3/projectcalico.org";
const NODE_AS: u32 = 64512;
const TOR_AS: u32 = 65001;
/// The LAN's first three octets: node i is `.i`, etcd `.100`, the ToR `.254`.
const LAN: [u8; 3] = [198, 18, 50];
const ETCD_HOST: u8 = 100;
const TOR_HOST: u8 = 254;
/// The ToR's peer name in Calico mode: a global BGPPeer.
const TOR_PEER: &str = "Global_198_18_50_254";
/// The reflector's cluster id (`routeReflectorClusterID`).
const CLUSTER_ID: &str = "198.19.0.1";

fn lan_addr(host: u8) -> Ipv4Addr {
    Ipv4Addr::new(LAN[0], LAN[1], LAN[2], host)
}

/// `Mesh_198_18_50_<i>` / `Node_198_18_50_<i>`: confd's peer names.
fn peer_name(kind: &str, i: u8) -> String {
    format!("{kind}_{}", lan_addr(i).to_string().replace('.', "_"))
}

// ------------------------------------------------------------------------------------------------
// Pools and blocks

/// The two pools: (name, CIDR, first three octets, ipipMode).
const POOLS: [(&str, &str, [u8; 3], &str); 2] = [
    ("cross", "203.0.113.0/24", [203, 0, 113], "CrossSubnet"),
    ("always", "198.51.100.0/24", [198, 51, 100], "Always"),
];

/// Node `i`'s block in pool `p` (index into [`POOLS`]): the `i`-th /26.
fn block(p: usize, i: u8) -> String {
    let o = POOLS[p].2;
    format!("{}.{}.{}.{}/26", o[0], o[1], o[2], 64 * (i - 1))
}

/// Node `i`'s pod address in pool `p`: the first address of its block.
fn pod_addr(p: usize, i: u8) -> String {
    let o = POOLS[p].2;
    format!("{}.{}.{}.{}", o[0], o[1], o[2], 64 * (i - 1) + 1)
}

/// etcd's key of node `i`'s block affinity in pool `p`.
fn affinity_key(p: usize, i: u8) -> String {
    format!(
        "/calico/ipam/v2/host/node{i}/ipv4/block/{}",
        block(p, i).replace('/', "-")
    )
}

// ------------------------------------------------------------------------------------------------
// Reading a wren: its BGP protocols through the control socket, its log

/// BGP protocol name → BGP state (`Established`, `Active`, …) from `wren show protocols --json`.
fn bgp_sessions(wren: &Wren) -> lab::Result<BTreeMap<String, String>> {
    let socket = wren.socket().to_string_lossy().into_owned();
    let raw = lab::run(
        env!("CARGO_BIN_EXE_wren"),
        &["show", "protocols", "--json", "--socket", &socket],
    )?;
    let v: Value = serde_json::from_str(raw.trim())
        .map_err(|e| LabError::new(format!("`wren show protocols --json`: {e}:\n{raw}")))?;
    let list = v
        .as_array()
        .ok_or_else(|| LabError::new(format!("not an array:\n{raw}")))?;
    Ok(list
        .iter()
        .filter(|p| p["kind"] == "Bgp")
        .map(|p| {
            let state = p["bgp"]["state"].as_str().unwrap_or("?").to_owned();
            (p["name"].as_str().unwrap_or("?").to_owned(), state)
        })
        .collect())
}

/// How many times `wren` logged that the session with `peer` came up.
fn established_count(wren: &Wren, peer: &str) -> usize {
    wren.log()
        .matches(&format!("peer {peer}: session established"))
        .count()
}

/// The lines of `wren`'s log about the datastore and peers coming and going, for failures.
fn story(wren: &Wren) -> String {
    wren.log()
        .lines()
        .filter(|l| {
            [
                "calico",
                "datastore",
                "session",
                "SIGHUP: peer",
                "listening",
                "starting (",
            ]
            .iter()
            .any(|k| l.contains(k))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The best path of `prefix` in `wren`'s RIB (`wren show route PREFIX --json`).
fn best_path(wren: &Wren, prefix: &str) -> Value {
    let socket = wren.socket().to_string_lossy().into_owned();
    let raw = lab::run(
        env!("CARGO_BIN_EXE_wren"),
        &["show", "route", prefix, "--json", "--socket", &socket],
    )
    .unwrap();
    let v: Value = serde_json::from_str(raw.trim()).unwrap();
    v.as_array()
        .and_then(|routes| routes.iter().find(|r| r["prefix"] == prefix))
        .and_then(|r| r["paths"].as_array())
        .and_then(|paths| paths.iter().find(|p| p["primary"] == true))
        .cloned()
        .unwrap_or_else(|| panic!("no best path for {prefix}:\n{raw}"))
}

// ------------------------------------------------------------------------------------------------
// Reading a kernel: protocol-12 routes (`ip -j route show proto 12`)

/// One of wren's kernel routes, reduced to what the tests compare.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct KRoute {
    dst: String,
    /// `unicast` or `blackhole`.
    kind: String,
    gateway: String,
    dev: String,
    onlink: bool,
}

impl KRoute {
    fn via(dst: &str, gateway: Ipv4Addr, dev: &str, onlink: bool) -> Self {
        Self {
            dst: dst.to_owned(),
            kind: "unicast".to_owned(),
            gateway: gateway.to_string(),
            dev: dev.to_owned(),
            onlink,
        }
    }

    fn blackhole(dst: &str) -> Self {
        Self {
            dst: dst.to_owned(),
            kind: "blackhole".to_owned(),
            gateway: String::new(),
            dev: String::new(),
            onlink: false,
        }
    }
}

/// Every protocol-12 IPv4 route of table main in `node`.
fn wren_routes(node: &Node) -> lab::Result<Vec<KRoute>> {
    let raw = node.ip(&["-4", "-j", "route", "show", "table", "main", "proto", "12"])?;
    if raw.trim().is_empty() {
        return Ok(Vec::new());
    }
    let v: Value = serde_json::from_str(raw.trim())
        .map_err(|e| LabError::new(format!("bad `ip -j route` JSON ({e}):\n{raw}")))?;
    let s = |r: &Value, k: &str| r[k].as_str().unwrap_or_default().to_owned();
    let mut out: Vec<KRoute> = v
        .as_array()
        .ok_or_else(|| LabError::new(format!("not an array:\n{raw}")))?
        .iter()
        .map(|r| {
            let mut dst = s(r, "dst");
            if !dst.contains('/') {
                dst.push_str("/32");
            }
            KRoute {
                dst,
                kind: match s(r, "type") {
                    t if t.is_empty() => "unicast".to_owned(),
                    t => t,
                },
                gateway: s(r, "gateway"),
                dev: s(r, "dev"),
                onlink: r["flags"]
                    .as_array()
                    .is_some_and(|f| f.iter().any(|x| x == "onlink")),
            }
        })
        .collect();
    out.sort();
    Ok(out)
}

// ------------------------------------------------------------------------------------------------
// The cluster

/// One Calico node: its namespace, its pod's namespace and its wren.
struct CalicoNode {
    i: u8,
    node: Node,
    pod: Node,
    wren: Wren,
}

impl CalicoNode {
    fn addr(&self) -> Ipv4Addr {
        lan_addr(self.i)
    }
}

struct Cluster {
    lab: Lab,
    lan: Lan,
    etcd: Node,
    url: String,
    tor: Gobgp,
    nodes: Vec<CalicoNode>,
    /// `tunl0` is a real IP-in-IP device (else a veth stub).
    ipip: bool,
}

use lab::etcd::etcdctl;

/// The JSON calicoctl writes for node `i`.
fn node_json(i: u8, labels: &str, rr_cluster_id: Option<&str>) -> String {
    let rr = rr_cluster_id
        .map(|c| format!(r#","routeReflectorClusterID":"{c}""#))
        .unwrap_or_default();
    format!(
        r#"{{"kind":"Node","apiVersion":"projectcalico.org/v3","metadata":{{"name":"node{i}","labels":{{{labels}}}}},"spec":{{"bgp":{{"ipv4Address":"{}/24"{rr}}}}}}}"#,
        lan_addr(i)
    )
}

fn bgp_configuration(mesh: bool) -> String {
    format!(
        r#"{{"kind":"BGPConfiguration","apiVersion":"projectcalico.org/v3","metadata":{{"name":"default"}},"spec":{{"asNumber":{NODE_AS},"nodeToNodeMeshEnabled":{mesh}}}}}"#
    )
}

/// `tunl0` in `node`: the IP-in-IP fallback device when the kernel has `ipip` (true), else a veth
/// named `tunl0` (its peer `tunp` in the same namespace), which is all an `onlink` route needs.
fn make_tunl0(node: &Node) -> bool {
    let ipip = node.ip(&["link", "show", "tunl0"]).is_ok()
        || node.ip(&["link", "add", "tunl0", "type", "ipip"]).is_ok();
    if !ipip {
        assert!(
            std::env::var_os("WREN_REQUIRE_IPIP").is_none(),
            "WREN_REQUIRE_IPIP is set but `ip link add tunl0 type ipip` fails: this kernel has no ipip"
        );
        node.ip(&[
            "link", "add", "tunl0", "type", "veth", "peer", "name", "tunp",
        ])
        .unwrap();
        node.ip(&["link", "set", "tunp", "up"]).unwrap();
    }
    node.ip(&["link", "set", "tunl0", "up"]).unwrap();
    ipip
}

impl Cluster {
    /// etcd, the datastore's cluster-wide keys (BGPConfiguration with the mesh on, the pools, the
    /// ToR's BGPPeer), the ToR (configured for nodes 1–4) and nodes 1..=`n`.
    fn start(test: &str, n: u8) -> Cluster {
        let lab = Lab::new(test).unwrap();
        lab::require_binaries(&["etcd", "etcdctl", "gobgpd", "gobgp", "ip", "bash", "sysctl"])
            .unwrap();
        let switch = lab.add_node("lan").unwrap();
        let lan = lab.add_lan(&switch, "br0").unwrap();

        let etcd = lab.add_node("etcd").unwrap();
        lan.attach(&etcd, "eth0", &[&format!("{}/24", lan_addr(ETCD_HOST))])
            .unwrap();
        let url = format!("http://{}:2379", lan_addr(ETCD_HOST));
        let _etcd_proc = lab::etcd::start(&lab, &etcd, &url).unwrap();

        let tor_node = lab.add_node("tor").unwrap();
        lan.attach(&tor_node, "eth0", &[&format!("{}/24", lan_addr(TOR_HOST))])
            .unwrap();
        let mut config = GobgpConfig::new(TOR_AS, lan_addr(TOR_HOST));
        for i in 1..=4 {
            config = config.neighbor(GobgpNeighbor::new(IpAddr::V4(lan_addr(i)), NODE_AS));
        }
        let tor = Gobgp::start(&tor_node, &config).unwrap();

        let mut cluster = Cluster {
            lab,
            lan,
            etcd,
            url,
            tor,
            nodes: Vec::new(),
            ipip: false,
        };
        cluster.put(
            &format!("{RES}/bgpconfigurations/default"),
            &bgp_configuration(true),
        );
        for (name, cidr, _, ipip) in POOLS {
            cluster.put(
                &format!("{RES}/ippools/{name}"),
                &format!(
                    r#"{{"kind":"IPPool","apiVersion":"projectcalico.org/v3","metadata":{{"name":"{name}"}},"spec":{{"cidr":"{cidr}","ipipMode":"{ipip}","vxlanMode":"Never","natOutgoing":true,"blockSize":26,"nodeSelector":"all()"}}}}"#
                ),
            );
        }
        cluster.put(
            &format!("{RES}/bgppeers/tor"),
            &format!(
                r#"{{"kind":"BGPPeer","apiVersion":"projectcalico.org/v3","metadata":{{"name":"tor"}},"spec":{{"peerIP":"{}","asNumber":{TOR_AS}}}}}"#,
                lan_addr(TOR_HOST)
            ),
        );
        // Every Node first, so that each wren's first derivation already has the whole mesh.
        for i in 1..=n {
            cluster.register(i);
        }
        for i in 1..=n {
            cluster.add_node(i);
        }
        cluster
    }

    fn put(&self, key: &str, value: &str) {
        etcdctl(&self.etcd, &self.url, &["put", key, value]).unwrap();
    }

    fn del(&self, key: &str) {
        etcdctl(&self.etcd, &self.url, &["del", key]).unwrap();
    }

    /// Writes node `i`'s Node and its two confirmed block affinities, as calico-node and IPAM do.
    fn register(&self, i: u8) {
        self.put(&format!("{RES}/nodes/node{i}"), &node_json(i, "", None));
        for p in 0..POOLS.len() {
            self.put(
                &affinity_key(p, i),
                r#"{"state":"confirmed","deleted":false}"#,
            );
        }
    }

    /// Creates node `i` on the LAN with its pod, and starts its wren.
    fn add_node(&mut self, i: u8) {
        let name = format!("node{i}");
        let node = self.lab.add_node(&name).unwrap();
        self.lan
            .attach(&node, "eth0", &[&format!("{}/24", lan_addr(i))])
            .unwrap();
        self.ipip = make_tunl0(&node);

        // The pod: a namespace behind a cali veth, as the CNI plugin and Felix set it up.
        let pod = self.lab.add_node(&format!("pod{i}")).unwrap();
        let cali = format!("calipod{i}");
        node.ip(&[
            "link",
            "add",
            &cali,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            pod.ns(),
        ])
        .unwrap();
        node.exec(&[
            "sysctl",
            "-qw",
            &format!("net.ipv4.conf.{cali}.proxy_arp=1"),
        ])
        .unwrap();
        node.ip(&["link", "set", &cali, "up"]).unwrap();
        pod.ip(&["link", "set", "eth0", "up"]).unwrap();
        for p in 0..POOLS.len() {
            let a = pod_addr(p, i);
            pod.add_address("eth0", &format!("{a}/32")).unwrap();
            node.ip(&["route", "add", &format!("{a}/32"), "dev", &cali])
                .unwrap();
        }
        pod.ip(&["route", "add", "default", "dev", "eth0"]).unwrap();

        let config = format!(
            "[global]\nasn = 1\nrouter_id = \"198.19.255.1\"\n\n[control]\nsocket = \"{}\"\n\n\
             [datastore]\ntype = \"etcdv3\"\nendpoints = [\"{}\"]\nnode_name = \"{name}\"\n",
            lab::wren::PLACEHOLDER_SOCKET,
            self.url
        );
        let wren = Wren::start(&self.lab, &node, "wren", &config).unwrap();
        self.nodes.push(CalicoNode { i, node, pod, wren });
    }

    fn node(&self, i: u8) -> &CalicoNode {
        self.nodes.iter().find(|n| n.i == i).unwrap()
    }

    /// Prints, for a reader of `make demo`, what the cluster looks like now: each node's BGP
    /// sessions as `wren show protocols` (the birdcl view calicoctl reads), its protocol-12
    /// kernel routes, and the ToR's BGP table.
    fn narrate(&self, title: &str) {
        println!("\n=== {title} ===");
        for n in &self.nodes {
            let socket = n.wren.socket().to_string_lossy().into_owned();
            let protocols = lab::run(
                env!("CARGO_BIN_EXE_wren"),
                &["show", "protocols", "--socket", &socket],
            )
            .unwrap_or_else(|e| e.to_string());
            println!("--- node{} ({}): wren show protocols", n.i, n.addr());
            for line in protocols.lines().filter(|l| !l.trim().is_empty()) {
                println!("    {line}");
            }
            let routes = n
                .node
                .exec(&["ip", "-4", "route", "show", "proto", "bird"])
                .unwrap_or_default();
            println!("--- node{}: ip route show proto bird", n.i);
            for line in routes.lines() {
                println!("    {line}");
            }
        }
        match self.tor.rib(Family::Ipv4) {
            Ok(rib) => {
                println!(
                    "--- ToR (GoBGP, AS {TOR_AS}): best paths (every node passes the pools' \
                     routes on, as Calico's BIRD export filter does; the ToR picks one)"
                );
                for r in rib {
                    let next_hop = r.next_hop.map(|h| h.to_string()).unwrap_or_default();
                    println!(
                        "    {:<18} via {:<14} AS path {:?}",
                        r.prefix, next_hop, r.as_path
                    );
                }
            }
            Err(e) => println!("--- ToR: {e}"),
        }
    }

    /// Every wren's log story, for failure messages.
    fn stories(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("----- node{} -----\n{}", n.i, story(&n.wren)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits until node `i`'s wren has exactly the BGP protocols `want`, all Established.
    fn wait_sessions(&self, i: u8, want: &[String]) {
        let n = self.node(i);
        let mut want: Vec<String> = want.to_vec();
        want.sort();
        wait_until(
            DEADLINE,
            &format!("node{i}'s BGP sessions to be exactly {want:?}, all Established"),
            || {
                if !n.wren.proc().is_running() {
                    return Err(LabError::new("wren exited"));
                }
                let got = bgp_sessions(&n.wren)?;
                let names: Vec<String> = got.keys().cloned().collect();
                if names == want && got.values().all(|s| s == "Established") {
                    Ok(true)
                } else {
                    Err(LabError::new(format!("wren shows {got:?}")))
                }
            },
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", self.stories()));
    }

    /// The mesh: every node has a `Mesh_` session to every other one, plus the ToR if `tor`.
    fn wait_mesh(&self, tor: bool) {
        for n in &self.nodes {
            let mut want: Vec<String> = self
                .nodes
                .iter()
                .filter(|m| m.i != n.i)
                .map(|m| peer_name("Mesh", m.i))
                .collect();
            if tor {
                want.push(TOR_PEER.to_owned());
            }
            self.wait_sessions(n.i, &want);
        }
    }

    /// Waits until every node's kernel has, as protocol-12 /26 routes, exactly: a blackhole for
    /// each of its own blocks, and for every other node's blocks a route via that node's LAN
    /// address — directly over `eth0` in the CrossSubnet pool, `dev tunl0 onlink` in the Always
    /// pool. Returns the other protocol-12 routes seen (learned pod /32s), per node.
    fn wait_kernel_routes(&self) -> BTreeMap<u8, Vec<KRoute>> {
        let mut extra = BTreeMap::new();
        for n in &self.nodes {
            let mut want = Vec::new();
            for m in &self.nodes {
                if m.i == n.i {
                    want.push(KRoute::blackhole(&block(0, m.i)));
                    want.push(KRoute::blackhole(&block(1, m.i)));
                } else {
                    want.push(KRoute::via(&block(0, m.i), m.addr(), "eth0", false));
                    want.push(KRoute::via(&block(1, m.i), m.addr(), "tunl0", true));
                }
            }
            want.sort();
            let others = lab::wait_for(
                DEADLINE,
                &format!("node{}'s protocol-12 block routes to be {want:#?}", n.i),
                || {
                    let all = wren_routes(&n.node)?;
                    let (blocks, others): (Vec<KRoute>, Vec<KRoute>) =
                        all.into_iter().partition(|r| r.dst.ends_with("/26"));
                    if blocks == want {
                        Ok(Some(others))
                    } else {
                        Err(LabError::new(format!("the kernel has {blocks:#?}")))
                    }
                },
            )
            .unwrap_or_else(|e| panic!("{e}\n{}", self.stories()));
            extra.insert(n.i, others);
        }
        extra
    }

    /// Waits until the ToR has, from every node, that node's blocks with AS path [64512] and the
    /// node as next hop.
    fn wait_tor_learns_every_block(&self) {
        for n in &self.nodes {
            let from = IpAddr::V4(n.addr());
            wait_until(
                DEADLINE,
                &format!("the ToR to learn node{}'s blocks from it", n.i),
                || {
                    let routes = self.tor.adj_rib_in(from, Family::Ipv4)?;
                    let ok = (0..POOLS.len()).all(|p| {
                        routes.iter().any(|r| {
                            r.prefix == block(p, n.i)
                                && r.as_path == vec![NODE_AS]
                                && r.next_hop == Some(from)
                        })
                    });
                    if ok {
                        Ok(true)
                    } else {
                        Err(LabError::new(format!(
                            "adj-rib-in from {from}: {routes:#?}"
                        )))
                    }
                },
            )
            .unwrap_or_else(|e| panic!("{e}\n{}", self.stories()));
        }
    }

    /// Pod `from` reaches pod `to`'s address in pool `p`: a TCP SYN to a closed port comes back
    /// as a RST ("Connection refused"), and a ping answers when `ping` is installed.
    fn wait_pod_reaches(&self, from: u8, to: u8, p: usize) {
        let src = &self.node(from).pod;
        let dst = pod_addr(p, to);
        let connect = format!("exec 3<>/dev/tcp/{dst}/7");
        wait_until(
            Duration::from_secs(15),
            &format!("pod{from} to reach pod{to} at {dst} (a RST from port 7)"),
            || {
                let out = src.exec_output(&["timeout", "3", "bash", "-c", &connect])?;
                let stderr = String::from_utf8_lossy(&out.stderr);
                if stderr.contains("Connection refused") {
                    Ok(true)
                } else {
                    Err(LabError::new(format!(
                        "bash: {:?}: {}",
                        out.status,
                        stderr.trim()
                    )))
                }
            },
        )
        .unwrap_or_else(|e| {
            let route = self.node(from).node.ip(&["route", "get", &dst]);
            panic!(
                "{e}\nnode{from}: ip route get {dst}: {route:?}\n{}",
                self.stories()
            )
        });
        if lab::find_binary("ping").is_some() {
            src.exec(&["ping", "-c", "1", "-W", "2", &dst])
                .unwrap_or_else(|e| panic!("pod{from} cannot ping {dst}: {e}"));
        }
    }

    /// Every wren's PID, to check later that none was restarted.
    fn pids(&self) -> Vec<(u8, u32)> {
        self.nodes
            .iter()
            .map(|n| (n.i, n.wren.daemon_pid().unwrap()))
            .collect()
    }

    /// Every wren still runs as `pids` recorded, and started (listened, synced) exactly once.
    fn assert_never_restarted(&self, pids: &[(u8, u32)]) {
        for &(i, pid) in pids {
            let w = &self.node(i).wren;
            assert_eq!(w.daemon_pid().unwrap(), pid, "node{i}'s wren was restarted");
            let log = w.log();
            assert_eq!(log.matches("listening on").count(), 1, "node{i}:\n{log}");
            assert_eq!(
                log.matches("calico mode: in sync").count(),
                1,
                "node{i}:\n{log}"
            );
        }
    }

    /// `(node, peer) → times established` for every BGP session every wren shows now.
    fn established_counts(&self) -> BTreeMap<(u8, String), usize> {
        let mut m = BTreeMap::new();
        for n in &self.nodes {
            for peer in bgp_sessions(&n.wren).unwrap().keys() {
                m.insert((n.i, peer.clone()), established_count(&n.wren, peer));
            }
        }
        m
    }

    /// None of the sessions in `before` came up again since.
    fn assert_no_session_reset(&self, before: &BTreeMap<(u8, String), usize>, when: &str) {
        for ((i, peer), count) in before {
            let now = established_count(&self.node(*i).wren, peer);
            assert_eq!(
                now,
                *count,
                "{when}: node{i}'s session {peer} was reset (established {count} -> {now} times)\n{}",
                self.stories()
            );
        }
    }
}

/// Asserts that no node has protocol-12 routes other than blocks (pod /32s learned from
/// `cali*` inside a node's own block stay behind that block, as Calico's BIRD `calico_aggr`
/// does) and that the ToR learned no pod /32.
fn assert_no_pod_routes(cluster: &Cluster, extra: &BTreeMap<u8, Vec<KRoute>>) {
    for (i, routes) in extra {
        assert!(
            routes.is_empty(),
            "node{i} has non-block protocol-12 routes (pod /32s leaked): {routes:?}"
        );
    }
    let tor_32s: Vec<String> = cluster
        .tor
        .rib(Family::Ipv4)
        .unwrap()
        .into_iter()
        .filter(|r| r.prefix.ends_with("/32"))
        .map(|r| r.prefix)
        .collect();
    assert!(
        tor_32s.is_empty(),
        "the ToR learned pod /32s inside the nodes' blocks: {tor_32s:?}"
    );
}

#[test]
#[ignore = "needs root, etcd, etcdctl and gobgpd: run via make test"]
fn three_calico_nodes_in_a_mesh_exchange_blocks_program_routes_and_reach_each_others_pods() {
    let cluster = Cluster::start("calico_mesh", 3);
    cluster.wait_mesh(true);
    let extra = cluster.wait_kernel_routes();
    cluster.wait_tor_learns_every_block();
    cluster.narrate(
        "three Calico nodes from etcd: full mesh, a ToR as a global BGPPeer, every block routed",
    );
    for from in 1..=3 {
        for to in (1..=3).filter(|&to| to != from) {
            cluster.wait_pod_reaches(from, to, 0);
        }
    }
    // The route a pod's packet takes: straight to the other node, no tunnel.
    let get = cluster
        .node(1)
        .node
        .ip(&["route", "get", &pod_addr(0, 2)])
        .unwrap();
    assert!(
        get.contains(&format!("via {} dev eth0", lan_addr(2))),
        "node1: ip route get {}: {get}",
        pod_addr(0, 2)
    );
    let get = cluster
        .node(1)
        .node
        .ip(&["route", "get", &pod_addr(1, 2)])
        .unwrap();
    assert!(
        get.contains(&format!("via {} dev tunl0", lan_addr(2))),
        "node1: ip route get {}: {get}",
        pod_addr(1, 2)
    );
    if cluster.ipip {
        for from in 1..=3 {
            for to in (1..=3).filter(|&to| to != from) {
                cluster.wait_pod_reaches(from, to, 1);
            }
        }
        println!("pods reach each other directly (CrossSubnet) and through IP-in-IP (Always)");
    } else {
        println!(
            "NOTE: no ipip in this kernel; tunl0 is a veth stub, so the Always pool's routes are \
             checked (via <node> dev tunl0 onlink) but no traffic crosses them"
        );
        println!("pods reach each other directly (CrossSubnet)");
    }
    assert_no_pod_routes(&cluster, &extra);
}

#[test]
#[ignore = "needs root, etcd, etcdctl and gobgpd: run via make test"]
fn a_calico_cluster_follows_a_joining_node_a_deleted_peer_and_a_switch_to_a_route_reflector_without_restarting_wren(
) {
    let mut cluster = Cluster::start("calico_live", 3);
    cluster.wait_mesh(true);
    cluster.wait_kernel_routes();
    cluster.wait_tor_learns_every_block();
    let mut pids = cluster.pids();

    // 1. node4 joins: its Node and affinities appear, then its wren starts.
    let before = cluster.established_counts();
    cluster.register(4);
    cluster.add_node(4);
    cluster.wait_mesh(true);
    pids.push((4, cluster.node(4).wren.daemon_pid().unwrap()));
    cluster.wait_kernel_routes();
    cluster.wait_tor_learns_every_block();
    cluster.wait_pod_reaches(1, 4, 0);
    cluster.wait_pod_reaches(4, 3, 0);
    cluster.assert_no_session_reset(&before, "node4 joined");
    println!("node4 joined: every node meshes with it, no existing session reset");

    // 2. The ToR's BGPPeer is deleted: every node's ToR session goes, the mesh stays.
    let before = cluster.established_counts();
    cluster.del(&format!("{RES}/bgppeers/tor"));
    cluster.wait_mesh(false);
    for n in &cluster.nodes {
        let addr = IpAddr::V4(n.addr());
        wait_until(
            DEADLINE,
            &format!("the ToR's session with node{} to go", n.i),
            || Ok::<_, LabError>(cluster.tor.neighbor_state(addr)? != "established"),
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.stories()));
    }
    let mesh_before: BTreeMap<_, _> = before
        .into_iter()
        .filter(|((_, peer), _)| peer != TOR_PEER)
        .collect();
    cluster.assert_no_session_reset(&mesh_before, "the ToR's BGPPeer was deleted");
    cluster.wait_kernel_routes();
    println!("BGPPeer tor deleted: every ToR session down, the mesh untouched");

    // 3. node1 becomes a route reflector, the others peer with it, the mesh goes: Calico's
    //    documented order, each step converged before the next.
    //    a. node1 gets a cluster id and the label: it leaves the mesh (the others' mesh skips
    //       reflectors), the other three stay meshed.
    cluster.put(
        &format!("{RES}/nodes/node1"),
        &node_json(1, r#""route-reflector":"true""#, Some(CLUSTER_ID)),
    );
    cluster.wait_sessions(1, &[]);
    let mesh_of = |i: u8| -> Vec<String> {
        (2..=4)
            .filter(|&j| j != i)
            .map(|j| peer_name("Mesh", j))
            .collect()
    };
    for i in 2..=4 {
        cluster.wait_sessions(i, &mesh_of(i));
    }
    //    b. Every node peers with the nodes labelled route-reflector (node1 by reverse peering).
    cluster.put(
        &format!("{RES}/bgppeers/peer-with-route-reflectors"),
        r#"{"kind":"BGPPeer","apiVersion":"projectcalico.org/v3","metadata":{"name":"peer-with-route-reflectors"},"spec":{"nodeSelector":"all()","peerSelector":"has(route-reflector)"}}"#,
    );
    let clients: Vec<String> = (2..=4).map(|i| peer_name("Node", i)).collect();
    cluster.wait_sessions(1, &clients);
    for i in 2..=4 {
        let mut want = mesh_of(i);
        want.push(peer_name("Node", 1));
        cluster.wait_sessions(i, &want);
    }
    //    c. The mesh is turned off.
    let before = cluster.established_counts();
    cluster.put(
        &format!("{RES}/bgpconfigurations/default"),
        &bgp_configuration(false),
    );
    cluster.wait_sessions(1, &clients);
    for i in 2..=4 {
        cluster.wait_sessions(i, &[peer_name("Node", 1)]);
    }
    let rr_before: BTreeMap<_, _> = before
        .into_iter()
        .filter(|((_, peer), _)| peer.starts_with("Node_"))
        .collect();
    cluster.assert_no_session_reset(&rr_before, "the mesh was turned off");
    // Reflection keeps the next hop: every node still routes every block to its owner.
    cluster.wait_kernel_routes();
    cluster.wait_pod_reaches(2, 3, 0);
    cluster.wait_pod_reaches(4, 2, 0);
    cluster.wait_pod_reaches(3, 1, 0);
    cluster.assert_never_restarted(&pids);
    // What node2 learned of node3's block: reflected by node1, next hop still node3.
    let path = best_path(&cluster.node(2).wren, &block(0, 3));
    println!("node2's path to {}: {path}", block(0, 3));
    assert_eq!(path["protocol"], peer_name("Node", 1), "{path}");
    assert_eq!(path["bgp"]["next_hop"], lan_addr(3).to_string(), "{path}");
    assert_eq!(
        path["bgp"]["originator_id"],
        lan_addr(3).to_string(),
        "{path}"
    );
    let cluster_list = path["bgp"]["cluster_list"].clone();
    assert!(
        cluster_list.as_array().is_some_and(|l| l.len() == 1),
        "one reflection, one CLUSTER_LIST entry: {path}"
    );
    assert_eq!(
        cluster_list[0], CLUSTER_ID,
        "node1 reflects with its routeReflectorClusterID, set live: {path}"
    );
    println!("node1 reflects for nodes 2-4 with the mesh off, every wren still the same process");
}
