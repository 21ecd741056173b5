//! Every example in `config/` is a valid configuration, and `wren check` says so; a broken file
//! makes `wren check` fail with an error naming the file, the key and the problem.
//!
//! The directory is listed at test time, so a new example is covered without touching this file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use wren::config::Config;

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.toml examples in {}", dir.display());
    files
}

fn wren_check(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wren"))
        .arg("check")
        .args(args)
        .output()
        .unwrap()
}

/// A fresh directory for this test process and `name`.
fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wren-config-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn every_example_in_config_loads_and_validates() {
    for f in examples() {
        let c = Config::load(&f).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.origin, f.display().to_string());
    }
}

#[test]
fn the_embedded_default_is_config_wren_toml() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let from_file = Config::load(dir.join("wren.toml")).unwrap();
    let embedded = Config::embedded_default().unwrap();
    assert_eq!(from_file.global, embedded.global);
    assert_eq!(from_file.peers, embedded.peers);
    assert_eq!(from_file.originate, embedded.originate);
}

#[test]
fn wren_check_accepts_every_example_and_summarises_it() {
    for f in examples() {
        let out = wren_check(&["--config".as_ref(), f.as_os_str()]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "wren check --config {} failed:\n{stdout}\n{}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let c = Config::load(&f).unwrap();
        assert!(
            stdout.contains(&format!("local AS {}", c.global.asn)),
            "{stdout}"
        );
        for p in &c.peers {
            assert!(
                stdout.contains(&p.name),
                "peer {} missing:\n{stdout}",
                p.name
            );
        }
    }
}

#[test]
fn wren_check_without_config_checks_the_embedded_default() {
    let out = wren_check(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("embedded default"), "{stdout}");
    assert!(stdout.contains("router id 198.51.100.1"), "{stdout}");
}

#[test]
fn wren_check_rejects_a_bad_hold_time_naming_file_key_and_problem() {
    let dir = temp_dir("hold");
    let f = dir.join("broken.toml");
    std::fs::write(
        &f,
        "[global]\nasn = 64512\nrouter_id = \"203.0.113.1\"\n\n[[peer]]\naddress = \"203.0.113.2\"\nasn = 64513\nhold_time = 2\n",
    )
    .unwrap();
    let out = wren_check(&["--config".as_ref(), f.as_os_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&f.display().to_string()),
        "file not named: {stderr}"
    );
    assert!(
        stderr.contains("peer[0].hold_time"),
        "key not named: {stderr}"
    );
    assert!(
        stderr.contains("hold_time must be 0 or at least 3 seconds"),
        "problem not named: {stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn wren_check_rejects_an_unknown_key_naming_it() {
    let dir = temp_dir("unknown");
    let f = dir.join("typo.toml");
    std::fs::write(
        &f,
        "[global]\nasn = 64512\nrouter_id = \"203.0.113.1\"\n\n[[peer]]\naddress = \"203.0.113.2\"\nasn = 64513\nholdtime = 30\n",
    )
    .unwrap();
    let out = wren_check(&["--config".as_ref(), f.as_os_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{}:8:", f.display())), "{stderr}");
    assert!(stderr.contains("peer[0].holdtime"), "{stderr}");
    assert!(stderr.contains("unknown field `holdtime`"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn wren_check_exits_1_for_an_unreadable_file() {
    let dir = temp_dir("missing");
    let f = dir.join("missing.toml");
    let out = wren_check(&["--config".as_ref(), f.as_os_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&f.display().to_string()), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_key_in_the_annotated_default_is_documented_in_the_readme() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let default = std::fs::read_to_string(root.join("config/wren.toml")).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut keys = 0;
    for line in default.lines() {
        // `key = value` lines, set or commented out ("# key = value").
        let line = line.trim_start_matches(['#', ' ']);
        let Some((key, _)) = line.split_once(" = ") else {
            continue;
        };
        if key.chars().all(|c| c.is_ascii_lowercase() || c == '_') && !key.is_empty() {
            keys += 1;
            assert!(
                readme.contains(&format!("| `{key}` |")),
                "README.md's Configuration tables do not document `{key}`"
            );
        }
    }
    assert!(keys >= 20, "only {keys} keys found in config/wren.toml");
}
