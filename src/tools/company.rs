//! Which company a tool works on when its `company_id` is left out.

use super::{Effect, ToolError, Toolbox, check_id};

impl Toolbox {
    /// The company a tool works on: the argument, else WHOP_COMPANY_ID, else the key's own
    /// company (asked once from `GET /accounts/me` and remembered).
    pub(crate) async fn company(&self, arg: Option<&str>) -> Result<String, ToolError> {
        if let Some(id) = arg {
            return check_id("company_id", id);
        }
        if let Some(id) = &self.settings.company_id {
            return Ok(id.clone());
        }
        let id = self
            .own_company
            .get_or_try_init(|| async {
                let me = self.client.me().await.map_err(|e| match e.status() {
                    Some(403 | 404) => ToolError::new(format!(
                        "No company given, and the key's own could not be found: {}",
                        super::account::identity_refused(&e)
                    )),
                    _ => ToolError::whop(e, Effect::Read),
                })?;
                if me.id.starts_with("biz_") {
                    Ok(me.id)
                } else {
                    Err(ToolError::new(
                        "This key acts as a user, not a company: pass company_id (biz_…) or set WHOP_COMPANY_ID.",
                    ))
                }
            })
            .await?;
        Ok(id.clone())
    }
}
