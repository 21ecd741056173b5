//! The deployment files in `config/` say what `docs/operations.md` says they do:
//!
//! * `config/wren.service` is a valid systemd unit: `systemd-analyze verify` accepts it when the
//!   tool is installed (Debian: package `systemd`); without it the test says so on stderr and
//!   falls back to its own parser, which every run also applies: the file is INI-shaped and has
//!   the keys the daemon's lifecycle relies on (start command, SIGHUP reload, SIGTERM stop,
//!   restart on failure, runtime directory of the control socket, capabilities).
//! * The unit's commands are ones `wren` accepts (`wren check` passes on the example file, and
//!   `wren run --config` fails on a missing file with the read error, not a usage error).
//! * `config/Dockerfile.calico-node` installs `/usr/local/bin/wren`, the `bird` symlink of
//!   `docs/control.md`, and a runit `bird` service that starts wren by that bare name with `-R`.
//! * `docs/operations.md` lists every metric family wren exports.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// One `Key=Value` of a unit file, with its section.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    section: String,
    key: String,
    value: String,
}

/// Parses a systemd unit file the way systemd reads its lines: comments (`#`, `;`), blank
/// lines, `[Section]` headers and `Key=Value` (whitespace around both trimmed). Anything else,
/// a key outside a section, a continuation line or an empty key is an error naming the line.
fn parse_unit(text: &str) -> Result<Vec<Entry>, String> {
    let mut section: Option<String> = None;
    let mut entries = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.ends_with('\\') {
            return Err(format!(
                "line {n}: continuation lines are not used here: {raw}"
            ));
        }
        if let Some(name) = line.strip_prefix('[') {
            let name = name
                .strip_suffix(']')
                .ok_or_else(|| format!("line {n}: bad section header: {raw}"))?;
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(format!("line {n}: bad section name: {raw}"));
            }
            section = Some(name.to_string());
            continue;
        }
        let (key, value) = line.split_once('=').ok_or_else(|| {
            format!("line {n}: neither a section, a comment nor Key=Value: {raw}")
        })?;
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!("line {n}: bad key: {raw}"));
        }
        let section = section
            .clone()
            .ok_or_else(|| format!("line {n}: key outside a section: {raw}"))?;
        entries.push(Entry {
            section,
            key: key.to_string(),
            value: value.trim().to_string(),
        });
    }
    Ok(entries)
}

fn values<'a>(entries: &'a [Entry], section: &str, key: &str) -> Vec<&'a str> {
    entries
        .iter()
        .filter(|e| e.section == section && e.key == key)
        .map(|e| e.value.as_str())
        .collect()
}

fn one<'a>(entries: &'a [Entry], section: &str, key: &str) -> &'a str {
    let v = values(entries, section, key);
    assert_eq!(
        v.len(),
        1,
        "[{section}] {key}= must be set exactly once, got {v:?}"
    );
    v[0]
}

const UNIT: &str = "config/wren.service";
const BIN: &str = "/usr/local/bin/wren";
const CONFIG: &str = "/etc/wren/wren.toml";

#[test]
fn the_unit_file_parses_and_has_the_required_keys() {
    let entries = parse_unit(&read(UNIT)).unwrap_or_else(|e| panic!("{UNIT}: {e}"));
    let sections: std::collections::BTreeSet<&str> =
        entries.iter().map(|e| e.section.as_str()).collect();
    assert_eq!(
        sections.into_iter().collect::<Vec<_>>(),
        vec!["Install", "Service", "Unit"],
        "{UNIT}: sections"
    );

    assert!(!one(&entries, "Unit", "Description").is_empty());
    assert_eq!(one(&entries, "Service", "Type"), "simple");
    assert_eq!(
        one(&entries, "Service", "ExecStart"),
        format!("{BIN} run --config {CONFIG}")
    );
    // A reload first checks the file (a broken file fails `systemctl reload` visibly), then
    // sends SIGHUP, which re-applies [[originate]].
    assert_eq!(
        values(&entries, "Service", "ExecReload"),
        vec![
            format!("{BIN} check --config {CONFIG}").as_str(),
            "/bin/kill -HUP $MAINPID"
        ]
    );
    assert_eq!(
        values(&entries, "Service", "ExecStartPre"),
        vec![format!("{BIN} check --config {CONFIG}").as_str()]
    );
    assert_eq!(one(&entries, "Service", "KillSignal"), "SIGTERM");
    assert_eq!(one(&entries, "Service", "Restart"), "on-failure");
    // /run/wren holds the default control socket, /run/wren/wren.ctl.
    assert_eq!(one(&entries, "Service", "RuntimeDirectory"), "wren");
    let caps = ["CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"];
    for key in ["CapabilityBoundingSet", "AmbientCapabilities"] {
        let mut got: Vec<&str> = one(&entries, "Service", key).split_whitespace().collect();
        got.sort_unstable();
        assert_eq!(got, caps, "[Service] {key}");
    }
    assert_eq!(one(&entries, "Service", "ProtectSystem"), "strict");
    assert_eq!(one(&entries, "Service", "NoNewPrivileges"), "yes");
    let families = one(&entries, "Service", "RestrictAddressFamilies");
    for f in ["AF_INET", "AF_INET6", "AF_UNIX", "AF_NETLINK"] {
        assert!(
            families.split_whitespace().any(|x| x == f),
            "RestrictAddressFamilies lacks {f} (wren needs TCP, the control socket and netlink)"
        );
    }
    assert!(
        values(&entries, "Service", "Environment")
            .iter()
            .any(|v| v.starts_with("RUST_LOG=")),
        "the unit sets RUST_LOG"
    );
    assert_eq!(one(&entries, "Install", "WantedBy"), "multi-user.target");
}

#[test]
fn the_parser_rejects_what_systemd_would_not_read() {
    assert!(parse_unit("[Service]\nType=simple\n").is_ok());
    assert!(parse_unit("Type=simple\n")
        .unwrap_err()
        .contains("outside a section"));
    assert!(parse_unit("[Service]\nType simple\n")
        .unwrap_err()
        .contains("line 2"));
    assert!(parse_unit("[Service\nType=simple\n")
        .unwrap_err()
        .contains("section header"));
    assert!(parse_unit("[Service]\n=x\n")
        .unwrap_err()
        .contains("bad key"));
}

/// The unit with the binary's path replaced by the one cargo built: `systemd-analyze verify`
/// checks that every command's executable exists, and wren is not installed on a test machine.
/// (The literal path is asserted by the test above.)
fn unit_for_verify() -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("wren-deploy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("wren.service");
    let text = read(UNIT).replace(BIN, env!("CARGO_BIN_EXE_wren"));
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn systemd_analyze() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/bin")])
        .map(|d| d.join("systemd-analyze"))
        .find(|p| p.is_file())
}

#[test]
fn systemd_analyze_verifies_the_unit() {
    let Some(tool) = systemd_analyze() else {
        eprintln!(
            "NOTE: systemd-analyze is not available (Debian package `systemd`): {UNIT} was \
             checked only by this test's own unit-file parser \
             (the_unit_file_parses_and_has_the_required_keys), not by systemd"
        );
        // The documented fallback: the file must still parse and carry the required keys.
        let entries = parse_unit(&read(UNIT)).unwrap_or_else(|e| panic!("{UNIT}: {e}"));
        assert_eq!(one(&entries, "Service", "KillSignal"), "SIGTERM");
        return;
    };
    let (dir, unit) = unit_for_verify();
    let verify = |path: &Path| {
        let out = Command::new(&tool)
            .args(["verify", "--man=no"])
            .arg(path)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, stderr) = verify(&unit);
    // systemd-analyze exits 0 on some problems (an unknown key is only a warning), so any
    // diagnostic about the unit fails the test too.
    assert!(
        ok && !stderr.contains("wren.service"),
        "systemd-analyze verify {UNIT} (binary path replaced by the built one):\n{stderr}"
    );

    // The check has teeth: a misspelt key is reported.
    let broken = dir.join("broken").join("wren.service");
    std::fs::create_dir_all(broken.parent().unwrap()).unwrap();
    let text = std::fs::read_to_string(&unit).unwrap();
    std::fs::write(&broken, text.replace("KillSignal=", "KilSignal=")).unwrap();
    let (_, stderr) = verify(&broken);
    assert!(
        stderr.contains("KilSignal"),
        "systemd-analyze did not report a misspelt key:\n{stderr}"
    );

    // The hardening score, for the log (`systemd-analyze security`; offline since systemd 250).
    let security = Command::new(&tool)
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&security.stdout);
    match text.lines().find(|l| l.contains("Overall exposure level")) {
        Some(line) => {
            eprintln!("{line}");
            let score: f64 = line
                .split(':')
                .nth(1)
                .and_then(|s| s.split_whitespace().next())
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("cannot read the score in {line:?}"));
            assert!(
                score <= 3.0,
                "exposure {score} > 3.0: hardening lost?\n{text}"
            );
        }
        None => eprintln!(
            "NOTE: this systemd-analyze has no offline `security` (needs systemd 250): {}",
            String::from_utf8_lossy(&security.stderr).trim()
        ),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_units_commands_are_ones_wren_accepts() {
    let wren = env!("CARGO_BIN_EXE_wren");
    let entries = parse_unit(&read(UNIT)).unwrap();
    let example = repo("config/wren.toml");
    for line in values(&entries, "Service", "ExecStartPre") {
        let args: Vec<&str> = line.split_whitespace().skip(1).collect();
        let out = Command::new(wren)
            .args(args.iter().map(|a| {
                if *a == CONFIG {
                    example.as_os_str()
                } else {
                    std::ffi::OsStr::new(a)
                }
            }))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{line} (with config/wren.toml): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // `run --config` with a file that is not there: the read error (exit 1), not a usage error
    // (exit 2), so the arguments of ExecStart are right.
    let start = one(&entries, "Service", "ExecStart");
    let missing =
        std::env::temp_dir().join(format!("wren-deploy-missing-{}.toml", std::process::id()));
    let args: Vec<String> = start
        .split_whitespace()
        .skip(1)
        .map(|a| {
            if a == CONFIG {
                missing.display().to_string()
            } else {
                a.to_string()
            }
        })
        .collect();
    let out = Command::new(wren).args(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{start}: {stderr}");
    assert!(stderr.contains("wren run:"), "{stderr}");
}

const DOCKERFILE: &str = "config/Dockerfile.calico-node";

/// The Dockerfile's instructions with `\` continuations joined, comments dropped.
fn instructions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut heredoc: Option<String> = None;
    for line in text.lines() {
        if let Some(end) = &heredoc {
            current.push('\n');
            current.push_str(line);
            if line.trim() == end {
                heredoc = None;
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        let t = line.trim();
        if current.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        if let Some(rest) = t.strip_suffix('\\') {
            current.push_str(rest);
            current.push(' ');
            continue;
        }
        current.push_str(t);
        if let Some(pos) = current.find("<<") {
            let marker = current[pos + 2..]
                .split_whitespace()
                .next()
                .unwrap_or("")
                .trim_matches(|c| c == '\'' || c == '"' || c == '-');
            heredoc = Some(marker.to_string());
            continue;
        }
        out.push(std::mem::take(&mut current));
    }
    assert!(heredoc.is_none(), "unterminated heredoc in {DOCKERFILE}");
    out
}

#[test]
fn the_calico_node_recipe_installs_wren_as_bird() {
    let text = read(DOCKERFILE);
    let steps = instructions(&text);
    let froms: Vec<&String> = steps.iter().filter(|s| s.starts_with("FROM ")).collect();
    assert!(
        froms
            .last()
            .is_some_and(|f| f.starts_with("FROM calico/node:")),
        "the final stage is a calico-node image: {froms:?}"
    );
    assert!(
        steps
            .iter()
            .any(|s| s.starts_with("COPY --from=build ") && s.ends_with(BIN)),
        "the binary is installed as {BIN}"
    );
    assert!(
        steps
            .iter()
            .any(|s| s.contains("cargo build --release --locked --bin wren")),
        "wren is built in release mode from the lock file"
    );
    // docs/control.md: a symlink named `bird` on the PATH, pointing at wren.
    let link = format!("ln -sf {BIN} /usr/local/bin/bird");
    assert!(
        steps.iter().any(|s| s.contains(&link)),
        "{DOCKERFILE} must create the symlink: {link}"
    );
    assert!(
        steps
            .iter()
            .any(|s| s.contains("rm -f /bin/bird /bin/bird6")),
        "BIRD's own daemons are removed, so `bird` on the PATH is wren"
    );
    // The runit service starts wren by the bare name `bird` (argv[0] and comm are `bird`), with
    // BIRD's -R, never by a path (calicoctl would not find it).
    let run = steps
        .iter()
        .find(|s| s.contains("/etc/service/available/bird/run"))
        .unwrap_or_else(|| panic!("{DOCKERFILE} writes no runit bird/run"));
    assert!(run.contains("#!/bin/sh"), "{run}");
    let exec: Vec<&str> = run
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("exec bird") || l.starts_with("exec /"))
        .collect();
    assert_eq!(
        exec,
        vec![format!("exec bird run --config {CONFIG} -R").as_str()],
        "{run}"
    );
    assert!(
        run.contains("exec 2>&1"),
        "stderr goes to runit's log: {run}"
    );
    for service in ["bird6", "confd"] {
        assert!(
            text.contains(&format!("/etc/service/available/{service}/down")),
            "the {service} service is marked down"
        );
    }
    assert!(
        !text.contains("rm -f /bin/birdcl"),
        "birdcl stays: calico-node's liveness probe uses it"
    );
    let ignore = read("config/Dockerfile.calico-node.dockerignore");
    for p in ["target", ".git"] {
        assert!(
            ignore.lines().any(|l| l.trim() == p),
            "the build context leaves out {p}"
        );
    }
}

#[test]
fn operations_doc_lists_every_metric_family() {
    let m = wren::metrics::Metrics::new().unwrap();
    m.set_peer(&wren::metrics::PeerSample {
        name: "p".into(),
        last_error: Some("e".into()),
        ..Default::default()
    });
    let text = m.render().unwrap();
    let families: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(families.len() >= 18, "{families:?}");
    let doc = read("docs/operations.md");
    let missing: Vec<&&str> = families
        .iter()
        .filter(|f| !doc.contains(&format!("`{f}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/operations.md does not list {missing:?}"
    );
}
