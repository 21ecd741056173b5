//! BIRD 2 in a lab node: config, start (`bird -f`, so the child is the daemon), and queries through
//! `birdc`.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::gobgp::RouteDetail;
use super::{fail, wait_until, Family, LabError, Node, ProcHandle, Result, Route};

/// How long [`Bird::start`] waits for the control socket to answer.
pub const START_TIMEOUT: Duration = Duration::from_secs(15);

/// One `protocol bgp NAME { … }`.
#[derive(Clone, Debug)]
pub struct BirdSession {
    /// Protocol name (used by [`Bird::protocol_state`]).
    pub name: String,
    /// `local ADDR as N`.
    pub local_address: IpAddr,
    /// Local AS.
    pub local_as: u32,
    /// `neighbor ADDR as M`.
    pub neighbor: IpAddr,
    /// Peer AS.
    pub peer_as: u32,
    /// Channels, each with `import all; export all;` (default: family of `neighbor`).
    pub families: Vec<Family>,
    /// TCP MD5 password.
    pub password: Option<String>,
    /// Raw statements added inside the protocol block.
    pub extra: String,
}

impl BirdSession {
    /// A session with lab defaults.
    pub fn new(
        name: &str,
        local_address: IpAddr,
        local_as: u32,
        neighbor: IpAddr,
        peer_as: u32,
    ) -> Self {
        Self {
            name: name.to_owned(),
            local_address,
            local_as,
            neighbor,
            peer_as,
            families: vec![Family::of_addr(neighbor)],
            password: None,
            extra: String::new(),
        }
    }

    /// Sets the TCP MD5 password.
    #[must_use]
    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.to_owned());
        self
    }
}

/// A BIRD 2 configuration.
#[derive(Clone, Debug)]
pub struct BirdConfig {
    /// `router id`.
    pub router_id: Ipv4Addr,
    /// IPv4 prefixes originated by `protocol static static4` (as `unreachable` routes).
    pub static_v4: Vec<String>,
    /// IPv6 prefixes originated by `protocol static static6`.
    pub static_v6: Vec<String>,
    /// Whether to add `protocol direct` (interface routes) for both families.
    pub direct: bool,
    /// BGP sessions.
    pub sessions: Vec<BirdSession>,
    /// Raw config appended at the end (filters, kernel protocol, …).
    pub extra: String,
}

impl BirdConfig {
    /// Config with no routes and no sessions.
    pub fn new(router_id: Ipv4Addr) -> Self {
        Self {
            router_id,
            static_v4: Vec::new(),
            static_v6: Vec::new(),
            direct: false,
            sessions: Vec::new(),
            extra: String::new(),
        }
    }

    /// Originates `prefix` (family from its text) from a static protocol.
    #[must_use]
    pub fn announce(mut self, prefix: &str) -> Self {
        match Family::of_prefix(prefix) {
            Family::Ipv4 => self.static_v4.push(prefix.to_owned()),
            Family::Ipv6 => self.static_v6.push(prefix.to_owned()),
        }
        self
    }

    /// Adds a BGP session.
    #[must_use]
    pub fn session(mut self, s: BirdSession) -> Self {
        self.sessions.push(s);
        self
    }

    /// Renders `bird.conf`. Timers are shortened for the lab (connect after 1 s, retry every
    /// 5 s, error wait 1–5 s) so restarts of a peer do not stall a test for minutes.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "router id {};", self.router_id);
        s.push_str("log stderr all;\n");
        s.push_str("debug protocols { states, events };\n");
        s.push_str("timeformat protocol iso long;\n");
        s.push_str("timeformat route iso long;\n");
        s.push_str("protocol device { scan time 10; }\n");
        if self.direct {
            s.push_str("protocol direct { ipv4; ipv6; }\n");
        }
        for (name, family, prefixes) in [
            ("static4", Family::Ipv4, &self.static_v4),
            ("static6", Family::Ipv6, &self.static_v6),
        ] {
            if prefixes.is_empty() {
                continue;
            }
            let _ = writeln!(s, "protocol static {name} {{\n  {};", family.name());
            for p in prefixes {
                let _ = writeln!(s, "  route {p} unreachable;");
            }
            s.push_str("}\n");
        }
        for b in &self.sessions {
            let _ = writeln!(s, "protocol bgp {} {{", b.name);
            let _ = writeln!(s, "  local {} as {};", b.local_address, b.local_as);
            let _ = writeln!(s, "  neighbor {} as {};", b.neighbor, b.peer_as);
            s.push_str(
                "  connect delay time 1;\n  connect retry time 5;\n  error wait time 1, 5;\n",
            );
            if let Some(pw) = &b.password {
                // BIRD strings have no escapes; Bird::start rejects passwords containing `"`.
                let _ = writeln!(s, "  password \"{pw}\";");
            }
            for f in &b.families {
                let _ = writeln!(s, "  {} {{ import all; export all; }};", f.name());
            }
            if !b.extra.is_empty() {
                let _ = writeln!(s, "  {}", b.extra);
            }
            s.push_str("}\n");
        }
        s.push_str(&self.extra);
        s
    }
}

/// A running BIRD.
#[derive(Debug, Clone)]
pub struct Bird {
    node: Node,
    proc: ProcHandle,
    config_path: PathBuf,
    socket: PathBuf,
}

impl Bird {
    /// Writes `<log_dir>/<node>-bird.conf`, checks it with `bird -p`, starts
    /// `bird -f -c CONF -s <run_dir>/<node>-bird.ctl` and waits until `birdc show status` works.
    pub fn start(node: &Node, config: &BirdConfig) -> Result<Bird> {
        let config_path =
            node.write_file(&format!("{}-bird.conf", node.name()), &config.render())?;
        let socket = node.run_dir().join(format!("{}-bird.ctl", node.name()));
        if socket.as_os_str().len() > 100 {
            return fail(format!(
                "control socket path too long for sun_path: {}",
                socket.display()
            ));
        }
        if let Some(bad) = config.sessions.iter().find(|s| {
            s.password
                .as_deref()
                .is_some_and(|p| p.contains(['"', '\n']))
        }) {
            return fail(format!(
                "BIRD session {}: password must not contain '\"' or a newline",
                bad.name
            ));
        }
        let conf = config_path.to_string_lossy().into_owned();
        let sock = socket.to_string_lossy().into_owned();
        node.exec(&["bird", "-p", "-c", &conf])
            .map_err(|e| e.context(format!("bird rejects {conf}")))?;
        let proc = node.spawn("bird", &["bird", "-f", "-c", &conf, "-s", &sock])?;
        let bird = Bird {
            node: node.clone(),
            proc,
            config_path,
            socket,
        };
        let mut died = false;
        wait_until(
            START_TIMEOUT,
            &format!("BIRD control socket in node {}", node.name()),
            || {
                if !bird.proc.is_running() {
                    died = true;
                    return Ok(true);
                }
                bird.cli(&["show", "status"]).map(|_| true)
            },
        )?;
        if died {
            return fail(format!(
                "bird in node {} exited during startup ({:?}); log {}:\n{}",
                node.name(),
                bird.proc.exit_status(),
                bird.proc.log_path().display(),
                bird.proc.log_tail(40)
            ));
        }
        Ok(bird)
    }

    /// The daemon's process handle.
    pub fn proc(&self) -> &ProcHandle {
        &self.proc
    }

    /// The node it runs in.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Path of the generated config.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Control socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Runs `birdc -s SOCK ARGS…` in the node and returns stdout.
    pub fn cli(&self, args: &[&str]) -> Result<String> {
        let sock = self.socket.to_string_lossy().into_owned();
        let mut argv = vec!["birdc", "-s", sock.as_str()];
        argv.extend_from_slice(args);
        self.node.exec(&argv)
    }

    /// Preferred route of every prefix in `master4` / `master6` (`show route all table T`).
    pub fn routes(&self, family: Family) -> Result<Vec<Route>> {
        let table = match family {
            Family::Ipv4 => "master4",
            Family::Ipv6 => "master6",
        };
        let raw = self.cli(&["show", "route", "all", "table", table])?;
        parse_show_route(&raw)
    }

    /// Like [`Bird::routes`], with `BGP.local_pref`, `BGP.originator_id` and `BGP.cluster_list`.
    pub fn routes_detail(&self, family: Family) -> Result<Vec<RouteDetail>> {
        let table = match family {
            Family::Ipv4 => "master4",
            Family::Ipv6 => "master6",
        };
        let raw = self.cli(&["show", "route", "all", "table", table])?;
        parse_show_route_detail(&raw)
    }

    /// State of protocol `name`: for BGP the `BGP state:` value (`Established`, `Active`, `Idle`,
    /// `Connect`, `OpenSent`, …), otherwise the `State` column (`up`, `down`, `start`, …).
    pub fn protocol_state(&self, name: &str) -> Result<String> {
        let raw = self.cli(&["show", "protocols", "all", name])?;
        parse_protocol_state(&raw, name)
    }

    /// Waits until BIRD reports protocol `name` as Established.
    pub fn wait_established(&self, name: &str, deadline: std::time::Duration) -> Result<()> {
        super::wait_until(
            deadline,
            &format!("BIRD protocol {name} Established"),
            || {
                let state = self.protocol_state(name)?;
                if state == "Established" {
                    Ok(true)
                } else {
                    Err(super::LabError::new(format!("BIRD reports {state:?}")))
                }
            },
        )
    }
}

fn bad(what: &str, raw: &str) -> LabError {
    LabError::new(format!("unexpected birdc output ({what}):\n{raw}"))
}

#[derive(Default)]
struct Entry {
    prefix: String,
    primary: bool,
    via: Option<IpAddr>,
    bgp_next_hop: Option<IpAddr>,
    as_path: Vec<u32>,
    local_pref: Option<u32>,
    originator_id: Option<Ipv4Addr>,
    cluster_list: Vec<Ipv4Addr>,
}

impl Entry {
    fn into_detail(self) -> RouteDetail {
        RouteDetail {
            route: Route {
                prefix: self.prefix,
                next_hop: self.via.or(self.bgp_next_hop),
                as_path: self.as_path,
            },
            local_pref: self.local_pref,
            originator_id: self.originator_id,
            cluster_list: self.cluster_list,
        }
    }
}

fn parse_ip(tok: &str, raw: &str) -> Result<IpAddr> {
    tok.parse()
        .map_err(|e| bad(&format!("bad address {tok:?}: {e}"), raw))
}

/// Parses `birdc show route all [table T]`. For each prefix returns the primary route (marked
/// `*`; the first one if none is), with next hop from `via X` (or `BGP.next_hop`) and the
/// `BGP.as_path` (sets and confederation segments flattened). Sorted by prefix.
pub fn parse_show_route(raw: &str) -> Result<Vec<Route>> {
    Ok(parse_show_route_detail(raw)?
        .into_iter()
        .map(|d| d.route)
        .collect())
}

/// Like [`parse_show_route`], with `BGP.local_pref: N`, `BGP.originator_id: A.B.C.D` and
/// `BGP.cluster_list: A.B.C.D …` (most recent reflector first).
pub fn parse_show_route_detail(raw: &str) -> Result<Vec<RouteDetail>> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut current: Option<Entry> = None;
    let mut current_prefix = String::new();
    for line in raw.lines() {
        if line.trim().is_empty() || line.starts_with("BIRD ") || line.starts_with("Table ") {
            continue;
        }
        if line.starts_with('\t') {
            // Attribute line of the current route.
            let Some(entry) = current.as_mut() else {
                return Err(bad("attribute line before any route", raw));
            };
            let attr = line.trim();
            if let Some(rest) = attr.strip_prefix("via ") {
                if entry.via.is_none() {
                    let tok = rest.split_whitespace().next().unwrap_or_default();
                    entry.via = Some(parse_ip(tok, raw)?);
                }
            } else if let Some(rest) = attr.strip_prefix("BGP.next_hop:") {
                // May be "global [link-local]"; keep the first.
                if let Some(tok) = rest.split_whitespace().next() {
                    entry.bgp_next_hop = Some(parse_ip(tok, raw)?);
                }
            } else if let Some(rest) = attr.strip_prefix("BGP.as_path:") {
                entry.as_path = rest
                    .split(|c: char| c.is_whitespace() || "{}()[]".contains(c))
                    .filter(|t| !t.is_empty())
                    .map(|t| {
                        t.parse::<u32>()
                            .map_err(|e| bad(&format!("bad ASN {t:?}: {e}"), raw))
                    })
                    .collect::<Result<Vec<u32>>>()?;
            } else if let Some(rest) = attr.strip_prefix("BGP.local_pref:") {
                let tok = rest.trim();
                entry.local_pref = Some(
                    tok.parse()
                        .map_err(|e| bad(&format!("bad local_pref {tok:?}: {e}"), raw))?,
                );
            } else if let Some(rest) = attr.strip_prefix("BGP.originator_id:") {
                let tok = rest.trim();
                entry.originator_id = Some(
                    tok.parse()
                        .map_err(|e| bad(&format!("bad originator_id {tok:?}: {e}"), raw))?,
                );
            } else if let Some(rest) = attr.strip_prefix("BGP.cluster_list:") {
                entry.cluster_list = rest
                    .split_whitespace()
                    .map(|t| {
                        t.parse::<Ipv4Addr>()
                            .map_err(|e| bad(&format!("bad cluster_list entry {t:?}: {e}"), raw))
                    })
                    .collect::<Result<Vec<Ipv4Addr>>>()?;
            }
            continue;
        }
        // A route header: "PREFIX  TYPE [proto time] * (pref) ..." or, for another route to the
        // same prefix, the same without PREFIX (line starts with spaces).
        if let Some(done) = current.take() {
            entries.push(done);
        }
        let mut tokens = line.split_whitespace().peekable();
        if !line.starts_with(' ') {
            let prefix = tokens.next().unwrap_or_default();
            if !prefix.contains('/') {
                return Err(bad(&format!("route line without prefix: {line:?}"), raw));
            }
            current_prefix = prefix.to_owned();
        } else if current_prefix.is_empty() {
            return Err(bad("continuation route before any prefix", raw));
        }
        let rest: Vec<&str> = tokens.collect();
        let mut entry = Entry {
            prefix: current_prefix.clone(),
            primary: rest.contains(&"*"),
            ..Entry::default()
        };
        // Older BIRD 2 versions print "via X on IF" in the header line.
        if let Some(pos) = rest.iter().position(|t| *t == "via") {
            if let Some(tok) = rest.get(pos + 1) {
                entry.via = Some(parse_ip(tok, raw)?);
            }
        }
        current = Some(entry);
    }
    if let Some(done) = current.take() {
        entries.push(done);
    }
    let mut routes: Vec<RouteDetail> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for i in 0..entries.len() {
        let Some(prefix) = entries.get(i).map(|e| e.prefix.clone()) else {
            continue;
        };
        if seen.contains(&prefix) {
            continue;
        }
        seen.push(prefix.clone());
        let pick = entries
            .iter()
            .position(|e| e.prefix == prefix && e.primary)
            .unwrap_or(i);
        if let Some(e) = entries.get_mut(pick) {
            routes.push(std::mem::take(e).into_detail());
        }
    }
    routes.sort_by(|a, b| a.route.prefix.cmp(&b.route.prefix));
    Ok(routes)
}

/// Parses `birdc show protocols all NAME` (see [`Bird::protocol_state`]).
pub fn parse_protocol_state(raw: &str, name: &str) -> Result<String> {
    if let Some(state) = raw
        .lines()
        .find_map(|l| l.trim().strip_prefix("BGP state:"))
        .map(str::trim)
    {
        return Ok(state.to_owned());
    }
    // Non-BGP protocol: "name  Proto  Table  State  Since  Info".
    raw.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|t| t.first() == Some(&name))
        .and_then(|t| t.get(3).map(|s| (*s).to_owned()))
        .ok_or_else(|| bad(&format!("no protocol {name:?}"), raw))
}
