//! Uploads streamed to disk: a large body is written to a staged file as it
//! arrives, never held in memory, and refused as soon as it is longer than it
//! may be.

use std::path::{Path, PathBuf};

use axum::body::Body;
use http_body_util::BodyExt;
use tokio::io::AsyncWriteExt;

use crate::error::ApiError;

/// A staged upload: its file and length. The file is removed on drop unless
/// it was taken ([`Staged::keep`]).
pub struct Staged {
    path: Option<PathBuf>,
    /// Bytes written.
    pub len: u64,
}

impl Staged {
    /// The file, which the caller now answers for.
    pub fn keep(mut self) -> PathBuf {
        self.path.take().expect("a staged file is kept once")
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn failed(e: std::io::Error) -> ApiError {
    tracing::error!("staging an upload failed: {e}");
    ApiError::unavailable(format!("the upload could not be stored ({e}): retry"))
}

/// Streams `body` into a new file in `dir` (readable by this user only),
/// synced when whole. Refused with 400 as soon as it passes `max` bytes
/// (`what` names the limit in the message).
pub async fn stage(dir: &Path, body: Body, max: u64, what: &str) -> Result<Staged, ApiError> {
    tokio::fs::create_dir_all(dir).await.map_err(failed)?;
    let path = dir.join(format!("upload-{:016x}", rand::random::<u64>()));
    let mut open = tokio::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    open.mode(0o600);
    let mut file = open.open(&path).await.map_err(failed)?;
    let mut staged = Staged { path: Some(path), len: 0 };
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::bad_request(format!("the body could not be read: {e}")))?;
        let Ok(data) = frame.into_data() else { continue };
        staged.len += data.len() as u64;
        if staged.len > max {
            return Err(ApiError::bad_request(format!("the body is longer than {what} ({max} bytes)")).at("input"));
        }
        file.write_all(&data).await.map_err(failed)?;
    }
    file.sync_all().await.map_err(failed)?;
    Ok(staged)
}
