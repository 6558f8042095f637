//! `/users`: people by name or username (ranked by Whop by social proximity), and one user by
//! id. Only identity is asked for: user reads compute live balances unless told not to
//! (`include_balance=false`, from whop-sdk 1.1.5's pin on, as for `users/me`).

use super::{
    Client, Error, Kind, Request,
    messages::path_segment,
    models::{Page, User},
    target, versions,
};

impl Client {
    pub async fn search_users(
        &self,
        query: &str,
        first: u32,
        after: Option<&str>,
    ) -> Result<Page<User>, Error> {
        let req = Request::get("/users", target("", Kind::User, None))
            .param("query", query)
            .param("first", first)
            .opt_param("after", after);
        self.json(req).await
    }

    pub async fn get_user(&self, id: &str) -> Result<User, Error> {
        let req = Request::get(
            format!("/users/{}", path_segment(id)),
            target("", Kind::User, Some(id)),
        )
        .opt_param(
            "include_balance",
            versions::users_me_takes_include_balance(self.api_version()).then_some(false),
        );
        self.json(req).await
    }
}
