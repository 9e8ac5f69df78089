//! One stream toxic acting on one direction of one connection.
//!
//! Stages never sleep: each chunk of data carries the instant it is due to be written, and a
//! stage moves that instant (latency, bandwidth), splits the chunk (slicer), drops or cuts it
//! (timeout, limit_data), or schedules the end of the connection (timeout, reset_peer, down).
//! The pump writes chunks when they are due, so reading goes on while data waits: a 100 ms
//! latency delays every chunk by 100 ms without throttling the stream.

use super::stats::ToxicCounters;
use super::stream::Direction;
use bytes::Bytes;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::time::Instant;

/// Data on its way through the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub data: Bytes,
    /// When it may be written to the other side.
    pub due: Instant,
}

/// How a toxic ends a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Close both sides normally (FIN).
    Close,
    /// Reset both sides (RST, "connection reset by peer").
    Reset,
}

/// An end of the connection scheduled at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    pub at: Instant,
    pub how: Ending,
}

/// What a toxic gets when its stage is created for a connection.
#[derive(Debug)]
pub struct StageContext {
    /// When the stage starts (connection start, or when the toxic was added or changed).
    pub now: Instant,
    pub direction: Direction,
    /// The seeded stream of this toxic, connection and direction.
    pub rng: ChaCha8Rng,
    /// Bytes that already went through this toxic on this connection and direction (it
    /// carries over when the toxic is changed).
    pub bytes_through: u64,
    /// The toxic's counters, for delays it adds.
    pub counters: Arc<ToxicCounters>,
}

/// The per-connection, per-direction behaviour of a stream toxic.
pub trait Stage: Send {
    /// Takes one chunk reaching this stage and pushes what goes on into `out`, in order.
    /// Returns an end of the connection the chunk triggered, if any.
    fn chunk(&mut self, chunk: Chunk, out: &mut Vec<Chunk>) -> Option<Ended>;

    /// The end of the stream reaches this stage at `at`; returns when it goes on.
    fn end_of_stream(&mut self, at: Instant) -> Instant {
        at
    }

    /// An end of the connection this stage schedules by itself (timeout, reset_peer, down).
    fn deadline(&self) -> Option<Ended> {
        None
    }
}
