//! Terms to typed values: units, distributions, probabilities. Every conversion reports what
//! is wrong with a diagnostic and returns `None`, so the checker can go on and report more.

use crate::diagnostic::{Code, Diagnostic, Diagnostics, Span};
use crate::plan::Distribution;
use crate::syntax::ast::{Spanned, Term};

/// The kind of quantity a setting takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// Milliseconds.
    Duration,
    /// Bytes.
    Size,
    /// Bytes per second.
    Bandwidth,
    /// A fraction in [0, 1], written `5%` or `0.05`.
    Fraction,
    /// Events per second, written `3/m`, `5/s`.
    Rate,
    /// A plain number.
    Number,
}

impl Quantity {
    fn describe(self) -> &'static str {
        match self {
            Quantity::Duration => "a duration (ms, s, m, h)",
            Quantity::Size => "a size (B, KiB, MiB, GiB, KB, MB, GB)",
            Quantity::Bandwidth => "a bandwidth (e.g. 1MiB/s, 500KB/s)",
            Quantity::Fraction => "a fraction (e.g. 5% or 0.05)",
            Quantity::Rate => "a rate (e.g. 3/m, 5/s)",
            Quantity::Number => "a number",
        }
    }

    fn example(self) -> &'static str {
        match self {
            Quantity::Duration => "120ms",
            Quantity::Size => "256MiB",
            Quantity::Bandwidth => "1MiB/s",
            Quantity::Fraction => "5%",
            Quantity::Rate => "3/m",
            Quantity::Number => "2",
        }
    }
}

const MAX_DURATION_MS: f64 = 10.0 * 365.0 * 24.0 * 3600.0 * 1000.0;

fn duration_factor(unit: &str) -> Option<f64> {
    Some(match unit {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "m" | "min" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return None,
    })
}

fn size_factor(unit: &str) -> Option<f64> {
    Some(match unit {
        "B" => 1.0,
        "KB" | "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    })
}

fn per_second_factor(unit: &str) -> Option<f64> {
    Some(match unit {
        "s" => 1.0,
        "m" | "min" => 1.0 / 60.0,
        "h" => 1.0 / 3600.0,
        _ => return None,
    })
}

/// Looks up a history column for `empirical(history.column)`: (path, span) -> values.
pub type HistoryLookup<'a> = dyn Fn(&[String], Span) -> Result<Vec<f64>, Diagnostic> + 'a;

/// Converts terms to values, collecting diagnostics.
pub struct Values<'d> {
    pub diagnostics: &'d mut Diagnostics,
}

impl Values<'_> {
    fn error(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    /// A single quantity of the given kind, in base units.
    pub fn quantity(&mut self, term: &Spanned<Term>, kind: Quantity) -> Option<f64> {
        let Term::Quantity { value, unit } = &term.node else {
            self.error(
                Diagnostic::error(
                    Code::UnitMismatch,
                    format!(
                        "expected {}, found {}",
                        kind.describe(),
                        term.node.describe()
                    ),
                )
                .at(term.span, format!("expected {}", kind.describe()))
                .help(format!("for example `{}`", kind.example())),
            );
            return None;
        };
        let value = *value;
        let unit = unit.as_deref();
        let converted = match (kind, unit) {
            (Quantity::Duration, Some(u)) => duration_factor(u).map(|f| value * f),
            (Quantity::Size, Some(u)) => size_factor(u).map(|f| value * f),
            (Quantity::Size, None) => Some(value),
            (Quantity::Bandwidth, Some(u)) => u.split_once('/').and_then(|(size, per)| {
                let s = size_factor(size)?;
                let p = per_second_factor(per)?;
                Some(value * s * p)
            }),
            (Quantity::Fraction, Some("%")) => Some(value / 100.0),
            (Quantity::Fraction, None) => Some(value),
            (Quantity::Rate, Some(u)) => u
                .strip_prefix('/')
                .and_then(per_second_factor)
                .map(|f| value * f),
            (Quantity::Number, None) => Some(value),
            _ => None,
        };
        let Some(converted) = converted else {
            let found = match unit {
                Some(u) => format!("`{value}{u}`"),
                None => format!("the bare number `{value}`"),
            };
            let known_elsewhere = unit.is_some_and(|u| {
                duration_factor(u).is_some()
                    || size_factor(u).is_some()
                    || u == "%"
                    || u.contains('/')
            });
            let label = if known_elsewhere || unit.is_none() {
                format!("expected {}", kind.describe())
            } else {
                format!("unknown unit `{}`", unit.unwrap_or_default())
            };
            self.error(
                Diagnostic::error(
                    Code::UnitMismatch,
                    format!("expected {}, found {found}", kind.describe()),
                )
                .at(term.span, label)
                .help(format!("for example `{}`", kind.example())),
            );
            return None;
        };
        if kind == Quantity::Duration && converted.abs() > MAX_DURATION_MS {
            self.error(
                Diagnostic::error(
                    Code::NumberOutOfRange,
                    "this duration is longer than 10 years",
                )
                .at(term.span, "too long")
                .help("use a duration below 10 years"),
            );
            return None;
        }
        Some(converted)
    }

    /// A non-negative quantity.
    pub fn non_negative(&mut self, term: &Spanned<Term>, kind: Quantity) -> Option<f64> {
        let v = self.quantity(term, kind)?;
        if v < 0.0 {
            self.error(
                Diagnostic::error(Code::InvalidValue, "this value cannot be negative")
                    .at(term.span, "negative")
                    .help(format!(
                        "use a value >= 0, for example `{}`",
                        kind.example()
                    )),
            );
            return None;
        }
        Some(v)
    }

    /// A probability or fraction in [0, 1].
    pub fn probability(&mut self, term: &Spanned<Term>) -> Option<f64> {
        let v = self.quantity(term, Quantity::Fraction)?;
        if !(0.0..=1.0).contains(&v) {
            self.error(
                Diagnostic::error(
                    Code::BadProbability,
                    format!(
                        "a probability must be between 0 and 1 (0% and 100%), found {}",
                        crate::plan::trim(v)
                    ),
                )
                .at(term.span, "outside [0, 1]")
                .help("write it as a fraction (0.8) or a percentage (80%)"),
            );
            return None;
        }
        Some(v)
    }

    /// A whole number in `[min, max]`.
    pub fn integer(&mut self, term: &Spanned<Term>, min: i64, max: i64) -> Option<i64> {
        let v = self.quantity(term, Quantity::Number)?;
        if v.fract() != 0.0 || v < min as f64 || v > max as f64 {
            self.error(
                Diagnostic::error(
                    Code::NumberOutOfRange,
                    format!("expected a whole number from {min} to {max}, found {v}"),
                )
                .at(term.span, "out of range")
                .help(format!("use a whole number from {min} to {max}")),
            );
            return None;
        }
        Some(v as i64)
    }

    /// A seed: any whole number that fits in 64 bits.
    pub fn seed(&mut self, term: &Spanned<Term>, source: &str) -> Option<u64> {
        let text = source.trim();
        match text.parse::<u64>() {
            Ok(v) => Some(v),
            Err(_) => {
                self.error(
                    Diagnostic::error(
                        Code::NumberOutOfRange,
                        format!("a seed must be a whole number from 0 to {}", u64::MAX),
                    )
                    .at(term.span, "not a 64-bit unsigned whole number")
                    .help("for example `seed 7`; `pfi plan --seed N` overrides it"),
                );
                None
            }
        }
    }

    pub fn string(&mut self, term: &Spanned<Term>, what: &str) -> Option<String> {
        match &term.node {
            Term::String(s) => Some(s.clone()),
            other => {
                self.error(
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!(
                            "expected {what} in double quotes, found {}",
                            other.describe()
                        ),
                    )
                    .at(term.span, "expected a string")
                    .help(format!("write {what} in double quotes")),
                );
                None
            }
        }
    }

    pub fn word(&mut self, term: &Spanned<Term>, choices: &[&str]) -> Option<String> {
        let found = match &term.node {
            Term::Ident(w) if choices.is_empty() || choices.contains(&w.as_str()) => {
                return Some(w.clone());
            }
            other => other.describe(),
        };
        self.error(
            Diagnostic::error(
                Code::InvalidValue,
                format!("expected one of {}, found {found}", choices.join(", ")),
            )
            .at(term.span, "not one of the choices")
            .help(format!("use one of: {}", choices.join(", "))),
        );
        None
    }

    /// A distribution of quantities of `kind`: a plain quantity is a fixed value.
    pub fn distribution<'t>(
        &mut self,
        term: &'t Spanned<Term>,
        kind: Quantity,
        history: &HistoryLookup<'_>,
    ) -> Option<Distribution> {
        let Term::Call { name, args } = &term.node else {
            return self
                .non_negative(term, kind)
                .map(|value| Distribution::Fixed { value });
        };
        let single =
            |args: &'t Vec<Spanned<Vec<Spanned<Term>>>>, i: usize| -> Option<&'t Spanned<Term>> {
                match args.get(i)?.node.as_slice() {
                    [one] => Some(one),
                    _ => None,
                }
            };
        // The example is only written out when the arity is wrong.
        let arity = |n: usize, this: &mut Self, example: &dyn Fn() -> String| -> bool {
            if args.len() == n && args.iter().all(|a| a.node.len() == 1) {
                return true;
            }
            // The right count, but an argument of several values: `fixed(100 ms)`.
            if args.len() == n
                && let Some((i, arg)) = args.iter().enumerate().find(|(_, a)| a.node.len() > 1)
            {
                this.error(
                    Diagnostic::error(
                        Code::BadDistribution,
                        format!(
                            "argument {} of `{}` is {} values separated by spaces, not one",
                            i + 1,
                            name.node,
                            arg.node.len()
                        ),
                    )
                    .at(arg.span, "one argument: write it without spaces")
                    .help(format!(
                        "a quantity has no space before its unit (`100ms`), and arguments are separated by commas: `{}`",
                        example()
                    )),
                );
                return false;
            }
            this.error(
                Diagnostic::error(
                    Code::BadDistribution,
                    format!(
                        "`{}` takes {n} argument{}, found {}",
                        name.node,
                        if n == 1 { "" } else { "s" },
                        args.len()
                    ),
                )
                .at(term.span, "wrong number of arguments")
                .help(format!("for example `{}`", example())),
            );
            false
        };
        let positive = |this: &mut Self, t: &Spanned<Term>, k: Quantity, what: &str| {
            let v = this.quantity(t, k)?;
            if v <= 0.0 {
                this.error(
                    Diagnostic::error(
                        Code::BadDistribution,
                        format!("the {what} must be greater than 0"),
                    )
                    .at(t.span, format!("{what} must be > 0"))
                    .help(format!("use a {what} above 0")),
                );
                return None;
            }
            Some(v)
        };
        let ex = kind.example();
        match name.node.as_str() {
            "fixed" => {
                if !arity(1, self, &|| format!("fixed({ex})")) {
                    return None;
                }
                let value = self.non_negative(single(args, 0)?, kind)?;
                Some(Distribution::Fixed { value })
            }
            "uniform" => {
                if !arity(2, self, &|| format!("uniform({ex}, 2*{ex})")) {
                    return None;
                }
                let (a, b) = (single(args, 0)?, single(args, 1)?);
                let min = self.non_negative(a, kind);
                let max = self.non_negative(b, kind);
                let (min, max) = (min?, max?);
                if min > max {
                    self.error(
                        Diagnostic::error(
                            Code::BadDistribution,
                            "uniform(min, max) needs min <= max",
                        )
                        .at(a.span, "min")
                        .with_label(b.span, "is smaller than min")
                        .help("swap the two arguments"),
                    );
                    return None;
                }
                Some(Distribution::Uniform { min, max })
            }
            "normal" => {
                if !arity(2, self, &|| format!("normal({ex}, {ex})")) {
                    return None;
                }
                let (a, b) = (single(args, 0)?, single(args, 1)?);
                let mean = self.non_negative(a, kind);
                let sd = self.quantity(b, kind);
                let (mean, sd) = (mean?, sd?);
                if sd < 0.0 {
                    self.error(
                        Diagnostic::error(
                            Code::BadDistribution,
                            "the standard deviation of normal(mean, sd) must be >= 0",
                        )
                        .at(b.span, "negative standard deviation")
                        .help("use a standard deviation >= 0"),
                    );
                    return None;
                }
                Some(Distribution::Normal { mean, sd })
            }
            "lognormal" => {
                if !arity(2, self, &|| format!("lognormal({ex}, 0.5)")) {
                    return None;
                }
                let (a, b) = (single(args, 0)?, single(args, 1)?);
                let median = positive(self, a, kind, "median");
                let sigma = self.quantity(b, Quantity::Number);
                let (median, sigma) = (median?, sigma?);
                if sigma < 0.0 {
                    self.error(
                        Diagnostic::error(
                            Code::BadDistribution,
                            "the sigma of lognormal(median, sigma) must be >= 0",
                        )
                        .at(b.span, "negative sigma")
                        .help(
                            "sigma is the spread of the log: for example `lognormal(100ms, 0.5)`",
                        ),
                    );
                    return None;
                }
                Some(Distribution::LogNormal { median, sigma })
            }
            "exponential" => {
                if !arity(1, self, &|| format!("exponential({ex})")) {
                    return None;
                }
                let mean = positive(self, single(args, 0)?, kind, "mean")?;
                Some(Distribution::Exponential { mean })
            }
            "pareto" | "weibull" => {
                let n = name.node.clone();
                if !arity(2, self, &|| format!("{n}({ex}, 1.5)")) {
                    return None;
                }
                let (a, b) = (single(args, 0)?, single(args, 1)?);
                let scale = positive(self, a, kind, "scale");
                let shape = positive(self, b, Quantity::Number, "shape");
                let (scale, shape) = (scale?, shape?);
                Some(if n == "pareto" {
                    Distribution::Pareto { scale, shape }
                } else {
                    Distribution::Weibull { scale, shape }
                })
            }
            "empirical" => {
                let path = match args.first().map(|a| &a.node[..]) {
                    Some([t]) => match &t.node {
                        Term::Path(p) => Some((p.clone(), t.span)),
                        _ => None,
                    },
                    _ => None,
                };
                let Some((path, span)) = path.filter(|_| args.len() == 1) else {
                    self.error(
                        Diagnostic::error(
                            Code::BadDistribution,
                            "empirical takes one history column, like `empirical(history.duration)`",
                        )
                        .at(term.span, "expected `empirical(history.column)`")
                        .help("declare `history \"file.csv\"` in the experiment block"),
                    );
                    return None;
                };
                match history(&path, span) {
                    Ok(values) => Some(Distribution::Empirical {
                        source: path.join("."),
                        values,
                    }),
                    Err(d) => {
                        self.error(d);
                        None
                    }
                }
            }
            other => {
                self.error(
                    Diagnostic::error(
                        Code::BadDistribution,
                        format!("unknown distribution `{other}`"),
                    )
                    .at(name.span, "not a distribution")
                    .help(
                        "distributions: fixed, uniform, normal, lognormal, exponential, pareto, \
                         weibull, empirical",
                    ),
                );
                None
            }
        }
    }
}

pub use crate::diagnostic::suggest;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::FileId;

    fn q(value: f64, unit: Option<&str>) -> Spanned<Term> {
        Spanned::new(
            Term::Quantity {
                value,
                unit: unit.map(str::to_string),
            },
            Span::new(FileId(0), 0, 1),
        )
    }

    #[test]
    fn converts_units_to_base_units() {
        let mut d = Diagnostics::new();
        let mut v = Values {
            diagnostics: &mut d,
        };
        assert_eq!(
            v.quantity(&q(2.0, Some("s")), Quantity::Duration),
            Some(2000.0)
        );
        assert_eq!(
            v.quantity(&q(1.5, Some("m")), Quantity::Duration),
            Some(90_000.0)
        );
        assert_eq!(
            v.quantity(&q(2.0, Some("KiB")), Quantity::Size),
            Some(2048.0)
        );
        assert_eq!(
            v.quantity(&q(5.0, Some("%")), Quantity::Fraction),
            Some(0.05)
        );
        assert_eq!(v.quantity(&q(3.0, Some("/m")), Quantity::Rate), Some(0.05));
        assert_eq!(
            v.quantity(&q(1.0, Some("MiB/s")), Quantity::Bandwidth),
            Some(1048576.0)
        );
        assert!(d.is_empty());
    }

    #[test]
    fn a_latency_of_five_percent_is_a_unit_error() {
        let mut d = Diagnostics::new();
        let mut v = Values {
            diagnostics: &mut d,
        };
        assert_eq!(v.quantity(&q(5.0, Some("%")), Quantity::Duration), None);
        let d: Vec<_> = d.into_iter().collect();
        assert_eq!(d[0].code, Code::UnitMismatch);
    }

    #[test]
    fn suggests_close_names() {
        assert_eq!(suggest("apii", ["api", "db"]), Some("api"));
        assert_eq!(suggest("zzz", ["api", "db"]), None);
    }
}
