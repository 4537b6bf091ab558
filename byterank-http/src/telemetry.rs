//! What the service tells Prometheus: histograms (with buckets, never
//! summaries) and gauges, each with a HELP line, and the middleware that times
//! every HTTP request by route and status.

use std::fmt::Write as _;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Seconds, from half a millisecond to ten seconds.
const SECONDS: [f64; 14] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0];

/// Ops per commit, by powers of two up to the largest batch.
const OPS: [f64; 14] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0];

/// Installs the process's Prometheus recorder and describes every metric;
/// `None` if one is installed already (a second server in one process).
pub fn recorder() -> Option<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS)
        .ok()?
        .set_buckets_for_metric(Matcher::Full("byterank_batch_ops".into()), &OPS)
        .ok()?
        .install_recorder()
        .ok()?;
    describe();
    Some(handle)
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_histogram!(
        "byterank_http_request_seconds",
        Unit::Seconds,
        "HTTP requests by method, route (the path pattern) and status, from the request's head to its answer's head"
    );
    describe_histogram!(
        "byterank_commit_seconds",
        Unit::Seconds,
        "Journal commits: one per batch of ops, fsync'd before any of them is answered"
    );
    describe_histogram!("byterank_batch_ops", Unit::Count, "Ops per journal commit (the engine thread's batch)");
    describe_histogram!(
        "byterank_snapshot_seconds",
        Unit::Seconds,
        "Writing a snapshot of the state, off the engine thread"
    );
    describe_histogram!(
        "byterank_snapshot_pause_seconds",
        Unit::Seconds,
        "How long taking a snapshot held the engine thread"
    );
    describe_counter!("byterank_ops_total", Unit::Count, "Ops journalled, by kind");
    describe_gauge!("byterank_devices", Unit::Count, "Live devices");
    describe_gauge!("byterank_running_jobs", Unit::Count, "Jobs running");
    describe_gauge!("byterank_running_attempts", Unit::Count, "Attempts running");
    describe_gauge!("byterank_snapshot_bytes", Unit::Bytes, "Size of the last snapshot");
    describe_gauge!(
        "byterank_engine_backlog",
        Unit::Count,
        "Calls waiting for the engine thread when /metrics was read (past 65,536 calls are refused with 503)"
    );
}

/// Middleware: times each request into `byterank_http_request_seconds` with its
/// method, route pattern (`unmatched` for no route, so that scanners cannot add
/// series) and status.
pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_string(), |p| p.as_str().into());
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!("byterank_http_request_seconds", "method" => method, "route" => route, "status" => status)
        .record(started.elapsed().as_secs_f64());
    response
}

/// One running job's queues, for the per-job gauges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobQueues {
    /// The job's id.
    pub job: String,
    /// Entries in its pool queues.
    pub queued: u64,
    /// Attempts running.
    pub running: u32,
}

/// The per-job gauges in Prometheus's text format, written at each read (so that
/// an ended job's series ends with it).
pub fn job_gauges(jobs: &[JobQueues]) -> String {
    let mut out = String::new();
    out.push_str("# HELP byterank_job_queued_tasks Entries in a running job's pool queues\n");
    out.push_str("# TYPE byterank_job_queued_tasks gauge\n");
    for j in jobs {
        let _ = writeln!(out, "byterank_job_queued_tasks{{job=\"{}\"}} {}", label(&j.job), j.queued);
    }
    out.push_str("# HELP byterank_job_running_attempts Attempts of a running job now running\n");
    out.push_str("# TYPE byterank_job_running_attempts gauge\n");
    for j in jobs {
        let _ = writeln!(out, "byterank_job_running_attempts{{job=\"{}\"}} {}", label(&j.job), j.running);
    }
    out
}

/// A label value escaped as the text format wants (backslash, quote, newline).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_are_escaped_in_labels() {
        let text = job_gauges(&[JobQueues { job: "a\"b\\c".into(), queued: 3, running: 1 }]);
        assert!(text.contains("byterank_job_queued_tasks{job=\"a\\\"b\\\\c\"} 3\n"), "{text}");
        assert!(text.contains("byterank_job_running_attempts{job=\"a\\\"b\\\\c\"} 1\n"), "{text}");
        assert!(text.contains("# TYPE byterank_job_queued_tasks gauge\n"));
    }
}
