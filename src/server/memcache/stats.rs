//! Memcached's `stats`: the counters each core keeps for its memcached connections, and the
//! general, settings, items and slabs sections built from every core's report.
//!
//! Counters live in a thread-local per core (each shard is one executor thread and only its
//! connections touch them, so there is no sharing); `stats` gathers every core's report with
//! `Op::MemcacheStats`. Field names are memcached 1.6's, the ones clients and dashboards read;
//! slab and LRU figures that have no counterpart here report one slab class holding every item.

use std::cell::RefCell;

use crate::config::Config;

use super::super::runtime::Runtime;

/// One core's memcached counters.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    pub curr_connections: u64,
    pub total_connections: u64,
    pub cmd_get: u64,
    pub cmd_set: u64,
    pub cmd_flush: u64,
    pub cmd_touch: u64,
    pub cmd_meta: u64,
    pub get_hits: u64,
    pub get_misses: u64,
    pub delete_hits: u64,
    pub delete_misses: u64,
    pub incr_hits: u64,
    pub incr_misses: u64,
    pub decr_hits: u64,
    pub decr_misses: u64,
    pub cas_hits: u64,
    pub cas_misses: u64,
    pub cas_badval: u64,
    pub touch_hits: u64,
    pub touch_misses: u64,
    pub store_too_large: u64,
    pub total_items: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
}

impl Counters {
    fn add(&mut self, other: &Counters) {
        macro_rules! sum {
            ($($field:ident),*) => { $(self.$field += other.$field;)* };
        }
        sum!(
            curr_connections,
            total_connections,
            cmd_get,
            cmd_set,
            cmd_flush,
            cmd_touch,
            cmd_meta,
            get_hits,
            get_misses,
            delete_hits,
            delete_misses,
            incr_hits,
            incr_misses,
            decr_hits,
            decr_misses,
            cas_hits,
            cas_misses,
            cas_badval,
            touch_hits,
            touch_misses,
            store_too_large,
            total_items,
            bytes_read,
            bytes_written
        );
    }
}

thread_local! {
    static COUNTERS: RefCell<Counters> = RefCell::new(Counters::default());
}

/// Updates this core's counters.
pub fn with(update: impl FnOnce(&mut Counters)) {
    COUNTERS.with(|counters| update(&mut counters.borrow_mut()));
}

/// What one core reports to `stats`.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub counters: Counters,
    /// Keys in database 0.
    pub items: u64,
    /// Estimated bytes held by database 0.
    pub bytes: u64,
}

/// This core's report (runs on the core, for `Op::MemcacheStats`).
pub fn report(rt: &Runtime) -> Report {
    let shard = rt.shard.borrow();
    let db = shard.keyspace.db_ref(0);
    Report {
        counters: COUNTERS.with(|counters| counters.borrow().clone()),
        items: db.len() as u64,
        bytes: db.memory_estimate() as u64,
    }
}

/// Zeroes this core's counters but the connection gauges (`stats reset`).
pub fn reset() {
    with(|counters| {
        *counters = Counters {
            curr_connections: counters.curr_connections,
            ..Counters::default()
        }
    });
}

/// Process facts the general section shows.
pub struct Facts {
    pub uptime: u64,
    pub now_seconds: u64,
    pub threads: usize,
}

/// The `name value` pairs of a `stats` section; `None` for a section memcached does not have.
pub fn section(
    name: Option<&[u8]>,
    reports: &[Report],
    config: &Config,
    facts: &Facts,
) -> Option<Vec<(String, String)>> {
    let mut total = Counters::default();
    for report in reports {
        total.add(&report.counters);
    }
    let items: u64 = reports.iter().map(|r| r.items).sum();
    let bytes: u64 = reports.iter().map(|r| r.bytes).sum();
    let mut out: Vec<(String, String)> = Vec::new();
    let mut put = |name: &str, value: String| out.push((name.to_string(), value));
    match name {
        None => {
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: getrusage fills the struct it is given.
            unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
            let time = |t: libc::timeval| format!("{}.{:06}", t.tv_sec, t.tv_usec);
            put("pid", std::process::id().to_string());
            put("uptime", facts.uptime.to_string());
            put("time", facts.now_seconds.to_string());
            put("version", super::VERSION.to_string());
            put("libevent", "none".to_string());
            put(
                "pointer_size",
                (8 * std::mem::size_of::<usize>()).to_string(),
            );
            put("rusage_user", time(usage.ru_utime));
            put("rusage_system", time(usage.ru_stime));
            put("max_connections", config.maxclients.to_string());
            put("curr_connections", total.curr_connections.to_string());
            put("total_connections", total.total_connections.to_string());
            put("rejected_connections", "0".to_string());
            put("connection_structures", total.curr_connections.to_string());
            let c = &total;
            for (name, value) in [
                ("cmd_get", c.cmd_get),
                ("cmd_set", c.cmd_set),
                ("cmd_flush", c.cmd_flush),
                ("cmd_touch", c.cmd_touch),
                ("cmd_meta", c.cmd_meta),
                ("get_hits", c.get_hits),
                ("get_misses", c.get_misses),
                ("get_expired", 0),
                ("get_flushed", 0),
                ("delete_misses", c.delete_misses),
                ("delete_hits", c.delete_hits),
                ("incr_misses", c.incr_misses),
                ("incr_hits", c.incr_hits),
                ("decr_misses", c.decr_misses),
                ("decr_hits", c.decr_hits),
                ("cas_misses", c.cas_misses),
                ("cas_hits", c.cas_hits),
                ("cas_badval", c.cas_badval),
                ("touch_hits", c.touch_hits),
                ("touch_misses", c.touch_misses),
                ("store_too_large", c.store_too_large),
                ("store_no_memory", 0),
                ("auth_cmds", 0),
                ("auth_errors", 0),
                ("bytes_read", c.bytes_read),
                ("bytes_written", c.bytes_written),
                ("limit_maxbytes", 0),
                ("threads", facts.threads as u64),
                ("bytes", bytes),
                ("curr_items", items),
                ("total_items", c.total_items),
                ("evictions", 0),
                ("reclaimed", 0),
            ] {
                put(name, value.to_string());
            }
        }
        Some(b"settings") => {
            put("maxbytes", "0".to_string());
            put("maxconns", config.maxclients.to_string());
            put("tcpport", config.memcached_port.to_string());
            put("udpport", "0".to_string());
            put("verbosity", "0".to_string());
            put("num_threads", facts.threads.to_string());
            put("cas_enabled", "yes".to_string());
            put("item_size_max", config.item_size_max.to_string());
            put("evictions", "off".to_string());
            put("binding_protocol", "auto-negotiate".to_string());
        }
        Some(b"items") => {
            if items > 0 {
                put("items:1:number", items.to_string());
                put("items:1:age", facts.uptime.to_string());
                put("items:1:evicted", "0".to_string());
                put("items:1:outofmemory", "0".to_string());
            }
        }
        Some(b"slabs") => {
            if items > 0 {
                put("1:chunk_size", config.item_size_max.to_string());
                put("1:used_chunks", items.to_string());
                put("1:mem_requested", bytes.to_string());
            }
            put(
                "active_slabs",
                if items > 0 { "1" } else { "0" }.to_string(),
            );
            put("total_malloced", bytes.to_string());
        }
        Some(_) => return None,
    }
    Some(out)
}
