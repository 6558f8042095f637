//! whop-chat-mcp: an MCP server that lets AI agents read and post Whop chat.
//!
//! Crate map (read in this order):
//! - [`config`]  — flags and environment, parsed once at start-up.
//! - [`whop`]    — the Whop REST v1 client: requests, retries, errors, models. Knows no MCP.
//! - [`tools`]   — the MCP tools: validate input, call the client, shape output for models.
//! - [`server`]  — the MCP `ServerHandler`: tool list, instructions, dispatch.
//! - [`resources`], [`prompts`] — channel resources with subscriptions; ready-made prompts.
//! - [`transport`] — stdio that answers every broken request (rmcp's ignores non-JSON).
//! - [`http`]    — Streamable HTTP at /mcp: stateless, bearer token, DNS-rebinding guard.
//! - [`sandbox`] — the `whop-sandbox` crate (an in-memory Whop on loopback for `--demo`, tests
//!   and benchmarks), re-exported under its old path.

pub mod config;
pub mod http;
pub mod prompts;
pub mod resources;
pub mod server;
pub mod tools;
pub mod transport;
pub mod whop;

pub use whop_sandbox as sandbox;
