//! A scripted [`Deliverer`] for unit tests: answers per (tenant, target type) from a
//! script (then `Ok`), and records every call.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use logspoke_contract::DeliveryType;

use super::{Attempt, Delivered, Deliverer, Progress, Resume, TargetError};
use crate::event::StagedObject;

/// One call: tenant, target type, object key, where it resumed.
pub type Call = (String, DeliveryType, String, Resume);

/// One scripted answer.
pub type Answer = Result<Delivered, TargetError>;

/// Answers as scripted and records each call.
#[derive(Default)]
pub struct FakeDeliverer {
    /// Answers still to give, per (tenant, type); `always` answers after they run out.
    pub script: Mutex<HashMap<(String, DeliveryType), VecDeque<Answer>>>,
    /// An answer given every time for (tenant, type) once its script is used up.
    pub always: HashMap<(String, DeliveryType), Result<Delivered, TargetError>>,
    /// Calls in order.
    pub calls: Mutex<Vec<Call>>,
    /// Objects read, once per `deliver` call, however many targets it served.
    pub reads: Mutex<Vec<String>>,
    /// What each call's filter made of the object's lines: `keep_all`, `drop_all` or
    /// `per_line`, with the target type, in call order.
    pub lines: Mutex<Vec<(DeliveryType, &'static str)>>,
    /// How long each target's delivery takes (none by default).
    pub delay: Option<std::time::Duration>,
}

impl FakeDeliverer {
    /// Answers `result` to every delivery to (tenant, type).
    pub fn always(
        mut self,
        tenant: &str,
        kind: DeliveryType,
        result: Result<Delivered, TargetError>,
    ) -> Self {
        self.always.insert((tenant.to_owned(), kind), result);
        self
    }

    /// Takes `delay` over each target's delivery.
    pub fn slow(mut self, delay: std::time::Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Answers `results` to the next deliveries to (tenant, type).
    pub fn then(
        self,
        tenant: &str,
        kind: DeliveryType,
        results: Vec<Result<Delivered, TargetError>>,
    ) -> Self {
        self.script
            .lock()
            .unwrap()
            .insert((tenant.to_owned(), kind), results.into());
        self
    }

    /// The calls made to (tenant, type), as object keys.
    pub fn keys(&self, tenant: &str, kind: DeliveryType) -> Vec<String> {
        let calls = self.calls.lock().unwrap();
        calls
            .iter()
            .filter(|(t, k, _, _)| t == tenant && *k == kind)
            .map(|(_, _, key, _)| key.clone())
            .collect()
    }
}

/// What a delivery of one small object reports.
pub fn delivered() -> Delivered {
    Delivered {
        events: 10,
        bytes: 100,
        rejected_events: 0,
        batches: 1,
        events_filtered: 0,
    }
}

impl FakeDeliverer {
    /// One target's answer, recorded as a call.
    async fn answer<P: Progress>(&self, object: &StagedObject, attempt: &Attempt<'_, P>) -> Answer {
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        let kind = attempt.config.target.delivery_type();
        let tenant = object.layout.tenant_id().to_string();
        let lines = match &attempt.lines {
            crate::filter::LineFilter::KeepAll => "keep_all",
            crate::filter::LineFilter::DropAll => "drop_all",
            crate::filter::LineFilter::PerLine(_) => "per_line",
        };
        self.lines.lock().unwrap().push((kind, lines));
        self.calls
            .lock()
            .unwrap()
            .push((tenant.clone(), kind, object.key.clone(), attempt.resume));
        let scripted = {
            let mut script = self.script.lock().unwrap();
            script
                .get_mut(&(tenant.clone(), kind))
                .and_then(VecDeque::pop_front)
        };
        let result = scripted
            .or_else(|| self.always.get(&(tenant, kind)).cloned())
            .unwrap_or_else(|| Ok(delivered()));
        if let Ok(done) = &result {
            attempt.progress.acked(done.batches, done.events).await;
        }
        result
    }
}

impl Deliverer for Arc<FakeDeliverer> {
    async fn deliver<P: Progress>(&self, object: &StagedObject, attempts: &[Attempt<'_, P>]) -> Vec<Answer> {
        self.reads.lock().unwrap().push(object.key.clone());
        let mut results = Vec::with_capacity(attempts.len());
        for attempt in attempts {
            results.push(self.answer(object, attempt).await);
        }
        results
    }
}
