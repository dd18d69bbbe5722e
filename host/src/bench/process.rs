//! What the benchmarking process itself costs: CPU time, resident memory, threads.

use std::time::Duration;

/// CPU time (user + system) the whole process has used so far.
pub fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// A field of /proc/self/status (its first number), e.g. `VmRSS` (kB) or `Threads`.
fn status_field(name: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Resident memory, bytes (0 where /proc is missing).
pub fn rss_bytes() -> u64 {
    status_field("VmRSS").unwrap_or(0) * 1024
}

/// Threads of the process (0 where /proc is missing).
pub fn threads() -> u64 {
    status_field("Threads").unwrap_or(0)
}
