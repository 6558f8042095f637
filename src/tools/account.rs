//! `whoami`: who the key acts as and where the server points — the first check when
//! something fails.

use rmcp::{schemars::JsonSchema, tool, tool_router};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::{ToolResult, Toolbox, cancellable, output, render};
use crate::whop;

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct WhoamiOut {
    // biz_… for a company key, user_… for a user token; left out when Whop would not say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<String>,
    // `company`, `user`, or `unknown` (neither identity endpoint answered: an app key, say).
    pub(crate) kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    // The company tools use when company_id is left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) company_id: Option<String>,
    pub(crate) base_url: String,
    pub(crate) api_version: String,
    // Why the identity is unknown: which call Whop refused, and what to set instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) problem: Option<String>,
}

/// Why the key's identity could not be read, and what to do about it.
pub(crate) fn identity_refused(e: &whop::Error) -> String {
    match e.status() {
        Some(401) => {
            "Whop rejected the API key (HTTP 401): set WHOP_API_KEY to a valid, unrevoked key."
                .to_owned()
        }
        Some(403 | 404) => format!(
            "GET /accounts/me and GET /users/me were both refused (HTTP {}): the key is neither an account \
             API key nor a user token (an app API key acts for every company that installed the app). Tools \
             work with it when they know the company: set WHOP_COMPANY_ID=biz_… or pass company_id.",
            e.status().unwrap_or_default()
        ),
        _ => format!(
            "the identity could not be read ({}); check the network and WHOP_BASE_URL.",
            render::inline(&e.to_string())
        ),
    }
}

#[tool_router(router = account_router, vis = "pub(crate)")]
impl Toolbox {
    /// Key identity, default company and API; call it when something fails.
    #[tool(
        title = "Who am I",
        annotations(read_only_hint = true),
        output_schema = super::schema::<WhoamiOut>()
    )]
    pub(crate) async fn whoami(&self, ct: CancellationToken) -> ToolResult {
        // Always an answer: what is known locally, plus what Whop says (or why it would not).
        let me = cancellable(&ct, async { Ok(self.client.me().await) }).await?;
        let configured = self.settings.company_id.clone();
        let out = match me {
            Ok(me) => {
                let company = me.id.starts_with("biz_");
                WhoamiOut {
                    kind: if company { "company" } else { "user" }.into(),
                    name: me
                        .title
                        .as_deref()
                        .or(me.name.as_deref())
                        .or(me.username.as_deref())
                        .map(render::inline),
                    company_id: configured.or_else(|| company.then(|| me.id.clone())),
                    id: Some(me.id),
                    base_url: self.client.base_url().to_owned(),
                    api_version: self.client.api_version().to_owned(),
                    problem: None,
                }
            }
            Err(e) => WhoamiOut {
                id: None,
                kind: "unknown".into(),
                name: None,
                company_id: configured,
                base_url: self.client.base_url().to_owned(),
                api_version: self.client.api_version().to_owned(),
                problem: Some(identity_refused(&e)),
            },
        };
        let who = match (&out.id, &out.problem) {
            (Some(id), _) => format!(
                "The key acts as {} {}{id}.",
                out.kind,
                out.name
                    .as_deref()
                    .map(|n| format!("{n} "))
                    .unwrap_or_default()
            ),
            (None, Some(why)) => format!("Who the key acts as is unknown: {why}"),
            (None, None) => String::new(),
        };
        let mut text = format!(
            "{who} Default company: {}. Whop API {} (Api-Version-Date {}).",
            out.company_id
                .as_deref()
                .unwrap_or("none (pass company_id or set WHOP_COMPANY_ID)"),
            out.base_url,
            out.api_version
        );
        if let Some(list) = &self.settings.send_channels {
            text.push_str(&format!(
                " send_message may post only to: {}.",
                list.join(", ")
            ));
        }
        output(&self.gate, text, &out)
    }
}
