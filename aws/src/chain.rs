//! The credential chain, exactly as the delivery worker uses it: base credentials →
//! the provider role → the customer's role with the tenant's ExternalId.
//!
//! Provider-role credentials are cached and refreshed ahead of expiry. The second hop is
//! role chaining, which AWS caps at one hour.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use logspoke_contract::{ExternalId, RoleArn};
use tokio::sync::Mutex;

use crate::error::{AwsError, AwsErrorKind};

/// Refresh cached credentials when less than this remains.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
/// Lifetime asked for the provider-role session.
const PROVIDER_SESSION: Duration = Duration::from_secs(3600);

/// Assumes roles along the provider chain.
pub struct RoleChain {
    sdk: SdkConfig,
    provider_role: RoleArn,
    /// Session name of the provider-role hop (visible in the provider's CloudTrail).
    component: String,
    provider: Mutex<Option<Credentials>>,
}

impl std::fmt::Debug for RoleChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleChain")
            .field("provider_role", &self.provider_role.as_str())
            .finish()
    }
}

impl RoleChain {
    /// A chain starting from the SDK's base credentials, for the api.
    pub fn new(sdk: SdkConfig, provider_role: RoleArn) -> Arc<Self> {
        Self::for_component(sdk, provider_role, "logspoke-api")
    }

    /// A chain whose provider-role sessions are named after `component`
    /// (`logspoke-api`, `logspoke-worker`), so CloudTrail tells them apart.
    pub fn for_component(sdk: SdkConfig, provider_role: RoleArn, component: &str) -> Arc<Self> {
        Arc::new(Self {
            sdk,
            provider_role,
            component: component.to_owned(),
            provider: Mutex::new(None),
        })
    }

    /// The SDK configuration (region, endpoint, HTTP client) clients are built from.
    pub fn sdk(&self) -> &SdkConfig {
        &self.sdk
    }

    /// The provider role customers trust.
    pub fn provider_role(&self) -> &RoleArn {
        &self.provider_role
    }

    /// Provider-role credentials, from the cache while they are fresh.
    pub async fn provider_credentials(&self) -> Result<Credentials, AwsError> {
        let mut cached = self.provider.lock().await;
        if let Some(credentials) = cached.as_ref().filter(|c| is_fresh(c)) {
            return Ok(credentials.clone());
        }
        let sts = aws_sdk_sts::Client::new(&self.sdk);
        let credentials = assume(&sts, &self.provider_role, None, &self.component, PROVIDER_SESSION).await?;
        *cached = Some(credentials.clone());
        Ok(credentials)
    }

    /// Assumes a customer role from the provider role. There is no way to do so without
    /// an ExternalId: every customer role is assumed with one (the tenant's, or in
    /// `verify` a deliberately wrong one), never without; and never a role that
    /// [`RoleArn::check_customer_role`] refuses (the provider's own account, or outside
    /// the onboarding template's path), whatever is stored.
    pub async fn assume_customer(
        &self,
        role: &RoleArn,
        external_id: &ExternalId,
        session_name: &str,
        duration: Duration,
    ) -> Result<Credentials, AwsError> {
        // Checked here, where every customer role is assumed, and not only where configs
        // are written: a row stored before the rule existed must not reach STS either.
        role.check_customer_role(&self.provider_role)
            .map_err(|reason| AwsError {
                code: Some("RoleNotAllowed".into()),
                message: Some(format!("{role} is not a customer delivery role: {reason}")),
                status: None,
                kind: AwsErrorKind::Other,
            })?;
        let provider = self.provider_credentials().await?;
        let config = aws_sdk_sts::config::Builder::from(&self.sdk)
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build();
        let sts = aws_sdk_sts::Client::from_conf(config);
        assume(&sts, role, Some(external_id), session_name, duration).await
    }
}

fn is_fresh(credentials: &Credentials) -> bool {
    credentials
        .expiry()
        .and_then(|expiry| expiry.duration_since(SystemTime::now()).ok())
        .is_some_and(|left| left > REFRESH_MARGIN)
}

async fn assume(
    sts: &aws_sdk_sts::Client,
    role: &RoleArn,
    external_id: Option<&ExternalId>,
    session_name: &str,
    duration: Duration,
) -> Result<Credentials, AwsError> {
    let output = sts
        .assume_role()
        .role_arn(role.as_str())
        .role_session_name(session_name)
        .set_external_id(external_id.map(ToString::to_string))
        .duration_seconds(i32::try_from(duration.as_secs()).unwrap_or(900))
        .send()
        .await?;
    let issued = output.credentials().ok_or_else(|| AwsError {
        code: None,
        message: Some("AssumeRole returned no credentials".into()),
        status: None,
        kind: AwsErrorKind::Other,
    })?;
    let expiry = SystemTime::try_from(*issued.expiration()).ok();
    Ok(Credentials::new(
        issued.access_key_id(),
        issued.secret_access_key(),
        Some(issued.session_token().to_owned()),
        expiry,
        "logspoke-role-chain",
    ))
}

/// A RoleSessionName that identifies the tenant in the customer's CloudTrail:
/// `{prefix}-{tenant_id}`, cut to the 64-character limit.
pub fn session_name(prefix: &str, tenant_id: &str) -> String {
    let mut name = format!("{prefix}-{tenant_id}");
    name.truncate(64);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn roles_in_the_provider_account_or_outside_the_path_are_never_assumed() {
        let provider = RoleArn::parse("arn:aws:iam::111111111111:role/LogspokeProvider").unwrap();
        // No endpoint or credentials: the refusal must come before any AWS call.
        let chain = RoleChain::new(SdkConfig::builder().build(), provider);
        let external_id = ExternalId::generate();
        for role in [
            "arn:aws:iam::111111111111:role/logspoke/worker",
            "arn:aws:iam::111111111111:role/LogspokeProvider",
            "arn:aws:iam::222222222222:role/Delivery",
        ] {
            let role = RoleArn::parse(role).unwrap();
            let err = chain
                .assume_customer(&role, &external_id, "logspoke-test", Duration::from_secs(900))
                .await
                .unwrap_err();
            assert_eq!(err.code(), "RoleNotAllowed", "{role}");
            assert!(!err.is_transient());
        }
    }

    #[test]
    fn session_names_fit_the_sts_limit() {
        assert_eq!(session_name("logspoke-verify", "acme"), "logspoke-verify-acme");
        let long = session_name("logspoke-verify", &"a".repeat(63));
        assert_eq!(long.len(), 64);
        assert!(long
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)));
    }

    #[test]
    fn credentials_near_expiry_are_not_fresh() {
        let soon = Credentials::new(
            "a",
            "b",
            None,
            Some(SystemTime::now() + Duration::from_secs(60)),
            "t",
        );
        let later = Credentials::new(
            "a",
            "b",
            None,
            Some(SystemTime::now() + Duration::from_secs(3000)),
            "t",
        );
        assert!(!is_fresh(&soon));
        assert!(is_fresh(&later));
    }
}
