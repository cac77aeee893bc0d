//! The one piece of process-wide state outside the shards: how to change the log level live.
//!
//! The binary installs the `tracing` subscriber and registers how to change its filter; `CONFIG
//! SET loglevel` calls [`apply_level`], so the new level takes effect at once, as in Redis. In-process
//! servers (tests) install no hook, and the call does nothing.

use std::sync::OnceLock;

type Hook = Box<dyn Fn(&str) + Send + Sync>;

static HOOK: OnceLock<Hook> = OnceLock::new();

/// Registers how to change the log filter (once per process; later calls are ignored).
pub fn set_level_hook(hook: Hook) {
    let _ = HOOK.set(hook);
}

/// Switches logging to `filter` (a `tracing` filter such as "info").
pub fn apply_level(filter: &str) {
    if let Some(hook) = HOOK.get() {
        hook(filter);
    }
}
