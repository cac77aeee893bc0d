// Unless explicitly stated otherwise all files in this repository are licensed
// under the MIT/Apache-2.0 License, at your convenience
//
// This product includes software developed at Datadog (https://www.datadoghq.com/). Copyright 2020 Datadog, Inc.
//
//! This module provides glommio's networking support.
use crate::sys;
use nix::sys::socket::{MsgFlags, SockaddrLike};
use std::{io, os::unix::io::RawFd};

fn yolo_accept(fd: RawFd) -> Option<io::Result<RawFd>> {
    let flags =
        nix::fcntl::OFlag::from_bits(nix::fcntl::fcntl(fd, nix::fcntl::F_GETFL).unwrap()).unwrap();
    nix::fcntl::fcntl(
        fd,
        nix::fcntl::F_SETFL(flags | nix::fcntl::OFlag::O_NONBLOCK),
    )
    .unwrap();
    let r = sys::accept_syscall(fd);
    nix::fcntl::fcntl(fd, nix::fcntl::F_SETFL(flags)).unwrap();
    match r {
        Ok(x) => Some(Ok(x)),
        Err(err) => match err.kind() {
            io::ErrorKind::WouldBlock => None,
            _ => Some(Err(err)),
        },
    }
}

fn yolo_send(fd: RawFd, buf: &[u8]) -> Option<io::Result<usize>> {
    match sys::send_syscall(fd, buf.as_ptr(), buf.len(), MsgFlags::MSG_DONTWAIT.bits()) {
        Ok(x) => Some(Ok(x)),
        Err(err) => match err.kind() {
            io::ErrorKind::WouldBlock => None,
            _ => Some(Err(err)),
        },
    }
}

fn yolo_peek(fd: RawFd, buf: &mut [u8]) -> Option<io::Result<usize>> {
    match sys::recv_syscall(
        fd,
        buf.as_mut_ptr(),
        buf.len(),
        (MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_PEEK).bits(),
    ) {
        Ok(x) => Some(Ok(x)),
        Err(err) => match err.kind() {
            io::ErrorKind::WouldBlock => None,
            _ => Some(Err(err)),
        },
    }
}

fn yolo_recv(fd: RawFd, buf: &mut [u8]) -> Option<io::Result<usize>> {
    match sys::recv_syscall(
        fd,
        buf.as_mut_ptr(),
        buf.len(),
        MsgFlags::MSG_DONTWAIT.bits(),
    ) {
        Ok(x) => Some(Ok(x)),
        Err(err) => match err.kind() {
            io::ErrorKind::WouldBlock => None,
            _ => Some(Err(err)),
        },
    }
}

fn yolo_recvmsg<T: SockaddrLike>(
    fd: RawFd,
    buf: &mut [u8],
    flags: MsgFlags,
) -> Option<io::Result<(usize, T)>> {
    match sys::recvmsg_syscall(
        fd,
        buf.as_mut_ptr(),
        buf.len(),
        (flags | MsgFlags::MSG_DONTWAIT).bits(),
    ) {
        Ok(x) => Some(Ok(x)),
        Err(err) => match err.kind() {
            io::ErrorKind::WouldBlock => None,
            _ => Some(Err(err)),
        },
    }
}

fn yolo_sendmsg(
    fd: RawFd,
    buf: &[u8],
    addr: &impl nix::sys::socket::SockaddrLike,
) -> Option<io::Result<usize>> {
    match sys::sendmsg_syscall(
        fd,
        buf.as_ptr(),
        buf.len(),
        addr,
        MsgFlags::MSG_DONTWAIT.bits(),
    ) {
        Ok(x) => Some(Ok(x)),
        Err(err) => match err.kind() {
            io::ErrorKind::WouldBlock => None,
            _ => Some(Err(err)),
        },
    }
}

mod datagram;
mod stream;
mod tcp_socket;
mod udp_socket;
mod unix;
pub use self::{
    stream::{Buffered, Preallocated},
    tcp_socket::{AcceptedTcpStream, TcpListener, TcpStream},
    udp_socket::UdpSocket,
    unix::{AcceptedUnixStream, UnixDatagram, UnixListener, UnixStream},
};

/// Waits until `fd` is readable, using a one-shot io_uring poll in this executor's reactor.
///
/// Added for shardis (see vendor/glommio/SHARDIS-PATCH.md): it lets a shard wait on its own epoll
/// descriptor, so that sockets registered there once need no per-request io_uring poll.
pub async fn wait_readable(fd: std::os::unix::io::RawFd) -> io::Result<()> {
    let reactor = crate::executor().reactor();
    let source = reactor.poll_read_ready(fd);
    source.collect_rw().await.map(|_| ())
}

/// Added for shardis (see vendor/glommio/SHARDIS-PATCH.md): when this thread's executor has
/// nothing to run, it calls `hook(timeout)` instead of sleeping in `io_uring_enter`. The hook
/// must block until `timeout` (the next timer; `None` = none) has passed or `completion_eventfd`
/// (an eventfd, which glommio registers with its rings so that every completion signals it)
/// becomes readable, and may return earlier (e.g. when its own descriptors are ready). Installing
/// a hook also drops the time-based preemption timer that glommio otherwise re-arms on every
/// loop turn; the throughput-based one remains. Call it from inside the executor.
pub fn set_idle_hook(
    completion_eventfd: std::os::unix::io::RawFd,
    hook: impl FnMut(Option<std::time::Duration>) + 'static,
) -> io::Result<()> {
    crate::executor()
        .reactor()
        .sys
        .register_completion_eventfd(completion_eventfd)?;
    crate::sys::IDLE_HOOK.with(|slot| *slot.borrow_mut() = Some(Box::new(hook)));
    Ok(())
}

/// Added for shardis: whether this executor has a task other than the running one ready to run
/// (if not, it goes idle, and calls the idle hook, as soon as the running task yields).
pub fn other_tasks_ready() -> bool {
    crate::executor().has_ready_tasks()
}
