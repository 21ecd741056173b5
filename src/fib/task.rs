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

use std::collections::HashMap;

use super::netlink::KernelEvent;
use super::sync::{learns, LearnRule, Settings, Sync, Want};
use super::{Fib, KernelRoute, Op};

/// What the FIB task receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FibInput {
    /// The RIB's wishes for these prefixes changed.
    Routes(Vec<(IpNet, Want)>),
    /// Every peer sent End-of-RIB: the restart is over.
    Settle,
    /// The node's own addresses (with prefix lengths) are now these.
    LocalAddresses(Vec<IpNet>),
    /// The tunnel and reject rules are now these (Calico's pools changed).
    Rules {
        /// IP-in-IP rules.
        tunnels: Vec<super::sync::Tunnel>,
        /// Prefixes never programmed.
        reject: crate::policy::KernelPolicy,
    },
}

/// Most inputs merged into one batch.
const MAX_BATCH_INPUTS: usize = 1024;

/// A route learned from the kernel (Calico's `learn`), to be exported to BGP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Learned {
    /// A matching route appeared.
    Add(IpNet),
    /// The last matching route for the prefix went away.
    Remove(IpNet),
}

/// The kernel's side of the task: notifications, learn rules and where learned routes go.
#[derive(Debug, Default)]
pub struct KernelIo {
    /// Route, link and address notifications ([`super::netlink::monitor`]); `None` in tests.
    pub events: Option<mpsc::Receiver<KernelEvent>>,
    /// Which routes of other protocols to learn.
    pub learn: Vec<LearnRule>,
    /// Where learned routes go (the RIB).
    pub learned: Option<mpsc::UnboundedSender<Learned>>,
    /// Counts operations and failures (`wren_fib_operations_total`, `wren_fib_failures_total`).
    pub metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
}

/// What the task knows about the kernel besides the sync state.
struct Watch {
    protocol: u8,
    rules: Vec<LearnRule>,
    learned_tx: Option<mpsc::UnboundedSender<Learned>>,
    /// Learned prefixes with the number of matching routes (one per table or metric).
    learned: HashMap<IpNet, usize>,
    addresses: Vec<(String, IpNet)>,
}

impl Watch {
    fn route_added(&mut self, r: &KernelRoute) {
        if !learns(&self.rules, r, self.protocol) {
            return;
        }
        let n = self.learned.entry(r.prefix).or_insert(0);
        *n += 1;
        if *n == 1 {
            tracing::debug!("kernel: learned {}", r.prefix);
            if let Some(tx) = &self.learned_tx {
                let _ = tx.send(Learned::Add(r.prefix));
            }
        }
    }

    fn route_removed(&mut self, r: &KernelRoute) {
        if !learns(&self.rules, r, self.protocol) {
            return;
        }
        if let Some(n) = self.learned.get_mut(&r.prefix) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.learned.remove(&r.prefix);
                tracing::debug!("kernel: unlearned {}", r.prefix);
                if let Some(tx) = &self.learned_tx {
                    let _ = tx.send(Learned::Remove(r.prefix));
                }
            }
        }
    }

    /// Replaces the learned set with what `routes` gives (after a start or a lost event).
    fn relearn(&mut self, routes: &[KernelRoute]) {
        let old = std::mem::take(&mut self.learned);
        for r in routes {
            if learns(&self.rules, r, self.protocol) {
                *self.learned.entry(r.prefix).or_insert(0) += 1;
            }
        }
        if let Some(tx) = &self.learned_tx {
            for p in old.keys().filter(|p| !self.learned.contains_key(*p)) {
                let _ = tx.send(Learned::Remove(*p));
            }
            for p in self.learned.keys().filter(|p| !old.contains_key(*p)) {
                let _ = tx.send(Learned::Add(*p));
            }
        }
    }

    fn local_prefixes(&self) -> Vec<IpNet> {
        self.addresses.iter().map(|(_, p)| *p).collect()
    }
}

/// Runs the FIB task until the input queue closes.
pub async fn run<F: Fib>(
    mut fib: F,
    settings: Settings,
    restart_wait: Duration,
    mut rx: mpsc::UnboundedReceiver<FibInput>,
    kernel: KernelIo,
) {
    let table = settings.table;
    let protocol = settings.protocol;
    let existing = match fib.dump(table).await {
        Ok(routes) => routes,
        Err(e) => {
            tracing::error!("kernel: cannot read table {table}: {e}; adopting nothing");
            Vec::new()
        }
    };
    let mut watch = Watch {
        protocol,
        rules: kernel.learn,
        learned_tx: kernel.learned,
        learned: HashMap::new(),
        addresses: fib.addresses().await.unwrap_or_else(|e| {
            tracing::error!("kernel: cannot read interface addresses: {e}");
            Vec::new()
        }),
    };
    watch.relearn(&existing);
    let mut events = kernel.events;
    let metrics = kernel.metrics;
    let mut sync = Sync::new(settings, existing);
    let mut ops = sync.set_local_addresses(watch.local_prefixes());
    tracing::info!(
        "kernel: adopted {} routes of protocol {protocol} in table {table}; unwanted ones are \
         deleted after every peer's End-of-RIB or {} s; {} routes learned",
        sync.adopted(),
        restart_wait.as_secs(),
        watch.learned.len()
    );
    let deadline = tokio::time::sleep(restart_wait);
    tokio::pin!(deadline);
    loop {
        if !ops.is_empty() {
            apply(
                &mut fib,
                &mut sync,
                std::mem::take(&mut ops),
                metrics.as_deref(),
            )
            .await;
        }
        let first = tokio::select! {
            input = rx.recv() => match input {
                Some(i) => i,
                None => return,
            },
            _ = &mut deadline, if !sync.is_settled() => FibInput::Settle,
            event = next_event(&mut events) => {
                match event {
                    Some(e) => ops.extend(on_event(&mut fib, &mut sync, &mut watch, e).await),
                    None => events = None,
                }
                continue;
            }
        };
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
                FibInput::Rules { tunnels, reject } => {
                    let changed = sync.set_rules(tunnels, reject);
                    tracing::info!("kernel: rules changed; {} routes to change", changed.len());
                    ops.extend(changed);
                }
            }
        }
    }
}

/// The next kernel event, or never when there is no event stream.
async fn next_event(events: &mut Option<mpsc::Receiver<KernelEvent>>) -> Option<KernelEvent> {
    match events {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn on_event<F: Fib>(
    fib: &mut F,
    sync: &mut Sync,
    watch: &mut Watch,
    event: KernelEvent,
) -> Vec<Op> {
    match event {
        KernelEvent::RouteAdded(r) => {
            watch.route_added(&r);
            Vec::new()
        }
        KernelEvent::RouteRemoved(r) => {
            watch.route_removed(&r);
            let ops = sync.kernel_removed(&r);
            if !ops.is_empty() {
                tracing::info!(
                    "kernel: our route to {} was removed; installing it again",
                    r.prefix
                );
            }
            ops
        }
        KernelEvent::AddressAdded { name, prefix } => {
            watch.addresses.push((name, prefix));
            sync.set_local_addresses(watch.local_prefixes())
        }
        KernelEvent::AddressRemoved { name, prefix } => {
            watch
                .addresses
                .retain(|(n, p)| !(*n == name && *p == prefix));
            sync.set_local_addresses(watch.local_prefixes())
        }
        KernelEvent::LinkUp { name, .. } => {
            tracing::debug!("kernel: link {name} up");
            Vec::new()
        }
        KernelEvent::LinkDown { name, .. } => {
            tracing::debug!("kernel: link {name} down");
            Vec::new()
        }
        KernelEvent::Overrun => {
            tracing::warn!("kernel: notifications were lost; reading the table again");
            if let Ok(routes) = fib.dump(sync.table()).await {
                watch.relearn(&routes);
            }
            if let Ok(a) = fib.addresses().await {
                watch.addresses = a;
            }
            sync.set_local_addresses(watch.local_prefixes())
        }
    }
}

async fn apply<F: Fib>(
    fib: &mut F,
    sync: &mut Sync,
    ops: Vec<Op>,
    metrics: Option<&crate::metrics::Metrics>,
) {
    use crate::metrics::FibOp;
    let n = ops.len();
    let kind = |op: &Op| match op {
        Op::Add(_) => FibOp::Add,
        Op::Replace(_) => FibOp::Replace,
        Op::Delete(_) => FibOp::Delete,
    };
    let mut attempted = [0u64; 3];
    for op in &ops {
        if let Some(a) = attempted.get_mut(kind(op) as usize) {
            *a += 1;
        }
    }
    if tracing::enabled!(tracing::Level::DEBUG) {
        for op in &ops {
            match op {
                Op::Replace(r) => tracing::debug!("kernel: replace {} {:?}", r.prefix, r.action),
                Op::Add(r) => tracing::debug!("kernel: add {} {:?}", r.prefix, r.action),
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
    if let Some(m) = metrics {
        let mut failed = [0u64; 3];
        for (op, _) in &result.failed {
            if let Some(f) = failed.get_mut(kind(op) as usize) {
                *f += 1;
            }
        }
        for op in [FibOp::Add, FibOp::Replace, FibOp::Delete] {
            let i = op as usize;
            let a = attempted.get(i).copied().unwrap_or(0);
            let f = failed.get(i).copied().unwrap_or(0);
            if a > 0 {
                m.add_fib(op, a, f);
            }
        }
    }
    sync.applied(&result);
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
        async fn addresses(&mut self) -> Result<Vec<(String, IpNet)>, Error> {
            Ok(self.0.lock().unwrap().addresses.clone())
        }
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
            reject: Default::default(),
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
        tokio::spawn(run(
            fib.clone(),
            settings(),
            Duration::from_secs(3600),
            rx,
            KernelIo::default(),
        ));
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
        tokio::spawn(run(
            fib.clone(),
            settings(),
            Duration::from_secs(240),
            rx,
            KernelIo::default(),
        ));
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
