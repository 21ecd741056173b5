//! The client side: a blocking connection to the control socket, and the `wren show …` /
//! `wren status` views.
//!
//! The CLI asks with wren's private `wren json …` command (one JSON line under code
//! [`JSON_CODE`]), so it sees everything the daemon publishes —
//! including why each losing path lost, which BIRD's text has no column for — and renders
//! readable tables from it, or prints the JSON itself with `--json`. Any BIRD client works
//! on the same socket for the BIRD commands.
//!
//! No root is needed: only permission to connect to the socket (mode 0660: its owner and
//! group).

use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;

use super::protocol::JSON_CODE;
use super::{format_datetime, BgpInfo, DaemonStatus, Dest, ProtoState, ProtocolInfo, RouteInfo};

/// How long the client waits for any one line from the daemon.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a client command failed. Every variant means exit code 1.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The socket could not be reached (absent, refused, permission denied).
    #[error("cannot connect to {path}: {source}")]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Reading or writing failed mid-conversation (including the read timeout).
    #[error("control socket: {0}")]
    Io(#[from] io::Error),
    /// The daemon sent something that is not the BIRD reply format.
    #[error("control socket: unexpected reply line {0:?}")]
    Protocol(String),
    /// The daemon answered with an error code (8xxx runtime, 9xxx parse).
    #[error("{text}")]
    Reply {
        /// The code.
        code: u16,
        /// Its text.
        text: String,
    },
    /// The JSON answer did not decode.
    #[error("control socket: bad JSON answer: {0}")]
    Json(#[from] serde_json::Error),
}

/// One reply: every line's code and text, the final code last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// `(code, text)` per line; continuation lines carry the code of the line they continue.
    pub lines: Vec<(u16, String)>,
}

impl Reply {
    /// The final code (`0` for success).
    pub fn code(&self) -> u16 {
        self.lines.last().map_or(0, |l| l.0)
    }

    /// The text as `birdcl` prints it: codes stripped, nothing for an empty `0000`.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (code, text) in &self.lines {
            if *code == 0 && text.is_empty() {
                continue;
            }
            out.push_str(text);
            out.push('\n');
        }
        out
    }
}

/// A connection to the control socket.
#[derive(Debug)]
pub struct Client {
    reader: BufReader<UnixStream>,
    /// The greeting's text (`BIRD v0.3.3+birdv1.6.8+wren0.1.0 ready.`).
    pub greeting: String,
}

impl Client {
    /// Connect to `path` and read the greeting.
    pub fn connect(path: &Path) -> Result<Client, Error> {
        let stream = UnixStream::connect(path).map_err(|source| Error::Connect {
            path: path.to_owned(),
            source,
        })?;
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        stream.set_write_timeout(Some(READ_TIMEOUT))?;
        let mut client = Client {
            reader: BufReader::new(stream),
            greeting: String::new(),
        };
        let hello = client.read_reply()?;
        client.greeting = hello.text().trim_end().to_owned();
        Ok(client)
    }

    /// Send one command and read its whole reply. An error code becomes [`Error::Reply`].
    pub fn command(&mut self, command: &str) -> Result<Reply, Error> {
        let stream = self.reader.get_mut();
        stream.write_all(command.as_bytes())?;
        stream.write_all(b"\n")?;
        let reply = self.read_reply()?;
        if reply.code() >= 8000 {
            return Err(Error::Reply {
                code: reply.code(),
                text: reply.text().trim_end().to_owned(),
            });
        }
        Ok(reply)
    }

    /// Send a `wren json …` query; return the decoded value and the raw JSON text.
    pub fn json<T: DeserializeOwned>(&mut self, query: &str) -> Result<(T, String), Error> {
        let reply = self.command(&format!("wren json {query}"))?;
        let raw = reply
            .lines
            .iter()
            .find(|(code, _)| *code == JSON_CODE)
            .map(|(_, t)| t.clone())
            .ok_or_else(|| Error::Protocol(reply.text()))?;
        Ok((serde_json::from_str(&raw)?, raw))
    }

    fn read_reply(&mut self) -> Result<Reply, Error> {
        let mut lines: Vec<(u16, String)> = Vec::new();
        loop {
            let mut raw = String::new();
            if self.reader.read_line(&mut raw)? == 0 {
                return Err(Error::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the daemon closed the connection",
                )));
            }
            let line = raw.trim_end_matches('\n');
            if let Some(rest) = line.strip_prefix(' ') {
                let code = lines.last().map_or(0, |l| l.0);
                lines.push((code, rest.to_owned()));
                continue;
            }
            if line.starts_with('+') {
                continue; // asynchronous log line
            }
            let code = line
                .get(..4)
                .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|c| c.parse::<u16>().ok());
            let sep = line.as_bytes().get(4).copied();
            match (code, sep) {
                (Some(code), Some(b'-')) => lines.push((code, line.get(5..).unwrap_or("").into())),
                (Some(code), Some(b' ')) => {
                    lines.push((code, line.get(5..).unwrap_or("").into()));
                    return Ok(Reply { lines });
                }
                _ => return Err(Error::Protocol(line.to_owned())),
            }
        }
    }
}

/// What the CLI shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    /// `wren status`.
    Status,
    /// `wren show protocols`.
    Protocols,
    /// `wren show route [PREFIX]`.
    Route(Option<String>),
    /// `wren show peer NAME`.
    Peer(String),
}

/// Run one CLI view against the socket at `path`: the text to print (a table, or pretty
/// JSON with `json`).
pub fn run(path: &Path, view: &View, json: bool) -> Result<String, Error> {
    let mut client = Client::connect(path)?;
    let now = SystemTime::now();
    match view {
        View::Status => {
            let (status, raw) = client.json::<DaemonStatus>("status")?;
            if json {
                return pretty(&raw);
            }
            let (protocols, _) = client.json::<Vec<ProtocolInfo>>("protocols")?;
            Ok(render_status(&status, &protocols, now))
        }
        View::Protocols => {
            let (protocols, raw) = client.json::<Vec<ProtocolInfo>>("protocols")?;
            if json {
                return pretty(&raw);
            }
            Ok(render_protocols(&protocols, now))
        }
        View::Route(prefix) => {
            let query = match prefix {
                Some(p) => format!("route {p}"),
                None => "route".to_owned(),
            };
            let (routes, raw) = client.json::<Vec<RouteInfo>>(&query)?;
            if json {
                return pretty(&raw);
            }
            Ok(render_routes(&routes))
        }
        View::Peer(name) => {
            let (peer, raw) = client.json::<ProtocolInfo>(&format!("peer {name}"))?;
            if json {
                return pretty(&raw);
            }
            Ok(render_peer(&peer, now))
        }
    }
}

fn pretty(raw: &str) -> Result<String, Error> {
    let value: serde_json::Value = serde_json::from_str(raw)?;
    let mut text = serde_json::to_string_pretty(&value)?;
    text.push('\n');
    Ok(text)
}

/// A duration as `45s`, `12m03s`, `3h12m`, `5d03h`.
pub fn format_age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

fn ago(t: SystemTime, now: SystemTime) -> String {
    format_age(now.duration_since(t).unwrap_or(Duration::ZERO))
}

/// Columns padded to their widest cell, two spaces apart, trailing spaces trimmed.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, cell) in cells.enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            let _ = write!(text, "{cell:<w$}  ");
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// `wren status`.
pub fn render_status(status: &DaemonStatus, protocols: &[ProtocolInfo], now: SystemTime) -> String {
    let peers: Vec<&BgpInfo> = protocols.iter().filter_map(|p| p.bgp.as_ref()).collect();
    let established = peers
        .iter()
        .filter(|b| b.state == super::BgpState::Established)
        .count();
    let gr = match &status.graceful_restart {
        None => "not in progress".to_owned(),
        Some(g) => format!(
            "in progress: waiting for {} protocols ({}), {}/{} s left",
            g.waiting_for.len(),
            g.waiting_for.join(", "),
            g.wait_timer.remaining(status.server_time),
            g.wait_timer.period_secs
        ),
    };
    let rows = [
        ("version", status.version.clone()),
        ("router id", status.router_id.to_string()),
        ("state", status.phase.as_str().to_owned()),
        (
            "up since",
            format!(
                "{} UTC ({})",
                format_datetime(status.last_reboot),
                ago(status.last_reboot, now)
            ),
        ),
        (
            "reconfigured",
            format!("{} UTC", format_datetime(status.last_reconfig)),
        ),
        ("graceful restart", gr),
        (
            "BGP sessions",
            format!("{established} of {} established", peers.len()),
        ),
    ];
    let mut out = String::new();
    for (k, v) in rows {
        let _ = writeln!(out, "{k:<17} {v}");
    }
    out
}

/// `wren show protocols`.
pub fn render_protocols(protocols: &[ProtocolInfo], now: SystemTime) -> String {
    let rows: Vec<Vec<String>> = protocols
        .iter()
        .map(|p| {
            let dash = || "-".to_owned();
            let (bgp_state, neighbor, asn, info) = match &p.bgp {
                Some(b) => (
                    b.state.to_string(),
                    b.neighbor_address.to_string(),
                    b.neighbor_as.to_string(),
                    b.last_error.clone().unwrap_or_default(),
                ),
                None => (dash(), dash(), dash(), String::new()),
            };
            vec![
                p.name.clone(),
                p.kind.as_str().to_owned(),
                p.state.as_str().to_owned(),
                ago(p.since, now),
                bgp_state,
                neighbor,
                asn,
                format!("{}/{}", p.stats.imported, p.stats.exported),
                info,
            ]
        })
        .collect();
    table(
        &[
            "NAME",
            "PROTO",
            "STATE",
            "SINCE",
            "BGP STATE",
            "NEIGHBOR",
            "AS",
            "IMP/EXP",
            "INFO",
        ],
        &rows,
    )
}

/// `wren show route [PREFIX]`: one row per path, the best marked `*`, and for every other
/// path the decision step at which it lost.
pub fn render_routes(routes: &[RouteInfo]) -> String {
    let mut rows = Vec::new();
    for r in routes {
        for (i, p) in r.paths.iter().enumerate() {
            let via = match &p.dest {
                Dest::Router { gateway, iface } => format!("{gateway} on {iface}"),
                Dest::Device { iface } => format!("dev {iface}"),
                Dest::Blackhole => "blackhole".to_owned(),
                Dest::Unreachable => "unreachable".to_owned(),
                Dest::Prohibited => "prohibited".to_owned(),
                Dest::Multipath { hops } => hops
                    .iter()
                    .map(|h| format!("{} on {}", h.gateway, h.iface))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let (as_path, lpref, med, origin, comms) = match &p.bgp {
                Some(b) => (
                    b.as_path
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(" "),
                    b.local_pref.map_or("-".into(), |v| v.to_string()),
                    b.med.map_or("-".into(), |v| v.to_string()),
                    b.origin.letter().to_string(),
                    b.communities.join(" "),
                ),
                None => (
                    String::new(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    String::new(),
                ),
            };
            let why = if p.primary {
                "best".to_owned()
            } else {
                p.lost_reason.clone().unwrap_or_else(|| "not best".into())
            };
            rows.push(vec![
                if i == 0 {
                    r.prefix.to_string()
                } else {
                    String::new()
                },
                if p.primary { "*" } else { "" }.to_owned(),
                via,
                p.protocol.clone(),
                as_path,
                lpref,
                med,
                origin,
                comms,
                why,
            ]);
        }
    }
    if rows.is_empty() {
        return "no routes\n".to_owned();
    }
    table(
        &[
            "PREFIX",
            "",
            "VIA",
            "FROM",
            "AS PATH",
            "LPREF",
            "MED",
            "ORIGIN",
            "COMMUNITIES",
            "WHY",
        ],
        &rows,
    )
}

/// `wren show peer NAME`.
pub fn render_peer(p: &ProtocolInfo, now: SystemTime) -> String {
    let mut rows: Vec<(&str, String)> = vec![
        ("protocol", p.kind.as_str().to_owned()),
        (
            "state",
            format!(
                "{} since {} UTC ({})",
                p.state.as_str(),
                format_datetime(p.since),
                ago(p.since, now)
            ),
        ),
    ];
    if let Some(d) = &p.description {
        rows.push(("description", d.clone()));
    }
    if let Some(b) = &p.bgp {
        rows.push(("BGP state", b.state.to_string()));
        rows.push((
            "neighbor",
            format!("{} AS {}", b.neighbor_address, b.neighbor_as),
        ));
        rows.push(("local AS", b.local_as.to_string()));
        if let Some(s) = &b.session {
            rows.push(("neighbor id", s.neighbor_id.to_string()));
            rows.push(("source address", s.source_address.to_string()));
            rows.push(("session", s.session_flags.join(" ")));
            rows.push(("capabilities", s.neighbor_caps.join(" ")));
            rows.push((
                "hold timer",
                format!(
                    "{}/{} s",
                    s.hold_timer.remaining(now),
                    s.hold_timer.period_secs
                ),
            ));
            rows.push((
                "keepalive timer",
                format!(
                    "{}/{} s",
                    s.keepalive_timer.remaining(now),
                    s.keepalive_timer.period_secs
                ),
            ));
        }
        for (what, t) in [
            ("error wait", &b.error_wait),
            ("connect delay", &b.connect_delay),
            ("restart timer", &b.restart_timer),
        ] {
            if let Some(t) = t {
                rows.push((what, format!("{}/{} s", t.remaining(now), t.period_secs)));
            }
        }
        if b.neighbor_gr_active {
            rows.push((
                "graceful restart",
                "neighbor restarting, routes kept stale".into(),
            ));
        }
        if let Some(c) = &b.counters {
            rows.push((
                "messages",
                format!("{} received, {} sent", c.messages_received, c.messages_sent),
            ));
            rows.push((
                "updates",
                format!("{} received, {} sent", c.updates_received, c.updates_sent),
            ));
            rows.push((
                "established",
                format!("{} times", c.established_transitions),
            ));
        }
        rows.push((
            "last error",
            b.last_error.clone().unwrap_or_else(|| "none".into()),
        ));
    }
    if p.state != ProtoState::Down {
        let s = &p.stats;
        rows.push((
            "routes",
            format!(
                "{} imported, {} exported, {} preferred",
                s.imported, s.exported, s.preferred
            ),
        ));
        let c = &s.import_updates;
        rows.push((
            "import updates",
            format!(
                "{} received, {} rejected, {} filtered, {} ignored, {} accepted",
                c.received, c.rejected, c.filtered, c.ignored, c.accepted
            ),
        ));
        let c = &s.export_updates;
        rows.push((
            "export updates",
            format!(
                "{} received, {} rejected, {} filtered, {} accepted",
                c.received, c.rejected, c.filtered, c.accepted
            ),
        ));
    }
    rows.push((
        "filters",
        format!("import {}, export {}", p.input_filter, p.output_filter),
    ));
    let mut out = format!("{}\n", p.name);
    for (k, v) in rows {
        let _ = writeln!(out, "  {k:<17} {v}");
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;
    use crate::control::example::{at, example_snapshot};

    #[test]
    fn the_protocols_table_has_one_row_per_protocol_with_state_and_last_error() {
        let snap = example_snapshot();
        let text = render_protocols(&snap.protocols, snap.status.server_time);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 7, "{text}");
        assert!(lines[0].starts_with("NAME"), "{text}");
        assert!(
            lines[6].contains("Mesh_10_192_0_4")
                && lines[6].contains("Active")
                && lines[6].ends_with("Socket: Connection refused"),
            "{text}"
        );
        assert!(
            lines[5].contains("Established") && lines[5].contains("4m36s"),
            "{text}"
        );
    }

    #[test]
    fn the_route_table_marks_the_best_path_and_says_why_the_other_lost() {
        let snap = example_snapshot();
        let text = render_routes(&snap.routes);
        let lost = text.lines().find(|l| l.contains("10.192.0.6")).unwrap();
        assert!(lost.contains("65001 65000"), "{text}");
        assert!(lost.ends_with("longer as-path"), "{text}");
        let best = text.lines().find(|l| l.contains("10.192.0.5")).unwrap();
        assert!(best.starts_with("203.0.113.0/24  *"), "{text}");
        assert!(best.ends_with("best"), "{text}");
    }

    #[test]
    fn the_peer_view_shows_capabilities_timers_counters_and_last_error() {
        let snap = example_snapshot();
        let now = snap.status.server_time;
        let up = render_peer(snap.protocol("Mesh_10_192_0_3").unwrap(), now);
        assert!(
            up.contains("capabilities      refresh enhanced-refresh"),
            "{up}"
        );
        assert!(up.contains("hold timer        187/240 s"), "{up}");
        assert!(up.contains("keepalive timer   21/80 s"), "{up}");
        assert!(
            up.contains("routes            1 imported, 1 exported"),
            "{up}"
        );
        assert!(up.contains("last error        none"), "{up}");
        let down = render_peer(snap.protocol("Mesh_10_192_0_4").unwrap(), now);
        assert!(
            down.contains("last error        Socket: Connection refused"),
            "{down}"
        );
    }

    #[test]
    fn the_status_view_counts_established_sessions() {
        let snap = example_snapshot();
        let text = render_status(&snap.status, &snap.protocols, at(281));
        assert!(
            text.contains("BGP sessions      1 of 2 established"),
            "{text}"
        );
        assert!(text.contains("router id         10.192.0.2"), "{text}");
        assert!(text.contains("graceful restart  not in progress"), "{text}");
    }

    #[test]
    fn ages_are_short() {
        assert_eq!(format_age(Duration::from_secs(45)), "45s");
        assert_eq!(format_age(Duration::from_secs(723)), "12m03s");
        assert_eq!(format_age(Duration::from_secs(11_520)), "3h12m");
        assert_eq!(format_age(Duration::from_secs(442_800)), "5d03h");
    }
}
