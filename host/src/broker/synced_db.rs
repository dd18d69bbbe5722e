//! [`SyncedDb`]: a sled database whose `flush` is a real fsync.
//!
//! sled 0.34's `flush` writes its buffers with `sync_file_range`, which starts and waits
//! for writeback of the data pages but neither flushes the device's write cache nor
//! writes the file's metadata (its size, when the log grew), and it never fsyncs the
//! files it keeps large values in (`blobs/`). So a topic record, a committed offset or
//! the producer-id counter that weir acknowledged "after flushing" could roll back on a
//! power loss while the partition logs, fsynced under `every-batch`, did not. Here
//! `flush` is sled's flush followed by `fdatasync` of sled's data file, of every blob file
//! written since, and of the blob directory: metadata is as durable as the log.

use std::collections::HashSet;
use std::ffi::OsString;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

/// A sled database whose [`flush`](SyncedDb::flush) fsyncs (when `fsync` is on).
#[derive(Debug, Clone)]
pub struct SyncedDb {
    db: sled::Db,
    sync: Arc<Sync>,
}

#[derive(Debug)]
struct Sync {
    dir: PathBuf,
    fsync: bool,
    /// Blob files already fsynced (sled never rewrites one; it writes new ones).
    synced_blobs: Mutex<HashSet<OsString>>,
}

impl SyncedDb {
    /// Opens (or creates) the database at `dir`; `fsync`: whether `flush` fsyncs (the
    /// broker's `every-batch` policy), or stays sled's flush (`interval`, `os`).
    pub fn open(config: sled::Config, dir: &Path, fsync: bool) -> sled::Result<SyncedDb> {
        let db = config.path(dir).open()?;
        let synced = SyncedDb {
            db,
            sync: Arc::new(Sync {
                dir: dir.to_path_buf(),
                fsync,
                synced_blobs: Mutex::new(HashSet::new()),
            }),
        };
        if fsync {
            // The files sled created must be reachable after a power loss too.
            sync_dir(dir)?;
        }
        Ok(synced)
    }

    /// Writes everything to disk: sled's flush, then the fsyncs it leaves out. Returns
    /// what sled's flush returns (the bytes it wrote).
    pub fn flush(&self) -> sled::Result<usize> {
        let written = self.db.flush()?;
        if !self.sync.fsync {
            return Ok(written);
        }
        std::fs::File::open(self.sync.dir.join("db"))?.sync_data()?;
        let blobs = self.sync.dir.join("blobs");
        if blobs.is_dir() {
            let mut synced = self.sync.synced_blobs.lock();
            let mut new = false;
            for entry in std::fs::read_dir(&blobs)? {
                let entry = entry?;
                if !synced.contains(&entry.file_name()) {
                    std::fs::File::open(entry.path())?.sync_data()?;
                    synced.insert(entry.file_name());
                    new = true;
                }
            }
            if new {
                sync_dir(&blobs)?;
            }
            // Blobs sled removed need not be remembered.
            if synced.len() > 1024 {
                synced.clear();
            }
        }
        Ok(written)
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

impl Deref for SyncedDb {
    type Target = sled::Db;

    fn deref(&self) -> &sled::Db {
        &self.db
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_fsyncs_and_reopens_with_the_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m");
        {
            let db = SyncedDb::open(sled::Config::new(), &path, true).unwrap();
            db.insert(b"k", b"v".to_vec()).unwrap();
            // A value big enough for sled's blob files.
            db.insert(b"big", vec![7u8; 4 << 20]).unwrap();
            db.flush().unwrap();
        }
        let db = SyncedDb::open(sled::Config::new(), &path, false).unwrap();
        assert_eq!(db.get(b"k").unwrap().unwrap().as_ref(), b"v");
        assert_eq!(db.get(b"big").unwrap().unwrap().len(), 4 << 20);
    }
}
