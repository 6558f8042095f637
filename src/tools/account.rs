//! `whoami`: who the key acts as and where the server points — the first check when
//! something fails.

use rmcp::{schemars::JsonSchema, tool, tool_router};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::Toolbox;
use super::{Effect, ToolResult, call_whop, output, render};

#[derive(Debug, Serialize, JsonSchema)]
pub struct WhoamiOut {
    // biz_… for a company key, user_… for a user token.
    pub id: String,
    // `company` or `user`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    // The company tools use when company_id is left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_id: Option<String>,
    pub base_url: String,
    pub api_version: String,
}

#[tool_router(router = account_router, vis = "pub(crate)")]
impl Toolbox {
    /// Who the key acts as, default company, API URL and version; call when something fails.
    #[tool(
        annotations(read_only_hint = true, open_world_hint = true),
        output_schema = super::schema::<WhoamiOut>()
    )]
    pub async fn whoami(&self, ct: CancellationToken) -> ToolResult {
        let me = call_whop(&ct, Effect::Read, self.client.me()).await?;
        let company = me.id.starts_with("biz_");
        let name = me
            .title
            .as_deref()
            .or(me.name.as_deref())
            .or(me.username.as_deref())
            .map(render::inline);
        let out = WhoamiOut {
            kind: if company { "company" } else { "user" }.into(),
            company_id: self
                .settings
                .company_id
                .clone()
                .or_else(|| company.then(|| me.id.clone())),
            id: me.id,
            name,
            base_url: self.client.base_url().to_owned(),
            api_version: self.client.api_version().to_owned(),
        };
        let mut text = format!(
            "The key acts as {} {}{}. Default company: {}. Whop API {} (Api-Version-Date {}).",
            out.kind,
            out.name
                .as_deref()
                .map(|n| format!("{n} "))
                .unwrap_or_default(),
            out.id,
            out.company_id
                .as_deref()
                .unwrap_or("none (pass company_id)"),
            out.base_url,
            out.api_version
        );
        if let Some(list) = &self.settings.send_channels {
            text.push_str(&format!(
                " send_message may post only to: {}.",
                list.join(", ")
            ));
        }
        output(text, &out)
    }
}
