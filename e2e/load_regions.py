"""How long a config change takes to reach the workers of every region (scripts/bench-regions,
through scripts/e2e-regions --bench): one worker process in the primary region, one in a
replica region subscribed to the primary's config-changes topic, the default 5-minute
resync. Each change is a merge patch of one config's allow-list; the time is from the
api's 200 to the worker's `logspoke_worker_config_changes_applied_total` moving, polled
every 5 ms. Prints `summary:` lines."""

import os
import sys
import time

from harness import call, mint_token, percentile, scrape

CHANGES = int(os.environ.get("REGIONS_CHANGES", "60"))
APPLIED = "logspoke_worker_config_changes_applied_total"
TIMEOUT_S = 10


def applied(listen):
    return scrape(listen).get(APPLIED, 0.0)


def expect(status, document, wanted, what):
    if status != wanted:
        sys.exit(f"bench-regions: {what}: {status} {document}")


def main():
    workers = {os.environ["LOGSPOKE_E2E_PRIMARY_REGION"]: os.environ["LOGSPOKE_WORKER_LISTEN"],
               os.environ["LOGSPOKE_E2E_REPLICA_REGION"]: os.environ["LOGSPOKE_E2E_REPLICA_WORKER_LISTEN"]}
    operator = mint_token("--role", "operator", "--sub", "bench-regions")
    expect(*call("POST", "/v1/tenants", operator, {"tenant_id": "bench-regions"}), 201, "create tenant")
    path = "/v1/tenants/bench-regions/delivery-configs/cloudwatch"
    body = {"target_region": "eu-west-1", "role_arn": "arn:aws:iam::222222222222:role/logspoke/LogspokeDelivery",
            "log_group_name": "/logspoke/bench-regions"}
    expect(*call("PUT", path, operator, body), 201, "put config")
    time.sleep(2)
    latencies = {region: [] for region in workers}
    late = {region: 0 for region in workers}
    for i in range(CHANGES):
        before = {region: applied(listen) for region, listen in workers.items()}
        status, document = call("PATCH", path, operator, {"desired_logs": [f"app-{i}"]},
                                content_type="application/merge-patch+json")
        committed = time.monotonic()
        expect(status, document, 200, f"change {i}")
        pending = dict(workers)
        while pending and time.monotonic() - committed < TIMEOUT_S:
            for region, listen in list(pending.items()):
                if applied(listen) > before[region]:
                    latencies[region].append(time.monotonic() - committed)
                    del pending[region]
            time.sleep(0.005)
        for region in pending:
            late[region] += 1
    for region, values in latencies.items():
        if not values:
            print(f"summary: {region}: no change applied within {TIMEOUT_S} s")
            continue
        ms = [v * 1000 for v in values]
        print(f"summary: config change -> worker applied, {region}: p50 {percentile(ms, 50):.0f} ms, "
              f"p99 {percentile(ms, 99):.0f} ms, max {max(ms):.0f} ms "
              f"({len(ms)} of {CHANGES} changes; {late[region]} not within {TIMEOUT_S} s)")


if __name__ == "__main__":
    main()
