//! Pub/Sub bookkeeping of one core, as plain synchronous data: who on this core listens to which
//! channel, pattern and shard channel, and the frames a message is delivered as.
//!
//! Subscriptions live on the core that owns the subscriber's connection (see `server::pubsub`):
//! a PUBLISH visits every core, and each core delivers to its own subscribers through this
//! registry. Patterns are matched with Redis's glob (`keyspace::glob`), one pattern at a time,
//! as Redis's `pubsubPublishMessage` does. Shard channels (SSUBSCRIBE) are a separate namespace:
//! a single server holds every slot, so they behave like plain channels that only SPUBLISH
//! reaches.

use ahash::AHashMap;
use bytes::{BufMut, Bytes, BytesMut};

use crate::keyspace::glob::glob_match;

/// The three subscription namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    /// The word of the confirmation replies: `subscribe`, `psubscribe`, `ssubscribe`.
    pub fn subscribe_word(self) -> &'static str {
        match self {
            Kind::Channel => "subscribe",
            Kind::Pattern => "psubscribe",
            Kind::Shard => "ssubscribe",
        }
    }

    pub fn unsubscribe_word(self) -> &'static str {
        match self {
            Kind::Channel => "unsubscribe",
            Kind::Pattern => "punsubscribe",
            Kind::Shard => "sunsubscribe",
        }
    }
}

/// Subscribers by channel, pattern and shard channel; `T` is how the server layer reaches a
/// subscriber (its push queue), `u64` its client id.
pub struct Registry<T> {
    channels: AHashMap<Bytes, AHashMap<u64, T>>,
    patterns: AHashMap<Bytes, AHashMap<u64, T>>,
    shard_channels: AHashMap<Bytes, AHashMap<u64, T>>,
}

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Registry {
            channels: AHashMap::new(),
            patterns: AHashMap::new(),
            shard_channels: AHashMap::new(),
        }
    }
}

impl<T: Clone> Registry<T> {
    fn map(&self, kind: Kind) -> &AHashMap<Bytes, AHashMap<u64, T>> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard_channels,
        }
    }

    fn map_mut(&mut self, kind: Kind) -> &mut AHashMap<Bytes, AHashMap<u64, T>> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard_channels,
        }
    }

    /// Adds `client` to `name`; false if it was already subscribed.
    pub fn subscribe(&mut self, kind: Kind, name: Bytes, client: u64, handle: T) -> bool {
        let subscribers = self.map_mut(kind).entry(name).or_default();
        if subscribers.contains_key(&client) {
            return false;
        }
        subscribers.insert(client, handle);
        true
    }

    /// Removes `client` from `name`; false if it was not subscribed. An empty channel is dropped.
    pub fn unsubscribe(&mut self, kind: Kind, name: &[u8], client: u64) -> bool {
        let map = self.map_mut(kind);
        let Some(subscribers) = map.get_mut(name) else {
            return false;
        };
        let removed = subscribers.remove(&client).is_some();
        if subscribers.is_empty() {
            map.remove(name);
        }
        removed
    }

    /// The subscribers of channel (or shard channel) `name`.
    pub fn subscribers(&self, kind: Kind, name: &[u8]) -> impl Iterator<Item = &T> {
        self.map(kind)
            .get(name)
            .into_iter()
            .flat_map(|s| s.values())
    }

    /// The (pattern, subscriber) pairs whose pattern matches `channel`.
    pub fn pattern_subscribers<'a>(
        &'a self,
        channel: &'a [u8],
    ) -> impl Iterator<Item = (&'a Bytes, &'a T)> + 'a {
        self.patterns
            .iter()
            .filter(move |(pattern, _)| glob_match(pattern, channel, false))
            .flat_map(|(pattern, subscribers)| subscribers.values().map(move |s| (pattern, s)))
    }

    /// Names with at least one subscriber here, those matching `pattern` when given.
    pub fn names(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.map(kind)
            .keys()
            .filter(|name| pattern.is_none_or(|p| glob_match(p, name, false)))
            .cloned()
            .collect()
    }

    /// How many clients here subscribe to `name`.
    pub fn count(&self, kind: Kind, name: &[u8]) -> usize {
        self.map(kind).get(name).map_or(0, |s| s.len())
    }

    /// How many names have subscribers here.
    pub fn len(&self, kind: Kind) -> usize {
        self.map(kind).len()
    }

    pub fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.patterns.is_empty() && self.shard_channels.is_empty()
    }
}

/// Encodes a pub/sub frame: `>n` (RESP3 push) or `*n` (RESP2) of bulk strings.
pub fn frame(protocol: u8, parts: &[&[u8]]) -> Bytes {
    let size: usize = parts.iter().map(|p| p.len() + 16).sum::<usize>() + 8;
    let mut out = BytesMut::with_capacity(size);
    out.put_u8(if protocol >= 3 { b'>' } else { b'*' });
    out.put_slice(parts.len().to_string().as_bytes());
    out.put_slice(b"\r\n");
    for part in parts {
        out.put_u8(b'$');
        out.put_slice(part.len().to_string().as_bytes());
        out.put_slice(b"\r\n");
        out.put_slice(part);
        out.put_slice(b"\r\n");
    }
    out.freeze()
}

/// A message frame per protocol, encoded on first use (most publishes reach one protocol only).
#[derive(Default)]
pub struct Frames {
    resp2: Option<Bytes>,
    resp3: Option<Bytes>,
}

impl Frames {
    pub fn get(&mut self, protocol: u8, parts: &[&[u8]]) -> Bytes {
        let slot = if protocol >= 3 {
            &mut self.resp3
        } else {
            &mut self.resp2
        };
        slot.get_or_insert_with(|| frame(protocol, parts)).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(text: &str) -> Bytes {
        Bytes::copy_from_slice(text.as_bytes())
    }

    #[test]
    fn subscribe_unsubscribe_and_count() {
        let mut registry: Registry<u64> = Registry::default();
        assert!(registry.subscribe(Kind::Channel, b("news"), 1, 1));
        assert!(!registry.subscribe(Kind::Channel, b("news"), 1, 1));
        assert!(registry.subscribe(Kind::Channel, b("news"), 2, 2));
        assert!(registry.subscribe(Kind::Shard, b("news"), 3, 3));
        assert_eq!(registry.count(Kind::Channel, b"news"), 2);
        assert_eq!(registry.count(Kind::Shard, b"news"), 1);
        let mut got: Vec<u64> = registry
            .subscribers(Kind::Channel, b"news")
            .copied()
            .collect();
        got.sort();
        assert_eq!(got, vec![1, 2]);
        assert!(registry.unsubscribe(Kind::Channel, b"news", 1));
        assert!(!registry.unsubscribe(Kind::Channel, b"news", 1));
        assert!(registry.unsubscribe(Kind::Channel, b"news", 2));
        assert_eq!(
            registry.len(Kind::Channel),
            0,
            "an empty channel is dropped"
        );
        assert_eq!(registry.len(Kind::Shard), 1);
    }

    #[test]
    fn patterns_match_with_redis_glob() {
        let mut registry: Registry<u64> = Registry::default();
        registry.subscribe(Kind::Pattern, b("news.*"), 1, 1);
        registry.subscribe(Kind::Pattern, b("n?ws.[ab]"), 2, 2);
        registry.subscribe(Kind::Pattern, b("other"), 3, 3);
        let mut got: Vec<(Bytes, u64)> = registry
            .pattern_subscribers(b"news.a")
            .map(|(p, s)| (p.clone(), *s))
            .collect();
        got.sort();
        assert_eq!(got, vec![(b("n?ws.[ab]"), 2), (b("news.*"), 1)]);
        assert_eq!(registry.pattern_subscribers(b"news.c").count(), 1);
        let mut names = registry.names(Kind::Pattern, Some(b"n*"));
        names.sort();
        assert_eq!(names, vec![b("n?ws.[ab]"), b("news.*")]);
    }

    #[test]
    fn frames_per_protocol() {
        assert_eq!(
            &frame(2, &[b"message", b"ch", b"hi"])[..],
            b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
        );
        assert_eq!(
            &frame(3, &[b"message", b"", b"x"])[..],
            b">3\r\n$7\r\nmessage\r\n$0\r\n\r\n$1\r\nx\r\n"
        );
        let mut frames = Frames::default();
        let first = frames.get(3, &[b"a"]);
        assert_eq!(frames.get(3, &[b"ignored"]), first, "encoded once");
    }
}
