//! GoBGP (`gobgpd` 3.x) in a lab node: TOML config, start, and queries through the `gobgp` CLI.
//!
//! The gRPC API listens on `127.0.0.1:50051` *inside the node's namespace*, so several GoBGP
//! instances (one per node) never collide.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use super::{descendants, fail, wait_until, Family, LabError, Node, ProcHandle, Result, Route};

/// Where `gobgpd` serves its API inside the namespace.
pub const API_HOST: &str = "127.0.0.1";
/// API port inside the namespace.
pub const API_PORT: &str = "50051";
/// How long [`Gobgp::start`] waits for the API to answer.
pub const START_TIMEOUT: Duration = Duration::from_secs(15);

/// One `[[neighbors]]` entry.
#[derive(Clone, Debug)]
pub struct GobgpNeighbor {
    /// Peer address.
    pub address: IpAddr,
    /// Peer AS.
    pub peer_as: u32,
    /// Address families (default: the family of `address`).
    pub families: Vec<Family>,
    /// `transport.config.local-address`.
    pub local_address: Option<IpAddr>,
    /// TCP MD5 password (`auth-password`).
    pub password: Option<String>,
    /// `transport.config.passive-mode`.
    pub passive: bool,
    /// `timers.config.connect-retry` in seconds (lab default 5, GoBGP default 120).
    pub connect_retry: u32,
    /// `timers.config.hold-time` and `keepalive-interval` in seconds (GoBGP defaults 90 and 30
    /// when `None`).
    pub timers: Option<(u32, u32)>,
    /// Raw TOML appended after this neighbor's tables (e.g. `[neighbors.ebgp-multihop.config]`).
    pub extra_toml: String,
    /// Graceful Restart (RFC 4724) with this restart time in seconds: the neighbor-level
    /// `graceful-restart` table and `mp-graceful-restart` for every family, so GoBGP advertises
    /// the capability with each family and, when `gobgpd` dies without a NOTIFICATION (SIGKILL,
    /// not SIGTERM), the peer may keep its routes. `None`: no Graceful Restart.
    pub graceful_restart: Option<u32>,
    /// `neighbors.config.admin-down`: the session stays down until `gobgp neighbor ADDR enable`
    /// ([`Gobgp::enable_neighbor`]), e.g. to install routes before the first UPDATE goes out.
    pub admin_down: bool,
}

impl GobgpNeighbor {
    /// A neighbor with lab defaults.
    pub fn new(address: IpAddr, peer_as: u32) -> Self {
        Self {
            address,
            peer_as,
            families: vec![Family::of_addr(address)],
            local_address: None,
            password: None,
            passive: false,
            connect_retry: 5,
            timers: None,
            extra_toml: String::new(),
            graceful_restart: None,
            admin_down: false,
        }
    }

    /// Sets the proposed hold time and the keepalive interval, in seconds.
    #[must_use]
    pub fn timers(mut self, hold_time: u32, keepalive_interval: u32) -> Self {
        self.timers = Some((hold_time, keepalive_interval));
        self
    }

    /// Sets `local-address`.
    #[must_use]
    pub fn local_address(mut self, addr: IpAddr) -> Self {
        self.local_address = Some(addr);
        self
    }

    /// Sets the TCP MD5 password.
    #[must_use]
    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.to_owned());
        self
    }

    /// Sets the address families.
    #[must_use]
    pub fn families(mut self, families: &[Family]) -> Self {
        self.families = families.to_vec();
        self
    }

    /// Enables Graceful Restart (RFC 4724) for every family with `restart_time` seconds (see the
    /// `graceful_restart` field).
    #[must_use]
    pub fn graceful_restart(mut self, restart_time: u32) -> Self {
        self.graceful_restart = Some(restart_time);
        self
    }

    /// Starts the neighbor administratively down (see [`Gobgp::enable_neighbor`]).
    #[must_use]
    pub fn admin_down(mut self) -> Self {
        self.admin_down = true;
        self
    }
}

/// A `gobgpd` configuration.
#[derive(Clone, Debug)]
pub struct GobgpConfig {
    /// Local AS.
    pub asn: u32,
    /// Router ID.
    pub router_id: Ipv4Addr,
    /// BGP listen port (179).
    pub port: u16,
    /// Neighbors.
    pub neighbors: Vec<GobgpNeighbor>,
    /// `--log-level` (default `debug`).
    pub log_level: String,
    /// Raw TOML appended at the end of the file (policies, peer groups, …).
    pub extra_toml: String,
}

impl GobgpConfig {
    /// Config with no neighbors, port 179, debug logging.
    pub fn new(asn: u32, router_id: Ipv4Addr) -> Self {
        Self {
            asn,
            router_id,
            port: 179,
            neighbors: Vec::new(),
            log_level: "debug".to_owned(),
            extra_toml: String::new(),
        }
    }

    /// Adds a neighbor.
    #[must_use]
    pub fn neighbor(mut self, n: GobgpNeighbor) -> Self {
        self.neighbors.push(n);
        self
    }

    /// Renders the TOML file.
    pub fn to_toml(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "[global.config]\n  as = {}\n  router-id = \"{}\"\n  port = {}\n",
            self.asn, self.router_id, self.port
        );
        for n in &self.neighbors {
            let _ = writeln!(
                s,
                "[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{}\"\n    peer-as = {}",
                n.address, n.peer_as
            );
            if let Some(pw) = &n.password {
                let _ = writeln!(s, "    auth-password = {}", toml_string(pw));
            }
            if n.admin_down {
                let _ = writeln!(s, "    admin-down = true");
            }
            let _ = writeln!(
                s,
                "  [neighbors.timers.config]\n    connect-retry = {}",
                n.connect_retry
            );
            if let Some((hold, keepalive)) = n.timers {
                let _ = writeln!(
                    s,
                    "    hold-time = {hold}\n    keepalive-interval = {keepalive}"
                );
            }
            if n.local_address.is_some() || n.passive {
                let _ = writeln!(s, "  [neighbors.transport.config]");
                if let Some(local) = n.local_address {
                    let _ = writeln!(s, "    local-address = \"{local}\"");
                }
                if n.passive {
                    let _ = writeln!(s, "    passive-mode = true");
                }
            }
            if let Some(restart_time) = n.graceful_restart {
                let _ = writeln!(
                    s,
                    "  [neighbors.graceful-restart.config]\n    enabled = true\n    restart-time = {restart_time}"
                );
            }
            for f in &n.families {
                let _ = writeln!(
                    s,
                    "  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"{}-unicast\"",
                    f.name()
                );
                if n.graceful_restart.is_some() {
                    let _ = writeln!(
                        s,
                        "    [neighbors.afi-safis.mp-graceful-restart.config]\n      enabled = true"
                    );
                }
            }
            if !n.extra_toml.is_empty() {
                let _ = writeln!(s, "{}", n.extra_toml);
            }
            s.push('\n');
        }
        s.push_str(&self.extra_toml);
        s
    }
}

fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A running `gobgpd`.
#[derive(Debug, Clone)]
pub struct Gobgp {
    node: Node,
    proc: ProcHandle,
    config_path: PathBuf,
}

impl Gobgp {
    /// Writes `<log_dir>/<node>-gobgpd.toml`, checks it with `gobgpd -d`, starts
    /// `gobgpd -f CONF -t toml --api-hosts 127.0.0.1:50051 -p --pprof-disable` in `node` and
    /// waits until `gobgp global` answers.
    pub fn start(node: &Node, config: &GobgpConfig) -> Result<Gobgp> {
        Self::start_with_args(node, config, &[])
    }

    /// Like [`Gobgp::start`], as a Graceful Restart *restarting speaker* (`gobgpd -r`): the
    /// Restart State bit and the Forwarding State bits are set in the capability, and GoBGP
    /// defers its own UPDATEs until it has the peers' End-of-RIB, then sends its table and
    /// End-of-RIB (RFC 4724 §4.1). Use after [`Gobgp::sigkill`] with neighbors configured with
    /// [`GobgpNeighbor::graceful_restart`].
    pub fn start_restarting(node: &Node, config: &GobgpConfig) -> Result<Gobgp> {
        Self::start_with_args(node, config, &["-r"])
    }

    fn start_with_args(node: &Node, config: &GobgpConfig, extra_args: &[&str]) -> Result<Gobgp> {
        let config_path =
            node.write_file(&format!("{}-gobgpd.toml", node.name()), &config.to_toml())?;
        let conf = config_path.to_string_lossy().into_owned();
        node.exec(&["gobgpd", "-d", "-f", &conf, "-t", "toml"])
            .map_err(|e| e.context(format!("gobgpd rejects {conf}")))?;
        let api = format!("{API_HOST}:{API_PORT}");
        let level = format!("--log-level={}", config.log_level);
        let mut argv = vec![
            "gobgpd",
            "-f",
            &conf,
            "-t",
            "toml",
            "--api-hosts",
            &api,
            "-p",
            "--pprof-disable",
            &level,
        ];
        argv.extend_from_slice(extra_args);
        let proc = node.spawn("gobgpd", &argv)?;
        let gobgp = Gobgp {
            node: node.clone(),
            proc,
            config_path,
        };
        let mut died = false;
        wait_until(
            START_TIMEOUT,
            &format!("gobgpd API in node {}", node.name()),
            || {
                if !gobgp.proc.is_running() {
                    died = true;
                    return Ok(true);
                }
                gobgp.cli(&["global"]).map(|_| true)
            },
        )?;
        if died {
            return fail(format!(
                "gobgpd in node {} exited during startup ({:?}); log {}:\n{}",
                node.name(),
                gobgp.proc.exit_status(),
                gobgp.proc.log_path().display(),
                gobgp.proc.log_tail(40)
            ));
        }
        Ok(gobgp)
    }

    /// The daemon's process handle (stop it with [`ProcHandle::kill`]).
    pub fn proc(&self) -> &ProcHandle {
        &self.proc
    }

    /// Kills `gobgpd` with SIGKILL, as a crash: its sockets are closed by the kernel (FIN or
    /// RST) and no NOTIFICATION is sent, so a peer that negotiated Graceful Restart keeps its
    /// routes as stale (RFC 4724 §4.2). [`ProcHandle::kill`] sends SIGTERM instead, on which
    /// GoBGP sends a Cease NOTIFICATION. Returns once the process has been reaped.
    pub fn sigkill(&self) -> Result<()> {
        if !self.proc.is_running() {
            return fail(format!(
                "gobgpd in node {} is not running",
                self.node.name()
            ));
        }
        // Only the daemon: `timeout` (the spawned wrapper) then exits by itself.
        let pids: Vec<String> = descendants(self.proc.pid())
            .into_iter()
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|comm| comm.trim_end() == "gobgpd")
            })
            .map(|pid| pid.to_string())
            .collect();
        if pids.is_empty() {
            return fail(format!(
                "no gobgpd process under {:?} in node {}",
                self.proc,
                self.node.name()
            ));
        }
        let mut args = vec!["-KILL"];
        args.extend(pids.iter().map(String::as_str));
        super::run("kill", &args)?;
        wait_until(
            Duration::from_secs(5),
            &format!("SIGKILLed gobgpd in node {} to be reaped", self.node.name()),
            || Ok::<_, LabError>(!self.proc.is_running()),
        )
    }

    /// The node it runs in.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Path of the generated config.
    pub fn config_path(&self) -> &std::path::Path {
        &self.config_path
    }

    /// Runs `gobgp -u 127.0.0.1 -p 50051 ARGS…` in the node; returns stdout.
    pub fn cli(&self, args: &[&str]) -> Result<String> {
        let mut argv = vec!["gobgp", "-u", API_HOST, "-p", API_PORT];
        argv.extend_from_slice(args);
        self.node.exec(&argv)
    }

    /// `gobgp global rib add PREFIX -a FAMILY` (next hop chosen by GoBGP: the session address).
    pub fn announce(&self, prefix: &str) -> Result<()> {
        self.announce_with(prefix, &[])
    }

    /// `gobgp global rib add PREFIX ATTRS… -a FAMILY`, e.g. attrs `["community", "64512:1"]`.
    pub fn announce_with(&self, prefix: &str, attrs: &[&str]) -> Result<()> {
        let family = Family::of_prefix(prefix).name();
        let mut args = vec!["global", "rib", "add", prefix];
        args.extend_from_slice(attrs);
        args.extend_from_slice(&["-a", family]);
        self.cli(&args).map(drop)
    }

    /// `gobgp global rib del PREFIX -a FAMILY`.
    pub fn withdraw(&self, prefix: &str) -> Result<()> {
        let family = Family::of_prefix(prefix).name();
        self.cli(&["global", "rib", "del", prefix, "-a", family])
            .map(drop)
    }

    /// `gobgp neighbor ADDR enable`: brings up a neighbor configured with
    /// [`GobgpNeighbor::admin_down`].
    pub fn enable_neighbor(&self, neighbor: IpAddr) -> Result<()> {
        self.cli(&["neighbor", &neighbor.to_string(), "enable"])
            .map(drop)
    }

    /// Best path of every prefix in the global RIB (`gobgp global rib -a FAMILY -j`).
    pub fn rib(&self, family: Family) -> Result<Vec<Route>> {
        let json = self.cli(&["global", "rib", "-a", family.name(), "-j"])?;
        parse_rib_json(&json)
    }

    /// Like [`Gobgp::rib`], with LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST.
    pub fn rib_detail(&self, family: Family) -> Result<Vec<RouteDetail>> {
        let json = self.cli(&["global", "rib", "-a", family.name(), "-j"])?;
        parse_rib_json_detail(&json)
    }

    /// Routes received from `neighbor` (`gobgp neighbor ADDR adj-in -a FAMILY -j`).
    pub fn adj_rib_in(&self, neighbor: IpAddr, family: Family) -> Result<Vec<Route>> {
        let addr = neighbor.to_string();
        let json = self.cli(&["neighbor", &addr, "adj-in", "-a", family.name(), "-j"])?;
        parse_rib_json(&json)
    }

    /// Like [`Gobgp::adj_rib_in`], with LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST.
    pub fn adj_rib_in_detail(&self, neighbor: IpAddr, family: Family) -> Result<Vec<RouteDetail>> {
        let addr = neighbor.to_string();
        let json = self.cli(&["neighbor", &addr, "adj-in", "-a", family.name(), "-j"])?;
        parse_rib_json_detail(&json)
    }

    /// Session state with `neighbor`, lower case: `idle`, `connect`, `active`, `opensent`,
    /// `openconfirm`, `established` (or `unknown`).
    pub fn neighbor_state(&self, neighbor: IpAddr) -> Result<String> {
        let json = self.cli(&["neighbor", &neighbor.to_string(), "-j"])?;
        parse_neighbor_state_json(&json)
    }

    /// Waits until GoBGP reports the session with `neighbor` as established.
    pub fn wait_established(&self, neighbor: IpAddr, deadline: Duration) -> Result<()> {
        wait_until(
            deadline,
            &format!("GoBGP session with {neighbor} established"),
            || {
                let state = self.neighbor_state(neighbor)?;
                if state == "established" {
                    Ok(true)
                } else {
                    Err(LabError::new(format!("GoBGP reports {state:?}")))
                }
            },
        )
    }

    /// Waits until GoBGP's best route for `want.prefix` equals `want` (next hop and AS path).
    pub fn wait_for_route(&self, family: Family, want: &Route, deadline: Duration) -> Result<()> {
        wait_until(deadline, &format!("GoBGP to have {want:?}"), || {
            let routes = self.rib(family)?;
            match super::find_route(&routes, &want.prefix) {
                Some(r) if r == want => Ok(true),
                found => Err(LabError::new(format!(
                    "GoBGP has {found:?}; whole table: {routes:#?}"
                ))),
            }
        })
    }
}

fn bad(what: &str, raw: &str) -> LabError {
    LabError::new(format!("unexpected gobgp output ({what}):\n{raw}"))
}

/// A route with LOCAL_PREF and the route-reflection attributes ORIGINATOR_ID and CLUSTER_LIST
/// (RFC 4456 §8), as [`Gobgp::rib_detail`] and `Bird::routes_detail` report them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RouteDetail {
    /// Prefix, next hop and AS path.
    pub route: Route,
    /// LOCAL_PREF, if present.
    pub local_pref: Option<u32>,
    /// ORIGINATOR_ID, if present.
    pub originator_id: Option<Ipv4Addr>,
    /// CLUSTER_LIST, most recent reflector first; empty when absent.
    pub cluster_list: Vec<Ipv4Addr>,
}

/// Finds the route for `prefix` in `routes`.
pub fn find_detail<'a>(routes: &'a [RouteDetail], prefix: &str) -> Option<&'a RouteDetail> {
    routes.iter().find(|r| r.route.prefix == prefix)
}

/// Parses `gobgp global rib -j` / `gobgp neighbor X adj-in -j`: a map prefix → list of paths.
/// Returns the best path of each prefix (the first one if none is marked best), sorted by prefix.
pub fn parse_rib_json(raw: &str) -> Result<Vec<Route>> {
    Ok(parse_rib_json_detail(raw)?
        .into_iter()
        .map(|d| d.route)
        .collect())
}

/// Like [`parse_rib_json`], with LOCAL_PREF (attribute type 5, `"value": N`), ORIGINATOR_ID
/// (type 9, `"value": "A.B.C.D"`) and CLUSTER_LIST (type 10, `"value": ["A.B.C.D", …]`).
pub fn parse_rib_json_detail(raw: &str) -> Result<Vec<RouteDetail>> {
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed == "null" {
        return Ok(Vec::new());
    }
    let value: serde_json::Value =
        serde_json::from_str(trimmed).map_err(|e| bad(&format!("invalid JSON: {e}"), raw))?;
    let map = value
        .as_object()
        .ok_or_else(|| bad("not a JSON object", raw))?;
    let mut routes = Vec::new();
    for (prefix, paths) in map {
        let paths = paths
            .as_array()
            .ok_or_else(|| bad("paths not an array", raw))?;
        let Some(path) = paths
            .iter()
            .find(|p| p.get("best").and_then(serde_json::Value::as_bool) == Some(true))
            .or_else(|| paths.first())
        else {
            continue;
        };
        routes.push(parse_path(prefix, path).map_err(|e| bad(&e, raw))?);
    }
    routes.sort_by(|a, b| a.route.prefix.cmp(&b.route.prefix));
    Ok(routes)
}

fn parse_ipv4_value(
    v: &serde_json::Value,
    what: &str,
    prefix: &str,
) -> std::result::Result<Ipv4Addr, String> {
    v.as_str()
        .and_then(|s| s.parse::<Ipv4Addr>().ok())
        .ok_or_else(|| format!("bad {what} {v} for {prefix}"))
}

fn parse_path(prefix: &str, path: &serde_json::Value) -> std::result::Result<RouteDetail, String> {
    let attrs = path
        .get("attrs")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| format!("path of {prefix} has no attrs array"))?;
    let mut next_hop = None;
    let mut as_path = Vec::new();
    let mut local_pref = None;
    let mut originator_id = None;
    let mut cluster_list = Vec::new();
    for attr in attrs {
        let value = attr.get("value");
        match (attr.get("type").and_then(serde_json::Value::as_u64), value) {
            (Some(5), Some(v)) => {
                local_pref = Some(
                    v.as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| format!("bad LOCAL_PREF {v} for {prefix}"))?,
                );
            }
            (Some(9), Some(v)) => {
                originator_id = Some(parse_ipv4_value(v, "ORIGINATOR_ID", prefix)?);
            }
            (Some(10), Some(v)) => {
                let ids = v
                    .as_array()
                    .ok_or_else(|| format!("CLUSTER_LIST {v} of {prefix} is not an array"))?;
                for id in ids {
                    cluster_list.push(parse_ipv4_value(id, "CLUSTER_LIST entry", prefix)?);
                }
            }
            _ => {}
        }
        // NEXT_HOP (3) and MP_REACH_NLRI (14) both carry "nexthop".
        if let Some(nh) = attr.get("nexthop").and_then(serde_json::Value::as_str) {
            if next_hop.is_none() {
                next_hop = Some(
                    nh.parse::<IpAddr>()
                        .map_err(|e| format!("bad next hop {nh:?} for {prefix}: {e}"))?,
                );
            }
        }
        if attr.get("type").and_then(serde_json::Value::as_u64) == Some(2) {
            let segments = attr
                .get("as_paths")
                .and_then(serde_json::Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            for seg in segments {
                let asns = seg
                    .get("asns")
                    .and_then(serde_json::Value::as_array)
                    .ok_or_else(|| format!("AS_PATH segment without asns for {prefix}"))?;
                for asn in asns {
                    let asn = asn
                        .as_u64()
                        .and_then(|a| u32::try_from(a).ok())
                        .ok_or_else(|| format!("bad ASN {asn} for {prefix}"))?;
                    as_path.push(asn);
                }
            }
        }
    }
    Ok(RouteDetail {
        route: Route {
            prefix: prefix.to_owned(),
            next_hop,
            as_path,
        },
        local_pref,
        originator_id,
        cluster_list,
    })
}

/// Parses `gobgp neighbor ADDR -j` into a lower-case session state name.
pub fn parse_neighbor_state_json(raw: &str) -> Result<String> {
    let value: serde_json::Value = serde_json::from_str(raw.trim())
        .map_err(|e| bad(&format!("invalid neighbor JSON: {e}"), raw))?;
    let state = value
        .get("state")
        .ok_or_else(|| bad("neighbor JSON without state", raw))?;
    // Protobuf JSON omits zero values: no session_state means UNKNOWN.
    let name = match state.get("session_state") {
        None => "unknown".to_owned(),
        Some(serde_json::Value::Number(n)) => match n.as_u64() {
            Some(0) => "unknown".to_owned(),
            Some(1) => "idle".to_owned(),
            Some(2) => "connect".to_owned(),
            Some(3) => "active".to_owned(),
            Some(4) => "opensent".to_owned(),
            Some(5) => "openconfirm".to_owned(),
            Some(6) => "established".to_owned(),
            _ => return Err(bad(&format!("unknown session_state {n}"), raw)),
        },
        Some(serde_json::Value::String(s)) => {
            let lower = s.to_ascii_lowercase();
            lower
                .strip_prefix("bgp_fsm_")
                .or_else(|| lower.strip_prefix("session_state_"))
                .unwrap_or(&lower)
                .to_owned()
        }
        Some(other) => return Err(bad(&format!("session_state is {other}"), raw)),
    };
    Ok(name)
}
