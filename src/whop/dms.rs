//! `/dm_channels` and `/dm_members`: the DMs and group DMs of the key's identity, and who is
//! in each (with their status: a `requested` member has not accepted the conversation yet).

use serde::Serialize;

use super::{
    Client, CompanyResource, Error, Kind, Request,
    models::{DmChannel, DmMember, Page},
    target,
};

/// `POST /dm_channels`: opens a DM with one user, a group DM with several, or returns the
/// existing channel with exactly those members (Whop's behaviour).
#[derive(Debug, Clone)]
pub struct CreateDmChannel {
    /// User ids (`user_…`), usernames or emails.
    pub with_user_ids: Vec<String>,
    pub company_id: Option<String>,
    pub custom_name: Option<String>,
}

#[derive(Serialize)]
#[serde(transparent)]
struct Body(serde_json::Map<String, serde_json::Value>);

impl Client {
    /// Most recently active first; `company_id` keeps only channels scoped to that company.
    pub async fn list_dm_channels(
        &self,
        company_id: Option<&str>,
        first: u32,
        after: Option<&str>,
    ) -> Result<Page<DmChannel>, Error> {
        self.json_naming_company(CompanyResource::DmChannels, |company| {
            Request::get("/dm_channels", target("dms:read", Kind::DmChannel, None))
                .opt_param(company, company_id)
                .param("first", first)
                .opt_param("after", after)
        })
        .await
    }

    pub async fn create_dm_channel(&self, c: &CreateDmChannel) -> Result<DmChannel, Error> {
        self.json_naming_company(CompanyResource::DmChannels, |company| {
            let mut body = serde_json::Map::new();
            body.insert("with_user_ids".into(), c.with_user_ids.clone().into());
            if let Some(id) = &c.company_id {
                body.insert(company.into(), id.clone().into());
            }
            if let Some(name) = &c.custom_name {
                body.insert("custom_name".into(), name.clone().into());
            }
            Request::post_json(
                "/dm_channels",
                &Body(body),
                target("dms:channel:manage", Kind::User, None),
            )
        })
        .await
    }

    pub async fn list_dm_members(
        &self,
        channel_id: &str,
        first: u32,
        after: Option<&str>,
    ) -> Result<Page<DmMember>, Error> {
        let req = Request::get(
            "/dm_members",
            target("dms:read", Kind::DmChannel, Some(channel_id)),
        )
        .param("channel_id", channel_id)
        .param("first", first)
        .opt_param("after", after);
        self.json(req).await
    }
}
