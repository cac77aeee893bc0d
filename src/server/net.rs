//! Sockets of one shard, driven by the shard's own edge-triggered epoll set.
//!
//! Each socket is registered once (EPOLLIN | EPOLLOUT | EPOLLRDHUP, edge-triggered). When the
//! executor has nothing to run, it calls the [`Poller`]'s idle hook, which blocks in `epoll_wait`
//! (glommio's io_uring rings signal an eventfd in the same set, so glommio's own I/O and timers
//! still wake it) and wakes the tasks whose sockets are ready. While the shard stays busy, the
//! poller task harvests events with a non-blocking `epoll_wait` between turns. A shard thus pays
//! one `recv` and one `send` per request and at most one `epoll_wait` per loop turn, as
//! redis-server does, and no io_uring system call at all on this path (see
//! vendor/glommio/SHARDIS-PATCH.md for the measurements).
//!
//! Edge-triggered rule: a socket's `readable` flag is cleared before each `recv`; a read that fills
//! less than the buffer, or fails with EAGAIN, leaves it cleared, and any data arriving afterwards
//! raises a new edge that sets it again. The exception is a hang-up: the peer's FIN (or a reset)
//! can come in the same edge as the last data, so once one was seen the socket stays readable
//! until a `recv` reports the end. Only the owning shard's thread touches any of this.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

use ahash::AHashMap;
use tracing::warn;

/// Events harvested per `epoll_wait`.
const EVENTS_PER_WAIT: usize = 256;

#[derive(Default)]
struct Readiness {
    readable: Cell<bool>,
    /// The peer closed or the socket failed (EPOLLRDHUP/HUP/ERR). The edge that says so may
    /// arrive together with the last data, so after it a short read no longer means "drained":
    /// one more `recv` is needed to see the end of file or the error.
    hung_up: Cell<bool>,
    writable: Cell<bool>,
    reader: Cell<Option<Waker>>,
    writer: Cell<Option<Waker>>,
}

impl Readiness {
    fn fresh() -> Rc<Readiness> {
        let readiness = Readiness::default();
        readiness.readable.set(true);
        readiness.writable.set(true);
        Rc::new(readiness)
    }

    async fn wait(flag: &Cell<bool>, waker: &Cell<Option<Waker>>) {
        poll_fn(|cx| {
            if flag.get() {
                Poll::Ready(())
            } else {
                waker.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        })
        .await
    }
}

/// The epoll set of one shard and the readiness of every socket in it.
pub struct Poller {
    epoll: OwnedFd,
    next_token: Cell<u64>,
    sockets: RefCell<AHashMap<u64, Rc<Readiness>>>,
    /// Signalled by glommio for every io_uring completion while the idle hook waits (token 0).
    completions: OwnedFd,
    events: RefCell<Vec<libc::epoll_event>>,
    /// The poller task, parked until the idle hook finds events.
    task: Cell<Option<Waker>>,
    kicked: Cell<bool>,
}

/// The epoll token of the completions eventfd (sockets count from 1).
const COMPLETIONS_TOKEN: u64 = 0;

impl Poller {
    pub fn new() -> io::Result<Rc<Poller>> {
        // SAFETY: epoll_create1 returns a new descriptor that we own, or -1.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a freshly created descriptor owned by nobody else.
        let epoll = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: eventfd returns a new descriptor that we own, or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: as above.
        let completions = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut event = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLET) as u32,
            u64: COMPLETIONS_TOKEN,
        };
        // SAFETY: both descriptors are open; `event` is a valid epoll_event.
        if unsafe {
            libc::epoll_ctl(
                epoll.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                completions.as_raw_fd(),
                &mut event,
            )
        } < 0
        {
            return Err(io::Error::last_os_error());
        }
        Ok(Rc::new(Poller {
            epoll,
            next_token: Cell::new(1),
            sockets: RefCell::new(AHashMap::new()),
            completions,
            events: RefCell::new(vec![
                libc::epoll_event { events: 0, u64: 0 };
                EVENTS_PER_WAIT
            ]),
            task: Cell::new(None),
            kicked: Cell::new(false),
        }))
    }

    fn register(self: &Rc<Self>, fd: RawFd) -> io::Result<Registration> {
        let token = self.next_token.get();
        self.next_token.set(token + 1);
        let mut event = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
            u64: token,
        };
        // SAFETY: both descriptors are open; `event` is a valid epoll_event.
        if unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event) }
            < 0
        {
            return Err(io::Error::last_os_error());
        }
        let readiness = Readiness::fresh();
        self.sockets.borrow_mut().insert(token, readiness.clone());
        Ok(Registration {
            poller: self.clone(),
            token,
            readiness,
        })
    }

    fn dispatch(&self, token: u64, events: u32) {
        let sockets = self.sockets.borrow();
        let Some(readiness) = sockets.get(&token) else {
            return;
        };
        let failed = events & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0;
        if failed || events & libc::EPOLLRDHUP as u32 != 0 {
            readiness.hung_up.set(true);
        }
        if failed || events & (libc::EPOLLIN | libc::EPOLLRDHUP) as u32 != 0 {
            readiness.readable.set(true);
            if let Some(waker) = readiness.reader.take() {
                waker.wake();
            }
        }
        if failed || events & libc::EPOLLOUT as u32 != 0 {
            readiness.writable.set(true);
            if let Some(waker) = readiness.writer.take() {
                waker.wake();
            }
        }
    }

    /// Waits up to `timeout_ms` (-1 = no limit, 0 = just look) for events and wakes the sockets'
    /// tasks. Returns the number of events.
    fn harvest(&self, timeout_ms: i32) -> usize {
        let mut events = self.events.borrow_mut();
        // SAFETY: `events` has room for EVENTS_PER_WAIT entries.
        let ready = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                events.as_mut_ptr(),
                EVENTS_PER_WAIT as i32,
                timeout_ms,
            )
        };
        if ready < 0 {
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                warn!(%error, "epoll_wait failed");
            }
            return 0;
        }
        for event in &events[..ready as usize] {
            let (token, flags) = (event.u64, event.events);
            if token == COMPLETIONS_TOKEN {
                let mut count = [0u8; 8];
                // SAFETY: reading 8 bytes into an 8-byte buffer from our own eventfd.
                unsafe {
                    libc::read(self.completions.as_raw_fd(), count.as_mut_ptr().cast(), 8);
                }
            } else {
                self.dispatch(token, flags);
            }
        }
        ready as usize
    }

    /// What the executor does when it has nothing to run (see `glommio::net::set_idle_hook`):
    /// block in `epoll_wait` until a socket, a doorbell, the tick, an io_uring completion or
    /// glommio's next timer, then wake whoever is ready, including the poller task.
    fn idle(&self, timeout: Option<Duration>) {
        let timeout_ms = match timeout {
            None => -1,
            Some(t) if t.is_zero() => 0,
            Some(t) => t.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32,
        };
        if self.harvest(timeout_ms) > 0 {
            self.kicked.set(true);
            if let Some(task) = self.task.take() {
                task.wake();
            }
        }
    }

    /// The shard's event loop for sockets; runs as long as the executor.
    ///
    /// It installs [`Poller::idle`] as the executor's idle hook, so an idle shard sleeps in
    /// `epoll_wait` rather than in io_uring (no io_uring submissions per loop turn). While the
    /// shard is busy (other tasks still ready), this task harvests events without blocking after
    /// every turn that had some, so sockets are never starved by a long burst of work.
    pub async fn run(self: Rc<Self>) {
        let hooked = {
            let poller = self.clone();
            glommio::net::set_idle_hook(self.completions.as_raw_fd(), move |timeout| {
                poller.idle(timeout)
            })
        };
        if let Err(error) = &hooked {
            warn!(%error, "idle hook unavailable; parking through io_uring");
        }
        loop {
            // When nothing else is ready the executor idles as soon as this task waits, and the
            // idle hook looks for events then: looking now as well would cost a second
            // `epoll_wait` per loop turn.
            let busy = hooked.is_err() || glommio::net::other_tasks_ready();
            if busy && self.harvest(0) > 0 {
                // Let the woken connections run before looking for more events.
                futures_lite::future::yield_now().await;
                continue;
            }
            if hooked.is_ok() {
                self.kicked.set(false);
                poll_fn(|cx| {
                    if self.kicked.replace(false) {
                        Poll::Ready(())
                    } else {
                        self.task.set(Some(cx.waker().clone()));
                        Poll::Pending
                    }
                })
                .await;
            } else if let Err(error) = glommio::net::wait_readable(self.epoll.as_raw_fd()).await {
                warn!(%error, "waiting on the epoll descriptor failed");
                glommio::timer::sleep(Duration::from_millis(1)).await;
            }
        }
    }
}

/// A socket's place in the epoll set; leaving it deregisters the socket.
struct Registration {
    poller: Rc<Poller>,
    token: u64,
    readiness: Rc<Readiness>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        // The descriptor leaves the epoll set by itself when it is closed.
        self.poller.sockets.borrow_mut().remove(&self.token);
    }
}

/// A connected, non-blocking TCP socket owned by one shard.
pub struct Connection {
    // Field order: deregister before the descriptor closes.
    registration: Registration,
    stream: TcpStream,
}

impl Connection {
    /// Registers a connected socket, which must already be non-blocking.
    pub fn new(poller: &Rc<Poller>, stream: TcpStream) -> io::Result<Connection> {
        let registration = poller.register(stream.as_raw_fd())?;
        Ok(Connection {
            registration,
            stream,
        })
    }

    /// Whether a read may find data without waiting (readiness not yet consumed).
    pub fn is_readable(&self) -> bool {
        self.registration.readiness.readable.get()
    }

    /// Waits until the socket is readable, without reading.
    pub async fn readable(&self) {
        let readiness = &self.registration.readiness;
        Readiness::wait(&readiness.readable, &readiness.reader).await;
    }

    /// Reads what the socket has (at most `buf.len()` bytes); 0 means the peer closed.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let readiness = &self.registration.readiness;
        loop {
            Readiness::wait(&readiness.readable, &readiness.reader).await;
            readiness.readable.set(false);
            match (&self.stream).read(buf) {
                Ok(read) => {
                    if read == buf.len() || readiness.hung_up.get() {
                        readiness.readable.set(true);
                    }
                    return Ok(read);
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {
                    readiness.readable.set(true)
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Returns once the peer has closed the connection (or it failed), consuming no input: a
    /// blocked client's connection waits on this beside its reply. Input queued meanwhile (a
    /// pipeline behind the blocking command) stays for the next `read`; after it only a hang-up
    /// edge (the peer's FIN or a reset, or our own shutdown) ends the wait.
    pub async fn closed(&self) {
        let readiness = &self.registration.readiness;
        let mut byte = [0u8; 1];
        loop {
            Readiness::wait(&readiness.readable, &readiness.reader).await;
            // SAFETY: recv(2) into a valid one-byte buffer on the socket this value owns.
            let peeked = unsafe {
                libc::recv(
                    self.stream.as_raw_fd(),
                    byte.as_mut_ptr().cast(),
                    1,
                    libc::MSG_PEEK,
                )
            };
            if peeked == 0 {
                return;
            }
            if peeked > 0 {
                if readiness.hung_up.get() {
                    return;
                }
                // Data is waiting; wake again only on a hang-up edge.
                poll_fn(|cx| {
                    if readiness.hung_up.get() {
                        Poll::Ready(())
                    } else {
                        readiness.reader.set(Some(cx.waker().clone()));
                        Poll::Pending
                    }
                })
                .await;
                return;
            }
            let error = io::Error::last_os_error();
            match error.kind() {
                io::ErrorKind::WouldBlock => readiness.readable.set(false),
                io::ErrorKind::Interrupted => {}
                _ => return,
            }
        }
    }

    /// Writes all of `data`, waiting for room in the socket buffer as needed.
    pub async fn write_all(&self, mut data: &[u8]) -> io::Result<()> {
        let readiness = &self.registration.readiness;
        while !data.is_empty() {
            Readiness::wait(&readiness.writable, &readiness.writer).await;
            match (&self.stream).write(data) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(written) => data = &data[written..],
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    readiness.writable.set(false)
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }
}

/// A listening socket owned by one shard.
pub struct Listener {
    registration: Registration,
    listener: TcpListener,
}

impl Listener {
    pub fn new(poller: &Rc<Poller>, listener: TcpListener) -> io::Result<Listener> {
        listener.set_nonblocking(true)?;
        let registration = poller.register(listener.as_raw_fd())?;
        Ok(Listener {
            registration,
            listener,
        })
    }

    /// Accepts one connection, waiting for one if none is pending. The socket comes back already
    /// non-blocking (accept4 with SOCK_NONBLOCK: one syscall fewer per connection).
    pub async fn accept(&self) -> io::Result<TcpStream> {
        let readiness = &self.registration.readiness;
        loop {
            Readiness::wait(&readiness.readable, &readiness.reader).await;
            let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
            // SAFETY: accept4 on our listening descriptor; null address pointers are allowed.
            let fd = unsafe {
                libc::accept4(
                    self.listener.as_raw_fd(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    flags,
                )
            };
            if fd >= 0 {
                // SAFETY: accept4 returned a new connected socket that nothing else owns.
                return Ok(unsafe { TcpStream::from_raw_fd(fd) });
            }
            let error = io::Error::last_os_error();
            match error.kind() {
                io::ErrorKind::WouldBlock => readiness.readable.set(false),
                io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted => {}
                _ => return Err(error),
            }
        }
    }
}

/// An eventfd in the shard's epoll set: how other cores wake this one when they leave it mail.
pub struct Doorbell {
    registration: Registration,
    fd: OwnedFd,
}

/// A new non-blocking eventfd for a [`Doorbell`] and its [`Ringer`]s, made before the executors
/// start so that every core can be handed the ringers of every other.
pub fn doorbell_pair() -> io::Result<(OwnedFd, Ringer)> {
    // SAFETY: eventfd returns a new descriptor that we own, or -1.
    let raw = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let ringer = Ringer {
        fd: Arc::new(fd.try_clone()?),
    };
    Ok((fd, ringer))
}

impl Doorbell {
    pub fn new(poller: &Rc<Poller>, fd: OwnedFd) -> io::Result<Doorbell> {
        let registration = poller.register(fd.as_raw_fd())?;
        Ok(Doorbell { registration, fd })
    }

    /// Waits until the doorbell rang since the last wait, and resets it.
    pub async fn wait(&self) {
        let readiness = &self.registration.readiness;
        Readiness::wait(&readiness.readable, &readiness.reader).await;
        readiness.readable.set(false);
        let mut counter = [0u8; 8];
        // SAFETY: reading 8 bytes into an 8-byte buffer from our own eventfd; EAGAIN is fine
        // (another edge may have been consumed already).
        unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                counter.as_mut_ptr().cast(),
                counter.len(),
            );
        }
    }
}

/// Rings another core's [`Doorbell`]; cheap to clone and safe to use from any thread.
#[derive(Clone)]
pub struct Ringer {
    fd: Arc<OwnedFd>,
}

impl Ringer {
    pub fn ring(&self) {
        let one = 1u64.to_ne_bytes();
        // SAFETY: writing 8 bytes to an eventfd we hold open; a full counter (EAGAIN) still
        // leaves the doorbell readable, which is all that matters.
        unsafe {
            libc::write(self.fd.as_raw_fd(), one.as_ptr().cast(), one.len());
        }
    }
}

/// A periodic timerfd in the shard's epoll set. The shard's housekeeping tick uses it instead of a
/// glommio timer: a pending glommio timer makes every park of the executor arm (and the next wake
/// cancel) an io_uring timeout, which costs CPU on every idle moment of a busy shard.
pub struct Ticker {
    registration: Registration,
    fd: OwnedFd,
}

impl Ticker {
    pub fn new(poller: &Rc<Poller>, period: Duration) -> io::Result<Ticker> {
        // SAFETY: timerfd_create returns a new descriptor that we own, or -1.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let interval = libc::timespec {
            tv_sec: period.as_secs() as libc::time_t,
            tv_nsec: period.subsec_nanos() as _,
        };
        let spec = libc::itimerspec {
            it_interval: interval,
            it_value: interval,
        };
        // SAFETY: valid descriptor and a valid itimerspec; the old value is not wanted.
        if unsafe { libc::timerfd_settime(fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) } < 0 {
            return Err(io::Error::last_os_error());
        }
        let registration = poller.register(fd.as_raw_fd())?;
        Ok(Ticker { registration, fd })
    }

    /// Waits for the next tick (ticks missed while busy are merged into one).
    pub async fn tick(&self) {
        let readiness = &self.registration.readiness;
        Readiness::wait(&readiness.readable, &readiness.reader).await;
        readiness.readable.set(false);
        let mut expirations = [0u8; 8];
        // SAFETY: reading 8 bytes into an 8-byte buffer from our own timerfd; EAGAIN is fine.
        unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                expirations.as_mut_ptr().cast(),
                expirations.len(),
            );
        }
    }
}
