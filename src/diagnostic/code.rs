//! Stable diagnostic codes and their long explanations (`pfi explain PFI0001`).

use serde::{Serialize, Serializer};
use std::fmt;

macro_rules! codes {
    ($( $variant:ident = $num:literal, $title:literal, $explain:literal; )*) => {
        /// A stable diagnostic code. Codes are never renumbered or reused.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code { $( $variant, )* }

        impl Code {
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];

            /// The code as printed, e.g. `PFI0001`.
            pub fn as_str(self) -> &'static str {
                match self { $( Code::$variant => concat!("PFI", $num), )* }
            }

            /// A one-line title.
            pub fn title(self) -> &'static str {
                match self { $( Code::$variant => $title, )* }
            }

            /// The long explanation, with an example and what to do.
            pub fn explanation(self) -> &'static str {
                match self { $( Code::$variant => $explain, )* }
            }
        }
    };
}

codes! {
    Syntax = "0001", "syntax error",
"The file does not follow the grammar of the .pfi language. The message says what the parser
expected at the underlined place.

    fault slow: latency on api_db {
      delay 120ms
    // <- a missing `}` here is reported at the end of the file

Fix the text at the underlined place; `pfi fmt` can only format a file that parses.";

    Unreadable = "0002", "file cannot be read",
"A scenario or imported file could not be read: it does not exist, is not readable, is a
directory, or is not valid UTF-8 text.

Check the path (relative imports are resolved against the importing file's folder) and that the
file is a text file.";

    TooLarge = "0003", "input exceeds a limit",
"The input exceeds one of pfi's safety limits: a file larger than 16 MiB, or nesting deeper
than 64 levels. These limits keep `pfi check` fast and safe on any input.

Split the scenario into several files joined with `import`, or flatten the nesting.";

    UnknownName = "0010", "unknown name",
"A name is used that is not declared: a resource, link, fault, probe, history, event or pattern.

    resource api: process [\"./api\"]
    fault f: kill on apii        // error: unknown resource `apii`

Declare the name, fix its spelling (the help line suggests the closest declared name), or
import the module that declares it.";

    DuplicateName = "0011", "name declared twice",
"Two declarations share one name. Resources, links, faults and probes share one namespace, so
that `api.p99` and `fault api` can never be ambiguous.

Rename one of the two declarations.";

    UnsupportedFault = "0012", "fault kind not supported by its target",
"A fault kind was applied to a target that cannot take it: for example `http_error` on a TCP
link (only HTTP links see requests), or `pause` on a link (only processes and containers can be
paused).

The message lists the fault kinds the target supports. Either change the fault kind or target a
resource of another kind (for example, declare the link as `http`).";

    UnitMismatch = "0013", "value has the wrong unit",
"A value has a unit that does not fit the setting: a latency of `5%`, a rate of `200ms`, a
memory limit of `2s`.

Durations take ms, s, m or h; sizes take B, KiB, MiB or GiB (or KB, MB, GB); fractions take %;
rates take /s, /m or /h. A bare number is accepted where the setting has no unit (a seed, a
count, a probability, a number of cores).";

    BadDistribution = "0014", "impossible distribution parameters",
"A distribution's parameters are impossible: a negative standard deviation, `uniform(a, b)`
with a > b, a non-positive scale or shape, a negative mean.

    delay normal(120ms, -40ms)   // error: the standard deviation must be >= 0

Distributions: fixed(x), uniform(min, max), normal(mean, sd), lognormal(median, sigma),
exponential(mean), pareto(scale, shape), weibull(scale, shape), empirical(history.column).";

    BadProbability = "0015", "probability outside [0, 1]",
"A probability, rate or confidence must lie between 0 and 1 (or 0% and 100%).

    probability 1.5      // error
    probability 80%      // fine, the same as 0.8";

    DependencyCycle = "0016", "dependency cycle",
"The dependency map (`a depends_on b`) contains a cycle, so there is no order in which to start
the resources and no direction in which failures propagate.

The message shows the cycle. Remove one of its edges; if two services really call each other,
declare the dependency in the direction of the calls that matter for the experiment.";

    ImportNotFound = "0017", "import not found",
"An `import` names a file that does not exist. Imports starting with `std/` load pfi's standard
library (the modules are listed in the help line); other paths are relative to the importing
file and may omit the `.pfi` extension.";

    ImportCycle = "0018", "import cycle",
"Files import each other in a cycle. The message shows the chain of imports. Move what both
need into a third module that both import.";

    NumberOutOfRange = "0019", "number out of range",
"A number is too large or too small for its setting: a duration longer than 10 years, a
percentage over 100%, a seed that does not fit in 64 bits, a count that is not a whole number.

Use a value in the range the message gives.";

    MissingSetting = "0020", "missing required setting",
"A declaration lacks a setting it cannot work without: an experiment without `duration`, a
latency fault without `delay`, an http_error fault without `status`.

Add the setting named in the message; the help line shows an example.";

    DuplicateSetting = "0021", "setting given twice",
"A setting appears twice in one block, so it is unclear which one holds. Remove one of them.";

    UnknownSetting = "0022", "setting not valid here",
"A setting is not one that this block or fault kind takes: for example `status` on a latency
fault. The message lists the settings the block accepts.";

    History = "0023", "bad historical fault data",
"A history file could not be used: it is missing, a row is malformed, or a column named by
`empirical(history.column)` does not exist or holds no numbers. Rows are reported with their
line numbers.

History files are CSV with a header: timestamp, resource, resource_type, fault_kind, duration,
root_cause, severity (see examples/history/README.md).";

    UnknownMetric = "0024", "unknown metric",
"A threshold, pattern or mitigation refers to a metric that the named probe, resource or link
does not have.

Probes have: p50, p90, p95, p99, mean, max, error_rate, availability, count. Resources have:
cpu, memory, io_read, io_write, restarts. Links have: latency, bytes, connections, errors.";

    InvalidValue = "0025", "invalid value",
"A value is of the right unit but not valid here: an empty argv, an HTTP status outside
100-599, a port outside 1-65535, an empty name, a negative duration.";

    Script = "0026", "remediation script does not compile",
"A rhai script named by `script \"...\"` could not be read or compiled. The diagnostic points at
the line and column in the script.";

    EmptyScenario = "0027", "experiment block missing",
"A runnable scenario needs exactly one `experiment \"name\" { duration ... }` block. Imported
modules must not declare one.";

    Unused = "0028", "declared but never used",
"A fault, probe or link is declared but nothing refers to it and it has no effect. This is a
warning: the scenario still checks.";

    // 0090-0099: `pfi init --from` and `pfi analyze` (src/analyze).
    Unmapped = "0090", "template construct not mapped",
"`pfi init --from` read a Compose or Kubernetes construct that it does not turn into the
scenario (a volume, a restart policy, an env_file, a YAML anchor merge...). It is reported so
that nothing is dropped silently; the scenario is still written.

Add what it means by hand if it matters to the experiment.";

    UnknownKey = "0091", "unknown key in a template",
"A key that the Compose specification (or the Kubernetes object) does not define, usually a
typo (`depend_on` for `depends_on`). It is ignored; the help names the nearest known key.";

    FailurePoint = "0092", "outbound call without a full guard",
"`pfi analyze` found a call to another service (HTTP, database, cache, queue, gRPC) that lacks
a guard: a timeout, retries with backoff, a circuit breaker, a fallback or a bounded pool.
An unguarded call on a request path to a critical dependency ranks first.

    r = requests.get(PAYMENTS_URL)            # no timeout: waits as long as payments does
    r = requests.get(PAYMENTS_URL, timeout=2) # bounded

`--format pfi` prints the faults that test it: latency above the timeout, errors, the
dependency down.";

    SourceParse = "0093", "source file does not parse",
"A source file given to `pfi analyze` has syntax the language's tree-sitter grammar does not
accept (an ERROR or MISSING node). The rest of the file, and every other file, is still
analysed; calls inside the broken part may be missed.";

    Analysis = "0094", "bad `analysis` source folder",
"`analysis \"src/\"` names the application's source folder, relative to the scenario's
folder. The checker reads it as `pfi analyze` does and keeps, per dependency, how many calls
lack a timeout or any handling of their failure; `pfi plan` raises the propagation from such
a dependency to its dependents.

    analysis \"../app/src\"

The folder (or file) must exist and hold Python, JavaScript, TypeScript, Go, Java or Rust
source. A scenario has at most one `analysis`.";
}

impl Code {
    /// Looks a code up by its printed form (`PFI0001`, case-insensitive, or just `1`).
    pub fn parse(text: &str) -> Option<Code> {
        let upper = text.trim().to_ascii_uppercase();
        let digits = upper.strip_prefix("PFI").unwrap_or(&upper);
        let number: u32 = digits.parse().ok()?;
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str()[3..].parse::<u32>().ok() == Some(number))
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_parse_back() {
        let mut seen = HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "duplicate {}", code.as_str());
            assert_eq!(Code::parse(code.as_str()), Some(*code));
            assert!(!code.explanation().is_empty());
        }
        assert_eq!(Code::parse("pfi0001"), Some(Code::Syntax));
        assert_eq!(Code::parse("16"), Some(Code::DependencyCycle));
        assert_eq!(Code::parse("PFI9999"), None);
    }
}
