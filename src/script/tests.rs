//! The engine over an in-process keyspace: the `redis.*` API, errors, globals protection.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use bytes::Bytes;

use super::engine::{Engine, Host, Outcome, Run, Stop, KILLED};
use super::sha1_hex;
use crate::command::test_support::{bulk, bulks, err, int, Harness};
use crate::command::{CommandSpec, ExecContext};
use crate::protocol::reply::Reply;

struct Local(Harness);

impl Host for Local {
    fn call(&mut self, spec: &'static CommandSpec, args: Vec<Bytes>) -> Result<Reply, Stop> {
        let h = &mut self.0;
        let mut ctx = ExecContext {
            keyspace: &mut h.keyspace,
            db_index: h.db_index,
            now_ms: h.now_ms,
            limits: &h.limits,
            propagate: None,
        };
        Ok(spec
            .handler
            .map_or(Reply::Null, |handler| handler(&mut ctx, &args)))
    }
}

fn eval_ro(
    engine: &mut Engine,
    host: &mut Local,
    body: &str,
    keys: &[&str],
    read_only: bool,
) -> Reply {
    let sha = sha1_hex(body.as_bytes());
    let keys: Vec<Bytes> = keys.iter().map(|k| Bytes::from(k.to_string())).collect();
    let run = Run {
        sha: &sha,
        body: body.as_bytes(),
        keys: &keys,
        argv: &[Bytes::from_static(b"a1")],
        read_only,
    };
    match engine.run(&run, host) {
        Outcome::Reply(reply) => reply,
        Outcome::Stopped => Reply::error_static("stopped"),
    }
}

fn setup() -> (Engine, Local) {
    let engine = Engine::new(Arc::new(AtomicBool::new(false))).expect("engine");
    (engine, Local(Harness::new()))
}

#[test]
fn calls_and_conversions() {
    let (mut engine, mut host) = setup();
    let mut eval = |body: &str, keys: &[&str]| eval_ro(&mut engine, &mut host, body, keys, false);
    assert_eq!(
        eval("return redis.call('SET', KEYS[1], ARGV[1])", &["k"]),
        Reply::ok()
    );
    assert_eq!(
        eval("return redis.call('GET', KEYS[1])", &["k"]),
        bulk("a1")
    );
    assert_eq!(
        eval("return redis.call('GET', 'missing') == false", &[]),
        int(1)
    );
    assert_eq!(eval("return redis.call('INCRBY', 'n', 2.0)", &[]), int(2));
    assert_eq!(
        eval("return {1, 'x', {2}}", &[]),
        Reply::Array(vec![int(1), bulk("x"), Reply::Array(vec![int(2)])])
    );
    assert_eq!(
        eval("return redis.call('SET', 'k', 'v').ok", &[]),
        bulk("OK")
    );
    assert_eq!(
        eval("return {KEYS[1], KEYS[2], ARGV[1]}", &["a", "b"]),
        bulks(&["a", "b", "a1"])
    );
    assert_eq!(
        eval("return redis.status_reply('FINE')", &[]),
        Reply::status("FINE")
    );
    assert_eq!(
        eval("return redis.error_reply('MY bad')", &[]),
        err("MY bad")
    );
    assert_eq!(eval("return redis.error_reply('bad')", &[]), err("ERR bad"));
    assert_eq!(
        eval("return redis.sha1hex('')", &[]),
        bulk("da39a3ee5e6b4b0d3255bfef95601890afd80709")
    );
    assert_eq!(
        eval("return redis.pcall('INCR', 'k').err", &[]),
        bulk("ERR value is not an integer or out of range")
    );
}

#[test]
fn errors_as_redis_words_them() {
    let (mut engine, mut host) = setup();
    let mut eval = |body: &str| {
        let sha = sha1_hex(body.as_bytes());
        (eval_ro(&mut engine, &mut host, body, &[], false), sha)
    };
    let (reply, sha) = eval("redis.call('SET', 'k', 'v') return redis.call('INCR', 'k')");
    assert_eq!(
        reply,
        err(&format!(
            "ERR value is not an integer or out of range script: {sha}, on @user_script:1."
        ))
    );
    let (reply, sha) = eval("return a");
    assert_eq!(reply, err(&format!("ERR user_script:1: Script attempted to access nonexistent global variable 'a' script: {sha}, on @user_script:1.")));
    let (reply, sha) = eval("\nb = 1");
    assert_eq!(reply, err(&format!("ERR user_script:2: Attempt to modify a readonly table script: {sha}, on @user_script:2.")));
    let (reply, sha) = eval("return redis.call('NOSUCH')");
    assert_eq!(
        reply,
        err(&format!(
            "ERR Unknown Redis command called from script script: {sha}, on @user_script:1."
        ))
    );
    let (reply, sha) = eval("error('boom')");
    assert_eq!(
        reply,
        err(&format!(
            "ERR user_script:1: boom script: {sha}, on @user_script:1."
        ))
    );
    let (reply, _) = eval("return loadfile");
    assert!(matches!(reply, Reply::Error(_)), "{reply:?}");
    let (reply, _) = eval("return +");
    let Reply::Error(text) = reply else {
        panic!("compile error expected")
    };
    assert!(
        text.starts_with(b"ERR Error compiling script (new function): user_script:1:"),
        "{text:?}"
    );
}

#[test]
fn read_only_scripts_refuse_writes() {
    let (mut engine, mut host) = setup();
    let reply = eval_ro(
        &mut engine,
        &mut host,
        "return redis.pcall('SET', 'k', 'v').err",
        &[],
        true,
    );
    assert_eq!(
        reply,
        bulk("ERR Write commands are not allowed from read-only scripts.")
    );
    let reply = eval_ro(
        &mut engine,
        &mut host,
        "return redis.call('GET', 'k')",
        &[],
        true,
    );
    assert_eq!(reply, Reply::Null);
}

#[test]
fn random_is_the_same_every_run() {
    let (mut engine, mut host) = setup();
    let body = "return {math.random(100), math.random(100), math.random(1, 6)}";
    let first = eval_ro(&mut engine, &mut host, body, &[], false);
    let second = eval_ro(&mut engine, &mut host, body, &[], false);
    assert_eq!(first, second);
    assert!(matches!(first, Reply::Array(ref items) if items.len() == 3));
}

#[test]
fn resp3_shapes() {
    let (mut engine, mut host) = setup();
    let reply = eval_ro(
        &mut engine,
        &mut host,
        "redis.setresp(3) return redis.call('GET', 'missing') == nil",
        &[],
        false,
    );
    assert_eq!(reply, Reply::Boolean(true));
    let reply = eval_ro(
        &mut engine,
        &mut host,
        "return redis.call('GET', 'missing')",
        &[],
        false,
    );
    assert_eq!(reply, Reply::Null, "setresp lasts one script");
}

#[test]
fn killed_scripts_stop() {
    let kill = Arc::new(AtomicBool::new(true));
    let mut engine = Engine::new(kill).expect("engine");
    let mut host = Local(Harness::new());
    let body = "local i = 0 while true do i = i + 1 end";
    let sha = sha1_hex(body.as_bytes());
    let reply = eval_ro(&mut engine, &mut host, body, &[], false);
    assert_eq!(
        reply,
        err(&format!("{KILLED} script: {sha}, on @user_script:1."))
    );
}

#[test]
fn errors_of_rust_functions_read_plainly() {
    let (mut engine, mut host) = setup();
    let body = "math.randomseed({})";
    let reply = eval_ro(&mut engine, &mut host, body, &[], false);
    let Reply::Error(text) = reply else {
        panic!("error expected")
    };
    let text = String::from_utf8_lossy(&text);
    assert!(text.starts_with("ERR "), "{text}");
    assert!(!text.contains("stack traceback"), "{text}");
    assert!(!text.contains("runtime error"), "{text}");
}

#[test]
fn busy_only_after_the_threshold() {
    let shared = super::Shared::new(2);
    assert!(!shared.busy(0, 1_000, 100));
    shared.begin(0, 1_000, false);
    assert!(!shared.busy(0, 1_050, 100), "under the threshold");
    assert!(shared.busy(0, 1_100, 100));
    assert!(!shared.busy(1, 1_100, 100), "another shard is free");
    shared.end(0);
    assert!(!shared.busy(0, 2_000, 100));
    shared.begin(1, 1_000, true);
    assert!(
        shared.busy(0, 1_200, 100),
        "a global script holds every shard"
    );
    shared.end(1);
}
