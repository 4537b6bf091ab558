//! The joint-failure model: the simulator's own account, per task, of the
//! first-line copies that ran and failed, and from it the probability and the
//! occurrence of a task failing on every planned copy.

/// One task's first-line copies.
#[derive(Clone, Copy, Debug)]
pub(super) struct TaskRec {
    /// Product of the model's failure probabilities of the task's first-line
    /// (non-rescue) copies that ran.
    pub(super) p_prod: f32,
    /// Sum of those probabilities.
    pub(super) p_sum: f32,
    pub(super) ran: u16,
    /// First-line copies that returned a result the engine took (or that the
    /// engine cancelled because the task was decided elsewhere).
    pub(super) oks: u16,
    pub(super) validated: bool,
    /// The engine took an honest result of the task.
    pub(super) honest: bool,
}

impl Default for TaskRec {
    fn default() -> Self {
        TaskRec { p_prod: 1.0, p_sum: 0.0, ran: 0, oks: 0, validated: false, honest: false }
    }
}

impl TaskRec {
    /// A first-line copy started that fails with probability `p_fail`.
    pub(super) fn ran(&mut self, p_fail: f32) {
        self.p_prod *= p_fail;
        self.p_sum += p_fail;
        self.ran = self.ran.saturating_add(1);
    }
}

/// The model's probability that some task fails on every planned first-line copy,
/// and whether that happened, for a job of `tasks` tasks planned with `copies`
/// copies.
///
/// A task fails jointly when every planned first-line copy failed. The plan gives
/// each task at least `copies / tasks` copies; a copy that never ran (the engine
/// dropped it once the task validated) takes the mean failure probability of the
/// job's first-line attempts in the model.
pub(super) fn joint_failure(recs: &[TaskRec], copies: u32, tasks: u32) -> (f64, bool) {
    let least = (copies / tasks.max(1)).max(1);
    let (sum, n) = recs.iter().fold((0.0f64, 0u64), |(s, n), t| (s + f64::from(t.p_sum), n + u64::from(t.ran)));
    let mean = if n == 0 { 0.0 } else { sum / n as f64 };
    let mut log_ok = 0.0f64;
    let mut joint = false;
    for t in recs {
        if t.ran == 0 {
            continue;
        }
        let missing = least.saturating_sub(u32::from(t.ran));
        let p = f64::from(t.p_prod) * mean.powi(missing as i32);
        log_ok += (1.0 - p).max(1e-300).ln();
        joint |= t.oks == 0 && u32::from(t.ran) >= least;
    }
    (1.0 - log_ok.exp(), joint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_whose_every_planned_copy_failed_is_a_joint_failure() {
        let mut failed = TaskRec::default();
        failed.ran(0.5);
        failed.ran(0.5);
        let mut ok = failed;
        ok.oks = 1;
        let (p, joint) = joint_failure(&[ok, failed], 4, 2);
        // Each task: both copies fail with 0.25; some task of two: 1 - 0.75².
        assert!((p - (1.0 - 0.75 * 0.75)).abs() < 1e-9, "{p}");
        assert!(joint);
        let (_, joint) = joint_failure(&[ok, ok], 4, 2);
        assert!(!joint);
    }

    #[test]
    fn a_copy_that_never_ran_takes_the_mean_failure_probability() {
        let mut one = TaskRec::default();
        one.ran(0.2);
        one.oks = 1;
        let mut two = TaskRec::default();
        two.ran(0.4);
        two.oks = 1;
        // Two copies planned per task, one ran each: mean 0.3 stands in for the other.
        let (p, joint) = joint_failure(&[one, two], 4, 2);
        let want = 1.0 - (1.0 - 0.2 * 0.3) * (1.0 - 0.4 * 0.3);
        assert!((p - want).abs() < 1e-6, "{p} vs {want}");
        assert!(!joint, "a copy short of the plan is not a joint failure");
    }
}
