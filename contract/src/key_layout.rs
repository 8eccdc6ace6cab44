//! How an S3 target's copies are laid out under its prefix.
//!
//! - `staged` (the default): the staged key under the prefix,
//!   `{prefix}{tenant_id}/{cluster_id}/{namespace}/{application}/{pod_name}/{file}`;
//! - `hive`: Hive-style partitions that Athena and Glue read without a crawler,
//!   `{prefix}cluster={cluster_id}/namespace={namespace}/dt=YYYY-MM-DD/hour=HH/{file}`,
//!   the date and hour (UTC) of the object's first event. A key of the release before
//!   the namespace joined it goes under `namespace=__HIVE_DEFAULT_PARTITION__`, Hive's
//!   name for a missing partition value. The file name is the staged one
//!   (`{unix_ts}-{uuid}.json.gz`), unique on its own.

use crate::{BucketPrefix, ObjectKey, ParseError};

/// Hive's partition value for "none".
pub const HIVE_DEFAULT_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// An S3 target's key layout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KeyLayout {
    /// The staged key under the prefix.
    #[default]
    Staged,
    /// Hive-style partitions by cluster, namespace, date and hour.
    Hive,
}

impl KeyLayout {
    /// Every layout, for documents.
    pub const ALL: [KeyLayout; 2] = [Self::Staged, Self::Hive];

    /// `staged` or `hive`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Staged => "staged",
            Self::Hive => "hive",
        }
    }

    /// Parses a layout's name.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        Self::ALL
            .into_iter()
            .find(|layout| layout.as_str() == s)
            .ok_or_else(|| ParseError::new("is staged or hive"))
    }

    /// Whether the key depends on the object's first event (read before it is written).
    pub fn needs_first_event(self) -> bool {
        self == Self::Hive
    }

    /// The key of `object`'s copy under `prefix`; `first_event_ms` (epoch milliseconds)
    /// dates a `hive` key.
    pub fn key(self, prefix: &BucketPrefix, object: &ObjectKey, first_event_ms: i64) -> String {
        match self {
            Self::Staged => format!("{prefix}{object}"),
            Self::Hive => {
                let (date, hour) = date_and_hour(first_event_ms);
                let namespace = object.namespace().map_or(HIVE_DEFAULT_PARTITION, |n| n.as_str());
                format!(
                    "{prefix}cluster={}/namespace={namespace}/dt={date}/hour={hour:02}/{}",
                    object.cluster_id(),
                    object.file()
                )
            }
        }
    }
}

/// `YYYY-MM-DD` and the hour (UTC) of epoch milliseconds (days from the civil calendar
/// algorithm, so no date library is needed; times before 1970 are clamped to it).
fn date_and_hour(ms: i64) -> (String, i64) {
    let seconds = ms.max(0) / 1000;
    let (days, second_of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days);
    (format!("{year:04}-{month:02}-{day:02}"), second_of_day / 3600)
}

/// Howard Hinnant's `civil_from_days`: the proleptic Gregorian date of a day number
/// (days since 1970-01-01).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(raw: &str) -> ObjectKey {
        ObjectKey::parse(raw).unwrap()
    }

    #[test]
    fn the_staged_layout_keeps_the_staged_key_under_the_prefix() {
        let prefix = BucketPrefix::parse("k8s").unwrap();
        let object = key("acme/prod-eu-1/payments/checkout/checkout-7d9f/1700000000-0b6e2f4c.json.gz");
        assert_eq!(
            KeyLayout::Staged.key(&prefix, &object, 0),
            "k8s/acme/prod-eu-1/payments/checkout/checkout-7d9f/1700000000-0b6e2f4c.json.gz"
        );
    }

    #[test]
    fn the_hive_layout_partitions_by_cluster_namespace_and_the_first_events_date_and_hour() {
        let prefix = BucketPrefix::parse("archive/").unwrap();
        let object = key("acme/prod-eu-1/payments/checkout/checkout-7d9f/1700000000-0b6e2f4c.json.gz");
        // 2023-11-14T22:13:20.000Z
        assert_eq!(
            KeyLayout::Hive.key(&prefix, &object, 1_700_000_000_000),
            "archive/cluster=prod-eu-1/namespace=payments/dt=2023-11-14/hour=22/1700000000-0b6e2f4c.json.gz"
        );
        let legacy = key("acme/prod-eu-1/checkout/checkout-7d9f/1700000000-0b6e2f4c.json.gz");
        assert!(KeyLayout::Hive
            .key(&BucketPrefix::parse("").unwrap(), &legacy, 0)
            .starts_with("cluster=prod-eu-1/namespace=__HIVE_DEFAULT_PARTITION__/dt=1970-01-01/hour=00/"));
    }

    #[test]
    fn dates_follow_the_calendar_across_months_leap_days_and_years() {
        let at = |ms: i64| date_and_hour(ms);
        assert_eq!(at(951_782_400_000), ("2000-02-29".to_owned(), 0)); // a leap day of a century
        assert_eq!(at(1_709_251_199_999), ("2024-02-29".to_owned(), 23));
        assert_eq!(at(1_709_251_200_000), ("2024-03-01".to_owned(), 0));
        assert_eq!(at(1_735_689_599_000), ("2024-12-31".to_owned(), 23));
        assert_eq!(at(1_735_689_600_000), ("2025-01-01".to_owned(), 0));
        assert_eq!(at(-5), ("1970-01-01".to_owned(), 0));
    }

    #[test]
    fn layouts_parse_by_name() {
        assert_eq!(KeyLayout::parse("hive"), Ok(KeyLayout::Hive));
        assert_eq!(KeyLayout::parse("staged"), Ok(KeyLayout::Staged));
        assert!(KeyLayout::parse("parquet").is_err());
    }
}
