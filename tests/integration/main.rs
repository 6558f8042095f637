//! The integration tests, one module per area, built as a single test binary so the crate and
//! its dependencies are linked once rather than once per file. Select a module or a test by
//! name: `cargo test --test integration faults::`.
//!
//! The tests run in parallel threads of one process, so none of them may rely on process-wide
//! state: each starts its own sandbox on a free loopback port, spawns its own server process
//! with a clean environment, and works in its own temporary folder.

mod common;

mod answers;
mod app_keys;
mod arguments;
mod bundle;
mod chat_life;
mod cli;
mod client;
mod confinement;
mod conformance;
mod contract;
mod crate_package;
mod dms;
mod e2e;
mod faults;
mod full_page;
mod gates;
mod hardening;
mod hostile;
mod http;
mod independent_client;
mod inspector;
mod lifecycle;
mod oauth;
mod packaging;
mod redis_state;
mod release;
mod schemas;
mod search;
mod secrets;
mod toolsets;
mod webhooks;
