//! Swapping a cleaned segment into the log so that a crash at any step loses
//! nothing (Kafka's `.cleaned` / `.swap` scheme, with the replaced range in the name).
//!
//! The cleaned copy of segments `[base, end)` is written as
//! `<base>.<end>.cleaned`, its indexes as `<base>.<end>.cleaned-index` and
//! `.cleaned-timeindex`, all fsynced, without the partition lock. Then, under it:
//! 1. rename the data to `<base>.<end>.swap`, fsync the directory: the commit point.
//! 2. remove the replaced segments' files — the indexes of `<base>` and all three
//!    files of every other segment in `(base, end)` — and fsync the directory.
//! 3. rename the swap file over `<base>.log` and the indexes to `<base>.index` and
//!    `<base>.timeindex`, fsync the directory. Indexes a crash leaves missing are
//!    rebuilt by a scan when the segment is opened.
//!
//! On open, [`recover`] deletes every `.cleaned*` file (before the commit the old
//! segments are whole) and finishes steps 2 and 3 for every `.swap` file (the new
//! data is whole), leaving its indexes to the scan.

use std::path::{Path, PathBuf};

use crate::log::LogError;
use crate::log::segment::{SegmentPaths, remove_if_present, sync_dir};

const CLEANED: &str = "cleaned";
const CLEANED_INDEX: &str = "cleaned-index";
const CLEANED_TIME_INDEX: &str = "cleaned-timeindex";
const SWAP: &str = "swap";

/// `<base>.<end>.cleaned` in `dir`.
pub fn cleaned_path(dir: &Path, base: i64, end: i64) -> PathBuf {
    dir.join(format!("{base:020}.{end:020}.{CLEANED}"))
}

/// The cleaned segment's offset and time index files, before they are renamed into place.
pub fn cleaned_index_paths(dir: &Path, base: i64, end: i64) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{base:020}.{end:020}.{CLEANED_INDEX}")),
        dir.join(format!("{base:020}.{end:020}.{CLEANED_TIME_INDEX}")),
    )
}

/// `<base>.<end>.swap` in `dir`.
pub fn swap_path(dir: &Path, base: i64, end: i64) -> PathBuf {
    dir.join(format!("{base:020}.{end:020}.{SWAP}"))
}

/// The range and kind of a cleaner file name, if it is one.
fn parse(name: &str) -> Option<(i64, i64, &str)> {
    let (stem, kind) = name.rsplit_once('.')?;
    if ![CLEANED, CLEANED_INDEX, CLEANED_TIME_INDEX, SWAP].contains(&kind) {
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
/// `[base, end)`) and renames it into place as `<base>.log`, with its cleaned index
/// files when `with_indexes`.
pub fn install(
    dir: &Path,
    base: i64,
    end: i64,
    bases: &[i64],
    with_indexes: bool,
) -> Result<(), LogError> {
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
    if with_indexes {
        let (index, time_index) = cleaned_index_paths(dir, base, end);
        for (from, to) in [(&index, &first.index), (&time_index, &first.time_index)] {
            // A missing index costs a scan at the next open, never data.
            if let Err(e) = std::fs::rename(from, to) {
                tracing::warn!(path = %from.display(), "installing a cleaned index: {e}");
            }
        }
    }
    sync_dir(dir)
}

/// Drops a cleaned segment that will not be swapped in.
pub fn discard(dir: &Path, base: i64, end: i64) -> Result<(), LogError> {
    let (index, time_index) = cleaned_index_paths(dir, base, end);
    for path in [cleaned_path(dir, base, end), index, time_index] {
        remove_if_present(&path)?;
    }
    Ok(())
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
            Some((base, end, SWAP)) => swaps.push((base, end)),
            Some(_) => {
                remove_if_present(&entry.path())?;
            }
            None => {}
        }
    }
    swaps.sort_unstable();
    for &(base, end) in &swaps {
        tracing::warn!(dir = %dir.display(), base, end, "finishing a compaction swap a crash interrupted");
        install(dir, base, end, &bases, false)?;
    }
    sync_dir(dir)?;
    Ok(swaps.len())
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
        let (index, _) = cleaned_index_paths(dir, 3, 4);
        assert_eq!(
            parse(index.file_name().unwrap().to_str().unwrap()),
            Some((3, 4, CLEANED_INDEX))
        );
        assert_eq!(parse("x.y.swap"), None);
        assert_eq!(parse("recovery-point.tmp"), None);
    }
}
