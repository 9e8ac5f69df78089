//! Parsing timestamps: NAB's `2014-04-01 00:00:00` (and ISO 8601 relatives) or unix seconds.

/// Parses a timestamp into seconds since the unix epoch (UTC).
///
/// Accepted: `YYYY-MM-DD`, optionally followed by ` ` or `T` and `HH:MM`, `HH:MM:SS` or
/// `HH:MM:SS.fff`, optionally followed by `Z` or an offset `+HH:MM` / `-HH:MM`; or a plain
/// number of seconds since the epoch (`1396310400`, `1396310400.25`). Surrounding spaces are
/// ignored. Anything else is `None`.
pub fn parse_timestamp(text: &str) -> Option<f64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(seconds) = text.parse::<f64>() {
        return seconds.is_finite().then_some(seconds);
    }
    parse_calendar(text)
}

fn parse_calendar(text: &str) -> Option<f64> {
    let (date, rest) = match text.find([' ', 'T']) {
        Some(at) => (&text[..at], text[at + 1..].trim_start()),
        None => (text, ""),
    };
    let (year, month, day) = parse_date(date)?;
    let days = days_from_civil(year, month, day);
    let (time, offset) = split_offset(rest)?;
    let seconds_of_day = if time.is_empty() {
        0.0
    } else {
        parse_time(time)?
    };
    Some(days as f64 * 86_400.0 + seconds_of_day - offset)
}

fn parse_date(text: &str) -> Option<(i64, u32, u32)> {
    let mut parts = text.split('-');
    let year = parts.next()?;
    let month = parts.next()?;
    let day = parts.next()?;
    if parts.next().is_some() || year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return None;
    }
    let year: i64 = digits(year)?;
    let month: u32 = u32::try_from(digits(month)?).ok()?;
    let day: u32 = u32::try_from(digits(day)?).ok()?;
    let valid = (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month);
    valid.then_some((year, month, day))
}

/// Splits a trailing `Z` or `±HH:MM` offset; returns the time text and the offset in seconds.
fn split_offset(text: &str) -> Option<(&str, f64)> {
    if let Some(time) = text.strip_suffix('Z') {
        return Some((time, 0.0));
    }
    if text.len() > 6 {
        let (time, offset) = text.split_at(text.len() - 6);
        let sign = match offset.as_bytes()[0] {
            b'+' => 1.0,
            b'-' => -1.0,
            _ => return Some((text, 0.0)),
        };
        let (hours, minutes) = offset[1..].split_once(':')?;
        let seconds = (digits(hours)? * 3600 + digits(minutes)? * 60) as f64;
        return Some((time, sign * seconds));
    }
    Some((text, 0.0))
}

fn parse_time(text: &str) -> Option<f64> {
    let mut parts = text.split(':');
    let hours = digits(parts.next()?)?;
    let minutes = digits(parts.next()?)?;
    let seconds = match parts.next() {
        Some(s) => {
            let (whole, fraction) = match s.split_once('.') {
                Some((w, f)) => (w, Some(f)),
                None => (s, None),
            };
            let mut value = digits(whole)? as f64;
            if let Some(f) = fraction {
                digits(f)?;
                value += format!("0.{f}").parse::<f64>().ok()?;
            }
            value
        }
        None => 0.0,
    };
    if parts.next().is_some() || hours > 23 || minutes > 59 || seconds >= 61.0 {
        return None;
    }
    Some((hours * 3600 + minutes * 60) as f64 + seconds)
}

fn digits(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's civil-days algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nab_timestamps() {
        assert_eq!(
            parse_timestamp("2014-04-01 00:00:00"),
            Some(1_396_310_400.0)
        );
        assert_eq!(parse_timestamp("1970-01-01 00:00:00"), Some(0.0));
        assert_eq!(parse_timestamp("2000-02-29 12:30:15"), Some(951_827_415.0));
        assert_eq!(
            parse_timestamp(" 2014-04-01 00:05:00 "),
            Some(1_396_310_700.0)
        );
        assert_eq!(
            parse_timestamp("2014-04-10 07:15:00.000000"),
            Some(1_397_114_100.0)
        );
    }

    #[test]
    fn parses_iso_variants_and_unix_seconds() {
        assert_eq!(
            parse_timestamp("2014-04-01T00:00:00Z"),
            Some(1_396_310_400.0)
        );
        assert_eq!(
            parse_timestamp("2014-04-01T01:00:00+01:00"),
            Some(1_396_310_400.0)
        );
        assert_eq!(parse_timestamp("2014-04-01 00:00"), Some(1_396_310_400.0));
        assert_eq!(parse_timestamp("2014-04-01"), Some(1_396_310_400.0));
        assert_eq!(parse_timestamp("1396310400"), Some(1_396_310_400.0));
        assert_eq!(parse_timestamp("1396310400.5"), Some(1_396_310_400.5));
        assert_eq!(parse_timestamp("1969-12-31 23:59:59"), Some(-1.0));
    }

    #[test]
    fn rejects_garbage() {
        for text in [
            "",
            "timestamp",
            "2014-13-01 00:00:00",
            "2014-02-30 00:00:00",
            "2014-04-01 24:00:00",
            "2014-4-1 00:00:00",
            "NaN",
            "inf",
            "2014-04-01 00:00:00 junk",
            "2014-04-01 00:x0",
        ] {
            assert_eq!(parse_timestamp(text), None, "{text:?} must be rejected");
        }
    }
}
