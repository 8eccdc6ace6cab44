//! A customer's delivery role, launched from the committed template through
//! CloudFormation, as the customer's click on the quick-create link would.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_cloudformation::types::{Capability, Parameter, Stack};
use logspoke_contract::RoleArn;

use crate::{unique, CUSTOMER_TEMPLATE};

/// How often and how many times the stack's status is read before giving up.
const POLL: Duration = Duration::from_millis(100);
const POLLS: usize = 100;

/// Launches a customer stack from the committed template with `parameters` (as the
/// customer's click on the quick-create link would) and returns the role ARN it outputs.
pub async fn launch_customer_stack<K, V>(
    sdk: &SdkConfig,
    parameters: impl IntoIterator<Item = (K, V)>,
) -> RoleArn
where
    K: Into<String>,
    V: Into<String>,
{
    let outputs = launch_customer_stack_outputs(sdk, parameters).await;
    RoleArn::parse(&outputs["RoleArn"]).unwrap()
}

/// [`launch_customer_stack`], returning every output by name (`RoleArn`, and
/// `NotificationTopicArn` when the stack notifies).
pub async fn launch_customer_stack_outputs<K, V>(
    sdk: &SdkConfig,
    parameters: impl IntoIterator<Item = (K, V)>,
) -> BTreeMap<String, String>
where
    K: Into<String>,
    V: Into<String>,
{
    crate::require_emulator();
    let cloudformation = aws_sdk_cloudformation::Client::new(sdk);
    let name = unique("logspoke-role");
    let parameters = parameters
        .into_iter()
        .map(|(key, value)| {
            Parameter::builder()
                .parameter_key(key)
                .parameter_value(value)
                .build()
        })
        .collect();
    cloudformation
        .create_stack()
        .stack_name(&name)
        .template_body(CUSTOMER_TEMPLATE)
        .capabilities(Capability::CapabilityNamedIam)
        .set_parameters(Some(parameters))
        .send()
        .await
        .unwrap();
    wait_for_stack(&cloudformation, &name)
        .await
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect()
}

/// The stack once it is `CREATE_COMPLETE`; panics when it ends otherwise or takes too long.
async fn wait_for_stack(cloudformation: &aws_sdk_cloudformation::Client, name: &str) -> Stack {
    for _ in 0..POLLS {
        let described = cloudformation
            .describe_stacks()
            .stack_name(name)
            .send()
            .await
            .unwrap();
        let stack = described.stacks()[0].clone();
        match stack.stack_status().map(|s| s.as_str()) {
            Some("CREATE_COMPLETE") => return stack,
            Some(status) if status.ends_with("IN_PROGRESS") => tokio::time::sleep(POLL).await,
            other => panic!("stack {stack:?} ended in {other:?}"),
        }
    }
    panic!("stack {name} did not complete");
}
