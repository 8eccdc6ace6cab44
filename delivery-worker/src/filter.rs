//! Which lines of a staged object a target receives: its config's [`Filter`], applied to
//! one object.
//!
//! The filter's rules look at the object's key (`namespace`, `application`, `pod`) and at
//! each line (`container`, `message`). [`LineFilter::for_object`] settles what it can
//! once per object, so that most configs pay nothing per line:
//!
//! - no rule, or rules on the key only that keep the object: [`LineFilter::KeepAll`] — the
//!   reader does not even look for `container`, the S3 copy stays a byte-for-byte copy;
//! - rules on the key only that remove the object: [`LineFilter::DropAll`] — the object is
//!   read only to count its lines (as filtered), nothing is sent;
//! - rules on `container` or `message`: [`LineFilter::PerLine`] — each line is decided
//!   with the key's fields and its own.
//!
//! Built in `pipeline::target`, the unit every delivery path (live, drain, replay, the
//! Lambda function) goes through, and carried to the sinks with each attempt; the sinks
//! report the lines it removed as `Delivered::events_filtered`, which that unit counts in
//! the target's health. A line that is not a log event (a bad line) is never counted here:
//! it is counted as a bad line whatever the filter.

use std::sync::Arc;

use logspoke_contract::{Filter, LineFields, ObjectKey};

use crate::reader::Event;

/// What a target's filter makes of one object's lines.
#[derive(Debug, Clone, Default)]
pub enum LineFilter {
    /// Every line: no per-line work at all.
    #[default]
    KeepAll,
    /// None of them: the object's lines are only counted.
    DropAll,
    /// Each line as the filter decides (shared: cheap to hand to a decoding thread).
    PerLine(Arc<PerLine>),
}

/// A filter that looks into lines, with the fields the object's key gives every line.
#[derive(Debug)]
pub struct PerLine {
    filter: Filter,
    namespace: Option<String>,
    application: String,
    pod: String,
}

impl LineFilter {
    /// What `filter` makes of the lines of the object staged as `layout`.
    pub fn for_object(filter: &Filter, layout: &ObjectKey) -> Self {
        let namespace = layout.namespace().map(|n| n.as_str());
        match filter.keeps_object(namespace, layout.application(), layout.pod_name()) {
            Some(true) => Self::KeepAll,
            Some(false) => Self::DropAll,
            None => Self::PerLine(Arc::new(PerLine {
                filter: filter.clone(),
                namespace: namespace.map(str::to_owned),
                application: layout.application().to_owned(),
                pod: layout.pod_name().to_owned(),
            })),
        }
    }

    /// True when every line goes: the object may be handled whole.
    pub fn keeps_all(&self) -> bool {
        matches!(self, Self::KeepAll)
    }

    /// True when no line goes: the object is only counted.
    pub fn drops_all(&self) -> bool {
        matches!(self, Self::DropAll)
    }

    /// Whether deciding needs each line's `container` (the reader then reads it).
    pub fn needs_container(&self) -> bool {
        match self {
            Self::PerLine(per_line) => per_line.filter.needs_container(),
            Self::KeepAll | Self::DropAll => false,
        }
    }

    /// Whether `event` (read with its container when [`Self::needs_container`]) goes.
    pub fn keeps(&self, event: &Event<'_>) -> bool {
        match self {
            Self::KeepAll => true,
            Self::DropAll => false,
            Self::PerLine(per_line) => per_line.filter.keeps(&LineFields {
                namespace: per_line.namespace.as_deref(),
                application: &per_line.application,
                container: event.container.as_deref(),
                pod: &per_line.pod,
                message: &event.message,
            }),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::borrow::Cow;

    use logspoke_contract::{FilterField, FilterRuleSpec, FilterSpec};

    use super::*;

    fn rule(field: FilterField, equals: &str) -> FilterRuleSpec {
        FilterRuleSpec {
            field: Some(field),
            equals: Some(equals.to_owned()),
            ..FilterRuleSpec::default()
        }
    }

    fn contains(field: FilterField, text: &str) -> FilterRuleSpec {
        FilterRuleSpec {
            field: Some(field),
            contains: Some(text.to_owned()),
            ..FilterRuleSpec::default()
        }
    }

    fn filter(include: Vec<FilterRuleSpec>, exclude: Vec<FilterRuleSpec>) -> Filter {
        Filter::parse(&FilterSpec { include, exclude }).unwrap()
    }

    fn key(raw: &str) -> ObjectKey {
        ObjectKey::parse(raw).unwrap()
    }

    fn event<'a>(container: Option<&'a str>, message: &'a str) -> Event<'a> {
        Event {
            timestamp_ms: 1,
            message: Cow::Borrowed(message),
            container: container.map(Cow::Borrowed),
        }
    }

    const KEY: &str = "acme/c1/shop/checkout/checkout-7d9f/1700000000-u.json.gz";

    #[test]
    fn no_rule_keeps_every_line_without_looking_at_them() {
        let lines = LineFilter::for_object(&Filter::default(), &key(KEY));
        assert!(lines.keeps_all() && !lines.needs_container());
        assert!(lines.keeps(&event(None, "anything")));
    }

    #[test]
    fn rules_on_the_key_alone_decide_for_the_whole_object() {
        let only_shop = filter(vec![rule(FilterField::Namespace, "shop")], vec![]);
        assert!(LineFilter::for_object(&only_shop, &key(KEY)).keeps_all());
        let not_checkout = filter(vec![], vec![rule(FilterField::Application, "checkout")]);
        let lines = LineFilter::for_object(&not_checkout, &key(KEY));
        assert!(lines.drops_all());
        assert!(!lines.keeps(&event(Some("app"), "anything")));
        // A key of the release before the namespace matches no namespace rule.
        let legacy = key("acme/c1/checkout/checkout-7d9f/1700000000-u.json.gz");
        assert!(LineFilter::for_object(&only_shop, &legacy).drops_all());
    }

    #[test]
    fn each_line_is_decided_with_the_keys_fields_and_its_container() {
        let audit_errors = filter(
            vec![
                rule(FilterField::Container, "audit"),
                contains(FilterField::Message, "ERROR"),
            ],
            vec![
                rule(FilterField::Pod, "other-pod"),
                contains(FilterField::Message, "healthz"),
            ],
        );
        let lines = LineFilter::for_object(&audit_errors, &key(KEY));
        assert!(lines.needs_container());
        assert!(lines.keeps(&event(Some("audit"), "user logged in")));
        assert!(lines.keeps(&event(Some("app"), "ERROR declined")));
        assert!(!lines.keeps(&event(Some("app"), "INFO fine")));
        assert!(
            !lines.keeps(&event(None, "INFO no container")),
            "no container matches no rule on it"
        );
        assert!(
            !lines.keeps(&event(Some("audit"), "GET /healthz")),
            "an exclude wins"
        );
        // A rule on the key still counts when another looks into lines: this pod's
        // lines all go.
        let not_this_pod = filter(
            vec![],
            vec![
                rule(FilterField::Pod, "checkout-7d9f"),
                contains(FilterField::Message, "x"),
            ],
        );
        let lines = LineFilter::for_object(&not_this_pod, &key(KEY));
        assert!(!lines.keeps(&event(Some("audit"), "y")));
    }

    #[test]
    fn a_message_filter_does_not_ask_for_the_container() {
        let errors = filter(vec![contains(FilterField::Message, "ERROR")], vec![]);
        let lines = LineFilter::for_object(&errors, &key(KEY));
        assert!(!lines.keeps_all() && !lines.needs_container());
        assert!(lines.keeps(&event(None, "ERROR x")));
    }
}
