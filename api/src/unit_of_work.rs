//! The unit of work every write shares: one transaction in which the rows change, the
//! change is audited and, when a config's read-model item changes, the outbox gets it.
//! Either all of it commits or none of it does. It knows nothing of HTTP: it fails with
//! a [`StoreError`], which the handlers turn into a response like any other.

use logspoke_contract::{DeliveryType, TenantId};
use serde_json::Value;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::audit::{self, Actor, Change, RequestId};
use crate::auth::Principal;
use crate::configs::Config;
use crate::outbox;
use crate::replays;
use crate::store::StoreError;

/// An open write transaction on behalf of one principal and request.
pub struct WriteTx<'a> {
    tx: Transaction<'static, Postgres>,
    actor: Actor<'a>,
}

impl<'a> WriteTx<'a> {
    /// Begins the transaction.
    pub async fn begin(
        db: &PgPool,
        principal: &'a Principal,
        request_id: &'a RequestId,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            tx: db.begin().await?,
            actor: Actor {
                principal,
                request_id,
            },
        })
    }

    /// The connection the queries of this write run on.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Who makes the change.
    pub fn actor(&self) -> Actor<'a> {
        self.actor
    }

    /// Audits a change of the tenant itself (or of something no read-model item carries).
    pub async fn audit(
        &mut self,
        tenant_id: &TenantId,
        action: &'static str,
        before: Option<Value>,
        after: Option<Value>,
    ) -> Result<(), StoreError> {
        self.record(tenant_id, None, action, before, after).await
    }

    /// Audits a change that belongs to one config but is not the config itself (a
    /// replay).
    pub async fn audit_of_config(
        &mut self,
        tenant_id: &TenantId,
        delivery_type: DeliveryType,
        action: &'static str,
        before: Option<Value>,
        after: Option<Value>,
    ) -> Result<(), StoreError> {
        self.record(tenant_id, Some(delivery_type), action, before, after)
            .await
    }

    /// Audits a change of one config and enqueues its read-model item as `after` (the
    /// config as this transaction leaves it; `None` when deleted: its replays that may
    /// still run are cancelled too).
    pub async fn config_changed(
        &mut self,
        tenant_id: &TenantId,
        delivery_type: DeliveryType,
        action: &'static str,
        before: Option<&Config>,
        after: Option<&Config>,
    ) -> Result<(), StoreError> {
        let (old, new) = (
            before.map(Config::audit_document),
            after.map(Config::audit_document),
        );
        self.record(tenant_id, Some(delivery_type), action, old, new)
            .await?;
        if after.is_none() {
            for replay_id in
                replays::repository::cancel_unfinished(&mut self.tx, tenant_id, delivery_type).await?
            {
                let id = replay_id.to_string();
                outbox::enqueue_replay_cancel(&mut self.tx, tenant_id, delivery_type, &id).await?;
            }
        }
        outbox::enqueue_state(&mut self.tx, tenant_id, delivery_type, after).await
    }

    async fn record(
        &mut self,
        tenant_id: &TenantId,
        delivery_type: Option<DeliveryType>,
        action: &'static str,
        before: Option<Value>,
        after: Option<Value>,
    ) -> Result<(), StoreError> {
        let change = Change {
            tenant_id,
            action,
            delivery_type,
            before,
            after,
        };
        Ok(audit::record(&mut self.tx, self.actor, change).await?)
    }

    /// Commits everything.
    pub async fn commit(self) -> Result<(), StoreError> {
        Ok(self.tx.commit().await?)
    }
}
