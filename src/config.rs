//! Start-up configuration: parsed once, at the edge, from flags and environment variables,
//! into one validated tree ([`Config`]) whose parts go straight to their owners: the Whop
//! client's options, the tools' settings, the exposure, the HTTP transport's options.
//!
//! Nothing below `main` reads the process environment. [`Config::from_sources`] takes the
//! command line and a lookup closure, so tests can build any configuration without `set_var`.
//! Every refusal is one [`ConfigError`] line that names the setting as the user wrote it: the
//! flag (`--base-url`) when it came from a flag, the variable (`WHOP_BASE_URL`) otherwise.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use url::Url;

use crate::{
    exposure::Exposure,
    http::HttpOptions,
    net,
    oauth::OAuthOptions,
    poll::{DEFAULT_POLL_SECONDS, DEFAULT_SAFETY_POLL_SECONDS},
    state::{MAX_RATE_LIMIT, StateOptions, StateUrl},
    tools::Settings,
    webhooks::Verifier,
    whop::{ClientOptions, DEFAULT_API_VERSION, DEFAULT_BASE_URL, RetryPolicy, Secret},
};

/// Command-line interface. Every flag also has an environment variable (named in its help);
/// the flag wins when both are given. Parse it with [`parse_cli`], which also writes the
/// defaults into the help from the constants the code uses.
#[derive(Debug, Parser)]
#[command(
    name = "whop-chat-mcp",
    version,
    about = "MCP server that lets AI agents read and post Whop chat (stdio).",
    long_about = "MCP server that lets AI agents read and post Whop chat.\n\n\
        An MCP host starts it and talks JSON-RPC on stdin/stdout; logs go to stderr.\n\
        The Whop API key is read only from the WHOP_API_KEY environment variable.",
    after_help = "Environment: WHOP_API_KEY (required unless --demo), WHOP_BASE_URL, WHOP_API_VERSION, \
        WHOP_COMPANY_ID, WHOP_UPLOAD_ROOTS, WHOP_READ_ONLY, WHOP_SEND_CHANNELS, WHOP_TOOLS, WHOP_TOOLSETS, WHOP_POLL_SECONDS, \
        WHOP_SAFETY_POLL_SECONDS, WHOP_MCP_HTTP_ADDR, WHOP_MCP_HTTP_TOKEN (HTTP bearer token), WHOP_MCP_ALLOWED_HOSTS, \
        WHOP_MCP_ALLOWED_ORIGINS, WHOP_MCP_OAUTH_ISSUER, WHOP_MCP_OAUTH_JWKS_URL, WHOP_MCP_PUBLIC_URL, WHOP_WEBHOOK_SECRET (with --http: receive Whop webhooks at /webhooks/whop; \
        environment only, as a flag would show the secret in process lists and shell history), \
        WHOP_MCP_STATE_URL, WHOP_RATE_LIMIT, RUST_LOG (stderr log filter, e.g. whop_chat_mcp=debug)."
)]
pub struct Cli {
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Parses the process's command line (exits with clap's message on a malformed one).
pub fn parse_cli() -> Cli {
    let defaults = [
        (
            "base_url",
            format!("Whop API base URL [env: WHOP_BASE_URL] [default: {DEFAULT_BASE_URL}]"),
        ),
        (
            "api_version",
            format!(
                "Api-Version-Date sent on every request [env: WHOP_API_VERSION] [default: {DEFAULT_API_VERSION}]"
            ),
        ),
        (
            "poll_seconds",
            format!(
                "Seconds between polls while waiting for new messages ({}–{}) [env: WHOP_POLL_SECONDS] [default: {DEFAULT_POLL_SECONDS}]",
                POLL_SECONDS.start(),
                POLL_SECONDS.end()
            ),
        ),
        (
            "safety_poll_seconds",
            format!(
                "Seconds between safety-net polls when webhooks announce new messages ({}–{}) [env: WHOP_SAFETY_POLL_SECONDS] [default: {DEFAULT_SAFETY_POLL_SECONDS}]",
                SAFETY_POLL_SECONDS.start(),
                SAFETY_POLL_SECONDS.end()
            ),
        ),
        (
            "state",
            "Redis or Valkey shared by replicas of one deployment: redis://[:PASSWORD@]HOST[:PORT][/DB], \
             rediss://… (TLS) or unix:///PATH; shares wake-ups, webhook delivery ids, poll leases and the \
             rate budget [env: WHOP_MCP_STATE_URL] [default: none, all state in this process]"
                .to_owned(),
        ),
        (
            "rate_limit",
            format!(
                "Whop requests per second for every replica using this API key together (in this \
                 process alone without --state), above 0 and at most {MAX_RATE_LIMIT}; the burst is \
                 one second's worth [env: WHOP_RATE_LIMIT] [default: none, only Whop's 429s slow us down]"
            ),
        ),
    ];
    let command = defaults.into_iter().fold(Cli::command(), |c, (arg, help)| {
        c.mut_arg(arg, |a| a.help(help))
    });
    let matches = command.get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the built-in Whop sandbox (an in-memory fake of the Whop REST v1 chat API) over
    /// HTTP, so any client can be pointed at it with WHOP_BASE_URL.
    Sandbox(SandboxArgs),
    /// Receive Whop webhooks alone (POST /webhooks/whop, GET /healthz), for a small public
    /// ingress when the MCP servers are not reachable from Whop. Needs WHOP_WEBHOOK_SECRET
    /// (environment only: a flag would show it in process lists), no Whop API key.
    Webhooks(WebhooksArgs),
}

#[derive(Debug, Args)]
pub struct WebhooksArgs {
    /// Address to listen on, e.g. 0.0.0.0:8788 (deliveries are authenticated by their
    /// signature, so any address is allowed)
    #[arg(long, value_name = "ADDR")]
    pub listen: String,
    /// The Redis or Valkey the MCP replicas share (`--state` there): deliveries wake their
    /// waits through it [env: WHOP_MCP_STATE_URL]
    #[arg(long, value_name = "URL")]
    pub state: Option<String>,
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on (use port 0 for any free port).
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// API key the sandbox accepts for the demo company.
    #[arg(long, default_value = crate::sandbox::DEMO_API_KEY)]
    pub api_key: String,
    /// Milliseconds added before every API answer, like a Whop a network round trip away
    #[arg(long, value_name = "MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub latency_ms: u64,
    /// Deliver signed chat.message.created webhooks here for every message created, e.g.
    /// http://127.0.0.1:8788/webhooks/whop (the secret is WHOP_WEBHOOK_SECRET)
    #[arg(long, value_name = "URL")]
    pub webhook_url: Option<String>,
}

/// The flags of the server itself. Values are taken as text and checked by
/// [`Config::from_sources`], so a bad flag and a bad variable get the same one-line answer.
#[derive(Debug, Default, Args)]
pub struct ServeArgs {
    /// Serve against the built-in sandbox seeded with demo data; needs no Whop account or key.
    #[arg(long)]
    pub demo: bool,
    /// Whop API base URL (help written by parse_cli)
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Api-Version-Date (help written by parse_cli)
    #[arg(long, value_name = "DATE")]
    pub api_version: Option<String>,
    /// Default company (biz_…) for tools whose company_id is optional [env: WHOP_COMPANY_ID]
    #[arg(long, value_name = "BIZ_ID")]
    pub company_id: Option<String>,
    /// Folder upload_file may read local files from; repeat for several
    /// [env: WHOP_UPLOAD_ROOTS, separated by the PATH separator: ':' (';' on Windows)]
    /// (several folders may follow one flag, as MCP bundle hosts pass a multi-folder choice)
    #[arg(long = "upload-root", value_name = "DIR", num_args = 0..)]
    pub upload_roots: Vec<PathBuf>,
    /// Register no tool that changes anything in Whop [env: WHOP_READ_ONLY=1]
    #[arg(long)]
    pub read_only: bool,
    /// Channels send_message may post to (channel or experience ids); all others are refused
    /// [env: WHOP_SEND_CHANNELS, comma-separated]
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    pub send_channels: Vec<String>,
    /// Expose only these tools (default: all of the chosen toolsets; alone, chooses from every
    /// tool) [env: WHOP_TOOLS, comma-separated]
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub tools: Vec<String>,
    /// Toolsets to expose: chat, files, support, dms, people, moderation, search, or all
    /// (default: chat,support,files) [env: WHOP_TOOLSETS, comma-separated]
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub toolsets: Vec<String>,
    /// Seconds between polls (help written by parse_cli)
    #[arg(long, value_name = "SECONDS")]
    pub poll_seconds: Option<String>,
    /// Seconds between safety-net polls (help written by parse_cli)
    #[arg(long, value_name = "SECONDS")]
    pub safety_poll_seconds: Option<String>,
    /// Serve Streamable HTTP at http://ADDR/mcp instead of stdio, e.g. 127.0.0.1:8080
    /// [env: WHOP_MCP_HTTP_ADDR]. Clients must send WHOP_MCP_HTTP_TOKEN when it is set; without
    /// it only loopback addresses are allowed.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
    /// Extra Host names the HTTP server answers to, e.g. mcp.example.com
    /// [env: WHOP_MCP_ALLOWED_HOSTS, comma-separated]
    #[arg(long = "allowed-host", value_name = "HOST", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
    /// Browser origins allowed to call the HTTP server (enables CORS for them), e.g.
    /// https://app.example.com [env: WHOP_MCP_ALLOWED_ORIGINS, comma-separated]
    #[arg(long = "allowed-origin", value_name = "ORIGIN", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// Require OAuth access tokens over HTTP, issued by this authorization server (its issuer
    /// URL, exactly as its tokens' iss writes it); needs --public-url
    /// [env: WHOP_MCP_OAUTH_ISSUER]
    #[arg(long, value_name = "URL")]
    pub oauth_issuer: Option<String>,
    /// The authorization server's JWKS (default: found through its metadata)
    /// [env: WHOP_MCP_OAUTH_JWKS_URL]
    #[arg(long, value_name = "URL")]
    pub oauth_jwks_url: Option<String>,
    /// This server's public MCP endpoint, e.g. https://mcp.example.com/mcp: the OAuth resource
    /// tokens must name as their audience [env: WHOP_MCP_PUBLIC_URL]
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Shared state URL (help written by parse_cli)
    #[arg(long, value_name = "URL")]
    pub state: Option<String>,
    /// Whop requests per second (help written by parse_cli)
    #[arg(long, value_name = "PER_SECOND")]
    pub rate_limit: Option<String>,
}

/// Allowed values of `WHOP_POLL_SECONDS`.
const POLL_SECONDS: std::ops::RangeInclusive<u64> = 1..=60;
/// Allowed values of `WHOP_SAFETY_POLL_SECONDS`.
const SAFETY_POLL_SECONDS: std::ops::RangeInclusive<u64> = 5..=3600;

/// Everything the server needs, validated; each part goes to its owner as it is.
#[derive(Debug, Clone)]
pub struct Config {
    /// Serve against the built-in sandbox: `whop` then points at it once it has started.
    pub demo: bool,
    /// The Whop client's options (in demo mode, the sandbox's key; its URL is set at start).
    pub whop: ClientOptions,
    /// What the tools read.
    pub tools: Settings,
    /// Which tools are exposed.
    pub exposure: Exposure,
    /// Serve Streamable HTTP instead of stdio.
    pub http: Option<HttpOptions>,
    /// Where state shared with other replicas lives.
    pub state: StateOptions,
}

/// `whop-chat-mcp webhooks`: the standalone receiver's settings, validated.
#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    pub addr: SocketAddr,
    pub verifier: Verifier,
    pub state: StateOptions,
    /// Names the shared state's keys (by fingerprint); never sent anywhere.
    pub api_key: Secret,
}

impl ReceiverConfig {
    pub fn from_sources(
        args: &WebhooksArgs,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let serve = ServeArgs {
            state: args.state.clone(),
            ..ServeArgs::default()
        };
        let src = Sources { args: &serve, env };
        let Ok(addr) = args.listen.trim().parse::<SocketAddr>() else {
            return err(format!(
                "--listen must be an address like 0.0.0.0:8788, got {:?}",
                args.listen
            ));
        };
        let Some(verifier) = webhook_verifier(&src)? else {
            return err(
                "WHOP_WEBHOOK_SECRET is not set: export the secret Whop returned when you created the webhook \
                 (POST /webhooks) in WHOP_WEBHOOK_SECRET; the receiver refuses every delivery without it",
            );
        };
        let state = state_options(&src)?;
        // The replicas' shared keys are named after the API key's fingerprint, so the receiver
        // needs the same key to find them. It never calls Whop with it.
        let api_key = match (src.env("WHOP_API_KEY"), &state.url) {
            (Some(key), _) => Secret::new(&key),
            (None, None) => Secret::new(""),
            (None, Some(_)) => {
                return err(
                    "WHOP_API_KEY is not set: with --state the receiver needs the replicas' API key to find \
                     their shared state (only a SHA-256 fingerprint of it is used; the receiver never calls Whop)",
                );
            }
        };
        Ok(ReceiverConfig {
            addr,
            verifier,
            state,
            api_key,
        })
    }
}

/// A configuration problem: printed as one line on stderr before the process exits 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn err<T>(message: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(message.into()))
}

/// A value the user gave, and the name they gave it under.
struct Given {
    value: String,
    name: &'static str,
}

/// Where settings come from: the flags first, then the environment (trimmed; empty = unset).
struct Sources<'a, E> {
    args: &'a ServeArgs,
    env: E,
}

impl<E: Fn(&str) -> Option<String>> Sources<'_, E> {
    fn env(&self, name: &str) -> Option<String> {
        (self.env)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty() && filled_in(name, v))
    }

    /// The flag's value if set, else the variable's.
    fn pick(
        &self,
        flag: &Option<String>,
        flag_name: &'static str,
        var: &'static str,
    ) -> Option<Given> {
        match flag.as_ref().filter(|v| filled_in(flag_name, v)) {
            Some(v) => Some(Given {
                value: v.trim().to_owned(),
                name: flag_name,
            }),
            None => self.env(var).map(|value| Given { value, name: var }),
        }
    }

    /// A comma-separated list from a repeatable flag or the environment, items trimmed,
    /// empty ones dropped; `None` when neither gives one.
    fn list(
        &self,
        flag: &[String],
        flag_name: &'static str,
        var: &'static str,
    ) -> Option<(Vec<String>, &'static str)> {
        let flag: Vec<String> = flag
            .iter()
            .filter(|v| filled_in(flag_name, v))
            .cloned()
            .collect();
        let (raw, name): (Vec<String>, _) = if flag.is_empty() {
            (self.env(var)?.split(',').map(str::to_owned).collect(), var)
        } else {
            (flag, flag_name)
        };
        let items = raw
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        Some((items, name))
    }

    /// A list of ids or names (no spaces, slashes or control characters).
    fn id_list(
        &self,
        flag: &[String],
        flag_name: &'static str,
        var: &'static str,
    ) -> Result<Option<Vec<String>>, ConfigError> {
        let Some((items, name)) = self.list(flag, flag_name, var) else {
            return Ok(None);
        };
        if items.is_empty() {
            return err(format!("{name} is set but lists nothing"));
        }
        if let Some(bad) = items.iter().find(|s| {
            s.chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '/')
        }) {
            return err(format!(
                "{name} contains {bad:?}, which is not an id or a name"
            ));
        }
        Ok(Some(items))
    }

    fn switch(&self, flag: bool, var: &'static str) -> Result<bool, ConfigError> {
        if flag {
            return Ok(true);
        }
        match self.env(var).map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("0" | "false" | "no" | "off") => Ok(false),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some(other) => err(format!("{var} must be 1 or 0 (true/false), got {other:?}")),
        }
    }
}

impl Config {
    /// Builds the configuration from parsed flags and an environment lookup.
    pub fn from_sources(
        args: &ServeArgs,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let src = Sources { args, env };
        let demo = args.demo;

        let api_key = match src.env("WHOP_API_KEY") {
            _ if demo => Secret::new(crate::sandbox::DEMO_API_KEY),
            Some(raw) => parse_api_key(&raw)?,
            None => {
                return err(
                    "WHOP_API_KEY is not set: export your Whop API key (Dashboard → Developer → API keys) \
                     in WHOP_API_KEY, or run with --demo to try the built-in sandbox",
                );
            }
        };
        let base_url = match src.pick(&args.base_url, "--base-url", "WHOP_BASE_URL") {
            Some(given) => parse_base_url(&given)?,
            None => Url::parse(DEFAULT_BASE_URL).expect("the default base URL parses"),
        };
        let api_version = match src.pick(&args.api_version, "--api-version", "WHOP_API_VERSION") {
            Some(Given { value, name }) if !is_version_date(&value) => {
                return err(format!(
                    "{name} must look like YYYY-MM-DD or YYYY-MM-DD-N (e.g. {DEFAULT_API_VERSION}), got {value:?}"
                ));
            }
            Some(given) => given.value,
            None => DEFAULT_API_VERSION.to_owned(),
        };
        let whop = ClientOptions {
            base_url: base_url.as_str().trim_end_matches('/').to_owned(),
            api_key: api_key.clone(),
            api_version,
            policy: RetryPolicy::default(),
        };

        let company_id = match src.pick(&args.company_id, "--company-id", "WHOP_COMPANY_ID") {
            Some(Given { value, name })
                if !value.starts_with("biz_")
                    || value.len() < 5
                    || value.chars().any(char::is_whitespace) =>
            {
                return err(format!(
                    "{name} must be a company id like biz_XXXXXXXXXXXXXX, got {value:?}"
                ));
            }
            given => given.map(|g| g.value),
        };
        let flag_roots: Vec<PathBuf> = args
            .upload_roots
            .iter()
            .filter(|p| filled_in("--upload-root", &p.to_string_lossy()))
            .cloned()
            .collect();
        let roots: Vec<PathBuf> = if flag_roots.is_empty() {
            src.env("WHOP_UPLOAD_ROOTS")
                .map(|list| {
                    std::env::split_paths(&list)
                        .filter(|p| !p.as_os_str().is_empty())
                        .collect()
                })
                .unwrap_or_default()
        } else {
            flag_roots
        };
        let upload_roots = roots
            .iter()
            .map(canonical_dir)
            .collect::<Result<Vec<_>, _>>()?;
        let poll_seconds = seconds(
            src.pick(&args.poll_seconds, "--poll-seconds", "WHOP_POLL_SECONDS"),
            POLL_SECONDS,
            DEFAULT_POLL_SECONDS,
        )?;
        let safety_poll_seconds = seconds(
            src.pick(
                &args.safety_poll_seconds,
                "--safety-poll-seconds",
                "WHOP_SAFETY_POLL_SECONDS",
            ),
            SAFETY_POLL_SECONDS,
            DEFAULT_SAFETY_POLL_SECONDS,
        )?;
        let http = http_options(&src)?;
        let state = state_options(&src)?;
        // Push mode: this process receives webhooks, or a deployment that receives them (the
        // secret is set) shares their wake-ups with it through --state.
        let webhooks_here = http.as_ref().is_some_and(|h| h.webhooks.is_some());
        let secret_set = src.env("WHOP_WEBHOOK_SECRET").is_some();
        let push = webhooks_here || (secret_set && state.url.is_some());
        if http.is_none() && secret_set && state.url.is_none() {
            eprintln!(
                "whop-chat-mcp: warning: WHOP_WEBHOOK_SECRET is set, but only the HTTP server (--http) and \
                 `whop-chat-mcp webhooks` receive webhooks, and without --state they cannot reach this \
                 process; over stdio new messages are found by polling"
            );
        }
        let tools = Settings {
            company_id,
            upload_roots,
            // In demo mode main points the key at the sandbox's; the gate scrubs whichever.
            api_key: Some(api_key),
            send_channels: src.id_list(
                &args.send_channels,
                "--send-channels",
                "WHOP_SEND_CHANNELS",
            )?,
            poll_interval: Duration::from_secs(poll_seconds),
            push,
            safety_poll_interval: Duration::from_secs(safety_poll_seconds),
        };

        let exposure = Exposure::new(
            src.switch(args.read_only, "WHOP_READ_ONLY")?,
            src.id_list(&args.tools, "--tools", "WHOP_TOOLS")?,
            src.id_list(&args.toolsets, "--toolsets", "WHOP_TOOLSETS")?,
        )
        .map_err(ConfigError)?;

        Ok(Config {
            demo,
            whop,
            tools,
            exposure,
            http,
            state,
        })
    }
}

/// A whole number of seconds within `range`, or `default` when not given.
fn seconds(
    given: Option<Given>,
    range: std::ops::RangeInclusive<u64>,
    default: u64,
) -> Result<u64, ConfigError> {
    let Some(Given { value, name }) = given else {
        return Ok(default);
    };
    match value.parse::<u64>() {
        Err(_) => err(format!(
            "{name} must be a whole number of seconds, got {value:?}"
        )),
        Ok(s) if !range.contains(&s) => err(format!(
            "{name} must be between {} and {}, got {s}",
            range.start(),
            range.end()
        )),
        Ok(s) => Ok(s),
    }
}

/// The webhook verifier from `WHOP_WEBHOOK_SECRET` (environment only), if set. The refusal
/// never repeats the value.
fn webhook_verifier<E: Fn(&str) -> Option<String>>(
    src: &Sources<'_, E>,
) -> Result<Option<Verifier>, ConfigError> {
    let Some(secret) = src.env("WHOP_WEBHOOK_SECRET") else {
        return Ok(None);
    };
    Verifier::from_secret(&secret).map(Some).or_else(|why| {
        err(format!(
            "WHOP_WEBHOOK_SECRET {why}: paste the webhook_secret Whop returned when the webhook was created (ws_…)"
        ))
    })
}

/// The shared state's URL (redacted in every message) and the rate budget.
fn state_options<E: Fn(&str) -> Option<String>>(
    src: &Sources<'_, E>,
) -> Result<StateOptions, ConfigError> {
    let url = match src.pick(&src.args.state, "--state", "WHOP_MCP_STATE_URL") {
        None => None,
        Some(Given { value, name }) => {
            Some(StateUrl::parse(&value).map_err(|e| ConfigError(format!("{name} {e}")))?)
        }
    };
    let rate_limit = match src.pick(&src.args.rate_limit, "--rate-limit", "WHOP_RATE_LIMIT") {
        None => None,
        Some(Given { value, name }) => match value.parse::<f64>() {
            Ok(r) if r.is_finite() && r > 0.0 && r <= MAX_RATE_LIMIT => Some(r),
            _ => {
                return err(format!(
                    "{name} must be a number of Whop requests per second above 0 and at most \
                     {MAX_RATE_LIMIT} (e.g. 10 or 2.5), got {value:?}"
                ));
            }
        },
    };
    Ok(StateOptions { url, rate_limit })
}

/// The HTTP transport's options, or `None` for stdio. Refuses an unauthenticated server
/// beyond loopback.
fn http_options<E: Fn(&str) -> Option<String>>(
    src: &Sources<'_, E>,
) -> Result<Option<HttpOptions>, ConfigError> {
    let token = match src.env("WHOP_MCP_HTTP_TOKEN") {
        Some(t) if t.len() < 16 || t.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            return err(
                "WHOP_MCP_HTTP_TOKEN must be at least 16 characters with no spaces (use a long random secret)",
            );
        }
        t => t.map(|t| Secret::new(&t)),
    };
    let oauth = oauth_options(src)?;
    if token.is_some() && oauth.is_some() {
        return err(
            "WHOP_MCP_HTTP_TOKEN and WHOP_MCP_OAUTH_ISSUER are both set: choose one way to authenticate HTTP \
             clients (the shared token for one tenant, or OAuth access tokens for many users) and unset the other",
        );
    }
    let mut allowed_hosts = src
        .id_list(
            &src.args.allowed_hosts,
            "--allowed-host",
            "WHOP_MCP_ALLOWED_HOSTS",
        )?
        .unwrap_or_default();
    // Clients reach the server by its public name (through a proxy or not).
    if let Some(host) = oauth
        .as_ref()
        .and_then(|o| Url::parse(&o.resource).ok()?.host_str().map(str::to_owned))
    {
        allowed_hosts.push(host);
    }
    let allowed_origins = origin_list(src)?;
    let Some(Given { value, name }) = src.pick(&src.args.http, "--http", "WHOP_MCP_HTTP_ADDR")
    else {
        return Ok(None);
    };
    let Ok(addr) = value.parse::<SocketAddr>() else {
        return err(format!(
            "{name} must be an address like 127.0.0.1:8080, got {value:?}"
        ));
    };
    if token.is_none() && oauth.is_none() && !addr.ip().is_loopback() {
        return err(format!(
            "refusing to serve HTTP on {addr} without authentication: set WHOP_MCP_HTTP_TOKEN to a long random \
             secret (clients then send Authorization: Bearer <token>), or WHOP_MCP_OAUTH_ISSUER and \
             WHOP_MCP_PUBLIC_URL for OAuth, or listen on 127.0.0.1"
        ));
    }
    Ok(Some(HttpOptions {
        addr,
        token,
        oauth,
        allowed_hosts,
        allowed_origins,
        webhooks: webhook_verifier(src)?,
    }))
}

/// The OAuth settings, or `None` without an issuer. The issuer and the public URL go
/// together; a JWKS URL or a public URL alone is refused (it would protect nothing).
fn oauth_options<E: Fn(&str) -> Option<String>>(
    src: &Sources<'_, E>,
) -> Result<Option<OAuthOptions>, ConfigError> {
    let args = src.args;
    let issuer = src.pick(
        &args.oauth_issuer,
        "--oauth-issuer",
        "WHOP_MCP_OAUTH_ISSUER",
    );
    let jwks = src.pick(
        &args.oauth_jwks_url,
        "--oauth-jwks-url",
        "WHOP_MCP_OAUTH_JWKS_URL",
    );
    let public = src.pick(&args.public_url, "--public-url", "WHOP_MCP_PUBLIC_URL");
    let Some(issuer) = issuer else {
        if let Some(given) = jwks.or(public) {
            return err(format!(
                "{} is set but WHOP_MCP_OAUTH_ISSUER is not: OAuth needs the authorization server's issuer \
                 (--oauth-issuer)",
                given.name
            ));
        }
        return Ok(None);
    };
    let Some(public) = public else {
        return err(format!(
            "{} needs WHOP_MCP_PUBLIC_URL (--public-url): this server's public MCP endpoint, e.g. \
             https://mcp.example.com/mcp, which tokens must name as their audience",
            issuer.name
        ));
    };
    // An issuer has no query (RFC 8414 §2), nor does a resource identifier worth sharing.
    parse_oauth_url(&issuer, false)?;
    let jwks_url = jwks.map(|g| parse_oauth_url(&g, true)).transpose()?;
    let resource = parse_oauth_url(&public, false)?;
    Ok(Some(OAuthOptions {
        // Exactly as given: tokens' iss is compared with it byte for byte.
        issuer: issuer.value,
        jwks_url,
        resource: resource.as_str().trim_end_matches('/').to_owned(),
    }))
}

/// An OAuth URL: https, or http to this machine only; no credentials or fragment.
fn parse_oauth_url(given: &Given, query_allowed: bool) -> Result<Url, ConfigError> {
    let (raw, name) = (&given.value, given.name);
    let url = Url::parse(raw)
        .ok()
        .filter(|u| u.host().is_some())
        .map_or_else(|| err(format!("{name} is not a valid URL: {raw:?}")), Ok)?;
    if !url.username().is_empty() || url.password().is_some() {
        return err(format!(
            "{name} must not contain a user name or password (user:pass@…)"
        ));
    }
    match url.scheme() {
        "https" => {}
        "http" if net::is_loopback(&url) => {}
        _ => {
            return err(format!(
                "{name} must use https (plain http is allowed only for localhost/127.0.0.1), got {raw:?}"
            ));
        }
    }
    if url.fragment().is_some() || (!query_allowed && url.query().is_some()) {
        return err(format!(
            "{name} must not contain a {}, got {raw:?}",
            if query_allowed {
                "fragment"
            } else {
                "query or fragment"
            }
        ));
    }
    Ok(url)
}

/// Browser origins such as `https://app.example.com`, as `Origin` headers write them.
fn origin_list<E: Fn(&str) -> Option<String>>(
    src: &Sources<'_, E>,
) -> Result<Vec<String>, ConfigError> {
    let Some((items, name)) = src.list(
        &src.args.allowed_origins,
        "--allowed-origin",
        "WHOP_MCP_ALLOWED_ORIGINS",
    ) else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .map(|raw| {
            let url = Url::parse(raw).ok().filter(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host().is_some()
                    && matches!(u.path(), "" | "/")
                    && u.query().is_none()
                    && u.fragment().is_none()
            });
            match url {
                Some(u) => Ok(net::origin(&u)),
                None => err(format!(
                    "{name} entries must be origins like https://app.example.com, got {raw:?}"
                )),
            }
        })
        .collect()
}

/// The bundle setting a value still names when an MCP bundle host passed it on unfilled.
///
/// Hosts replace `${user_config.NAME}` in a bundle manifest's arguments and environment with
/// the user's setting, but leave the text as it is when the setting is empty and has no default
/// (the official `@anthropic-ai/mcpb` resolver does). Such a value is a setting nobody made.
pub(crate) fn unfilled_bundle_setting(value: &str) -> Option<&str> {
    const OPEN: &str = "${user_config.";
    let start = value.find(OPEN)? + OPEN.len();
    let name = &value[start..start + value[start..].find('}')?];
    (!name.is_empty()).then_some(name)
}

/// False, after one warning line on stderr, when the value of `setting` is an unfilled bundle
/// setting: the server then starts as if it had not been given. The value itself is not
/// printed (around the placeholder it could hold anything, even a key).
fn filled_in(setting: &str, value: &str) -> bool {
    let Some(name) = unfilled_bundle_setting(value) else {
        return true;
    };
    eprintln!(
        "whop-chat-mcp: warning: ignoring {setting}: it still reads ${{user_config.{name}}}, \
         a bundle setting the host did not fill in"
    );
    false
}

fn parse_api_key(raw: &str) -> Result<Secret, ConfigError> {
    // Accept a pasted "Bearer <key>" the way Whop's own stdio adapter does.
    let key = raw.strip_prefix("Bearer ").unwrap_or(raw).trim();
    if key.is_empty() || key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return err("WHOP_API_KEY contains spaces or control characters: paste the key alone");
    }
    Ok(Secret::new(key))
}

fn parse_base_url(given: &Given) -> Result<Url, ConfigError> {
    let (raw, name) = (&given.value, given.name);
    let url = Url::parse(raw).or_else(|_| err(format!("{name} is not a valid URL: {raw:?}")))?;
    // Checked first, and the URL is not echoed: it holds a password.
    if !url.username().is_empty() || url.password().is_some() {
        return err(format!(
            "{name} must not contain a user name or password (user:pass@…): the Whop API key in \
             WHOP_API_KEY is the only credential sent"
        ));
    }
    match url.scheme() {
        "https" => {}
        // Plain HTTP would send the API key in clear text; allow it only to this machine.
        "http" if net::is_loopback(&url) => {}
        "http" => {
            return err(format!(
                "{name} must use https (plain http is allowed only for localhost/127.0.0.1), got {raw:?}"
            ));
        }
        _ => return err(format!("{name} must be an https URL, got {raw:?}")),
    }
    if url.query().is_some() || url.fragment().is_some() {
        return err(format!(
            "{name} must not contain a query or fragment, got {raw:?}"
        ));
    }
    Ok(url)
}

fn is_version_date(v: &str) -> bool {
    let b = v.as_bytes();
    let date_ok = b.len() >= 10
        && b[..10].iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    let suffix = &v[10.min(v.len())..];
    date_ok
        && (suffix.is_empty()
            || (suffix.len() >= 2
                && suffix.starts_with('-')
                && suffix[1..].bytes().all(|c| c.is_ascii_digit())))
}

fn canonical_dir(root: &PathBuf) -> Result<PathBuf, ConfigError> {
    let canon = std::fs::canonicalize(root).or_else(|e| {
        err(format!(
            "upload root {} cannot be used: {e}",
            root.display()
        ))
    })?;
    if !canon.is_dir() {
        return err(format!("upload root {} is not a directory", root.display()));
    }
    Ok(canon)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn build(args: &[&str], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut argv = vec!["whop-chat-mcp"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).expect("flags parse");
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_sources(&cli.serve, |k| env.get(k).cloned())
    }

    #[test]
    fn shared_state_and_rate_limit_are_validated_without_showing_a_password() {
        let key = ("WHOP_API_KEY", "apik_supersecret123");
        let c = build(&[], &[key]).unwrap();
        assert!(c.state.url.is_none() && c.state.rate_limit.is_none());
        let c = build(
            &["--rate-limit", "2.5"],
            &[
                key,
                ("WHOP_MCP_STATE_URL", "redis://:hunter22@cache:6380/1"),
            ],
        )
        .unwrap();
        assert_eq!(c.state.rate_limit, Some(2.5));
        assert_eq!(
            c.state.url.as_ref().unwrap().shown(),
            "redis://***@cache:6380/1"
        );
        assert!(!format!("{c:?}").contains("hunter22"));
        // The flag wins over the variable and is named in its error.
        let e = build(
            &["--state", "http://u:hunter22@cache"],
            &[key, ("WHOP_MCP_STATE_URL", "redis://cache")],
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("--state must be a redis://"), "{e}");
        assert!(!e.contains("hunter22") && e.contains("***@cache"), "{e}");
        let e = build(
            &[],
            &[key, ("WHOP_MCP_STATE_URL", "redis://:hunter22@cache:x")],
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("WHOP_MCP_STATE_URL "), "{e}");
        assert!(!e.contains("hunter22"), "{e}");
        for bad in ["0", "-1", "abc", "NaN", "inf", "10001"] {
            let e = build(&[], &[key, ("WHOP_RATE_LIMIT", bad)])
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("WHOP_RATE_LIMIT must be a number of Whop requests per second"),
                "{bad}: {e}"
            );
        }
        let e = build(&["--rate-limit", "0"], &[key])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--rate-limit "), "{e}");
    }

    #[test]
    fn missing_key_is_one_clear_line() {
        let e = build(&[], &[]).unwrap_err().to_string();
        assert!(e.contains("WHOP_API_KEY is not set"), "{e}");
        assert!(e.contains("--demo"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn defaults_apply_and_key_is_redacted_in_debug() {
        let c = build(&[], &[("WHOP_API_KEY", "apik_supersecret123")]).unwrap();
        assert_eq!(c.whop.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.whop.api_version, DEFAULT_API_VERSION);
        assert_eq!(c.whop.api_version, "2026-10-15-1");
        assert!(c.tools.upload_roots.is_empty());
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("supersecret"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
    }

    #[test]
    fn bearer_prefix_is_stripped() {
        let c = build(&[], &[("WHOP_API_KEY", "Bearer apik_abc")]).unwrap();
        assert_eq!(c.whop.api_key.expose(), "apik_abc");
    }

    #[test]
    fn demo_needs_no_key() {
        let c = build(&["--demo"], &[]).unwrap();
        assert!(c.demo);
        assert_eq!(c.whop.api_key.expose(), crate::sandbox::DEMO_API_KEY);
    }

    #[test]
    fn flags_win_over_env() {
        let c = build(
            &[
                "--company-id",
                "biz_fromflag",
                "--api-version",
                "2026-07-20",
            ],
            &[
                ("WHOP_API_KEY", "k"),
                ("WHOP_COMPANY_ID", "biz_fromenv"),
                ("WHOP_API_VERSION", "2026-10-15-1"),
            ],
        )
        .unwrap();
        assert_eq!(c.tools.company_id.as_deref(), Some("biz_fromflag"));
        assert_eq!(c.whop.api_version, "2026-07-20");
    }

    #[test]
    fn env_values_are_used() {
        let c = build(
            &[],
            &[
                ("WHOP_API_KEY", "k"),
                ("WHOP_COMPANY_ID", "biz_fromenv"),
                ("WHOP_BASE_URL", "http://127.0.0.1:9/api/v1/"),
            ],
        )
        .unwrap();
        assert_eq!(c.tools.company_id.as_deref(), Some("biz_fromenv"));
        assert_eq!(c.whop.base_url, "http://127.0.0.1:9/api/v1");
    }

    #[test]
    fn bad_values_are_refused_with_the_setting_named() {
        type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            (
                &[],
                &[("WHOP_API_KEY", "k"), ("WHOP_COMPANY_ID", "exp_123")],
                "WHOP_COMPANY_ID",
            ),
            (
                &[],
                &[("WHOP_API_KEY", "k"), ("WHOP_API_VERSION", "latest")],
                "WHOP_API_VERSION",
            ),
            (
                &[],
                &[
                    ("WHOP_API_KEY", "k"),
                    ("WHOP_BASE_URL", "http://api.example.com"),
                ],
                "https",
            ),
            (
                &[],
                &[("WHOP_API_KEY", "k"), ("WHOP_BASE_URL", "not a url")],
                "WHOP_BASE_URL",
            ),
            (&[], &[("WHOP_API_KEY", "a b")], "WHOP_API_KEY"),
            (
                &["--upload-root", "/definitely/not/here"],
                &[("WHOP_API_KEY", "k")],
                "upload root",
            ),
        ];
        for (args, env, needle) in cases {
            let e = build(args, env).unwrap_err().to_string();
            assert!(e.contains(needle), "{args:?} {env:?}: {e}");
        }
    }

    #[test]
    fn unfilled_bundle_settings_are_ignored() {
        assert_eq!(
            unfilled_bundle_setting("${user_config.upload_roots}"),
            Some("upload_roots")
        );
        assert_eq!(
            unfilled_bundle_setting("/a:${user_config.more}/b"),
            Some("more")
        );
        for filled in ["", "/tmp", "${HOME}", "${user_config.}", "${user_config.x"] {
            assert_eq!(unfilled_bundle_setting(filled), None, "{filled:?}");
        }
        // What a bundle host passes when the user leaves every optional setting empty.
        let c = build(
            &["--upload-root", "${user_config.upload_roots}"],
            &[
                ("WHOP_API_KEY", "k"),
                ("WHOP_COMPANY_ID", "${user_config.company_id}"),
                ("WHOP_READ_ONLY", "${user_config.read_only}"),
                ("WHOP_SEND_CHANNELS", "${user_config.send_channels}"),
            ],
        )
        .unwrap();
        assert!(c.tools.upload_roots.is_empty() && c.tools.company_id.is_none());
        assert!(!c.exposure.read_only && c.tools.send_channels.is_none());
        // An unfilled flag gives way to the variable.
        let dir = std::env::temp_dir();
        let c = build(
            &[
                "--company-id",
                "${user_config.company_id}",
                "--upload-root",
                "${user_config.upload_roots}",
            ],
            &[
                ("WHOP_API_KEY", "k"),
                ("WHOP_COMPANY_ID", "biz_fromenv"),
                ("WHOP_UPLOAD_ROOTS", &dir.display().to_string()),
            ],
        )
        .unwrap();
        assert_eq!(c.tools.company_id.as_deref(), Some("biz_fromenv"));
        assert_eq!(c.tools.upload_roots.len(), 1);
        // An unfilled key is a missing key.
        let e = build(&[], &[("WHOP_API_KEY", "${user_config.api_key}")]).unwrap_err();
        assert!(e.to_string().contains("WHOP_API_KEY is not set"), "{e}");
    }

    #[test]
    fn upload_roots_come_from_env_and_are_canonical() {
        let dir = std::env::temp_dir();
        let list = format!("{}:{}", dir.display(), dir.join(".").display());
        let c = build(&[], &[("WHOP_API_KEY", "k"), ("WHOP_UPLOAD_ROOTS", &list)]).unwrap();
        assert_eq!(c.tools.upload_roots.len(), 2);
        assert!(
            c.tools
                .upload_roots
                .iter()
                .all(|p| p.is_absolute() && !p.ends_with("."))
        );
    }

    #[test]
    fn write_gates_and_tool_selection() {
        let c = build(&[], &[("WHOP_API_KEY", "k")]).unwrap();
        assert!(
            !c.exposure.read_only && c.tools.send_channels.is_none() && c.exposure.only.is_none()
        );
        assert_eq!(
            c.tools.poll_interval,
            std::time::Duration::from_secs(DEFAULT_POLL_SECONDS)
        );
        let c = build(
            &[],
            &[
                ("WHOP_API_KEY", "k"),
                ("WHOP_READ_ONLY", "1"),
                ("WHOP_SEND_CHANNELS", " feed_a, exp_b ,"),
                ("WHOP_TOOLS", "list_messages,send_message"),
                ("WHOP_POLL_SECONDS", "5"),
            ],
        )
        .unwrap();
        assert!(c.exposure.read_only);
        assert_eq!(c.tools.send_channels.unwrap(), ["feed_a", "exp_b"]);
        assert_eq!(c.exposure.only.unwrap(), ["list_messages", "send_message"]);
        assert_eq!(c.tools.poll_interval, std::time::Duration::from_secs(5));
        let c = build(
            &[
                "--read-only",
                "--send-channels",
                "feed_x,feed_y",
                "--tools",
                "get_channel",
            ],
            &[("WHOP_API_KEY", "k")],
        )
        .unwrap();
        assert!(c.exposure.read_only);
        assert_eq!(c.tools.send_channels.unwrap(), ["feed_x", "feed_y"]);
        assert_eq!(c.exposure.only.unwrap(), ["get_channel"]);
        for (k, v, needle) in [
            ("WHOP_READ_ONLY", "maybe", "WHOP_READ_ONLY"),
            ("WHOP_SEND_CHANNELS", " , ", "lists nothing"),
            ("WHOP_POLL_SECONDS", "0", "between 1 and 60"),
            ("WHOP_POLL_SECONDS", "soon", "whole number"),
            (
                "WHOP_MCP_ALLOWED_ORIGINS",
                "app.example.com",
                "origins like",
            ),
            ("WHOP_MCP_HTTP_TOKEN", "short", "at least 16"),
            ("WHOP_MCP_HTTP_ADDR", "everywhere", "address like"),
        ] {
            let e = build(&[], &[("WHOP_API_KEY", "k"), (k, v)])
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{k}={v}: {e}");
        }
    }

    #[test]
    fn upload_roots_may_share_one_flag_or_be_empty() {
        let dir = std::env::temp_dir();
        let d = dir.to_str().unwrap();
        let c = build(&["--upload-root", d, d], &[("WHOP_API_KEY", "k")]).unwrap();
        assert_eq!(c.tools.upload_roots.len(), 2);
        let c = build(
            &["--upload-root", d, "--upload-root", d],
            &[("WHOP_API_KEY", "k")],
        )
        .unwrap();
        assert_eq!(c.tools.upload_roots.len(), 2);
        let c = build(&["--upload-root"], &[("WHOP_API_KEY", "k")]).unwrap();
        assert!(c.tools.upload_roots.is_empty());
    }

    #[test]
    fn version_dates() {
        for ok in ["2026-10-15", "2026-10-15-1", "2025-01-01"] {
            assert!(is_version_date(ok), "{ok}");
        }
        for bad in [
            "2026-10",
            "2026/10/15",
            "2026-10-15-",
            "2026-10-15x",
            "latest",
        ] {
            assert!(!is_version_date(bad), "{bad}");
        }
    }

    #[test]
    fn errors_name_the_setting_as_the_user_wrote_it() {
        type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            (
                &["--base-url", "http://api.example.com"],
                &[],
                "--base-url must use https",
            ),
            (
                &[],
                &[("WHOP_BASE_URL", "http://api.example.com")],
                "WHOP_BASE_URL must use https",
            ),
            (
                &["--poll-seconds", "abc"],
                &[],
                "--poll-seconds must be a whole number",
            ),
            (
                &[],
                &[("WHOP_POLL_SECONDS", "abc")],
                "WHOP_POLL_SECONDS must be a whole number",
            ),
            (
                &["--api-version", "latest"],
                &[],
                "--api-version must look like",
            ),
            (
                &["--company-id", "exp_1"],
                &[],
                "--company-id must be a company id",
            ),
            (&["--http", "everywhere"], &[], "--http must be an address"),
            (&["--tools", "nope"], &[], "unknown tool \"nope\""),
            (
                &["--allowed-origin", "app.example.com"],
                &[],
                "--allowed-origin entries must be origins",
            ),
        ];
        for (args, env, needle) in cases {
            let mut env = env.to_vec();
            env.push(("WHOP_API_KEY", "k"));
            let e = build(args, &env).unwrap_err().to_string();
            assert!(e.starts_with(needle), "{args:?} {env:?}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn credentials_in_the_base_url_are_refused_without_being_shown() {
        for url in [
            "https://user:hunter2secret@api.whop.com/api/v1",
            "http://hunter2secret@127.0.0.1:9/api/v1",
        ] {
            let e = build(&[], &[("WHOP_API_KEY", "k"), ("WHOP_BASE_URL", url)])
                .unwrap_err()
                .to_string();
            assert!(e.contains("user name or password"), "{e}");
            assert!(!e.contains("hunter2secret"), "{e}");
        }
    }

    #[test]
    fn a_webhook_secret_turns_http_into_push_mode() {
        let key = ("WHOP_API_KEY", "k");
        let secret = ("WHOP_WEBHOOK_SECRET", "ws_0123456789abcdef0123456789abcdef");
        let c = build(&["--http", "127.0.0.1:8080"], &[key, secret]).unwrap();
        assert!(c.http.unwrap().webhooks.is_some() && c.tools.push);
        assert_eq!(
            c.tools.watch_interval(),
            Duration::from_secs(DEFAULT_SAFETY_POLL_SECONDS)
        );
        // Without a receiver in this process (stdio), polling stays the mechanism.
        let c = build(&[], &[key, secret]).unwrap();
        assert!(!c.tools.push);
        assert_eq!(
            c.tools.watch_interval(),
            Duration::from_secs(DEFAULT_POLL_SECONDS)
        );
        let c = build(&["--http", "127.0.0.1:8080"], &[key]).unwrap();
        assert!(c.http.unwrap().webhooks.is_none() && !c.tools.push);
        // Push never polls more often than polling alone would.
        let c = build(
            &["--http", "127.0.0.1:8080", "--poll-seconds", "60"],
            &[key, secret, ("WHOP_SAFETY_POLL_SECONDS", "10")],
        )
        .unwrap();
        assert_eq!(c.tools.watch_interval(), Duration::from_secs(60));
        for (v, needle) in [
            ("4", "between 5 and 3600"),
            ("soon", "WHOP_SAFETY_POLL_SECONDS must be a whole number"),
        ] {
            let e = build(&[], &[key, ("WHOP_SAFETY_POLL_SECONDS", v)])
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{v}: {e}");
        }
        let e = build(
            &["--http", "127.0.0.1:8080"],
            &[key, ("WHOP_WEBHOOK_SECRET", "whsec_%%notbase64hunter2")],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("WHOP_WEBHOOK_SECRET starts with whsec_"),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn the_standalone_receiver_needs_a_secret_and_an_address() {
        let args = |listen: &str| WebhooksArgs {
            listen: listen.into(),
            state: None,
        };
        let env = |k: &str| (k == "WHOP_WEBHOOK_SECRET").then(|| "ws_abc".to_owned());
        let c = ReceiverConfig::from_sources(&args("0.0.0.0:8788"), env).unwrap();
        assert_eq!(c.addr, "0.0.0.0:8788".parse().unwrap());
        let e = ReceiverConfig::from_sources(&args("0.0.0.0:8788"), |_| None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("WHOP_WEBHOOK_SECRET is not set"), "{e}");
        let e = ReceiverConfig::from_sources(&args("everywhere"), env)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--listen must be an address"), "{e}");
        // With a shared state it needs the replicas' key, to find their keys in Redis.
        let with_state = WebhooksArgs {
            listen: "127.0.0.1:8788".into(),
            state: Some("redis://127.0.0.1:6379".into()),
        };
        let e = ReceiverConfig::from_sources(&with_state, env)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("WHOP_API_KEY is not set: with --state"),
            "{e}"
        );
        let env_key = |k: &str| match k {
            "WHOP_WEBHOOK_SECRET" => Some("ws_abc".to_owned()),
            "WHOP_API_KEY" => Some("k_123".to_owned()),
            _ => None,
        };
        let c = ReceiverConfig::from_sources(&with_state, env_key).unwrap();
        assert!(c.state.url.is_some());
    }

    #[test]
    fn a_shared_state_with_the_webhook_secret_set_means_push_even_over_stdio() {
        let key = ("WHOP_API_KEY", "k");
        let secret = ("WHOP_WEBHOOK_SECRET", "ws_abc");
        let state = ("WHOP_MCP_STATE_URL", "redis://127.0.0.1:6379");
        assert!(build(&[], &[key, secret, state]).unwrap().tools.push);
        assert!(!build(&[], &[key, secret]).unwrap().tools.push);
        assert!(!build(&[], &[key, state]).unwrap().tools.push);
    }

    #[test]
    fn http_needs_a_token_beyond_loopback() {
        let key = ("WHOP_API_KEY", "k");
        for addr in ["127.0.0.1:8080", "[::1]:8080"] {
            let c = build(&["--http", addr], &[key]).unwrap();
            assert_eq!(c.http.unwrap().addr, addr.parse().unwrap());
        }
        let e = build(&["--http", "0.0.0.0:8080"], &[key])
            .unwrap_err()
            .to_string();
        assert!(e.contains("WHOP_MCP_HTTP_TOKEN"), "{e}");
        let token = ("WHOP_MCP_HTTP_TOKEN", "s3cret-token-value");
        let c = build(
            &[
                "--http",
                "0.0.0.0:8080",
                "--allowed-origin",
                "https://app.example.com/",
            ],
            &[key, token],
        )
        .unwrap();
        let http = c.http.unwrap();
        assert_eq!(http.token.unwrap().expose(), "s3cret-token-value");
        assert_eq!(http.allowed_origins, ["https://app.example.com"]);
        assert!(build(&[], &[key, token]).unwrap().http.is_none());
    }

    #[test]
    fn oauth_takes_an_issuer_and_a_public_url() {
        let key = ("WHOP_API_KEY", "k");
        let issuer = ("WHOP_MCP_OAUTH_ISSUER", "https://auth.example.com/tenant");
        let public = ("WHOP_MCP_PUBLIC_URL", "https://MCP.example.com/mcp/");
        let c = build(&["--http", "0.0.0.0:8080"], &[key, issuer, public]).unwrap();
        let http = c.http.unwrap();
        let oauth = http.oauth.unwrap();
        assert_eq!(oauth.issuer, "https://auth.example.com/tenant");
        assert_eq!(oauth.resource, "https://mcp.example.com/mcp");
        assert_eq!(oauth.jwks_url, None);
        assert!(http.token.is_none());
        assert!(http.allowed_hosts.iter().any(|h| h == "mcp.example.com"));
        // Flags name the same settings; a JWKS URL may be given.
        let c = build(
            &[
                "--http",
                "127.0.0.1:0",
                "--oauth-issuer",
                "http://127.0.0.1:9000",
                "--public-url",
                "http://localhost:8080/mcp",
                "--oauth-jwks-url",
                "http://127.0.0.1:9000/jwks?v=2",
            ],
            &[key],
        )
        .unwrap();
        let oauth = c.http.unwrap().oauth.unwrap();
        assert_eq!(oauth.issuer, "http://127.0.0.1:9000");
        assert_eq!(
            oauth.jwks_url.unwrap().as_str(),
            "http://127.0.0.1:9000/jwks?v=2"
        );
    }

    #[test]
    fn oauth_settings_that_cannot_work_are_refused() {
        let key = ("WHOP_API_KEY", "k");
        let issuer = ("WHOP_MCP_OAUTH_ISSUER", "https://auth.example.com");
        let public = ("WHOP_MCP_PUBLIC_URL", "https://mcp.example.com/mcp");
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            (
                &[
                    issuer,
                    public,
                    ("WHOP_MCP_HTTP_TOKEN", "s3cret-token-value"),
                ],
                "are both set",
            ),
            (&[issuer], "needs WHOP_MCP_PUBLIC_URL"),
            (
                &[public],
                "WHOP_MCP_PUBLIC_URL is set but WHOP_MCP_OAUTH_ISSUER is not",
            ),
            (
                &[("WHOP_MCP_OAUTH_JWKS_URL", "https://auth.example.com/jwks")],
                "WHOP_MCP_OAUTH_JWKS_URL is set but",
            ),
            (
                &[("WHOP_MCP_OAUTH_ISSUER", "http://auth.example.com"), public],
                "WHOP_MCP_OAUTH_ISSUER must use https",
            ),
            (
                &[
                    issuer,
                    ("WHOP_MCP_PUBLIC_URL", "http://mcp.example.com/mcp"),
                ],
                "WHOP_MCP_PUBLIC_URL must use https",
            ),
            (
                &[
                    issuer,
                    public,
                    ("WHOP_MCP_OAUTH_JWKS_URL", "http://10.0.0.1/jwks"),
                ],
                "WHOP_MCP_OAUTH_JWKS_URL must use https",
            ),
            (
                &[
                    ("WHOP_MCP_OAUTH_ISSUER", "https://auth.example.com/?a=1"),
                    public,
                ],
                "must not contain a query",
            ),
            (
                &[
                    issuer,
                    ("WHOP_MCP_PUBLIC_URL", "https://u:hunter2@mcp.example.com"),
                ],
                "user name or password",
            ),
            (
                &[("WHOP_MCP_OAUTH_ISSUER", "auth.example.com"), public],
                "not a valid URL",
            ),
        ];
        for (env, needle) in cases {
            let mut env = env.to_vec();
            env.push(key);
            let e = build(&["--http", "0.0.0.0:8080"], &env)
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{env:?}: {e}");
            assert!(!e.contains("hunter2") && !e.contains('\n'), "{e}");
        }
    }
}
