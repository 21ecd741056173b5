//! The BIRD 1.x control protocol, pure: command parsing and the exact reply bytes.
//!
//! ## Wire format (BIRD's `nest/cli.c`)
//!
//! The server greets with `0001 BIRD <version> ready.`; the client sends one command per line.
//! Every reply line starts with a four-digit code: `NNNN-text` when more lines follow,
//! `NNNN text` on the last line, and a single space instead of `NNNN-` when the code equals
//! the previous line's (the previous line of the *connection*, so [`Cli`] keeps that state).
//! A successful reply ends with `0000 ` (note the space). Codes: `0xxx` done, `1xxx` table
//! entry, `2xxx` table heading, `8xxx` runtime error, `9xxx` parse error.
//!
//! ## Commands
//!
//! `show status`, `show protocols [all] [NAME | "PATTERN"]`,
//! `show route [for ADDR[/LEN] | PREFIX] [protocol NAME] [primary] [count] [table master]`,
//! and wren's private `wren json status|protocols|route [ADDR[/LEN]]|peer NAME`, which answers
//! one JSON line under code 1900 for the `wren` CLI. Keywords may be abbreviated to any unique
//! prefix (`sh p`, `show proto all`) — real BIRD leaves that to its client, so accepting it
//! here is a superset. `quit` and `exit` close the connection. Other BIRD commands answer
//! `9001` (not implemented); anything else `9001 syntax error`, as BIRD does.

use std::net::IpAddr;
use std::time::SystemTime;

use ipnet::IpNet;

use super::{
    format_datetime, format_since, BgpInfo, Dest, Family, PathInfo, ProtoState, ProtocolInfo,
    RouteInfo, Snapshot,
};

/// Reply code of wren's private JSON answer (`wren json …`).
pub const JSON_CODE: u16 = 1900;

/// The longest command line accepted (BIRD's `CLI_RX_BUF_SIZE`); longer ones get
/// `9000 Command too long`.
pub const MAX_LINE: usize = 4096;

/// One reply line before encoding: its code, whether it ends the reply, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The reply code.
    pub code: u16,
    /// The last line of the reply (`NNNN text` rather than `NNNN-text`).
    pub last: bool,
    /// The text after the prefix.
    pub text: String,
}

impl Line {
    /// A line with more to follow.
    pub fn more(code: u16, text: impl Into<String>) -> Line {
        Line {
            code,
            last: false,
            text: text.into(),
        }
    }

    /// The final line of a reply.
    pub fn last(code: u16, text: impl Into<String>) -> Line {
        Line {
            code,
            last: true,
            text: text.into(),
        }
    }

    /// `9001 syntax error`: what BIRD answers to anything it cannot parse.
    pub fn syntax_error() -> Line {
        Line::last(9001, "syntax error")
    }
}

/// The encoder of one connection: remembers the previous line's code for the ` ` shortcut.
#[derive(Debug, Clone, Default)]
pub struct Cli {
    last_code: Option<u16>,
}

impl Cli {
    /// A connection before its greeting.
    pub fn new() -> Cli {
        Cli::default()
    }

    /// The greeting: `0001 BIRD <version> ready.`.
    pub fn greeting(&mut self, version: &str) -> String {
        self.encode(&[Line::last(1, format!("BIRD {version} ready."))])
    }

    /// The bytes of `lines`, as BIRD's `cli_printf` writes them.
    pub fn encode(&mut self, lines: &[Line]) -> String {
        let mut out = String::new();
        for l in lines {
            if l.last {
                out.push_str(&format!("{:04} ", l.code));
            } else if self.last_code == Some(l.code) {
                out.push(' ');
            } else {
                out.push_str(&format!("{:04}-", l.code));
            }
            out.push_str(&l.text);
            out.push('\n');
            self.last_code = Some(l.code);
        }
        out
    }
}

/// What `show protocols` selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtoSelect {
    /// Every protocol.
    All,
    /// The protocol with this name (a bare symbol).
    Name(String),
    /// Names matching a shell pattern with `*` and `?` (a quoted string).
    Pattern(String),
}

/// What `show route` looks up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteTarget {
    /// `show route PREFIX`: exactly this prefix.
    Exact(IpNet),
    /// `show route for ADDR[/LEN]`: the longest prefix covering it.
    LongestMatch(IpNet),
}

/// The options of `show route`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteQuery {
    /// One prefix instead of the whole table.
    pub target: Option<RouteTarget>,
    /// Only paths from this protocol.
    pub protocol: Option<String>,
    /// Only the best path of each prefix.
    pub primary: bool,
    /// Only the `0014 N of M routes for K networks` line.
    pub count: bool,
}

/// wren's private JSON queries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonQuery {
    /// The daemon status.
    Status,
    /// Every protocol.
    Protocols,
    /// Every route, or the longest match of one address or prefix.
    Route(Option<IpNet>),
    /// One protocol by name.
    Peer(String),
}

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `show status`.
    ShowStatus,
    /// `show protocols [all] [NAME | "PATTERN"]`.
    ShowProtocols {
        /// `all`: the detailed block for each protocol.
        all: bool,
        /// Which protocols.
        select: ProtoSelect,
    },
    /// `show route …`.
    ShowRoute(RouteQuery),
    /// `wren json …`.
    Json(JsonQuery),
    /// `quit` / `exit`: close the connection.
    Quit,
}

/// What the server should do with one input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Send these lines.
    Reply(Vec<Line>),
    /// Close the connection.
    Close,
}

/// Answer one command line against `snap` (already reduced to the socket's family). `family`
/// is the socket's family (`None`: both), for BIRD's error on an address of the other one.
pub fn handle(input: &str, snap: &Snapshot, family: Option<Family>) -> Outcome {
    match parse(input, family) {
        Err(line) => Outcome::Reply(vec![line]),
        Ok(Command::Quit) => Outcome::Close,
        Ok(cmd) => Outcome::Reply(answer(&cmd, snap)),
    }
}

/// The bytes a fresh connection gets (after its greeting) for one command line — what the
/// byte-exact tests compare. An empty string for `quit`.
pub fn reply(input: &str, snap: &Snapshot) -> String {
    let mut cli = Cli::new();
    let _greeting = cli.greeting(&snap.status.version);
    match handle(input, snap, None) {
        Outcome::Reply(lines) => cli.encode(&lines),
        Outcome::Close => String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Str(String),
    Slash,
}

fn tokenize(input: &str) -> Option<Vec<Tok>> {
    let mut toks = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '/' {
            chars.next();
            toks.push(Tok::Slash);
        } else if c == '"' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some(ch) => s.push(ch),
                    None => return None,
                }
            }
            toks.push(Tok::Str(s));
        } else {
            let mut w = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() || ch == '/' || ch == '"' {
                    break;
                }
                w.push(ch);
                chars.next();
            }
            toks.push(Tok::Word(w));
        }
    }
    Some(toks)
}

/// Top-level commands: the ones wren answers, then BIRD's that it does not.
const TOP: &[&str] = &[
    "show",
    "quit",
    "exit",
    "wren",
    "configure",
    "down",
    "enable",
    "disable",
    "restart",
    "reload",
    "debug",
    "dump",
    "echo",
    "eval",
    "mrtdump",
    "graceful",
    "help",
];
const TOP_IMPLEMENTED: usize = 4;

const SHOW: &[&str] = &[
    "status",
    "protocols",
    "route",
    "interfaces",
    "memory",
    "symbols",
    "static",
    "ospf",
    "rip",
    "bfd",
    "roa",
];
const SHOW_IMPLEMENTED: usize = 3;

const ROUTE_OPTS: &[&str] = &[
    "for",
    "protocol",
    "primary",
    "count",
    "table",
    "all",
    "filtered",
    "export",
    "preexport",
    "noexport",
    "filter",
    "where",
    "stats",
];
const ROUTE_IMPLEMENTED: usize = 5;

enum Kw {
    Is(&'static str),
    Ambiguous,
    NotKeyword,
}

/// Match `word` against a keyword table: exact, or a unique prefix.
fn keyword(word: &str, table: &[&'static str]) -> Kw {
    if let Some(k) = table.iter().find(|k| **k == word) {
        return Kw::Is(k);
    }
    if word.is_empty() {
        return Kw::NotKeyword;
    }
    let mut found = table.iter().filter(|k| k.starts_with(word));
    match (found.next(), found.next()) {
        (Some(k), None) => Kw::Is(k),
        (Some(_), Some(_)) => Kw::Ambiguous,
        _ => Kw::NotKeyword,
    }
}

fn not_implemented(what: &str) -> Line {
    Line::last(9001, format!("{what}: not implemented by wren"))
}

struct Cursor {
    toks: Vec<Tok>,
    at: usize,
}

impl Cursor {
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        if t.is_some() {
            self.at += 1;
        }
        t
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn word(&mut self) -> Option<String> {
        match self.next() {
            Some(Tok::Word(w)) => Some(w),
            _ => None,
        }
    }

    fn done(&self) -> bool {
        self.at >= self.toks.len()
    }
}

/// A BIRD symbol: a letter or `_`, then letters, digits and `_`, and not a keyword.
fn is_symbol(w: &str) -> bool {
    let mut chars = w.chars();
    let shape = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    let keyword = w == "all" || [TOP, SHOW, ROUTE_OPTS].iter().any(|t| t.contains(&w));
    shape && !keyword
}

/// Parse one command line.
pub fn parse(input: &str, family: Option<Family>) -> Result<Command, Line> {
    let toks = tokenize(input).ok_or_else(Line::syntax_error)?;
    let mut cur = Cursor { toks, at: 0 };
    let first = cur.word().ok_or_else(Line::syntax_error)?;
    let top = match keyword(&first, TOP) {
        Kw::Is(k) => k,
        _ => return Err(Line::syntax_error()),
    };
    if TOP.iter().position(|k| *k == top).unwrap_or(0) >= TOP_IMPLEMENTED {
        return Err(not_implemented(top));
    }
    let cmd = match top {
        "quit" | "exit" => Command::Quit,
        "wren" => parse_wren(&mut cur, family)?,
        _ => {
            let what = cur.word().ok_or_else(Line::syntax_error)?;
            let sub = match keyword(&what, SHOW) {
                Kw::Is(k) => k,
                _ => return Err(Line::syntax_error()),
            };
            if SHOW.iter().position(|k| *k == sub).unwrap_or(0) >= SHOW_IMPLEMENTED {
                return Err(not_implemented(&format!("show {sub}")));
            }
            match sub {
                "status" => Command::ShowStatus,
                "protocols" => parse_show_protocols(&mut cur)?,
                _ => Command::ShowRoute(parse_show_route(&mut cur, family)?),
            }
        }
    };
    if cur.done() {
        Ok(cmd)
    } else {
        Err(Line::syntax_error())
    }
}

fn parse_show_protocols(cur: &mut Cursor) -> Result<Command, Line> {
    let mut all = false;
    if let Some(Tok::Word(w)) = cur.peek() {
        if let Kw::Is("all") = keyword(w, &["all"]) {
            all = true;
            cur.next();
        }
    }
    let select = match cur.next() {
        None => ProtoSelect::All,
        Some(Tok::Str(p)) => ProtoSelect::Pattern(p),
        Some(Tok::Word(w)) if is_symbol(&w) => ProtoSelect::Name(w),
        Some(_) => return Err(Line::syntax_error()),
    };
    Ok(Command::ShowProtocols { all, select })
}

fn wrong_family(family: Option<Family>, addr: IpAddr) -> Option<Line> {
    match (family, addr) {
        (Some(Family::Ipv4), IpAddr::V6(_)) => Some(Line::last(
            9001,
            "This is an IPv4 router, therefore IPv6 addresses are not supported",
        )),
        (Some(Family::Ipv6), IpAddr::V4(_)) => Some(Line::last(
            9001,
            "This is an IPv6 router, therefore IPv4 addresses are not supported",
        )),
        _ => None,
    }
}

/// An address, optionally followed by `/LEN`. `need_len`: a bare address is a syntax error.
fn parse_prefix(cur: &mut Cursor, family: Option<Family>, need_len: bool) -> Result<IpNet, Line> {
    let word = cur.word().ok_or_else(Line::syntax_error)?;
    let addr: IpAddr = word.parse().map_err(|_| Line::syntax_error())?;
    if let Some(err) = wrong_family(family, addr) {
        return Err(err);
    }
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = if cur.peek() == Some(&Tok::Slash) {
        cur.next();
        let w = cur.word().ok_or_else(Line::syntax_error)?;
        let len: i64 = w.parse().map_err(|_| Line::syntax_error())?;
        if !(0..=i64::from(max)).contains(&len) {
            return Err(Line::last(9001, format!("Invalid prefix length {len}")));
        }
        u8::try_from(len).map_err(|_| Line::syntax_error())?
    } else if need_len {
        return Err(Line::syntax_error());
    } else {
        max
    };
    let net = IpNet::new(addr, len).map_err(|_| Line::syntax_error())?;
    if net.trunc() != net {
        return Err(Line::last(9001, "Invalid prefix"));
    }
    Ok(net)
}

fn parse_show_route(cur: &mut Cursor, family: Option<Family>) -> Result<RouteQuery, Line> {
    let mut q = RouteQuery::default();
    while let Some(tok) = cur.peek().cloned() {
        let word = match tok {
            Tok::Word(w) => w,
            _ => return Err(Line::syntax_error()),
        };
        match keyword(&word, ROUTE_OPTS) {
            Kw::Is(k) => {
                if ROUTE_OPTS.iter().position(|o| *o == k).unwrap_or(0) >= ROUTE_IMPLEMENTED {
                    return Err(not_implemented(&format!("show route {k}")));
                }
                cur.next();
                match k {
                    "for" => {
                        q.target =
                            Some(RouteTarget::LongestMatch(parse_prefix(cur, family, false)?))
                    }
                    "protocol" => {
                        let name = cur.word().ok_or_else(Line::syntax_error)?;
                        if !is_symbol(&name) {
                            return Err(Line::syntax_error());
                        }
                        q.protocol = Some(name);
                    }
                    "primary" => q.primary = true,
                    "count" => q.count = true,
                    _ => {
                        // table: only BIRD's one table exists.
                        let name = cur.word().ok_or_else(Line::syntax_error)?;
                        if name != "master" {
                            return Err(Line::syntax_error());
                        }
                    }
                }
            }
            Kw::Ambiguous => return Err(Line::syntax_error()),
            Kw::NotKeyword => {
                q.target = Some(RouteTarget::Exact(parse_prefix(cur, family, true)?));
            }
        }
    }
    Ok(q)
}

fn parse_wren(cur: &mut Cursor, family: Option<Family>) -> Result<Command, Line> {
    if cur.word().as_deref() != Some("json") {
        return Err(Line::syntax_error());
    }
    let what = cur.word().ok_or_else(Line::syntax_error)?;
    let q = match what.as_str() {
        "status" => JsonQuery::Status,
        "protocols" => JsonQuery::Protocols,
        "route" => {
            if cur.done() {
                JsonQuery::Route(None)
            } else {
                JsonQuery::Route(Some(parse_prefix(cur, family, false)?))
            }
        }
        "peer" => {
            let name = cur.word().ok_or_else(Line::syntax_error)?;
            JsonQuery::Peer(name)
        }
        _ => return Err(Line::syntax_error()),
    };
    Ok(Command::Json(q))
}

// ---------------------------------------------------------------------------------------------
// Answers

/// The reply lines of a parsed command (never for [`Command::Quit`], which has none).
pub fn answer(cmd: &Command, snap: &Snapshot) -> Vec<Line> {
    match cmd {
        Command::ShowStatus => show_status(snap),
        Command::ShowProtocols { all, select } => show_protocols(snap, *all, select),
        Command::ShowRoute(q) => show_route(snap, q),
        Command::Json(q) => json(snap, q),
        Command::Quit => Vec::new(),
    }
}

fn show_status(snap: &Snapshot) -> Vec<Line> {
    let s = &snap.status;
    let mut out = vec![
        Line::more(1000, format!("BIRD {}", s.version)),
        Line::more(1011, format!("Router ID is {}", s.router_id)),
        Line::more(
            1011,
            format!("Current server time is {}", format_datetime(s.server_time)),
        ),
        Line::more(
            1011,
            format!("Last reboot on {}", format_datetime(s.last_reboot)),
        ),
        Line::more(
            1011,
            format!(
                "Last reconfiguration on {}",
                format_datetime(s.last_reconfig)
            ),
        ),
    ];
    if let Some(gr) = &s.graceful_restart {
        out.push(Line::more(24, "Graceful restart recovery in progress"));
        out.push(Line::more(
            24,
            format!(
                "  Waiting for {} protocols to recover",
                gr.waiting_for.len()
            ),
        ));
        out.push(Line::more(
            24,
            format!(
                "  Wait timer is {}/{}",
                gr.wait_timer.remaining(s.server_time),
                gr.wait_timer.period_secs
            ),
        ));
    }
    out.push(Line::last(13, s.phase.as_str()));
    out
}

/// The info column of a protocol row (`bgp_get_status`).
fn info_column(p: &ProtocolInfo) -> String {
    match &p.bgp {
        None => String::new(),
        Some(b) => {
            let err = b.last_error.as_deref().unwrap_or("");
            if p.state == ProtoState::Down {
                err.to_owned()
            } else {
                format!("{:<14}{}", b.state.as_str(), err)
            }
        }
    }
}

fn protocol_row(p: &ProtocolInfo, now: SystemTime) -> String {
    format!(
        "{:<8} {:<8} {:<8} {:<5}  {:<10}  {}",
        p.name,
        p.kind.as_str(),
        "master",
        p.state.as_str(),
        format_since(p.since, now),
        info_column(p)
    )
}

fn protocol_details(p: &ProtocolInfo, snap: &Snapshot, out: &mut Vec<Line>) {
    let now = snap.status.server_time;
    let mut add = |text: String| out.push(Line::more(1006, text));
    if let Some(d) = &p.description {
        add(format!("  Description:    {d}"));
    }
    add(format!("  Preference:     {}", p.preference));
    add(format!("  Input filter:   {}", p.input_filter));
    add(format!("  Output filter:  {}", p.output_filter));
    if snap.status.graceful_restart.is_some() {
        add(format!(
            "  GR recovery:   {}{}",
            if p.gr_pending { " pending" } else { "" },
            if p.gr_waiting { " waiting" } else { "" }
        ));
    }
    if p.state != ProtoState::Down {
        let s = &p.stats;
        add(format!(
            "  Routes:         {} imported, {} exported, {} preferred",
            s.imported, s.exported, s.preferred
        ));
        add(
            "  Route change stats:     received   rejected   filtered    ignored   accepted"
                .to_owned(),
        );
        let iu = &s.import_updates;
        add(format!(
            "    Import updates:     {:>10} {:>10} {:>10} {:>10} {:>10}",
            iu.received, iu.rejected, iu.filtered, iu.ignored, iu.accepted
        ));
        let iw = &s.import_withdraws;
        add(format!(
            "    Import withdraws:   {:>10} {:>10}        --- {:>10} {:>10}",
            iw.received, iw.rejected, iw.ignored, iw.accepted
        ));
        let eu = &s.export_updates;
        add(format!(
            "    Export updates:     {:>10} {:>10} {:>10}        --- {:>10}",
            eu.received, eu.rejected, eu.filtered, eu.accepted
        ));
        let ew = &s.export_withdraws;
        add(format!(
            "    Export withdraws:   {:>10}        ---        ---        --- {:>10}",
            ew.received, ew.accepted
        ));
    }
    if let Some(b) = &p.bgp {
        bgp_details(b, now, &mut add);
    }
    add(String::new());
}

fn bgp_details(b: &BgpInfo, now: SystemTime, add: &mut impl FnMut(String)) {
    add(format!("  BGP state:          {}", b.state.as_str()));
    add(format!("    Neighbor address: {}", b.neighbor_address));
    add(format!("    Neighbor AS:      {}", b.neighbor_as));
    if b.neighbor_gr_active {
        add("    Neighbor graceful restart active".to_owned());
    }
    if let Some(t) = &b.error_wait {
        add(format!(
            "    Error wait:       {}/{}",
            t.remaining(now),
            t.period_secs
        ));
    }
    if let Some(t) = &b.connect_delay {
        add(format!(
            "    Connect delay:    {}/{}",
            t.remaining(now),
            t.period_secs
        ));
    }
    if let Some(t) = &b.restart_timer {
        add(format!(
            "    {:<15}   {}/-",
            "Restart timer:",
            t.remaining(now)
        ));
    }
    if let Some(s) = &b.session {
        add(format!("    Neighbor ID:      {}", s.neighbor_id));
        let caps: String = s.neighbor_caps.iter().map(|c| format!(" {c}")).collect();
        add(format!("    Neighbor caps:   {caps}"));
        add(format!(
            "    Session:          {}",
            s.session_flags.join(" ")
        ));
        add(format!("    Source address:   {}", s.source_address));
        if let Some((routes, limit)) = s.route_limit {
            add(format!("    Route limit:      {routes}/{limit}"));
        }
        add(format!(
            "    Hold timer:       {}/{}",
            s.hold_timer.remaining(now),
            s.hold_timer.period_secs
        ));
        add(format!(
            "    Keepalive timer:  {}/{}",
            s.keepalive_timer.remaining(now),
            s.keepalive_timer.period_secs
        ));
    }
    if let Some(e) = &b.last_error {
        add(format!("    Last error:       {e}"));
    }
}

/// Shell-style match with `*` and `?` (BIRD's `patmatch`).
pub fn pattern_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative wildcard match with one backtrack point.
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || Some(&c) == n.get(ni) => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|c| *c == '*'))
}

fn show_protocols(snap: &Snapshot, all: bool, select: &ProtoSelect) -> Vec<Line> {
    let chosen: Vec<&ProtocolInfo> = match select {
        ProtoSelect::All => snap.protocols.iter().collect(),
        ProtoSelect::Pattern(pat) => snap
            .protocols
            .iter()
            .filter(|p| pattern_match(pat, &p.name))
            .collect(),
        ProtoSelect::Name(name) => match snap.protocol(name) {
            Some(p) => vec![p],
            None => return vec![Line::last(9002, format!("{name} is not a protocol"))],
        },
    };
    if chosen.is_empty() {
        return vec![Line::last(8003, "No protocols match")];
    }
    let now = snap.status.server_time;
    let mut out = vec![Line::more(
        2002,
        "name     proto    table    state  since       info",
    )];
    for p in chosen {
        out.push(Line::more(1002, protocol_row(p, now)));
        if all {
            protocol_details(p, snap, &mut out);
        }
    }
    out.push(Line::last(0, ""));
    out
}

/// The rows of one path (`rt_show_rte`): the main row and, for multipath, one row per hop.
fn path_rows(prefix_col: &str, path: &PathInfo, now: SystemTime) -> Vec<String> {
    let (via, gateway) = match &path.dest {
        Dest::Router { gateway, iface } => (format!("via {gateway} on {iface}"), Some(*gateway)),
        Dest::Device { iface } => (format!("dev {iface}"), None),
        Dest::Blackhole => ("blackhole".to_owned(), None),
        Dest::Unreachable => ("unreachable".to_owned(), None),
        Dest::Prohibited => ("prohibited".to_owned(), None),
        Dest::Multipath { .. } => ("multipath".to_owned(), None),
    };
    let from = match path.from {
        Some(f) if Some(f) != gateway => format!(" from {f}"),
        _ => String::new(),
    };
    let info = match &path.bgp {
        None => format!(" ({})", path.preference),
        Some(b) => {
            let igp = b.igp_metric.map(|m| format!("/{m}")).unwrap_or_default();
            let origin_as = b
                .as_path
                .last()
                .map(|a| format!("AS{a}"))
                .unwrap_or_default();
            format!(
                " ({}{igp}) [{origin_as}{}]",
                path.preference,
                b.origin.letter()
            )
        }
    };
    let mut rows = vec![format!(
        "{:<18} {} [{} {}{}]{}{}",
        prefix_col,
        via,
        path.protocol,
        format_since(path.since, now),
        from,
        if path.primary { " *" } else { "" },
        info
    )];
    if let Dest::Multipath { hops } = &path.dest {
        for h in hops {
            rows.push(format!(
                "\tvia {} on {} weight {}",
                h.gateway, h.iface, h.weight
            ));
        }
    }
    rows
}

#[derive(Default)]
struct Counters {
    routes: usize,
    nets: usize,
    shown: usize,
}

/// One prefix of `show route` (`rt_show_net`): appends its rows unless counting only.
fn show_net(
    route: &RouteInfo,
    q: &RouteQuery,
    now: SystemTime,
    counters: &mut Counters,
    out: &mut Vec<Line>,
) {
    let mut prefix_col = route.prefix.to_string();
    for (i, path) in route.paths.iter().enumerate() {
        counters.routes += 1;
        if i == 0 {
            counters.nets += 1;
        }
        let wanted = q.protocol.as_ref().is_none_or(|p| *p == path.protocol);
        if wanted {
            counters.shown += 1;
            if !q.count {
                for row in path_rows(&prefix_col, path, now) {
                    out.push(Line::more(1007, row));
                }
            }
            prefix_col.clear();
        }
        if q.primary {
            break;
        }
    }
}

/// The route for an exact prefix or the longest match, among prefixes that have paths.
fn find_route<'a>(routes: &'a [RouteInfo], target: &RouteTarget) -> Option<&'a RouteInfo> {
    let live = routes.iter().filter(|r| !r.paths.is_empty());
    match target {
        RouteTarget::Exact(net) => live.into_iter().find(|r| r.prefix == *net),
        RouteTarget::LongestMatch(net) => live
            .filter(|r| {
                r.prefix.prefix_len() <= net.prefix_len()
                    && r.prefix.contains(&net.addr())
                    && r.prefix.addr().is_ipv4() == net.addr().is_ipv4()
            })
            .max_by_key(|r| r.prefix.prefix_len()),
    }
}

fn show_route(snap: &Snapshot, q: &RouteQuery) -> Vec<Line> {
    if let Some(name) = &q.protocol {
        let known = snap.protocol(name).is_some()
            || snap
                .routes
                .iter()
                .any(|r| r.paths.iter().any(|p| p.protocol == *name));
        if !known {
            return vec![Line::last(9001, format!("{name} is not a protocol"))];
        }
    }
    let now = snap.status.server_time;
    let mut out = Vec::new();
    let mut counters = Counters::default();
    match &q.target {
        Some(target) => {
            // BIRD answers a single prefix without the count line, even with `count`.
            let Some(route) = find_route(&snap.routes, target) else {
                return vec![Line::last(8001, "Network not in table")];
            };
            show_net(route, q, now, &mut counters, &mut out);
            out.push(Line::last(0, ""));
        }
        None => {
            for route in snap.routes.iter().filter(|r| !r.paths.is_empty()) {
                show_net(route, q, now, &mut counters, &mut out);
            }
            if q.count {
                out.push(Line::last(
                    14,
                    format!(
                        "{} of {} routes for {} networks",
                        counters.shown, counters.routes, counters.nets
                    ),
                ));
            } else {
                out.push(Line::last(0, ""));
            }
        }
    }
    out
}

fn json(snap: &Snapshot, q: &JsonQuery) -> Vec<Line> {
    let text = match q {
        JsonQuery::Status => serde_json::to_string(&snap.status),
        JsonQuery::Protocols => serde_json::to_string(&snap.protocols),
        JsonQuery::Route(None) => serde_json::to_string(&snap.routes),
        JsonQuery::Route(Some(net)) => {
            match find_route(&snap.routes, &RouteTarget::LongestMatch(*net)) {
                Some(r) => serde_json::to_string(&[r]),
                None => return vec![Line::last(8001, "Network not in table")],
            }
        }
        JsonQuery::Peer(name) => match snap.protocol(name) {
            Some(p) => serde_json::to_string(p),
            None => return vec![Line::last(9002, format!("{name} is not a protocol"))],
        },
    };
    match text {
        Ok(t) => vec![Line::more(JSON_CODE, t), Line::last(0, "")],
        Err(e) => vec![Line::last(8008, format!("cannot encode JSON: {e}"))],
    }
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
