//! `/messages`: list, retrieve, create, update, delete.

use http::Method;
use serde::Serialize;

use super::{
    Client, Error, Kind, Request,
    models::{Message, Page},
    target,
};

/// `GET /messages` parameters.
#[derive(Debug, Clone)]
pub struct ListMessages {
    pub channel_id: String,
    pub first: u32,
    pub after: Option<String>,
    /// `true` = newest first. Always sent: Whop's default order is undocumented.
    pub newest_first: bool,
}

/// `POST /messages`, in our terms; the Whop body is built by [`Client::create_message`].
#[derive(Debug, Clone, Default)]
pub struct CreateMessage {
    pub channel_id: String,
    pub content: String,
    pub attachment_ids: Vec<String>,
    pub replying_to_message_id: Option<String>,
    /// Option texts; Whop wants ids "1", "2", … which are assigned here.
    pub poll_options: Vec<String>,
    pub auto_detect_links: Option<bool>,
}

/// `PATCH /messages/{id}`: only what is set is sent.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UpdateMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_pinned: Option<bool>,
}

#[derive(Serialize)]
struct IdRef<'a> {
    id: &'a str,
}

#[derive(Serialize)]
struct PollBody<'a> {
    options: Vec<PollOptionBody<'a>>,
}

#[derive(Serialize)]
struct PollOptionBody<'a> {
    id: String,
    text: &'a str,
}

#[derive(Serialize)]
struct CreateBody<'a> {
    channel_id: &'a str,
    content: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    attachments: Option<Vec<IdRef<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auto_detect_links: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    poll: Option<PollBody<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    replying_to_message_id: Option<&'a str>,
}

impl Client {
    pub async fn list_messages(&self, q: &ListMessages) -> Result<Page<Message>, Error> {
        let req = Request::get(
            "/messages",
            target("chat:read", Kind::Channel, Some(&q.channel_id)),
        )
        .param("channel_id", &q.channel_id)
        .param("first", q.first)
        .param("direction", if q.newest_first { "desc" } else { "asc" })
        .opt_param("after", q.after.as_ref());
        // The hot path: a dedicated decoder, same results as serde_json (see decode.rs).
        self.json_with(req, super::decode::page_of_messages).await
    }

    pub async fn get_message(&self, id: &str) -> Result<Message, Error> {
        let req = Request::get(
            format!("/messages/{}", path_segment(id)),
            target("chat:read", Kind::Message, Some(id)),
        );
        self.json(req).await
    }

    pub async fn create_message(&self, m: &CreateMessage) -> Result<Message, Error> {
        let body = CreateBody {
            channel_id: &m.channel_id,
            content: &m.content,
            attachments: (!m.attachment_ids.is_empty())
                .then(|| m.attachment_ids.iter().map(|id| IdRef { id }).collect()),
            auto_detect_links: m.auto_detect_links,
            poll: (!m.poll_options.is_empty()).then(|| PollBody {
                options: m
                    .poll_options
                    .iter()
                    .enumerate()
                    .map(|(i, text)| PollOptionBody {
                        id: (i + 1).to_string(),
                        text,
                    })
                    .collect(),
            }),
            replying_to_message_id: m.replying_to_message_id.as_deref(),
        };
        let req = Request::post_json(
            "/messages",
            &body,
            target("chat:message:create", Kind::Channel, Some(&m.channel_id)),
        );
        self.json(req).await
    }

    pub async fn update_message(&self, id: &str, u: &UpdateMessage) -> Result<Message, Error> {
        let req = Request::new(
            Method::PATCH,
            format!("/messages/{}", path_segment(id)),
            target("chat:message:create", Kind::Message, Some(id)),
        )
        .json(u);
        self.json(req).await
    }

    /// Whop answers a JSON boolean.
    pub async fn delete_message(&self, id: &str) -> Result<bool, Error> {
        let req = Request::new(
            Method::DELETE,
            format!("/messages/{}", path_segment(id)),
            target("chat:message:create", Kind::Message, Some(id)),
        );
        self.json(req).await
    }
}

/// Percent-encodes an id for use as one path segment, so an id can never change the path.
pub(crate) fn path_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::path_segment;

    #[test]
    fn ids_cannot_escape_their_path_segment() {
        assert_eq!(path_segment("msg_abc123"), "msg_abc123");
        assert_eq!(path_segment("../accounts/me"), "..%2Faccounts%2Fme");
        assert_eq!(path_segment("a?b#c d"), "a%3Fb%23c%20d");
    }
}
