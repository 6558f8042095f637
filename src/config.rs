//! Start-up configuration: parsed once, at the edge, from flags and environment variables.
//!
//! Nothing below `main` reads the process environment. [`Config::from_sources`] takes the
//! command line and a lookup closure, so tests can build any configuration without `set_var`.

use std::{fmt, net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::{
    poll::DEFAULT_POLL_SECONDS,
    whop::{DEFAULT_API_VERSION, DEFAULT_BASE_URL, Secret},
};

/// Command-line interface. Every flag also has an environment variable (named in its help);
/// the flag wins when both are given.
#[derive(Debug, Parser)]
#[command(
    name = "whop-chat-mcp",
    version,
    about = "MCP server that lets AI agents read and post Whop chat (stdio).",
    long_about = "MCP server that lets AI agents read and post Whop chat.\n\n\
        An MCP host starts it and talks JSON-RPC on stdin/stdout; logs go to stderr.\n\
        The Whop API key is read only from the WHOP_API_KEY environment variable.",
    after_help = "Environment: WHOP_API_KEY (required unless --demo), WHOP_BASE_URL, WHOP_API_VERSION, \
        WHOP_COMPANY_ID, WHOP_UPLOAD_ROOTS, WHOP_READ_ONLY, WHOP_SEND_CHANNELS, WHOP_TOOLS, WHOP_POLL_SECONDS, \
        WHOP_MCP_HTTP_ADDR, WHOP_MCP_HTTP_TOKEN (HTTP bearer token), WHOP_MCP_ALLOWED_HOSTS, \
        WHOP_MCP_ALLOWED_ORIGINS, RUST_LOG (stderr log filter, e.g. whop_chat_mcp=debug)."
)]
pub struct Cli {
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the built-in Whop sandbox (an in-memory fake of the Whop REST v1 chat API) over
    /// HTTP, so any client can be pointed at it with WHOP_BASE_URL.
    Sandbox(SandboxArgs),
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on (use port 0 for any free port).
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// API key the sandbox accepts for the demo company.
    #[arg(long, default_value = crate::sandbox::DEMO_API_KEY)]
    pub api_key: String,
}

#[derive(Debug, Default, Args)]
pub struct ServeArgs {
    /// Serve against the built-in sandbox seeded with demo data; needs no Whop account or key.
    #[arg(long)]
    pub demo: bool,
    /// Whop API base URL [env: WHOP_BASE_URL] [default: https://api.whop.com/api/v1]
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Api-Version-Date sent on every request [env: WHOP_API_VERSION] [default: 2026-10-15-1]
    #[arg(long, value_name = "DATE")]
    pub api_version: Option<String>,
    /// Default company (biz_…) for tools whose company_id is optional [env: WHOP_COMPANY_ID]
    #[arg(long, value_name = "BIZ_ID")]
    pub company_id: Option<String>,
    /// Folder upload_file may read local files from; repeat for several
    /// [env: WHOP_UPLOAD_ROOTS, ':'-separated]
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
    /// Expose only these tools (default: all) [env: WHOP_TOOLS, comma-separated]
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub tools: Vec<String>,
    /// Seconds between polls while waiting for new messages (1–60) [env: WHOP_POLL_SECONDS]
    /// [default: 3]
    #[arg(long, value_name = "SECONDS")]
    pub poll_seconds: Option<u64>,
    /// Serve Streamable HTTP at http://ADDR/mcp instead of stdio, e.g. 127.0.0.1:8080
    /// [env: WHOP_MCP_HTTP_ADDR]. Clients must send WHOP_MCP_HTTP_TOKEN when it is set; without
    /// it only loopback addresses are allowed.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// Extra Host names the HTTP server answers to, e.g. mcp.example.com
    /// [env: WHOP_MCP_ALLOWED_HOSTS, comma-separated]
    #[arg(long = "allowed-host", value_name = "HOST", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
    /// Browser origins allowed to call the HTTP server (enables CORS for them), e.g.
    /// https://app.example.com [env: WHOP_MCP_ALLOWED_ORIGINS, comma-separated]
    #[arg(long = "allowed-origin", value_name = "ORIGIN", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
}

/// Everything the server needs, validated.
#[derive(Clone)]
pub struct Config {
    /// `None` only in demo mode, where the sandbox's key is used.
    pub api_key: Option<Secret>,
    pub base_url: String,
    pub api_version: String,
    pub company_id: Option<String>,
    /// Canonical absolute paths of existing directories.
    pub upload_roots: Vec<PathBuf>,
    pub demo: bool,
    /// No write tool is registered.
    pub read_only: bool,
    /// When set, send_message may post only to these channel or experience ids.
    pub send_channels: Option<Vec<String>>,
    /// When set, only these tools are exposed (names checked by the server).
    pub tools: Option<Vec<String>>,
    /// Interval between polls while waiting for new messages.
    pub poll_interval: std::time::Duration,
    /// Serve Streamable HTTP here instead of stdio.
    pub http: Option<SocketAddr>,
    /// Bearer token HTTP clients must present.
    pub http_token: Option<Secret>,
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("api_version", &self.api_version)
            .field("company_id", &self.company_id)
            .field("upload_roots", &self.upload_roots)
            .field("demo", &self.demo)
            .field("read_only", &self.read_only)
            .field("send_channels", &self.send_channels)
            .field("tools", &self.tools)
            .field("poll_interval", &self.poll_interval)
            .field("http", &self.http)
            .field(
                "http_token",
                &self.http_token.as_ref().map(|_| "<redacted>"),
            )
            .field("allowed_hosts", &self.allowed_hosts)
            .field("allowed_origins", &self.allowed_origins)
            .finish()
    }
}

/// A configuration problem: printed as one line on stderr before the process exits non-zero.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn err<T>(message: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(message.into()))
}

impl Config {
    /// Builds the configuration from parsed flags and an environment lookup.
    pub fn from_sources(
        args: &ServeArgs,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let env = |name: &str| {
            env(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let api_key = match env("WHOP_API_KEY") {
            _ if args.demo => None,
            Some(raw) => Some(parse_api_key(&raw)?),
            None => {
                return err(
                    "WHOP_API_KEY is not set: export your Whop API key (Dashboard → Developer → API keys) \
                     in WHOP_API_KEY, or run with --demo to try the built-in sandbox",
                );
            }
        };

        let base_url = args
            .base_url
            .clone()
            .or_else(|| env("WHOP_BASE_URL"))
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let base_url = parse_base_url(&base_url)?;

        let api_version = args
            .api_version
            .clone()
            .or_else(|| env("WHOP_API_VERSION"))
            .unwrap_or_else(|| DEFAULT_API_VERSION.to_owned());
        if !is_version_date(&api_version) {
            return err(format!(
                "WHOP_API_VERSION must look like YYYY-MM-DD or YYYY-MM-DD-N (e.g. {DEFAULT_API_VERSION}), got {api_version:?}"
            ));
        }

        let company_id = args.company_id.clone().or_else(|| env("WHOP_COMPANY_ID"));
        if let Some(id) = &company_id
            && (!id.starts_with("biz_") || id.len() < 5 || id.chars().any(char::is_whitespace))
        {
            return err(format!(
                "WHOP_COMPANY_ID must be a company id like biz_XXXXXXXXXXXXXX, got {id:?}"
            ));
        }

        let mut roots: Vec<PathBuf> = args.upload_roots.clone();
        if roots.is_empty()
            && let Some(list) = env("WHOP_UPLOAD_ROOTS")
        {
            roots = std::env::split_paths(&list)
                .filter(|p| !p.as_os_str().is_empty())
                .collect();
        }
        let upload_roots = roots
            .iter()
            .map(canonical_dir)
            .collect::<Result<Vec<_>, _>>()?;

        let read_only = args.read_only
            || match env("WHOP_READ_ONLY")
                .as_deref()
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                None | Some("0" | "false" | "no" | "off") => false,
                Some("1" | "true" | "yes" | "on") => true,
                Some(other) => {
                    return err(format!(
                        "WHOP_READ_ONLY must be 1 or 0 (true/false), got {other:?}"
                    ));
                }
            };
        let send_channels = id_list(
            &args.send_channels,
            env("WHOP_SEND_CHANNELS"),
            "WHOP_SEND_CHANNELS",
        )?;
        let tools = id_list(&args.tools, env("WHOP_TOOLS"), "WHOP_TOOLS")?;
        let poll_seconds = match args.poll_seconds {
            Some(s) => s,
            None => match env("WHOP_POLL_SECONDS") {
                None => DEFAULT_POLL_SECONDS,
                Some(v) => v.parse().or_else(|_| {
                    err(format!(
                        "WHOP_POLL_SECONDS must be a whole number of seconds, got {v:?}"
                    ))
                })?,
            },
        };
        if !(1..=60).contains(&poll_seconds) {
            return err(format!(
                "WHOP_POLL_SECONDS must be between 1 and 60, got {poll_seconds}"
            ));
        }

        let http = match args.http {
            Some(a) => Some(a),
            None => match env("WHOP_MCP_HTTP_ADDR") {
                None => None,
                Some(v) => Some(v.parse().or_else(|_| {
                    err(format!(
                        "WHOP_MCP_HTTP_ADDR must be an address like 127.0.0.1:8080, got {v:?}"
                    ))
                })?),
            },
        };
        let http_token = match env("WHOP_MCP_HTTP_TOKEN") {
            Some(t) if t.len() < 16 || t.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                return err(
                    "WHOP_MCP_HTTP_TOKEN must be at least 16 characters with no spaces (use a long random secret)",
                );
            }
            Some(t) => Some(Secret::new(&t)),
            None => None,
        };
        let allowed_hosts = id_list(
            &args.allowed_hosts,
            env("WHOP_MCP_ALLOWED_HOSTS"),
            "WHOP_MCP_ALLOWED_HOSTS",
        )?
        .unwrap_or_default();
        let allowed_origins = url_list(
            &args.allowed_origins,
            env("WHOP_MCP_ALLOWED_ORIGINS"),
            "WHOP_MCP_ALLOWED_ORIGINS",
        )?;

        Ok(Config {
            http,
            http_token,
            allowed_hosts,
            allowed_origins,
            api_key,
            base_url,
            api_version,
            company_id,
            upload_roots,
            demo: args.demo,
            read_only,
            send_channels,
            tools,
            poll_interval: std::time::Duration::from_secs(poll_seconds),
        })
    }
}

/// A comma-separated list from flags or the environment, items trimmed, empty ones dropped;
/// `None` when neither gives one.
fn list(flag: &[String], env: Option<String>) -> Option<Vec<String>> {
    let raw: Vec<String> = if flag.is_empty() {
        env?.split(',').map(str::to_owned).collect()
    } else {
        flag.to_vec()
    };
    Some(
        raw.iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
    )
}

/// A list of ids or names (no spaces, slashes or control characters).
fn id_list(
    flag: &[String],
    env: Option<String>,
    name: &str,
) -> Result<Option<Vec<String>>, ConfigError> {
    let Some(items) = list(flag, env) else {
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

/// A list of origins such as `https://app.example.com`, without trailing slashes.
fn url_list(flag: &[String], env: Option<String>, name: &str) -> Result<Vec<String>, ConfigError> {
    let items: Vec<String> = list(flag, env)
        .unwrap_or_default()
        .iter()
        .map(|s| s.trim_end_matches('/').to_owned())
        .collect();
    let bad = |o: &&String| {
        !(o.starts_with("http://") || o.starts_with("https://"))
            || o.chars().any(|c| c.is_whitespace() || c.is_control())
    };
    if let Some(bad) = items.iter().find(bad) {
        return err(format!(
            "{name} entries must be origins like https://app.example.com, got {bad:?}"
        ));
    }
    Ok(items)
}

fn parse_api_key(raw: &str) -> Result<Secret, ConfigError> {
    // Accept a pasted "Bearer <key>" the way Whop's own stdio adapter does.
    let key = raw.strip_prefix("Bearer ").unwrap_or(raw).trim();
    if key.is_empty() || key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return err("WHOP_API_KEY contains spaces or control characters: paste the key alone");
    }
    Ok(Secret::new(key))
}

fn parse_base_url(raw: &str) -> Result<String, ConfigError> {
    let url = reqwest::Url::parse(raw)
        .or_else(|_| err(format!("WHOP_BASE_URL is not a valid URL: {raw:?}")))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        // Plain HTTP would send the API key in clear text; allow it only to this machine.
        "http" if loopback => {}
        "http" => {
            return err(format!(
                "WHOP_BASE_URL must use https (plain http is allowed only for localhost/127.0.0.1), got {raw:?}"
            ));
        }
        _ => return err(format!("WHOP_BASE_URL must be an https URL, got {raw:?}")),
    }
    if url.query().is_some() || url.fragment().is_some() {
        return err(format!(
            "WHOP_BASE_URL must not contain a query or fragment, got {raw:?}"
        ));
    }
    Ok(raw.trim_end_matches('/').to_owned())
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
    fn missing_key_is_one_clear_line() {
        let e = build(&[], &[]).unwrap_err().to_string();
        assert!(e.contains("WHOP_API_KEY is not set"), "{e}");
        assert!(e.contains("--demo"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn defaults_apply_and_key_is_redacted_in_debug() {
        let c = build(&[], &[("WHOP_API_KEY", "apik_supersecret123")]).unwrap();
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.api_version, DEFAULT_API_VERSION);
        assert_eq!(c.api_version, "2026-10-15-1");
        assert!(c.upload_roots.is_empty());
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("supersecret"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
    }

    #[test]
    fn bearer_prefix_is_stripped() {
        let c = build(&[], &[("WHOP_API_KEY", "Bearer apik_abc")]).unwrap();
        assert_eq!(c.api_key.unwrap().expose(), "apik_abc");
    }

    #[test]
    fn demo_needs_no_key() {
        let c = build(&["--demo"], &[]).unwrap();
        assert!(c.demo && c.api_key.is_none());
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
        assert_eq!(c.company_id.as_deref(), Some("biz_fromflag"));
        assert_eq!(c.api_version, "2026-07-20");
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
        assert_eq!(c.company_id.as_deref(), Some("biz_fromenv"));
        assert_eq!(c.base_url, "http://127.0.0.1:9/api/v1");
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
    fn upload_roots_come_from_env_and_are_canonical() {
        let dir = std::env::temp_dir();
        let list = format!("{}:{}", dir.display(), dir.join(".").display());
        let c = build(&[], &[("WHOP_API_KEY", "k"), ("WHOP_UPLOAD_ROOTS", &list)]).unwrap();
        assert_eq!(c.upload_roots.len(), 2);
        assert!(
            c.upload_roots
                .iter()
                .all(|p| p.is_absolute() && !p.ends_with("."))
        );
    }

    #[test]
    fn write_gates_and_tool_selection() {
        let c = build(&[], &[("WHOP_API_KEY", "k")]).unwrap();
        assert!(!c.read_only && c.send_channels.is_none() && c.tools.is_none());
        assert_eq!(
            c.poll_interval,
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
        assert!(c.read_only);
        assert_eq!(c.send_channels.unwrap(), ["feed_a", "exp_b"]);
        assert_eq!(c.tools.unwrap(), ["list_messages", "send_message"]);
        assert_eq!(c.poll_interval, std::time::Duration::from_secs(5));
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
        assert!(c.read_only);
        assert_eq!(c.send_channels.unwrap(), ["feed_x", "feed_y"]);
        assert_eq!(c.tools.unwrap(), ["get_channel"]);
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
        assert_eq!(c.upload_roots.len(), 2);
        let c = build(
            &["--upload-root", d, "--upload-root", d],
            &[("WHOP_API_KEY", "k")],
        )
        .unwrap();
        assert_eq!(c.upload_roots.len(), 2);
        let c = build(&["--upload-root"], &[("WHOP_API_KEY", "k")]).unwrap();
        assert!(c.upload_roots.is_empty());
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
}
