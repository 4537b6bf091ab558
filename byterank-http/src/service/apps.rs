//! How a result upload becomes what the engine judges: the application says
//! whether its results are files (bytes the service keeps for assembly) or facts
//! (their metadata as JSON).

use byterank_core::{Application, ResultMeta};

use crate::error::ApiError;

/// The metadata of an uploaded result, and the bytes to store for assembly.
pub fn read_upload(app: &dyn Application, body: &[u8]) -> Result<(ResultMeta, Vec<u8>), ApiError> {
    if let Some(meta) = app.describe_file(body) {
        return Ok((meta, body.to_vec()));
    }
    let meta: ResultMeta = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "a `{}` result is its metadata as JSON ({{\"size\": N, \"digest\": \"...\"}}): {e}",
            app.name()
        ))
        .at("result")
    })?;
    let mut line = serde_json::to_vec(&meta).expect("metadata serializes");
    line.push(b'\n');
    Ok((meta, line))
}
