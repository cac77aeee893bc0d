//! Executors, listeners, and the wiring between cores.
//!
//! `start` binds one listening socket per shard on the same address with SO_REUSEPORT (the kernel
//! spreads new connections over them), starts one glommio executor per shard pinned to its core,
//! and connects them with one mailbox per core (a crossbeam channel and an eventfd doorbell in the
//! core's epoll set, see `router`). A connection lives
//! on the core that accepted it. A control thread outside the executors handles shutdown: it asks
//! every shard to stop accepting and close its clients' reads, waits until every shard has drained
//! its connections, then lets the executors exit.

pub mod blocking;
pub mod buffers;
pub mod commands;
pub mod connection;
pub mod coordinator;
pub mod memcache;
pub mod net;
pub mod observe;
pub mod pubsub;
pub mod router;
pub mod runtime;
pub mod script;
pub mod transaction;

use std::cell::Cell;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{FromRawFd, IntoRawFd, RawFd};
use std::rc::Rc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use glommio::{LocalExecutorBuilder, Placement};
use socket2::{Domain, Protocol, Socket, Type};
use tracing::{debug, error, info, warn};

use crate::admin::{self, AdminThreads, Observability};
use crate::binlog::recovery::{self, RecoverOptions, ShardState};
use crate::binlog::{segment, Writer};
use crate::config::Config;
use crate::slot::SlotTable;
use router::Mail;
use runtime::{now_ms, Runtime};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// How often a shard looks at its control channel, idle clients and expiry.
pub(crate) const TICK: Duration = Duration::from_millis(10);
/// Every this many ticks a shard also publishes its memory estimate (it samples keys).
const FULL_PUBLISH_EVERY: u64 = 10;
/// Keys active expiry may look at per shard per expiry cycle.
const ACTIVE_EXPIRE_BUDGET: usize = 200;
/// After this long in shutdown, clients that still have not finished are cut off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("Could not create server TCP listening socket {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("invalid bind address '{0}'")]
    BadBind(String),
    #[error("could not start shard {shard}: {message}")]
    Executor { shard: usize, message: String },
    #[error("could not start the admin threads: {0}")]
    Admin(std::io::Error),
    #[error("{0}")]
    Recovery(String),
}

/// Facts fixed at start-up that INFO reports.
#[derive(Debug)]
pub struct StaticFacts {
    pub run_id: String,
    pub port: u16,
    pub started: Instant,
    pub started_unix: u64,
    pub config_file: String,
    pub executable: String,
    /// Script bodies and every core's script status (`script::Shared`).
    pub scripts: Arc<crate::script::Shared>,
}

/// Messages to the control thread.
#[derive(Debug)]
pub enum ControlEvent {
    /// SIGINT/SIGTERM, SHUTDOWN, or the handle's `shutdown`.
    Shutdown,
    /// A shard has no connections left after being told to stop.
    Drained(usize),
    /// A shard's thread panicked (a bug, or DEBUG PANIC): the server shuts down and exits with
    /// an error instead of serving without that shard's keys.
    ShardDied(usize),
}

thread_local! {
    /// On a shard's thread: where to report that it panicked, and its number.
    static PANIC_NOTICE: std::cell::RefCell<Option<(Sender<ControlEvent>, usize)>> =
        const { std::cell::RefCell::new(None) };
}

/// Installs, once per process, a panic hook that tells a shard's control thread when that shard's
/// thread panics (the hook runs on the panicking thread, before unwinding). Threads that are not
/// shards are left to the previous hook alone.
fn install_panic_notice() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            PANIC_NOTICE.with(|notice| {
                if let Ok(notice) = notice.try_borrow() {
                    if let Some((control, shard)) = notice.as_ref() {
                        let _ = control.send(ControlEvent::ShardDied(*shard));
                    }
                }
            });
        }));
    });
}

/// Messages from the control thread to a shard, read on the shard's tick.
#[derive(Debug, Clone, Copy)]
enum ShardControl {
    StopAccepting,
    Exit,
}

/// A running server.
pub struct ServerHandle {
    /// The port actually listened on (useful when the configuration asked for port 0).
    pub port: u16,
    /// The admin HTTP port listened on, `None` when `admin-port` is 0.
    pub admin_port: Option<u16>,
    control: Sender<ControlEvent>,
    control_thread: Option<JoinHandle<bool>>,
}

impl ServerHandle {
    /// Asks the server to shut down (as SIGTERM would).
    pub fn shutdown(&self) {
        let _ = self.control.send(ControlEvent::Shutdown);
    }

    /// A sender the signal handler can use.
    pub fn control(&self) -> Sender<ControlEvent> {
        self.control.clone()
    }

    /// Waits until every shard has exited. Returns false when a shard failed (panicked), so that
    /// the process can exit with an error.
    pub fn wait(mut self) -> bool {
        match self.control_thread.take() {
            Some(thread) => thread.join().unwrap_or(false),
            None => true,
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(thread) = self.control_thread.take() {
            self.shutdown();
            let _ = thread.join();
        }
    }
}

fn parse_bind(address: &str) -> Result<IpAddr, ServerError> {
    let trimmed = address.trim_start_matches('-');
    match trimmed {
        "*" => Ok(IpAddr::from([0, 0, 0, 0])),
        "::*" => Ok(IpAddr::from([0u16; 8])),
        other => other
            .parse()
            .map_err(|_| ServerError::BadBind(address.to_string())),
    }
}

fn listen_socket(addr: SocketAddr, backlog: u32, reuse_port: bool) -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog.min(i32::MAX as u32) as i32)?;
    Ok(socket)
}

/// Binds `shards` SO_REUSEPORT sockets on every bind address. Port 0 picks a free port (the same
/// for every address). Fails like Redis when the port is taken by anyone, including another
/// shardis, which SO_REUSEPORT alone would let in silently.
fn bind_listeners(
    config: &Config,
    port: u16,
    shards: usize,
) -> Result<(u16, Vec<Vec<RawFd>>), ServerError> {
    let mut port = port;
    let mut per_shard: Vec<Vec<RawFd>> = vec![Vec::new(); shards];
    for address in &config.bind {
        let ip = parse_bind(address)?;
        let error = |port: u16| {
            move |source| ServerError::Listen {
                addr: format!("{}:{}", address, port),
                source,
            }
        };
        if port != 0 {
            // A plain bind without SO_REUSEPORT fails if anything already listens there.
            drop(listen_socket(SocketAddr::new(ip, port), 1, false).map_err(error(port))?);
        }
        for fds in per_shard.iter_mut() {
            let socket = listen_socket(SocketAddr::new(ip, port), config.tcp_backlog, true)
                .map_err(error(port))?;
            if port == 0 {
                port = socket
                    .local_addr()
                    .ok()
                    .and_then(|a| a.as_socket())
                    .map(|a| a.port())
                    .unwrap_or(0);
            }
            let fd = socket.into_raw_fd();
            if config.tcp_defer_accept > 0 {
                set_defer_accept(fd, config.tcp_defer_accept).map_err(error(port))?;
            }
            set_inherited_options(fd, config.tcp_keepalive);
            fds.push(fd);
        }
    }
    Ok((port, per_shard))
}

fn somaxconn() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Starts the server and returns once every shard listens.
pub fn start(config: Config) -> Result<ServerHandle, ServerError> {
    start_with_file(config, String::new())
}

/// Starts the server; `config_file` is what INFO reports as `config_file`.
pub fn start_with_file(
    mut config: Config,
    config_file: String,
) -> Result<ServerHandle, ServerError> {
    let shards = config.shards();
    if let Some(max) = somaxconn() {
        if max < config.tcp_backlog {
            warn!(
                "The TCP backlog setting of {} cannot be enforced because /proc/sys/net/core/somaxconn is set to the lower value of {}.",
                config.tcp_backlog, max
            );
        }
    }
    let (port, listeners) = bind_listeners(&config, config.port, shards)?;
    // The memcached port: the same bind addresses and shards, its own connections.
    let memcached_listeners = match config.memcached_port {
        0 => vec![Vec::new(); shards],
        memcached_port => bind_listeners(&config, memcached_port, shards)?.1,
    };
    let recovered = recover_data(&config, shards)?;
    // Coordinator transaction ids restart at 0 with every run; in the binlog they are offset by
    // the start time so that recovery never mistakes one run's transaction for another's.
    let tx_epoch = now_ms() << 20;
    // `port 0` asks for any free port; from here on the configuration names the one chosen, so
    // CONFIG GET port tells clients where the server listens, as it does in Redis.
    config.port = port;
    let facts = Arc::new(StaticFacts {
        run_id: (0..40)
            .map(|_| fastrand::alphanumeric().to_ascii_lowercase())
            .collect(),
        port,
        started: Instant::now(),
        started_unix: now_ms() / 1000,
        config_file,
        executable: std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        scripts: Arc::new(crate::script::Shared::new(shards)),
    });
    let obs = Observability::new(shards, &config, facts.started_unix);
    let config = Arc::new(config);
    let slots = Arc::new(SlotTable::new(shards));
    let cores: Vec<usize> = core_affinity::get_core_ids()
        .map(|ids| ids.into_iter().map(|c| c.id).collect())
        .unwrap_or_default();
    let (addresses, mailboxes) =
        router::post_offices(shards).map_err(|e| ServerError::Executor {
            shard: 0,
            message: format!("cross-core channels: {}", e),
        })?;
    let addresses = Arc::new(addresses);
    let mut mailboxes = mailboxes.into_iter();
    let (control_tx, control_rx) = crossbeam_channel::unbounded();
    install_panic_notice();
    let (ready_tx, ready_rx) = crossbeam_channel::bounded::<Result<(), String>>(shards);

    let mut shard_controls = Vec::with_capacity(shards);
    let mut executors = Vec::with_capacity(shards);
    let mut recovered = recovered.into_iter();
    for (shard, (fds, memcached_fds)) in listeners.into_iter().zip(memcached_listeners).enumerate()
    {
        let state = recovered.next();
        let (fsync_bell, fsync_ringer) =
            net::doorbell_pair().map_err(|e| ServerError::Executor {
                shard,
                message: format!("fsync doorbell: {e}"),
            })?;
        let placement = if config.cpu_affinity && !cores.is_empty() {
            Placement::Fixed(cores[shard % cores.len()])
        } else {
            Placement::Unbound
        };
        let (shard_tx, shard_rx) = crossbeam_channel::unbounded();
        shard_controls.push(shard_tx);
        let (config, slots, facts, obs) =
            (config.clone(), slots.clone(), facts.clone(), obs.clone());
        let (addresses, control_tx, ready_tx) =
            (addresses.clone(), control_tx.clone(), ready_tx.clone());
        let Some(mailbox) = mailboxes.next() else {
            return Err(ServerError::Executor {
                shard,
                message: "no mailbox".into(),
            });
        };
        let builder = LocalExecutorBuilder::new(placement)
            .name(&format!("shard-{}", shard))
            .io_memory(1 << 20);
        let spawned = builder.spawn(move || async move {
            PANIC_NOTICE.with(|notice| *notice.borrow_mut() = Some((control_tx.clone(), shard)));
            let rt = Rc::new(Runtime::new(
                shard, shards, config, slots, facts, control_tx, obs,
            ));
            if let Err(message) = install_state(&rt, state, tx_epoch, fsync_ringer) {
                let _ = ready_tx.send(Err(message));
                return;
            }
            let fds = fds.into_iter().map(|fd| (fd, Speaks::Resp));
            let memcached_fds = memcached_fds.into_iter().map(|fd| (fd, Speaks::Memcache));
            let fds = fds.chain(memcached_fds).collect();
            run_shard(rt, fds, addresses, mailbox, shard_rx, ready_tx, fsync_bell).await;
        });
        match spawned {
            Ok(handle) => executors.push(handle),
            Err(error) => {
                return Err(ServerError::Executor {
                    shard,
                    message: error.to_string(),
                })
            }
        }
    }
    for shard in 0..shards {
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(message)) => return Err(ServerError::Executor { shard, message }),
            Err(_) => {
                return Err(ServerError::Executor {
                    shard,
                    message: "exited during start-up".into(),
                })
            }
        }
    }
    let admin_threads = match admin::start(obs.clone(), &config) {
        Ok(threads) => threads,
        Err(error) => {
            // The shards run already: stop them before reporting the failure.
            let _ = control_tx.send(ControlEvent::Shutdown);
            control_loop(control_rx, shard_controls, executors, None);
            return Err(ServerError::Admin(error));
        }
    };
    let admin_port = admin_threads.port;
    if let Some(admin_port) = admin_port {
        info!(
            admin_port,
            "admin HTTP listener ready (/metrics, /health/live, /health/ready)"
        );
    }
    info!(
        version = VERSION,
        shards,
        cores = cores.len(),
        port,
        bind = %config.bind.join(" "),
        "shardis ready to accept connections"
    );

    let control_thread = std::thread::Builder::new()
        .name("shardis-control".into())
        .spawn(move || control_loop(control_rx, shard_controls, executors, Some(admin_threads)))
        .map_err(|e| ServerError::Executor {
            shard: 0,
            message: e.to_string(),
        })?;
    Ok(ServerHandle {
        port,
        admin_port,
        control: control_tx,
        control_thread: Some(control_thread),
    })
}

/// Rebuilds every shard from the data directory (snapshot + binlog), all shards in parallel.
fn recover_data(config: &Config, shards: usize) -> Result<Vec<ShardState>, ServerError> {
    let on_disk = segment::list_shards(&config.dir).map_err(|e| {
        ServerError::Recovery(format!("can't read '{}': {e}", config.dir.display()))
    })?;
    let holds_data = |path: &std::path::Path| {
        std::fs::read_dir(path).is_ok_and(|mut entries| entries.next().is_some())
    };
    if let Some((extra, _)) = on_disk
        .iter()
        .find(|(id, path)| *id >= shards && holds_data(path))
    {
        return Err(ServerError::Recovery(format!(
            "the data directory '{}' holds data of shard {extra}, but this server runs {shards} shard(s): start it with --threads {} (changing the shard count of a data directory is not supported yet)",
            config.dir.display(),
            on_disk.iter().map(|(id, _)| id + 1).max().unwrap_or(shards)
        )));
    }
    let options = RecoverOptions {
        shards,
        databases: config.databases,
        load_truncated: config.aof_load_truncated,
        up_to_ms: None,
        read_only: false,
    };
    recovery::recover(&config.dir, &options).map_err(|e| ServerError::Recovery(e.to_string()))
}

/// Gives a shard its recovered keyspace and, with `appendonly yes`, its binlog writer.
fn install_state(
    rt: &Runtime,
    state: Option<ShardState>,
    tx_epoch: u64,
    fsync_ringer: net::Ringer,
) -> Result<(), String> {
    let config = rt.config();
    let mut shard = rt.shard.borrow_mut();
    shard.tx_epoch = tx_epoch;
    shard.snapshots.last_save_unix = now_ms() / 1000;
    let Some(state) = state else {
        return Ok(());
    };
    shard.keyspace = state.keyspace;
    // The recovered keyspace keeps expired keys for notifications as the configuration says.
    let notify_flags = shard.notify.flags;
    shard.set_notify_flags(notify_flags);
    // Recovery builds a plain keyspace; CAS values must keep this shard's stride, above every
    // CAS the recovered items and replayed writes carried.
    let recovered_cas = shard.keyspace.cas.high_water();
    shard.keyspace.cas = crate::keyspace::CasSource::new(rt.id);
    shard.keyspace.cas.observe(recovered_cas);
    shard.set_last_timestamp(state.last_timestamp_ms);
    if let Some(snapshot) = &state.snapshot {
        shard.snapshots.last_position = snapshot.position;
        shard.snapshots.last_timestamp_ms = snapshot.timestamp_ms;
    }
    if !config.appendonly {
        return Ok(());
    }
    shard.keyspace.keep_expired_keys();
    let writer = Writer::open(
        &config.dir,
        rt.id,
        state.next_position,
        (state.segments, state.segment_bytes),
        Runtime::writer_options(&config),
        Box::new(move || fsync_ringer.ring()),
    )
    .map_err(|e| format!("can't open the binlog in '{}': {e}", config.dir.display()))?;
    shard.binlog = Some(writer);
    Ok(())
}

/// The binlog's tasks on a shard: the flusher, which writes each loop turn's records with one
/// write once the turn's other tasks ran, and the fsync doorbell, rung by the fsync thread.
fn spawn_binlog_tasks(rt: &Rc<Runtime>, fsync_bell: net::Doorbell) {
    if rt.shard.borrow().binlog.is_none() {
        return;
    }
    let flusher = rt.clone();
    glommio::spawn_local(async move {
        loop {
            std::future::poll_fn(|cx| {
                let mut shard = flusher.shard.borrow_mut();
                let ready = shard
                    .binlog
                    .as_ref()
                    .is_some_and(|w| w.has_buffered() && w.failure().is_none());
                if ready {
                    std::task::Poll::Ready(())
                } else {
                    shard.flush_waker = Some(cx.waker().clone());
                    std::task::Poll::Pending
                }
            })
            .await;
            if let Some(writer) = flusher.shard.borrow_mut().binlog.as_mut() {
                writer.flush();
            }
            flusher.wake_binlog_waiters();
        }
    })
    .detach();
    let rt = rt.clone();
    glommio::spawn_local(async move {
        loop {
            fsync_bell.wait().await;
            rt.wake_binlog_waiters();
        }
    })
    .detach();
}

/// Whether a `save-schedule` time is now (each scheduled minute starts one snapshot).
fn scheduled_save_due(rt: &Runtime, config: &Config) -> bool {
    let minute = now_ms() / 60_000;
    let due = config
        .save_schedule_minutes()
        .contains(&((minute % 1440) as u32));
    if due && rt.last_scheduled_save.get() != minute {
        rt.last_scheduled_save.set(minute);
        return true;
    }
    false
}

fn control_loop(
    events: Receiver<ControlEvent>,
    shards: Vec<Sender<ShardControl>>,
    executors: Vec<glommio::ExecutorJoinHandle<()>>,
    mut admin: Option<AdminThreads>,
) -> bool {
    let mut drained = vec![false; shards.len()];
    let mut stopping = false;
    let mut clean = true;
    while let Ok(event) = events.recv() {
        match event {
            ControlEvent::ShardDied(shard) => {
                error!(shard, "shard thread panicked: shutting down the server");
                clean = false;
                if let Some(flag) = drained.get_mut(shard) {
                    *flag = true;
                }
                if !stopping {
                    stopping = true;
                    if let Some(admin) = &admin {
                        admin.shutting_down();
                    }
                    for shard in &shards {
                        let _ = shard.send(ShardControl::StopAccepting);
                    }
                }
                if drained.iter().all(|d| *d) {
                    break;
                }
            }
            ControlEvent::Shutdown if !stopping => {
                info!("Received shutdown request, closing connections");
                stopping = true;
                if let Some(admin) = &admin {
                    admin.shutting_down();
                }
                for shard in &shards {
                    let _ = shard.send(ShardControl::StopAccepting);
                }
            }
            ControlEvent::Shutdown => {}
            ControlEvent::Drained(shard) => {
                if let Some(flag) = drained.get_mut(shard) {
                    *flag = true;
                }
                if drained.iter().all(|d| *d) {
                    break;
                }
            }
        }
    }
    for shard in &shards {
        let _ = shard.send(ShardControl::Exit);
    }
    for executor in executors {
        let _ = executor.join();
    }
    if let Some(admin) = admin.as_mut() {
        admin.stop();
    }
    info!("shardis is now ready to exit, bye bye...");
    clean
}

/// Which protocol a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Speaks {
    Resp,
    Memcache,
}

async fn run_shard(
    rt: Rc<Runtime>,
    fds: Vec<(RawFd, Speaks)>,
    addresses: Arc<Vec<router::Address>>,
    mailbox: router::Mailbox,
    control: Receiver<ShardControl>,
    ready: Sender<Result<(), String>>,
    fsync_bell: std::os::fd::OwnedFd,
) {
    let poller = match net::Poller::new() {
        Ok(poller) => poller,
        Err(error) => {
            let _ = ready.send(Err(format!("epoll: {}", error)));
            return;
        }
    };
    glommio::spawn_local(poller.clone().run()).detach();
    let ticker = match net::Ticker::new(&poller, TICK) {
        Ok(ticker) => ticker,
        Err(error) => {
            let _ = ready.send(Err(format!("timerfd: {}", error)));
            return;
        }
    };

    match net::Doorbell::new(&poller, fsync_bell) {
        Ok(bell) => spawn_binlog_tasks(&rt, bell),
        Err(error) => {
            let _ = ready.send(Err(format!("fsync doorbell: {}", error)));
            return;
        }
    }

    script::install(addresses.clone());
    // Incoming mail: requests are handled in arrival order; replies go to the asking connection.
    let doorbell = match mailbox
        .doorbell
        .try_clone()
        .and_then(|fd| net::Doorbell::new(&poller, fd))
    {
        Ok(doorbell) => doorbell,
        Err(error) => {
            let _ = ready.send(Err(format!("doorbell: {}", error)));
            return;
        }
    };
    glommio::spawn_local({
        let rt = rt.clone();
        async move {
            loop {
                doorbell.wait().await;
                for mail in mailbox.drain() {
                    match mail {
                        Mail::Requests(batch) => {
                            batch.into_iter().for_each(|request| rt.handle(request))
                        }
                        Mail::Replies(batch) => {
                            batch.into_iter().for_each(|reply| rt.deliver_remote(reply))
                        }
                    }
                }
            }
        }
    })
    .detach();
    glommio::spawn_local(pubsub::notification_loop(rt.clone())).detach();
    // Flushers: one per destination and direction, each posting what a loop turn queued.
    for peer in (0..rt.nshards).filter(|&p| p != rt.id) {
        let (outbox, address) = (rt.requests_out[peer].clone(), addresses[peer].clone());
        glommio::spawn_local(async move {
            loop {
                let batch = outbox.next_batch().await;
                address.post(Mail::Requests(batch));
            }
        })
        .detach();
        let (outbox, address) = (rt.replies_out[peer].clone(), addresses[peer].clone());
        // Replies to writes reach this outbox only once the binlog acknowledged them (runtime).
        glommio::spawn_local(async move {
            loop {
                let batch = outbox.next_batch().await;
                address.post(Mail::Replies(batch));
            }
        })
        .detach();
    }

    let mut listeners: Vec<(RawFd, Rc<net::Listener>)> = Vec::new();
    let mut protocols = Vec::new();
    for (fd, protocol) in fds {
        protocols.push(protocol);
        // SAFETY: `fd` is a listening socket bound in `bind_listeners`, handed to this shard only.
        let std_listener = unsafe { std::net::TcpListener::from_raw_fd(fd) };
        match net::Listener::new(&poller, std_listener) {
            Ok(listener) => listeners.push((fd, Rc::new(listener))),
            Err(error) => {
                let _ = ready.send(Err(format!("listener: {}", error)));
                return;
            }
        }
    }
    for ((_, listener), protocol) in listeners.iter().zip(protocols) {
        let accept = accept_loop(rt.clone(), poller.clone(), listener.clone(), protocol);
        glommio::spawn_local(accept).detach();
    }
    let _ = ready.send(Ok(()));

    tick_loop(&rt, &control, &listeners, &ticker).await;
}

/// Connections a listener accepts before yielding to the shard's other tasks.
const ACCEPTS_PER_TURN: usize = 64;

async fn accept_loop(
    rt: Rc<Runtime>,
    poller: Rc<net::Poller>,
    listener: Rc<net::Listener>,
    protocol: Speaks,
) {
    let mut accepted_this_turn = 0;
    loop {
        // A storm of new connections must not starve the established ones: after a bounded
        // number of accepts, let every other ready task run before accepting more (Redis bounds
        // accepts per event the same way, MAX_ACCEPTS_PER_CALL).
        accepted_this_turn += 1;
        if accepted_this_turn > ACCEPTS_PER_TURN {
            accepted_this_turn = 0;
            futures_lite::future::yield_now().await;
        }
        let stream = match listener.accept().await {
            Ok(stream) => stream,
            Err(error) => {
                if rt.shutting_down.get() {
                    return;
                }
                debug!(%error, "accept failed");
                glommio::timer::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        if rt.shutting_down.get() {
            return;
        }
        // TCP_NODELAY and the keepalive settings come from the listening socket: Linux copies
        // them into every connection it accepts, which saves four setsockopt calls per client
        // (about 8% of the server's CPU under connect-per-request load, perf profile).
        let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
        let socket = match net::Connection::new(&poller, stream) {
            Ok(socket) => socket,
            Err(error) => {
                debug!(%error, "could not register a new connection");
                continue;
            }
        };
        // The connection futures are 2-2.5 KB; glommio's spawn moves its future three times
        // before it lands in the task, so they go in boxed: one copy instead of four (callgrind,
        // connect-per-request: about 600 instructions per connection).
        match rt.register_client(fd) {
            Some(client) => match protocol {
                Speaks::Resp => {
                    glommio::spawn_local(Box::pin(connection::serve(rt.clone(), socket, client)))
                        .detach();
                }
                Speaks::Memcache => {
                    glommio::spawn_local(Box::pin(memcache::serve(rt.clone(), socket, client)))
                        .detach();
                }
            },
            None => {
                let refusal: &'static [u8] = match protocol {
                    Speaks::Resp => b"-ERR max number of clients reached\r\n",
                    Speaks::Memcache => b"SERVER_ERROR Too many open connections\r\n",
                };
                glommio::spawn_local(async move {
                    let _ = socket.write_all(refusal).await;
                })
                .detach();
            }
        }
    }
}

/// TCP_DEFER_ACCEPT on a listening socket: the kernel hands a connection over once its first
/// bytes have arrived (or after `seconds`).
fn set_defer_accept(fd: RawFd, seconds: u32) -> std::io::Result<()> {
    let value = seconds as libc::c_int;
    // SAFETY: setsockopt on an open socket with a pointer to an int and its size.
    let done = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if done < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Sets what accepted connections inherit from a listening socket: TCP_NODELAY, and keepalive
/// probes after `keepalive_seconds` idle (0 = off), then every third of that, as Redis does.
fn set_inherited_options(fd: RawFd, keepalive_seconds: u64) {
    // Borrow the descriptor as a socket2 socket without taking ownership of it.
    // SAFETY: `fd` is an open socket owned by the caller; ManuallyDrop never closes it.
    let socket = std::mem::ManuallyDrop::new(unsafe { Socket::from_raw_fd(fd) });
    let _ = socket.set_nodelay(true);
    if keepalive_seconds == 0 {
        let _ = socket.set_keepalive(false);
        return;
    }
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(keepalive_seconds))
        .with_interval(Duration::from_secs((keepalive_seconds / 3).max(1)));
    let _ = socket.set_tcp_keepalive(&keepalive);
}

/// How often a background snapshot takes its next step. Each step works for at most
/// `binlog::snapshot`'s step time (a quarter of a millisecond), so a snapshot uses at most about a
/// fifth of the core and a command never waits behind it for longer than one step.
const SNAPSHOT_STEP_EVERY: Duration = Duration::from_millis(1);

/// Drives the snapshot in progress one step every [`SNAPSHOT_STEP_EVERY`] until it is over
/// (started by the tick loop when it sees one; `driven` tells it one is running).
async fn snapshot_driver(rt: Rc<Runtime>, driven: Rc<Cell<bool>>) {
    loop {
        glommio::timer::sleep(SNAPSHOT_STEP_EVERY).await;
        let config = rt.config();
        if !rt.shard.borrow_mut().snapshot_step(&config) {
            break;
        }
    }
    driven.set(false);
}

/// The shard's housekeeping: control messages, active expiry, idle clients, shutdown progress.
async fn tick_loop(
    rt: &Rc<Runtime>,
    control: &Receiver<ShardControl>,
    listeners: &[(RawFd, Rc<net::Listener>)],
    ticker: &net::Ticker,
) {
    let mut last_expire = Instant::now();
    let mut keepalive = rt.config().tcp_keepalive;
    let mut ticks: u64 = 0;
    let mut stop_started: Option<Instant> = None;
    let mut drained_sent = false;
    let snapshot_driven = Rc::new(Cell::new(false));
    let mut quiet = Quiet::default();
    loop {
        ticker.tick().await;
        ticks += 1;
        observe::publish(rt, TICK, ticks.is_multiple_of(FULL_PUBLISH_EVERY));
        while let Ok(message) = control.try_recv() {
            match message {
                ShardControl::StopAccepting => {
                    rt.shutting_down.set(true);
                    stop_started = Some(Instant::now());
                    for (fd, _) in listeners {
                        unsafe {
                            libc::shutdown(*fd, libc::SHUT_RDWR);
                        }
                    }
                    let clients: Vec<_> = rt.clients.borrow().values().cloned().collect();
                    for client in clients {
                        rt.close_client(&client);
                    }
                }
                ShardControl::Exit => {
                    // Shutdown: the writer writes and syncs what it holds as it goes.
                    let mut shard = rt.shard.borrow_mut();
                    shard.binlog.take();
                    shard.keyspace.drop_cut();
                    return;
                }
            }
        }
        let config = rt.config();
        if config.tcp_keepalive != keepalive {
            // CONFIG SET tcp-keepalive: connections accepted from now on inherit it.
            keepalive = config.tcp_keepalive;
            for (fd, _) in listeners {
                set_inherited_options(*fd, keepalive);
            }
        }
        {
            let scheduled = scheduled_save_due(rt, &config);
            let mut shard = rt.shard.borrow_mut();
            if let Some(writer) = shard.binlog.as_mut() {
                writer.tick();
            }
            shard.snapshot_tick(&config, now_ms(), scheduled);
            if shard.snapshots.in_progress() && !snapshot_driven.replace(true) {
                glommio::spawn_local(snapshot_driver(rt.clone(), snapshot_driven.clone())).detach();
            }
        }
        rt.wake_binlog_waiters();
        rt.expire_blocked();
        rt.serve_blocked();
        let expire_every = Duration::from_millis(1000 / config.hz.max(1) as u64);
        if last_expire.elapsed() >= expire_every {
            last_expire = Instant::now();
            rt.shard
                .borrow_mut()
                .active_expire(now_ms(), ACTIVE_EXPIRE_BUDGET);
            if config.timeout > 0 {
                close_idle_clients(rt, Duration::from_secs(config.timeout));
            }
            release_memory_when_quiet(rt, &mut quiet);
        }
        if let Some(started) = stop_started {
            if rt.clients.borrow().is_empty() {
                if !drained_sent {
                    drained_sent = true;
                    let _ = rt.control.send(ControlEvent::Drained(rt.id));
                }
            } else if started.elapsed() > SHUTDOWN_GRACE {
                for client in rt.clients.borrow().values() {
                    unsafe {
                        libc::shutdown(client.fd, libc::SHUT_RDWR);
                    }
                }
            }
        }
    }
}

/// Activity seen by [`release_memory_when_quiet`].
#[derive(Default)]
struct Quiet {
    /// Input bytes plus keyspace changes at the last look.
    activity: u64,
    /// Whether there was activity since the last collect.
    busy: bool,
}

/// Hands freed memory back to the OS once a shard goes quiet. mimalloc purges freed pages only
/// during later allocations, so a shard that loaded data and then went idle kept the buffers and
/// outgrown tables of the load in RSS (about 2 MB: 20 bytes a key over 100k keys). Redis's
/// jemalloc has a background thread purging for the same reason. Called at `hz`; it collects
/// only on the first quiet look after activity, so a busy shard pays nothing and an idle one
/// collects once.
fn release_memory_when_quiet(rt: &Runtime, quiet: &mut Quiet) {
    let activity = rt
        .counters
        .borrow()
        .total_net_input_bytes
        .wrapping_add(rt.shard.borrow().keyspace.mutations());
    if activity != quiet.activity {
        quiet.activity = activity;
        quiet.busy = true;
    } else if quiet.busy {
        quiet.busy = false;
        // SAFETY: mi_collect only walks and purges the calling thread's heap and the arenas; it
        // is safe to call at any time (and a no-op for memory mimalloc did not allocate).
        unsafe { libmimalloc_sys::mi_collect(false) };
    }
}

fn close_idle_clients(rt: &Runtime, timeout: Duration) {
    let idle: Vec<_> = rt
        .clients
        .borrow()
        .values()
        .filter(|c| {
            // A blocked client waits for its own timeout, not the idle one (as in Redis).
            let meta = c.meta.borrow();
            meta.blocked_on.is_empty()
                && now_ms().saturating_sub(meta.last_interaction_ms) > timeout.as_millis() as u64
        })
        .cloned()
        .collect();
    for client in idle {
        rt.close_client(&client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    /// Linux copies TCP_NODELAY and the keepalive settings of a listening socket into the
    /// connections it accepts; the accept path relies on it instead of setting them per client.
    #[test]
    fn accepted_connections_inherit_nodelay_and_keepalive() {
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let listener = listen_socket(addr, 16, false).unwrap();
        set_inherited_options(listener.as_raw_fd(), 7);
        let local = listener.local_addr().unwrap().as_socket().unwrap();
        let _client = std::net::TcpStream::connect(local).unwrap();
        listener.set_nonblocking(false).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        assert!(accepted.nodelay().unwrap());
        assert!(accepted.keepalive().unwrap());
        assert_eq!(accepted.keepalive_time().unwrap(), Duration::from_secs(7));
        assert_eq!(
            accepted.keepalive_interval().unwrap(),
            Duration::from_secs(2)
        );

        set_inherited_options(listener.as_raw_fd(), 0);
        let _client = std::net::TcpStream::connect(local).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        assert!(!accepted.keepalive().unwrap());
    }
}
