//! Customer-role credentials, cached per (role, ExternalId).
//!
//! Every object of a tenant needs the same session, and role chaining caps a session at
//! one hour, so the cache asks for a one-hour session and refreshes it once less than ten
//! minutes remain: one AssumeRole per tenant role per ~50 minutes in steady state. One
//! lock per key makes concurrent objects of a tenant share a single AssumeRole. A refusal
//! is remembered briefly, so a broken role does not turn every message into an STS call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use logspoke_aws::{session_name, AwsError, RoleChain};
use logspoke_contract::{ExternalId, RoleArn, TenantId};
use tokio::sync::Mutex;

/// Session length asked for (the role-chaining maximum).
const SESSION: Duration = Duration::from_secs(3600);
/// Refresh once less than this remains.
const REFRESH_MARGIN: Duration = Duration::from_secs(10 * 60);
/// How long a refusal is remembered before STS is asked again.
const NEGATIVE_TTL: Duration = Duration::from_secs(15);

/// The state of one key.
#[derive(Default)]
enum Entry {
    #[default]
    Empty,
    Issued(Credentials),
    Refused {
        error: AwsError,
        at: Instant,
    },
}

/// One lock per (role ARN, ExternalId).
type Slots = HashMap<(String, String), Arc<Mutex<Entry>>>;

/// Credentials for customer roles, assumed through the provider role.
pub struct CredentialCache {
    chain: Arc<RoleChain>,
    entries: SyncMutex<Slots>,
}

impl CredentialCache {
    /// A cache over `chain` (base credentials → provider role).
    pub fn new(chain: Arc<RoleChain>) -> Self {
        Self {
            chain,
            entries: SyncMutex::new(HashMap::new()),
        }
    }

    /// The SDK configuration (region, endpoint, HTTP client) clients are built from.
    pub fn sdk(&self) -> &aws_config::SdkConfig {
        self.chain.sdk()
    }

    /// Credentials for `role` with `external_id`, from the cache while they are fresh.
    pub async fn customer(
        &self,
        tenant_id: &TenantId,
        role: &RoleArn,
        external_id: &ExternalId,
    ) -> Result<Credentials, AwsError> {
        let slot = self.slot(role, external_id);
        let mut entry = slot.lock().await;
        match &*entry {
            Entry::Issued(credentials) if is_fresh(credentials) => return Ok(credentials.clone()),
            Entry::Refused { error, at } if at.elapsed() < NEGATIVE_TTL => return Err(error.clone()),
            _ => {}
        }
        let name = session_name("logspoke", tenant_id.as_str());
        metrics::counter!("logspoke_worker_assume_role_total", "tenant_id" => tenant_id.to_string())
            .increment(1);
        match self
            .chain
            .assume_customer(role, external_id, &name, SESSION)
            .await
        {
            Ok(credentials) => {
                *entry = Entry::Issued(credentials.clone());
                Ok(credentials)
            }
            Err(error) => {
                if !error.is_transient() {
                    *entry = Entry::Refused {
                        error: error.clone(),
                        at: Instant::now(),
                    };
                }
                Err(error)
            }
        }
    }

    fn slot(&self, role: &RoleArn, external_id: &ExternalId) -> Arc<Mutex<Entry>> {
        let key = (role.as_str().to_owned(), external_id.as_str().to_owned());
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.entry(key).or_default().clone()
    }
}

fn is_fresh(credentials: &Credentials) -> bool {
    credentials
        .expiry()
        .and_then(|expiry| expiry.duration_since(SystemTime::now()).ok())
        .is_some_and(|left| left > REFRESH_MARGIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expiring_in(seconds: u64) -> Credentials {
        Credentials::new(
            "a",
            "b",
            None,
            Some(SystemTime::now() + Duration::from_secs(seconds)),
            "t",
        )
    }

    #[test]
    fn a_session_is_reused_for_fifty_minutes() {
        assert!(is_fresh(&expiring_in(3600)));
        assert!(is_fresh(&expiring_in(11 * 60)));
        assert!(!is_fresh(&expiring_in(9 * 60)));
        assert!(!is_fresh(&Credentials::new("a", "b", None, None, "t")));
    }
}
