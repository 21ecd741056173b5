//! The `wren` binary: command-line entry point. Everything testable lives in the library.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use thin_vec::thin_vec;
use wren::control::client::View;
use wren::wire::{self, AsPath, Community, Ctx, Message, Nlri, Origin, PathAttributes, Update};

/// wren — a BGP speaker and route reflector for Calico.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Encode and decode the BGP UPDATE a Calico node sends for its block (the first part of
    /// `make demo`; the second part is the namespace lab in `proto-tests/demo_lab.rs`).
    Demo,
    /// Validate a configuration file and print a summary of it. Exits 0 when valid, 2 when the
    /// file is invalid (TOML error or broken rule), 1 when it cannot be read. Without --config,
    /// checks the embedded default (config/wren.toml).
    Check {
        /// The TOML configuration file to check.
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Run the daemon: hold BGP sessions with every configured peer until SIGINT or SIGTERM.
    /// Exits 1 when the file cannot be read or the daemon cannot start, 2 when it is invalid.
    /// Logs go to stderr; RUST_LOG sets the level (default info).
    Run {
        /// The TOML configuration file.
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
        /// wren is restarting (BIRD's `-R`): set the Restart State bit in the Graceful Restart
        /// capability (RFC 4724 §3) so peers keep our routes until our End-of-RIB.
        #[arg(long, short = 'R')]
        graceful_restart: bool,
    },
    /// Ask the running daemon, through its control socket, for its protocols, routes or one
    /// peer. Exits 0 on success, 1 when the socket cannot be reached or the daemon answers
    /// with an error (e.g. no such peer), 2 on a usage error. Needs no root, only permission
    /// to connect to the socket (mode 0660).
    Show {
        #[command(subcommand)]
        what: ShowWhat,
    },
    /// Show the daemon's status: version, router id, uptime, graceful restart, sessions.
    /// Exit codes as for `show`.
    Status {
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// What `wren show` shows.
#[derive(Subcommand)]
enum ShowWhat {
    /// Every protocol (BGP peers, static, kernel, device, direct) with its state.
    Protocols {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Routes with every path, the best marked `*` and why each other path lost. With PREFIX
    /// (an address or a prefix), only the longest prefix covering it.
    Route {
        /// An address or prefix, e.g. 10.0.0.1 or 192.168.1.0/26.
        prefix: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// One peer (protocol) by name: capabilities, timers, counters, last error.
    Peer {
        /// The protocol name, e.g. Mesh_10_192_0_3.
        name: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// Options of the control-socket client commands.
#[derive(Args)]
struct ClientArgs {
    /// Print the daemon's JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// The control socket (Calico mode: /var/run/calico/bird.ctl).
    #[arg(long, value_name = "PATH", default_value = wren::control::DEFAULT_SOCKET)]
    socket: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo => demo(),
        Command::Check { config } => check(config),
        Command::Run {
            config,
            graceful_restart,
        } => run(config, graceful_restart),
        Command::Show { what } => match what {
            ShowWhat::Protocols { client } => control(&client, &View::Protocols),
            ShowWhat::Route { prefix, client } => control(&client, &View::Route(prefix)),
            ShowWhat::Peer { name, client } => control(&client, &View::Peer(name)),
        },
        Command::Status { client } => control(&client, &View::Status),
    }
}

/// `wren show …` / `wren status`: 0 ok, 1 socket unreachable or error reply.
fn control(args: &ClientArgs, view: &View) -> ExitCode {
    match wren::control::client::run(&args.socket, view, args.json) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("wren: {e}");
            ExitCode::from(1)
        }
    }
}

/// `wren run`: load the configuration (failing as `wren check` does), then run the sessions.
fn run(path: PathBuf, restarting: bool) -> ExitCode {
    let mut config = match wren::config::Config::load(&path) {
        Ok(c) => c,
        Err(e @ wren::config::Error::Read { .. }) => {
            eprintln!("wren run: {e}");
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("wren run: {e}");
            return ExitCode::from(2);
        }
    };
    config.restarting = restarting;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    // RUST_LOG wins; otherwise the configured level, which Calico mode may change at run time
    // (BGPConfiguration logSeverityScreen) through the reload handle.
    let from_env = std::env::var_os("RUST_LOG").is_some();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.global.log_level));
    let (filter, handle) = tracing_subscriber::reload::Layer::new(filter);
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .init();
    let set_level: Option<wren::session::SetLogLevel> = (!from_env).then(|| {
        let f: wren::session::SetLogLevel = std::sync::Arc::new(move |level: &str| {
            let _ = handle.modify(|f| *f = tracing_subscriber::EnvFilter::new(level));
        });
        f
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("wren run: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(wren::session::run_with_log(config, set_level));
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("wren run: {e}");
            ExitCode::from(1)
        }
    }
}

/// `wren check`: 0 valid, 1 unreadable, 2 invalid; the error (naming file, key and problem) on
/// stderr.
fn check(path: Option<PathBuf>) -> ExitCode {
    let loaded = match &path {
        Some(p) => wren::config::Config::load(p),
        None => wren::config::Config::embedded_default(),
    };
    match loaded {
        Ok(c) => {
            print!("{}", c.summary());
            ExitCode::SUCCESS
        }
        Err(e @ wren::config::Error::Read { .. }) => {
            eprintln!("wren check: {e}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("wren check: {e}");
            ExitCode::from(2)
        }
    }
}

fn demo() -> ExitCode {
    println!(
        "wren {} — BGP for Calico, replacing BIRD and confd\n",
        env!("CARGO_PKG_VERSION")
    );
    println!("What works today: the BGP-4 wire codec (RFC 4271, 4760, 6793, 7606, 7911, 8654).");
    println!(
        "Here is the UPDATE a Calico node sends to announce its IPAM block 198.51.100.0/26:\n"
    );

    let update = Update {
        attrs: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::from_sequence([64512])),
            next_hop: Some(Ipv4Addr::new(198, 18, 0, 1)),
            communities: thin_vec![Community::new(64512, 100)],
            ..PathAttributes::default()
        },
        nlri: vec![Nlri::new("198.51.100.0/26".parse().unwrap_or_default())],
        ..Update::default()
    };
    let ctx = Ctx::default();
    let bytes = match wire::encode_to_vec(&Message::Update(update), &ctx) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("encode failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    for line in bytes.chunks(16) {
        let hex: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
        println!("    {}", hex.join(" "));
    }
    match wire::decode(&bytes, &ctx) {
        Ok(d) => {
            if let Message::Update(u) = d.message {
                for (family, n, nh) in u.announcements() {
                    let nh = nh.map(|h| h.addr().to_string()).unwrap_or_default();
                    let path = u
                        .attrs
                        .as_path
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    let comms: Vec<String> = u
                        .attrs
                        .communities
                        .iter()
                        .map(ToString::to_string)
                        .collect();
                    println!(
                        "\n{} octets decode back to: {} {} via {} as-path [{}] communities [{}]",
                        bytes.len(),
                        family,
                        n.prefix,
                        nh,
                        path,
                        comms.join(" ")
                    );
                }
            }
        }
        Err(e) => {
            eprintln!("decode failed: {e}");
            return ExitCode::FAILURE;
        }
    }
    println!(
        "\nNext, `make demo` starts two wren speakers and a GoBGP \"ToR router\" in network\n\
         namespaces and shows the sessions that come up and the routes each side learns."
    );
    ExitCode::SUCCESS
}
