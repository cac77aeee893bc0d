//! One core's Lua 5.1 state and the `redis` library scripts see (Redis 7's `script_lua.c` and
//! `eval.c`): compiling and caching scripts by SHA1, KEYS/ARGV, `redis.call`/`pcall` and the rest
//! of the `redis.*` API, globals protection, the deterministic `math.random`, the error texts.
//!
//! The engine knows nothing about shards: each `redis.call` is checked here (unknown command,
//! arity, `noscript`, writes from a read-only script) and then handed to the [`Host`], which
//! decides where and how the command runs (see `server::script`). A host may stop the script
//! (it must be re-run elsewhere, or SCRIPT KILL asked for it): every later `redis.call` and the
//! instruction hook then raise an error the script cannot swallow for long.

use std::cell::{Cell, RefCell};
use std::os::raw::c_int;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ahash::AHashMap;
use bytes::Bytes;
use mlua::{
    ffi, Function, HookTriggers, Lua, LuaOptions, MultiValue, RegistryKey, StdLib, Table, Value,
};

use super::convert;
use crate::command::{self, CommandSpec};
use crate::protocol::reply::Reply;

/// A host's answer that the script must stop: it is re-run elsewhere and this run's outcome is
/// thrown away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop;

/// Where the commands of a running script go.
pub trait Host {
    /// Runs one checked command, or stops the script (see [`Stop`]).
    fn call(&mut self, spec: &'static CommandSpec, args: Vec<Bytes>) -> Result<Reply, Stop>;
}

/// What running a script came to.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Reply(Reply),
    /// The host stopped the script (see [`Host::call`]).
    Stopped,
}

/// One script run's inputs.
pub struct Run<'a> {
    pub sha: &'a str,
    pub body: &'a [u8],
    pub keys: &'a [Bytes],
    pub argv: &'a [Bytes],
    pub read_only: bool,
}

/// Lua code run once per state: the error handler and globals protection. Its chunk name
/// (`=redis_lib`) lets the error handler skip its frames when it names the line of the user's
/// script that failed, as Redis skips its C functions.
///
/// `redis.call` is a C function, as in Redis, so that `return redis.call(...)` is no Lua tail
/// call and the failing line stays on the stack; it raises its error as Redis 7 does, a table
/// `{err=...}`. The other `redis.*` functions are mlua callbacks, which cannot raise a Lua table:
/// they leave the error text in `pending` and raise; the handler takes it (`take_error`).
const PRELUDE: &str = r#"
local dbg, impl = debug, ...
local tostring, type, find, sub = tostring, type, string.find, string.sub
-- An error some other Rust function raised: its text without mlua's prefix and traceback.
local function plain(err)
  local text = tostring(err)
  local cut = find(text, '\nstack traceback:', 1, true)
  if cut then text = sub(text, 1, cut - 1) end
  if sub(text, 1, 15) == 'runtime error: ' then text = sub(text, 16) end
  return text
end
local function handler(err)
  local level = 2
  local i = dbg.getinfo(level, 'nSl')
  while i and (i.what == 'C' or i.source == '=redis_lib') do
    level = level + 1
    i = dbg.getinfo(level, 'nSl')
  end
  local raised = impl.take_error()
  if raised then
    err = {err = raised}
  elseif type(err) == 'userdata' then
    err = {err = 'ERR ' .. plain(err)}
  elseif type(err) ~= 'table' then
    err = {err = 'ERR ' .. tostring(err)}
  end
  if i then
    err['source'] = i.source
    err['line'] = i.currentline
  end
  return err
end
loadfile = nil
dofile = nil
debug = nil
setmetatable(_G, {
  __index = function(t, n)
    error("Script attempted to access nonexistent global variable '" .. tostring(n) .. "'", 2)
  end,
  __newindex = function(t, n, v)
    error("Attempt to modify a readonly table", 2)
  end,
  __metatable = false,
})
return handler
"#;

/// Redis's `rand48` (`redisLrand48`), reseeded with 0 before every script so that
/// `math.random` gives every run the same sequence, as Redis does.
#[derive(Default)]
struct Rand48(Cell<u64>);

impl Rand48 {
    const SEED0: u64 = 0x330E;

    fn reset(&self) {
        self.0.set(Self::SEED0);
    }

    fn next(&self) -> i64 {
        let x = self.0.get().wrapping_mul(0x5DEE_CE66D).wrapping_add(0xB) & 0xFFFF_FFFF_FFFF;
        self.0.set(x);
        (x >> 17) as i64
    }
}

pub struct Engine {
    lua: Lua,
    /// `lua`'s main state, for the C API calls of each run (see `run_compiled`).
    state: *mut ffi::lua_State,
    /// The prelude's error handler, which every run is called under.
    handler: RegistryKey,
    /// The text of the error `redis.call` raised, for the error handler.
    pending: Rc<RefCell<Option<String>>>,
    /// Compiled scripts by SHA1; cleared when the server's script generation moves (SCRIPT FLUSH).
    functions: AHashMap<String, RegistryKey>,
    generation: u64,
    random: Rc<Rand48>,
    /// Set by the host or by SCRIPT KILL; read by the instruction hook.
    stopped: Rc<Cell<bool>>,
    killed: Rc<Cell<bool>>,
    /// The protocol `redis.setresp` chose for the running script.
    resp: Rc<Cell<u8>>,
    /// What `redis.call`/`pcall` need while a script runs.
    calls: Rc<Calls>,
}

/// The message of a script SCRIPT KILL ended.
pub const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";

impl Engine {
    /// A fresh state; `kill` is this core's SCRIPT KILL request flag.
    pub fn new(kill: Arc<AtomicBool>) -> mlua::Result<Engine> {
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG;
        // SAFETY: the debug library is loaded only for the error handler, which keeps it in a
        // local; the prelude removes the global before any script runs.
        let lua = unsafe { Lua::unsafe_new_with(libs, LuaOptions::new()) };
        super::libs::register_all(&lua)?;
        let random = Rc::new(Rand48::default());
        let resp = Rc::new(Cell::new(2u8));
        let pending: Rc<RefCell<Option<String>>> = Rc::default();
        let redis = redis_table(&lua, &random, &resp, &pending)?;
        lua.globals().raw_set("redis", redis.clone())?;
        let impl_table = lua.create_table()?;
        let taken = pending.clone();
        impl_table.raw_set(
            "take_error",
            lua.create_function(move |_, ()| Ok(taken.borrow_mut().take()))?,
        )?;
        let handler: Function = lua.load(PRELUDE).set_name("=redis_lib").call(impl_table)?;
        let handler = lua.create_registry_value(handler)?;
        let mut state = std::ptr::null_mut();
        // SAFETY: only reads the state mlua runs this in: the main one, alive as long as `lua`.
        unsafe { lua.exec_raw::<()>((), |main| state = main) }?;
        let stopped = Rc::new(Cell::new(false));
        let calls = Rc::new(Calls {
            host: Cell::new(None),
            read_only: Cell::new(false),
            stopped: stopped.clone(),
            resp: resp.clone(),
        });
        let bridge: [(&str, ffi::lua_CFunction); 2] =
            [("call", redis_call), ("pcall", redis_pcall)];
        for (name, function) in bridge {
            let calls = Rc::as_ptr(&calls) as *mut std::ffi::c_void;
            // SAFETY: the closure's upvalue points at `calls`, which the engine keeps alive as
            // long as its Lua state (see `bridge`).
            let function = unsafe {
                lua.exec_raw::<Function>((), |state| {
                    ffi::lua_pushlightuserdata(state, calls);
                    ffi::lua_pushcclosure(state, function, 1);
                })
            }?;
            redis.raw_set(name, function)?;
        }
        let killed = Rc::new(Cell::new(false));
        let (hook_stopped, hook_killed) = (stopped.clone(), killed.clone());
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(10_000),
            move |_, _| {
                if kill.swap(false, Ordering::AcqRel) {
                    hook_killed.set(true);
                    hook_stopped.set(true);
                }
                if hook_stopped.get() {
                    return Err(mlua::Error::RuntimeError("script stopped".into()));
                }
                Ok(mlua::VmState::Continue)
            },
        )?;
        Ok(Engine {
            lua,
            state,
            handler,
            pending,
            functions: AHashMap::new(),
            generation: 0,
            random,
            stopped,
            killed,
            resp,
            calls,
        })
    }

    /// Forgets compiled scripts when SCRIPT FLUSH moved the server's generation.
    pub fn sync_generation(&mut self, generation: u64) {
        if generation != self.generation {
            self.functions.clear();
            self.generation = generation;
            self.lua.gc_collect().ok();
        }
    }

    /// Whether the script named `sha` is compiled here (since the last SCRIPT FLUSH this engine
    /// saw: see [`Engine::sync_generation`]).
    pub fn is_compiled(&self, sha: &str) -> bool {
        self.functions.contains_key(sha)
    }

    /// Compiles `body` (for SCRIPT LOAD and EVAL) unless it was already: the function's
    /// registry reference, or Redis's error reply.
    pub fn compile(&mut self, sha: &str, body: &[u8]) -> Result<c_int, Reply> {
        if let Some(key) = self.functions.get(sha) {
            return Ok(key.id());
        }
        let function = self
            .lua
            .load(body)
            .set_name("@user_script")
            .into_function()
            .map_err(|error| {
                let text = match &error {
                    mlua::Error::SyntaxError { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                Reply::error(format!(
                    "ERR Error compiling script (new function): {}",
                    text.trim_end()
                ))
            })?;
        let key = self
            .lua
            .create_registry_value(function)
            .map_err(|e| Reply::error(format!("ERR {e}")))?;
        let id = key.id();
        self.functions.insert(sha.to_string(), key);
        Ok(id)
    }

    /// Runs a script, its commands going to `host`.
    pub fn run(&mut self, run: &Run<'_>, host: &mut dyn Host) -> Outcome {
        let function = match self.compile(run.sha, run.body) {
            Ok(function) => function,
            Err(reply) => return Outcome::Reply(reply),
        };
        self.stopped.set(false);
        self.killed.set(false);
        self.random.reset();
        self.resp.set(2);
        let outcome = self.run_compiled(function, run, host);
        let stopped = self.stopped.replace(false);
        let killed = self.killed.replace(false);
        match outcome {
            // However the run unwound: a stopped run can also come back as an `Err` (seen
            // under load, a read-only script stopped inside a table constructor; the hook
            // raises "script stopped" wherever it fires once the run stopped).
            _ if stopped && !killed => Outcome::Stopped,
            Err(_) if killed => Outcome::Reply(Reply::error_static(KILLED)),
            Ok(Ok(reply)) => Outcome::Reply(reply),
            Ok(Err(raised)) => Outcome::Reply(raised.reply(run.sha, killed)),
            Err(error) => Outcome::Reply(Reply::error(format!(
                "ERR Error running script {}, {}",
                run.sha, error
            ))),
        }
    }

    /// Calls the compiled script under the error handler with KEYS and ARGV set: its reply, or
    /// what it raised. This works on the main state's stack through the C API, as Redis's
    /// `luaCallFunction` does: through mlua's values, setting up KEYS and ARGV alone cost as much
    /// as a small script's commands, and a protected call around the whole run (`exec_raw`)
    /// allocated a C closure per run (issue 6).
    fn run_compiled(
        &mut self,
        function: c_int,
        run: &Run<'_>,
        host: &mut dyn Host,
    ) -> mlua::Result<Result<Reply, Raised>> {
        self.pending.borrow_mut().take();
        self.calls.read_only.set(run.read_only);
        // `redis.call`/`pcall` reach `host` through the slot only while this run lasts.
        let _lent = self.calls.lend(host);
        let state = self.state;
        // SAFETY: `state` is the main state of `self.lua`, which nothing else uses while this
        // runs (one thread, and `&mut self`); the stack is put back to where it was. Outside
        // `lua_pcall` only allocation can raise (creating KEYS/ARGV), and that is an
        // out-of-memory abort, as it is for Rust's own allocations.
        unsafe {
            let top = ffi::lua_gettop(state);
            if ffi::lua_checkstack(state, 8) == 0 {
                return Err(mlua::Error::StackError);
            }
            ffi::lua_rawgeti_(state, ffi::LUA_REGISTRYINDEX, self.handler.id());
            ffi::lua_rawgeti_(state, ffi::LUA_REGISTRYINDEX, function);
            set_global_array(state, b"KEYS", run.keys);
            set_global_array(state, b"ARGV", run.argv);
            let finished = if ffi::lua_pcall(state, 0, 1, top + 1) == 0 {
                Ok(convert::stack_to_reply(state, -1, self.resp.get()))
            } else {
                Err(Raised::from_stack(state, -1))
            };
            for name in [&b"KEYS"[..], b"ARGV"] {
                convert::push_bytes(state, name);
                ffi::lua_pushnil(state);
                ffi::lua_rawset(state, ffi::LUA_GLOBALSINDEX);
            }
            ffi::lua_settop(state, top);
            Ok(finished)
        }
    }
}

/// Sets the global `name` to a new array of `items` (KEYS, ARGV), bypassing the globals
/// protection as Redis's `luaSetGlobalArray` does.
unsafe fn set_global_array(state: *mut ffi::lua_State, name: &[u8], items: &[Bytes]) {
    convert::push_bytes(state, name);
    ffi::lua_createtable(state, items.len().min(c_int::MAX as usize) as c_int, 0);
    for (i, item) in items.iter().enumerate() {
        convert::push_bytes(state, item);
        ffi::lua_rawseti_(state, -2, (i + 1) as c_int);
    }
    ffi::lua_rawset(state, ffi::LUA_GLOBALSINDEX);
}

/// What a script raised, as the error handler left it: `{err=, source=, line=}`, or anything
/// else when the handler itself failed.
#[derive(Debug, Default)]
struct Raised {
    table: bool,
    err: Option<Bytes>,
    source: Option<Bytes>,
    line: Option<i64>,
}

impl Raised {
    unsafe fn from_stack(state: *mut ffi::lua_State, index: c_int) -> Raised {
        let index = ffi::lua_gettop(state) + index + 1;
        if ffi::lua_type(state, index) != ffi::LUA_TTABLE {
            return Raised::default();
        }
        let line = (convert::field(state, index, b"line") == ffi::LUA_TNUMBER)
            .then(|| ffi::lua_tonumber(state, -1) as i64);
        ffi::lua_pop(state, 1);
        Raised {
            table: true,
            err: convert::string_field(state, index, b"err"),
            source: convert::string_field(state, index, b"source"),
            line,
        }
    }

    /// The reply for it, as Redis 7 words it: `<err> script: <sha>, on <source>:<line>.`
    fn reply(self, sha: &str, killed: bool) -> Reply {
        if !self.table {
            return Reply::error(format!("ERR Error running script {sha}, execution failure"));
        }
        let text = match self.err {
            _ if killed => KILLED.to_string(),
            Some(text) => String::from_utf8_lossy(&text).into_owned(),
            None => "ERR execution failure".to_string(),
        };
        let text = text.strip_prefix('-').unwrap_or(&text);
        match (self.source, self.line) {
            (Some(source), Some(line)) if line > 0 => Reply::error(format!(
                "{text} script: {sha}, on {}:{line}.",
                String::from_utf8_lossy(&source)
            )),
            _ => Reply::error(text.to_string()),
        }
    }
}

/// What `redis.call` and `redis.pcall` share with the engine. They are created once per state
/// (creating them for every run, scoped to its host, cost about a tenth of a small script's
/// time), and find the running script's host in `host`, which [`Calls::lend`] fills for the
/// length of one run.
struct Calls {
    host: Cell<Option<std::ptr::NonNull<dyn Host>>>,
    read_only: Cell<bool>,
    stopped: Rc<Cell<bool>>,
    resp: Rc<Cell<u8>>,
}

/// Empties the host slot when a run ends, however it ends.
struct Lent<'a>(&'a Calls);

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        self.0.host.set(None);
    }
}

impl Calls {
    fn lend<'a>(&'a self, host: &'a mut dyn Host) -> Lent<'a> {
        let pointer: std::ptr::NonNull<dyn Host + 'a> = std::ptr::NonNull::from(host);
        // SAFETY: only the lifetime bound is erased. The pointer is used by `call` alone, while
        // `Lent` (which borrows `host` for 'a) is alive; `Lent::drop` clears it.
        let pointer: std::ptr::NonNull<dyn Host> = unsafe { std::mem::transmute(pointer) };
        self.host.set(Some(pointer));
        Lent(self)
    }

    /// `redis.call` (`raise`) or `redis.pcall` with the arguments on the stack: pushes the
    /// result, or the error table to raise.
    unsafe fn call(&self, state: *mut ffi::lua_State, raise: bool) -> Flow {
        if self.stopped.get() {
            return self.stop(state);
        }
        let Some(mut host) = self.host.get() else {
            convert::push_error_table(state, b"ERR redis.call outside a running script");
            return Flow::Raise;
        };
        let reply = match command_args(state) {
            Err(text) => Reply::error_static(text),
            Ok(args) => match check_command(&args, self.read_only.get()) {
                Err(reply) => reply,
                // SAFETY: the slot holds a host only during `run_compiled`, whose `&mut` borrow
                // of it is not used while the script runs; Lua calls this one at a time.
                Ok(spec) => match host.as_mut().call(spec, args) {
                    Ok(reply) => reply,
                    Err(Stop) => return self.stop(state),
                },
            },
        };
        match &reply {
            Reply::Error(text) => {
                convert::push_error_table(state, lua_error_text(text).as_bytes());
                if raise {
                    Flow::Raise
                } else {
                    Flow::Return
                }
            }
            _ => {
                convert::push_call_result(state, &reply, self.resp.get());
                Flow::Return
            }
        }
    }

    /// The host stopped the script: every later call raises too (see [`Stop`]).
    unsafe fn stop(&self, state: *mut ffi::lua_State) -> Flow {
        self.stopped.set(true);
        convert::push_error_table(state, b"ERR script stopped");
        Flow::Raise
    }
}

/// What `redis.call` does once its Rust part has returned (and dropped what it held).
#[derive(Clone, Copy)]
enum Flow {
    /// Return the value on top of the stack.
    Return,
    /// Raise the value on top of the stack.
    Raise,
}

unsafe extern "C-unwind" fn redis_call(state: *mut ffi::lua_State) -> c_int {
    bridge(state, true)
}

unsafe extern "C-unwind" fn redis_pcall(state: *mut ffi::lua_State) -> c_int {
    bridge(state, false)
}

/// `redis.call` and `redis.pcall`: C functions whose upvalue points at the engine's [`Calls`].
/// A Lua error is a `longjmp`, so it is raised here, after the Rust part has returned and
/// dropped what it held; a panic is caught before it reaches Lua's C frames.
unsafe fn bridge(state: *mut ffi::lua_State, raise: bool) -> c_int {
    // SAFETY: the upvalue was set by `Engine::new` to the engine's `Calls`, alive as long as
    // the Lua state that calls this.
    let calls = &*(ffi::lua_touserdata(state, ffi::lua_upvalueindex(1)) as *const Calls);
    let flow = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| calls.call(state, raise)))
        .unwrap_or_else(|_| {
            convert::push_error_table(state, b"ERR internal error running the command");
            Flow::Raise
        });
    match flow {
        Flow::Return => 1,
        Flow::Raise => ffi::lua_error(state),
    }
}

/// Redis's `luaPushErrorBuff`: an error reply's text as a script sees it in `{err=...}`.
fn lua_error_text(text: &[u8]) -> String {
    String::from_utf8_lossy(text)
        .trim_end_matches(['\r', '\n'])
        .to_string()
}

fn error_table(lua: &Lua, text: &str) -> mlua::Result<Value> {
    let table = lua.create_table()?;
    table.raw_set("err", text)?;
    Ok(Value::Table(table))
}

/// `redis.call`'s arguments, the whole stack, as a command's (Redis's `luaArgsToRedisArgv`):
/// numbers as `%.17g`, strings as they are.
unsafe fn command_args(state: *mut ffi::lua_State) -> Result<Vec<Bytes>, &'static str> {
    let count = ffi::lua_gettop(state);
    if count == 0 {
        return Err("ERR Please specify at least one argument for this redis lib call");
    }
    let mut out = Vec::with_capacity(count as usize);
    for index in 1..=count {
        match ffi::lua_type(state, index) {
            ffi::LUA_TSTRING => out.push(Bytes::copy_from_slice(convert::string_at(state, index))),
            ffi::LUA_TNUMBER => out.push(Bytes::from(convert::number_argument(ffi::lua_tonumber(
                state, index,
            )))),
            _ => return Err("ERR Lua redis lib command arguments must be strings or integers"),
        }
    }
    Ok(out)
}

/// Redis's `scriptCall` checks, before the command goes anywhere.
fn check_command(args: &[Bytes], read_only: bool) -> Result<&'static CommandSpec, Reply> {
    let Some(spec) = command::lookup(&args[0]) else {
        return Err(Reply::error_static(
            "ERR Unknown Redis command called from script",
        ));
    };
    if !spec.arity_ok(args.len()) {
        return Err(Reply::error_static(
            "ERR Wrong number of args calling Redis command from script",
        ));
    }
    if spec.flags.contains(&"noscript") {
        return Err(Reply::error_static(
            "ERR This Redis command is not allowed from script",
        ));
    }
    if read_only && spec.is_write() {
        return Err(Reply::error_static(
            "ERR Write commands are not allowed from read-only scripts.",
        ));
    }
    Ok(spec)
}

/// Redis's `luaRedisErrorReplyCommand`/`luaPushErrorBuff`: `-CODE msg` keeps its code, a bare
/// message gets `ERR`.
pub fn error_reply_text(message: &str) -> String {
    let message = message.trim_end_matches(['\r', '\n']);
    match message.strip_prefix('-') {
        Some(rest) => match rest.split_once(' ') {
            Some((code, text)) => format!("{code} {text}"),
            None => format!("ERR {rest}"),
        },
        None => match message.split_once(' ') {
            // error_reply adds '-' before a message without one, so its first word is the code.
            Some((code, text)) => format!("{code} {text}"),
            None => format!("ERR {message}"),
        },
    }
}

/// The `redis` table: everything but `call`/`pcall` (made by the prelude).
/// Raises `message` from a Rust function as Redis raises it from C (`luaPushError`): the error
/// handler finds the text in `pending` and makes it `{err="ERR <message>"}`.
fn raise(pending: &Rc<RefCell<Option<String>>>, message: &str) -> mlua::Error {
    *pending.borrow_mut() = Some(format!("ERR {message}"));
    mlua::Error::RuntimeError(message.to_string())
}

fn redis_table(
    lua: &Lua,
    random: &Rc<Rand48>,
    resp: &Rc<Cell<u8>>,
    pending: &Rc<RefCell<Option<String>>>,
) -> mlua::Result<Table> {
    let redis = lua.create_table()?;
    redis.raw_set(
        "error_reply",
        lua.create_function(|lua, args: MultiValue| {
            let text = match args.front() {
                Some(Value::String(s)) if args.len() == 1 => s.to_string_lossy(),
                _ => return error_table(lua, "ERR wrong number or type of arguments"),
            };
            error_table(lua, &error_reply_text(&text))
        })?,
    )?;
    redis.raw_set(
        "status_reply",
        lua.create_function(|lua, args: MultiValue| {
            let text = match args.front() {
                Some(Value::String(s)) if args.len() == 1 => s.clone(),
                _ => return error_table(lua, "ERR wrong number or type of arguments"),
            };
            let table = lua.create_table()?;
            table.raw_set("ok", text)?;
            Ok(Value::Table(table))
        })?,
    )?;
    let failed = pending.clone();
    redis.raw_set(
        "sha1hex",
        lua.create_function(move |_, args: MultiValue| {
            let text = match args.front() {
                Some(Value::String(s)) if args.len() == 1 => s.as_bytes().to_vec(),
                Some(Value::Integer(n)) if args.len() == 1 => n.to_string().into_bytes(),
                Some(Value::Number(n)) if args.len() == 1 => {
                    convert::number_argument(*n).into_bytes()
                }
                _ => return Err(raise(&failed, "wrong number of arguments")),
            };
            Ok(super::sha1_hex(&text))
        })?,
    )?;
    let failed = pending.clone();
    redis.raw_set(
        "log",
        lua.create_function(move |_, args: MultiValue| {
            if args.len() < 2 {
                return Err(raise(
                    &failed,
                    "redis.log() requires two arguments or more.",
                ));
            }
            let mut args = args.into_iter();
            let level = match args.next() {
                Some(Value::Integer(n)) => n,
                Some(Value::Number(n)) => n as i64,
                _ => -1,
            };
            if !(0..=3).contains(&level) {
                return Err(raise(&failed, "Invalid debug level."));
            }
            let text: Vec<String> = args
                .map(|v| match v {
                    Value::String(s) => s.to_string_lossy(),
                    Value::Integer(n) => n.to_string(),
                    Value::Number(n) => n.to_string(),
                    _ => String::new(),
                })
                .collect();
            let text = text.join(" ");
            match level {
                0 => tracing::debug!(target: "script", "{text}"),
                1 => tracing::info!(target: "script", "{text}"),
                2 => tracing::info!(target: "script", "{text}"),
                _ => tracing::warn!(target: "script", "{text}"),
            }
            Ok(())
        })?,
    )?;
    let (script_resp, failed) = (resp.clone(), pending.clone());
    redis.raw_set(
        "setresp",
        lua.create_function(move |_, args: MultiValue| {
            if args.len() != 1 {
                return Err(raise(&failed, "redis.setresp() requires one argument."));
            }
            let version = match args.front() {
                Some(Value::Integer(n)) => *n,
                Some(Value::Number(n)) => *n as i64,
                _ => 0,
            };
            if version != 2 && version != 3 {
                return Err(raise(&failed, "RESP version must be 2 or 3."));
            }
            script_resp.set(version as u8);
            Ok(())
        })?,
    )?;
    // Effects replication is the only mode here: set_repl is accepted and changes nothing.
    redis.raw_set("set_repl", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    redis.raw_set(
        "replicate_commands",
        lua.create_function(|_, _: MultiValue| Ok(true))?,
    )?;
    redis.raw_set(
        "breakpoint",
        lua.create_function(|_, _: MultiValue| Ok(false))?,
    )?;
    redis.raw_set("debug", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    for (name, value) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
    ] {
        redis.raw_set(name, value)?;
    }
    redis.raw_set("REDIS_VERSION", crate::server::VERSION)?;
    let math: Table = lua.globals().raw_get("math")?;
    let (rand, failed) = (random.clone(), pending.clone());
    math.raw_set(
        "random",
        lua.create_function(move |_, args: MultiValue| {
            // Redis's redis_math_random: rand48 scaled to [0, 1), then Lua 5.1's math.random.
            const MAX: i64 = i32::MAX as i64;
            let r = (rand.next() % MAX) as f64 / MAX as f64;
            let number = |v: Option<&Value>| match v {
                Some(Value::Integer(n)) => Some(*n as f64),
                Some(Value::Number(n)) => Some(*n),
                _ => None,
            };
            let empty = || raise(&failed, "bad argument #1 to 'random' (interval is empty)");
            match args.len() {
                0 => Ok(r),
                1 => {
                    let upper = number(args.front()).unwrap_or(0.0).floor();
                    if upper < 1.0 {
                        return Err(empty());
                    }
                    Ok((r * upper).floor() + 1.0)
                }
                2 => {
                    let lower = number(args.front()).unwrap_or(0.0).floor();
                    let upper = number(args.get(1)).unwrap_or(0.0).floor();
                    if lower > upper {
                        return Err(empty());
                    }
                    Ok((r * (upper - lower + 1.0)).floor() + lower)
                }
                _ => Err(raise(&failed, "wrong number of arguments")),
            }
        })?,
    )?;
    let rand = random.clone();
    math.raw_set(
        "randomseed",
        lua.create_function(move |_, seed: Option<f64>| {
            let seed = seed.unwrap_or(0.0) as i64 as u64;
            rand.0.set(((seed & 0xFFFF_FFFF) << 16) | Rand48::SEED0);
            Ok(())
        })?,
    )?;
    Ok(redis)
}
