//! Reading a numeric column of a history file for `empirical(history.column)`.
//!
//! History files are CSV with a header row. Values in a duration column may carry a unit
//! (`45s`, `1500ms`, `2m`); a bare number there is seconds, the unit incident records use.

use crate::model::history::parse_duration_ms;
use std::path::Path;

/// The values of `column` in the CSV file at `path`, converted to milliseconds when they are
/// durations. Empty cells are skipped; a cell that is not a number is an error naming its row.
pub fn duration_column(path: &Path, column: &str) -> Result<Vec<f64>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(path)
        .map_err(|e| format!("cannot read `{}`: {}", path.display(), e))?;
    let headers = reader
        .headers()
        .map_err(|e| format!("cannot read the header of `{}`: {e}", path.display()))?
        .clone();
    let Some(index) = headers.iter().position(|h| h == column) else {
        return Err(format!(
            "`{}` has no column `{column}`; its columns are: {}",
            path.display(),
            headers.iter().collect::<Vec<_>>().join(", ")
        ));
    };
    let mut values = Vec::new();
    for (row, record) in reader.records().enumerate() {
        let line = row + 2;
        let record = record.map_err(|e| format!("{}:{line}: {e}", path.display()))?;
        let Some(cell) = record.get(index).filter(|c| !c.is_empty()) else {
            continue;
        };
        let value = parse_duration_ms(cell).ok_or_else(|| {
            format!(
                "{}:{line}: `{cell}` in column `{column}` is not a duration (e.g. 45s, 1500ms, or seconds)",
                path.display()
            )
        })?;
        values.push(value);
    }
    if values.is_empty() {
        return Err(format!(
            "column `{column}` of `{}` has no values",
            path.display()
        ));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations_with_and_without_units() {
        assert_eq!(parse_duration_ms("45"), Some(45_000.0));
        assert_eq!(parse_duration_ms("1500ms"), Some(1500.0));
        assert_eq!(parse_duration_ms("2m"), Some(120_000.0));
        assert_eq!(parse_duration_ms("-1"), None);
        assert_eq!(parse_duration_ms("soon"), None);
    }
}
