//! Keyspace notifications raised on the shard that owns the key (Redis's
//! `notifyKeyspaceEvent`), queued here for the server layer to publish on every core.
//!
//! With `notify-keyspace-events` empty (the default) nothing here runs: [`Shard::execute_in`]
//! checks one flag. Otherwise, for a write command, the existence of the keys the command's
//! events name is looked at before it runs ([`Watch`]); if the command changed anything, its events
//! (`command::notify`) are queued afterwards, with `new` for keys it created and `del` for
//! collections it emptied. Expired keys the shard reclaims raise `expired`.
//!
//! The queue is drained by one task per core (`server::pubsub::notification_loop`), woken
//! through [`Notifier::waker`] when the first notification of a loop turn is queued.

use std::task::Waker;

use bytes::{BufMut, Bytes, BytesMut};

use crate::command::notify::{self, KeyEvent, When};
use crate::config::NotifyFlags;
use crate::keyspace::Db;

/// A notification: the channel and the message.
pub type Notification = (Bytes, Bytes);

#[derive(Default)]
pub struct Notifier {
    pub flags: NotifyFlags,
    /// Notifications not yet published.
    pub pending: Vec<Notification>,
    /// The publishing task, parked until a notification is queued.
    pub waker: Option<Waker>,
}

/// What a write command's notifications need from before it ran.
pub struct Watch {
    events: Vec<KeyEvent>,
    /// Whether each event's key existed before the command.
    existed: Vec<bool>,
}

impl Notifier {
    /// Whether anything may be published at all.
    #[inline]
    pub fn is_on(&self) -> bool {
        !self.flags.is_off()
    }

    /// Queues event `event` of `class` on `key` in database `db`, if the flags want it.
    pub fn notify(&mut self, class: u16, event: &str, key: &[u8], db: usize) {
        if !self.flags.wants(class) {
            return;
        }
        let event_bytes = Bytes::copy_from_slice(event.as_bytes());
        if self.flags.0 & NotifyFlags::KEYSPACE != 0 {
            let channel = channel(b"__keyspace@", db, key);
            self.pending.push((channel, event_bytes.clone()));
        }
        if self.flags.0 & NotifyFlags::KEYEVENT != 0 {
            let channel = channel(b"__keyevent@", db, event.as_bytes());
            self.pending.push((channel, Bytes::copy_from_slice(key)));
        }
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// Looks at the keys of `name`'s events before it runs; `None` when it raises none.
    pub fn watch(&self, name: &str, args: &[Bytes], db: &mut Db, now_ms: u64) -> Option<Watch> {
        self.watch_with(name, args, |key| db.contains(key, now_ms))
    }

    /// As [`Notifier::watch`], with whether a key existed told by `existed` (for a command run
    /// on gathered entries, `server::coordinator::gather`).
    pub fn watch_with(
        &self,
        name: &str,
        args: &[Bytes],
        mut existed: impl FnMut(&[u8]) -> bool,
    ) -> Option<Watch> {
        let events = notify::key_events(name, args);
        if events.is_empty() || !events.iter().any(|e| self.flags.wants(e.class)) {
            // `new` is raised only with the command's own events, as it is here.
            return None;
        }
        let existed = events
            .iter()
            .map(|e| args.get(e.arg).is_some_and(|key| existed(key)))
            .collect();
        Some(Watch { events, existed })
    }

    /// Queues the events of a command that changed something (see the module doc).
    pub fn raise(
        &mut self,
        watch: Watch,
        args: &[Bytes],
        db: &mut Db,
        db_index: usize,
        now_ms: u64,
    ) {
        self.raise_with(watch, args, db_index, |key| db.contains(key, now_ms));
    }

    /// As [`Notifier::raise`], with whether a key exists now told by `exists`.
    pub fn raise_with(
        &mut self,
        watch: Watch,
        args: &[Bytes],
        db_index: usize,
        mut exists: impl FnMut(&[u8]) -> bool,
    ) {
        let mut emptied: Vec<usize> = Vec::new();
        let mut created: Vec<usize> = Vec::new();
        for (event, existed) in watch.events.iter().zip(&watch.existed) {
            let Some(key) = args.get(event.arg) else {
                continue;
            };
            let exists = exists(key);
            if !existed && exists && !created.contains(&event.arg) {
                created.push(event.arg);
                self.notify(NotifyFlags::NEW, "new", key, db_index);
            }
            let applies = match event.when {
                When::Changed => true,
                When::Removed => *existed && !exists,
                When::Kept => exists,
            };
            if applies {
                self.notify(event.class, event.event, key, db_index);
            }
            if notify::empties_key(event.class) && *existed && !exists {
                emptied.push(event.arg);
            }
        }
        emptied.dedup();
        for arg in emptied {
            self.notify(NotifyFlags::GENERIC, "del", &args[arg], db_index);
        }
    }
}

/// `__keyspace@<db>__:<key>` or `__keyevent@<db>__:<event>`.
fn channel(prefix: &[u8], db: usize, suffix: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(prefix.len() + suffix.len() + 8);
    out.put_slice(prefix);
    out.put_slice(db.to_string().as_bytes());
    out.put_slice(b"__:");
    out.put_slice(suffix);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::test_support::Harness;

    fn args(text: &str) -> Vec<Bytes> {
        text.split(' ')
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    /// Runs `command` in the harness and returns the notifications it raised.
    fn run(harness: &mut Harness, notifier: &mut Notifier, command: &str) -> Vec<(String, String)> {
        let argv = args(command);
        let name = command.split(' ').next().unwrap_or("").to_ascii_lowercase();
        let now = harness.now_ms;
        let watch = notifier.watch(&name, &argv, harness.keyspace.db(0), now);
        let before = harness.keyspace.mutations();
        let words: Vec<&str> = command.split(' ').collect();
        harness.run(&words);
        if let Some(watch) = watch {
            if harness.keyspace.mutations() != before {
                notifier.raise(watch, &argv, harness.keyspace.db(0), 0, now);
            }
        }
        notifier
            .pending
            .drain(..)
            .map(|(c, m)| {
                (
                    String::from_utf8_lossy(&c).into_owned(),
                    String::from_utf8_lossy(&m).into_owned(),
                )
            })
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn keyspace_and_keyevent_channels() {
        let mut harness = Harness::new();
        let mut notifier = Notifier {
            flags: NotifyFlags::parse("KEA").unwrap_or_default(),
            ..Default::default()
        };
        assert_eq!(
            run(&mut harness, &mut notifier, "SET k v"),
            pairs(&[("__keyspace@0__:k", "set"), ("__keyevent@0__:set", "k")])
        );
        assert_eq!(run(&mut harness, &mut notifier, "GET k"), pairs(&[]));
        assert_eq!(
            run(&mut harness, &mut notifier, "DEL k nothere").len(),
            2,
            "only k"
        );
        assert_eq!(
            run(&mut harness, &mut notifier, "DEL k"),
            pairs(&[]),
            "nothing changed"
        );
    }

    #[test]
    fn emptied_collection_raises_del_and_new_key_raises_new() {
        let mut harness = Harness::new();
        let mut notifier = Notifier {
            flags: NotifyFlags::parse("Eln").unwrap_or_default(),
            ..Default::default()
        };
        assert_eq!(
            run(&mut harness, &mut notifier, "RPUSH l a"),
            pairs(&[("__keyevent@0__:new", "l"), ("__keyevent@0__:rpush", "l")])
        );
        // `del` is generic: not wanted with "Eln".
        assert_eq!(
            run(&mut harness, &mut notifier, "LPOP l"),
            pairs(&[("__keyevent@0__:lpop", "l")])
        );
        notifier.flags = NotifyFlags::parse("Elg").unwrap_or_default();
        run(&mut harness, &mut notifier, "RPUSH l a");
        assert_eq!(
            run(&mut harness, &mut notifier, "RPOP l"),
            pairs(&[("__keyevent@0__:rpop", "l"), ("__keyevent@0__:del", "l")])
        );
    }

    #[test]
    fn expire_in_the_past_is_a_del() {
        let mut harness = Harness::new();
        let mut notifier = Notifier {
            flags: NotifyFlags::parse("Kg").unwrap_or_default(),
            ..Default::default()
        };
        harness.run(&["SET", "k", "v"]);
        assert_eq!(
            run(&mut harness, &mut notifier, "EXPIRE k 100"),
            pairs(&[("__keyspace@0__:k", "expire")])
        );
        assert_eq!(
            run(&mut harness, &mut notifier, "EXPIRE k -1"),
            pairs(&[("__keyspace@0__:k", "del")])
        );
    }
}
