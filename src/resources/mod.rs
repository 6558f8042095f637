//! Resources: `whop://channels` (the company's chat channels) and the template
//! `whop://channels/{channel_id}/messages` (a channel's recent messages), both rendered as the
//! tools render them; plus subscriptions to a channel's messages, served by [`watchers`].
//!
//! Only what the exposed read tools could read is offered: the channel list with
//! `list_channels`, messages (and their subscriptions) with `list_messages`.

mod watchers;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use rmcp::{
    ErrorData, RoleServer,
    handler::server::wrapper::Parameters,
    model::{
        CallToolResult, ContentBlock, ListResourceTemplatesResult, ListResourcesResult,
        ReadResourceResult, Resource, ResourceContents, ResourceTemplate,
        ResourceUpdatedNotificationParam, SubscriptionFilter,
    },
    service::{Peer, SubscriptionContext},
};
use tokio_util::sync::CancellationToken;

use crate::{
    exposure::Exposure,
    gate::Gate,
    output::text::inline,
    poll::baseline_now,
    tools::{Effect, ListChannelsArgs, ListMessagesArgs, ToolError, Toolbox},
};
pub(crate) use watchers::CLOCK_MARGIN;
pub use watchers::{Subscription, Update, Watchers};

pub(crate) const CHANNELS_URI: &str = "whop://channels";
pub(crate) const MESSAGES_TEMPLATE: &str = "whop://channels/{channel_id}/messages";

/// What a `whop://` URI names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResourceUri {
    Channels,
    Messages(String),
}

/// Parses our resource URIs; anything else is `None`.
pub(crate) fn parse_uri(uri: &str) -> Option<ResourceUri> {
    if uri == CHANNELS_URI {
        return Some(ResourceUri::Channels);
    }
    let id = uri
        .strip_prefix("whop://channels/")?
        .strip_suffix("/messages")?;
    let valid = !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    valid.then(|| ResourceUri::Messages(id.to_owned()))
}

/// One session's legacy `resources/subscribe` subscriptions, by URI.
pub(crate) type Subscriptions = Arc<Mutex<HashMap<String, CancellationToken>>>;

/// The resources of one server, shared by all its sessions.
pub(crate) struct Resources {
    toolbox: Arc<Toolbox>,
    /// Notifications carry URIs the client chose: they pass the exit gate too.
    gate: Gate,
    /// One watcher per channel, shared by every subscriber and every wait (the toolbox's).
    watchers: Arc<Watchers>,
    /// `whop://channels` is offered (`list_channels` is exposed).
    channels: bool,
    /// Channel messages are offered and may be subscribed to (`list_messages` is exposed).
    messages: bool,
}

impl Resources {
    pub(crate) fn new(toolbox: Arc<Toolbox>, gate: Gate, exposure: &Exposure) -> Self {
        let watchers = toolbox.watchers.clone();
        Resources {
            toolbox,
            gate,
            watchers,
            channels: exposure.exposes_name("list_channels"),
            messages: exposure.exposes_name("list_messages"),
        }
    }

    /// The same resources (one table of watchers) offered as `exposure` allows: for a server
    /// that exposes less than this one (an OAuth token with the read scope only).
    pub(crate) fn narrowed(&self, exposure: &Exposure) -> Self {
        Resources {
            toolbox: self.toolbox.clone(),
            gate: self.gate.clone(),
            watchers: self.watchers.clone(),
            channels: self.channels && exposure.exposes_name("list_channels"),
            messages: self.messages && exposure.exposes_name("list_messages"),
        }
    }

    /// What a URI names, if this server offers it.
    fn offered(&self, uri: &str) -> Option<ResourceUri> {
        match parse_uri(uri)? {
            ResourceUri::Channels if self.channels => Some(ResourceUri::Channels),
            ResourceUri::Messages(c) if self.messages => Some(ResourceUri::Messages(c)),
            _ => None,
        }
    }

    /// The channel a subscribable URI names, if this server offers it.
    fn subscribable(&self, uri: &str) -> Option<String> {
        match self.offered(uri) {
            Some(ResourceUri::Messages(channel)) => Some(channel),
            _ => None,
        }
    }

    /// Channels with a watcher now (for tests and logs).
    pub(crate) fn watched(&self) -> Vec<String> {
        self.watchers.watched()
    }

    pub(crate) fn list(&self) -> ListResourcesResult {
        let channels = Resource::new(CHANNELS_URI, "channels")
            .with_title("Chat channels")
            .with_description("The company's chat channels with their ids and posting rules.")
            .with_mime_type("text/plain");
        ListResourcesResult::with_all_items(self.channels.then_some(channels).into_iter().collect())
    }

    pub(crate) fn templates(&self) -> ListResourceTemplatesResult {
        let messages = ResourceTemplate::new(MESSAGES_TEMPLATE, "channel-messages")
            .with_title("Channel messages")
            .with_description("The 20 newest messages of a channel (feed_…, exp_…, support or DM chat id), as list_messages shows them. Subscribe to hear of new ones.")
            .with_mime_type("text/plain");
        ListResourceTemplatesResult::with_all_items(
            self.messages.then_some(messages).into_iter().collect(),
        )
    }

    /// A resource's text: what the matching list tool shows.
    pub(crate) async fn read(&self, uri: String) -> Result<ReadResourceResult, ErrorData> {
        let never = CancellationToken::new();
        let result = match self.offered(&uri) {
            Some(ResourceUri::Channels) => {
                let args = ListChannelsArgs {
                    company_id: None,
                    product_id: None,
                    limit: Some(100),
                    cursor: None,
                };
                self.toolbox.list_channels(Parameters(args), never).await
            }
            Some(ResourceUri::Messages(channel)) => {
                let args = ListMessagesArgs {
                    channel_id: channel,
                    limit: None,
                    cursor: None,
                    oldest_first: None,
                };
                self.toolbox.list_messages(Parameters(args), never).await
            }
            None => return Err(self.unknown_uri(&uri)),
        };
        let text = first_text(&result.map_err(|e| resource_error(&uri, e))?);
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(text, uri).with_mime_type("text/plain"),
        ]))
    }

    /// Legacy `resources/subscribe`: `resources/updated` goes to `peer` until unsubscribed.
    /// `stateless` sessions (HTTP, where the unsubscribe would arrive in another session and
    /// no stream carries the updates) are refused with a pointer to `subscriptions/listen`.
    pub(crate) async fn subscribe(
        &self,
        session: &Subscriptions,
        uri: String,
        peer: Peer<RoleServer>,
        stateless: bool,
    ) -> Result<(), ErrorData> {
        if stateless {
            return Err(ErrorData::invalid_request(
                "resources/subscribe needs a lasting session, which this stateless HTTP endpoint does not keep. \
                 Use subscriptions/listen (protocol 2026-07-28): its stream carries the updates and ends the \
                 subscription when it closes. Over stdio, resources/subscribe works as usual.",
                None,
            ));
        }
        let Some(channel) = self.subscribable(&uri) else {
            return Err(ErrorData::invalid_params(
                if self.messages {
                    format!("only {MESSAGES_TEMPLATE} resources can be subscribed to")
                } else {
                    "this server exposes no channel messages (list_messages is not among its tools), so there is \
                     nothing to subscribe to"
                        .to_owned()
                },
                None,
            ));
        };
        if session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&uri)
        {
            return Ok(());
        }
        // Refuse a channel Whop does not show this key, rather than watch it in vain.
        if let Err(e) = baseline_now(&self.toolbox.client, &channel).await
            && matches!(e.status(), Some(401 | 403 | 404))
        {
            return Err(resource_error(&uri, ToolError::whop(e, Effect::Read)));
        }
        let stop = CancellationToken::new();
        session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(uri.clone(), stop.clone());
        let uri = self.gate.scrub(&uri).into_owned();
        self.forward(channel, stop, move || {
            let (peer, uri) = (peer.clone(), uri.clone());
            async move {
                peer.notify_resource_updated(ResourceUpdatedNotificationParam::new(uri))
                    .await
                    .is_ok()
            }
        });
        Ok(())
    }

    pub(crate) fn unsubscribe(&self, session: &Subscriptions, uri: &str) {
        if let Some(stop) = session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(uri)
        {
            stop.cancel();
        }
    }

    /// The part of a `subscriptions/listen` filter we serve: channel message resources.
    pub(crate) fn accepted_filter(&self, requested: &SubscriptionFilter) -> SubscriptionFilter {
        let uris: Vec<String> = requested
            .resource_subscriptions
            .iter()
            .flatten()
            .filter(|uri| self.subscribable(uri).is_some())
            .cloned()
            .collect();
        let mut accepted = SubscriptionFilter::new();
        accepted.resource_subscriptions = Some(uris);
        accepted
    }

    /// A 2026-07-28 `subscriptions/listen` stream: notifies until the client ends it.
    pub(crate) async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let stop = CancellationToken::new();
        for uri in context.accepted().resource_subscriptions.iter().flatten() {
            let Some(channel) = self.subscribable(uri) else {
                continue;
            };
            let sink = context.sink().clone();
            let uri = self.gate.scrub(uri).into_owned();
            self.forward(channel, stop.clone(), move || {
                let (sink, uri) = (sink.clone(), uri.clone());
                async move { sink.notify_resource_updated(uri).await.is_ok() }
            });
        }
        context.cancelled().await;
        stop.cancel();
        Ok(())
    }

    /// Forwards a channel's updates to `notify` until `stop` fires, `notify` fails or the
    /// channel is gone (after one last notification, so the client reads the resource and
    /// sees why), then leaves the watcher. Joins the watcher before returning, so the
    /// subscription counts from this moment.
    fn forward<F, Fut>(&self, channel: String, stop: CancellationToken, notify: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = bool> + Send,
    {
        let mut subscription = self.watchers.subscribe(&channel);
        tokio::spawn(async move {
            loop {
                let update = tokio::select! {
                    _ = stop.cancelled() => break,
                    update = subscription.next() => update,
                };
                match update {
                    Some(Update::New) => {
                        if !notify().await {
                            break;
                        }
                    }
                    Some(Update::Gone(status)) => {
                        tracing::info!(
                            channel,
                            status,
                            "subscription ended: Whop refused the channel"
                        );
                        notify().await;
                        break;
                    }
                    None => break,
                }
            }
        });
    }
}

fn first_text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .find_map(|c| match c {
            ContentBlock::Text(t) => Some(t.text.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

fn resource_error(uri: &str, e: ToolError) -> ErrorData {
    match e.status {
        Some(404) => ErrorData::resource_not_found(format!("{uri}: {}", e.message), None),
        _ => ErrorData::internal_error(format!("{uri}: {}", e.message), None),
    }
}

impl Resources {
    /// Names the resources this server does offer.
    fn unknown_uri(&self, uri: &str) -> ErrorData {
        let offered: Vec<&str> = [
            self.channels.then_some(CHANNELS_URI),
            self.messages.then_some(MESSAGES_TEMPLATE),
        ]
        .into_iter()
        .flatten()
        .collect();
        let hint = if offered.is_empty() {
            "this server offers no resources with its tools".to_owned()
        } else {
            format!("use {}", offered.join(" or "))
        };
        ErrorData::resource_not_found(format!("unknown resource {:?}; {hint}", inline(uri)), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(parse_uri("whop://channels"), Some(ResourceUri::Channels));
        assert_eq!(
            parse_uri("whop://channels/feed_7HgT/messages"),
            Some(ResourceUri::Messages("feed_7HgT".into()))
        );
        assert_eq!(
            parse_uri("whop://channels/exp_1/messages"),
            Some(ResourceUri::Messages("exp_1".into()))
        );
        for bad in [
            "whop://channels/",
            "whop://channels//messages",
            "whop://channels/a/b/messages",
            "file:///etc/passwd",
            "whop://channels/x%2F/messages",
        ] {
            assert_eq!(parse_uri(bad), None, "{bad}");
        }
    }
}
