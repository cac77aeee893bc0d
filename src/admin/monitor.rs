//! The MONITOR subscribers of the whole server.
//!
//! Every core feeds the commands it is about to run to every monitor, wherever that monitor's
//! connection lives, through one channel per monitor. While nobody monitors, the data path pays
//! one relaxed load ([`MonitorHub::active`]); the subscriber list's lock is taken only while at
//! least one MONITOR runs, which Redis documents as costly too.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

use bytes::Bytes;
use crossbeam_channel::Sender;

#[derive(Default)]
pub struct MonitorHub {
    count: AtomicUsize,
    subscribers: Mutex<Vec<(u64, Sender<Bytes>)>>,
}

impl MonitorHub {
    #[inline]
    pub fn active(&self) -> bool {
        self.count.load(Relaxed) > 0
    }

    pub fn add(&self, client: u64, sender: Sender<Bytes>) {
        if let Ok(mut list) = self.subscribers.lock() {
            list.push((client, sender));
            self.count.store(list.len(), Relaxed);
        }
    }

    pub fn remove(&self, client: u64) {
        if let Ok(mut list) = self.subscribers.lock() {
            list.retain(|(id, _)| *id != client);
            self.count.store(list.len(), Relaxed);
        }
    }

    /// Sends `line` to every monitor but the client that ran the command.
    pub fn send(&self, from: u64, line: Bytes) {
        if let Ok(list) = self.subscribers.lock() {
            for (id, sender) in list.iter() {
                if *id != from {
                    let _ = sender.send(line.clone());
                }
            }
        }
    }
}

/// Redis's `sdscatrepr` without the surrounding quotes: backslash escapes for `\\`, `"`, `\n`,
/// `\r`, `\t`, `\a`, `\b`, and `\xHH` for other unprintable bytes.
pub fn quote(arg: &[u8]) -> String {
    let mut out = String::with_capacity(arg.len());
    for &byte in arg {
        match byte {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            b if b.is_ascii_graphic() || b == b' ' => out.push(b as char),
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_sdscatrepr() {
        assert_eq!(quote(b"a b"), "a b");
        assert_eq!(quote(b"x\"y\\\n\x01"), "x\\\"y\\\\\\n\\x01");
    }

    #[test]
    fn hub_counts_and_skips_the_sender() {
        let hub = MonitorHub::default();
        assert!(!hub.active());
        let (tx, rx) = crossbeam_channel::unbounded();
        hub.add(7, tx);
        assert!(hub.active());
        hub.send(7, Bytes::from_static(b"own"));
        hub.send(8, Bytes::from_static(b"other"));
        assert_eq!(rx.try_recv().unwrap(), Bytes::from_static(b"other"));
        assert!(rx.try_recv().is_err());
        hub.remove(7);
        assert!(!hub.active());
    }
}
