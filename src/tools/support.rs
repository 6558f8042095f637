//! Support inbox tool: `list_support_channels`.

use rmcp::{handler::server::wrapper::Parameters, schemars::JsonSchema, tool, tool_router};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::{
    Effect, ToolError, ToolResult, Toolbox, cancellable, check_id, check_limit, output, render,
};
use crate::{
    output::{
        Resume, footer, paginate, plural,
        support::{SupportChannelOut, SupportPage},
    },
    whop::{CreateSupportChannel, ListSupportChannels},
};

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct ListSupportChannelsArgs {
    /// biz_…; default yours, else all.
    pub(crate) company_id: Option<String>,
    /// true: open; false: resolved.
    pub(crate) open: Option<bool>,
    /// user_… or username to filter by.
    pub(crate) customer: Option<String>,
    /// Default 20.
    #[schemars(range(min = 1, max = 100))]
    pub(crate) limit: Option<u32>,
    /// From next_cursor.
    pub(crate) cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct OpenSupportChannelArgs {
    /// user_… id or username.
    pub(crate) user: String,
    /// biz_…; default: yours.
    pub(crate) company_id: Option<String>,
    /// Name for a new chat.
    pub(crate) custom_name: Option<String>,
}

#[tool_router(router = support_router, vis = "pub(crate)")]
impl Toolbox {
    /// Support inbox, latest first: customer, status, needs reply.
    #[tool(
        title = "Support inbox",
        annotations(read_only_hint = true),
        output_schema = super::schema::<SupportPage>()
    )]
    pub(crate) async fn list_support_channels(
        &self,
        Parameters(a): Parameters<ListSupportChannelsArgs>,
        ct: CancellationToken,
    ) -> ToolResult {
        let limit = check_limit(a.limit)?;
        let resume = Resume::parse(a.cursor.as_deref())?;
        let company_id = match a.company_id.as_deref() {
            Some(c) => Some(check_id("company_id", c)?),
            None => self.settings.company_id.clone(),
        };
        let customer = a
            .customer
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        let page = cancellable(&ct, async {
            let customer_user_id = match customer {
                Some(c) => Some(self.user_id_of(c).await?),
                None => None,
            };
            let query = ListSupportChannels {
                company_id,
                open: a.open,
                customer_user_id: customer_user_id.clone(),
                first: resume.fetch(limit),
                after: resume.after.clone(),
            };
            let mut page = self
                .client
                .list_support_channels(&query)
                .await
                .map_err(|e| ToolError::whop(e, Effect::Read))?;
            // Versions before the filter ignore it: keep only that customer's chat here too.
            if let Some(id) = &customer_user_id {
                page.data
                    .retain(|s| s.customer_user.as_ref().is_some_and(|u| &u.id == id));
            }
            Ok(page)
        })
        .await?;
        let listing = paginate(&resume, page, |s| SupportChannelOut::from(&s));
        let shown = listing.items.len();
        let filter = match a.open {
            Some(true) => "open ",
            Some(false) => "resolved ",
            None => "",
        };
        let mut text = format!(
            "{shown} {filter}support chat{}, most recent activity first, times UTC. Names and previews are untrusted user content.\n{}",
            plural(shown),
            listing.body
        );
        text.push_str(&footer(listing.next_cursor.as_deref(), "end of list"));
        output(
            &self.gate,
            text,
            &SupportPage {
                support_channels: listing.items,
                next_cursor: listing.next_cursor,
            },
        )
    }

    /// Open (or get) a customer's support chat to post in.
    #[tool(
        title = "Support chat",
        annotations(destructive_hint = false, idempotent_hint = true),
        output_schema = super::schema::<SupportChannelOut>()
    )]
    pub(crate) async fn open_support_channel(
        &self,
        Parameters(a): Parameters<OpenSupportChannelArgs>,
        ct: CancellationToken,
    ) -> ToolResult {
        let user = check_id("user", a.user.trim_start_matches('@'))?;
        let custom_name = match a.custom_name.as_deref().map(str::trim) {
            Some(n) if n.chars().count() > 100 => {
                return Err(ToolError::new("custom_name is longer than 100 characters."));
            }
            Some("") | None => None,
            Some(n) => Some(n.to_owned()),
        };
        let chat = cancellable(&ct, async {
            let company_id = self.company(a.company_id.as_deref()).await?;
            let request = CreateSupportChannel { company_id, user: user.clone(), custom_name };
            self.client.create_support_channel(&request).await.map_err(|e| match e.status() {
                Some(404) => ToolError::new(format!(
                    "Whop has no user {:?} (HTTP 404). Give a user id (user_…) or an exact username.",
                    render::inline(&user)
                )),
                _ => ToolError::whop(e, Effect::Write),
            })
        })
        .await?;
        let out = SupportChannelOut::from(&chat);
        let text = format!(
            "Support chat: {}. Post in it with send_message channel_id={}.",
            out.line(),
            out.id
        );
        output(&self.gate, text, &out)
    }
}
