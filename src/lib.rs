//! whop-chat-mcp: an MCP server that lets AI agents read and post Whop chat.
//!
//! Crate map (read in this order):
//! - [`config`]  — flags and environment, parsed once at start-up.
//! - [`whop`]    — the Whop REST v1 client: requests, retries, errors, models. Knows no MCP.
//! - [`output`]  — what tools return: output types, compact text rows, the paging pipeline,
//!   and the cleaning of text other people wrote.
//! - [`poll`]    — what counts as a new message and how often to poll (waits and watchers).
//! - [`tools`]   — the MCP tools: validate input, call the client, shape output for models.
//! - [`exposure`] — which tools a server exposes (`--read-only`, `--tools`).
//! - [`resources`], [`prompts`] — channel resources with subscriptions; ready-made prompts.
//! - [`gate`]    — the exit gate everything passes on its way out (the API key is scrubbed).
//! - [`limits`]  — bounds on calls in flight, per server and per session.
//! - [`server`]  — the MCP `ServerHandler`: wiring only, one-line delegations.
//! - [`identity`] — the server's name, title, website and icon (`serverInfo`).
//! - [`transport`] — stdio that answers every broken request (rmcp's ignores non-JSON).
//! - `json`      — the JSON writer for stdio answers: serde_json's exact bytes, for less CPU.
//! - [`http`]    — Streamable HTTP at /mcp: stateless, bearer token or OAuth, DNS-rebinding guard.
//! - [`oauth`]   — OAuth 2.1 resource server for HTTP: token checks, scopes, metadata.
//! - [`net`]     — the one loopback/origin rule for URLs.
//! - `outbound`  — the HTTP client for what the server fetches (Whop, uploads, OAuth keys).
//! - [`shared`]  — state replicas share (wake-ups, delivery ids, poll leases); local by default.
//! - [`webhooks`] — Whop webhooks: signature checks, `POST /webhooks/whop`, the standalone receiver.
//! - [`state`]   — where that state lives (this process, or Redis with `--state`) and the
//!   shared Whop rate budget.
//! - [`sandbox`] — the `whop-sandbox` crate (an in-memory Whop on loopback for `--demo`, tests
//!   and benchmarks), re-exported under its old path.

pub mod config;
pub mod exposure;
pub mod gate;
pub mod http;
pub mod identity;
mod json;
pub mod limits;
pub mod net;
pub mod oauth;
mod outbound;
pub mod output;
pub mod poll;
pub mod prompts;
pub mod resources;
pub mod server;
pub mod shared;
pub mod state;
pub mod tools;
pub mod transport;
pub mod webhooks;
pub mod whop;

pub use whop_sandbox as sandbox;
