//! One connection of a TCP link: dial the upstream, pump both directions, end the way the
//! toxics or the peers say.
//!
//! While the link has no toxic, a connection starts on probation: its first transfers go
//! through splice(2) one at a time, and if they are light (a few bytes over its first 32
//! transfers, or in the 250 ms after its first one) it moves to the kernel's fast path when
//! the machine allows it (see `redirect`): the sockets forward to each other and this task
//! only waits. A connection that moves nothing waits on probation. Bulk connections stay in
//! user space, where splice moves them faster than the fast path does. A connection
//! leaves the fast path when a toxic is added, when either side has something for `read`
//! (the end of its stream, an error, data the kernel did not forward) or the link stops; it
//! then waits until what the kernel forwarded is on the peers' send queues and goes on in
//! user space.

use super::link::Link;
use super::pump::{Outcome, Pump, drive};
use super::redirect::{self, Redirected};
use super::splice::Pipe;
use super::stage::Ending;
use super::stats::{ActiveConnection, LinkCounters};
use super::stream::Direction;
use super::toxic_set::ToxicSet;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// How long to wait for the upstream to accept.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest pause between two looks at whether the kernel's forwarded bytes are out.
const DRAIN_POLL_MAX: Duration = Duration::from_millis(20);

pub(crate) async fn serve(
    link: &Link,
    client: TcpStream,
    connection: u64,
    mut stop: watch::Receiver<()>,
) {
    let _active = ActiveConnection::open(&link.counters);
    let upstream_addr = link.upstream();
    let upstream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&*upstream_addr))
        .await
    {
        Ok(Ok(stream)) => stream,
        Ok(Err(err)) => {
            LinkCounters::bump(&link.counters.upstream_errors);
            tracing::warn!(link = %link.name, upstream = %upstream_addr, %err, "cannot connect to the upstream; closing the client connection");
            return;
        }
        Err(_) => {
            LinkCounters::bump(&link.counters.upstream_errors);
            tracing::warn!(link = %link.name, upstream = %upstream_addr, "upstream did not accept within {CONNECT_TIMEOUT:?}; closing the client connection");
            return;
        }
    };
    let _ = upstream.set_nodelay(true);
    let mut sockets = Sockets {
        client,
        upstream,
        in_sockmap: false,
        redirected: None,
    };
    let mut pipes = [None, None];
    let mut finished = [false, false];
    match probation(link, &mut sockets, &mut pipes, &mut stop).await {
        Judged::Light => {
            if in_kernel(link, &mut sockets, &mut stop).await == Some(Left::Stopped) {
                return;
            }
        }
        Judged::Heavy => {}
        Judged::Finished(direction) => finished[direction.index()] = true,
        Judged::End(how) => {
            end(&sockets, how);
            return;
        }
        Judged::Stopped => return,
    }
    let zero_copy = !sockets.in_sockmap;
    let outcome = {
        let (client_read, client_write) = sockets.client.split();
        let (upstream_read, upstream_write) = sockets.upstream.split();
        let mut up = Pump::new(
            link,
            connection,
            Direction::Upstream,
            client_read,
            upstream_write,
        );
        let mut down = Pump::new(
            link,
            connection,
            Direction::Downstream,
            upstream_read,
            client_write,
        );
        if !zero_copy {
            up = up.without_zero_copy();
            down = down.without_zero_copy();
        }
        let [up_pipe, down_pipe] = pipes;
        if let Some((pipe, in_pipe)) = up_pipe {
            up = up.with_pipe(pipe, in_pipe);
        }
        if let Some((pipe, in_pipe)) = down_pipe {
            down = down.with_pipe(pipe, in_pipe);
        }
        let [up_done, down_done] = finished;
        let up = async move {
            if up_done {
                Outcome::Finished
            } else {
                up.run().await
            }
        };
        let down = async move {
            if down_done {
                Outcome::Finished
            } else {
                down.run().await
            }
        };
        drive(up, down, stop).await
    };
    if let Outcome::End(how) = outcome {
        end(&sockets, how);
    }
}

/// Ends both sides the way a toxic or a failed peer asked (a close is what dropping them
/// does).
fn end(sockets: &Sockets, how: Ending) {
    if how == Ending::Reset {
        let _ = sockets.client.set_zero_linger();
        let _ = sockets.upstream.set_zero_linger();
    }
}

/// Transfers a connection makes in user space before it is judged, at most.
const PROBATION_TRANSFERS: u32 = 32;
/// How long after its first transfer a connection is judged, at most. A connection that
/// moves nothing is not judged: silence says nothing about what comes next (a pooled
/// connection may sit idle, then carry a bulk result).
const PROBATION_TIME: Duration = Duration::from_millis(250);
/// Connections moving less than this (bytes/s, both ways together) are light: they are
/// handed to the kernel's fast path, which forwards small messages with half the added
/// latency of user space but moves bulk data slower than splice(2).
const LIGHT_RATE: f64 = 32e6;

/// What the first moments of a connection showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Judged {
    /// Few bytes: the kernel's fast path suits it.
    Light,
    /// Bulk data, a toxic, or no fast path on this machine: user space (splice) it is.
    Heavy,
    /// This direction's stream ended (and the end was passed on): the connection goes on in
    /// user space with the other one.
    Finished(Direction),
    End(Ending),
    Stopped,
}

/// Forwards the first transfers of a connection with splice(2), one at a time, and judges by
/// their rate whether it should go in the kernel's fast path. Every transfer is written in
/// full before the next is read, so nothing waits in user space when it is judged light;
/// a write that finds no room means bulk data, and its pipe (with what it still holds) goes
/// to that direction's pump.
async fn probation(
    link: &Link,
    sockets: &mut Sockets,
    pipes: &mut [Option<(Pipe, usize)>; 2],
    stop: &mut watch::Receiver<()>,
) -> Judged {
    let mut toxics = link.subscribe();
    if !toxics.borrow_and_update().toxics.is_empty() || link.kernel.get().is_none() {
        return Judged::Heavy;
    }
    // Set by the first transfer: rates are measured from it.
    let mut first: Option<Instant> = None;
    let deadline = tokio::time::sleep(PROBATION_TIME);
    tokio::pin!(deadline);
    let (mut bytes, mut transfers) = (0usize, 0u32);
    loop {
        let direction = tokio::select! {
            biased;
            _ = stop.changed() => return Judged::Stopped,
            changed = toxics.changed() => {
                if changed.is_err() {
                    return Judged::Stopped;
                }
                if toxics.borrow_and_update().toxics.is_empty() {
                    continue;
                }
                return Judged::Heavy;
            }
            () = &mut deadline, if first.is_some() => break,
            ready = sockets.client.readable() => match ready {
                Ok(()) => Direction::Upstream,
                Err(_) => return Judged::End(Ending::Reset),
            },
            ready = sockets.upstream.readable() => match ready {
                Ok(()) => Direction::Downstream,
                Err(_) => return Judged::End(Ending::Reset),
            },
        };
        let slot = &mut pipes[direction.index()];
        if slot.is_none() {
            match Pipe::new() {
                Ok(pipe) => *slot = Some((pipe, 0)),
                Err(_) => return Judged::Heavy,
            }
        }
        let Some((pipe, in_pipe)) = slot.as_mut() else {
            return Judged::Heavy;
        };
        let (from, to) = match direction {
            Direction::Upstream => (&sockets.client, &sockets.upstream),
            Direction::Downstream => (&sockets.upstream, &sockets.client),
        };
        let n = match pipe.fill(from) {
            Ok(0) => {
                // SAFETY: shutdown only half-closes the socket, which stays open and owned.
                unsafe { libc::shutdown(to.as_raw_fd(), libc::SHUT_WR) };
                return Judged::Finished(direction);
            }
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
            Err(err) => {
                tracing::debug!(link = %link.name, %err, "read failed; resetting the connection");
                return Judged::End(Ending::Reset);
            }
        };
        match pipe.empty_into(to, n) {
            Ok(0) => {}
            Ok(left) => {
                link.counters.add_bytes(direction, n - left);
                *in_pipe = left;
                return Judged::Heavy;
            }
            Err(err) => {
                tracing::debug!(link = %link.name, %err, "write failed; closing the connection");
                return Judged::End(Ending::Close);
            }
        }
        link.counters.add_bytes(direction, n);
        if first.is_none() {
            let now = Instant::now();
            first = Some(now);
            deadline
                .as_mut()
                .reset(tokio::time::Instant::from_std(now + PROBATION_TIME));
        }
        bytes += n;
        transfers += 1;
        if transfers == PROBATION_TRANSFERS {
            break;
        }
    }
    let since = first.map_or(Duration::ZERO, |at| at.elapsed());
    let rate = bytes as f64 / since.as_secs_f64().max(1e-6);
    if rate < LIGHT_RATE {
        Judged::Light
    } else {
        Judged::Heavy
    }
}

/// A connection's two sockets, and its fast-path entry if it had one.
struct Sockets {
    client: TcpStream,
    upstream: TcpStream,
    /// Whether the sockets were put in the sockmap: then they must be read with `read`
    /// (splice would skip what the kernel queued on them).
    in_sockmap: bool,
    /// Declared last: dropped after both sockets are closed, so the kernel has unlinked them
    /// from the sockmap before their counters are reused.
    redirected: Option<Arc<Redirected>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Left {
    /// Go on in user space.
    Resume,
    /// The link stopped: close the connection.
    Stopped,
}

/// Why a connection left the fast path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    Stopped,
    Toxic,
    /// A socket has something for `read`: data that came while forwarding was off, the end
    /// of its stream, an error.
    Readable,
}

/// How often a connection in the fast path looks for data the kernel left on a socket.
const LOOK_FOR_STRANDED_DATA: Duration = Duration::from_millis(500);
/// Times a connection tries to switch forwarding on while data keeps arriving.
const SWITCH_ON_TRIES: u32 = 32;

/// Forwards in the kernel while the link has no toxic; `None` when the connection never
/// tried the fast path. A connection leaves it once and for all: going back in while data
/// flows could put later bytes, forwarded by the kernel, ahead of earlier ones that user
/// space still holds.
async fn in_kernel(
    link: &Link,
    sockets: &mut Sockets,
    stop: &mut watch::Receiver<()>,
) -> Option<Left> {
    let mut toxics = link.subscribe();
    if !toxics.borrow_and_update().toxics.is_empty() {
        return None;
    }
    let redirector = link.kernel.get()?;
    let (client, upstream) = (sockets.client.as_raw_fd(), sockets.upstream.as_raw_fd());
    let watched = redirect::watch(client, upstream).and_then(|epoll| {
        // SAFETY: an OwnedFd keeps its descriptor open, and the same, until it is dropped.
        unsafe { AsyncFd::register_with_interest(epoll, Interest::READABLE) }
            .map_err(io::Error::from)
    });
    let watcher = match watched {
        Ok(watcher) => watcher,
        Err(err) => {
            tracing::debug!(link = %link.name, %err, "cannot watch the sockets; forwarding in user space");
            return None;
        }
    };
    // What came before the sockets are in the sockmap is forwarded here, first. What comes
    // after that and before the redirect is on stays queued on the socket, in order: it is
    // forwarded here too before `switch_on` succeeds.
    if !catch_up(link, sockets).await {
        return None;
    }
    sockets.in_sockmap = true;
    let has_toxics = || !link.toxic_set().toxics.is_empty();
    let attach = || redirector.attach(client, upstream).map(Arc::new);
    let redirected = link.counters.enter_kernel(has_toxics, attach)?;
    sockets.redirected = Some(Arc::clone(&redirected));
    let mut tries = 1;
    let why = loop {
        if redirected.switch_on(client, upstream) {
            break wait(&watcher, [client, upstream], &mut toxics, stop).await;
        }
        if redirected.stopped() {
            break Why::Toxic;
        }
        // Data keeps coming: forward what is there and try again.
        if tries == SWITCH_ON_TRIES || !catch_up(link, sockets).await {
            break Why::Readable;
        }
        tries += 1;
    };
    redirected.stop();
    let left = match why {
        Why::Stopped => Left::Stopped,
        Why::Toxic | Why::Readable => drain(&redirected, client, upstream, stop).await,
    };
    link.counters.leave_kernel(&redirected);
    Some(left)
}

/// Waits for a reason to leave the fast path.
async fn wait(
    watcher: &AsyncFd<OwnedFd>,
    sockets: [i32; 2],
    toxics: &mut watch::Receiver<Arc<ToxicSet>>,
    stop: &mut watch::Receiver<()>,
) -> Why {
    let mut look = tokio::time::interval(LOOK_FOR_STRANDED_DATA);
    look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    look.reset();
    loop {
        tokio::select! {
            _ = look.tick() => {
                // Data the kernel did not forward (it should not happen: a peer that went away
                // shows as a hang-up first) would wait here for ever; a segment on its way
                // through the verdict is gone a moment later.
                if stranded(sockets).await {
                    return Why::Readable;
                }
            }
            _ = stop.changed() => return Why::Stopped,
            changed = toxics.changed() => {
                if changed.is_err() {
                    return Why::Stopped;
                }
                if !toxics.borrow_and_update().toxics.is_empty() {
                    return Why::Toxic;
                }
            }
            ready = watcher.readable() => {
                let Ok(mut guard) = ready else {
                    return Why::Readable;
                };
                if redirect::pending(watcher.as_raw_fd()) {
                    return Why::Readable;
                }
                guard.clear_ready();
            }
        }
    }
}

/// Whether a socket in the fast path holds data for `read`, twice, a few ms apart.
async fn stranded(sockets: [i32; 2]) -> bool {
    let holding = || sockets.into_iter().any(redirect::has_something_to_read);
    if !holding() {
        return false;
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    holding()
}

/// Waits until the peers have queued what the kernel forwarded, so that user space writes
/// behind it.
async fn drain(
    redirected: &Redirected,
    client: i32,
    upstream: i32,
    stop: &mut watch::Receiver<()>,
) -> Left {
    let mut pause = Duration::from_micros(100);
    loop {
        match redirected.delivered(client, upstream) {
            Ok([true, true]) => return Left::Resume,
            Ok(_) => {}
            Err(err) => {
                tracing::debug!(%err, "cannot read a socket's send queue; closing the connection");
                return Left::Stopped;
            }
        }
        tokio::select! {
            _ = stop.changed() => return Left::Stopped,
            () = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(DRAIN_POLL_MAX);
    }
}

/// Forwards what the sockets hold for `read` until neither has more; `false` when a stream
/// ended or failed (the pumps take over and see the same end).
async fn catch_up(link: &Link, sockets: &mut Sockets) -> bool {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let mut moved = false;
        for direction in Direction::ALL {
            let (from, to) = match direction {
                Direction::Upstream => (&sockets.client, &mut sockets.upstream),
                Direction::Downstream => (&sockets.upstream, &mut sockets.client),
            };
            match receive(from.as_raw_fd(), &mut buf) {
                Ok(0) => return false,
                Ok(n) => {
                    if to.write_all(&buf[..n]).await.is_err() {
                        return false;
                    }
                    link.counters.add_bytes(direction, n);
                    moved = true;
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return false,
            }
        }
        if !moved {
            return true;
        }
    }
}

/// One `recv` that never waits (tokio's readiness is not consulted: the kernel, not an
/// event, says whether there is data).
fn receive(fd: i32, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is writable for its length.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}
