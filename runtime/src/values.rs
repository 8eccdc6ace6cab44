//! The typed setting values both binaries read, each checked the same way wherever it
//! is read. The identifiers (`TableName`, `TopicArn`, `QueueUrl`) implement `FromStr`,
//! so clap's derive picks their parser without an attribute; the numbers and durations
//! are functions to name in `value_parser = …`. Messages never repeat a value that
//! could be a secret, and fit after `VARIABLE: `.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

/// `Display`, `AsRef<str>`, `FromStr` and `From<T> for String` for a validated string
/// newtype with `parse` and `as_str`.
macro_rules! validated_string {
    ($name:ident) => {
        impl $name {
            /// The validated value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(raw: &str) -> Result<Self, Self::Err> {
                Self::parse(raw)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

/// A DynamoDB table name: 3 to 255 of `[A-Za-z0-9_.-]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName(String);

impl TableName {
    /// Checks length and characters.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let valid = (3..=255).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !valid {
            return Err("must be 3 to 255 of [A-Za-z0-9_.-]".into());
        }
        Ok(Self(raw.to_owned()))
    }
}

validated_string!(TableName);

/// An SNS topic ARN: `arn:PARTITION:sns:REGION:ACCOUNT:NAME` with a 12-digit account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicArn(String);

impl TopicArn {
    /// Checks the six ARN parts.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let parts: Vec<&str> = raw.split(':').collect();
        let valid = parts.len() == 6
            && parts[0] == "arn"
            && parts[2] == "sns"
            && parts[4].len() == 12
            && parts[4].bytes().all(|b| b.is_ascii_digit())
            && !parts[5].is_empty();
        if !valid {
            return Err("must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)".into());
        }
        Ok(Self(raw.to_owned()))
    }
}

validated_string!(TopicArn);

/// An SQS queue URL: `https://` (or `http://`, for an emulator) with a host and a
/// path, as `GetQueueUrl` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueUrl(String);

impl QueueUrl {
    /// Checks the scheme and that a host follows it.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let rest = raw
            .strip_prefix("https://")
            .or_else(|| raw.strip_prefix("http://"));
        let host = rest.map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""));
        let valid = host.is_some_and(|host| !host.is_empty()) && !raw.contains(char::is_whitespace);
        if !valid {
            return Err("must be an SQS queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)".into());
        }
        Ok(Self(raw.to_owned()))
    }
}

validated_string!(QueueUrl);

/// A `host:port` address to bind, like `127.0.0.1:8080`.
pub fn socket_addr(raw: &str) -> Result<SocketAddr, String> {
    raw.trim()
        .parse()
        .map_err(|_| format!("'{raw}' is not an address like 127.0.0.1:8080"))
}

/// A positive whole number (`0` is refused).
pub fn positive<T>(raw: &str) -> Result<T, String>
where
    T: FromStr + PartialOrd + Default,
{
    raw.trim()
        .parse::<T>()
        .ok()
        .filter(|n| *n > T::default())
        .ok_or_else(|| format!("'{raw}' is not a positive integer"))
}

/// A positive number of whole seconds.
pub fn positive_seconds(raw: &str) -> Result<Duration, String> {
    positive::<u64>(raw).map(Duration::from_secs)
}

/// Whole seconds from 0 to `max` (for tolerances, where 0 is meaningful).
pub fn seconds_at_most(raw: &str, max: u64) -> Result<Duration, String> {
    raw.trim()
        .parse::<u64>()
        .ok()
        .filter(|secs| *secs <= max)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("must be whole seconds from 0 to {max}"))
}

/// A memory budget below 4 GiB: bytes, or a number with `KiB`, `MiB` or `GiB`
/// (`25165824`, `24MiB`, `512 KiB`, `1GiB`); positive.
pub fn byte_size(raw: &str) -> Result<usize, String> {
    let trimmed = raw.trim();
    let digits = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(digits);
    let scale: Option<usize> = match unit.trim() {
        "" => Some(1),
        "KiB" => Some(1 << 10),
        "MiB" => Some(1 << 20),
        "GiB" => Some(1 << 30),
        _ => None,
    };
    scale
        .zip(number.parse::<usize>().ok())
        .and_then(|(scale, n)| n.checked_mul(scale))
        .filter(|n| *n > 0 && u32::try_from(*n).is_ok())
        .ok_or_else(|| format!("'{raw}' is not a size below 4GiB (bytes, or a number with KiB, MiB or GiB)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_three_to_255_of_the_dynamodb_characters() {
        for good in ["abc", "tenant-configs", "a.b_c-D9", &"t".repeat(255)] {
            assert!(TableName::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "ab", "t/x", "t x", "tä-configs", &"t".repeat(256)] {
            assert!(TableName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn topic_arns_need_sns_a_twelve_digit_account_and_a_name() {
        for good in [
            "arn:aws:sns:eu-west-1:111111111111:config-changes",
            "arn:aws-cn:sns:cn-north-1:111111111111:t",
        ] {
            assert_eq!(TopicArn::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "arn:aws:sqs:eu-west-1:111111111111:q",
            "arn:aws:sns:eu-west-1:1111:t",
            "arn:aws:sns:eu-west-1:111111111111:",
            "arn:aws:sns:eu-west-1:111111111111",
            "config-changes",
        ] {
            assert!(TopicArn::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn queue_urls_are_http_urls_with_a_host() {
        for good in [
            "https://sqs.eu-west-1.amazonaws.com/111111111111/log-delivery",
            "http://127.0.0.1:4566/111111111111/log-delivery",
            "http://q",
        ] {
            assert!(QueueUrl::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "log-delivery", "https://", "ftp://q/x", "https://q/a b"] {
            assert!(QueueUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses_need_a_host_and_a_port() {
        assert_eq!(socket_addr("0.0.0.0:9090").unwrap().port(), 9090);
        assert!(socket_addr("[::1]:80").is_ok());
        for bad in ["nowhere", "127.0.0.1", ":80", "localhost:80"] {
            let err = socket_addr(bad).unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn positive_numbers_refuse_zero_signs_and_fractions() {
        assert_eq!(positive::<u32>(" 16 "), Ok(16));
        for bad in ["0", "-1", "1.5", "soon", ""] {
            assert!(positive::<usize>(bad).is_err(), "{bad}");
        }
        assert_eq!(positive_seconds("120"), Ok(Duration::from_secs(120)));
        assert!(positive_seconds("0").is_err());
    }

    #[test]
    fn bounded_seconds_accept_zero_up_to_the_bound() {
        for (raw, secs) in [("0", 0), ("5", 5), (" 30 ", 30), ("300", 300)] {
            assert_eq!(
                seconds_at_most(raw, 300),
                Ok(Duration::from_secs(secs)),
                "{raw:?}"
            );
        }
        for raw in ["301", "-1", "1.5", "30s", "many"] {
            assert_eq!(
                seconds_at_most(raw, 300).unwrap_err(),
                "must be whole seconds from 0 to 300"
            );
        }
    }

    #[test]
    fn sizes_take_bytes_or_binary_units_below_four_gibibytes() {
        assert_eq!(byte_size("25165824"), Ok(24 << 20));
        assert_eq!(byte_size("24MiB"), Ok(24 << 20));
        assert_eq!(byte_size(" 512 KiB "), Ok(512 << 10));
        assert_eq!(byte_size("1GiB"), Ok(1 << 30));
        for bad in [
            "0",
            "0MiB",
            "MiB",
            "24MB",
            "-1",
            "1.5MiB",
            "4GiB",
            "99999999999999999999GiB",
        ] {
            assert!(byte_size(bad).is_err(), "{bad}");
        }
    }
}
