//! wren itself as a lab daemon: `wren run` in a namespace with its log captured, plus waits on
//! what it logs (session changes at info level, each received or withdrawn prefix at debug).

use std::net::IpAddr;
use std::time::Duration;

use super::{wait_until, Lab, LabError, Node, ProcHandle, Result};

/// A `wren run` process in a namespace, logging at debug level to its per-test log file.
pub struct Wren {
    proc: ProcHandle,
}

impl Wren {
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
        let path = lab.write_file(&format!("{}-{name}.toml", node.name()), config)?;
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
        })
    }

    /// The process handle (to stop wren, or read its log path).
    pub fn proc(&self) -> &ProcHandle {
        &self.proc
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
