//! Blobs kept as files beside a SQLite journal (`blobs/` in the data
//! directory): large inputs, streamed to disk as they arrive and moved into
//! place when their op commits, so that neither the upload nor the commit holds
//! them in memory, and a download reads only the range it needs.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::JournalError;

/// Where the files are, in a data directory.
pub fn dir(data: &Path) -> PathBuf {
    data.join("blobs")
}

/// The file of the blob `key` (named by its hash: keys may hold any character).
pub fn path(data: &Path, key: &str) -> PathBuf {
    let hash = Sha256::digest(key.as_bytes());
    let name: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    dir(data).join(name)
}

fn io(what: &Path, e: std::io::Error) -> JournalError {
    JournalError::Db(format!("{}: {e}", what.display()))
}

/// Moves the staged file into place as the blob `key`, durably (the directory
/// is synced). The staged file must be on the same file system.
pub fn adopt(data: &Path, key: &str, staged: &Path) -> Result<(), JournalError> {
    let to = path(data, key);
    let d = dir(data);
    std::fs::create_dir_all(&d).map_err(|e| io(&d, e))?;
    std::fs::rename(staged, &to).map_err(|e| io(staged, e))?;
    File::open(&d).and_then(|f| f.sync_all()).map_err(|e| io(&d, e))
}

/// Removes the blob `key`'s file, if there is one.
pub fn remove(data: &Path, key: &str) -> Result<(), JournalError> {
    let p = path(data, key);
    match std::fs::remove_file(&p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&p, e)),
        _ => Ok(()),
    }
}

/// `len` bytes from `offset` of the blob `key`'s file (to its end with `None`);
/// `None` when there is no such file.
pub fn read(data: &Path, key: &str, offset: u64, len: Option<u64>) -> Result<Option<Vec<u8>>, JournalError> {
    let p = path(data, key);
    let mut f = match File::open(&p) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&p, e)),
    };
    let size = f.metadata().map_err(|e| io(&p, e))?.len();
    let from = offset.min(size);
    let take = len.unwrap_or(u64::MAX).min(size - from);
    f.seek(SeekFrom::Start(from)).map_err(|e| io(&p, e))?;
    let mut out = Vec::with_capacity(take as usize);
    f.take(take).read_to_end(&mut out).map_err(|e| io(&p, e))?;
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_adopted_file_reads_back_by_range_and_is_removed() {
        let data = std::env::temp_dir().join(format!("byterank-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).unwrap();
        let staged = data.join("staged");
        std::fs::write(&staged, b"0123456789").unwrap();
        let key = "input/a job\n\u{202e}";
        assert_eq!(read(&data, key, 0, None).unwrap(), None);
        adopt(&data, key, &staged).unwrap();
        assert!(!staged.exists());
        assert_eq!(read(&data, key, 0, None).unwrap().unwrap(), b"0123456789");
        assert_eq!(read(&data, key, 3, Some(4)).unwrap().unwrap(), b"3456");
        assert_eq!(read(&data, key, 8, Some(4)).unwrap().unwrap(), b"89");
        assert_eq!(read(&data, key, 20, Some(4)).unwrap().unwrap(), b"");
        remove(&data, key).unwrap();
        remove(&data, key).unwrap();
        assert_eq!(read(&data, key, 0, None).unwrap(), None);
        std::fs::remove_dir_all(&data).unwrap();
    }
}
