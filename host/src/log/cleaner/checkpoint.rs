//! The cleaner's checkpoint: the first dirty offset of a partition, kept in the
//! file `cleaner-offset-checkpoint` (8 bytes, big-endian) like Kafka's
//! `cleaner-offset-checkpoint`, written aside, fsynced and renamed into place.
//!
//! It only steers how dirty the log looks: a lost or stale checkpoint makes the
//! next pass clean more than needed, never lose data.

use std::path::Path;

use crate::log::LogError;
use crate::log::segment::sync_dir;

const CHECKPOINT: &str = "cleaner-offset-checkpoint";

/// The first offset not yet cleaned, if a pass ever finished (0 otherwise).
pub fn read(dir: &Path) -> i64 {
    std::fs::read(dir.join(CHECKPOINT))
        .ok()
        .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
        .map_or(0, i64::from_be_bytes)
}

/// Durably records that everything before `offset` is clean.
pub fn write(dir: &Path, offset: i64) -> Result<(), LogError> {
    let tmp = dir.join(format!("{CHECKPOINT}.tmp"));
    std::fs::write(&tmp, offset.to_be_bytes()).map_err(LogError::io("writing", &tmp))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(LogError::io("syncing", &tmp))?;
    let dst = dir.join(CHECKPOINT);
    std::fs::rename(&tmp, &dst).map_err(LogError::io("renaming", &dst))?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips_and_defaults_to_zero() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(super::read(dir.path()), 0);
        super::write(dir.path(), 42).unwrap();
        assert_eq!(super::read(dir.path()), 42);
    }
}
