//! The SNS topic a tenant's notifications go to.

use logspoke_contract::{Partition, Region, RoleArn};

/// `arn:{partition}:sns:{region}:{account}:{name}`, where the name is 1–256 letters,
/// digits, `-` and `_` (a FIFO topic's ends in `.fifo`, within the 256).
pub const PATTERN: &str =
    r"^arn:aws(-cn|-us-gov)?:sns:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$";

/// A validated SNS topic ARN of a customer's account (the provider's own topics are
/// configuration values, `logspoke_runtime::values::TopicArn`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationTopic {
    arn: String,
    partition: Partition,
    region: Region,
    account_id: String,
}

impl NotificationTopic {
    /// Parses the ARN: partition, a real region of it, a 12-digit account and a topic
    /// name SNS accepts.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let parts: Vec<&str> = raw.split(':').collect();
        let [arn, partition, service, region, account, name] = parts[..] else {
            return Err("must be an SNS topic ARN: arn:aws:sns:REGION:ACCOUNT:NAME".into());
        };
        if arn != "arn" || service != "sns" {
            return Err("must be an SNS topic ARN: arn:aws:sns:REGION:ACCOUNT:NAME".into());
        }
        let partition = Partition::parse(partition).map_err(|e| e.to_string())?;
        let region = Region::parse_in(region, partition).map_err(|e| e.to_string())?;
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err("the account must be 12 digits".into());
        }
        let stem = name.strip_suffix(".fifo").unwrap_or(name);
        let valid_name = !stem.is_empty()
            && name.len() <= 256
            && stem
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid_name {
            return Err(
                "the topic name must be 1-256 letters, digits, '-' and '_' (a FIFO topic's ending in .fifo)"
                    .into(),
            );
        }
        Ok(Self {
            arn: raw.to_owned(),
            partition,
            region,
            account_id: account.to_owned(),
        })
    }

    /// Checks that `role` can publish to it with the onboarding stack's grant: a role of
    /// the topic's own account and partition (the stack grants `sns:Publish` on a topic
    /// of its account only, and a customer can only ever notify itself).
    pub fn check_role(&self, role: &RoleArn) -> Result<(), String> {
        if role.partition() != self.partition || role.account_id() != self.account_id {
            return Err(format!(
                "must be a topic of the role's account {} (the role publishes to it)",
                role.account_id()
            ));
        }
        Ok(())
    }

    /// The ARN.
    pub fn as_str(&self) -> &str {
        &self.arn
    }

    /// The topic's region (where it is published to).
    pub fn region(&self) -> Region {
        self.region
    }

    /// A FIFO topic needs a group and a deduplication id on every message.
    pub fn is_fifo(&self) -> bool {
        self.arn.ends_with(".fifo")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_arns_parse_with_their_region_and_fifo_kind() {
        let topic =
            NotificationTopic::parse("arn:aws:sns:eu-west-1:222222222222:logspoke-notifications").unwrap();
        assert_eq!(topic.region().as_str(), "eu-west-1");
        assert!(!topic.is_fifo());
        assert!(
            NotificationTopic::parse("arn:aws-cn:sns:cn-north-1:222222222222:alerts.fifo")
                .unwrap()
                .is_fifo()
        );
    }

    #[test]
    fn malformed_topic_arns_are_refused_with_the_reason() {
        for (raw, reason) in [
            ("arn:aws:sqs:eu-west-1:222222222222:q", "SNS topic ARN"),
            ("arn:aws:sns:eu-west-1:222222222222", "SNS topic ARN"),
            ("arn:aws:sns:mars-1:222222222222:t", "region"),
            ("arn:aws-cn:sns:eu-west-1:222222222222:t", "region"),
            ("arn:aws:sns:eu-west-1:2222:t", "12 digits"),
            ("arn:aws:sns:eu-west-1:222222222222:a b", "topic name"),
            ("arn:aws:sns:eu-west-1:222222222222:.fifo", "topic name"),
        ] {
            let err = NotificationTopic::parse(raw).unwrap_err();
            assert!(err.contains(reason), "{raw}: {err}");
        }
        let long = format!("arn:aws:sns:eu-west-1:222222222222:{}", "t".repeat(257));
        assert!(NotificationTopic::parse(&long).is_err());
    }

    #[test]
    fn the_topic_must_be_in_the_roles_account() {
        let topic = NotificationTopic::parse("arn:aws:sns:eu-west-1:222222222222:n").unwrap();
        let own = RoleArn::parse("arn:aws:iam::222222222222:role/logspoke/D").unwrap();
        let other = RoleArn::parse("arn:aws:iam::333333333333:role/logspoke/D").unwrap();
        assert_eq!(topic.check_role(&own), Ok(()));
        assert!(topic.check_role(&other).unwrap_err().contains("333333333333"));
    }
}
