//! Swapping a cleaned segment into the log so that a crash at any step loses
//! nothing (Kafka's `.cleaned` / `.swap` scheme, with the replaced range in the name).
//!
//! The cleaned copy of segments `[base, end)` is written as
//! `<base>.<end>.cleaned` and fsynced. Then:
//! 1. rename it to `<base>.<end>.swap`, fsync the directory: the commit point.
//! 2. remove the replaced segments' files — the indexes of `<base>` and all three
//!    files of every other segment in `(base, end)` — and fsync the directory.
//! 3. rename the swap file over `<base>.log`, fsync the directory.
//! 4. write `<base>`'s indexes (a crash before leaves them missing, and opening
//!    the segment rebuilds them by a scan).
//!
//! On open, [`recover`] deletes every `.cleaned` file (the old segments are whole)
//! and finishes steps 2 and 3 for every `.swap` file (the new data is whole).

use std::path::{Path, PathBuf};

use crate::log::LogError;
use crate::log::segment::{SegmentPaths, sync_dir};

const CLEANED: &str = "cleaned";
const SWAP: &str = "swap";

/// `<base>.<end>.cleaned` in `dir`.
pub fn cleaned_path(dir: &Path, base: i64, end: i64) -> PathBuf {
    dir.join(format!("{base:020}.{end:020}.{CLEANED}"))
}

/// `<base>.<end>.swap` in `dir`.
pub fn swap_path(dir: &Path, base: i64, end: i64) -> PathBuf {
    dir.join(format!("{base:020}.{end:020}.{SWAP}"))
}

/// The range and kind of a cleaner file name, if it is one.
fn parse(name: &str) -> Option<(i64, i64, &str)> {
    let (stem, kind) = name.rsplit_once('.')?;
    if kind != CLEANED && kind != SWAP {
        return None;
    }
    let (base, end) = stem.split_once('.')?;
    let digits = |s: &str| s.len() == 20 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(base) || !digits(end) {
        return None;
    }
    Some((base.parse().ok()?, end.parse().ok()?, kind))
}

/// Step 1: the cleaned file becomes the swap file (durably).
pub fn commit(dir: &Path, base: i64, end: i64) -> Result<PathBuf, LogError> {
    let from = cleaned_path(dir, base, end);
    let to = swap_path(dir, base, end);
    std::fs::rename(&from, &to).map_err(LogError::io("renaming", &from))?;
    sync_dir(dir)?;
    Ok(to)
}

/// Steps 2 and 3: removes what the swap file replaces (`bases`, the segments in
/// `[base, end)`) and renames it into place as `<base>.log`.
pub fn install(dir: &Path, base: i64, end: i64, bases: &[i64]) -> Result<(), LogError> {
    let first = SegmentPaths::new(dir, base);
    for path in [&first.index, &first.time_index] {
        remove_if_present(path)?;
    }
    for &b in bases.iter().filter(|&&b| b > base && b < end) {
        SegmentPaths::new(dir, b).remove()?;
    }
    sync_dir(dir)?;
    let swap = swap_path(dir, base, end);
    std::fs::rename(&swap, &first.log).map_err(LogError::io("renaming", &swap))?;
    sync_dir(dir)
}

/// Drops a cleaned file that will not be swapped in.
pub fn discard(dir: &Path, base: i64, end: i64) -> Result<(), LogError> {
    remove_if_present(&cleaned_path(dir, base, end))
}

/// Finishes or undoes what a crash interrupted; run before the segments are listed.
/// Returns how many swaps were finished.
pub fn recover(dir: &Path) -> Result<usize, LogError> {
    let mut swaps = Vec::new();
    let mut bases = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(LogError::io("listing", dir))? {
        let entry = entry.map_err(LogError::io("listing", dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(base) = SegmentPaths::parse_base_offset(name) {
            bases.push(base);
        }
        match parse(name) {
            Some((_, _, CLEANED)) => remove_if_present(&entry.path())?,
            Some((base, end, _)) => swaps.push((base, end)),
            None => {}
        }
    }
    swaps.sort_unstable();
    for &(base, end) in &swaps {
        tracing::warn!(dir = %dir.display(), base, end, "finishing a compaction swap a crash interrupted");
        install(dir, base, end, &bases)?;
    }
    sync_dir(dir)?;
    Ok(swaps.len())
}

fn remove_if_present(path: &Path) -> Result<(), LogError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LogError::io("removing", path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_foreign_files_are_ignored() {
        let dir = Path::new("/d");
        let p = swap_path(dir, 5, 900);
        let name = p.file_name().unwrap().to_str().unwrap();
        assert_eq!(parse(name), Some((5, 900, SWAP)));
        let c = cleaned_path(dir, 0, 1);
        assert_eq!(
            parse(c.file_name().unwrap().to_str().unwrap()),
            Some((0, 1, CLEANED))
        );
        assert_eq!(parse("00000000000000000005.log"), None);
        assert_eq!(parse("x.y.swap"), None);
        assert_eq!(parse("recovery-point.tmp"), None);
    }
}
