//! Connection and server commands: their table rows and the pure rendering of what they report.
//!
//! These commands need state only the server layer has (clients on every core, per-shard counters,
//! the configuration), so the server layer gathers that state into the plain structs below and the
//! functions here turn it into Redis's exact reply formats. Nothing here touches the network.
//! (Skeleton: the introspection helper fills in the table rows and rendering functions.)

use super::CommandSpec;

pub const COMMANDS: &[CommandSpec] = &[];

/// One client as `CLIENT LIST` / `CLIENT INFO` show it.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub fd: i32,
    pub name: String,
    pub age_seconds: u64,
    pub idle_seconds: u64,
    pub db: usize,
    /// Bytes waiting in the query buffer, and its free capacity.
    pub query_buffer: usize,
    pub query_buffer_free: usize,
    /// Bytes of replies not yet written.
    pub output_memory: usize,
    /// Last command run, lower-case, subcommand joined with '|' ("client|list").
    pub last_command: String,
    pub resp: u8,
    pub lib_name: String,
    pub lib_version: String,
    /// The shard (core) that owns the connection.
    pub shard: usize,
}

/// Counters of one shard, gathered for INFO.
#[derive(Debug, Clone, Default)]
pub struct ShardSnapshot {
    pub shard: usize,
    pub connected_clients: u64,
    pub total_connections_received: u64,
    pub rejected_connections: u64,
    pub total_commands_processed: u64,
    pub total_error_replies: u64,
    pub total_net_input_bytes: u64,
    pub total_net_output_bytes: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub expired_keys: u64,
    pub memory_estimate: u64,
    /// Commands this shard ran for connections on other shards.
    pub remote_commands: u64,
    /// Per database (index, keys, keys with a deadline, avg_ttl ms) for non-empty databases.
    pub keyspace: Vec<(usize, u64, u64, u64)>,
}

/// Process-wide facts INFO shows, gathered by the server layer.
#[derive(Debug, Clone, Default)]
pub struct ServerFacts {
    pub version: &'static str,
    pub process_id: u32,
    pub run_id: String,
    pub tcp_port: u16,
    pub uptime_seconds: u64,
    pub hz: u32,
    pub executable: String,
    pub config_file: String,
    pub shards: usize,
    pub maxclients: u64,
    pub used_memory_rss: u64,
    pub used_cpu_sys: f64,
    pub used_cpu_user: f64,
    pub server_time_usec: u64,
}
