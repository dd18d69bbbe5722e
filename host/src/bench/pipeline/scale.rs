//! `weir bench pipeline --only scale`: one pipeline over a topic of `--tasks` partitions
//! (one task each, the Rust Wasm filter): how long until every task runs, resident memory
//! per task, the process's threads while the tasks idle, CPU while idle, and how long a
//! record in every partition takes to come out.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::bail;
use bytes::Bytes;

use crate::broker::ProduceRecord;
use crate::log::batch::Record;
use crate::pipeline::stats::TaskState;

use super::super::process::{cpu_time, rss_bytes, threads};
use super::super::wasm::PATTERN;
use super::{Setup, spec};

/// Runs the scale case and prints its figures.
pub fn run(s: &Setup, tasks: u32) -> anyhow::Result<()> {
    s.broker.create_topic("wide-in", tasks, BTreeMap::new())?;
    s.broker.create_topic("wide-out", 4, BTreeMap::new())?;
    let mut wide = spec("wide", "wasm-filter", "wide-out")?;
    wide.inputs = vec!["wide-in".into()];
    let (rss_before, threads_before) = (rss_bytes(), threads());
    let started = Instant::now();
    s.pipelines.create(wide)?;
    let all_running = |s: &Setup| -> anyhow::Result<bool> {
        let st = s.pipelines.status("wide")?;
        if st.state == "failed" {
            bail!(
                "pipeline failed: {:?}",
                st.tasks.iter().find(|t| t.last_error.is_some())
            );
        }
        Ok(st.tasks.iter().all(|t| t.state == TaskState::Running))
    };
    while !all_running(s)? {
        if started.elapsed() > Duration::from_secs(300) {
            bail!("{tasks} tasks did not start in 5 minutes");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let start_time = started.elapsed();
    // Idle: every task waits for input.
    std::thread::sleep(Duration::from_secs(2));
    let rss_idle = rss_bytes();
    let threads_idle = threads();
    let cpu_before = cpu_time();
    let idle_for = Duration::from_secs(5);
    std::thread::sleep(idle_for);
    let idle_cpu = cpu_time().saturating_sub(cpu_before);

    // One record into every partition: how long until all have come out.
    let woken = Instant::now();
    let records = (0..tasks)
        .map(|p| ProduceRecord {
            partition: Some(i64::from(p)),
            record: Record {
                key: None,
                value: Some(Bytes::from(format!("{PATTERN} {p}"))),
                headers: Vec::new(),
                timestamp: -1,
            },
        })
        .collect();
    s.broker.produce("wide-in", records)?;
    while s.pipelines.status("wide")?.records_out < u64::from(tasks) {
        if woken.elapsed() > Duration::from_secs(120) {
            bail!("records did not all come out in 2 minutes");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let wake_all = woken.elapsed();
    s.pipelines.delete("wide")?;
    println!(
        "{tasks} tasks: all running {:.2} s after create; RSS +{:.1} MiB ({:.0} KiB per task); \
         threads {threads_before} before, {threads_idle} while idle; idle CPU {:.2}% of a core; \
         a record into each partition out after {:.0} ms",
        start_time.as_secs_f64(),
        rss_idle.saturating_sub(rss_before) as f64 / (1 << 20) as f64,
        rss_idle.saturating_sub(rss_before) as f64 / 1024.0 / f64::from(tasks),
        idle_cpu.as_secs_f64() / idle_for.as_secs_f64() * 100.0,
        wake_all.as_secs_f64() * 1000.0,
    );
    Ok(())
}
