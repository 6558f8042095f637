//! Entry point: parse configuration once, log to stderr, serve MCP on stdio or HTTP (or run
//! the standalone sandbox or webhook receiver). The only place `anyhow` is used.

use std::{process::ExitCode, time::Duration};

use anyhow::Context as _;
use rmcp::ServiceExt as _;
use tracing_subscriber::{filter::Targets, prelude::*};
use whop_chat_mcp::{
    config::{self, Command, Config, ReceiverConfig, SandboxArgs},
    gate::{self, Gate},
    sandbox::Sandbox,
    server::WhopServer,
    state::State,
    transport, webhooks, whop,
};

/// mimalloc instead of the system allocator: a call's many small, short-lived allocations
/// cost a fraction of glibc's instructions (bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = config::parse_cli();
    // One thread is plenty for an I/O-bound server and keeps start-up and memory small.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("whop-chat-mcp: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = match cli.command {
        Some(Command::Sandbox(args)) => {
            init_logging(Gate::default());
            runtime.block_on(run_sandbox(args))
        }
        Some(Command::Webhooks(args)) => {
            match ReceiverConfig::from_sources(&args, |name| std::env::var(name).ok()) {
                Ok(config) => {
                    init_logging(Gate::default());
                    runtime.block_on(run_receiver(config))
                }
                Err(e) => {
                    eprintln!("whop-chat-mcp: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        None => match Config::from_sources(&cli.serve, |name| std::env::var(name).ok()) {
            Ok(config) => {
                init_logging(Gate::new(Some(&config.whop.api_key)));
                runtime.block_on(serve(config))
            }
            Err(e) => {
                eprintln!("whop-chat-mcp: {e}");
                return ExitCode::from(2);
            }
        },
    };
    // Do not wait for the blocking stdin reader thread: it only returns at EOF.
    runtime.shutdown_timeout(Duration::from_millis(200));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("whop-chat-mcp: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr (stdout belongs to the protocol), without colour codes, through the
/// exit gate. `RUST_LOG` takes `level` and `target=level` directives, e.g.
/// `whop_chat_mcp=debug`.
fn init_logging(gate: Gate) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| {
            Targets::new()
                .with_target("whop_chat_mcp", tracing::Level::INFO)
                .with_default(tracing::Level::WARN)
        });
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(gate::Stderr(gate))
                .with_ansi(false)
                .with_filter(filter),
        )
        .init();
}

/// Serves MCP on stdio, or on HTTP with `--http`.
async fn serve(mut config: Config) -> anyhow::Result<()> {
    tracing::debug!(?config, "configuration");
    // In demo mode the sandbox lives as long as the server.
    let sandbox = if config.demo {
        let sandbox = Sandbox::start(([127, 0, 0, 1], 0).into(), config.whop.api_key.expose())
            .await
            .context("cannot start the demo sandbox")?;
        tracing::info!(base_url = %sandbox.base_url(), "demo mode: serving the built-in sandbox, no Whop account used");
        config.whop.base_url = sandbox.base_url();
        config
            .tools
            .company_id
            .get_or_insert_with(|| sandbox.company_id());
        Some(sandbox)
    } else {
        None
    };
    // Over HTTP the demo sandbox delivers webhooks to this server, signed with a secret made
    // for this run (the sandbox is the only sender), so the demo runs the whole push path.
    let demo_secret = match (&sandbox, &mut config.http) {
        (Some(_), Some(http)) => {
            let secret = format!(
                "ws_demo_{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            );
            http.webhooks = Some(
                webhooks::Verifier::from_secret(&secret)
                    .map_err(|e| anyhow::anyhow!("demo webhook secret {e}"))?,
            );
            config.tools.push = true;
            Some(secret)
        }
        _ => None,
    };
    let client = whop::Client::new(config.whop.clone())?;
    // Redis (with --state) is tried within a second; unreachable, the server serves alone.
    let state = State::connect(&config.state, &config.whop.api_key).await;
    let server = WhopServer::with_state(client, config.tools, &config.exposure, &state);
    if let Some(options) = config.http {
        let addr = options.addr;
        let listener = whop_chat_mcp::http::bind(addr)
            .await
            .with_context(|| format!("cannot serve HTTP on {addr}"))?;
        if let (Some(sandbox), Some(secret)) = (&sandbox, &demo_secret) {
            let url = format!("http://{}{}", listener.local_addr()?, webhooks::ROUTE);
            sandbox
                .deliver_webhooks(&url, secret)
                .map_err(|e| anyhow::anyhow!("cannot wire the demo sandbox's webhooks: {e}"))?;
            tracing::info!(%url, "demo mode: the sandbox delivers webhooks to this server");
        }
        whop_chat_mcp::http::serve(listener, server, options, async {
            let signal = shutdown_signal().await;
            tracing::info!(%signal, "shutting down");
        })
        .await
        .with_context(|| format!("cannot serve HTTP on {addr}"))?;
        drop(sandbox);
        return Ok(());
    }
    // Non-blocking pipes when the host gives us pipes; the guard answers broken requests.
    let (stdin, stdout) = rmcp::transport::stdio_pipes();
    let running = match server
        .over_stdio()
        .into_service()
        .serve(transport::GuardedStdio::new(stdin, stdout))
        .await
    {
        Ok(running) => running,
        Err(e) if transport::closed_before_initialize(&e) => {
            tracing::debug!("stdin closed before initialize; exiting");
            return Ok(());
        }
        Err(e) => return Err(e).context("MCP initialisation failed"),
    };
    tokio::select! {
        quit = running.waiting() => {
            let reason = quit.context("MCP session ended with an error")?;
            tracing::debug!(?reason, "session ended");
        }
        signal = shutdown_signal() => {
            tracing::info!(%signal, "shutting down");
        }
    }
    drop(sandbox);
    Ok(())
}

async fn run_sandbox(args: SandboxArgs) -> anyhow::Result<()> {
    let sandbox = Sandbox::start(args.listen, &args.api_key)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    sandbox.set_latency(std::time::Duration::from_millis(args.latency_ms));
    if let Some(url) = &args.webhook_url {
        let secret = std::env::var("WHOP_WEBHOOK_SECRET").unwrap_or_default();
        if secret.trim().is_empty() {
            anyhow::bail!(
                "--webhook-url needs WHOP_WEBHOOK_SECRET: the secret the receiver checks deliveries with"
            );
        }
        sandbox
            .deliver_webhooks(url, secret.trim())
            .map_err(|e| anyhow::anyhow!("--webhook-url {e}"))?;
    }
    // The sandbox is not an MCP server: its stdout is free for scripts to read.
    println!("WHOP_BASE_URL={}", sandbox.base_url());
    println!("WHOP_API_KEY={}", sandbox.api_key());
    println!("WHOP_COMPANY_ID={}", sandbox.company_id());
    eprintln!(
        "whop-chat-mcp sandbox: serving an in-memory Whop at {}; stop with Ctrl-C",
        sandbox.base_url()
    );
    let signal = shutdown_signal().await;
    eprintln!("whop-chat-mcp sandbox: {signal}, stopping");
    Ok(())
}

/// `whop-chat-mcp webhooks --listen ADDR`: the webhook receiver alone.
async fn run_receiver(config: ReceiverConfig) -> anyhow::Result<()> {
    let state = State::connect(&config.state, &config.api_key)
        .await
        .handle();
    webhooks::serve_standalone(config.addr, config.verifier, state, async {
        let signal = shutdown_signal().await;
        tracing::info!(%signal, "shutting down");
    })
    .await
    .with_context(|| format!("cannot listen on {}", config.addr))
}

/// Resolves on SIGINT or SIGTERM, saying which.
async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.ok();
        "Ctrl-C"
    }
}
