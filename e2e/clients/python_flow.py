"""Onboarding through the Python client that openapi-python-client generates from
openapi/openapi.json, the way a customer's integration drives it: every api call goes
through the generated package `logspoke_client`, never raw HTTP.

scripts/check-clients generates the package, puts it on PYTHONPATH and runs this against
the api that scripts/e2e started. The customer's side in the emulator (log group, bucket,
the stack launched from the quick-create link in account 222222222222) and the tokens
come from e2e/harness.py and e2e/test_e2e.py. Prints one line per step; a failed
expectation raises with the api's answer.
"""

import os
import secrets
import sys
from typing import Any, TypeVar

import httpx

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from harness import Customer, quick_create_parameters  # noqa: E402
from test_e2e import token  # noqa: E402

from logspoke_client import AuthenticatedClient  # noqa: E402
from logspoke_client.api.audit import list_audit_events  # noqa: E402
from logspoke_client.api.clusters import list_clusters, put_cluster  # noqa: E402
from logspoke_client.api.delivery_configs import (  # noqa: E402
    get_cloudwatch_delivery_config,
    list_delivery_configs,
    patch_cloudwatch_delivery_config,
    put_cloudwatch_delivery_config,
    verify_cloudwatch_delivery_config,
)
from logspoke_client.api.onboarding import start_onboarding  # noqa: E402
from logspoke_client.api.tenants import create_tenant, get_tenant  # noqa: E402
from logspoke_client.models import (  # noqa: E402
    AuditEventPage,
    CloudWatchConfigInput,
    CloudWatchConfigPatch,
    CloudWatchDeliveryConfig,
    Cluster,
    ClusterList,
    CreateTenant,
    DeliveryConfigList,
    EffectiveState,
    Filter,
    FilterRule,
    FilterRuleField,
    Onboarding,
    OnboardingRequest,
    Problem,
    Region,
    Tenant,
    VerificationStatus,
)
from logspoke_client.types import Response  # noqa: E402

CUSTOMER_ACCOUNT = "222222222222"
REGION = "eu-west-1"
CLUSTER = "c1"
# What the flow below records, oldest first.
AUDIT_TRAIL = [
    "tenant.created",
    "cluster.registered",
    "tenant.external_id_issued",
    "delivery_config.created",
    "delivery_config.verified",
    "delivery_config.updated",
]

T = TypeVar("T")


def step(message: str) -> None:
    print(f"python client: {message}", flush=True)


def expect(response: Response[Any], status: int, model: type[T]) -> T:
    """The body of `response` parsed as `model`, if it has `status`; else fails with what
    the api answered."""
    if response.status_code != status or not isinstance(response.parsed, model):
        raise AssertionError(
            f"expected {status} {model.__name__}, got {int(response.status_code)} "
            f"{type(response.parsed).__name__}: {response.content[:2000]!r}"
        )
    return response.parsed


def client(subject_args: list[str]) -> AuthenticatedClient:
    """A client of the running api with a freshly minted token; verification assumes two
    roles and probes the target, so the timeout is the api's own (15 s) and then some."""
    return AuthenticatedClient(
        base_url=os.environ["LOGSPOKE_E2E_API"],
        token=token(*subject_args),
        timeout=httpx.Timeout(60.0),
        raise_on_unexpected_status=True,
    )


def operator_onboards(operator: AuthenticatedClient, tenant: str) -> Onboarding:
    """The operator creates the tenant, registers its cluster and starts onboarding."""
    body = CreateTenant(tenant_id=tenant, display_name="Python client")
    created = expect(create_tenant.sync_detailed(client=operator, body=body), 201, Tenant)
    assert created.tenant_id == tenant and created.enabled, created
    assert expect(get_tenant.sync_detailed(tenant, client=operator), 200, Tenant).version == created.version
    step(f"created tenant {tenant}")

    # The body is optional: a generated call without one must work.
    cluster = expect(put_cluster.sync_detailed(tenant, CLUSTER, client=operator), 201, Cluster)
    assert cluster.cluster_id == CLUSTER, cluster
    listed = expect(list_clusters.sync_detailed(tenant, client=operator), 200, ClusterList)
    assert [c.cluster_id for c in listed.items] == [CLUSTER], listed
    step(f"registered cluster {CLUSTER}")

    request = OnboardingRequest(region=Region(REGION))
    onboarding = expect(start_onboarding.sync_detailed(tenant, client=operator, body=request), 200, Onboarding)
    parameters = onboarding.parameters.additional_properties
    assert onboarding.tenant_id == tenant and onboarding.region == REGION, onboarding
    assert parameters["ExternalId"] == onboarding.external_id, parameters
    assert parameters["ProviderRoleArn"] == onboarding.provider_role_arn, parameters
    # The link leaves out the empty ones (the template's defaults).
    filled = {name: value for name, value in parameters.items() if value}
    assert quick_create_parameters(onboarding.quick_create_url) == filled, (onboarding.quick_create_url, parameters)
    step(f"started onboarding: quick-create link with {', '.join(sorted(parameters))}")
    return onboarding


def cloudwatch_config(role_arn: str, log_group: str) -> CloudWatchConfigInput:
    return CloudWatchConfigInput(target_region=Region(REGION), role_arn=role_arn,
                                 log_group_name=log_group)


def customer_configures(api: AuthenticatedClient, customer: Customer, role_arn: str) -> None:
    """The customer puts its CloudWatch config, verifies it with no options and narrows
    it to one application (a conditional merge patch)."""
    tenant = customer.tenant
    body = cloudwatch_config(role_arn, customer.log_group)
    config = expect(put_cloudwatch_delivery_config.sync_detailed(tenant, client=api, body=body),
                    201, CloudWatchDeliveryConfig)
    assert config.state == EffectiveState.PENDING_VERIFICATION, config
    step(f"put the CloudWatch config ({config.state})")

    verified = verify_cloudwatch_delivery_config.sync_detailed(tenant, client=api)
    config = expect(verified, 200, CloudWatchDeliveryConfig)
    assert config.verification.status == VerificationStatus.VERIFIED, config.verification
    assert config.state == EffectiveState.ACTIVE, config
    step(f"verified: {', '.join(f'{c.name} {c.status}' for c in config.verification.checks)}")

    # A filter: no health checks' lines (they cost the customer ingestion and say nothing).
    no_health_checks = Filter(exclude=[FilterRule(field=FilterRuleField.MESSAGE, contains="GET /healthz")])
    patched = patch_cloudwatch_delivery_config.sync_detailed(
        tenant, client=api, body=CloudWatchConfigPatch(desired_logs=["checkout"], filter_=no_health_checks),
        if_match=verified.headers["etag"])
    config = expect(patched, 200, CloudWatchDeliveryConfig)
    assert config.desired_logs == ["checkout"] and config.state == EffectiveState.ACTIVE, config
    assert [(r.field, r.contains) for r in config.filter_.exclude] == [(FilterRuleField.MESSAGE, "GET /healthz")], config
    current = get_cloudwatch_delivery_config.sync_detailed(tenant, client=api)
    assert expect(current, 200, CloudWatchDeliveryConfig).version == config.version
    assert current.headers["etag"] == patched.headers["etag"] == f'"{config.version}"', current.headers
    step("patched desired_logs and a filter with If-Match")


def invalid_config_is_refused(api: AuthenticatedClient, customer: Customer, role_arn: str) -> None:
    """A 422 reads as the typed problem, naming the field."""
    body = cloudwatch_config(role_arn, "not a log group!")
    problem = expect(put_cloudwatch_delivery_config.sync_detailed(customer.tenant, client=api, body=body),
                     422, Problem)
    assert problem.status == 422 and problem.type_.endswith("/validation"), problem
    assert problem.errors and [e.field for e in problem.errors] == ["log_group_name"], problem.errors
    step(f"invalid log_group_name refused: 422 {problem.errors[0].field}: {problem.errors[0].message}")


def trail_is_recorded(api: AuthenticatedClient, tenant: str) -> None:
    """One config (the union reads as the CloudWatch model) and every change audited,
    none for the refused request."""
    configs = expect(list_delivery_configs.sync_detailed(tenant, client=api), 200, DeliveryConfigList)
    assert [type(c) for c in configs.items] == [CloudWatchDeliveryConfig], configs.items
    assert configs.items[0].state == EffectiveState.ACTIVE, configs.items[0]

    page = expect(list_audit_events.sync_detailed(tenant, client=api), 200, AuditEventPage)
    actions = [event.action for event in reversed(page.items)]
    assert actions == AUDIT_TRAIL, actions
    by_action = {event.action: event for event in page.items}
    assert by_action["tenant.created"].actor_role == "operator", by_action["tenant.created"]
    assert by_action["delivery_config.created"].actor == "py-client-customer", by_action["delivery_config.created"]
    step(f"audit trail: {', '.join(actions)}")


def main() -> None:
    tenant = f"py-client-{secrets.token_hex(4)}"
    operator = client(["--role", "operator", "--sub", "py-client-operator"])
    api = client(["--role", "tenant", "--tenant-id", tenant, "--sub", "py-client-customer"])
    onboarding = operator_onboards(operator, tenant)

    customer = Customer(tenant, CUSTOMER_ACCOUNT)
    customer.prepare()
    role_arn = customer.launch(onboarding.quick_create_url)
    step(f"customer stack created the role {role_arn}")

    customer_configures(api, customer, role_arn)
    invalid_config_is_refused(api, customer, role_arn)
    trail_is_recorded(api, tenant)


if __name__ == "__main__":
    main()
