//! A user's own history: their jobs, newest first, and what they spent per day
//! and per application. Both are read from the job books the service keeps, so
//! they cover the jobs it still remembers (ended jobs are forgotten after the
//! retention period, `--keep-ended-days`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::service::{JobBook, JobState, Principal, Service};

/// Most jobs listed on one page.
pub const MAX_PAGE: u32 = 1_000;

/// One page of the caller's jobs.
#[derive(Clone, Debug, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JobsQuery {
    /// Jobs per page (default 50, at most 1,000).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Continue after this job (the `next` of the previous page).
    #[serde(default)]
    pub after: Option<String>,
}

/// One job in a listing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobLine {
    /// The job id.
    pub id: String,
    /// Where it is.
    pub state: JobState,
    /// The application.
    pub application: String,
    /// Its price.
    pub price: u64,
    /// Unique tasks (0 until it was accepted).
    pub tasks: u32,
    /// Tasks with a final verdict.
    pub done: u32,
    /// Tasks decided by one untrusted result.
    pub unverified: u32,
    /// Attempts running now.
    pub running: u32,
    /// Attempts that failed, went stale or returned an incorrect result.
    pub failures: u32,
    /// When it was created, milliseconds since the epoch (absent for jobs
    /// created before the service kept it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    /// Whether its output can be downloaded.
    pub output: bool,
}

/// The caller's jobs, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobList {
    /// This page.
    pub jobs: Vec<JobLine>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Which days a usage summary covers.
#[derive(Clone, Debug, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// The last this many days, today included (default 30, at most 3,660).
    #[serde(default)]
    pub days: Option<u32>,
}

/// What one application cost on one day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UsageLine {
    /// The day (UTC), `YYYY-MM-DD`.
    pub day: String,
    /// The application.
    pub application: String,
    /// Jobs charged that day.
    pub jobs: u32,
    /// ByteChips spent: prices charged less refunds.
    pub spent: u64,
    /// Tasks of those jobs with a final verdict.
    pub tasks: u64,
}

/// What a user spent, per day and per application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Usage {
    /// The user.
    pub user: String,
    /// The first day covered (UTC), `YYYY-MM-DD`.
    pub since: String,
    /// One line per day and application with a charge, oldest day first.
    pub lines: Vec<UsageLine>,
    /// ByteChips spent over the period.
    pub spent: u64,
    /// Tasks run over the period.
    pub tasks: u64,
}

fn user_of(who: &Principal) -> Result<&str, ApiError> {
    match who {
        Principal::User(u) => Ok(u),
        _ => Err(ApiError::forbidden("this route needs a user API key")),
    }
}

/// One job's line.
pub fn line(svc: &Service, id: &str, book: &JobBook) -> JobLine {
    JobLine {
        id: id.into(),
        state: book.state.clone(),
        application: book.spec.application.clone(),
        price: book.spec.price_chips.0,
        tasks: book.tasks,
        done: book.done,
        unverified: book.unverified,
        running: svc.running_attempts(book),
        failures: book.failures,
        created_at: book.created_at.map(|t| t.millis()),
        output: book.has_output,
    }
}

/// Newest first: by creation order, then by id for books that predate it.
fn newest_first(a: (&str, &JobBook), b: (&str, &JobBook)) -> std::cmp::Ordering {
    b.1.number.cmp(&a.1.number).then_with(|| b.0.cmp(a.0))
}

/// The calling user's jobs, newest first, one page.
pub fn jobs(svc: &Service, who: &Principal, q: &JobsQuery) -> Result<JobList, ApiError> {
    let user = user_of(who)?;
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::bad_request(format!("list 1 to {MAX_PAGE} jobs a page")).at("limit"));
    }
    let mut mine: Vec<(&str, &JobBook)> = svc.job_books().filter(|(_, b)| b.user == user).collect();
    mine.sort_unstable_by(|a, b| newest_first(*a, *b));
    let start = match &q.after {
        None => 0,
        Some(after) => {
            let i = mine.iter().position(|(id, _)| id == after).ok_or_else(|| {
                ApiError::bad_request("`after` names no job of yours: pass the `next` of the previous page").at("after")
            })?;
            i + 1
        }
    };
    let page: Vec<JobLine> = mine.iter().skip(start).take(limit as usize).map(|(id, b)| line(svc, id, b)).collect();
    let more = start + page.len() < mine.len();
    let next = if more { page.last().map(|l| l.id.clone()) } else { None };
    Ok(JobList { jobs: page, next })
}

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// The calling user's spending over the last `days` days as of `now` (ms).
pub fn usage(svc: &Service, who: &Principal, now_ms: i64, q: &UsageQuery) -> Result<Usage, ApiError> {
    let user = user_of(who)?;
    let days = q.days.unwrap_or(30);
    if days == 0 || days > 3_660 {
        return Err(ApiError::bad_request("`days` must be 1 to 3660").at("days"));
    }
    let first_day = now_ms.div_euclid(DAY_MS) - i64::from(days) + 1;
    let mut by: BTreeMap<(i64, &str), UsageLine> = BTreeMap::new();
    for (_, book) in svc.job_books().filter(|(_, b)| b.user == user) {
        let Some(at) = book.charged_at else { continue };
        let day = at.millis().div_euclid(DAY_MS);
        if day < first_day {
            continue;
        }
        let l = by.entry((day, book.spec.application.as_str())).or_insert_with(|| UsageLine {
            day: civil_day(day),
            application: book.spec.application.clone(),
            jobs: 0,
            spent: 0,
            tasks: 0,
        });
        l.jobs += 1;
        l.spent += book.spec.price_chips.0.saturating_sub(book.refunded.0);
        l.tasks += u64::from(book.done);
    }
    let lines: Vec<UsageLine> = by.into_values().collect();
    Ok(Usage {
        user: user.into(),
        since: civil_day(first_day),
        spent: lines.iter().map(|l| l.spent).sum(),
        tasks: lines.iter().map(|l| l.tasks).sum(),
        lines,
    })
}

/// `YYYY-MM-DD` of a day counted from 1970-01-01 (H. Hinnant's `civil_from_days`).
pub fn civil_day(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::civil_day;

    /// Against a naive count of days from 1970, month by month.
    #[test]
    fn civil_days_match_a_naive_calendar() {
        let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let mut n = 0i64;
        for y in 1970..2101 {
            for m in 1..=12 {
                let len = match m {
                    2 if leap(y) => 29,
                    2 => 28,
                    4 | 6 | 9 | 11 => 30,
                    _ => 31,
                };
                for d in 1..=len {
                    assert_eq!(civil_day(n), format!("{y:04}-{m:02}-{d:02}"));
                    n += 1;
                }
            }
        }
    }
}
