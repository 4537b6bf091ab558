//! The optimal makespan of a job alone on the grid, with full knowledge of every
//! device's availability and speed as the run drew them.
//!
//! This is Kondo and Casanova's greedy algorithm ("Computing the Optimal Makespan
//! for Jobs with Identical and Independent Tasks Scheduled on Volatile Hosts", UCSD
//! CS2004-0796): tasks are identical and independent, a host runs one task at a
//! time, and a task must run from start to end inside one availability interval
//! (an interruption loses it). On one host, running tasks back to back and moving to
//! the next interval whenever the next task does not fit gives the earliest
//! completion time of its k-th task for every k. So the optimal makespan of n tasks
//! is the n-th smallest completion time over the hosts' sequences, which a heap of
//! each host's next completion finds in `O((hosts + n) log hosts)`.
//!
//! In the simulator a device's task time is its transfers plus the task's work at
//! the device's peak rate, without jitter, slowness, errors or crashes, and the
//! device is taken as available whenever it is online, ignoring other jobs and the
//! engine's flags. Each of those only makes the real schedule slower, so the result
//! is a lower bound on any schedule of the job, and the optimum of the model where
//! none of them happens (see `docs/simulator.md`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Time, ms.
pub type Ms = u64;

/// One host as the algorithm sees it.
#[derive(Clone, Copy, Debug)]
pub struct Host<'a> {
    /// How long one task takes on it, ms (at least 1).
    pub task_ms: Ms,
    /// Its availability intervals `[from, to)`, sorted and disjoint; `to` may be
    /// `Ms::MAX` (available until the end of time).
    pub intervals: &'a [(Ms, Ms)],
}

/// A host's position in its sequence of completions.
#[derive(Clone, Copy)]
struct Cursor {
    interval: usize,
    free_at: Ms,
}

/// The completion time of the host's next task starting no earlier than
/// `cursor.free_at`, and the cursor after it (`None`: no interval fits one more).
fn next_completion(host: &Host<'_>, cursor: Cursor) -> Option<(Ms, Cursor)> {
    let mut i = cursor.interval;
    while let Some(&(from, to)) = host.intervals.get(i) {
        let start = cursor.free_at.max(from);
        let end = start.saturating_add(host.task_ms);
        if end <= to && start < to {
            return Some((end, Cursor { interval: i, free_at: end }));
        }
        i += 1;
    }
    None
}

/// The least time, from `release`, in which `tasks` identical tasks can all
/// complete on `hosts`; `None` when the hosts cannot complete that many.
pub fn optimal_makespan(release: Ms, tasks: u64, hosts: &[Host<'_>]) -> Option<Ms> {
    if tasks == 0 {
        return Some(0);
    }
    let mut cursors: Vec<Cursor> = Vec::with_capacity(hosts.len());
    let mut heap = BinaryHeap::with_capacity(hosts.len());
    for (h, host) in hosts.iter().enumerate() {
        let first = host.intervals.partition_point(|&(_, to)| to <= release);
        let start = Cursor { interval: first, free_at: release };
        cursors.push(start);
        if let Some((end, next)) = next_completion(host, start) {
            cursors[h] = next;
            heap.push(Reverse((end, h)));
        }
    }
    let mut done = 0;
    while let Some(Reverse((end, h))) = heap.pop() {
        done += 1;
        if done == tasks {
            return Some(end - release);
        }
        if let Some((end, next)) = next_completion(&hosts[h], cursors[h]) {
            cursors[h] = next;
            heap.push(Reverse((end, h)));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// On one host, the least finishing time of each count of tasks, found by
    /// trying every integer start time (optimal starts are integers when the
    /// inputs are): `best[k]` for k tasks.
    fn host_by_search(task: Ms, intervals: &[(Ms, Ms)], release: Ms, horizon: Ms, best: &mut Vec<Ms>) {
        type Seen = std::collections::HashSet<(Ms, usize)>;
        fn go(t: Ms, k: usize, task: Ms, iv: &[(Ms, Ms)], horizon: Ms, best: &mut Vec<Ms>, seen: &mut Seen) {
            if t > horizon || !seen.insert((t, k)) {
                return;
            }
            // Start a task at t if it fits in an interval.
            if iv.iter().any(|&(a, b)| a <= t && t + task <= b) {
                let end = t + task;
                if best.len() <= k + 1 {
                    best.resize(k + 2, Ms::MAX);
                }
                best[k + 1] = best[k + 1].min(end);
                go(end, k + 1, task, iv, horizon, best, seen);
            }
            // Or leave the host idle for a unit.
            go(t + 1, k, task, iv, horizon, best, seen);
        }
        best.clear();
        best.push(release);
        go(release, 0, task, intervals, horizon, best, &mut Seen::new());
    }

    /// Every way of splitting `n` tasks among the hosts.
    fn split(n: usize, per_host: &[Vec<Ms>], h: usize, worst: Ms, best: &mut Option<Ms>) {
        if h == per_host.len() {
            if n == 0 {
                *best = Some(best.map_or(worst, |b| b.min(worst)));
            }
            return;
        }
        for k in 0..=n.min(per_host[h].len() - 1) {
            let t = per_host[h][k];
            if t == Ms::MAX {
                continue;
            }
            split(n - k, per_host, h + 1, if k == 0 { worst } else { worst.max(t) }, best);
        }
    }

    fn exhaustive(release: Ms, tasks: u64, hosts: &[TestHost], horizon: Ms) -> Option<Ms> {
        let per_host: Vec<Vec<Ms>> = hosts
            .iter()
            .map(|(task, iv)| {
                let mut best = Vec::new();
                host_by_search(*task, iv, release, horizon, &mut best);
                best
            })
            .collect();
        let mut best = None;
        split(tasks as usize, &per_host, 0, release, &mut best);
        best.map(|b| b - release)
    }

    /// A host of the tests: its task time and its intervals.
    type TestHost = (Ms, Vec<(Ms, Ms)>);

    fn instance() -> impl Strategy<Value = (Ms, u64, Vec<TestHost>)> {
        let host = (1..5u64, prop::collection::vec((0..4u64, 1..6u64), 1..4)).prop_map(|(task, gaps)| {
            // Disjoint sorted intervals from (gap, length) pairs.
            let mut t = 0;
            let iv = gaps
                .into_iter()
                .map(|(gap, len)| {
                    let from = t + gap;
                    t = from + len;
                    (from, t)
                })
                .collect::<Vec<_>>();
            (task, iv)
        });
        (0..4u64, 1..6u64, prop::collection::vec(host, 1..4))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn greedy_equals_exhaustive_search((release, tasks, hosts) in instance()) {
            let views: Vec<Host<'_>> = hosts.iter().map(|(t, iv)| Host { task_ms: *t, intervals: iv }).collect();
            let greedy = optimal_makespan(release, tasks, &views);
            let search = exhaustive(release, tasks, &hosts, 40);
            prop_assert_eq!(greedy, search);
        }
    }

    #[test]
    fn a_task_never_straddles_two_intervals() {
        // Two intervals of 3 units; a task of 4 fits in neither.
        let iv = [(0, 3), (5, 8)];
        assert_eq!(optimal_makespan(0, 1, &[Host { task_ms: 4, intervals: &iv }]), None);
        // A task of 2: one per interval, the second ends at 7.
        assert_eq!(optimal_makespan(0, 2, &[Host { task_ms: 2, intervals: &iv }]), Some(7));
        // Released at 2, a task of 2 no longer fits the first interval.
        assert_eq!(optimal_makespan(2, 1, &[Host { task_ms: 2, intervals: &iv }]), Some(5));
        // An open interval takes as many as asked.
        let open = [(10, Ms::MAX)];
        assert_eq!(optimal_makespan(0, 3, &[Host { task_ms: 5, intervals: &open }]), Some(25));
    }
}
