//! `Series`: a `timestamp,value` CSV file, read robustly.
//!
//! What the reader accepts, and what it does with the awkward cases:
//! - **Header**: optional. The first non-blank record is a header when its first field is not
//!   a timestamp, or its second field is neither a number nor a missing-value marker. A header
//!   names the columns: `timestamp` (or `time`, `ts`, `date`) and `value` are looked up by name,
//!   case-insensitively; otherwise the first two columns are used. Extra columns are ignored.
//! - **Line endings**: LF and CRLF, a UTF-8 byte-order mark, quoted fields (RFC 4180), invalid
//!   UTF-8 (replaced, never fatal), spaces around fields (trimmed).
//! - **Blank lines** are skipped and produce no row (NAB's scorer skips them too).
//! - **Missing values**: an empty value, `NaN`, `null`, `NA`, `N/A`, `None`, `-`, an infinite
//!   value or a row without a value column give a row whose `value` is NaN. The row is kept
//!   (output stays aligned one-to-one with the input); detectors score a missing value 0 and do
//!   not learn from it.
//! - **Timestamps** (see `timestamp.rs`): `2014-04-01 00:00:00` and ISO 8601 relatives, or unix
//!   seconds. A data row whose timestamp cannot be parsed is an error naming the line: it is
//!   almost always the wrong file or the wrong column.
//! - **Order and gaps**: rows stay in file order, whatever their timestamps. Repeated and
//!   backwards timestamps and the largest gap are counted in `SeriesReport` (so the caller can
//!   warn); detectors work on the sequence of samples and never require regular spacing.
//! - **Empty input** (no bytes, only blank lines, or only a header) gives a series with no
//!   rows, not an error.
//! - A value that is text (`abc`) is an error naming the line, never a panic.

use super::series_error::SeriesError;
use super::timestamp::parse_timestamp;
use std::path::Path;

/// One data row: the original text of both fields (echoed in outputs) and their parsed values.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// 1-based line number in the file.
    pub line: u64,
    pub timestamp_text: String,
    /// Seconds since the unix epoch.
    pub timestamp: f64,
    pub value_text: String,
    /// NaN when the value is missing.
    pub value: f64,
}

/// What the reader noticed about a series (all counts are of data rows).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesReport {
    pub header: bool,
    pub missing_values: usize,
    pub repeated_timestamps: usize,
    pub backwards_timestamps: usize,
    /// The longest forward step between consecutive timestamps, in seconds.
    pub largest_gap_secs: f64,
    /// The file lines of the first missing value, repeated timestamp, backwards timestamp, and
    /// of the row after the largest gap (for warnings that point at the row).
    pub first_missing_line: Option<u64>,
    pub first_repeated_line: Option<u64>,
    pub first_backwards_line: Option<u64>,
    pub largest_gap_line: Option<u64>,
}

/// A whole `timestamp,value` series, rows in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    pub rows: Vec<Row>,
    pub report: SeriesReport,
}

const TIMESTAMP_NAMES: &[&str] = &["timestamp", "time", "ts", "date", "datetime"];
const VALUE_NAMES: &[&str] = &["value", "values", "val"];
const MISSING: &[&str] = &["", "nan", "null", "na", "n/a", "none", "-"];

impl Series {
    /// Reads and parses the file at `path`.
    pub fn read(path: &Path) -> Result<Series, SeriesError> {
        let bytes = std::fs::read(path).map_err(|source| SeriesError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Series::parse(&bytes)
    }

    /// Parses CSV bytes (see the module documentation for the accepted forms).
    pub fn parse(bytes: &[u8]) -> Result<Series, SeriesError> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(bytes);
        let mut series = Series::default();
        let mut columns: Option<(usize, usize)> = None;
        let mut record = csv::ByteRecord::new();
        loop {
            let more = reader
                .read_byte_record(&mut record)
                .map_err(|e| SeriesError::Csv {
                    line: e.position().map_or(0, |p| p.line()),
                    message: e.to_string(),
                })?;
            if !more {
                break;
            }
            let line = record.position().map_or(0, |p| p.line());
            if record.iter().all(<[u8]>::is_empty) {
                continue;
            }
            let (ti, vi) = match columns {
                Some(c) => c,
                None => {
                    let (c, header) = detect_columns(&record);
                    columns = Some(c);
                    series.report.header = header;
                    if header {
                        continue;
                    }
                    c
                }
            };
            series.push(line, field(&record, ti), field(&record, vi))?;
        }
        Ok(series)
    }

    fn push(
        &mut self,
        line: u64,
        timestamp_text: String,
        value_text: String,
    ) -> Result<(), SeriesError> {
        let timestamp =
            parse_timestamp(&timestamp_text).ok_or_else(|| SeriesError::BadTimestamp {
                line,
                text: timestamp_text.clone(),
            })?;
        let value = parse_value(&value_text).ok_or_else(|| SeriesError::BadValue {
            line,
            text: value_text.clone(),
        })?;
        let report = &mut self.report;
        if value.is_nan() {
            report.missing_values += 1;
            report.first_missing_line.get_or_insert(line);
        }
        if let Some(previous) = self.rows.last() {
            let step = timestamp - previous.timestamp;
            if step == 0.0 {
                report.repeated_timestamps += 1;
                report.first_repeated_line.get_or_insert(line);
            } else if step < 0.0 {
                report.backwards_timestamps += 1;
                report.first_backwards_line.get_or_insert(line);
            } else if step > report.largest_gap_secs {
                report.largest_gap_secs = step;
                report.largest_gap_line = Some(line);
            }
        }
        self.rows.push(Row {
            line,
            timestamp_text,
            timestamp,
            value_text,
            value,
        });
        Ok(())
    }

    /// The number of data rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

fn field(record: &csv::ByteRecord, index: usize) -> String {
    record
        .get(index)
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

/// The value of a field: `Some(NaN)` when missing, `None` when it is not a number at all.
fn parse_value(text: &str) -> Option<f64> {
    if MISSING.iter().any(|m| text.eq_ignore_ascii_case(m)) {
        return Some(f64::NAN);
    }
    let value: f64 = text.parse().ok()?;
    Some(if value.is_finite() { value } else { f64::NAN })
}

/// The timestamp and value columns, and whether `first` (the first non-blank record) is a header.
fn detect_columns(first: &csv::ByteRecord) -> ((usize, usize), bool) {
    let timestamp = field(first, 0);
    let value = field(first, 1);
    let is_data = parse_timestamp(&timestamp).is_some() && parse_value(&value).is_some();
    if is_data {
        return ((0, 1), false);
    }
    let names: Vec<String> = (0..first.len())
        .map(|i| field(first, i).to_ascii_lowercase())
        .collect();
    let find = |wanted: &[&str]| names.iter().position(|n| wanted.contains(&n.as_str()));
    let ti = find(TIMESTAMP_NAMES).unwrap_or(0);
    let vi = find(VALUE_NAMES).unwrap_or(if ti == 1 { 0 } else { 1 });
    ((ti, vi), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Series {
        match Series::parse(text.as_bytes()) {
            Ok(s) => s,
            Err(e) => panic!("{text:?} failed: {e}"),
        }
    }

    fn values(series: &Series) -> Vec<f64> {
        series.rows.iter().map(|r| r.value).collect()
    }

    #[test]
    fn nab_file_with_header() {
        let s = parse("timestamp,value\n2014-04-01 00:00:00,1.5\n2014-04-01 00:05:00,2\n");
        assert!(s.report.header);
        assert_eq!(values(&s), vec![1.5, 2.0]);
        assert_eq!(s.rows[0].timestamp_text, "2014-04-01 00:00:00");
        assert_eq!(s.rows[1].timestamp - s.rows[0].timestamp, 300.0);
        assert_eq!(s.rows[1].line, 3);
    }

    #[test]
    fn no_header_unix_seconds() {
        let s = parse("1396310400,1\n1396310700,2\n");
        assert!(!s.report.header);
        assert_eq!(s.len(), 2);
        assert_eq!(s.rows[0].timestamp, 1_396_310_400.0);
    }

    #[test]
    fn crlf_bom_quotes_and_spaces() {
        let s = parse(
            "\u{feff}timestamp,value\r\n\"2014-04-01 00:00:00\", 3 \r\n2014-04-01 00:05:00,4\r\n",
        );
        assert!(s.report.header);
        assert_eq!(values(&s), vec![3.0, 4.0]);
        assert_eq!(s.rows[1].value_text, "4");
    }

    #[test]
    fn header_columns_found_by_name_in_any_order() {
        let s = parse("host,Value,Timestamp\na,7,2014-04-01 00:00:00\n");
        assert_eq!(values(&s), vec![7.0]);
        assert_eq!(s.rows[0].timestamp_text, "2014-04-01 00:00:00");
    }

    #[test]
    fn missing_values_keep_their_rows() {
        let s = parse("timestamp,value\n1,1\n2,\n3,NaN\n4,null\n5\n6,inf\n7,2\n");
        let v = values(&s);
        assert_eq!(v.len(), 7);
        assert_eq!(v.iter().filter(|x| x.is_nan()).count(), 5);
        assert_eq!(s.report.missing_values, 5);
        assert_eq!((v[0], v[6]), (1.0, 2.0));
    }

    #[test]
    fn a_missing_first_value_is_still_data() {
        let s = parse("2014-04-01 00:00:00,\n2014-04-01 00:05:00,1\n");
        assert!(!s.report.header);
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn blank_lines_are_skipped() {
        let s = parse("timestamp,value\n\n1,1\n\n\n2,2\n\n");
        assert_eq!(values(&s), vec![1.0, 2.0]);
    }

    #[test]
    fn gaps_repeats_and_backwards_timestamps_are_counted_and_kept_in_order() {
        let s = parse("10,1\n20,2\n20,3\n15,4\n1000,5\n");
        assert_eq!(values(&s), vec![1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(s.report.repeated_timestamps, 1);
        assert_eq!(s.report.backwards_timestamps, 1);
        assert_eq!(s.report.largest_gap_secs, 985.0);
    }

    #[test]
    fn empty_inputs_give_empty_series() {
        for text in [
            "",
            "\n\n",
            "timestamp,value\n",
            "timestamp,value\r\n\r\n",
            "\u{feff}",
        ] {
            let s = parse(text);
            assert!(s.is_empty(), "{text:?}");
        }
    }

    #[test]
    fn bad_timestamp_names_the_line() {
        let err = Series::parse(b"timestamp,value\n1,1\nyesterday,2\n").err();
        match err {
            Some(SeriesError::BadTimestamp { line, text }) => {
                assert_eq!((line, text.as_str()), (3, "yesterday"));
            }
            other => panic!("expected BadTimestamp, got {other:?}"),
        }
    }

    #[test]
    fn text_value_names_the_line() {
        let err = Series::parse(b"1,1\n2,abc\n").err();
        assert!(
            matches!(err, Some(SeriesError::BadValue { line: 2, .. })),
            "{err:?}"
        );
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("line 2") && message.contains("abc"));
    }

    #[test]
    fn invalid_utf8_is_not_fatal_for_the_header() {
        let s = parse_bytes(b"time\xff,value\n1,2\n");
        assert_eq!(values(&s), vec![2.0]);
    }

    fn parse_bytes(bytes: &[u8]) -> Series {
        match Series::parse(bytes) {
            Ok(s) => s,
            Err(e) => panic!("failed: {e}"),
        }
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let err = Series::read(Path::new("/nonexistent/pfi/series.csv")).err();
        assert!(matches!(err, Some(SeriesError::Io { .. })));
    }
}
