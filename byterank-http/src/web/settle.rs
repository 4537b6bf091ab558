//! The operator's payouts: those pending, each with a form to mark it paid or
//! rejected, and the latest ones with their states.

use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::customer::{refused, to_sign_in};
use super::pages::{count, shown_id, when};
use super::session::Session;
use super::worker::payout_row;
use crate::api::{PayoutList, PayoutsQuery, SettlePayout};
use crate::error::ApiError;
use crate::routes::AppState;
use crate::service::{PayoutState, Principal, Service};

/// Pending payouts listed.
const PENDING_SHOWN: u32 = 50;
/// Latest payouts listed.
const LATEST_SHOWN: u32 = 10;

/// The pending payouts and the latest ones, for the operator.
pub fn lists(svc: &Service, who: &Principal) -> Result<(PayoutList, PayoutList), ApiError> {
    let q = |state, limit| PayoutsQuery { state, limit: Some(limit), ..Default::default() };
    Ok((svc.payouts(who, &q(Some(PayoutState::Pending), PENDING_SHOWN))?, svc.payouts(who, &q(None, LATEST_SHOWN))?))
}

/// The payouts' section of the operator's page.
pub fn section(csrf: &str, pending: &PayoutList, latest: &PayoutList) -> Markup {
    html! {
        section.card #payouts-card {
            h2 { "Payouts" }
            @if pending.payouts.is_empty() { p { "None pending." } } @else {
                div.scroll { table #pending-payouts {
                    thead { tr { th.num { "Payout" } th { "Owner" } th.num { "ByteChips" } th { "Requested" } th { "Settle" } } }
                    tbody { @for p in &pending.payouts { tr {
                        td.num { (p.id) }
                        td { (shown_id(&p.owner)) }
                        td.num { (count(p.amount)) }
                        td { (when(p.requested_at)) }
                        td {
                            form.inline method="post" action={ "/operator/payouts/" (p.id) } {
                                input type="hidden" name="csrf" value=(csrf);
                                input type="hidden" name="state" value="paid";
                                button.pay type="submit" aria-label={ "Mark payout " (p.id) " paid" } { "Paid" }
                            }
                            " "
                            form.inline method="post" action={ "/operator/payouts/" (p.id) } {
                                input type="hidden" name="csrf" value=(csrf);
                                input type="hidden" name="state" value="rejected";
                                button.secondary.reject type="submit" aria-label={ "Reject payout " (p.id) } { "Reject" }
                            }
                        }
                    } } }
                } }
                @if pending.next.is_some() { p.muted { "More are pending: settle these first, or list them with GET /v1/payouts?state=pending." } }
            }
            @if !latest.payouts.is_empty() {
                h3 { "Latest" }
                div.scroll { table #latest-payouts {
                    thead { tr { th.num { "Payout" } th { "Owner" } th.num { "ByteChips" } th { "State" } th { "Requested" } th { "Settled" } } }
                    tbody { @for p in &latest.payouts { (payout_row(p, true)) } }
                } }
            }
        }
    }
}

/// The settle form.
#[derive(Debug, Deserialize)]
pub struct SettleForm {
    /// The session's CSRF token.
    pub csrf: String,
    /// `paid` or `rejected`.
    pub state: PayoutState,
}

/// `POST /operator/payouts/{payout}`: mark it paid or rejected, then back.
pub async fn settle(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(payout): Path<u64>,
    Form(form): Form<SettleForm>,
) -> Response {
    let Some(s) = Session::from_headers(&headers) else { return to_sign_in() };
    if !s.csrf_ok(Some(&form.csrf)) {
        return refused(ApiError::forbidden("the form's CSRF token is stale: reload the page"), &s, &headers);
    }
    let req = SettlePayout { state: form.state };
    match app.seq.authed(Some(s.key.clone()), move |svc, at, who| svc.settle_payout(at, who, payout, req)).await {
        Ok(_) => Redirect::to("/operator#payouts-card").into_response(),
        Err(e) => refused(e, &s, &headers),
    }
}
