//! A real etcd (Debian `etcd-server`) in a lab node, for Calico-mode tests: one member serving
//! clients on a given URL, its data in the lab directory, and `etcdctl` against it.

use std::time::Duration;

use super::{wait_until, Lab, Node, ProcHandle, Result};

/// How long [`start`] waits for etcd to report healthy.
const HEALTHY_WITHIN: Duration = Duration::from_secs(40);

/// Starts etcd on `node` serving clients on `url` (e.g. `http://198.18.0.1:2379`, an address of
/// `node`), with its data directory in the lab directory, and waits until it is healthy.
pub fn start(lab: &Lab, node: &Node, url: &str) -> Result<ProcHandle> {
    let data = lab.write_file("etcd-data/.keep", "")?;
    let data_dir = data
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let peer_url = "http://127.0.0.1:2380";
    let cluster = format!("lab={peer_url}");
    let proc = node.spawn(
        "etcd",
        &[
            "etcd",
            "--name",
            "lab",
            "--data-dir",
            &data_dir,
            "--listen-client-urls",
            url,
            "--advertise-client-urls",
            url,
            "--listen-peer-urls",
            peer_url,
            "--initial-advertise-peer-urls",
            peer_url,
            "--initial-cluster",
            &cluster,
        ],
    )?;
    wait_until(HEALTHY_WITHIN, "etcd to be healthy", || {
        if !proc.is_running() {
            return Err(format!("etcd exited:\n{}", proc.log_tail(20)));
        }
        Ok(etcdctl(node, url, &["endpoint", "health"]).is_ok())
    })?;
    Ok(proc)
}

/// Runs `etcdctl --endpoints URL ARGS…` on `node`.
pub fn etcdctl(node: &Node, url: &str, args: &[&str]) -> Result<String> {
    let mut argv = vec!["etcdctl", "--endpoints", url];
    argv.extend_from_slice(args);
    node.exec(&argv)
}
