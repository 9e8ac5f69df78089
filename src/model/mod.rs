//! Predictive modelling that needs no running system: the sampled fault timeline.

pub mod timeline;

pub use timeline::{Activation, Timeline, timeline};
