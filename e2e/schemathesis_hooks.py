"""Hooks of the contract run (scripts/e2e, through e2e/schemathesis.toml)."""

import uuid

import schemathesis


@schemathesis.hook
def before_call(context, case, kwargs):
    """Gives every schema-valid request a fresh Idempotency-Key, as a client does.

    Generated keys are short and repeat across requests with other bodies, which the api
    rightly refuses (422: the key was used with a different body): that is stored state,
    not the schema. Schema-invalid keys are left alone, so their rejection is still
    tested; key reuse is covered by api/tests/api/idempotency.rs.
    """
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not case.headers:
        return
    if "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = str(uuid.uuid4())
