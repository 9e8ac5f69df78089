//! Durations (`20ms`, `1.5s`), sizes (`64MiB`, `1GB`) and rates (`512KiB/s`) on the
//! `pfi-demo` command line.

use std::time::Duration;

/// Parses `250ms`, `1.5s`, `2m`, `1h`, `500us`; a bare `0` is zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let (number, unit) = split_number(text)?;
    let seconds = match unit {
        "us" | "µs" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" | "min" => number * 60.0,
        "h" => number * 3600.0,
        "" => return Err(format!("`{text}` needs a unit: ms, s, m or h (e.g. 20ms)")),
        other => {
            return Err(format!(
                "unknown duration unit `{other}` in `{text}`; use us, ms, s, m or h"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("`{text}` is out of range"))
}

/// Parses `512`, `64KiB`, `64MiB`, `1GiB` (powers of 1024) or `64KB`, `1MB` (powers of 1000).
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = split_number(text)?;
    let factor: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024.0 * 1024.0,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "unknown size unit `{unit}` in `{text}`; use B, KiB, MiB, GiB, KB, MB or GB"
            ));
        }
    };
    let bytes = number * factor;
    if bytes > u64::MAX as f64 {
        return Err(format!("`{text}` is too large"));
    }
    Ok(bytes.round() as u64)
}

/// Parses a rate in bytes per second: `512KiB/s` (the `/s` is required).
pub fn parse_rate(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let size = text
        .strip_suffix("/s")
        .ok_or_else(|| format!("`{text}` is not a rate; write it per second, e.g. 512KiB/s"))?;
    parse_bytes(size)
}

fn split_number(text: &str) -> Result<(f64, &str), String> {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(end);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` does not start with a number"))?;
    Ok((number, unit.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("20ms").unwrap(), Duration::from_millis(20));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("20").unwrap_err().contains("needs a unit"));
        assert!(
            parse_duration("5d")
                .unwrap_err()
                .contains("unknown duration unit")
        );
        assert!(parse_duration("ms").unwrap_err().contains("number"));
    }

    #[test]
    fn parses_sizes_and_rates() {
        assert_eq!(parse_bytes("512").unwrap(), 512);
        assert_eq!(parse_bytes("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1GB").unwrap(), 1_000_000_000);
        assert_eq!(parse_bytes("1.5KiB").unwrap(), 1536);
        assert_eq!(parse_rate("512KiB/s").unwrap(), 512 << 10);
        assert!(parse_rate("512KiB").unwrap_err().contains("per second"));
        assert!(parse_bytes("3 parsecs").is_err());
    }
}
