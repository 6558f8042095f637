//! `/chat_channels`: the chat rooms of a company (each belongs to a chat experience).

use http::Method;
use serde::Serialize;

use super::{
    Client, CompanyResource, Error, Kind, Request,
    messages::path_segment,
    models::{ChatChannel, Page},
    target,
};

#[derive(Debug, Clone)]
pub struct ListChatChannels {
    pub company_id: String,
    pub product_id: Option<String>,
    pub first: u32,
    pub after: Option<String>,
}

/// `PATCH /chat_channels/{id}`: only what is set is sent. `user_posts_cooldown_seconds`
/// `Some(0)` removes slow mode.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UpdateChatChannel {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub who_can_post: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub who_can_react: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_posts_cooldown_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ban_urls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ban_media: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub banned_words: Option<Vec<String>>,
}

impl Client {
    pub async fn list_chat_channels(
        &self,
        q: &ListChatChannels,
    ) -> Result<Page<ChatChannel>, Error> {
        self.json_naming_company(CompanyResource::ChatChannels, |company| {
            Request::get(
                "/chat_channels",
                target("chat:read", Kind::Company, Some(&q.company_id)),
            )
            .param(company, &q.company_id)
            .param("first", q.first)
            .opt_param("product_id", q.product_id.as_ref())
            .opt_param("after", q.after.as_ref())
        })
        .await
    }

    /// Accepts a chat channel id (`feed_…`) or the id of its experience (`exp_…`).
    pub async fn get_chat_channel(&self, id: &str) -> Result<ChatChannel, Error> {
        let req = Request::get(
            format!("/chat_channels/{}", path_segment(id)),
            target("chat:read", Kind::Channel, Some(id)),
        );
        self.json(req).await
    }

    /// Changes a channel's moderation settings (`id`: feed_… or exp_…).
    pub async fn update_chat_channel(
        &self,
        id: &str,
        u: &UpdateChatChannel,
    ) -> Result<ChatChannel, Error> {
        let req = Request::new(
            Method::PATCH,
            format!("/chat_channels/{}", path_segment(id)),
            target("chat:moderate", Kind::Channel, Some(id)),
        )
        .json(u);
        self.json(req).await
    }
}
