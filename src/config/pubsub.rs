//! The two pub/sub directives' values: `notify-keyspace-events` (Redis's flag letters) and
//! `client-output-buffer-limit` (`<class> <hard> <soft> <soft-seconds>` per client class).
//!
//! Parsing and rendering follow Redis 7's `keyspaceEventsStringToFlags` /
//! `keyspaceEventsFlagsToString` and `setConfigClientOutputBufferLimitOption` /
//! `getConfigClientOutputBufferLimitOption`, so CONFIG GET shows what Redis shows.

/// Keyspace-notification classes, as Redis's `NOTIFY_*` bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NotifyFlags(pub u16);

impl NotifyFlags {
    /// `K`: publish on `__keyspace@<db>__:<key>`.
    pub const KEYSPACE: u16 = 1 << 0;
    /// `E`: publish on `__keyevent@<db>__:<event>`.
    pub const KEYEVENT: u16 = 1 << 1;
    /// `g`: generic commands (DEL, EXPIRE, RENAME, ...).
    pub const GENERIC: u16 = 1 << 2;
    /// `$`: string commands.
    pub const STRING: u16 = 1 << 3;
    /// `l`: list commands.
    pub const LIST: u16 = 1 << 4;
    /// `s`: set commands.
    pub const SET: u16 = 1 << 5;
    /// `h`: hash commands.
    pub const HASH: u16 = 1 << 6;
    /// `z`: sorted-set commands.
    pub const ZSET: u16 = 1 << 7;
    /// `x`: expired keys.
    pub const EXPIRED: u16 = 1 << 8;
    /// `e`: evicted keys (shardis never evicts).
    pub const EVICTED: u16 = 1 << 9;
    /// `t`: stream commands.
    pub const STREAM: u16 = 1 << 10;
    /// `m`: key misses (not in `A`).
    pub const KEY_MISS: u16 = 1 << 11;
    /// `d`: module key types.
    pub const MODULE: u16 = 1 << 12;
    /// `n`: new keys (not in `A`).
    pub const NEW: u16 = 1 << 13;
    /// `A`: every class except `m` and `n`.
    pub const ALL: u16 = Self::GENERIC
        | Self::STRING
        | Self::LIST
        | Self::SET
        | Self::HASH
        | Self::ZSET
        | Self::EXPIRED
        | Self::EVICTED
        | Self::STREAM
        | Self::MODULE;

    /// Redis's `keyspaceEventsStringToFlags`.
    pub fn parse(text: &str) -> Result<NotifyFlags, String> {
        let mut flags = 0;
        for letter in text.chars() {
            flags |= match letter {
                'A' => Self::ALL,
                'g' => Self::GENERIC,
                '$' => Self::STRING,
                'l' => Self::LIST,
                's' => Self::SET,
                'h' => Self::HASH,
                'z' => Self::ZSET,
                'x' => Self::EXPIRED,
                'e' => Self::EVICTED,
                'K' => Self::KEYSPACE,
                'E' => Self::KEYEVENT,
                't' => Self::STREAM,
                'm' => Self::KEY_MISS,
                'd' => Self::MODULE,
                'n' => Self::NEW,
                _ => {
                    return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into());
                }
            };
        }
        Ok(NotifyFlags(flags))
    }

    /// Redis's `keyspaceEventsFlagsToString`.
    pub fn render(self) -> String {
        let flags = self.0;
        let mut text = String::new();
        if flags & Self::ALL == Self::ALL {
            text.push('A');
        } else {
            for (bit, letter) in [
                (Self::GENERIC, 'g'),
                (Self::STRING, '$'),
                (Self::LIST, 'l'),
                (Self::SET, 's'),
                (Self::HASH, 'h'),
                (Self::ZSET, 'z'),
                (Self::EXPIRED, 'x'),
                (Self::EVICTED, 'e'),
                (Self::STREAM, 't'),
                (Self::MODULE, 'd'),
            ] {
                if flags & bit != 0 {
                    text.push(letter);
                }
            }
        }
        for (bit, letter) in [
            (Self::KEYSPACE, 'K'),
            (Self::KEYEVENT, 'E'),
            (Self::KEY_MISS, 'm'),
            (Self::NEW, 'n'),
        ] {
            if flags & bit != 0 {
                text.push(letter);
            }
        }
        text
    }

    /// Whether an event of `class` is published at all: the class is on, and so is K or E.
    pub fn wants(self, class: u16) -> bool {
        self.0 & class != 0 && self.0 & (Self::KEYSPACE | Self::KEYEVENT) != 0
    }

    /// Whether no notification can ever be published (the default).
    pub fn is_off(self) -> bool {
        self.0 & (Self::KEYSPACE | Self::KEYEVENT) == 0
    }
}

/// One client class's output limit: close when pending output passes `hard` bytes, or stays
/// over `soft` bytes for `soft_seconds`; 0 = no such limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClassLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

/// `client-output-buffer-limit` for Redis's three classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutputBufferLimits {
    pub normal: ClassLimit,
    pub replica: ClassLimit,
    pub pubsub: ClassLimit,
}

impl OutputBufferLimits {
    /// Applies `<class> <hard> <soft> <soft-seconds>` groups (values may be split over several
    /// arguments or written as one); classes not named keep their limits. All or nothing.
    pub fn apply(
        &mut self,
        values: &[String],
        memory: fn(&str) -> Result<u64, String>,
    ) -> Result<(), String> {
        let words: Vec<&str> = values.iter().flat_map(|v| v.split_whitespace()).collect();
        if words.is_empty() || !words.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        let mut updated = *self;
        for group in words.chunks(4) {
            let class = match group[0].to_ascii_lowercase().as_str() {
                "normal" => &mut updated.normal,
                "slave" | "replica" => &mut updated.replica,
                "pubsub" => &mut updated.pubsub,
                _ => {
                    return Err(
                        "Invalid client class specified in buffer limit configuration.".into(),
                    )
                }
            };
            let invalid = || {
                "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                    .to_string()
            };
            let hard = memory(group[1]).map_err(|_| invalid())?;
            let soft = memory(group[2]).map_err(|_| invalid())?;
            let soft_seconds: u64 = group[3].parse().map_err(|_| invalid())?;
            *class = ClassLimit {
                hard,
                soft,
                soft_seconds,
            };
        }
        *self = updated;
        Ok(())
    }

    /// As Redis's CONFIG GET renders it (`slave` for the replica class).
    pub fn render(&self) -> String {
        let class = |name: &str, limit: &ClassLimit| {
            format!(
                "{name} {} {} {}",
                limit.hard, limit.soft, limit.soft_seconds
            )
        };
        format!(
            "{} {} {}",
            class("normal", &self.normal),
            class("slave", &self.replica),
            class("pubsub", &self.pubsub)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_flags_round_trip_as_redis_renders_them() {
        assert_eq!(
            NotifyFlags::parse("").map(NotifyFlags::render),
            Ok(String::new())
        );
        assert_eq!(
            NotifyFlags::parse("KEA").map(NotifyFlags::render),
            Ok("AKE".into())
        );
        assert_eq!(
            NotifyFlags::parse("Kx$g").map(NotifyFlags::render),
            Ok("g$xK".into())
        );
        assert_eq!(
            NotifyFlags::parse("AKEmn").map(NotifyFlags::render),
            Ok("AKEmn".into())
        );
        assert!(NotifyFlags::parse("Kq").is_err());
        let flags = NotifyFlags::parse("Eg").unwrap_or_default();
        assert!(flags.wants(NotifyFlags::GENERIC));
        assert!(!flags.wants(NotifyFlags::STRING));
        assert!(NotifyFlags::parse("A").unwrap_or_default().is_off());
    }

    fn bytes(text: &str) -> Result<u64, String> {
        match text.strip_suffix("mb") {
            Some(n) => n.parse::<u64>().map(|n| n << 20).map_err(|e| e.to_string()),
            None => text.parse().map_err(|_| "bad".to_string()),
        }
    }

    #[test]
    fn output_limits_apply_per_class() {
        let mut limits = OutputBufferLimits::default();
        limits
            .apply(
                &[
                    "normal 0 0 0 slave 256mb 64mb 60".into(),
                    "pubsub".into(),
                    "32mb".into(),
                    "8mb".into(),
                    "60".into(),
                ],
                bytes,
            )
            .expect("valid");
        assert_eq!(
            limits.render(),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        assert!(limits.apply(&["pubsub 1 2".into()], bytes).is_err());
        assert!(limits.apply(&["bogus 1 2 3".into()], bytes).is_err());
        assert!(limits.apply(&["pubsub x 2 3".into()], bytes).is_err());
        limits
            .apply(&["PUBSUB 1000 500 5".into()], bytes)
            .expect("valid");
        assert_eq!(
            limits.pubsub,
            ClassLimit {
                hard: 1000,
                soft: 500,
                soft_seconds: 5
            }
        );
        assert_eq!(limits.replica.hard, 256 << 20);
    }
}
