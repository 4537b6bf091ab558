//! The customer's pages: the job list, a job's page (which refreshes itself while
//! the job runs), the job form, and billing with usage.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};

use super::pages::{count, duration, job_href, message_page, page, respond, segment, shown_id, when, Nav};
use super::session::{set_cookie, Session, KEY_COOKIE};
use crate::api::Balance;
use crate::error::ApiError;
use crate::listing::{self, JobLine, JobsQuery, Usage, UsageQuery};
use crate::routes::AppState;
use crate::service::{Entry, JobState, Principal, Service};

/// A refusal as a page: an expired key signs the browser out.
pub fn refused(e: ApiError, s: &Session, headers: &HeaderMap) -> Response {
    if e.status == 401 {
        let mut resp = Redirect::to("/").into_response();
        resp.headers_mut().append(header::SET_COOKIE, set_cookie(headers, KEY_COOKIE, ""));
        return resp;
    }
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    message_page(status, Some(s), "Not possible", &e.message)
}

/// Where a browser without a session goes.
pub fn to_sign_in() -> Response {
    Redirect::to("/").into_response()
}

/// A job state's label.
pub fn state_label(s: &JobState) -> &'static str {
    match s {
        JobState::AwaitingInput => "awaiting input",
        JobState::Running => "running",
        JobState::Completed => "completed",
        JobState::Failed => "failed",
        JobState::Cancelled => "cancelled",
    }
}

fn progress(done: u32, tasks: u32) -> Markup {
    html! {
        progress value=(done) max=(tasks.max(1)) aria-label="tasks done" {}
        " " span.num { (count(done.into())) " / " (count(tasks.into())) }
    }
}

/// `/jobs`: the user's jobs, newest first, a page at a time.
pub async fn jobs_page(
    State(app): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<JobsQuery>, QueryRejection>,
) -> Response {
    let Some(s) = Session::from_headers(&headers) else { return to_sign_in() };
    let Ok(Query(mut q)) = q else {
        return message_page(StatusCode::BAD_REQUEST, Some(&s), "Not possible", "The page link is malformed.");
    };
    q.limit = Some(q.limit.unwrap_or(25));
    let list = match app.seq.authed(Some(s.key.clone()), move |svc, _, who| listing::jobs(svc, who, &q)).await {
        Ok(l) => l,
        Err(e) => return refused(e, &s, &headers),
    };
    let body = html! {
        p { a.button href="/new-job" { "New job" } }
        @if list.jobs.is_empty() {
            p { "No jobs yet." }
        } @else {
            div.scroll {
                table {
                    thead { tr { th { "Job" } th { "Application" } th { "State" } th { "Tasks done" } th.num { "Price" } th { "Created" } } }
                    tbody {
                        @for j in &list.jobs { (job_row(j)) }
                    }
                }
            }
        }
        @if let Some(next) = &list.next {
            p { a href={ "/jobs?after=" (segment(next)) } rel="next" { "Older jobs" } }
        }
    };
    respond(StatusCode::OK, page("Your jobs", Some(&s), Nav::Jobs, body))
}

fn job_row(j: &JobLine) -> Markup {
    html! {
        tr {
            td { a.id href=(job_href(&j.id)) { (shown_id(&j.id)) } }
            td { (j.application) }
            td { span class={ "state " (state_label(&j.state).replace(' ', "-")) } { (state_label(&j.state)) } }
            td { (progress(j.done, j.tasks)) }
            td.num { (count(j.price)) }
            td { @if let Some(at) = j.created_at { (when(at)) } }
        }
    }
}

/// What a job's page shows.
struct JobFacts {
    line: JobLine,
    copies: u32,
    pjf: f64,
    refunded: u64,
    reason: Option<String>,
    charged_at: Option<i64>,
    now: i64,
}

fn job_facts(svc: &Service, who: &Principal, id: &str, now: i64) -> Result<JobFacts, ApiError> {
    let not_found = || ApiError::not_found(format!("no job `{}` of yours", byterank_core::device::display_id(id)));
    let book = svc.job(id).ok_or_else(not_found)?;
    match who {
        Principal::Operator => {}
        Principal::User(u) if *u == book.user => {}
        _ => return Err(not_found()),
    }
    Ok(JobFacts {
        line: listing::line(svc, id, book),
        copies: book.copies,
        pjf: book.pjf,
        refunded: book.refunded.0,
        reason: book.reason.clone(),
        charged_at: book.charged_at.map(|t| t.millis()),
        now,
    })
}

/// The time left, from the pace so far: elapsed × left ÷ done.
fn eta(f: &JobFacts) -> Option<u64> {
    let (done, tasks) = (u64::from(f.line.done), u64::from(f.line.tasks));
    let started = f.charged_at?;
    if f.line.state != JobState::Running || done == 0 || done >= tasks {
        return None;
    }
    let elapsed = u64::try_from(f.now.saturating_sub(started)).ok()?;
    Some(elapsed.saturating_mul(tasks - done) / done / 1_000)
}

/// `/jobs/{job}`: one job; refreshes itself while the job may still change.
pub async fn job_page(State(app): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let Some(s) = Session::from_headers(&headers) else { return to_sign_in() };
    let key = id.clone();
    let facts =
        match app.seq.authed(Some(s.key.clone()), move |svc, at, who| job_facts(svc, who, &key, at.millis())).await {
            Ok(f) => f,
            Err(e) => return refused(e, &s, &headers),
        };
    let j = &facts.line;
    let live = matches!(j.state, JobState::Running | JobState::AwaitingInput);
    let verified = j.done.saturating_sub(j.unverified);
    let body = html! {
        p.id-line { "Job " code { (shown_id(&j.id)) } }
        section #live data-refresh=[live.then_some("1500")] aria-live="polite" {
            dl.facts {
                dt { "State" } dd { span class={ "state " (state_label(&j.state).replace(' ', "-")) } #state { (state_label(&j.state)) } }
                dt { "Application" } dd { (j.application) }
                dt { "Tasks done" } dd #done { (progress(j.done, j.tasks)) }
                dt { "Verified" } dd #verified { (count(verified.into())) }
                dt { "Unverified" } dd #unverified { (count(j.unverified.into())) }
                dt { "Copies planned" } dd #copies { (count(facts.copies.into())) }
                dt { "Running now" } dd #running { (count(j.running.into())) }
                dt { "Failures" } dd #failures { (count(j.failures.into())) }
                dt { "Time left" } dd #eta { @match eta(&facts) { Some(s) => { "about " (duration(s)) }, None => "—" } }
                dt { "Joint failure probability" } dd { (format!("{:.2e}", facts.pjf)) }
                dt { "Price" } dd { (count(j.price)) " ByteChips" }
                dt { "Refunded" } dd { (count(facts.refunded)) " ByteChips" }
                @if let Some(at) = j.created_at { dt { "Created" } dd { (when(at)) } }
                @if let Some(r) = &facts.reason { dt { "Why it failed" } dd.error { (r) } }
            }
            @if j.output {
                p { a.button #download href={ (job_href(&j.id)) "/output" } download { "Download the output" } }
            }
            @if live {
                form method="post" action={ (job_href(&j.id)) "/cancel" } {
                    input type="hidden" name="csrf" value=(s.csrf);
                    button.secondary type="submit" { "Cancel the job" }
                }
            }
        }
        p { a href="/jobs" { "All your jobs" } }
    };
    respond(StatusCode::OK, page("Job", Some(&s), Nav::Jobs, body))
}

/// `/new-job`: the job form; the script quotes, creates, and uploads.
pub async fn new_job_page(headers: HeaderMap) -> Response {
    let Some(s) = Session::from_headers(&headers) else { return to_sign_in() };
    let suggested = format!("job-{}", &super::session::random_token()[..8]);
    let body = html! {
        noscript { p.error { "The job form needs JavaScript to read the file and show the upload's progress." } }
        form #job-form.card novalidate {
            label for="f-id" { "Job id" }
            input #f-id name="id" value=(suggested) required maxlength="256";
            label for="f-app" { "Application" }
            select #f-app name="application" {
                option value="gzip" selected { "gzip: compress a file" }
                option value="synthetic" { "synthetic: no input" }
            }
            div #gzip-fields {
                label for="f-file" { "Input file" }
                input #f-file type="file" name="file";
                label for="f-chunk" { "Chunk size, KiB" }
                input #f-chunk type="number" name="chunk_kib" min="1" value="64";
            }
            div #synthetic-fields hidden {
                label for="f-chunks" { "Tasks" }
                input #f-chunks type="number" name="chunks" min="1" value="20";
            }
            label for="f-price" { "Price, ByteChips" }
            input #f-price type="number" name="price" min="1" value="2000";
            label for="f-level" { "ByteLevel" }
            select #f-level name="byte_level" {
                option value="low" { "low: fewer, better pools" }
                option value="balanced" selected { "balanced" }
                option value="high" { "high: every pool" }
            }
            label for="f-repl" { "Replication goal" }
            select #f-repl name="replication" {
                option value="" selected { "none (one copy)" }
                option value="r:2" { "two copies of every task" }
                option value="r:3" { "three copies of every task" }
                option value="max_pjf:0.01" { "joint failure at most 1%" }
                option value="max_pjf:0.0001" { "joint failure at most 0.01%" }
            }
            fieldset {
                legend { "Regions" }
                @for (v, l) in [("americas", "Americas"), ("europe", "Europe"), ("asia_pacific", "Asia-Pacific")] {
                    label.check { input type="checkbox" name="region" value=(v); " " (l) }
                }
                p.muted { "None ticked: anywhere." }
            }
            div.actions {
                button #quote-button type="button" { "Get a quote" }
                button #submit-button type="submit" disabled { "Submit the job" }
            }
            div #quote aria-live="polite" {}
            label for="upload" hidden { "Upload" }
            progress #upload value="0" max="100" hidden {}
            p #form-error.error role="alert" hidden {}
        }
    };
    respond(StatusCode::OK, page("New job", Some(&s), Nav::NewJob, body))
}

/// `/billing`: balance, usage per day (a chart) and per application, history.
pub async fn billing_page(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let Some(s) = Session::from_headers(&headers) else { return to_sign_in() };
    let got = app
        .seq
        .authed(Some(s.key.clone()), |svc, at, who| {
            let usage = listing::usage(svc, who, at.millis(), &UsageQuery { days: Some(30) })?;
            Ok((svc.balance(who)?, usage, at.millis()))
        })
        .await;
    let (balance, usage, now): (Balance, Usage, i64) = match got {
        Ok(v) => v,
        Err(e) => return refused(e, &s, &headers),
    };
    let store = app.store.clone();
    let account = crate::service::user_account(&balance.user);
    let history: Vec<Entry> = tokio::task::spawn_blocking(move || store.history(&account, 50))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let body = html! {
        section.card {
            h2 { "Balance" }
            dl.facts {
                dt { "Available" } dd #available { (count(balance.available)) " ByteChips" }
                dt { "Set aside for jobs awaiting input" } dd { (count(balance.reserved)) }
                dt { "Topped up" } dd { (count(balance.topped_up)) }
                dt { "Charged" } dd { (count(balance.charged)) }
                dt { "Refunded" } dd { (count(balance.refunded)) }
            }
        }
        section.card {
            h2 { "Usage, last 30 days" }
            p { (count(usage.spent)) " ByteChips spent, " (count(usage.tasks)) " tasks run since " (usage.since) "." }
            (super::chart::daily(&usage, now.div_euclid(86_400_000), 30))
            @if !usage.lines.is_empty() {
                div.scroll { table {
                    thead { tr { th { "Day" } th { "Application" } th.num { "Jobs" } th.num { "Spent" } th.num { "Tasks" } } }
                    tbody { @for l in &usage.lines { tr {
                        td { (l.day) } td { (l.application) } td.num { (l.jobs) } td.num { (count(l.spent)) } td.num { (count(l.tasks)) }
                    } } }
                } }
            }
        }
        section.card {
            h2 { "History" }
            @if history.is_empty() { p { "Nothing yet." } } @else {
                div.scroll { table {
                    thead { tr { th { "When" } th { "What" } th { "Job" } th.num { "ByteChips" } } }
                    tbody { @for e in &history { tr {
                        td { (when(e.at)) } td { (e.kind.replace('_', " ")) }
                        td { @if let Some(j) = &e.job { a.id href=(job_href(j)) { (shown_id(j)) } } }
                        td.num { (count(e.amount)) }
                    } } }
                } }
            }
        }
    };
    respond(StatusCode::OK, page("Billing", Some(&s), Nav::Billing, body))
}
