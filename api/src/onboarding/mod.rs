//! Onboarding a customer account: the tenant's ExternalId, the CloudFormation
//! quick-create link for `cloudformation/customer-log-delivery-role.yaml`, and the
//! start-up check that the template declares the parameters the links fill.

pub mod external_id;
pub mod link;
pub mod template_check;

/// Template parameters the quick-create link fills. The template must declare each one
/// (the console silently drops unknown `param_` names, which would leave the customer's
/// role without the ExternalId condition value).
pub const LINK_PARAMETERS: [&str; 4] = ["ExternalId", "ProviderRoleArn", "LogGroupName", "BucketName"];
