//! `/reactions`: emoji reactions on messages, and poll votes.

use http::Method;
use serde::Serialize;

use super::{
    Client, Error, Kind, Request,
    messages::path_segment,
    models::{Page, Reaction},
    target,
};

#[derive(Serialize)]
struct CreateBody<'a> {
    resource_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    emoji: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    poll_option_id: Option<&'a str>,
}

impl Client {
    /// Reactions on a message (or forum post), newest first.
    pub async fn list_reactions(
        &self,
        message_id: &str,
        first: u32,
        after: Option<&str>,
    ) -> Result<Page<Reaction>, Error> {
        let req = Request::get(
            "/reactions",
            target("chat:read", Kind::Message, Some(message_id)),
        )
        .param("resource_id", message_id)
        .param("first", first)
        .opt_param("after", after);
        self.json(req).await
    }

    pub async fn create_reaction(
        &self,
        message_id: &str,
        emoji: Option<&str>,
        poll_option_id: Option<&str>,
    ) -> Result<Reaction, Error> {
        let body = CreateBody {
            resource_id: message_id,
            emoji,
            poll_option_id,
        };
        let req = Request::post_json(
            "/reactions",
            &body,
            target("chat:read", Kind::Message, Some(message_id)),
        );
        self.json(req).await
    }

    /// Removes the caller's `emoji` reaction from a message (`id` is the message id), or a
    /// reaction by its own id (`reac_…`) when `emoji` is `None`.
    pub async fn delete_reaction(&self, id: &str, emoji: Option<&str>) -> Result<bool, Error> {
        let req = Request::new(
            Method::DELETE,
            format!("/reactions/{}", path_segment(id)),
            target("chat:read", Kind::Message, Some(id)),
        )
        .opt_param("emoji", emoji);
        self.json(req).await
    }
}
