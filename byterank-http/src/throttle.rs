//! Bounds on what callers may start: per-caller rate limits (a token bucket per
//! caller, [`governor`]) on registrations, quotes and job creations, and a
//! bound on the plans computed at once (planning runs on the blocking pool, off
//! the engine's thread, so a large quote delays no other call).

use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// How often one caller may do each rate-limited thing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rates {
    /// Calls per second, sustained.
    pub per_second: u32,
    /// Calls at once after a quiet spell.
    pub burst: u32,
}

impl Default for Rates {
    fn default() -> Self {
        Rates { per_second: 20, burst: 200 }
    }
}

/// What a rate limit is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// `POST /v1/devices` and `POST /v1/owners`, by peer address.
    Register,
    /// `POST /v1/jobs/quote`, by caller.
    Quote,
    /// `POST /v1/jobs`, by caller.
    CreateJob,
}

/// The rate limits and the planners.
pub struct Throttle {
    limiter: Option<DefaultKeyedRateLimiter<(Action, String)>>,
    planners: Arc<Semaphore>,
    plan_wait: Duration,
    /// One submission at a time reaches the engine thread, which plans it: the
    /// calls queued behind it wait for one plan, never for several.
    submissions: Arc<Semaphore>,
}

/// How long a quote waits for a planner before it is refused with 503.
const PLAN_WAIT: Duration = Duration::from_secs(10);

impl Throttle {
    /// Limits at `rates` (`None`: no rate limits) and `planners` plans at once.
    pub fn new(rates: Option<Rates>, planners: usize) -> Throttle {
        let limiter = rates.map(|r| {
            let per_second = NonZeroU32::new(r.per_second.max(1)).expect("at least 1");
            let burst = NonZeroU32::new(r.burst.max(1)).expect("at least 1");
            DefaultKeyedRateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst))
        });
        Throttle {
            limiter,
            planners: Arc::new(Semaphore::new(planners.max(1))),
            plan_wait: PLAN_WAIT,
            submissions: Arc::new(Semaphore::new(1)),
        }
    }

    /// Counts one `action` by `caller`: refused with 429 (and when to retry)
    /// past the caller's rate.
    pub fn check(&self, action: Action, caller: &str) -> Result<(), ApiError> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        limiter.check_key(&(action, caller.to_string())).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let ms = wait.as_millis().max(1);
            ApiError::too_many(format!("too many calls of this kind from this caller: retry in {ms} ms"), ms as u64)
        })
    }

    /// Forgets callers whose buckets are full again (run now and then, so that
    /// the table holds only recent callers).
    pub fn forget_quiet(&self) {
        if let Some(l) = &self.limiter {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    /// The turn of a submission (a job created, or a gzip job's input that
    /// submits it): held until its answer, so that submissions reach the engine
    /// thread one at a time. Waits up to 10 s, then 503.
    pub async fn submission(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        tokio::time::timeout(self.plan_wait, self.submissions.clone().acquire_owned())
            .await
            .map_err(|_| ApiError::unavailable("other submissions are being planned: retry shortly"))?
            .map_err(|_| ApiError::unavailable("the service is stopping"))
    }

    /// Runs `plan` on the blocking pool once a planner is free; refused with
    /// 503 if none frees up in time.
    pub async fn plan<T: Send + 'static>(&self, plan: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        let permit = tokio::time::timeout(self.plan_wait, self.planners.clone().acquire_owned())
            .await
            .map_err(|_| ApiError::unavailable("every planner is busy: retry shortly"))?
            .map_err(|_| ApiError::unavailable("the service is stopping"))?;
        tokio::task::spawn_blocking(move || {
            let out = plan();
            drop(permit);
            out
        })
        .await
        .map_err(|_| ApiError::unavailable("planning was interrupted: retry"))
    }
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::new(Some(Rates::default()), 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_past_its_burst_is_refused_and_others_are_not() {
        let t = Throttle::new(Some(Rates { per_second: 1, burst: 3 }), 1);
        for _ in 0..3 {
            t.check(Action::Quote, "ana").unwrap();
        }
        let e = t.check(Action::Quote, "ana").unwrap_err();
        assert_eq!(e.status, 429);
        t.check(Action::Quote, "bo").unwrap();
        t.check(Action::CreateJob, "ana").unwrap();
        assert!(Throttle::new(None, 1).check(Action::Quote, "ana").is_ok());
    }
}
