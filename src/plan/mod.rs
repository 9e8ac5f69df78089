//! The compiled, serialisable plan of a scenario. Pure data: no I/O here.

pub mod distribution;
pub mod seed;

pub use distribution::Distribution;
