//! `/support_channels`: one-to-one chats between a customer and the business.

use serde::Serialize;

use super::{
    Client, CompanyResource, Error, Kind, Request,
    messages::path_segment,
    models::{Page, SupportChannel},
    target, versions,
};

#[derive(Debug, Clone)]
pub struct ListSupportChannels {
    pub company_id: Option<String>,
    /// `Some(true)`: only unresolved chats; `Some(false)`: only resolved ones.
    pub open: Option<bool>,
    /// Only this customer's chat (a user id).
    pub customer_user_id: Option<String>,
    pub first: u32,
    pub after: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CreateSupportChannel {
    pub company_id: String,
    /// A user id (`user_…`) or a username.
    pub user: String,
    pub custom_name: Option<String>,
}

impl Client {
    /// Most recently active first; asks Whop to include each chat's last message where the
    /// pinned version knows the parameter.
    pub async fn list_support_channels(
        &self,
        q: &ListSupportChannels,
    ) -> Result<Page<SupportChannel>, Error> {
        self.json_naming_company(CompanyResource::SupportChannels, |company| {
            Request::get(
                "/support_channels",
                target("support_chat:read", Kind::Company, q.company_id.as_deref()),
            )
            .opt_param(company, q.company_id.as_ref())
            .opt_param("open", q.open)
            .opt_param(
                "customer_user_id",
                q.customer_user_id
                    .as_ref()
                    .filter(|_| versions::support_list_takes_customer_user_id(self.api_version())),
            )
            .param("order", "last_post_sent_at")
            .param("direction", "desc")
            .opt_param(
                "include_last_message",
                versions::support_list_takes_include_last_message(self.api_version())
                    .then_some(true),
            )
            .param("first", q.first)
            .opt_param("after", q.after.as_ref())
        })
        .await
    }

    pub async fn get_support_channel(&self, id: &str) -> Result<SupportChannel, Error> {
        let req = Request::get(
            format!("/support_channels/{}", path_segment(id)),
            target("support_chat:read", Kind::SupportChannel, Some(id)),
        );
        self.json(req).await
    }

    /// Opens a support chat with a customer, or returns the existing one (Whop's behaviour).
    pub async fn create_support_channel(
        &self,
        c: &CreateSupportChannel,
    ) -> Result<SupportChannel, Error> {
        self.json_naming_company(CompanyResource::SupportChannels, |company| {
            let mut body = serde_json::Map::new();
            body.insert(company.into(), c.company_id.clone().into());
            body.insert("user_id".into(), c.user.clone().into());
            if let Some(name) = &c.custom_name {
                body.insert("custom_name".into(), name.clone().into());
            }
            Request::post_json(
                "/support_channels",
                &Body(body),
                target("support_chat:create", Kind::Company, Some(&c.company_id)),
            )
        })
        .await
    }
}

#[derive(Serialize)]
#[serde(transparent)]
struct Body(serde_json::Map<String, serde_json::Value>);
