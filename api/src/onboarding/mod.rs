//! Onboarding a customer account: the tenant's ExternalId, the CloudFormation
//! quick-create link for `cloudformation/customer-log-delivery-role.yaml` (with the
//! destinations its stack may create), and the start-up check that the template declares
//! the parameters the links fill.

pub mod destination;
pub mod external_id;
pub mod link;
pub mod template_check;
