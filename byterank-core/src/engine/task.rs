//! One task's copies and results, and the rules that make its verdict final
//! (spec §11, validation).
//!
//! A task's verdict is final when `quorum` results agree (at most the copies it
//! was planned with), or when a trusted device's result arrives; a task planned
//! with one copy is final on its one result that passes integrity, reported as
//! unverified unless its device is trusted. Until then every result is only
//! provisional: nothing is paid, recorded or assembled.

use super::command::{AttemptId, DeviceId};
use crate::application::{Application, ResultMeta};

/// A result that passed integrity and waits for the task's verdict.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Report {
    pub attempt: AttemptId,
    pub device: DeviceId,
    pub meta: ResultMeta,
    pub delayed: bool,
}

/// A task's final verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Verdict {
    /// The result assembled for the task.
    pub attempt: AttemptId,
    /// Decided by one untrusted result (a single-copy task).
    pub unverified: bool,
}

/// How a verdict was reached, for the result at an index of the task's results
/// in arrival order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Decision {
    /// The result the others are judged against.
    pub truth: usize,
    /// Decided by one untrusted result.
    pub unverified: bool,
}

/// A result just reported, borrowed from its command: decided on before it is
/// stored, so that a result that makes a verdict final is never copied.
#[derive(Clone, Copy, Debug)]
pub(super) struct Seen<'a> {
    pub attempt: AttemptId,
    pub device: DeviceId,
    pub meta: &'a ResultMeta,
    pub delayed: bool,
}

impl Report {
    pub fn seen(&self) -> Seen<'_> {
        Seen { attempt: self.attempt, device: self.device, meta: &self.meta, delayed: self.delayed }
    }
}

/// How many of `results` agree with the one at `i`.
fn agreeing<'a>(app: &dyn Application, results: impl Iterator<Item = &'a ResultMeta> + Clone, i: usize) -> usize {
    let r = results.clone().nth(i).expect("a result of the task");
    results.filter(|o| app.agree(o, r)).count()
}

/// The largest number of agreeing results, and whether any two disagree.
pub(super) fn agreement<'a>(
    app: &dyn Application,
    results: impl Iterator<Item = &'a ResultMeta> + Clone,
) -> (usize, bool) {
    let n = results.clone().count();
    let best = (0..n).map(|i| agreeing(app, results.clone(), i)).max().unwrap_or(0);
    (best, best < n)
}

/// Whether the newest of a task's results (the last) makes the verdict final:
/// its device is trusted, or it completes a quorum (`quorum`, from
/// [`Task::quorum`](super::tasks::Task::quorum)) of agreeing results that is
/// credible (`credible`, asked of the index of a result of the group). Once
/// results disagree and a trusted arbiter is running, asked for or may be had
/// (`arbiter`, asked only then), only the arbiter decides: a quorum formed
/// after a disagreement could be colluders outvoting an honest result.
pub(super) fn decide<'a>(
    app: &dyn Application,
    results: impl Iterator<Item = &'a ResultMeta> + Clone,
    trusted: bool,
    quorum: usize,
    arbiter: impl FnOnce() -> bool,
    credible: impl Fn(usize) -> bool,
) -> Option<Decision> {
    let newest = results.clone().count().checked_sub(1)?;
    if trusted {
        return Some(Decision { truth: newest, unverified: false });
    }
    by_quorum(app, results, quorum, arbiter, credible)
}

/// The verdict a credible quorum of the results gives, if any (see [`decide`]).
pub(super) fn by_quorum<'a>(
    app: &dyn Application,
    results: impl Iterator<Item = &'a ResultMeta> + Clone,
    quorum: usize,
    arbiter: impl FnOnce() -> bool,
    credible: impl Fn(usize) -> bool,
) -> Option<Decision> {
    if agreement(app, results.clone()).1 && arbiter() {
        return None;
    }
    let n = results.clone().count();
    (0..n).find_map(|i| {
        let agreeing = agreeing(app, results.clone(), i);
        (agreeing >= quorum && credible(i)).then_some(Decision { truth: i, unverified: agreeing == 1 })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::application::Synthetic;

    fn metas(digests: &[&str]) -> alloc::vec::Vec<ResultMeta> {
        digests.iter().map(|d| ResultMeta { size: 1, digest: (*d).into(), ..Default::default() }).collect()
    }

    #[test]
    fn quorum_agreement_trust_and_single_copies() {
        let app = &Synthetic;
        let r = metas(&["a", "b", "b"]);
        assert_eq!(
            decide(app, r[..1].iter(), false, 2, || false, |_| true),
            None,
            "one of three copies is only provisional"
        );
        assert_eq!(decide(app, r[..2].iter(), false, 2, || false, |_| true), None);
        assert_eq!(agreement(app, r[..2].iter()), (1, true), "a disagreement");
        assert_eq!(
            decide(app, r.iter(), false, 2, || true, |_| true),
            None,
            "after a disagreement, the arbiter decides"
        );
        assert_eq!(
            decide(app, r.iter(), false, 2, || false, |_| true),
            Some(Decision { truth: 1, unverified: false }),
            "no arbiter: two agree"
        );

        let two = metas(&["b", "b"]);
        assert_eq!(decide(app, two.iter(), false, 2, || false, |_| false), None, "a quorum not credible enough waits");
        assert_eq!(
            decide(app, two.iter(), false, 2, || false, |i| i == 0),
            Some(Decision { truth: 0, unverified: false }),
            "a credible quorum decides"
        );

        let lone = metas(&["a"]);
        assert_eq!(
            decide(app, lone.iter(), false, 1, || true, |_| true),
            Some(Decision { truth: 0, unverified: true }),
            "single copy"
        );
        assert_eq!(
            decide(app, lone.iter(), true, 1, || true, |_| true),
            Some(Decision { truth: 0, unverified: false }),
            "trusted"
        );

        let pair = metas(&["a", "b"]);
        assert_eq!(
            decide(app, pair.iter(), true, 2, || true, |_| true),
            Some(Decision { truth: 1, unverified: false }),
            "trusted decides"
        );
        assert_eq!(decide(app, pair[..0].iter(), true, 2, || true, |_| true), None, "no result, no verdict");
    }
}
