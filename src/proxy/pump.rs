//! Moves one direction of one connection from a reader to a writer through the stages of
//! the link's stream toxics, picking up toxic changes live.
//!
//! With no toxic on its direction the pump is a plain copy loop over one reused 64 KiB
//! buffer (no allocation per read). With toxics, each read becomes a `Chunk` that the stages
//! stamp with the instant it is due; chunks wait in a queue and are written when due while
//! reading goes on. Toxic changes arrive through a watch channel and take effect between two
//! reads: a connection open before a change keeps working after it.

use super::link::Link;
use super::precise_timer::Sleep;
use super::seeding;
use super::splice::{self, Endpoint, Pipe, SpliceError, Spliced};
use super::stage::{Chunk, Ended, Ending, Stage, StageContext};
use super::stats::{LinkCounters, ToxicCounters};
use super::stream::Direction;
use super::toxic_set::ToxicSet;
use crate::plan::seed::rng_for;
use bytes::Bytes;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

/// Bytes read at once.
const BUFFER: usize = 64 * 1024;

thread_local! {
    /// The read buffer of the toxic path's TCP reads, one per thread: a pump waiting for data
    /// holds no buffer, so ten thousand idle connections under a toxic do not hold 1.3 GB of
    /// 64 KiB buffers (they did: `benches/proxy_soak.rs`).
    static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; BUFFER]);
}

/// Reads what `reader` has: `None` at the end of the stream. A TCP socket is awaited until
/// readable with no buffer held, then read at once into the thread's scratch buffer and copied
/// out at its length; another reader is read into `buf` (allocated on first use, kept).
pub(crate) async fn read_some<R>(
    reader: &mut R,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<Bytes>>
where
    R: AsyncRead + Unpin + Endpoint,
{
    if let Some(tcp) = reader.tcp() {
        loop {
            tcp.readable().await?;
            let read = SCRATCH.with_borrow_mut(|scratch| {
                tcp.try_read(scratch)
                    .map(|n| (n > 0).then(|| Bytes::copy_from_slice(&scratch[..n])))
            });
            match read {
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => continue,
                read => return read,
            }
        }
    }
    buf.resize(BUFFER, 0);
    let n = reader.read(buf).await?;
    Ok((n > 0).then(|| Bytes::copy_from_slice(&buf[..n])))
}
/// Zero-copy transfers per wake-up at most.
const SPLICE_BURST: usize = 8;
/// Most data waiting in the queue before reading pauses (back-pressure).
const MAX_QUEUED_BYTES: usize = 16 * 1024 * 1024;

/// How a direction (or a whole connection) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The end of the stream was delivered to the other side.
    Finished,
    /// The connection must end now, this way.
    End(Ending),
}

enum Queued {
    Data(Chunk),
    EndOfStream(Instant),
}

impl Queued {
    fn due(&self) -> Instant {
        match self {
            Queued::Data(c) => c.due,
            Queued::EndOfStream(at) => *at,
        }
    }
}

struct Attached {
    name: String,
    revision: u64,
    stage: Box<dyn Stage>,
    counters: Arc<ToxicCounters>,
    bytes_through: u64,
}

pub(crate) struct Pump<'a, R, W> {
    link: &'a Link,
    connection: u64,
    direction: Direction,
    reader: R,
    writer: W,
    toxics: watch::Receiver<Arc<ToxicSet>>,
    stages: Vec<Attached>,
    queue: VecDeque<Queued>,
    queued_bytes: usize,
    last_due: Instant,
    /// An end a chunk triggered (limit_data), with the toxic to credit.
    triggered: Option<(Ended, Arc<ToxicCounters>)>,
    reading: bool,
    /// The read buffer, allocated on first use (zero-copy pumps never need it).
    buf: Vec<u8>,
    sleep: Sleep,
    /// Whether both ends are TCP sockets (and a pipe could be had) for zero-copy forwarding.
    zero_copy: bool,
    /// Created on first use, or handed over with bytes still in it.
    pipe: Option<Pipe>,
    /// Bytes in the handed-over pipe, written before anything else.
    in_pipe: usize,
}

impl<'a, R, W> Pump<'a, R, W>
where
    R: AsyncRead + Unpin + Endpoint,
    W: AsyncWrite + Unpin + Endpoint,
{
    pub(crate) fn new(
        link: &'a Link,
        connection: u64,
        direction: Direction,
        reader: R,
        writer: W,
    ) -> Self {
        let now = Instant::now();
        Pump {
            zero_copy: reader.tcp().is_some() && writer.tcp().is_some(),
            pipe: None,
            in_pipe: 0,
            link,
            connection,
            direction,
            reader,
            writer,
            toxics: link.subscribe(),
            stages: Vec::new(),
            queue: VecDeque::new(),
            queued_bytes: 0,
            last_due: now,
            triggered: None,
            reading: true,
            buf: Vec::new(),
            sleep: link.timer.sleep_until(now),
        }
    }

    /// Copies through user-space buffers only (sockets that were in a sockmap must be read
    /// with `read`: splice would skip what the kernel queued for them).
    pub(crate) fn without_zero_copy(mut self) -> Self {
        self.zero_copy = false;
        self
    }

    /// Goes on from a pipe that holds `in_pipe` bytes read from this direction's reader and
    /// not yet written.
    pub(crate) fn with_pipe(mut self, pipe: Pipe, in_pipe: usize) -> Self {
        self.pipe = Some(pipe);
        self.in_pipe = in_pipe;
        self
    }

    pub(crate) async fn run(mut self) -> Outcome {
        if let (Some(pipe), Some(to)) = (&self.pipe, self.writer.tcp())
            && self.in_pipe > 0
        {
            if let Err(err) = pipe.flush(to, self.in_pipe).await {
                tracing::debug!(link = %self.link.name, %err, "write failed; closing the connection");
                return Outcome::End(Ending::Close);
            }
            self.link.counters.add_bytes(self.direction, self.in_pipe);
            self.in_pipe = 0;
        }
        self.attach_stages();
        loop {
            if self.stages.is_empty() && self.queue.is_empty() && self.triggered.is_none() {
                if self.zero_copy && self.pipe.is_none() {
                    self.pipe = Pipe::new().ok();
                    self.zero_copy = self.pipe.is_some();
                }
                let step = if self.zero_copy {
                    self.splice_step().await
                } else {
                    self.copy_step().await
                };
                if let Some(outcome) = step {
                    return outcome;
                }
            } else if let Some(outcome) = self.toxic_step().await {
                return outcome;
            }
        }
    }

    /// One read and write with no toxic in the way.
    async fn copy_step(&mut self) -> Option<Outcome> {
        self.buf.resize(BUFFER, 0);
        tokio::select! {
            biased;
            changed = self.toxics.changed() => {
                if changed.is_err() {
                    return Some(Outcome::End(Ending::Close));
                }
                self.attach_stages();
                None
            }
            read = self.reader.read(&mut self.buf) => match read {
                Ok(0) => {
                    let _ = self.writer.shutdown().await;
                    Some(Outcome::Finished)
                }
                Ok(n) => {
                    if self.writer.write_all(&self.buf[..n]).await.is_err() {
                        return Some(Outcome::End(Ending::Close));
                    }
                    self.link.counters.add_bytes(self.direction, n);
                    None
                }
                Err(_) => Some(Outcome::End(Ending::Reset)),
            },
        }
    }

    /// One zero-copy transfer with no toxic in the way (both ends are TCP sockets).
    async fn splice_step(&mut self) -> Option<Outcome> {
        let (Some(pipe), Some(from), Some(to)) = (&self.pipe, self.reader.tcp(), self.writer.tcp())
        else {
            return self.copy_step().await;
        };
        tokio::select! {
            biased;
            changed = self.toxics.changed() => {
                if changed.is_err() {
                    return Some(Outcome::End(Ending::Close));
                }
                self.attach_stages();
                None
            }
            ready = from.readable() => {
                if ready.is_err() {
                    return Some(Outcome::End(Ending::Reset));
                }
                // Several transfers per wake-up while data keeps coming; toxic changes are
                // looked at between bursts.
                for _ in 0..SPLICE_BURST {
                    match splice::forward(pipe, from, to).await {
                        Ok(Spliced::Moved(n)) => self.link.counters.add_bytes(self.direction, n),
                        Ok(Spliced::NotReady) => return None,
                        Ok(Spliced::EndOfStream) => {
                            let _ = self.writer.shutdown().await;
                            return Some(Outcome::Finished);
                        }
                        Err(SpliceError::Read(err)) => {
                            tracing::debug!(link = %self.link.name, %err, "read failed; resetting the connection");
                            return Some(Outcome::End(Ending::Reset));
                        }
                        Err(SpliceError::Write(err)) => {
                            tracing::debug!(link = %self.link.name, %err, "write failed; closing the connection");
                            return Some(Outcome::End(Ending::Close));
                        }
                    }
                }
                None
            }
        }
    }

    /// Writes what is due, then waits for the next due instant, a read or a toxic change.
    /// A TCP reader is read without a buffer of the pump's own (see [`read_some`]).
    async fn toxic_step(&mut self) -> Option<Outcome> {
        if let Some(outcome) = self.flush_due().await {
            return Some(outcome);
        }
        let wake = self.next_wake();
        if let Some(at) = wake {
            self.sleep.reset(at);
        }
        let can_read = self.reading && self.queued_bytes < MAX_QUEUED_BYTES;
        tokio::select! {
            biased;
            changed = self.toxics.changed() => {
                if changed.is_err() {
                    return Some(Outcome::End(Ending::Close));
                }
                self.attach_stages();
            }
            () = &mut self.sleep, if wake.is_some() => {}
            read = read_some(&mut self.reader, &mut self.buf), if can_read => match read {
                Ok(None) => {
                    self.reading = false;
                    self.push_end_of_stream(Instant::now());
                }
                Ok(Some(data)) => self.push_data(Chunk { data, due: Instant::now() }),
                Err(_) => return Some(Outcome::End(Ending::Reset)),
            },
        }
        None
    }

    /// The earliest end of the connection scheduled by a stage or triggered by a chunk.
    fn scheduled_end(&self) -> Option<(Ended, Arc<ToxicCounters>)> {
        let from_stages = self
            .stages
            .iter()
            .filter_map(|a| a.stage.deadline().map(|e| (e, &a.counters)));
        let triggered = self.triggered.iter().map(|(e, c)| (*e, c));
        from_stages
            .chain(triggered)
            .min_by_key(|(e, _)| e.at)
            .map(|(e, c)| (e, Arc::clone(c)))
    }

    fn next_wake(&self) -> Option<Instant> {
        let head = self.queue.front().map(Queued::due);
        let end = self.scheduled_end().map(|(e, _)| e.at);
        match (head, end) {
            (Some(h), Some(e)) => Some(h.min(e)),
            (h, e) => h.or(e),
        }
    }

    /// Writes every queued item that is due (and due no later than a scheduled end), then
    /// ends the connection if its end is due.
    async fn flush_due(&mut self) -> Option<Outcome> {
        let now = Instant::now();
        let end = self.scheduled_end();
        while let Some(front) = self.queue.front() {
            let due = front.due();
            if due > now || end.as_ref().is_some_and(|(e, _)| due > e.at) {
                break;
            }
            match self.queue.pop_front() {
                Some(Queued::Data(chunk)) => {
                    self.queued_bytes -= chunk.data.len();
                    if self.writer.write_all(&chunk.data).await.is_err() {
                        return Some(Outcome::End(Ending::Close));
                    }
                    self.link
                        .counters
                        .add_bytes(self.direction, chunk.data.len());
                }
                Some(Queued::EndOfStream(_)) => {
                    let _ = self.writer.shutdown().await;
                    return Some(Outcome::Finished);
                }
                None => break,
            }
        }
        match end {
            Some((ended, counters)) if ended.at <= now => {
                counters.injected(&self.link.counters);
                Some(Outcome::End(ended.how))
            }
            _ => None,
        }
    }

    fn push_data(&mut self, chunk: Chunk) {
        let mut batch = vec![chunk];
        let mut out = Vec::new();
        for attached in &mut self.stages {
            for chunk in batch.drain(..) {
                attached.bytes_through += chunk.data.len() as u64;
                if let Some(ended) = attached.stage.chunk(chunk, &mut out) {
                    let earlier = self.triggered.as_ref().is_none_or(|(e, _)| ended.at < e.at);
                    if earlier {
                        self.triggered = Some((ended, Arc::clone(&attached.counters)));
                    }
                }
            }
            std::mem::swap(&mut batch, &mut out);
        }
        for mut chunk in batch {
            chunk.due = chunk.due.max(self.last_due);
            self.last_due = chunk.due;
            self.queued_bytes += chunk.data.len();
            self.queue.push_back(Queued::Data(chunk));
        }
    }

    fn push_end_of_stream(&mut self, now: Instant) {
        let at = self
            .stages
            .iter_mut()
            .fold(now, |at, a| a.stage.end_of_stream(at))
            .max(self.last_due);
        self.queue.push_back(Queued::EndOfStream(at));
    }

    /// Rebuilds the stages from the current toxic set: a toxic that did not change keeps its
    /// stage (and its state); a changed one gets a new stage that inherits its byte count.
    fn attach_stages(&mut self) {
        let set = Arc::clone(&self.toxics.borrow_and_update());
        let now = Instant::now();
        let link = self.link;
        let mut previous = std::mem::take(&mut self.stages);
        for installed in set.stream_toxics(self.direction) {
            let name = &installed.config.name;
            let stream = seeding::toxicity_stream(&link.name, name, self.connection);
            if !seeding::applies(link.seed, &stream, installed.config.toxicity) {
                continue;
            }
            let old = previous
                .iter()
                .position(|a| &a.name == name)
                .map(|i| previous.swap_remove(i));
            match old {
                Some(a) if a.revision == installed.revision => self.stages.push(a),
                old => {
                    let first_time = old.is_none();
                    let bytes_through = old.map_or(0, |a| a.bytes_through);
                    let rng = rng_for(
                        link.seed,
                        &seeding::stage_stream(
                            &link.name,
                            name,
                            installed.revision,
                            self.connection,
                            self.direction,
                        ),
                    );
                    let ctx = StageContext {
                        now,
                        direction: self.direction,
                        rng,
                        bytes_through,
                        counters: Arc::clone(&installed.counters),
                    };
                    let Some(stage) = installed.config.toxic.stage(ctx) else {
                        continue;
                    };
                    let counts_here = Direction::ALL
                        .into_iter()
                        .find(|d| installed.config.stream.covers(*d))
                        == Some(self.direction);
                    if first_time && counts_here {
                        LinkCounters::bump(&installed.counters.applied);
                    }
                    self.stages.push(Attached {
                        name: name.clone(),
                        revision: installed.revision,
                        stage,
                        counters: Arc::clone(&installed.counters),
                        bytes_through,
                    });
                }
            }
        }
    }
}

/// Runs both directions of a connection until both finished, one of them ends the
/// connection, or `stop` says the link stopped.
pub(crate) async fn drive(
    upstream: impl Future<Output = Outcome>,
    downstream: impl Future<Output = Outcome>,
    mut stop: watch::Receiver<()>,
) -> Outcome {
    tokio::pin!(upstream, downstream);
    let (mut up_done, mut down_done) = (false, false);
    loop {
        let outcome = tokio::select! {
            o = &mut upstream, if !up_done => { up_done = true; o }
            o = &mut downstream, if !down_done => { down_done = true; o }
            _ = stop.changed() => return Outcome::End(Ending::Close),
        };
        if outcome != Outcome::Finished {
            return outcome;
        }
        if up_done && down_done {
            return Outcome::Finished;
        }
    }
}
