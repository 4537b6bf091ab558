//! The Worker App's page: a worker owner, signed in with the owner key, sees
//! their devices with rank and flags, their wallet (balance, what they earned,
//! payouts pending and paid) and its history a page at a time, and asks for
//! payouts.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use byterank_core::capacity::capacity_score;
use byterank_core::flags::flags;
use byterank_core::DeviceView;
use maud::{html, Markup};
use serde::Deserialize;

use super::customer::{refused, to_sign_in};
use super::pages::{count, page, respond, shown_id, when, Nav};
use super::session::{random_token, Session};
use crate::api::{PayoutList, PayoutRequest, PayoutsQuery, Wallet};
use crate::error::ApiError;
use crate::routes::money::wallet_history;
use crate::routes::AppState;
use crate::service::{Entry, Payout, PayoutState, Principal, Service};

/// History lines per page.
const HISTORY_PAGE: u32 = 25;
/// Devices listed.
const DEVICES_SHOWN: usize = 200;
/// Payouts listed.
const PAYOUTS_SHOWN: u32 = 20;

/// Which page of the history to show.
#[derive(Debug, Default, Deserialize)]
pub struct WalletPage {
    /// History lines older than this one.
    #[serde(default)]
    pub before: Option<u64>,
}

/// One of the owner's devices.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceLine {
    /// Its id.
    pub id: String,
    /// Its ByteRank at the last refresh (0: flagged or not yet ranked).
    pub rank: u32,
    /// Its capacity score.
    pub capacity: f64,
    /// Its fault rate.
    pub fault_rate: f64,
    /// Threshold flags that keep it out of the ranking.
    pub flags: Vec<String>,
    /// Whether the operator trusts it.
    pub trusted: bool,
}

/// The owner's live devices (at most `DEVICES_SHOWN`, by id), and how many there are.
pub fn owner_devices(svc: &Service, owner: &str) -> (usize, Vec<DeviceLine>) {
    let engine = svc.engine();
    let cfg = &engine.config().index;
    let now = engine.now();
    let mut mine: Vec<_> = engine.live_devices_by_handle().filter(|(h, _)| engine.owner(*h) == Some(owner)).collect();
    let total = mine.len();
    if total > DEVICES_SHOWN {
        mine.select_nth_unstable_by(DEVICES_SHOWN, |a, b| a.1.id.cmp(&b.1.id));
        mine.truncate(DEVICES_SHOWN);
    }
    mine.sort_unstable_by(|a, b| a.1.id.cmp(&b.1.id));
    let lines = mine
        .into_iter()
        .map(|(h, d)| DeviceLine {
            id: d.id.clone(),
            rank: engine.rank(h),
            capacity: capacity_score(d, &cfg.capacity),
            fault_rate: d.faults().fault_rate(),
            flags: flags(d, now, &cfg.flags).iter().map(|f| f.name().to_string()).collect(),
            trusted: d.trusted,
        })
        .collect();
    (total, lines)
}

/// A payout state's label.
pub fn payout_label(s: PayoutState) -> &'static str {
    match s {
        PayoutState::Pending => "pending",
        PayoutState::Paid => "paid",
        PayoutState::Rejected => "rejected",
    }
}

/// What a history line did to the wallet, signed.
fn history_amount(e: &Entry) -> String {
    match e.kind.as_str() {
        "payout" => format!("−{}", count(e.amount)),
        "payout_paid" => format!("({})", count(e.amount)),
        _ => format!("+{}", count(e.amount)),
    }
}

fn history_what(e: &Entry) -> String {
    match e.kind.as_str() {
        "reward" => "reward".into(),
        "payout" => format!("payout {} requested", e.payout.unwrap_or(0)),
        "payout_paid" => format!("payout {} paid", e.payout.unwrap_or(0)),
        "payout_returned" => format!("payout {} rejected, returned", e.payout.unwrap_or(0)),
        k => k.replace('_', " "),
    }
}

/// `/wallet`: the owner's devices, wallet, payouts and history.
pub async fn wallet_page(
    State(app): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<WalletPage>, QueryRejection>,
) -> Response {
    let Some(s) = Session::from_headers(&headers) else { return to_sign_in() };
    let before = q.map(|Query(q)| q.before).unwrap_or_default();
    let got = app
        .seq
        .authed(Some(s.key.clone()), |svc, _, who| {
            let Principal::Owner(owner) = who else {
                return Err(ApiError::forbidden("the wallet's page is for worker owners: sign in with the owner key"));
            };
            let payouts = svc.payouts(who, &PayoutsQuery { limit: Some(PAYOUTS_SHOWN), ..Default::default() })?;
            Ok((svc.wallet(who)?, payouts, owner_devices(svc, owner)))
        })
        .await;
    let (wallet, payouts, (device_count, devices)): (Wallet, PayoutList, (usize, Vec<DeviceLine>)) = match got {
        Ok(v) => v,
        Err(e) => return refused(e, &s, &headers),
    };
    let (history, next) = match wallet_history(&app, &wallet.owner, before, HISTORY_PAGE).await {
        Ok(h) => h,
        Err(e) => return refused(e, &s, &headers),
    };
    let body = html! {
        section.card {
            h2 { "Your ByteChips" }
            dl.facts #wallet {
                dt { "Balance" } dd #balance { (count(wallet.balance)) " ByteChips" }
                dt { "Earned, in all" } dd #earned { (count(wallet.earned)) }
                dt { "Payouts pending" } dd #pending { (count(wallet.pending)) }
                dt { "Paid out" } dd #paid-out { (count(wallet.paid_out)) }
            }
            (payout_form(&s.csrf, wallet.balance))
        }
        section.card {
            h2 { "Payouts" }
            @if payouts.payouts.is_empty() { p { "None yet." } } @else {
                div.scroll { table #payouts {
                    thead { tr { th.num { "Payout" } th.num { "ByteChips" } th { "State" } th { "Requested" } th { "Settled" } } }
                    tbody { @for p in &payouts.payouts { (payout_row(p, false)) } }
                } }
            }
        }
        section.card {
            h2 { "Devices" }
            p { (count(device_count as u64)) " live devices" @if device_count > devices.len() { ", the first " (devices.len()) " by id" } "." }
            @if !devices.is_empty() {
                div.scroll { table #devices {
                    thead { tr { th { "Device" } th.num { "Rank" } th.num { "Capacity" } th.num { "Fault rate" } th { "Flags" } th { "Trusted" } } }
                    tbody { @for d in &devices { tr {
                        td { (shown_id(&d.id)) }
                        td.num { @if d.rank == 0 { "—" } @else { (d.rank) } }
                        td.num { (format!("{:.1}", d.capacity)) }
                        td.num { (format!("{:.3}", d.fault_rate)) }
                        td { (d.flags.join(", ")) }
                        td { @if d.trusted { "yes" } @else { "no" } }
                    } } }
                } }
            }
        }
        section.card {
            h2 { "History" }
            @if history.is_empty() { p { "Nothing yet." } } @else {
                div.scroll { table #history {
                    thead { tr { th { "When" } th { "What" } th { "Job" } th { "Device" } th.num { "ByteChips" } } }
                    tbody { @for e in &history { tr {
                        td.nowrap { (when(e.at)) }
                        td { (history_what(e)) }
                        td { @if let Some(j) = &e.job { (shown_id(j)) } }
                        td.nowrap { @if let Some(d) = &e.device { (shown_id(d)) } }
                        td.num.nowrap { (history_amount(e)) }
                    } } }
                } }
            }
            p.pager {
                @if before.is_some() { a href="/wallet" { "Newest" } " " }
                @if let Some(n) = next { a href={ "/wallet?before=" (n) } rel="next" { "Older" } }
            }
        }
    };
    respond(StatusCode::OK, page("Wallet", Some(&s), Nav::Wallet, body))
}

fn payout_form(csrf: &str, balance: u64) -> Markup {
    html! {
        form.search method="post" action="/wallet/payouts" {
            input type="hidden" name="csrf" value=(csrf);
            // A retry of this form (a reload, a second press) is the same request.
            input type="hidden" name="idem" value=(random_token());
            label for="payout-amount" { "Redeem ByteChips" }
            input #payout-amount type="number" name="amount" min="1" max=(balance.max(1)) required;
            button type="submit" disabled[balance == 0] { "Request a payout" }
        }
    }
}

/// A payout's row (with its owner, for the operator).
pub fn payout_row(p: &Payout, owner: bool) -> Markup {
    html! {
        tr {
            td.num { (p.id) }
            @if owner { td { (shown_id(&p.owner)) } }
            td.num { (count(p.amount)) }
            td { span class={ "state payout-" (payout_label(p.state)) } { (payout_label(p.state)) } }
            td.nowrap { (when(p.requested_at)) }
            td.nowrap { @if let Some(at) = p.settled_at { (when(at)) } @else { "—" } }
        }
    }
}

/// The payout form.
#[derive(Debug, Deserialize)]
pub struct PayoutForm {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf: String,
    /// The form's idempotency key.
    #[serde(default)]
    pub idem: String,
    /// ByteChips.
    #[serde(default)]
    pub amount: String,
}

/// `POST /wallet/payouts`: ask for a payout, then back to the wallet.
pub async fn request_payout(State(app): State<AppState>, headers: HeaderMap, Form(form): Form<PayoutForm>) -> Response {
    let Some(s) = Session::from_headers(&headers) else { return to_sign_in() };
    if !s.csrf_ok(Some(&form.csrf)) {
        return refused(ApiError::forbidden("the form's CSRF token is stale: reload the page"), &s, &headers);
    }
    let Ok(amount) = form.amount.trim().parse::<u64>() else {
        let e = ApiError::bad_request("the amount is a whole number of ByteChips").at("amount");
        return refused(e, &s, &headers);
    };
    let key = Some(form.idem).filter(|k| !k.is_empty());
    let req = PayoutRequest { amount };
    match app
        .seq
        .authed(Some(s.key.clone()), move |svc, at, who| svc.request_payout(at, who, req, key.as_deref()))
        .await
    {
        Ok(_) => Redirect::to("/wallet").into_response(),
        Err(e) => refused(e, &s, &headers),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CreateOwner, RegisterDevice};
    use crate::auth::Secret;
    use byterank_core::{Device, EngineConfig, Timestamp};

    /// An owner's devices: theirs only, the first by id, counted in all; checked
    /// against the engine's devices filtered and sorted here.
    #[test]
    fn an_owners_devices_are_theirs_first_by_id() {
        let mut svc = Service::new(EngineConfig::default()).unwrap();
        let at = Timestamp(1_800_000_000_000);
        for o in ["a", "b"] {
            svc.create_owner(at, None, CreateOwner { owner: o.into() }, Secret::generate()).unwrap();
        }
        // Ids registered out of order, for two owners, more than a page of `a`'s.
        for i in (0..DEVICES_SHOWN + 57).rev() {
            let owner = if i % 3 == 0 { "b" } else { "a" };
            let req =
                RegisterDevice { device: Device::new(format!("dev-{:05}", (i * 7919) % 100_000)), owner: owner.into() };
            svc.register_device(at, Some(&Principal::Owner(owner.into())), req, Secret::generate()).unwrap();
        }
        for owner in ["a", "b", "nobody"] {
            let mut want: Vec<String> = svc
                .engine()
                .live_devices()
                .filter(|(h, _)| svc.engine().owner(*h) == Some(owner))
                .map(|(_, d)| d.id.clone())
                .collect();
            let total = want.len();
            want.sort();
            want.truncate(DEVICES_SHOWN);
            let (n, lines) = owner_devices(&svc, owner);
            assert_eq!(n, total, "{owner}");
            assert_eq!(lines.iter().map(|l| l.id.clone()).collect::<Vec<_>>(), want, "{owner}");
        }
    }
}
