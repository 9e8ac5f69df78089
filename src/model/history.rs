//! Historical fault data: incident records loaded from CSV or JSON text.
//!
//! The loader takes text, never a path, so it is pure; the checker and the CLI read the file.
//! Every malformed row is reported with its row (line) number, all of them at once.
//!
//! Columns (CSV header / JSON keys): `timestamp` (RFC 3339), `resource`, `resource_type`,
//! `fault_kind`, `duration` (`45s`, `1500ms`, `2m`, or a bare number of seconds), `root_cause`,
//! and optionally `severity` (`minor`, `major`, `critical`).

use serde::Serialize;

pub use crate::plan::history::{History, Incident, Severity};

/// A row that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// CSV line number (the header is line 1) or JSON record number (the first is 1); 0 for
    /// the file as a whole.
    pub row: usize,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.row == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(f, "row {}: {}", self.row, self.message)
        }
    }
}

pub const COLUMNS: &[&str] = &[
    "timestamp",
    "resource",
    "resource_type",
    "fault_kind",
    "duration",
    "root_cause",
    "severity",
];
const REQUIRED: &[&str] = &[
    "timestamp",
    "resource",
    "resource_type",
    "fault_kind",
    "duration",
    "root_cause",
];

/// The file format, chosen by extension (`.json` is JSON, anything else CSV).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    pub fn of(path: &std::path::Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("json") => Format::Json,
            _ => Format::Csv,
        }
    }
}

/// Parses `text` in `format`; every malformed row is reported.
pub fn parse(text: &str, format: Format) -> Result<History, Vec<RowError>> {
    match format {
        Format::Csv => parse_csv(text),
        Format::Json => parse_json(text),
    }
}

/// Parses CSV text with a header row.
pub fn parse_csv(text: &str) -> Result<History, Vec<RowError>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| {
            vec![RowError {
                row: 1,
                message: format!("cannot read the header: {e}"),
            }]
        })?
        .clone();
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|c| !headers.iter().any(|h| h == *c))
        .collect();
    if !missing.is_empty() {
        return Err(vec![RowError {
            row: 1,
            message: format!(
                "the header lacks column(s) {}; the columns are: {}",
                missing.join(", "),
                COLUMNS.join(", ")
            ),
        }]);
    }
    let index = |name: &str| headers.iter().position(|h| h == name);
    let columns: Vec<Option<usize>> = COLUMNS.iter().map(|c| index(c)).collect();
    let mut incidents = Vec::new();
    let mut errors = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let row = i + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError {
                    row,
                    message: e.to_string(),
                });
                continue;
            }
        };
        if record.iter().all(|c| c.is_empty()) {
            continue;
        }
        let cell = |k: usize| {
            columns[k]
                .and_then(|i| record.get(i))
                .unwrap_or("")
                .to_string()
        };
        let fields: Vec<String> = (0..COLUMNS.len()).map(cell).collect();
        match incident(row, &fields) {
            Ok(incident) => incidents.push(incident),
            Err(message) => errors.push(RowError { row, message }),
        }
    }
    if errors.is_empty() {
        Ok(History { incidents })
    } else {
        Err(errors)
    }
}

/// Parses JSON text: an array of objects, or `{"incidents": [...]}`. `duration` may be a
/// string with a unit or a number of seconds.
pub fn parse_json(text: &str) -> Result<History, Vec<RowError>> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        vec![RowError {
            row: 0,
            message: format!(
                "not valid JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            ),
        }]
    })?;
    let records = match &value {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Object(o) => match o.get("incidents") {
            Some(serde_json::Value::Array(a)) => a,
            _ => {
                return Err(vec![RowError {
                    row: 0,
                    message: "expected an array of incidents or {\"incidents\": [...]}".into(),
                }]);
            }
        },
        _ => {
            return Err(vec![RowError {
                row: 0,
                message: "expected an array of incidents or {\"incidents\": [...]}".into(),
            }]);
        }
    };
    let mut incidents = Vec::new();
    let mut errors = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let row = i + 1;
        let Some(object) = record.as_object() else {
            errors.push(RowError {
                row,
                message: "an incident must be a JSON object".into(),
            });
            continue;
        };
        let fields: Vec<String> = COLUMNS
            .iter()
            .map(|c| match object.get(*c) {
                Some(serde_json::Value::String(s)) => s.trim().to_string(),
                Some(serde_json::Value::Number(n)) => n.to_string(),
                _ => String::new(),
            })
            .collect();
        match incident(row, &fields) {
            Ok(incident) => incidents.push(incident),
            Err(message) => errors.push(RowError { row, message }),
        }
    }
    if errors.is_empty() {
        Ok(History { incidents })
    } else {
        Err(errors)
    }
}

/// One incident from its cells, in `COLUMNS` order.
fn incident(row: usize, f: &[String]) -> Result<Incident, String> {
    let mut problems = Vec::new();
    for (k, name) in COLUMNS.iter().enumerate().take(REQUIRED.len()) {
        if f[k].is_empty() && *name != "root_cause" {
            problems.push(format!("`{name}` is empty"));
        }
    }
    let timestamp_s = if f[0].is_empty() {
        None
    } else {
        let t = parse_rfc3339(&f[0]);
        if t.is_none() {
            problems.push(format!(
                "`{}` is not an RFC 3339 timestamp (e.g. 2025-03-09T23:00:00Z)",
                f[0]
            ));
        }
        t
    };
    for (k, name) in [(2, "resource_type"), (3, "fault_kind")] {
        if !f[k].is_empty() && !is_ident(&f[k]) {
            problems.push(format!(
                "{name} `{}` must be a word (letters, digits, `_`)",
                f[k]
            ));
        }
    }
    let duration_ms = if f[4].is_empty() {
        None
    } else {
        let d = parse_duration_ms(&f[4]);
        if d.is_none() {
            problems.push(format!(
                "duration `{}` is not a duration (45s, 1500ms, 2m, or seconds)",
                f[4]
            ));
        }
        d
    };
    let severity = if f[6].is_empty() {
        None
    } else {
        let s = Severity::parse(&f[6]);
        if s.is_none() {
            problems.push(format!(
                "severity `{}` is not minor, major or critical",
                f[6]
            ));
        }
        s
    };
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    Ok(Incident {
        timestamp_s: timestamp_s.unwrap_or_default(),
        resource: f[1].clone(),
        resource_type: f[2].clone(),
        fault_kind: f[3].clone(),
        duration_ms: duration_ms.unwrap_or_default(),
        root_cause: f[5].clone(),
        severity,
        row,
    })
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `45s`, `1500ms`, `2m`, `1h`, or a bare number of seconds, in milliseconds.
pub fn parse_duration_ms(cell: &str) -> Option<f64> {
    let split = cell
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(cell.len());
    let (number, unit) = cell.split_at(split);
    let value: f64 = number.trim().parse().ok()?;
    let factor = match unit.trim() {
        "" | "s" => 1000.0,
        "ms" => 1.0,
        "m" | "min" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return None,
    };
    let ms = value * factor;
    (ms.is_finite() && ms >= 0.0).then_some(ms)
}

/// Seconds since the Unix epoch of an RFC 3339 timestamp (`2025-03-09T23:00:00Z`,
/// `2025-03-09T23:00:00.5+02:00`); a bare date is midnight UTC.
pub fn parse_rfc3339(text: &str) -> Option<f64> {
    let text = text.trim();
    let (date, rest) = match text.find(['T', 't', ' ']) {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, ""),
    };
    let mut parts = date.split('-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=12).contains(&month) || day < 1 || day > days_in(year, month)
    {
        return None;
    }
    let mut seconds = days_from_civil(year, month, day) as f64 * 86_400.0;
    if rest.is_empty() {
        return Some(seconds);
    }
    let (clock, offset_s) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0.0)
    } else if let Some(i) = rest.rfind(['+', '-']) {
        let sign = if rest[i..].starts_with('-') {
            -1.0
        } else {
            1.0
        };
        let mut hm = rest[i + 1..].split(':');
        let h: f64 = hm.next()?.parse().ok()?;
        let m: f64 = hm.next().unwrap_or("0").parse().ok()?;
        if h > 23.0 || m > 59.0 {
            return None;
        }
        (&rest[..i], sign * (h * 3600.0 + m * 60.0))
    } else {
        return None;
    };
    let mut hms = clock.split(':');
    let h: f64 = hms.next()?.parse().ok()?;
    let m: f64 = hms.next()?.parse().ok()?;
    let s: f64 = hms.next().unwrap_or("0").parse().ok()?;
    if hms.next().is_some() || h > 23.0 || m > 59.0 || !(0.0..61.0).contains(&s) {
        return None;
    }
    seconds += h * 3600.0 + m * 60.0 + s - offset_s;
    Some(seconds)
}

fn days_in(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "timestamp,resource,resource_type,fault_kind,duration,root_cause,severity\n";

    #[test]
    fn parses_timestamps() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_rfc3339("1970-01-02"), Some(86_400.0));
        assert_eq!(parse_rfc3339("2000-03-01T00:00:00Z"), Some(951_868_800.0));
        assert_eq!(parse_rfc3339("1970-01-01T02:00:00+02:00"), Some(0.0));
        assert_eq!(parse_rfc3339("2025-02-30T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn loads_csv_rows() {
        let text = format!(
            "{HEADER}2025-01-06T16:00:00Z,db,postgres,pause,29s,checkpoint stall,major\n\
             2025-01-07T16:00:00Z,api,api,kill,1500ms,oom,\n"
        );
        let h = parse_csv(&text).unwrap();
        assert_eq!(h.incidents.len(), 2);
        assert_eq!(h.incidents[0].duration_ms, 29_000.0);
        assert_eq!(h.incidents[0].severity, Some(Severity::Major));
        assert_eq!(h.incidents[1].severity, None);
        assert_eq!(h.incidents[1].row, 3);
        assert_eq!(h.span_s(), 86_400.0);
    }

    #[test]
    fn reports_every_malformed_row_with_its_number() {
        let text = format!(
            "{HEADER}2025-01-06T16:00:00Z,db,postgres,pause,29s,stall,major\n\
             soon,db,postgres,pause,29s,stall,major\n\
             2025-01-06T16:00:00Z,db,postgres,pause,forever,stall,huge\n\
             2025-01-06T16:00:00Z,db,,pause,1s,stall,\n"
        );
        let errors = parse_csv(&text).unwrap_err();
        let rows: Vec<usize> = errors.iter().map(|e| e.row).collect();
        assert_eq!(rows, vec![3, 4, 5]);
        assert!(errors[0].message.contains("RFC 3339"), "{:?}", errors[0]);
        assert!(errors[1].message.contains("forever") && errors[1].message.contains("huge"));
        assert!(errors[2].message.contains("resource_type"));
    }

    #[test]
    fn reports_a_missing_column() {
        let errors = parse_csv("timestamp,resource\n2025-01-01,db\n").unwrap_err();
        assert_eq!(errors[0].row, 1);
        assert!(errors[0].message.contains("resource_type"));
    }

    #[test]
    fn loads_json_records() {
        let text = r#"{"incidents": [
            {"timestamp": "2025-01-06T16:00:00Z", "resource": "db", "resource_type": "postgres",
             "fault_kind": "pause", "duration": 29, "root_cause": "stall"},
            {"timestamp": "2025-01-06T16:00:00Z", "resource": "db", "resource_type": "postgres",
             "fault_kind": "pause", "duration": "2m", "root_cause": "stall", "severity": "critical"}
        ]}"#;
        let h = parse_json(text).unwrap();
        assert_eq!(h.incidents[0].duration_ms, 29_000.0);
        assert_eq!(h.incidents[1].duration_ms, 120_000.0);
        assert_eq!(h.incidents[1].severity, Some(Severity::Critical));
        let errors = parse_json(r#"[{"timestamp": "x"}, 3]"#).unwrap_err();
        assert_eq!(errors.iter().map(|e| e.row).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn the_shipped_history_loads() {
        let text = include_str!("../../examples/history/incidents.csv");
        let h = parse_csv(text).unwrap();
        assert_eq!(h.incidents.len(), 45);
    }
}
