//! Topic configs Kafka knows that weir accepts, validates as Kafka does,
//! stores and describes, but does not apply: replication, tiered storage,
//! flush and compression knobs a single node either has no use for or
//! settles otherwise. Clients that create topics with them (Streams,
//! Connect, Terraform) work unchanged.
//!
//! A name that gets its own arm in [`super::TopicConfig::set`] (and a place
//! in `KNOWN_KEYS`) is applied: its row here is then ignored and can go.

/// How a stored config's value is checked, with Kafka's rules.
#[derive(Debug, Clone, Copy)]
pub enum Valid {
    /// A long within `min..=max`.
    Long { min: i64, max: i64 },
    /// An int within `min..=max`.
    Int { min: i64, max: i64 },
    /// A compression level within `min..=max`, or the codec's `default`.
    Level { min: i64, max: i64, default: i64 },
    /// `true` or `false`, any case.
    Bool,
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// Empty, `*`, or `partition:broker` pairs separated by commas.
    Replicas,
    /// A message format version such as `3.0-IV1` or `2.8`.
    Version,
}

const INT_MAX: i64 = i32::MAX as i64;

/// Every stored-only config: name, Kafka's default as it prints it, validator.
pub const STORED: &[(&str, &str, Valid)] = &[
    (
        "compression.gzip.level",
        "-1",
        Valid::Level {
            min: 1,
            max: 9,
            default: -1,
        },
    ),
    (
        "compression.lz4.level",
        "9",
        Valid::Level {
            min: 1,
            max: 17,
            default: 9,
        },
    ),
    (
        "compression.type",
        "producer",
        Valid::OneOf(&["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"]),
    ),
    (
        "compression.zstd.level",
        "3",
        Valid::Level {
            min: -131_072,
            max: 22,
            default: 3,
        },
    ),
    (
        "file.delete.delay.ms",
        "60000",
        Valid::Long {
            min: 0,
            max: i64::MAX,
        },
    ),
    (
        "flush.messages",
        "9223372036854775807",
        Valid::Long {
            min: 1,
            max: i64::MAX,
        },
    ),
    (
        "flush.ms",
        "9223372036854775807",
        Valid::Long {
            min: 0,
            max: i64::MAX,
        },
    ),
    (
        "follower.replication.throttled.replicas",
        "",
        Valid::Replicas,
    ),
    (
        "index.interval.bytes",
        "4096",
        Valid::Int {
            min: 0,
            max: INT_MAX,
        },
    ),
    ("leader.replication.throttled.replicas", "", Valid::Replicas),
    (
        "local.retention.bytes",
        "-2",
        Valid::Long {
            min: -2,
            max: i64::MAX,
        },
    ),
    (
        "local.retention.ms",
        "-2",
        Valid::Long {
            min: -2,
            max: i64::MAX,
        },
    ),
    ("message.downconversion.enable", "true", Valid::Bool),
    ("message.format.version", "3.0-IV1", Valid::Version),
    (
        "message.timestamp.before.max.ms",
        "9223372036854775807",
        Valid::Long {
            min: 0,
            max: i64::MAX,
        },
    ),
    (
        "message.timestamp.difference.max.ms",
        "9223372036854775807",
        Valid::Long {
            min: 0,
            max: i64::MAX,
        },
    ),
    (
        "min.insync.replicas",
        "1",
        Valid::Int {
            min: 1,
            max: INT_MAX,
        },
    ),
    ("preallocate", "false", Valid::Bool),
    ("remote.log.copy.disable", "false", Valid::Bool),
    ("remote.log.delete.on.disable", "false", Valid::Bool),
    // As a Kafka broker without a remote log manager refuses `true`.
    ("remote.storage.enable", "false", Valid::OneOf(&["false"])),
    (
        "segment.index.bytes",
        "10485760",
        Valid::Int {
            min: 4,
            max: INT_MAX,
        },
    ),
    (
        "segment.jitter.ms",
        "0",
        Valid::Long {
            min: 0,
            max: i64::MAX,
        },
    ),
    ("unclean.leader.election.enable", "false", Valid::Bool),
];

/// The table row of a stored-only config (none for an applied one).
pub fn find(key: &str) -> Option<&'static (&'static str, &'static str, Valid)> {
    STORED
        .iter()
        .find(|(name, _, _)| *name == key && !super::is_applied(name))
}

/// Checks `value` against `valid`; the reason names what Kafka expects.
pub fn check(valid: Valid, value: &str) -> Result<(), String> {
    let v = value.trim();
    let whole = |min: i64, max: i64| match v.parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(()),
        Ok(_) => Err(format!("must be between {min} and {max}")),
        Err(_) => Err("not a whole number".to_string()),
    };
    match valid {
        Valid::Long { min, max } | Valid::Int { min, max } => whole(min, max),
        Valid::Level { min, max, default } => match v.parse::<i64>() {
            Ok(n) if n == default || (min..=max).contains(&n) => Ok(()),
            _ => Err(format!("must be between {min} and {max}, or {default}")),
        },
        Valid::Bool if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false") => Ok(()),
        Valid::Bool => Err("must be true or false".to_string()),
        Valid::OneOf(words) if words.contains(&v) => Ok(()),
        Valid::OneOf(words) => Err(format!("must be one of: {}", words.join(", "))),
        Valid::Replicas => replicas(v),
        Valid::Version => version(v),
    }
}

fn replicas(v: &str) -> Result<(), String> {
    if v.is_empty() || v == "*" {
        return Ok(());
    }
    let pair = |p: &str| {
        let (partition, broker) = p.trim().split_once(':')?;
        partition.parse::<u32>().ok()?;
        broker.parse::<u32>().ok()
    };
    if v.split(',').all(|p| pair(p).is_some()) {
        Ok(())
    } else {
        Err("must be empty, *, or partition:broker pairs separated by commas".to_string())
    }
}

fn version(v: &str) -> Result<(), String> {
    let numbers = v
        .split_once("-IV")
        .map_or(v, |(n, iv)| if iv.parse::<u32>().is_ok() { n } else { "" });
    let parts: Vec<&str> = numbers.split('.').collect();
    if (2..=3).contains(&parts.len()) && parts.iter().all(|p| p.parse::<u32>().is_ok()) {
        Ok(())
    } else {
        Err("must be a Kafka version such as 3.0-IV1 or 2.8".to_string())
    }
}
