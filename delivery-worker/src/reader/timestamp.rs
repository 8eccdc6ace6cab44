//! The `timestamp` field in the forms log shippers write, parsed to epoch milliseconds.
//!
//! Accepted: an RFC 3339 string (`2026-11-22T10:00:00.123Z`, any offset, `t`/space as the
//! separator, any number of fraction digits, truncated to milliseconds), or a number or
//! numeric string of epoch time whose unit is chosen by magnitude, covering Vector's
//! `unix`, `unix_float`, `unix_ms`, `unix_us` and `unix_ns` encodings:
//! |v| < 10^11 → seconds (up to year 5138), < 10^14 → milliseconds, < 10^17 →
//! microseconds, otherwise nanoseconds. The RFC 3339 parser is hand-written because it
//! runs once per event on the hot path.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

const SECONDS_BELOW: u64 = 100_000_000_000;
const MILLIS_BELOW: u64 = 100_000_000_000_000;
const MICROS_BELOW: u64 = 100_000_000_000_000_000;

/// A parsed timestamp in epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Timestamp(pub(super) i64);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TimestampVisitor)
    }
}

struct TimestampVisitor;

impl Visitor<'_> for TimestampVisitor {
    type Value = Timestamp;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an RFC 3339 time or epoch seconds/milliseconds")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        parse_str(v)
            .map(Timestamp)
            .ok_or_else(|| E::custom("unparsable timestamp"))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Timestamp(epoch_int_to_ms(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        let v = i64::try_from(v).map_err(|_| E::custom("timestamp out of range"))?;
        Ok(Timestamp(epoch_int_to_ms(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        epoch_float_to_ms(v)
            .map(Timestamp)
            .ok_or_else(|| E::custom("timestamp out of range"))
    }
}

/// A string timestamp: RFC 3339 when it looks like a date, else a decimal epoch number.
pub(super) fn parse_str(s: &str) -> Option<i64> {
    let bytes = s.as_bytes();
    if bytes.get(4) == Some(&b'-') {
        parse_rfc3339(bytes)
    } else {
        parse_epoch_decimal(bytes)
    }
}

/// Integer epoch time in the unit its magnitude implies, floored to milliseconds.
fn epoch_int_to_ms(v: i64) -> i64 {
    let magnitude = v.unsigned_abs();
    if magnitude < SECONDS_BELOW {
        v * 1000
    } else if magnitude < MILLIS_BELOW {
        v
    } else if magnitude < MICROS_BELOW {
        v.div_euclid(1_000)
    } else {
        v.div_euclid(1_000_000)
    }
}

/// Fractional epoch time, rounded to the nearest millisecond (binary floats cannot hold
/// `.123` exactly, so flooring would turn it into `.122`).
fn epoch_float_to_ms(v: f64) -> Option<i64> {
    let magnitude = v.abs();
    let ms = if magnitude < SECONDS_BELOW as f64 {
        v * 1e3
    } else if magnitude < MILLIS_BELOW as f64 {
        v
    } else if magnitude < MICROS_BELOW as f64 {
        v / 1e3
    } else {
        v / 1e6
    };
    let ms = ms.round();
    // `as` saturates; the range check rejects NaN, infinities and overflow.
    (ms.is_finite() && ms.abs() < 9.0e18).then_some(ms as i64)
}

/// `[-]digits[.digits]`, exact (no float rounding): seconds keep three fraction digits.
fn parse_epoch_decimal(bytes: &[u8]) -> Option<i64> {
    let (negative, bytes) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, bytes),
    };
    let (int_part, frac_part) = match bytes.iter().position(|&b| b == b'.') {
        Some(dot) => (bytes.get(..dot)?, bytes.get(dot + 1..)?),
        None => (bytes, &b""[..]),
    };
    if !frac_part.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let int = digits(int_part)?;
    let ms = if int.unsigned_abs() < SECONDS_BELOW {
        int * 1000 + millis_of_fraction(frac_part)
    } else {
        epoch_int_to_ms(int)
    };
    Some(if negative { -ms } else { ms })
}

/// `YYYY-MM-DD(T|t| )HH:MM:SS[.fraction](Z|z|±HH:MM)`.
fn parse_rfc3339(s: &[u8]) -> Option<i64> {
    let date = (digits(s.get(0..4)?)?, two(s, 5)?, two(s, 8)?);
    let time = (two(s, 11)?, two(s, 14)?, two(s, 17)?);
    let separators = (s.get(4), s.get(7), s.get(10), s.get(13), s.get(16));
    if !matches!(
        separators,
        (
            Some(b'-'),
            Some(b'-'),
            Some(b'T' | b't' | b' '),
            Some(b':'),
            Some(b':')
        )
    ) {
        return None;
    }
    let (fraction, rest) = split_fraction(s.get(19..)?);
    let offset_minutes = parse_offset(rest)?;
    let (year, month, day) = date;
    let (hour, minute, second) = time;
    let valid_date = (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month);
    if !valid_date || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = ((days * 24 + hour) * 60 + minute - offset_minutes) * 60 + second;
    Some(seconds * 1000 + millis_of_fraction(fraction))
}

/// Splits `.digits` (possibly absent) off the front; a dot without digits is kept in
/// `rest`, where the offset parser rejects it.
fn split_fraction(s: &[u8]) -> (&[u8], &[u8]) {
    match s.split_first() {
        Some((b'.', after)) => {
            let n = after.iter().take_while(|b| b.is_ascii_digit()).count();
            if n == 0 {
                (&[], s)
            } else {
                after.split_at(n)
            }
        }
        _ => (&[], s),
    }
}

/// `Z`, `z` or `±HH:MM` as minutes east of UTC.
fn parse_offset(s: &[u8]) -> Option<i64> {
    match s {
        [b'Z' | b'z'] => Some(0),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (hours, minutes) = (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let total = hours * 60 + minutes;
            Some(if *sign == b'-' { -total } else { total })
        }
        _ => None,
    }
}

/// The first three digits of a fraction as milliseconds (`"5"` → 500), rest truncated.
fn millis_of_fraction(fraction: &[u8]) -> i64 {
    let mut ms = 0;
    for i in 0..3 {
        let digit = fraction.get(i).map_or(0, |d| i64::from(d - b'0'));
        ms = ms * 10 + digit;
    }
    ms
}

/// Two ASCII digits at `at`.
fn two(s: &[u8], at: usize) -> Option<i64> {
    digits(s.get(at..at + 2)?)
}

/// Non-empty ASCII digits as a number; `None` on anything else or on overflow.
fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0i64, |acc, &b| {
        let digit = b.is_ascii_digit().then(|| i64::from(b - b'0'))?;
        acc.checked_mul(10)?.checked_add(digit)
    })
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn ts(json: &str) -> Option<i64> {
        serde_json::from_str::<Timestamp>(json).ok().map(|t| t.0)
    }

    #[test]
    fn rfc3339_forms() {
        assert_eq!(ts(r#""1970-01-01T00:00:00Z""#), Some(0));
        assert_eq!(ts(r#""2026-11-22T10:00:00.123Z""#), Some(1_795_341_600_123));
        assert_eq!(ts(r#""2026-11-22T10:00:00.123456789Z""#), Some(1_795_341_600_123));
        assert_eq!(ts(r#""2026-11-22T10:00:00.1Z""#), Some(1_795_341_600_100));
        assert_eq!(ts(r#""2026-11-22t10:00:00z""#), Some(1_795_341_600_000));
        assert_eq!(ts(r#""2026-11-22 10:00:00Z""#), Some(1_795_341_600_000));
        assert_eq!(ts(r#""2026-11-22T12:30:00+02:30""#), Some(1_795_341_600_000));
        assert_eq!(ts(r#""2026-11-22T07:00:00.5-03:00""#), Some(1_795_341_600_500));
        assert_eq!(ts(r#""2024-02-29T00:00:00Z""#), Some(1_709_164_800_000));
        assert_eq!(ts(r#""1969-12-31T23:59:59.999Z""#), Some(-1));
    }

    #[test]
    fn rfc3339_rejects_malformed_text() {
        for bad in [
            "2026-11-22T10:00:00",
            "2026-11-22T10:00:00.Z",
            "2026-11-22T10:00:00+0200",
            "2026-11-22T24:00:00Z",
            "2026-02-30T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-00-10T00:00:00Z",
            "2026-11-22X10:00:00Z",
            "2026-11-22T10:00:00Zjunk",
            "2026-1a-22T10:00:00Z",
            "2026-",
        ] {
            assert_eq!(parse_str(bad), None, "{bad}");
        }
    }

    #[test]
    fn epoch_numbers_by_magnitude() {
        assert_eq!(ts("1795341600"), Some(1_795_341_600_000));
        assert_eq!(ts("1795341600.123"), Some(1_795_341_600_123));
        assert_eq!(ts("1795341600123"), Some(1_795_341_600_123));
        assert_eq!(ts("1795341600123.9"), Some(1_795_341_600_124));
        assert_eq!(ts("1795341600123456"), Some(1_795_341_600_123));
        assert_eq!(ts("1795341600123456789"), Some(1_795_341_600_123));
        assert_eq!(ts("0"), Some(0));
        assert_eq!(ts("18446744073709551615"), None);
    }

    #[test]
    fn epoch_numeric_strings_are_exact() {
        assert_eq!(ts(r#""1795341600""#), Some(1_795_341_600_000));
        assert_eq!(ts(r#""1795341600.123999""#), Some(1_795_341_600_123));
        assert_eq!(ts(r#""1795341600.5""#), Some(1_795_341_600_500));
        assert_eq!(ts(r#""1795341600123""#), Some(1_795_341_600_123));
        assert_eq!(ts(r#""1795341600123456789""#), Some(1_795_341_600_123));
        assert_eq!(ts(r#""-1.5""#), Some(-1_500));
        for bad in [
            r#""99999999999999999999""#,
            r#""""#,
            r#"".5""#,
            r#""12a""#,
            r#""1.2.3""#,
            r#""1e9""#,
            r#""-""#,
        ] {
            assert_eq!(ts(bad), None, "{bad}");
        }
    }

    #[test]
    fn rfc3339_matches_chrono_on_random_times() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..20_000 {
            let ms = rng.gen_range(-62_000_000_000_000i64..253_000_000_000_000);
            let offset_minutes = rng.gen_range(-23 * 60..=23 * 60);
            let offset = chrono::FixedOffset::east_opt(offset_minutes * 60).unwrap();
            let time = chrono::DateTime::from_timestamp_millis(ms)
                .unwrap()
                .with_timezone(&offset);
            let text = time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false);
            assert_eq!(parse_str(&text), Some(ms), "{text}");
        }
    }
}
