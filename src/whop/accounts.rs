//! Who the key acts as: `GET /accounts/me` for account keys, `GET /users/me` for user tokens.
//! Only identity is asked for: `users/me` computes live balances unless told not to
//! (`include_balance=false`, from whop-sdk 1.1.5's pin on).

use super::{Client, Error, Kind, Request, models::Account, target, versions};

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
                .json(
                    Request::get(
                        "/users/me",
                        target("company:basic:read", Kind::Account, None),
                    )
                    .opt_param(
                        "include_balance",
                        versions::users_me_takes_include_balance(self.api_version())
                            .then_some(false),
                    ),
                )
                .await
                .map_err(|_| e),
            other => other,
        }
    }
}
