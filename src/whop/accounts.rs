//! Who the key acts as: `GET /accounts/me` for account keys, `GET /users/me` for user tokens.

use super::{Client, Error, Kind, Request, models::Account, target};

impl Client {
    pub async fn me(&self) -> Result<Account, Error> {
        let account = self
            .json(Request::get(
                "/accounts/me",
                target("company:basic:read", Kind::Account, None),
            ))
            .await;
        match account {
            // A user token is not an account: ask who the user is instead.
            Err(e) if matches!(e.status(), Some(401 | 403 | 404)) => self
                .json(Request::get(
                    "/users/me",
                    target("company:basic:read", Kind::Account, None),
                ))
                .await
                .map_err(|_| e),
            other => other,
        }
    }
}
