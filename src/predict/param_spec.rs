//! `ParamSpec`: one named, bounded detector parameter.

/// Whether a parameter takes any real value in its range or only whole numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    Real,
    Integer,
}

/// A named detector parameter with its default and its inclusive valid range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamKind,
    pub default: f64,
    pub min: f64,
    pub max: f64,
    pub doc: &'static str,
}

impl ParamSpec {
    /// A real-valued parameter.
    pub const fn real(
        name: &'static str,
        default: f64,
        min: f64,
        max: f64,
        doc: &'static str,
    ) -> ParamSpec {
        ParamSpec {
            name,
            kind: ParamKind::Real,
            default,
            min,
            max,
            doc,
        }
    }

    /// A whole-number parameter (a window length, a count).
    pub const fn integer(
        name: &'static str,
        default: f64,
        min: f64,
        max: f64,
        doc: &'static str,
    ) -> ParamSpec {
        ParamSpec {
            name,
            kind: ParamKind::Integer,
            default,
            min,
            max,
            doc,
        }
    }

    /// Whether `value` is acceptable for this parameter.
    pub fn accepts(&self, value: f64) -> bool {
        value.is_finite()
            && value >= self.min
            && value <= self.max
            && (self.kind == ParamKind::Real || value.fract() == 0.0)
    }
}

/// The warm-up parameter every detector has: samples to learn from before scoring.
///
/// NAB gives each detector a probationary period (the first 15% of a file's rows, at most 750)
/// to learn in; `pfi detect` sets `warmup` to that length unless told otherwise. It is the only
/// use the detectors make of the length of a file.
pub const WARMUP: ParamSpec = ParamSpec::integer(
    "warmup",
    30.0,
    0.0,
    1.0e9,
    "samples to learn from before scoring (they score 0)",
);

/// The scale floor of the z-score detectors, as a fraction of the range of values seen so far.
///
/// A z-score is a deviation over a scale; on a metric that sat on a plateau the scale is about
/// zero and any change is "infinitely" surprising. Flooring the scale at a fraction of the range
/// seen so far keeps the scores of such changes finite and ordered by size.
pub const RANGE_FLOOR: ParamSpec = ParamSpec::real(
    "range_floor",
    0.1,
    0.0,
    10.0,
    "the scale never counts as less than this fraction of the range seen so far (0 = off): \
     a wobble on a metric that was flat until now is not a catastrophe",
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_checks_range_kind_and_finiteness() {
        let window = ParamSpec::integer("window", 10.0, 2.0, 100.0, "");
        assert!(window.accepts(2.0) && window.accepts(100.0));
        assert!(!window.accepts(1.0) && !window.accepts(101.0) && !window.accepts(10.5));
        let alpha = ParamSpec::real("alpha", 0.1, 0.0, 1.0, "");
        assert!(alpha.accepts(0.25));
        assert!(!alpha.accepts(f64::NAN) && !alpha.accepts(f64::INFINITY));
    }
}
