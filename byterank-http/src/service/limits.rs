//! What one job may ask of the service, checked before anything is planned: a
//! job's tasks and copies are capped, each task must be paid at least a floor
//! price, and the price must be within what its user may spend. The copy cap
//! bounds the planning a submission costs the engine thread (planning is linear
//! in copies; docs/benchmarks.md times the largest job it allows). Together these tie the work a
//! user can have outstanding to the ByteChips they paid: a caller who could not
//! pay for a job is refused at the cost of a few comparisons.

use byterank_core::job::ReplicationGoal;
use byterank_core::JobSpec;

use crate::error::ApiError;

/// The limits on one job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkLimits {
    /// Least price per task, ByteChips.
    pub min_task_price: u64,
    /// Most tasks in one job.
    pub max_job_tasks: u64,
    /// Most copies in one job: tasks times `r`, or times the largest `r` the
    /// engine may choose when the job asks for a PJF bound.
    pub max_job_copies: u64,
    /// Largest input a job may declare (`input_bytes`): the upload limit.
    pub max_input_bytes: u64,
}

impl Default for WorkLimits {
    fn default() -> Self {
        WorkLimits { min_task_price: 1, max_job_tasks: 1_000_000, max_job_copies: 100_000, max_input_bytes: 256 << 20 }
    }
}

impl WorkLimits {
    /// Checks `spec` against the limits and `available` (what its user may
    /// spend), without sizing its work: a job that does not say how many tasks
    /// it has is left to the engine's checks, which refuse it.
    /// `max_r` is the engine's largest replication factor.
    pub fn check(&self, spec: &JobSpec, available: u64, max_r: f64) -> Result<(), ApiError> {
        if let Some(bytes) = spec.input_bytes.filter(|&b| b > self.max_input_bytes) {
            return Err(ApiError::bad_request(format!(
                "`input_bytes` is {bytes} but this service takes inputs of at most {} bytes: split the job",
                self.max_input_bytes
            ))
            .at("input_bytes"));
        }
        let Some(tasks) = task_count(spec) else { return Ok(()) };
        if tasks > self.max_job_tasks {
            return Err(ApiError::bad_request(format!(
                "the job has {tasks} tasks but this service takes at most {} per job: split it",
                self.max_job_tasks
            ))
            .at(if spec.chunks.is_some() { "chunks" } else { "chunk_bytes" }));
        }
        let copies = copy_bound(spec, tasks, max_r);
        if copies > self.max_job_copies {
            return Err(ApiError::bad_request(format!(
                "the job may run {copies} copies ({tasks} tasks at its replication) but this service plans at most {} \
                 per job: split it, or ask for less replication",
                self.max_job_copies
            ))
            .at(if spec.replication.is_some() { "replication" } else { "chunks" }));
        }
        let least = u128::from(tasks) * u128::from(self.min_task_price);
        let price = spec.price_chips.0;
        if u128::from(price) < least {
            return Err(ApiError::bad_request(format!(
                "the job's {tasks} tasks cost at least {least} ByteChips ({} per task) but `price_chips` is {price}",
                self.min_task_price
            ))
            .at("price_chips"));
        }
        if available < price {
            return Err(ApiError::payment_required(format!(
                "the job costs {price} ByteChips and the balance is {available}: top up first"
            ))
            .at("price_chips"));
        }
        Ok(())
    }
}

/// The most copies `spec`'s `tasks` may run: the tasks themselves without
/// replication, `floor(r * tasks)` for a factor `r` (at most `max_r`: a larger
/// one is refused by the engine's checks), `max_r` times the tasks for a PJF
/// bound (the solver may go that far).
pub fn copy_bound(spec: &JobSpec, tasks: u64, max_r: f64) -> u64 {
    let r = match spec.replication {
        None => 1.0,
        Some(ReplicationGoal::R(r)) if r.is_finite() => r.clamp(1.0, max_r.max(1.0)),
        Some(_) => max_r.max(1.0),
    };
    // Exact enough: the products here are far below 2^53 once tasks are capped.
    (r * tasks as f64).floor() as u64
}

/// How many tasks `spec` asks for, from its fields alone (`None` when they do
/// not say).
pub fn task_count(spec: &JobSpec) -> Option<u64> {
    match (spec.chunks, spec.input_bytes, spec.chunk_bytes) {
        (Some(n), None, None) => Some(n),
        (None, Some(total), Some(chunk)) if chunk > 0 => Some(total.div_ceil(chunk)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use byterank_core::ByteChips;

    fn job(chunks: u64, price: u64) -> JobSpec {
        JobSpec { price_chips: ByteChips(price), ..JobSpec::new("j", chunks) }
    }

    #[test]
    fn each_limit_is_refused_with_its_field_and_the_rest_pass() {
        let l = WorkLimits { min_task_price: 3, max_job_tasks: 100, max_job_copies: 1_000, max_input_bytes: 1_000 };
        assert_eq!(l.check(&job(100, 300), 300, 10.0), Ok(()));
        assert_eq!(l.check(&job(101, 10_000), 10_000, 10.0).unwrap_err().field.as_deref(), Some("chunks"));
        let cheap = l.check(&job(100, 299), 10_000, 10.0).unwrap_err();
        assert_eq!((cheap.status, cheap.field.as_deref()), (400, Some("price_chips")));
        let poor = l.check(&job(100, 300), 299, 10.0).unwrap_err();
        assert_eq!((poor.status, poor.field.as_deref()), (402, Some("price_chips")));
        let mut gz = JobSpec { application: "gzip".into(), ..job(1, 1_000) };
        (gz.chunks, gz.input_bytes, gz.chunk_bytes) = (None, Some(1_001), Some(100));
        assert_eq!(l.check(&gz, 10_000, 10.0).unwrap_err().field.as_deref(), Some("input_bytes"));
        gz.input_bytes = Some(1_000);
        assert_eq!(task_count(&gz), Some(10));
        assert_eq!(l.check(&gz, 10_000, 10.0), Ok(()));
    }

    #[test]
    fn copies_are_capped_at_the_replication_the_job_may_reach() {
        let l = WorkLimits { min_task_price: 1, max_job_tasks: 1_000, max_job_copies: 1_000, max_input_bytes: 1 };
        let with = |r: Option<ReplicationGoal>| JobSpec { replication: r, ..job(500, 10_000) };
        assert_eq!(l.check(&with(None), 10_000, 10.0), Ok(()));
        assert_eq!(l.check(&with(Some(ReplicationGoal::R(2.0))), 10_000, 10.0), Ok(()));
        let over = l.check(&with(Some(ReplicationGoal::R(2.02))), 10_000, 10.0).unwrap_err();
        assert_eq!((over.status, over.field.as_deref()), (400, Some("replication")));
        assert!(over.message.contains("1010 copies"), "{}", over.message);
        // A PJF bound may take the engine to its largest factor.
        let pjf = with(Some(ReplicationGoal::MaxPjf(0.01)));
        assert!(l.check(&pjf, 10_000, 10.0).is_err());
        assert_eq!(l.check(&pjf, 10_000, 2.0), Ok(()));
        assert_eq!(copy_bound(&with(Some(ReplicationGoal::R(f64::NAN))), 500, 10.0), 5_000);
    }

    #[test]
    fn a_huge_count_at_a_huge_floor_does_not_overflow() {
        let l = WorkLimits {
            min_task_price: u64::MAX,
            max_job_tasks: u64::MAX,
            max_job_copies: u64::MAX,
            max_input_bytes: u64::MAX,
        };
        assert_eq!(l.check(&job(u64::MAX, u64::MAX), u64::MAX, 10.0).unwrap_err().status, 400);
    }
}
