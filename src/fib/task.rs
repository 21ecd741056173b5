//! The FIB task: owns a [`Fib`] and the [`Sync`] state, takes the RIB task's best-route changes
//! ([`FibInput`]) and applies them to the kernel in batches.
//!
//! On start it reads the table once and adopts the routes of its protocol; it settles (deletes
//! the adopted routes nothing wanted) when the RIB task reports every peer's End-of-RIB or when
//! the restart wait runs out, whichever comes first. Between inputs it drains whatever else is
//! queued, so a burst of changes becomes one batch of netlink requests.

use std::time::Duration;

use ipnet::IpNet;
use tokio::sync::mpsc;

use super::sync::{Settings, Sync, Want};
use super::{Fib, Op};

/// What the FIB task receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FibInput {
    /// The RIB's wishes for these prefixes changed.
    Routes(Vec<(IpNet, Want)>),
    /// Every peer sent End-of-RIB: the restart is over.
    Settle,
    /// The node's own addresses (with prefix lengths) are now these.
    LocalAddresses(Vec<IpNet>),
}

/// Most inputs merged into one batch.
const MAX_BATCH_INPUTS: usize = 1024;

/// Runs the FIB task until the input queue closes.
pub async fn run<F: Fib>(
    mut fib: F,
    settings: Settings,
    restart_wait: Duration,
    mut rx: mpsc::UnboundedReceiver<FibInput>,
) {
    let existing = match fib.dump(settings.table).await {
        Ok(routes) => routes,
        Err(e) => {
            tracing::error!(
                "kernel: cannot read table {}: {e}; adopting nothing",
                settings.table
            );
            Vec::new()
        }
    };
    let (table, protocol) = (settings.table, settings.protocol);
    let mut sync = Sync::new(settings, existing);
    tracing::info!(
        "kernel: adopted {} routes of protocol {protocol} in table {table}; unwanted ones are \
         deleted after every peer's End-of-RIB or {} s",
        sync.adopted(),
        restart_wait.as_secs()
    );
    let deadline = tokio::time::sleep(restart_wait);
    tokio::pin!(deadline);
    loop {
        let first = tokio::select! {
            input = rx.recv() => match input {
                Some(i) => i,
                None => return,
            },
            _ = &mut deadline, if !sync.is_settled() => FibInput::Settle,
        };
        let mut ops = Vec::new();
        let mut inputs = vec![first];
        while inputs.len() < MAX_BATCH_INPUTS {
            match rx.try_recv() {
                Ok(i) => inputs.push(i),
                Err(_) => break,
            }
        }
        for input in inputs {
            match input {
                FibInput::Routes(list) => {
                    for (prefix, want) in list {
                        ops.extend(sync.set(prefix, want));
                    }
                }
                FibInput::Settle => {
                    if !sync.is_settled() {
                        let stale = sync.settle();
                        tracing::info!(
                            "kernel: restart settled; deleting {} adopted routes nothing wants",
                            stale.len()
                        );
                        ops.extend(stale);
                    }
                }
                FibInput::LocalAddresses(addresses) => {
                    ops.extend(sync.set_local_addresses(addresses));
                }
            }
        }
        if ops.is_empty() {
            continue;
        }
        let n = ops.len();
        if tracing::enabled!(tracing::Level::DEBUG) {
            for op in &ops {
                match op {
                    Op::Replace(r) => {
                        tracing::debug!("kernel: replace {} {:?}", r.prefix, r.action)
                    }
                    Op::Delete(r) => tracing::debug!("kernel: delete {}", r.prefix),
                }
            }
        }
        let result = fib.apply(ops).await;
        for (op, e) in result.failed.iter().take(10) {
            tracing::warn!("kernel: {op:?} failed: {e}");
        }
        if result.failed.len() > 10 {
            tracing::warn!(
                "kernel: {} more operations failed",
                result.failed.len() - 10
            );
        }
        tracing::debug!(
            "kernel: applied {n} operations, {} failed",
            result.failed.len()
        );
        sync.applied(&result);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::fib::{Action, Applied, Error, Hop, KernelRoute, MemoryFib};

    /// A [`MemoryFib`] shared with the test so it can look inside while the task runs.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<MemoryFib>>);

    impl Fib for Shared {
        async fn dump(&mut self, table: u32) -> Result<Vec<KernelRoute>, Error> {
            let mut m = self.0.lock().unwrap().clone();
            m.dump(table).await
        }
        async fn apply(&mut self, ops: Vec<Op>) -> Applied {
            let mut m = self.0.lock().unwrap().clone();
            let a = m.apply(ops).await;
            *self.0.lock().unwrap() = m;
            a
        }
    }

    fn route(prefix: &str, gw: &str) -> KernelRoute {
        KernelRoute {
            prefix: prefix.parse().unwrap(),
            table: 254,
            protocol: 12,
            metric: 0,
            action: Action::Unicast(vec![Hop {
                gateway: Some(gw.parse().unwrap()),
                device: None,
                onlink: false,
            }]),
        }
    }

    fn settings() -> Settings {
        Settings {
            table: 254,
            protocol: 12,
            metric: 0,
            tunnels: vec![],
        }
    }

    async fn until(
        fib: &Shared,
        what: &str,
        f: impl Fn(&HashMap<(u32, IpNet), KernelRoute>) -> bool,
    ) {
        tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if f(&fib.0.lock().unwrap().routes) {
                    return;
                }
                tokio::task::yield_now().await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
    }

    #[tokio::test]
    async fn the_task_keeps_adopted_routes_until_settle_and_installs_wanted_ones() {
        let fib = Shared::default();
        let old = route("203.0.113.0/26", "198.18.0.2");
        let kept = route("203.0.113.64/26", "198.18.0.3");
        for r in [&old, &kept] {
            fib.0
                .lock()
                .unwrap()
                .routes
                .insert((254, r.prefix), r.clone());
        }
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(fib.clone(), settings(), Duration::from_secs(3600), rx));
        let want = |gw: &str| Want {
            next_hops: vec![gw.parse().unwrap()],
            blackhole: false,
        };
        tx.send(FibInput::Routes(vec![
            (kept.prefix, want("198.18.0.3")),
            ("198.51.100.0/24".parse().unwrap(), want("198.18.0.2")),
        ]))
        .unwrap();
        until(&fib, "the new route", |r| r.len() == 3).await;
        assert!(
            !fib.0
                .lock()
                .unwrap()
                .log
                .iter()
                .any(|op| matches!(op, Op::Replace(r) if r.prefix == kept.prefix)),
            "an adopted route equal to the wanted one is not touched"
        );
        tx.send(FibInput::Settle).unwrap();
        until(&fib, "the unwanted adopted route to go", |r| {
            !r.contains_key(&(254, old.prefix))
        })
        .await;
        assert!(fib
            .0
            .lock()
            .unwrap()
            .routes
            .contains_key(&(254, kept.prefix)));
    }

    #[tokio::test(start_paused = true)]
    async fn the_restart_wait_settles_when_no_end_of_rib_comes() {
        let fib = Shared::default();
        let old = route("203.0.113.0/26", "198.18.0.2");
        fib.0
            .lock()
            .unwrap()
            .routes
            .insert((254, old.prefix), old.clone());
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(fib.clone(), settings(), Duration::from_secs(240), rx));
        tokio::time::sleep(Duration::from_secs(239)).await;
        assert_eq!(
            fib.0.lock().unwrap().routes.len(),
            1,
            "kept during the wait"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        until(&fib, "the sweep", |r| r.is_empty()).await;
        drop(tx);
    }
}
