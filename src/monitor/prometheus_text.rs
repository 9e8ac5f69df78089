//! A parser of the Prometheus text exposition format (version 0.0.4), as served on a
//! `/metrics` endpoint.
//!
//! Handled: `# HELP` and `# TYPE` lines (kept per family; other `#` lines are comments), blank
//! lines, CRLF line ends, metric names with `:`, label sets `{a="x",b="y"}` with escaped
//! `\\`, `\"` and `\n` in values, a trailing comma, whitespace around labels, values written
//! as Go's `strconv.ParseFloat` accepts them (`1e3`, `+Inf`, `-Inf`, `NaN`), and the optional
//! millisecond timestamp after the value. A malformed line is reported with its line number and
//! skipped; the rest of the page still counts.

use std::collections::BTreeMap;

/// A sample's labels, `(name, value)`.
pub type Labels = Vec<(String, String)>;

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct PromSample {
    pub name: String,
    /// Labels sorted by name.
    pub labels: Labels,
    pub value: f64,
    /// Milliseconds since the Unix epoch, when the line has one.
    pub timestamp_ms: Option<i64>,
}

impl PromSample {
    /// `name{a="x",b="y"}` with labels in name order (escaped as in the format), or `name`.
    pub fn key(&self) -> String {
        if self.labels.is_empty() {
            return self.name.clone();
        }
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        format!("{}{{{}}}", self.name, labels.join(","))
    }
}

/// A parsed page: its samples, the `# TYPE` and `# HELP` of each family, and the lines that
/// could not be parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromPage {
    pub samples: Vec<PromSample>,
    pub types: BTreeMap<String, String>,
    pub help: BTreeMap<String, String>,
    /// (one-based line number, what is wrong).
    pub errors: Vec<(usize, String)>,
}

/// Parses an exposition page.
pub fn parse(text: &str) -> PromPage {
    let mut page = PromPage::default();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r').trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.trim_start().splitn(3, char::is_whitespace);
            match (words.next(), words.next(), words.next()) {
                (Some("TYPE"), Some(name), Some(kind)) => {
                    page.types.insert(name.to_string(), kind.trim().to_string());
                }
                (Some("HELP"), Some(name), help) => {
                    page.help
                        .insert(name.to_string(), unescape_help(help.unwrap_or("").trim()));
                }
                _ => {}
            }
            continue;
        }
        match sample(line) {
            Ok(sample) => page.samples.push(sample),
            Err(err) => page.errors.push((index + 1, err)),
        }
    }
    page
}

fn sample(line: &str) -> Result<PromSample, String> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("expected a metric name".to_string());
    }
    let mut rest = line[name_end..].trim_start();
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        let (parsed, remaining) = label_set(after)?;
        labels = parsed;
        rest = remaining.trim_start();
    }
    let mut fields = rest.split_whitespace();
    let value = fields
        .next()
        .ok_or_else(|| format!("`{name}` has no value"))?;
    let value = float(value).ok_or_else(|| format!("`{value}` is not a number"))?;
    let timestamp_ms = match fields.next() {
        None => None,
        Some(ts) => Some(
            ts.parse::<i64>()
                .map_err(|_| format!("`{ts}` is not a timestamp in milliseconds"))?,
        ),
    };
    if let Some(extra) = fields.next() {
        return Err(format!("unexpected `{extra}` after the timestamp"));
    }
    labels.sort_by(|a: &(String, String), b| a.0.cmp(&b.0));
    Ok(PromSample {
        name: name.to_string(),
        labels,
        value,
        timestamp_ms,
    })
}

/// Parses `a="x",b="y"}` (after the `{`); returns the labels and what follows the `}`.
fn label_set(mut text: &str) -> Result<(Labels, &str), String> {
    let mut labels = Vec::new();
    loop {
        text = text.trim_start();
        if let Some(rest) = text.strip_prefix('}') {
            return Ok((labels, rest));
        }
        let name_end = text
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .ok_or("unclosed label set")?;
        let name = &text[..name_end];
        if name.is_empty() {
            return Err("expected a label name".to_string());
        }
        text = text[name_end..].trim_start();
        text = text
            .strip_prefix('=')
            .ok_or_else(|| format!("expected `=` after label `{name}`"))?
            .trim_start();
        text = text
            .strip_prefix('"')
            .ok_or_else(|| format!("the value of label `{name}` must be quoted"))?;
        let mut value = String::new();
        let mut chars = text.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err(format!("unterminated value of label `{name}`")),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => return Err(format!("unterminated value of label `{name}`")),
                },
                Some((_, c)) => value.push(c),
            }
        };
        labels.push((name.to_string(), value));
        text = text[end + 1..].trim_start();
        if let Some(rest) = text.strip_prefix(',') {
            text = rest;
        } else if !text.starts_with('}') {
            return Err("expected `,` or `}` in the label set".to_string());
        }
    }
}

/// A value as the format writes it (Go float syntax, with `+Inf`, `-Inf`, `NaN`).
fn float(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => text.parse::<f64>().ok(),
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn unescape_help(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "# HELP http_requests_total The total number of HTTP requests.\r\n\
# TYPE http_requests_total counter\r\n\
http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\r\n\
http_requests_total{code=\"400\",method=\"post\",} 3 1395066363000\n\
\n\
# Escaping in label values:\n\
msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n\
# A weird metric from before the epoch:\n\
something_weird{problem=\"division by zero\"} +Inf -3982045\n\
# TYPE rpc_duration_seconds summary\n\
rpc_duration_seconds{quantile=\"0.99\"} NaN\n\
rpc_duration_seconds_sum 1.7560473e+07\n\
metric_without_timestamp_and_labels 12.47\n\
job:up:ratio { instance = \"a\" } -Inf\n\
broken{unterminated=\"x} 1\n\
no_value\n";

    #[test]
    fn parses_the_reference_example() {
        let page = parse(PAGE);
        assert_eq!(page.types["http_requests_total"], "counter");
        assert_eq!(page.types["rpc_duration_seconds"], "summary");
        assert_eq!(
            page.help["http_requests_total"],
            "The total number of HTTP requests."
        );
        let s = &page.samples;
        assert_eq!(s.len(), 8, "{s:#?}");
        assert_eq!(
            s[0].key(),
            "http_requests_total{code=\"200\",method=\"post\"}"
        );
        assert_eq!(
            (s[0].value, s[0].timestamp_ms),
            (1027.0, Some(1395066363000))
        );
        assert_eq!(
            s[1].labels,
            vec![
                ("code".into(), "400".into()),
                ("method".into(), "post".into())
            ]
        );
        assert_eq!(
            s[2].labels[0],
            ("error".into(), "Cannot find file:\n\"FILE.TXT\"".into())
        );
        assert_eq!(s[2].labels[1], ("path".into(), "C:\\DIR\\FILE.TXT".into()));
        assert_eq!(s[2].value, 1.458255915e9);
        assert_eq!(
            (s[3].value, s[3].timestamp_ms),
            (f64::INFINITY, Some(-3982045))
        );
        assert!(s[4].value.is_nan());
        assert_eq!(s[5].value, 1.7560473e7);
        assert_eq!(
            (s[6].name.as_str(), s[6].value),
            ("metric_without_timestamp_and_labels", 12.47)
        );
        assert_eq!(s[7].key(), "job:up:ratio{instance=\"a\"}");
        assert_eq!(s[7].value, f64::NEG_INFINITY);
        assert_eq!(page.errors.len(), 2, "{:?}", page.errors);
        assert_eq!(page.errors[0].0, 15);
        assert!(page.errors[1].1.contains("no value"));
    }

    #[test]
    fn nothing_and_garbage_are_not_panics() {
        assert_eq!(parse(""), PromPage::default());
        for text in [
            "{",
            "x{",
            "x{a",
            "x{a=",
            "x{a=\"",
            "x{a=\"\\",
            "1x 2",
            "x 1 2 3",
            "x abc",
            "x{=\"1\"} 1",
        ] {
            let page = parse(text);
            assert!(
                page.samples.is_empty() && page.errors.len() == 1,
                "{text}: {page:?}"
            );
        }
    }
}
