//! # wren — a BGP speaker and route reflector for Calico
//!
//! wren replaces BIRD and confd inside Calico: it holds BGP-4 sessions with the other nodes, route
//! reflectors and border routers, picks best paths, and programs the kernel the way Calico expects.
//!
//! ## Where everything lives (read in this order)
//!
//! The protocol core is **pure and synchronous**: no tokio, no sockets, no clock. Adapters around it do
//! the I/O and talk to the core by messages. `docs/architecture.md` draws the tasks and data flow.
//!
//! | module      | level   | owns                                                                  |
//! |-------------|---------|-----------------------------------------------------------------------|
//! | [`wire`]    | core    | the BGP-4 codec: messages, attributes, RFC 7606 error actions          |
//! | [`fsm`]     | core    | the RFC 4271 §8 session state machine (sans-IO), collisions (§6.8)     |
//! | [`rib`]     | core    | Adj-RIB-In, Loc-RIB, update groups, best path, reflection, GR stale    |
//! | [`policy`]  | core    | Calico's export and kernel filters as data: what leaves, what is programmed |
//! | [`calico`]  | core    | Calico's resources, selectors, and confd's derivation for one node   |
//! | [`config`]  | adapter | the static TOML file: format, defaults, validation; only `load` reads  |
//! | [`sockopt`] | adapter | TCP-MD5 and GTSM socket options: the one module allowed `unsafe`     |
//! | [`session`] | adapter | tokio TCP sessions driving `fsm`; the listener; the RIB task; `run`    |
//! | [`fib`]     | adapter | kernel routes over netlink behind the `Fib` trait; pure sync + reconcile |
//! | [`datastore`] | adapter | etcd v3 list-then-watch with resync on reconnect, TLS           |
//! | [`control`] | adapter | BIRD-compatible control socket and the `wren` CLI                    |
//! | [`metrics`] | adapter | Prometheus exposition over a small HTTP endpoint                     |
//!
//! ## Dependency rules
//!
//! * `wire` imports nothing internal.
//! * `fsm` imports only `wire`; `policy` imports `wire`; `rib` imports `wire` and `policy`; `calico`
//!   builds `config` and `policy` values and does no I/O.
//! * Adapters may import the core; the core never imports an adapter, tokio, or `std::net` sockets.
//! * One task owns the routing state; others talk to it by messages.

pub mod calico;
pub mod config;
pub mod control;
pub mod datastore;
pub mod fib;
pub mod fsm;
pub mod metrics;
pub mod policy;
pub mod rib;
pub mod session;
pub mod sockopt;
pub mod wire;
