//! The operator opens customers' accounts and credits them from the browser, so
//! that a fresh service and a browser are enough to run a job end to end.

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;

use super::customer::{refused, to_sign_in};
use super::pages::{count, page, respond, Nav};
use super::session::Session;
use crate::api::{CreateUser, TopUp};
use crate::auth::Secret;
use crate::error::ApiError;
use crate::routes::AppState;

/// The forms on the operator's page.
pub fn forms(csrf: &str) -> Markup {
    html! {
        section.card {
            h2 { "Customers" }
            form.search method="post" action="/operator/users" {
                input type="hidden" name="csrf" value=(csrf);
                label for="new-user" { "Open an account for" }
                input #new-user name="user" required maxlength="256";
                label for="new-chips" { "with ByteChips" }
                input #new-chips type="number" name="amount" min="0" value="100000";
                button type="submit" { "Open" }
            }
            form.search method="post" action="/operator/top-ups" {
                input type="hidden" name="csrf" value=(csrf);
                label for="top-user" { "Credit" }
                input #top-user name="user" required maxlength="256";
                label for="top-chips" { "with ByteChips" }
                input #top-chips type="number" name="amount" min="1" value="100000";
                button type="submit" { "Credit" }
            }
        }
    }
}

/// The account form.
#[derive(Debug, Deserialize)]
pub struct AccountForm {
    /// The session's CSRF token.
    pub csrf: String,
    /// The user.
    pub user: String,
    /// ByteChips to credit (0: none).
    pub amount: u64,
}

/// The session of a form, its token checked; otherwise the answer to give.
fn checked(headers: &HeaderMap, csrf: &str) -> Result<Session, Box<Response>> {
    let Some(s) = Session::from_headers(headers) else { return Err(Box::new(to_sign_in())) };
    if !s.csrf_ok(Some(csrf)) {
        let e = ApiError::forbidden("the form's CSRF token is stale: reload the page");
        return Err(Box::new(refused(e, &s, headers)));
    }
    Ok(s)
}

/// `POST /operator/users`: open the account, credit it, and show its key once.
pub async fn open(State(app): State<AppState>, headers: HeaderMap, Form(form): Form<AccountForm>) -> Response {
    let s = match checked(&headers, &form.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let (user, amount) = (form.user.trim().to_string(), form.amount);
    let fresh = Secret::generate();
    let opened = app
        .seq
        .authed(Some(s.key.clone()), move |svc, at, who| {
            let created = svc.create_user(at, who, CreateUser { user: user.clone() }, fresh)?;
            if amount > 0 {
                svc.top_up(at, who, TopUp { user, amount }, None)?;
            }
            Ok(created)
        })
        .await;
    let created = match opened {
        Ok(c) => c,
        Err(e) => return refused(e, &s, &headers),
    };
    let body = html! {
        p { "The account " strong { (created.user) } " is open with " (count(amount)) " ByteChips. Its API key, shown this once:" }
        p { code #api-key { (created.api_key) } }
        p { "Give it to the customer: they sign in with it at this address." }
        p { a href="/operator" { "Back to the operator's page" } }
    };
    respond(StatusCode::CREATED, page("Account opened", Some(&s), Nav::Operator, body))
}

/// `POST /operator/top-ups`: credit a user, then back.
pub async fn top_up(State(app): State<AppState>, headers: HeaderMap, Form(form): Form<AccountForm>) -> Response {
    let s = match checked(&headers, &form.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let req = TopUp { user: form.user.trim().to_string(), amount: form.amount };
    match app.seq.authed(Some(s.key.clone()), move |svc, at, who| svc.top_up(at, who, req, None)).await {
        Ok(b) => {
            let body = html! {
                p #credited { (b.user) " now has " (count(b.available)) " ByteChips available." }
                p { a href="/operator" { "Back to the operator's page" } }
            };
            respond(StatusCode::OK, page("Credited", Some(&s), Nav::Operator, body))
        }
        Err(e) => refused(e, &s, &headers),
    }
}
