//! What one job may ask of the service, checked before anything is planned: a
//! job's tasks are capped, each task must be paid at least a floor price, and the
//! price must be within what its user may spend. Together these tie the work a
//! user can have outstanding to the ByteChips they paid: a caller who could not
//! pay for a job is refused at the cost of a few comparisons.

use byterank_core::JobSpec;

use crate::error::ApiError;

/// The limits on one job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkLimits {
    /// Least price per task, ByteChips.
    pub min_task_price: u64,
    /// Most tasks in one job.
    pub max_job_tasks: u64,
    /// Largest input a job may declare (`input_bytes`): the upload limit.
    pub max_input_bytes: u64,
}

impl Default for WorkLimits {
    fn default() -> Self {
        WorkLimits { min_task_price: 1, max_job_tasks: 1_000_000, max_input_bytes: 256 << 20 }
    }
}

impl WorkLimits {
    /// Checks `spec` against the limits and `available` (what its user may
    /// spend), without sizing its work: a job that does not say how many tasks
    /// it has is left to the engine's checks, which refuse it.
    pub fn check(&self, spec: &JobSpec, available: u64) -> Result<(), ApiError> {
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
        let l = WorkLimits { min_task_price: 3, max_job_tasks: 100, max_input_bytes: 1_000 };
        assert_eq!(l.check(&job(100, 300), 300), Ok(()));
        assert_eq!(l.check(&job(101, 10_000), 10_000).unwrap_err().field.as_deref(), Some("chunks"));
        let cheap = l.check(&job(100, 299), 10_000).unwrap_err();
        assert_eq!((cheap.status, cheap.field.as_deref()), (400, Some("price_chips")));
        let poor = l.check(&job(100, 300), 299).unwrap_err();
        assert_eq!((poor.status, poor.field.as_deref()), (402, Some("price_chips")));
        let mut gz = JobSpec { application: "gzip".into(), ..job(1, 1_000) };
        (gz.chunks, gz.input_bytes, gz.chunk_bytes) = (None, Some(1_001), Some(100));
        assert_eq!(l.check(&gz, 10_000).unwrap_err().field.as_deref(), Some("input_bytes"));
        gz.input_bytes = Some(1_000);
        assert_eq!(task_count(&gz), Some(10));
        assert_eq!(l.check(&gz, 10_000), Ok(()));
    }

    #[test]
    fn a_huge_count_at_a_huge_floor_does_not_overflow() {
        let l = WorkLimits { min_task_price: u64::MAX, max_job_tasks: u64::MAX, max_input_bytes: u64::MAX };
        assert_eq!(l.check(&job(u64::MAX, u64::MAX), u64::MAX).unwrap_err().status, 400);
    }
}
