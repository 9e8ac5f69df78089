//! Predictive modelling that needs no running system: the sampled fault timeline, the
//! history of incidents, fault rates, propagation over the dependency map, the fault
//! injection profile, dynamic thresholds and the risk score. Pure: loaders take text.

pub mod cell_prior;
pub mod degradation;
pub mod history;
pub mod prior;
pub mod profile;
pub mod propagation;
pub mod rates;
pub mod risk;
pub mod risk_prior;
pub mod thresholds;
pub mod timeline;

pub use profile::{Profile, Scenario, profile};
pub use rates::RateTable;
pub use timeline::{Activation, Timeline, timeline};
