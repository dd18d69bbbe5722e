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

/// CPU time (user + system) the calling thread has used so far: what a benchmark's
/// client threads cost, to be told apart from the broker sharing the process.
pub fn thread_cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_THREAD with a valid pointer.
    if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) } != 0 {
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

/// CPU time (user + system) of each thread of the process so far, by thread name
/// (threads of one name, e.g. `weir-worker-0` and `weir-worker-1`, summed under the name
/// without its trailing number).
pub fn cpu_by_thread() -> std::collections::BTreeMap<String, Duration> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ... utime stime: fields 14 and 15, counted after the comm.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close]
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .trim_end_matches('-')
            .to_string();
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        let tick = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let used = Duration::from_millis((tick(11) + tick(12)) * 1000 / ticks);
        *out.entry(name).or_default() += used;
    }
    out
}

/// CPU time by thread name since `start`, the busiest first.
pub fn threads_since(
    start: &std::collections::BTreeMap<String, Duration>,
) -> Vec<(String, Duration)> {
    let mut used: Vec<(String, Duration)> = cpu_by_thread()
        .into_iter()
        .map(|(name, t)| {
            let before = start.get(&name).copied().unwrap_or_default();
            (name, t.saturating_sub(before))
        })
        .filter(|(_, t)| !t.is_zero())
        .collect();
    used.sort_by_key(|(_, t)| std::cmp::Reverse(*t));
    used
}

/// The CPU time of the pipeline's own threads (the lanes tasks wait and run on) in
/// `by_thread`, leaving out whatever else the process runs (a benchmark's producer).
pub fn pipeline_cpu(by_thread: &[(String, Duration)]) -> Duration {
    by_thread
        .iter()
        .filter(|(name, _)| name == "weir-worker")
        .map(|(_, t)| *t)
        .sum()
}
