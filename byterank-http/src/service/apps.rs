//! What the service needs to know of each application beyond the engine's rules:
//! whether tasks read the job's input bytes, and what a worker uploads as a result.

use byterank_core::application::{Gzip, Synthetic};
use byterank_core::{Chunk, ResultMeta};

use crate::error::ApiError;

/// What a worker uploads for a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upload {
    /// The result's bytes; the service computes their metadata itself.
    Bytes,
    /// The result's metadata as JSON (`ResultMeta`): the application's results
    /// are facts, not files.
    Meta,
}

/// The service side of an application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppAdapter {
    /// Tasks read their chunk of the job's uploaded input.
    pub reads_input: bool,
    /// What a result upload is.
    pub upload: Upload,
}

/// The adapter of a built-in application.
pub fn adapter(application: &str) -> Option<AppAdapter> {
    match application {
        "gzip" => Some(AppAdapter { reads_input: true, upload: Upload::Bytes }),
        "synthetic" => Some(AppAdapter { reads_input: false, upload: Upload::Meta }),
        _ => None,
    }
}

/// The metadata of an uploaded result, and the bytes to store for assembly.
pub fn read_upload(application: &str, body: &[u8]) -> Result<(ResultMeta, Vec<u8>), ApiError> {
    let a =
        adapter(application).ok_or_else(|| ApiError::bad_request(format!("unknown application `{application}`")))?;
    match a.upload {
        Upload::Bytes => match application {
            "gzip" => Ok((Gzip::result_meta(body), body.to_vec())),
            _ => Err(ApiError::bad_request(format!("application `{application}` takes no byte results"))),
        },
        Upload::Meta => {
            let meta: ResultMeta = serde_json::from_slice(body).map_err(|e| {
                ApiError::bad_request(format!(
                    "a `{application}` result is its metadata as JSON ({{\"size\": N, \"digest\": \"...\"}}): {e}"
                ))
                .at("result")
            })?;
            let mut line = serde_json::to_vec(&meta).expect("metadata serializes");
            line.push(b'\n');
            Ok((meta, line))
        }
    }
}

/// What an honest worker produces for a task: the bytes to upload.
pub fn compute(application: &str, job: &str, chunk: &Chunk, input: &[u8]) -> Result<Vec<u8>, String> {
    match application {
        "gzip" => Ok(Gzip::compress_chunk(input)),
        "synthetic" => Ok(serde_json::to_vec(&Synthetic::expected(job, chunk)).expect("metadata serializes")),
        other => Err(format!("this worker cannot run application `{other}` (it runs gzip and synthetic)")),
    }
}
