//! Every configuration directive shardis understands, in redis.conf syntax.
//!
//! [`DIRECTIVES`] is the one place a directive is defined: its Redis name, its default (as written
//! in redis.conf), whether CONFIG SET may change it, how its value is parsed and validated, and how
//! CONFIG GET renders it. The config file, the command line (`--name value`) and CONFIG SET all go
//! through [`Config::apply`], so they accept exactly the same values. `tuning/shardis.conf` is the
//! annotated reference; a test keeps it equal to the defaults here.
//!
//! Persistence (the binlog, snapshots) has Redis's directive names where Redis has one
//! (`appendonly`, `appendfsync`, `save`, `aof-load-truncated`) and `binlog-*` ones for what is new.
//! Redis persistence directives that mean nothing here (`dbfilename`, `auto-aof-rewrite-*`, ...)
//! are refused by name rather than silently ignored.

use std::path::PathBuf;

use crate::keyspace::EncodingLimits;

mod pubsub;
pub use pubsub::{ClassLimit, NotifyFlags, OutputBufferLimits};

/// The server's settings. Build it with [`Config::from_args`] (start-up) and change it with
/// [`Config::apply`] (CONFIG SET); defaults and ranges are in [`DIRECTIVES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `port`: TCP port; 0 means no TCP listener, as in Redis.
    pub port: u16,
    /// `bind`: addresses to listen on; Redis 7's optional marker (`-::1`) is stripped.
    pub bind: Vec<String>,
    /// `dir`: the working directory for data files.
    pub dir: PathBuf,
    /// `threads` (shardis): number of shards; 0 = one per available core, see [`Config::shards`].
    pub threads: usize,
    /// `cpu-affinity` (shardis): pin shard i to core i % cores.
    pub cpu_affinity: bool,
    /// `disable-thp` (Redis): no transparent huge pages for this process (applied in `main`).
    pub disable_thp: bool,
    /// `tcp-backlog`: the listen(2) backlog.
    pub tcp_backlog: u32,
    /// `tcp-defer-accept` (shardis): seconds the kernel holds a new connection until its first
    /// bytes arrive (TCP_DEFER_ACCEPT); 0 = accept on the handshake, as Redis does.
    pub tcp_defer_accept: u32,
    /// `loglevel`.
    pub loglevel: LogLevel,
    /// `logfile`: "" logs to standard output.
    pub logfile: String,
    /// `databases`: number of logical databases (SELECT 0..databases-1).
    pub databases: usize,
    /// `proto-max-bulk-len`: the largest bulk string a request may carry, in bytes.
    pub proto_max_bulk_len: u64,
    /// `client-query-buffer-limit`: the most unparsed input one client may hold, in bytes.
    pub client_query_buffer_limit: u64,
    /// `maxclients`: connections beyond this are refused.
    pub maxclients: u64,
    /// `timeout`: close a client idle this many seconds; 0 = never.
    pub timeout: u64,
    /// `tcp-keepalive`: SO_KEEPALIVE interval in seconds; 0 = off.
    pub tcp_keepalive: u64,
    /// `hz`: background task frequency, already clamped to 1..=500.
    pub hz: u32,
    /// `appendonly`: keep a binlog of every write (default yes).
    pub appendonly: bool,
    /// `save`: snapshot rules, "<seconds> <changes>" pairs separated by spaces; "" = none.
    pub save: String,
    /// `appendfsync`: always, everysec, no.
    pub appendfsync: Fsync,
    /// `save-schedule` (shardis): daily snapshot times, "HH:MM" (UTC) separated by spaces.
    pub save_schedule: String,
    /// `binlog-segment-size` (shardis): rotate a segment at this many bytes.
    pub binlog_segment_size: u64,
    /// `binlog-segment-seconds` (shardis): rotate a segment this old; 0 = by size only.
    pub binlog_segment_seconds: u64,
    /// `binlog-retention` (shardis): segments older than the newest snapshot are kept this many
    /// seconds and at most this many bytes.
    pub binlog_retention_seconds: u64,
    pub binlog_retention_bytes: u64,
    /// `aof-load-truncated`: truncate a torn binlog tail at start-up (yes) or refuse to start.
    pub aof_load_truncated: bool,
    /// `binlog-failpoint` (shardis, for tests): make binlog and snapshot writes fail with this
    /// errno (ENOSPC, EIO); `None` = off.
    pub binlog_failpoint: Option<i32>,
    /// `daemonize`: always false; shardis runs in the foreground under a supervisor.
    pub daemonize: bool,
    /// `protected-mode`.
    pub protected_mode: bool,
    /// `requirepass`: "" = no password.
    pub requirepass: String,
    /// `slowlog-log-slower-than`: microseconds; -1 disables the slow log, 0 logs every command.
    pub slowlog_log_slower_than: i64,
    /// `slowlog-max-len`: entries kept in the slow log.
    pub slowlog_max_len: u64,
    /// `busy-reply-threshold` (alias `lua-time-limit`): milliseconds a script runs before other
    /// connections' commands for its shard get `-BUSY` and SCRIPT KILL may stop it.
    pub busy_reply_threshold: u64,
    /// `latency-monitor-threshold`: milliseconds; 0 disables the latency monitor.
    pub latency_monitor_threshold: u64,
    /// `pidfile`: "" = write no pid file.
    pub pidfile: String,
    /// `hash-max-listpack-*`, `set-max-intset-entries`, `set-max-listpack-*`,
    /// `list-max-listpack-size`: when a collection leaves its compact encoding.
    pub encoding: EncodingLimits,
    /// `list-compress-depth`: accepted and reported; list nodes are not compressed.
    pub list_compress_depth: u64,
    /// `zset-max-listpack-entries` (alias `zset-max-ziplist-entries`): the most members a sorted
    /// set keeps in its compact encoding.
    pub zset_max_listpack_entries: u64,
    /// `zset-max-listpack-value` (alias `zset-max-ziplist-value`): the longest member, in bytes,
    /// a sorted set keeps in its compact encoding.
    pub zset_max_listpack_value: u64,
    /// `memcached-port` (shardis): TCP port of the memcached protocol listener; 0 = none.
    pub memcached_port: u16,
    /// `item-size-max` (shardis, memcached's `-I`): the largest memcached item, in bytes.
    pub item_size_max: u64,
    /// `admin-port` (shardis): the admin HTTP port (/metrics, /health); 0 = no admin listener.
    pub admin_port: u16,
    /// `admin-bind` (shardis): the admin listener's address; "" = the first `bind` address.
    pub admin_bind: String,
    /// `shard-stall-threshold` (shardis): ms without progress after which a shard is stalled.
    pub shard_stall_threshold: u64,
    /// `disk-probe-interval` (shardis): ms between disk probes; 0 = no probe.
    pub disk_probe_interval: u64,
    /// `disk-latency-threshold` (shardis): ms a probe's write + fsync may take.
    pub disk_latency_threshold: u64,
    /// `notify-keyspace-events`: which keyspace notifications are published ("" = none).
    pub notify_keyspace_events: NotifyFlags,
    /// `client-output-buffer-limit`: when a client whose output piles up is closed.
    pub client_output_buffer_limit: OutputBufferLimits,
}

/// Redis's `appendfsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    Always,
    EverySec,
    No,
}

impl Fsync {
    pub fn parse(value: &str) -> Result<Fsync, String> {
        match value.to_ascii_lowercase().as_str() {
            "always" => Ok(Fsync::Always),
            "everysec" => Ok(Fsync::EverySec),
            "no" => Ok(Fsync::No),
            _ => Err("argument(s) must be one of the following: always, everysec, no".into()),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Fsync::Always => "always",
            Fsync::EverySec => "everysec",
            Fsync::No => "no",
        }
    }
}

/// Redis's log levels (`nothing` is Redis 7.2's "log nothing").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Verbose,
    Notice,
    Warning,
    Nothing,
}

impl LogLevel {
    const ALL: [LogLevel; 5] = [
        LogLevel::Debug,
        LogLevel::Verbose,
        LogLevel::Notice,
        LogLevel::Warning,
        LogLevel::Nothing,
    ];

    /// The name redis.conf and CONFIG GET use.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Verbose => "verbose",
            LogLevel::Notice => "notice",
            LogLevel::Warning => "warning",
            LogLevel::Nothing => "nothing",
        }
    }

    /// The `tracing` level filter this level maps to (tracing has no level between debug and info).
    pub fn tracing_filter(self) -> &'static str {
        match self {
            LogLevel::Debug | LogLevel::Verbose => "debug",
            LogLevel::Notice => "info",
            LogLevel::Warning => "warn",
            LogLevel::Nothing => "off",
        }
    }
}

/// A setting that can't be applied. Every message names the directive and, for a bad value, the
/// value and what would be accepted.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("Bad directive or wrong number of arguments: unknown directive '{name}'")]
    UnknownDirective { name: String },
    #[error(
        "Bad directive or wrong number of arguments: '{name}' takes exactly one value, got {got}"
    )]
    WrongArity { name: String, got: usize },
    #[error("invalid value '{value}' for '{name}': {reason}")]
    InvalidValue {
        name: String,
        value: String,
        reason: String,
    },
    #[error("'{name}' is a Redis RDB/AOF file setting that shardis does not have: it persists through its per-shard binlog and snapshots (see appendfsync, save and binlog-* in tuning/shardis.conf)")]
    PersistenceNotSupported { name: String },
    #[error("'{name}' can't be changed while the server runs; set it in the config file or on the command line and restart")]
    Immutable { name: String },
    #[error("can't read config file '{path}': {source}")]
    ReadFile {
        path: String,
        source: std::io::Error,
    },
    #[error("include nested more than {MAX_INCLUDE_DEPTH} deep at '{path}' (does a file include itself?)")]
    IncludeTooDeep { path: String },
    #[error("{reason}")]
    Syntax { reason: &'static str },
    #[error("unexpected command-line argument '{arg}': directives are written --name value, and only the first argument may be a config file")]
    UnexpectedArgument { arg: String },
    /// Redis's "*** FATAL CONFIG FILE ERROR ***" report: where, the line, and what was wrong.
    #[error("*** FATAL CONFIG FILE ERROR ***\nReading the configuration file '{file}', at line {line}\n>>> '{text}'\n{error}")]
    AtLine {
        file: String,
        line: usize,
        text: String,
        error: Box<ConfigError>,
    },
}

impl ConfigError {
    /// The error reply Redis 7 gives for CONFIG SET of `name` (as the client spelled it).
    pub fn redis_message(&self, name: &str) -> String {
        let failed = format!("ERR CONFIG SET failed (possibly related to argument '{name}')");
        match self {
            ConfigError::Immutable { .. } => format!("{failed} - can't set immutable config"),
            ConfigError::UnknownDirective { .. } | ConfigError::WrongArity { .. } => {
                format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'")
            }
            ConfigError::InvalidValue { reason, .. } => format!("{failed} - {reason}"),
            ConfigError::PersistenceNotSupported { .. } => {
                format!("{failed} - not a shardis setting: it persists through its binlog and snapshots")
            }
            other => format!("ERR {other}"),
        }
    }
}

/// How deep `include` may nest; deeper is almost certainly a file including itself.
const MAX_INCLUDE_DEPTH: usize = 16;

/// Redis's CONFIG_BINDADDR_MAX.
const MAX_BIND_ADDRESSES: usize = 16;

/// Redis RDB/AOF file directives shardis has no use for (it persists through its binlog);
/// refused by name, with that reason, rather than as unknown.
const PERSISTENCE_NOT_YET: &[&str] = &[
    "dbfilename",
    "appendfilename",
    "auto-aof-rewrite-percentage",
    "auto-aof-rewrite-min-size",
    "rdbcompression",
    "rdbchecksum",
    "aof-use-rdb-preamble",
];

/// One directive. A setter changes its field only when the value is valid, and otherwise returns
/// the reason, in Redis 7's words where Redis has them; [`Config::apply`] adds the directive and
/// value to make the error.
struct Directive {
    name: &'static str,
    /// The value as written in redis.conf; [`Config::default`] applies these in order.
    default: &'static str,
    /// Whether CONFIG SET may change it while the server runs.
    mutable: bool,
    set: Setter,
    /// The value as CONFIG GET renders it.
    get: fn(&Config) -> String,
}

enum Setter {
    /// Takes exactly one value.
    One(fn(&mut Config, &str) -> Result<(), String>),
    /// Takes any number of values (Redis's MULTI_ARG_CONFIG): `bind`, `save`.
    Many(fn(&mut Config, &[String]) -> Result<(), String>),
}

use Setter::{Many, One};

/// Redis's INT_MAX and LONG_MAX, the upper bounds of most Redis numeric directives.
const INT_MAX: i64 = i32::MAX as i64;
const LONG_MAX: i64 = i64::MAX;
const MB: u64 = 1024 * 1024;

#[rustfmt::skip]
static DIRECTIVES: &[Directive] = &[
    Directive { name: "port", default: "6379", mutable: false,
        set: One(|c, v| { c.port = integer(v, 0, 65535)?; Ok(()) }),
        get: |c| c.port.to_string() },
    Directive { name: "bind", default: "127.0.0.1", mutable: false,
        set: Many(|c, v| { c.bind = bind_addresses(v)?; Ok(()) }),
        get: |c| c.bind.join(" ") },
    Directive { name: "dir", default: "./data", mutable: false,
        set: One(|c, v| { c.dir = non_empty(v, "argument must be a directory path")?.into(); Ok(()) }),
        get: |c| c.dir.display().to_string() },
    Directive { name: "threads", default: "0", mutable: false,
        set: One(|c, v| { c.threads = integer(v, 0, 1024)?; Ok(()) }),
        get: |c| c.threads.to_string() },
    Directive { name: "cpu-affinity", default: "yes", mutable: false,
        set: One(|c, v| { c.cpu_affinity = yes_no(v)?; Ok(()) }),
        get: |c| render_yes_no(c.cpu_affinity) },
    Directive { name: "disable-thp", default: "yes", mutable: false,
        set: One(|c, v| { c.disable_thp = yes_no(v)?; Ok(()) }),
        get: |c| render_yes_no(c.disable_thp) },
    Directive { name: "tcp-backlog", default: "511", mutable: false,
        set: One(|c, v| { c.tcp_backlog = integer(v, 0, INT_MAX)?; Ok(()) }),
        get: |c| c.tcp_backlog.to_string() },
    Directive { name: "tcp-defer-accept", default: "0", mutable: false,
        set: One(|c, v| { c.tcp_defer_accept = integer(v, 0, 3600)?; Ok(()) }),
        get: |c| c.tcp_defer_accept.to_string() },
    Directive { name: "loglevel", default: "notice", mutable: true,
        set: One(|c, v| { c.loglevel = log_level(v)?; Ok(()) }),
        get: |c| c.loglevel.name().to_string() },
    Directive { name: "logfile", default: "", mutable: false,
        set: One(|c, v| { c.logfile = v.to_string(); Ok(()) }),
        get: |c| c.logfile.clone() },
    Directive { name: "databases", default: "16", mutable: false,
        set: One(|c, v| { c.databases = integer(v, 1, 1_000_000)?; Ok(()) }),
        get: |c| c.databases.to_string() },
    Directive { name: "proto-max-bulk-len", default: "512mb", mutable: true,
        set: One(|c, v| { c.proto_max_bulk_len = memory(v, MB)?; Ok(()) }),
        get: |c| c.proto_max_bulk_len.to_string() },
    Directive { name: "client-query-buffer-limit", default: "1gb", mutable: true,
        set: One(|c, v| { c.client_query_buffer_limit = memory(v, MB)?; Ok(()) }),
        get: |c| c.client_query_buffer_limit.to_string() },
    Directive { name: "maxclients", default: "10000", mutable: true,
        set: One(|c, v| { c.maxclients = integer(v, 1, u32::MAX.into())?; Ok(()) }),
        get: |c| c.maxclients.to_string() },
    Directive { name: "timeout", default: "0", mutable: true,
        set: One(|c, v| { c.timeout = integer(v, 0, INT_MAX)?; Ok(()) }),
        get: |c| c.timeout.to_string() },
    Directive { name: "tcp-keepalive", default: "300", mutable: true,
        set: One(|c, v| { c.tcp_keepalive = integer(v, 0, INT_MAX)?; Ok(()) }),
        get: |c| c.tcp_keepalive.to_string() },
    // Redis accepts any non-negative hz and caps it to 1..=500 ("hz is more a hint").
    Directive { name: "hz", default: "10", mutable: true,
        set: One(|c, v| { c.hz = integer::<u32>(v, 0, INT_MAX)?.clamp(1, 500); Ok(()) }),
        get: |c| c.hz.to_string() },
    Directive { name: "appendonly", default: "yes", mutable: false,
        set: One(|c, v| { c.appendonly = yes_no(v)?; Ok(()) }),
        get: |c| render_yes_no(c.appendonly) },
    Directive { name: "save", default: "3600 1 300 100 60 10000", mutable: true,
        set: Many(|c, v| { c.save = save_points(v)?; Ok(()) }),
        get: |c| c.save.clone() },
    Directive { name: "appendfsync", default: "everysec", mutable: true,
        set: One(|c, v| { c.appendfsync = Fsync::parse(v)?; Ok(()) }),
        get: |c| c.appendfsync.name().to_string() },
    Directive { name: "save-schedule", default: "", mutable: true,
        set: Many(|c, v| { c.save_schedule = save_schedule(v)?; Ok(()) }),
        get: |c| c.save_schedule.clone() },
    Directive { name: "binlog-segment-size", default: "64mb", mutable: true,
        set: One(|c, v| { c.binlog_segment_size = memory(v, 4096)?; Ok(()) }),
        get: |c| c.binlog_segment_size.to_string() },
    Directive { name: "binlog-segment-seconds", default: "0", mutable: true,
        set: One(|c, v| { c.binlog_segment_seconds = integer(v, 0, INT_MAX)?; Ok(()) }),
        get: |c| c.binlog_segment_seconds.to_string() },
    Directive { name: "binlog-retention", default: "86400 1gb", mutable: true,
        set: Many(|c, v| {
            let (seconds, bytes) = retention(v)?;
            (c.binlog_retention_seconds, c.binlog_retention_bytes) = (seconds, bytes);
            Ok(())
        }),
        get: |c| format!("{} {}", c.binlog_retention_seconds, c.binlog_retention_bytes) },
    Directive { name: "aof-load-truncated", default: "yes", mutable: true,
        set: One(|c, v| { c.aof_load_truncated = yes_no(v)?; Ok(()) }),
        get: |c| render_yes_no(c.aof_load_truncated) },
    Directive { name: "binlog-failpoint", default: "off", mutable: true,
        set: One(|c, v| { c.binlog_failpoint = failpoint(v)?; Ok(()) }),
        get: |c| match c.binlog_failpoint {
            Some(libc::ENOSPC) => "enospc".into(),
            Some(_) => "eio".into(),
            None => "off".into(),
        } },
    Directive { name: "daemonize", default: "no", mutable: false,
        set: One(|c, v| { c.daemonize = daemonize(v)?; Ok(()) }),
        get: |c| render_yes_no(c.daemonize) },
    Directive { name: "protected-mode", default: "yes", mutable: true,
        set: One(|c, v| { c.protected_mode = yes_no(v)?; Ok(()) }),
        get: |c| render_yes_no(c.protected_mode) },
    Directive { name: "requirepass", default: "", mutable: true,
        set: One(|c, v| { c.requirepass = v.to_string(); Ok(()) }),
        get: |c| c.requirepass.clone() },
    Directive { name: "slowlog-log-slower-than", default: "10000", mutable: true,
        set: One(|c, v| { c.slowlog_log_slower_than = integer(v, -1, LONG_MAX)?; Ok(()) }),
        get: |c| c.slowlog_log_slower_than.to_string() },
    Directive { name: "slowlog-max-len", default: "128", mutable: true,
        set: One(|c, v| { c.slowlog_max_len = integer(v, 0, LONG_MAX)?; Ok(()) }),
        get: |c| c.slowlog_max_len.to_string() },
    Directive { name: "latency-monitor-threshold", default: "0", mutable: true,
        set: One(|c, v| { c.latency_monitor_threshold = integer(v, 0, LONG_MAX)?; Ok(()) }),
        get: |c| c.latency_monitor_threshold.to_string() },
    Directive { name: "pidfile", default: "", mutable: false,
        set: One(|c, v| { c.pidfile = v.to_string(); Ok(()) }),
        get: |c| c.pidfile.clone() },
    // Collection encodings (Redis 7.2's names; sizes of values are memory values, as in Redis).
    Directive { name: "hash-max-listpack-entries", default: "128", mutable: true,
        set: One(|c, v| { c.encoding.hash_max_listpack_entries = integer(v, 0, LONG_MAX)?; Ok(()) }),
        get: |c| c.encoding.hash_max_listpack_entries.to_string() },
    Directive { name: "hash-max-listpack-value", default: "64", mutable: true,
        set: One(|c, v| { c.encoding.hash_max_listpack_value = memory(v, 0)? as usize; Ok(()) }),
        get: |c| c.encoding.hash_max_listpack_value.to_string() },
    Directive { name: "set-max-intset-entries", default: "512", mutable: true,
        set: One(|c, v| { c.encoding.set_max_intset_entries = integer(v, 0, LONG_MAX)?; Ok(()) }),
        get: |c| c.encoding.set_max_intset_entries.to_string() },
    Directive { name: "set-max-listpack-entries", default: "128", mutable: true,
        set: One(|c, v| { c.encoding.set_max_listpack_entries = integer(v, 0, LONG_MAX)?; Ok(()) }),
        get: |c| c.encoding.set_max_listpack_entries.to_string() },
    Directive { name: "set-max-listpack-value", default: "64", mutable: true,
        set: One(|c, v| { c.encoding.set_max_listpack_value = memory(v, 0)? as usize; Ok(()) }),
        get: |c| c.encoding.set_max_listpack_value.to_string() },
    Directive { name: "list-max-listpack-size", default: "-2", mutable: true,
        set: One(|c, v| { c.encoding.list_max_listpack_size = integer(v, i32::MIN.into(), INT_MAX)?; Ok(()) }),
        get: |c| c.encoding.list_max_listpack_size.to_string() },
    Directive { name: "list-compress-depth", default: "0", mutable: true,
        set: One(|c, v| { c.list_compress_depth = integer(v, 0, INT_MAX)?; Ok(()) }),
        get: |c| c.list_compress_depth.to_string() },
    Directive { name: "zset-max-listpack-entries", default: "128", mutable: true,
        set: One(|c, v| { c.zset_max_listpack_entries = integer(v, 0, LONG_MAX)?; Ok(()) }),
        get: |c| c.zset_max_listpack_entries.to_string() },
    Directive { name: "zset-max-listpack-value", default: "64", mutable: true,
        set: One(|c, v| { c.zset_max_listpack_value = memory(v, 0)?; Ok(()) }),
        get: |c| c.zset_max_listpack_value.to_string() },
    Directive { name: "memcached-port", default: "11211", mutable: false,
        set: One(|c, v| { c.memcached_port = integer(v, 0, 65535)?; Ok(()) }),
        get: |c| c.memcached_port.to_string() },
    // Memcached's -I: at least 1k, at most 1g (memcached refuses larger).
    Directive { name: "item-size-max", default: "1mb", mutable: true,
        set: One(|c, v| { c.item_size_max = memory_range(v, 1024, 1024 * MB)?; Ok(()) }),
        get: |c| c.item_size_max.to_string() },
    Directive { name: "admin-port", default: "9379", mutable: false,
        set: One(|c, v| { c.admin_port = integer(v, 0, 65535)?; Ok(()) }),
        get: |c| c.admin_port.to_string() },
    Directive { name: "admin-bind", default: "", mutable: false,
        set: One(|c, v| { c.admin_bind = v.trim_start_matches('-').to_string(); Ok(()) }),
        get: |c| c.admin_bind.clone() },
    Directive { name: "shard-stall-threshold", default: "100", mutable: true,
        set: One(|c, v| { c.shard_stall_threshold = integer(v, 1, INT_MAX)?; Ok(()) }),
        get: |c| c.shard_stall_threshold.to_string() },
    Directive { name: "busy-reply-threshold", default: "5000", mutable: true,
        set: One(|c, v| { c.busy_reply_threshold = integer(v, 0, LONG_MAX)?; Ok(()) }),
        get: |c| c.busy_reply_threshold.to_string() },
    Directive { name: "disk-probe-interval", default: "1000", mutable: true,
        set: One(|c, v| { c.disk_probe_interval = integer(v, 0, INT_MAX)?; Ok(()) }),
        get: |c| c.disk_probe_interval.to_string() },
    Directive { name: "disk-latency-threshold", default: "500", mutable: true,
        set: One(|c, v| { c.disk_latency_threshold = integer(v, 1, INT_MAX)?; Ok(()) }),
        get: |c| c.disk_latency_threshold.to_string() },
    Directive { name: "notify-keyspace-events", default: "", mutable: true,
        set: One(|c, v| { c.notify_keyspace_events = NotifyFlags::parse(v)?; Ok(()) }),
        get: |c| c.notify_keyspace_events.render() },
    Directive { name: "client-output-buffer-limit",
        default: "normal 0 0 0 slave 256mb 64mb 60 pubsub 32mb 8mb 60", mutable: true,
        set: Many(|c, v| c.client_output_buffer_limit.apply(v, |m| memory(m, 0))),
        get: |c| c.client_output_buffer_limit.render() },
];

/// Redis's old names for directives (`standardConfig` aliases): accepted everywhere the new name
/// is, and reported under the old name by CONFIG GET when a pattern matches it. An older
/// redis.conf with the ziplist names keeps working.
const ALIASES: &[(&str, &str)] = &[
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("list-max-ziplist-size", "list-max-listpack-size"),
    ("lua-time-limit", "busy-reply-threshold"),
];

fn lookup(name: &str) -> Option<&'static Directive> {
    let name = ALIASES
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
        .map_or(name, |(_, target)| target);
    DIRECTIVES
        .iter()
        .find(|directive| directive.name.eq_ignore_ascii_case(name))
}

impl Default for Config {
    /// The `default` column of [`DIRECTIVES`], applied in order.
    fn default() -> Self {
        let mut config = Config::blank();
        for directive in DIRECTIVES {
            let values = [directive.default.to_string()];
            let applied = match directive.set {
                One(set) => set(&mut config, directive.default),
                Many(set) => set(&mut config, &values),
            };
            // Static data: any test that builds a default Config checks it.
            if let Err(reason) = applied {
                panic!(
                    "DIRECTIVES default for '{}' is invalid: {reason}",
                    directive.name
                );
            }
        }
        config
    }
}

impl Config {
    /// Placeholder values, each overwritten by its directive's default.
    fn blank() -> Config {
        Config {
            port: 0,
            bind: Vec::new(),
            dir: PathBuf::new(),
            threads: 0,
            cpu_affinity: false,
            disable_thp: false,
            tcp_backlog: 0,
            tcp_defer_accept: 0,
            loglevel: LogLevel::Nothing,
            logfile: String::new(),
            databases: 0,
            proto_max_bulk_len: 0,
            client_query_buffer_limit: 0,
            maxclients: 0,
            timeout: 0,
            tcp_keepalive: 0,
            hz: 0,
            appendonly: false,
            save: String::new(),
            appendfsync: Fsync::No,
            save_schedule: String::new(),
            binlog_segment_size: 0,
            binlog_segment_seconds: 0,
            binlog_retention_seconds: 0,
            binlog_retention_bytes: 0,
            aof_load_truncated: false,
            binlog_failpoint: None,
            daemonize: false,
            protected_mode: false,
            requirepass: String::new(),
            slowlog_log_slower_than: 0,
            slowlog_max_len: 0,
            busy_reply_threshold: 0,
            latency_monitor_threshold: 0,
            pidfile: String::new(),
            encoding: EncodingLimits::default(),
            list_compress_depth: 0,
            zset_max_listpack_entries: 0,
            zset_max_listpack_value: 0,
            memcached_port: 0,
            item_size_max: 0,
            admin_port: 0,
            admin_bind: String::new(),
            shard_stall_threshold: 0,
            disk_probe_interval: 0,
            disk_latency_threshold: 0,
            notify_keyspace_events: NotifyFlags::default(),
            client_output_buffer_limit: OutputBufferLimits::default(),
        }
    }

    /// redis-server style command line: `[path/to/shardis.conf] [--directive value ...]`, without
    /// argv[0]. The file is applied first, then the command-line directives, so the command line
    /// wins. As in Redis 7, `--name` with no value yet takes a following `--x` as its value (a
    /// password may start with "--"), except that a bare `--save` means `--save ""`.
    pub fn from_args(args: &[String]) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        let mut options = args;
        if let Some(path) = args.first().filter(|first| !first.starts_with("--")) {
            config.include(std::slice::from_ref(path), 0)?;
            options = &args[1..];
        }
        let mut directives: Vec<(&str, Vec<String>)> = Vec::new();
        for arg in options {
            match (arg.strip_prefix("--"), directives.last_mut()) {
                (Some(name), None) => directives.push((name, Vec::new())),
                (Some(name), Some((last, values)))
                    if !values.is_empty() || last.eq_ignore_ascii_case("save") =>
                {
                    directives.push((name, Vec::new()))
                }
                (_, Some((_, values))) => values.push(arg.clone()),
                (None, None) => return Err(ConfigError::UnexpectedArgument { arg: arg.clone() }),
            }
        }
        for (name, mut values) in directives {
            if values.is_empty() && name.eq_ignore_ascii_case("save") {
                values.push(String::new());
            }
            config.apply_nested(name, &values, true, 0)?;
        }
        Ok(config)
    }

    /// Applies redis.conf text: one directive per line, `#` comment lines, blank lines, arguments
    /// split like Redis's `sdssplitargs`, case-insensitive names, `include path` (a relative path
    /// is relative to the working directory, as in Redis). `source` names the text in errors.
    pub fn apply_text(&mut self, text: &str, source: &str) -> Result<(), ConfigError> {
        self.apply_text_nested(text, source, 0)
    }

    fn apply_text_nested(
        &mut self,
        text: &str,
        source: &str,
        depth: usize,
    ) -> Result<(), ConfigError> {
        for (index, line) in text.split('\n').enumerate() {
            let line = line.trim_matches([' ', '\t', '\r', '\n']);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at_line = |error| ConfigError::AtLine {
                file: source.to_string(),
                line: index + 1,
                text: line.to_string(),
                error: Box::new(error),
            };
            let words =
                split_args(line).map_err(|reason| at_line(ConfigError::Syntax { reason }))?;
            if let Some((name, values)) = words.split_first() {
                // An error inside an included file already names that file and line.
                self.apply_nested(name, values, true, depth)
                    .map_err(|error| match error {
                        ConfigError::AtLine { .. } => error,
                        error => at_line(error),
                    })?;
            }
        }
        Ok(())
    }

    /// Applies one directive from the config file, the command line (`startup` = true) or CONFIG
    /// SET (`startup` = false, where immutable directives and `include` are refused). On error the
    /// configuration is unchanged.
    pub fn apply(
        &mut self,
        name: &str,
        values: &[String],
        startup: bool,
    ) -> Result<(), ConfigError> {
        self.apply_nested(name, values, startup, 0)
    }

    fn apply_nested(
        &mut self,
        name: &str,
        values: &[String],
        startup: bool,
        depth: usize,
    ) -> Result<(), ConfigError> {
        if startup && name.eq_ignore_ascii_case("include") {
            return self.include(values, depth);
        }
        let name = name.to_ascii_lowercase();
        let Some(directive) = lookup(&name) else {
            if PERSISTENCE_NOT_YET.contains(&name.as_str()) {
                return Err(ConfigError::PersistenceNotSupported { name });
            }
            return Err(ConfigError::UnknownDirective { name });
        };
        if !startup && !directive.mutable {
            return Err(ConfigError::Immutable { name });
        }
        let applied = match (&directive.set, values) {
            (One(set), [value]) => set(self, value),
            (One(_), _) => {
                return Err(ConfigError::WrongArity {
                    name,
                    got: values.len(),
                })
            }
            (Many(set), values) => set(self, values),
        };
        applied.map_err(|reason| ConfigError::InvalidValue {
            name,
            value: values.join(" "),
            reason,
        })
    }

    fn include(&mut self, values: &[String], depth: usize) -> Result<(), ConfigError> {
        let [path] = values else {
            return Err(ConfigError::WrongArity {
                name: "include".to_string(),
                got: values.len(),
            });
        };
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(ConfigError::IncludeTooDeep { path: path.clone() });
        }
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
            path: path.clone(),
            source,
        })?;
        self.apply_text_nested(&text, path, depth + 1)
    }

    /// CONFIG GET: every (name, value) whose name matches the Redis glob `pattern`
    /// (case-insensitive), in table order, values rendered as Redis renders them.
    pub fn get(&self, pattern: &str) -> Vec<(String, String)> {
        let aliases = ALIASES.iter().filter_map(|(alias, target)| {
            let directive = lookup(target)?;
            Some((*alias, directive))
        });
        DIRECTIVES
            .iter()
            .map(|directive| (directive.name, directive))
            .chain(aliases)
            .filter(|(name, _)| glob_match(pattern.as_bytes(), name.as_bytes()))
            .map(|(name, directive)| (name.to_string(), (directive.get)(self)))
            .collect()
    }

    /// The number of shards: `threads`, or one per available core when it is 0.
    pub fn shards(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |cores| cores.get()),
            threads => threads,
        }
    }

    /// Whether CONFIG SET may change `name`; None when it is not a directive shardis supports.
    pub fn is_mutable(name: &str) -> Option<bool> {
        lookup(name).map(|directive| directive.mutable)
    }
}

fn integer<T: TryFrom<i64>>(value: &str, min: i64, max: i64) -> Result<T, String> {
    let number: i64 = value
        .parse()
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
    let out_of_range = || format!("argument must be between {min} and {max} inclusive");
    if !(min..=max).contains(&number) {
        return Err(out_of_range());
    }
    T::try_from(number).map_err(|_| out_of_range())
}

/// A byte count like Redis's `memtoll`: a plain number is bytes; k/m/g are powers of 1000 and
/// kb/mb/gb powers of 1024, any case. The upper bound is Redis's LONG_MAX.
/// A memory size between `min` and `max` bytes.
fn memory_range(value: &str, min: u64, max: u64) -> Result<u64, String> {
    match memory(value, min)? {
        bytes if bytes > max => Err(format!("argument must be at most {max} bytes")),
        bytes => Ok(bytes),
    }
}

fn memory(value: &str, min: u64) -> Result<u64, String> {
    let lower = value.to_ascii_lowercase();
    let (digits, unit) = lower.split_at(
        lower
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(lower.len()),
    );
    let multiplier: Option<u64> = match unit {
        "" | "b" => Some(1),
        "k" => Some(1000),
        "kb" => Some(1024),
        "m" => Some(1000 * 1000),
        "mb" => Some(MB),
        "g" => Some(1000 * 1000 * 1000),
        "gb" => Some(1024 * MB),
        _ => None,
    };
    let bytes = digits
        .parse::<u64>()
        .ok()
        .zip(multiplier)
        .and_then(|(n, unit)| n.checked_mul(unit));
    match bytes {
        Some(bytes) if bytes > LONG_MAX as u64 => {
            Err(format!("argument must be at most {LONG_MAX} bytes"))
        }
        Some(bytes) if bytes < min => Err(format!("argument must be at least {min} bytes")),
        Some(bytes) => Ok(bytes),
        None => Err(
            "argument must be a memory value: bytes, or a number with k, kb, m, mb, g or gb"
                .to_string(),
        ),
    }
}

fn yes_no(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".to_string()),
    }
}

fn render_yes_no(flag: bool) -> String {
    if flag { "yes" } else { "no" }.to_string()
}

fn non_empty<'a>(value: &'a str, reason: &str) -> Result<&'a str, String> {
    if value.is_empty() {
        return Err(reason.to_string());
    }
    Ok(value)
}

fn log_level(value: &str) -> Result<LogLevel, String> {
    LogLevel::ALL
        .into_iter()
        .find(|level| level.name().eq_ignore_ascii_case(value))
        .ok_or_else(|| {
            "argument(s) must be one of the following: debug, verbose, notice, warning, nothing"
                .to_string()
        })
}

/// `bind 127.0.0.1 ::1`, or one space-separated value (`--bind "127.0.0.1 ::1"`, CONFIG SET), as
/// Redis splits a single value of a multi-value directive. Redis 7's leading '-' ("skip this
/// address if it is unavailable") is accepted and stripped; `*` and `::*` mean every IPv4/IPv6
/// address, as in Redis 7.
fn bind_addresses(values: &[String]) -> Result<Vec<String>, String> {
    let addresses: Vec<String> = match values {
        [single] => single.split_whitespace().map(str::to_string).collect(),
        _ => values.to_vec(),
    };
    if addresses.is_empty() || addresses.len() > MAX_BIND_ADDRESSES {
        return Err(format!(
            "argument must be 1 to {MAX_BIND_ADDRESSES} addresses"
        ));
    }
    let mut stripped = Vec::with_capacity(addresses.len());
    for address in &addresses {
        let address = address.strip_prefix('-').unwrap_or(address);
        if address != "*" && address != "::*" && address.parse::<std::net::IpAddr>().is_err() {
            return Err(format!(
                "'{address}' is not an IP address, '*' (all IPv4) or '::*' (all IPv6)"
            ));
        }
        stripped.push(address.to_string());
    }
    Ok(stripped)
}

/// `save <seconds> <changes> [<seconds> <changes> ...]` as separate values or one string (CONFIG
/// SET); `save ""` (or a bare `save`) means no rules. Rendered normalised, as Redis does.
fn save_points(values: &[String]) -> Result<String, String> {
    let words: Vec<&str> = values.iter().flat_map(|v| v.split_whitespace()).collect();
    if !words.len().is_multiple_of(2) {
        return Err("Invalid save parameters".into());
    }
    let mut rules = Vec::new();
    for pair in words.chunks(2) {
        let seconds: u64 = pair[0].parse().map_err(|_| "Invalid save parameters")?;
        let changes: u64 = pair[1].parse().map_err(|_| "Invalid save parameters")?;
        rules.push(format!("{seconds} {changes}"));
    }
    Ok(rules.join(" "))
}

impl Config {
    /// The `save` rules as (seconds, changes) pairs.
    pub fn save_rules(&self) -> Vec<(u64, u64)> {
        let words: Vec<u64> = self
            .save
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        words
            .chunks(2)
            .filter(|p| p.len() == 2)
            .map(|p| (p[0], p[1]))
            .collect()
    }

    /// The `save-schedule` times as minutes after midnight UTC.
    pub fn save_schedule_minutes(&self) -> Vec<u32> {
        self.save_schedule
            .split_whitespace()
            .filter_map(parse_hh_mm)
            .collect()
    }
}

fn parse_hh_mm(text: &str) -> Option<u32> {
    let (hours, minutes) = text.split_once(':')?;
    let (hours, minutes): (u32, u32) = (hours.parse().ok()?, minutes.parse().ok()?);
    (hours < 24 && minutes < 60 && text.len() == 5).then_some(hours * 60 + minutes)
}

/// `save-schedule 03:00 15:30` (UTC); "" = none.
fn save_schedule(values: &[String]) -> Result<String, String> {
    let words: Vec<&str> = values.iter().flat_map(|v| v.split_whitespace()).collect();
    for word in &words {
        if parse_hh_mm(word).is_none() {
            return Err(format!("'{word}' is not a time of day as HH:MM (UTC)"));
        }
    }
    Ok(words.join(" "))
}

/// `binlog-retention <seconds> <bytes>`.
fn retention(values: &[String]) -> Result<(u64, u64), String> {
    let words: Vec<&str> = values.iter().flat_map(|v| v.split_whitespace()).collect();
    let [seconds, bytes] = words.as_slice() else {
        return Err("argument must be '<seconds> <size>', e.g. '86400 1gb'".into());
    };
    Ok((integer(seconds, 0, LONG_MAX)?, memory(bytes, 0)?))
}

fn failpoint(value: &str) -> Result<Option<i32>, String> {
    match value.to_ascii_lowercase().as_str() {
        "off" => Ok(None),
        "enospc" => Ok(Some(libc::ENOSPC)),
        "eio" => Ok(Some(libc::EIO)),
        _ => Err("argument must be one of: off, enospc, eio".into()),
    }
}

fn daemonize(value: &str) -> Result<bool, String> {
    if yes_no(value)? {
        return Err(
            "shardis does not daemonize: run it in the foreground under a supervisor (systemd, docker)"
                .into(),
        );
    }
    Ok(false)
}

/// Splits a config line like Redis's `sdssplitargs`: whitespace separates arguments; "..." takes
/// \n \r \t \b \a \xHH and \<any> escapes; '...' takes \'; a closing quote must end the argument.
fn split_args(line: &str) -> Result<Vec<String>, &'static str> {
    const UNBALANCED: &str = "Unbalanced quotes in configuration line";
    let hex = |digit: u8| (digit as char).to_digit(16).unwrap_or(0) as u8;
    let mut args = Vec::new();
    let mut rest = line.as_bytes();
    loop {
        rest = rest.trim_ascii_start();
        if rest.is_empty() {
            return Ok(args);
        }
        let mut arg = Vec::new();
        let mut quote = None;
        loop {
            let (byte, tail) = match (quote, rest) {
                (Some(_), []) => return Err(UNBALANCED),
                (None, []) | (None, [b' ' | b'\n' | b'\r' | b'\t' | b'\0', ..]) => break,
                (None, [open @ (b'"' | b'\''), tail @ ..]) => {
                    quote = Some(*open);
                    rest = tail;
                    continue;
                }
                (Some(close), [byte, tail @ ..]) if *byte == close => {
                    if tail.first().is_some_and(|next| !next.is_ascii_whitespace()) {
                        return Err(UNBALANCED);
                    }
                    quote = None;
                    rest = tail;
                    continue;
                }
                (Some(b'"'), [b'\\', b'x', high, low, tail @ ..])
                    if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() =>
                {
                    (hex(*high) * 16 + hex(*low), tail)
                }
                (Some(b'"'), [b'\\', escaped, tail @ ..]) => {
                    let byte = match escaped {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => *other,
                    };
                    (byte, tail)
                }
                (Some(b'\''), [b'\\', b'\'', tail @ ..]) => (b'\'', tail),
                (_, [byte, tail @ ..]) => (*byte, tail),
            };
            arg.push(byte);
            rest = tail;
        }
        args.push(
            String::from_utf8(arg)
                .map_err(|_| "argument is not valid UTF-8 (check \\x escapes)")?,
        );
    }
}

/// Redis's `stringmatchlen` with nocase, as CONFIG GET matches: `*`, `?`, `[a-z]`, `[^x]`, `\x`.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let same = |a: &u8, b: &u8| a.eq_ignore_ascii_case(b);
    match (pattern, text) {
        ([], text) => text.is_empty(),
        ([b'*', rest @ ..], text) => (0..=text.len()).any(|skip| glob_match(rest, &text[skip..])),
        (_, []) => false,
        ([b'?', rest @ ..], [_, text @ ..]) => glob_match(rest, text),
        ([b'\\', escaped, rest @ ..], [byte, text @ ..]) => {
            same(escaped, byte) && glob_match(rest, text)
        }
        ([b'[', class @ ..], [byte, text @ ..]) => {
            let (negate, mut class) = match class {
                [b'^', tail @ ..] => (true, tail),
                _ => (false, class),
            };
            let (byte, mut found) = (byte.to_ascii_lowercase(), false);
            loop {
                let (low, high, tail) = match class {
                    [] | [b']', ..] => break,
                    [b'\\', c, tail @ ..] => (c, c, tail),
                    [low, b'-', high, tail @ ..] => (low.min(high), low.max(high), tail),
                    [c, tail @ ..] => (c, c, tail),
                };
                found |= (low.to_ascii_lowercase()..=high.to_ascii_lowercase()).contains(&byte);
                class = tail;
            }
            found != negate && glob_match(class.get(1..).unwrap_or_default(), text)
        }
        ([literal, rest @ ..], [byte, text @ ..]) => same(literal, byte) && glob_match(rest, text),
    }
}

#[cfg(test)]
mod tests;
