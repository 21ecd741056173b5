//! wren itself as a lab daemon: `wren run` in a namespace with its log captured, plus waits on
//! what it logs (session changes at info level, each received or withdrawn prefix at debug), a
//! configuration reload by SIGHUP ([`Wren::reload_with`]) and a configuration builder
//! ([`WrenConfig`]) for named peers, families and per-peer knobs.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{descendants, fail, run, wait_until, Family, Lab, LabError, Node, ProcHandle, Result};

/// How long [`Wren::reload_with`] waits for wren to log that it applied the reloaded file.
pub const RELOAD_TIMEOUT: Duration = Duration::from_secs(10);

/// A `wren run` process in a namespace, logging at debug level to its per-test log file.
pub struct Wren {
    proc: ProcHandle,
    config_path: PathBuf,
    socket: PathBuf,
}

/// The control-socket path test configurations write; [`Wren::start`] replaces it with a path
/// of the wren's own in the lab directory ([`Wren::socket`]).
pub const PLACEHOLDER_SOCKET: &str = "/nonexistent/wren.ctl";

impl Wren {
    /// This wren's control socket.
    #[allow(dead_code)]
    pub fn socket(&self) -> &std::path::Path {
        &self.socket
    }

    /// Writes `config` (TOML) as `<node>-<name>.toml` in the lab directory and starts
    /// `wren run --config` on `node` with `RUST_LOG=debug`.
    pub fn start(lab: &Lab, node: &Node, name: &str, config: &str) -> Result<Wren> {
        Self::start_with_log(lab, node, name, config, "debug")
    }

    /// Like [`Wren::start`] with `RUST_LOG=<rust_log>`, e.g. `info` for a test that sends so
    /// many prefixes that wren's per-prefix debug lines would swamp the log (the `received …`
    /// lines and [`Wren::wait_for_log`] on them need `debug`).
    pub fn start_with_log(
        lab: &Lab,
        node: &Node,
        name: &str,
        config: &str,
        rust_log: &str,
    ) -> Result<Wren> {
        // Each wren gets its own control socket in the lab directory: the tests' configurations
        // name `/nonexistent/wren.ctl`, which would make parallel wrens collide.
        let probe = lab.write_file(&format!("{}-{name}.ctl.path", node.name()), "")?;
        let socket = probe.with_extension("").with_extension("ctl");
        let _ = std::fs::remove_file(&probe);
        let config = config.replace(PLACEHOLDER_SOCKET, &socket.to_string_lossy());
        let path = lab.write_file(&format!("{}-{name}.toml", node.name()), &config)?;
        let path = path.to_string_lossy().into_owned();
        let rust_log = format!("RUST_LOG={rust_log}");
        let argv = [
            "env",
            &rust_log,
            env!("CARGO_BIN_EXE_wren"),
            "run",
            "--config",
            &path,
        ];
        Ok(Wren {
            proc: node.spawn(name, &argv)?,
            config_path: PathBuf::from(path),
            socket,
        })
    }

    /// The process handle (to stop wren, or read its log path).
    pub fn proc(&self) -> &ProcHandle {
        &self.proc
    }

    /// The configuration file wren was started with (and re-reads on SIGHUP).
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// PID of the `wren` process itself. The spawned process is the `timeout` wrapper, which must
    /// not be signalled with anything but a termination signal: `timeout -k` answers *any*
    /// signal it forwards by arming its SIGKILL timer.
    pub fn daemon_pid(&self) -> Result<u32> {
        let found: Vec<u32> = descendants(self.proc.pid())
            .into_iter()
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|comm| comm.trim_end() == "wren")
            })
            .collect();
        match found.as_slice() {
            [pid] => Ok(*pid),
            [] => fail(format!(
                "no wren process under {:?} (exit status {:?})",
                self.proc,
                self.proc.exit_status()
            )),
            many => fail(format!(
                "several wren processes under {:?}: {many:?}",
                self.proc
            )),
        }
    }

    /// Sends SIGHUP to the wren process (not to its `timeout` wrapper, see
    /// [`Wren::daemon_pid`]). Fails if wren has not yet installed its signal handlers (it logs
    /// `listening on` right after), since SIGHUP's default action would kill it.
    pub fn sighup(&self) -> Result<()> {
        if !self.log().contains("listening on") {
            return fail(format!(
                "wren has not logged `listening on` yet, so SIGHUP would kill it; log:\n{}",
                self.log()
            ));
        }
        let pid = self.daemon_pid()?.to_string();
        run("kill", &["-HUP", &pid]).map(drop)
    }

    /// Rewrites the configuration file with `config` (TOML), sends SIGHUP, and waits until wren
    /// logs that it applied the `[[originate]]` list (`originated prefixes: …`) once more than
    /// before. wren applies only `[[originate]]` on a reload; other changes need a restart.
    pub fn reload_with(&self, config: &str) -> Result<()> {
        const APPLIED: &str = "originated prefixes:";
        let before = self.log().matches(APPLIED).count();
        let config = config.replace(PLACEHOLDER_SOCKET, &self.socket.to_string_lossy());
        std::fs::write(&self.config_path, config).map_err(|e| {
            LabError::new(format!("cannot write {}: {e}", self.config_path.display()))
        })?;
        self.sighup()?;
        self.wait_for_log(APPLIED, before + 1, RELOAD_TIMEOUT)
            .map_err(|e| e.context("wren did not apply the reloaded configuration"))
    }

    /// Kills the wren process (not its `timeout` wrapper) with SIGKILL, as a crash: no
    /// NOTIFICATION is sent, the kernel closes its TCP connections, and the routes it installed
    /// stay in the kernel. Returns once the process has been reaped.
    pub fn sigkill(&self) -> Result<()> {
        let pid = self.daemon_pid()?.to_string();
        run("kill", &["-KILL", &pid])?;
        wait_until(
            Duration::from_secs(5),
            &format!("the SIGKILLed {} to be reaped", self.proc.name()),
            || Ok::<_, LabError>(!self.proc.is_running()),
        )
    }

    /// Everything wren has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.proc.log_path()).unwrap_or_default()
    }

    /// Waits until the log holds `needle` at least `times` times; fails at once if wren exits.
    pub fn wait_for_log(&self, needle: &str, times: usize, deadline: Duration) -> Result<()> {
        wait_until(
            deadline,
            &format!("wren to log {needle:?} {times} times"),
            || {
                let log = self.log();
                let n = log.matches(needle).count();
                if n >= times {
                    Ok(true)
                } else if !self.proc.is_running() {
                    Err(LabError::new(format!(
                        "wren exited ({:?}); log:\n{log}",
                        self.proc.exit_status()
                    )))
                } else {
                    Err(LabError::new(format!(
                        "seen {n} times; log tail:\n{}",
                        self.proc.log_tail(20)
                    )))
                }
            },
        )
    }
}

/// A static wren configuration for lab tests: one `[[peer]]` per `(address, AS)` with ConnectRetry
/// 3 s and hold time 9 s (so restarts converge quickly), and one `[[originate]]` per prefix.
pub fn config(asn: u32, router_id: &str, peers: &[(IpAddr, u32)], originate: &[&str]) -> String {
    let mut s = format!(
        "[global]\nasn = {asn}\nrouter_id = \"{router_id}\"\nlisten_address = \"::\"\n\n\
         [control]\nsocket = \"/nonexistent/wren.ctl\"\n\n"
    );
    for (addr, peer_as) in peers {
        s.push_str(&format!(
            "[[peer]]\naddress = \"{addr}\"\nasn = {peer_as}\nconnect_retry = 3\nhold_time = 9\n\n"
        ));
    }
    for p in originate {
        s.push_str(&format!("[[originate]]\nprefix = \"{p}\"\n\n"));
    }
    s
}

/// One `[[peer]]` of a [`WrenConfig`].
#[derive(Clone, Debug)]
pub struct WrenPeer {
    /// `name` (wren's default is `Peer_<address>`); the name wren's log lines carry.
    pub name: Option<String>,
    /// `address`.
    pub address: IpAddr,
    /// `asn`: iBGP when equal to the global AS.
    pub asn: u32,
    /// `families` (wren's default when empty: the family of `address`).
    pub families: Vec<Family>,
    /// `rr_client = true`.
    pub rr_client: bool,
    /// `next_hop_self = true`.
    pub next_hop_self: bool,
    /// `passive = true`: never connect out, only accept.
    pub passive: bool,
    /// `connect_retry` in seconds (lab default 3).
    pub connect_retry: u32,
    /// `hold_time` in seconds (lab default 9).
    pub hold_time: u32,
    /// Raw `key = value` lines added to this peer's table.
    pub extra: String,
}

impl WrenPeer {
    /// A peer with the lab defaults (connect retry 3 s, hold time 9 s) and no name.
    pub fn new(address: IpAddr, asn: u32) -> Self {
        Self {
            name: None,
            address,
            asn,
            families: Vec::new(),
            rr_client: false,
            next_hop_self: false,
            passive: false,
            connect_retry: 3,
            hold_time: 9,
            extra: String::new(),
        }
    }

    /// A named peer with the lab defaults.
    pub fn named(name: &str, address: IpAddr, asn: u32) -> Self {
        Self {
            name: Some(name.to_owned()),
            ..Self::new(address, asn)
        }
    }

    /// Sets `families`.
    #[must_use]
    pub fn families(mut self, families: &[Family]) -> Self {
        self.families = families.to_vec();
        self
    }

    /// Sets `rr_client = true`.
    #[must_use]
    pub fn rr_client(mut self) -> Self {
        self.rr_client = true;
        self
    }

    /// Sets `next_hop_self = true`.
    #[must_use]
    pub fn next_hop_self(mut self) -> Self {
        self.next_hop_self = true;
        self
    }

    /// Sets `passive = true`. Between two wren instances, one passive side avoids connection
    /// collisions: wren's restart wait after a collision has no jitter, so two wrens that both
    /// connect can collide again in lockstep for several rounds.
    #[must_use]
    pub fn passive(mut self) -> Self {
        self.passive = true;
        self
    }
}

/// A wren configuration file: `[global]` (AS, router id, dual-stack listener), a `[control]`
/// socket that is never created, `[[peer]]`s and `[[originate]]` prefixes.
#[derive(Clone, Debug)]
pub struct WrenConfig {
    /// `global.asn`.
    pub asn: u32,
    /// `global.router_id`.
    pub router_id: Ipv4Addr,
    /// Raw `key = value` lines added to `[global]` (e.g. `cluster_id = "198.19.0.1"`).
    pub global_extra: String,
    /// Peers.
    pub peers: Vec<WrenPeer>,
    /// Originated prefixes.
    pub originate: Vec<String>,
    /// Raw TOML appended at the end of the file: `[kernel]`, `[[kernel.tunnel]]`,
    /// `[[kernel.learn]]`, an `[[originate]]` with more keys than `prefix`, …
    pub extra: String,
}

impl WrenConfig {
    /// No peers, nothing originated.
    pub fn new(asn: u32, router_id: Ipv4Addr) -> Self {
        Self {
            asn,
            router_id,
            global_extra: String::new(),
            peers: Vec::new(),
            originate: Vec::new(),
            extra: String::new(),
        }
    }

    /// Appends raw TOML to the file (see the `extra` field).
    #[must_use]
    pub fn extra(mut self, toml: &str) -> Self {
        self.extra.push_str(toml.trim_end());
        self.extra.push('\n');
        self
    }

    /// Adds a peer.
    #[must_use]
    pub fn peer(mut self, peer: WrenPeer) -> Self {
        self.peers.push(peer);
        self
    }

    /// Adds an `[[originate]]` prefix.
    #[must_use]
    pub fn originate(mut self, prefix: &str) -> Self {
        self.originate.push(prefix.to_owned());
        self
    }

    /// The same configuration without `prefix` in `[[originate]]` (for [`Wren::reload_with`]).
    #[must_use]
    pub fn without_originate(mut self, prefix: &str) -> Self {
        self.originate.retain(|p| p != prefix);
        self
    }

    /// Renders the TOML file.
    pub fn to_toml(&self) -> String {
        let mut s = format!(
            "[global]\nasn = {}\nrouter_id = \"{}\"\nlisten_address = \"::\"\n",
            self.asn, self.router_id
        );
        if !self.global_extra.is_empty() {
            let _ = writeln!(s, "{}", self.global_extra.trim_end());
        }
        s.push_str("\n[control]\nsocket = \"/nonexistent/wren.ctl\"\n\n");
        for p in &self.peers {
            s.push_str("[[peer]]\n");
            if let Some(name) = &p.name {
                let _ = writeln!(s, "name = \"{name}\"");
            }
            let _ = writeln!(
                s,
                "address = \"{}\"\nasn = {}\nconnect_retry = {}\nhold_time = {}",
                p.address, p.asn, p.connect_retry, p.hold_time
            );
            if !p.families.is_empty() {
                let names: Vec<String> = p
                    .families
                    .iter()
                    .map(|f| format!("\"{}\"", f.name()))
                    .collect();
                let _ = writeln!(s, "families = [{}]", names.join(", "));
            }
            if p.rr_client {
                s.push_str("rr_client = true\n");
            }
            if p.next_hop_self {
                s.push_str("next_hop_self = true\n");
            }
            if p.passive {
                s.push_str("passive = true\n");
            }
            if !p.extra.is_empty() {
                let _ = writeln!(s, "{}", p.extra.trim_end());
            }
            s.push('\n');
        }
        for prefix in &self.originate {
            let _ = writeln!(s, "[[originate]]\nprefix = \"{prefix}\"\n");
        }
        if !self.extra.is_empty() {
            let _ = writeln!(s, "{}", self.extra.trim_end());
        }
        s
    }
}
