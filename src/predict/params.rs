//! `Params`: the validated parameter values of one detector, defaults filled in.

use super::param_spec::{ParamKind, ParamSpec};

/// Parameter values checked against a detector's `ParamSpec` table: every parameter of the table
/// has a value, in range. Built by `registry::resolve`.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    specs: &'static [ParamSpec],
    values: Vec<f64>,
}

impl Params {
    /// The defaults of every parameter in `specs`.
    pub fn defaults(specs: &'static [ParamSpec]) -> Params {
        Params {
            specs,
            values: specs.iter().map(|p| p.default).collect(),
        }
    }

    pub(crate) fn set(&mut self, index: usize, value: f64) {
        self.values[index] = value;
    }

    /// The value of parameter `name`, which must be in the detector's table.
    pub fn get(&self, name: &str) -> f64 {
        match self.specs.iter().position(|p| p.name == name) {
            Some(i) => self.values[i],
            None => {
                debug_assert!(false, "parameter `{name}` is not in the table");
                0.0
            }
        }
    }

    /// The value of a whole-number parameter, as a count.
    pub fn count(&self, name: &str) -> usize {
        debug_assert!(
            self.specs
                .iter()
                .any(|p| p.name == name && p.kind == ParamKind::Integer),
            "parameter `{name}` is not an integer parameter"
        );
        self.get(name).max(0.0) as usize
    }

    /// Every parameter with its value, in table order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static ParamSpec, f64)> + '_ {
        self.specs.iter().zip(self.values.iter().copied())
    }
}
