//! Unit tests of `config`.

use super::*;

fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|word| word.to_string()).collect()
}

fn error_text(result: Result<impl std::fmt::Debug, ConfigError>) -> String {
    result.expect_err("expected an error").to_string()
}

/// A file under the system temp directory, unique to this process and name; removed on drop.
struct TempFile(String);

impl TempFile {
    fn new(name: &str, text: &str) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("shardis-config-{}-{name}", std::process::id()));
        std::fs::write(&path, text).expect("write temp config");
        TempFile(path.display().to_string())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn defaults() {
    let config = Config::default();
    assert_eq!(config.port, 6379);
    assert_eq!(config.bind, vec!["127.0.0.1"]);
    assert_eq!(config.dir, PathBuf::from("./data"));
    assert_eq!(config.threads, 0);
    assert!(config.cpu_affinity);
    assert_eq!(config.tcp_backlog, 511);
    assert_eq!(config.loglevel, LogLevel::Notice);
    assert_eq!(config.loglevel.tracing_filter(), "info");
    assert_eq!(config.logfile, "");
    assert_eq!(config.databases, 16);
    assert_eq!(config.proto_max_bulk_len, 512 * MB);
    assert_eq!(config.client_query_buffer_limit, 1024 * MB);
    assert_eq!(config.maxclients, 10000);
    assert_eq!(
        (config.timeout, config.tcp_keepalive, config.hz),
        (0, 300, 10)
    );
    assert!(config.appendonly && !config.daemonize && config.protected_mode);
    assert_eq!(config.appendfsync, Fsync::EverySec);
    assert_eq!(config.save_rules(), [(3600, 1), (300, 100), (60, 10000)]);
    assert_eq!(
        (config.binlog_segment_size, config.binlog_segment_seconds),
        (64 * MB, 0)
    );
    assert_eq!(
        (
            config.binlog_retention_seconds,
            config.binlog_retention_bytes
        ),
        (86400, 1024 * MB)
    );
    assert!(config.aof_load_truncated && config.binlog_failpoint.is_none());
    assert_eq!(
        (
            config.save_schedule.as_str(),
            config.requirepass.as_str(),
            config.pidfile.as_str()
        ),
        ("", "", "")
    );
    assert_eq!(
        (config.slowlog_log_slower_than, config.slowlog_max_len),
        (10000, 128)
    );
    assert_eq!(config.latency_monitor_threshold, 0);
    assert!(config.shards() >= 1);
    assert_eq!(
        Config {
            threads: 3,
            ..Config::default()
        }
        .shards(),
        3
    );
    assert_eq!(Config::from_args(&[]).unwrap(), config);
}

/// What CONFIG GET renders is accepted back unchanged (CONFIG REWRITE will rely on it).
#[test]
fn rendered_values_round_trip() {
    let mut changed = Config::default();
    let text = "bind 10.0.0.1 ::1\nrequirepass \"a b\"\nloglevel verbose\nproto-max-bulk-len 3mb\n";
    changed.apply_text(text, "test").unwrap();
    for config in [Config::default(), changed] {
        for directive in DIRECTIVES {
            let mut reapplied = config.clone();
            reapplied
                .apply(directive.name, &[(directive.get)(&config)], true)
                .unwrap();
            assert_eq!(reapplied, config, "{}", directive.name);
        }
    }
}

#[test]
fn file_with_comments_quotes_and_case() {
    let mut config = Config::default();
    let text = "# a comment\n\n   \r\n  PORT 7000\r\nbind 10.0.0.1 -::1\nLogLevel WARNING\n\
                requirepass \"se cr\\\"et\\x41\\n\"\ndir '/var/lib/it''s'\ncpu-affinity NO\n\
                logfile 'it\\'s.log'\nproto-max-bulk-len 2MB\nsave \"\"\n\tdatabases   4  \n";
    // '/var/lib/it''s' is not valid: a closing quote must end the argument.
    let error = error_text(config.apply_text(text, "test.conf"));
    assert!(
        error.contains("test.conf") && error.contains("line 8"),
        "{error}"
    );
    assert!(
        error.contains("Unbalanced quotes") && error.contains(">>> 'dir"),
        "{error}"
    );

    let text = text.replace("'/var/lib/it''s'", "\"/var/lib/it's\"");
    config.apply_text(&text, "test.conf").unwrap();
    assert_eq!(config.port, 7000);
    assert_eq!(config.bind, vec!["10.0.0.1", "::1"]);
    assert_eq!(config.loglevel, LogLevel::Warning);
    assert_eq!(config.requirepass, "se cr\"etA\n");
    assert_eq!(config.dir, PathBuf::from("/var/lib/it's"));
    assert!(!config.cpu_affinity);
    assert_eq!(config.logfile, "it's.log");
    assert_eq!(config.proto_max_bulk_len, 2 * MB);
    assert_eq!(config.databases, 4);
}

#[test]
fn split_args_like_sdssplitargs() {
    assert_eq!(split_args("  a  b\t c ").unwrap(), args(&["a", "b", "c"]));
    assert_eq!(
        split_args(r#"x "" '' "\x4a\x4" '\a'"#).unwrap(),
        args(&["x", "", "", "Jx4", "\\a"])
    );
    assert_eq!(
        split_args(r#"a"b c"d"#),
        Err("Unbalanced quotes in configuration line")
    );
    assert!(split_args("a \"b").is_err());
    assert!(split_args("a 'b").is_err());
    assert!(split_args(r#""\xff""#).is_err());
}

#[test]
fn command_line() {
    let config = Config::from_args(&args(&["--port", "7000", "--save", ""])).unwrap();
    assert_eq!((config.port, config.save.as_str()), (7000, ""));
    let config = Config::from_args(&args(&["--save", "--port", "7001"])).unwrap();
    assert_eq!(config.port, 7001);
    assert!(Config::from_args(&args(&["--port", "7002", "--save"])).is_ok());

    let config = Config::from_args(&args(&["--bind", "127.0.0.1", "::1"])).unwrap();
    assert_eq!(config.bind, vec!["127.0.0.1", "::1"]);
    let config = Config::from_args(&args(&["--bind", "127.0.0.1 -::1", "--hz", "20"])).unwrap();
    assert_eq!((config.bind, config.hz), (args(&["127.0.0.1", "::1"]), 20));

    // As in Redis 7, a directive still waiting for its value takes a "--" word as that value.
    let config = Config::from_args(&args(&["--requirepass", "--secret", "--port", "1"])).unwrap();
    assert_eq!((config.requirepass.as_str(), config.port), ("--secret", 1));

    let error = error_text(Config::from_args(&args(&["--port"])));
    assert!(
        error.contains("'port'") && error.contains("got 0"),
        "{error}"
    );
    let empty = TempFile::new("empty.conf", "");
    let error = error_text(Config::from_args(&args(&[&empty.0, "b.conf"])));
    assert!(error.contains("'b.conf'"), "{error}");
}

#[test]
fn file_then_command_line() {
    let file = TempFile::new("precedence.conf", "port 7000\nhz 50\nmaxclients 20\n");
    let config =
        Config::from_args(&args(&[&file.0, "--port", "7001", "--maxclients", "30"])).unwrap();
    assert_eq!((config.port, config.hz, config.maxclients), (7001, 50, 30));

    let included = TempFile::new("included.conf", "hz 60\ntimeout 5\n");
    let includer = TempFile::new(
        "includer.conf",
        &format!("hz 40\ninclude \"{}\"\ntimeout 7\n", included.0),
    );
    let config = Config::from_args(&args(&[&includer.0])).unwrap();
    assert_eq!((config.hz, config.timeout), (60, 7));

    // An error inside an included file is reported at that file's line, once.
    std::fs::write(&included.0, "\nhz fast\n").unwrap();
    let error = error_text(Config::from_args(&args(&[&includer.0])));
    assert_eq!(error.matches("FATAL").count(), 1, "{error}");
    assert!(
        error.contains(&format!("'{}', at line 2", included.0)),
        "{error}"
    );

    let looping = TempFile::new("loop.conf", "");
    std::fs::write(&looping.0, format!("include {}\n", looping.0)).unwrap();
    let error = error_text(Config::from_args(&args(&[&looping.0])));
    assert!(error.contains("include nested more than 16"), "{error}");

    let error = error_text(Config::from_args(&args(&["/nonexistent/shardis.conf"])));
    assert!(
        error.contains("can't read config file '/nonexistent/shardis.conf'"),
        "{error}"
    );
    let error =
        error_text(Config::default().apply_text("include /nonexistent/x.conf", "main.conf"));
    assert!(
        error.contains("main.conf")
            && error.contains("line 1")
            && error.contains("/nonexistent/x.conf")
    );
}

#[test]
fn every_error_names_the_directive() {
    let cases: &[(&str, &[&str], &str)] = &[
        ("no-such-thing", &["1"], "unknown directive 'no-such-thing'"),
        ("port", &["1", "2"], "'port' takes exactly one value, got 2"),
        ("port", &["abc"], "couldn't be parsed into an integer"),
        ("port", &["65536"], "between 0 and 65535"),
        ("databases", &["0"], "between 1 and 1000000"),
        ("threads", &["-1"], "between 0 and 1024"),
        ("maxclients", &["0"], "between 1 and 4294967295"),
        ("hz", &["-1"], "between 0 and"),
        ("slowlog-log-slower-than", &["-2"], "between -1 and"),
        ("protected-mode", &["maybe"], "'yes' or 'no'"),
        (
            "loglevel",
            &["loud"],
            "debug, verbose, notice, warning, nothing",
        ),
        ("proto-max-bulk-len", &["1kb"], "at least 1048576 bytes"),
        ("client-query-buffer-limit", &["lots"], "memory value"),
        ("bind", &["localhost"], "'localhost' is not an IP address"),
        ("bind", &[""], "1 to 16 addresses"),
        ("dir", &[""], "directory path"),
        ("appendonly", &["maybe"], "'yes' or 'no'"),
        ("save", &["900"], "Invalid save parameters"),
        ("save", &["900 x"], "Invalid save parameters"),
        ("save-schedule", &["3:00"], "HH:MM"),
        ("binlog-retention", &["86400"], "'<seconds> <size>'"),
        ("binlog-failpoint", &["disk"], "off, enospc, eio"),
        ("daemonize", &["yes"], "does not daemonize"),
        ("appendfsync", &["sometimes"], "always, everysec, no"),
    ];
    for (name, values, expected) in cases {
        let before = Config::default();
        let mut config = before.clone();
        let error = config.apply(name, &args(values), true).unwrap_err();
        let text = error.to_string();
        assert!(text.contains(&format!("'{name}'")), "{name}: {text}");
        assert!(text.contains(expected), "{name}: {text}");
        if let ConfigError::InvalidValue { value, .. } = &error {
            assert!(
                text.contains(&format!("value '{value}'")) && *value == values.join(" "),
                "{text}"
            );
        }
        assert_eq!(config, before, "{name}: a refused value changes nothing");
    }
    for name in PERSISTENCE_NOT_YET {
        let error = Config::default()
            .apply(name, &args(&["x"]), true)
            .unwrap_err();
        assert!(
            matches!(error, ConfigError::PersistenceNotSupported { .. }),
            "{name}"
        );
    }
    let error = error_text(Config::default().apply_text("\n# x\nport 1\nhz fast\n", "my.conf"));
    assert!(
        error.starts_with("*** FATAL CONFIG FILE ERROR ***"),
        "{error}"
    );
    assert!(
        error.contains("'my.conf', at line 4") && error.contains(">>> 'hz fast'"),
        "{error}"
    );
    assert!(error.contains("invalid value 'fast' for 'hz'"), "{error}");
}

#[test]
fn memory_units() {
    let cases = [
        ("1", 1),
        ("5b", 5),
        ("1k", 1000),
        ("1kb", 1024),
        ("3m", 3_000_000),
        ("3MB", 3 * MB),
        ("2g", 2_000_000_000),
        ("2Gb", 2048 * MB),
    ];
    for (text, bytes) in cases {
        assert_eq!(memory(text, 0), Ok(bytes), "{text}");
    }
    for text in ["", "mb", "-1", "1.5mb", "1tb", "1 mb", "99999999999gb"] {
        assert!(memory(text, 0).is_err(), "{text}");
    }
    let mut config = Config::default();
    config
        .apply("client-query-buffer-limit", &args(&["2gb"]), false)
        .unwrap();
    assert_eq!(config.get("client-query-buffer-limit")[0].1, "2147483648");
}

#[test]
fn hz_is_clamped_like_redis() {
    let mut config = Config::default();
    config.apply("hz", &args(&["0"]), true).unwrap();
    assert_eq!(config.hz, 1);
    config.apply("hz", &args(&["100000"]), true).unwrap();
    assert_eq!(config.hz, 500);
}

#[test]
fn config_get_patterns() {
    let mut config = Config::default();
    config
        .apply("bind", &args(&["127.0.0.1", "::1"]), true)
        .unwrap();
    let names = |pattern| {
        config
            .get(pattern)
            .into_iter()
            .map(|(name, _)| name)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names("*max*"),
        [
            "proto-max-bulk-len",
            "maxclients",
            "slowlog-max-len",
            "hash-max-listpack-entries",
            "hash-max-listpack-value",
            "set-max-intset-entries",
            "set-max-listpack-entries",
            "set-max-listpack-value",
            "list-max-listpack-size",
            "zset-max-listpack-entries",
            "zset-max-listpack-value",
            "item-size-max",
            "zset-max-ziplist-entries",
            "zset-max-ziplist-value",
            "hash-max-ziplist-entries",
            "hash-max-ziplist-value",
            "list-max-ziplist-size"
        ]
    );
    assert_eq!(
        config.get("port"),
        [("port".to_string(), "6379".to_string())]
    );
    assert_eq!(config.get("PORT"), config.get("port"));
    assert_eq!(
        config.get("bind"),
        [("bind".to_string(), "127.0.0.1 ::1".to_string())]
    );
    assert_eq!(
        config.get("save"),
        [("save".to_string(), "3600 1 300 100 60 10000".to_string())]
    );
    assert_eq!(config.get("appendonly")[0].1, "yes");
    assert_eq!(config.get("appendfsync")[0].1, "everysec");
    assert_eq!(config.get("binlog-retention")[0].1, "86400 1073741824");
    assert_eq!(config.get("proto-max-bulk-len")[0].1, "536870912");
    assert_eq!(names("*").len(), DIRECTIVES.len() + ALIASES.len());
    assert_eq!(names("[pb]???"), ["port", "bind"]);
    assert_eq!(
        names("slowlog-*"),
        ["slowlog-log-slower-than", "slowlog-max-len"]
    );
    assert!(config.get("nothing-matches").is_empty());
}

#[test]
fn glob() {
    let matches = |pattern: &str, text: &str| glob_match(pattern.as_bytes(), text.as_bytes());
    assert!(matches("*", "") && matches("a*c", "abbc") && matches("A?C", "abc"));
    assert!(matches("[a-c]x", "bx") && matches("[c-a]x", "bx") && !matches("[^a-c]x", "bx"));
    assert!(matches("[\\]]", "]") && matches("\\*", "*") && !matches("\\*", "a"));
    assert!(!matches("a?", "a") && !matches("abc", "ab") && matches("**x", "x"));
}

#[test]
fn mutability_and_config_set_messages() {
    assert_eq!(Config::is_mutable("loglevel"), Some(true));
    assert_eq!(Config::is_mutable("MAXCLIENTS"), Some(true));
    assert_eq!(Config::is_mutable("port"), Some(false));
    assert_eq!(Config::is_mutable("no-such-thing"), None);
    let mutable = [
        "loglevel",
        "maxclients",
        "timeout",
        "tcp-keepalive",
        "hz",
        "proto-max-bulk-len",
        "client-query-buffer-limit",
        "slowlog-log-slower-than",
        "slowlog-max-len",
        "latency-monitor-threshold",
        "protected-mode",
        "requirepass",
        "save",
        "hash-max-listpack-entries",
        "hash-max-listpack-value",
        "set-max-intset-entries",
        "set-max-listpack-entries",
        "set-max-listpack-value",
        "list-max-listpack-size",
        "list-compress-depth",
        "zset-max-listpack-entries",
        "zset-max-listpack-value",
        "item-size-max",
        "shard-stall-threshold",
        "disk-probe-interval",
        "disk-latency-threshold",
        "busy-reply-threshold",
        "appendfsync",
        "save-schedule",
        "binlog-segment-size",
        "binlog-segment-seconds",
        "binlog-retention",
        "aof-load-truncated",
        "binlog-failpoint",
        "notify-keyspace-events",
        "client-output-buffer-limit",
    ];
    for directive in DIRECTIVES {
        assert_eq!(
            directive.mutable,
            mutable.contains(&directive.name),
            "{}",
            directive.name
        );
    }

    let mut config = Config::default();
    config.apply("maxclients", &args(&["5"]), false).unwrap();
    config.apply("save", &args(&[""]), false).unwrap();
    assert_eq!(config.maxclients, 5);

    let immutable = config.apply("Port", &args(&["7000"]), false).unwrap_err();
    assert!(immutable.to_string().contains("'port'"));
    assert_eq!(
        immutable.redis_message("Port"),
        "ERR CONFIG SET failed (possibly related to argument 'Port') - can't set immutable config"
    );
    let unknown = config
        .apply("include", &args(&["x.conf"]), false)
        .unwrap_err();
    assert_eq!(
        unknown.redis_message("include"),
        "ERR Unknown option or number of arguments for CONFIG SET - 'include'"
    );
    let bad = config
        .apply("maxclients", &args(&["0"]), false)
        .unwrap_err();
    assert_eq!(
        bad.redis_message("maxclients"),
        "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive"
    );
    assert_eq!(config.port, 6379);
}

#[test]
fn reference_file_is_the_defaults() {
    let text = include_str!("../../tuning/shardis.conf");
    // Applied over placeholders, so a directive missing from the file shows up as a difference.
    let mut loaded = Config::blank();
    loaded.apply_text(text, "tuning/shardis.conf").unwrap();
    let defaults = Config::default();
    for directive in DIRECTIVES {
        assert_eq!(
            (directive.get)(&loaded),
            (directive.get)(&defaults),
            "{}",
            directive.name
        );
        let line_start = format!("{} ", directive.name);
        assert!(
            text.lines().any(|line| line.starts_with(&line_start)),
            "tuning/shardis.conf has no '{}' directive line",
            directive.name
        );
    }
    assert_eq!(loaded, defaults);
}

#[test]
fn collection_encoding_directives() {
    let mut config = Config::default();
    assert_eq!(config.encoding, EncodingLimits::default());
    assert_eq!(config.encoding.hash_max_listpack_entries, 128);
    assert_eq!(config.encoding.list_max_listpack_size, -2);
    config
        .apply("hash-max-listpack-value", &args(&["1kb"]), false)
        .unwrap();
    config
        .apply("list-max-listpack-size", &args(&["-5"]), false)
        .unwrap();
    config
        .apply("set-max-intset-entries", &args(&["0"]), false)
        .unwrap();
    assert_eq!(config.encoding.hash_max_listpack_value, 1024);
    assert_eq!(config.encoding.list_max_listpack_size, -5);
    assert_eq!(config.encoding.set_max_intset_entries, 0);
    assert_eq!(config.get("list-max-listpack-size")[0].1, "-5");
    assert!(config
        .apply("set-max-listpack-entries", &args(&["-1"]), false)
        .is_err());
    assert!(config
        .apply("list-compress-depth", &args(&["x"]), false)
        .is_err());
    // Redis 6's names, still accepted by Redis 7.
    config
        .apply("hash-max-ziplist-entries", &args(&["512"]), false)
        .unwrap();
    config
        .apply_text("list-max-ziplist-size 7\n", "old redis.conf")
        .unwrap();
    assert_eq!(config.encoding.hash_max_listpack_entries, 512);
    assert_eq!(config.encoding.list_max_listpack_size, 7);
}

#[test]
fn old_ziplist_names_are_aliases() {
    let mut config = Config::default();
    config
        .apply("ZSET-MAX-ZIPLIST-ENTRIES", &args(&["16"]), false)
        .unwrap();
    config
        .apply("zset-max-ziplist-value", &args(&["1kb"]), false)
        .unwrap();
    assert_eq!(
        (
            config.zset_max_listpack_entries,
            config.zset_max_listpack_value
        ),
        (16, 1024)
    );
    assert_eq!(
        config.get("zset-max-ziplist-entries"),
        [("zset-max-ziplist-entries".to_string(), "16".to_string())]
    );
    assert_eq!(Config::is_mutable("zset-max-ziplist-value"), Some(true));
    assert!(config
        .apply("zset-max-listpack-entries", &args(&["-1"]), false)
        .is_err());
}

#[test]
fn persistence_directives() {
    let mut config = Config::default();
    config
        .apply("save", &args(&["900 1 300 10"]), false)
        .unwrap();
    assert_eq!(config.save_rules(), [(900, 1), (300, 10)]);
    config.apply("save", &args(&[""]), false).unwrap();
    assert!(config.save_rules().is_empty());
    config
        .apply("save-schedule", &args(&["03:00 23:59"]), false)
        .unwrap();
    assert_eq!(config.save_schedule_minutes(), [180, 1439]);
    assert!(config
        .apply("save-schedule", &args(&["24:00"]), false)
        .is_err());
    config
        .apply("binlog-retention", &args(&["3600", "10mb"]), false)
        .unwrap();
    assert_eq!(
        (
            config.binlog_retention_seconds,
            config.binlog_retention_bytes
        ),
        (3600, 10 * MB)
    );
    config
        .apply("binlog-failpoint", &args(&["EIO"]), false)
        .unwrap();
    assert_eq!(config.get("binlog-failpoint")[0].1, "eio");
    let immutable = config.apply("appendonly", &args(&["no"]), false);
    assert!(matches!(immutable, Err(ConfigError::Immutable { .. })));
}
