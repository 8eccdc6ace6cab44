"""Fifty failing targets recovering at once (run by scripts/bench-drain).

Onboards DRAIN_TARGETS (50) tenants through the api as customers do, each with its own
customer account (400000000000 + i), role, log group and verified CloudWatch config; then:

1. failure: every customer deletes its log group, and every tenant stages DRAIN_OBJECTS
   (40) objects of 5 events over DRAIN_PODS (4) pods, each pod's objects one after the
   other (so each stream has a staged order); the worker parks them all (`log_group_missing`);
2. recovery: every customer creates its log group again and verifies its config (what a
   customer does after fixing its side), all at once;
3. the worker drains every target; the bench waits until every event is in its log group.

Each event's ingestion time (the emulator stamps each event it stores) says when it was
delivered, so the figures do not depend on how often the bench polls: the time from the
first verification to the last event delivered, each target's drain (first to last event),
how many targets were draining at the same moment, duplicates (an event stored twice) and
order (an object of a stream delivered before one staged earlier in that stream). Prints
one `summary:` line per figure; exits 1 on a duplicate, an event out of order or an event
that never arrived."""

import itertools
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from harness import (NAMESPACE, RUN, Customer, aws_calls, call, cpu_seconds, expect_status, metric, mint_token, onboard,
                     percentile, queue_counts, scrape, stage)

TARGETS = max(1, int(os.environ.get("DRAIN_TARGETS", "50")))
OBJECTS = max(1, int(os.environ.get("DRAIN_OBJECTS", "40")))
PODS = max(1, min(int(os.environ.get("DRAIN_PODS", "4")), OBJECTS))
EVENTS = 5
FIRST_ACCOUNT = 400_000_000_000
CLUSTER, APPLICATION = "drain", "app"
THREADS = 16
QUEUES = [os.environ[name] for name in ("LOGSPOKE_DELIVERY_QUEUE_URL", "LOGSPOKE_OVERFLOW_QUEUE_URL")
          if os.environ.get(name)]
WORKER = int(os.environ["LOAD_WORKER_PID"]) if os.environ.get("LOAD_WORKER_PID") else None
TIMEOUT_S = 1800


def log(message):
    print(message, file=sys.stderr, flush=True)


def tenant_id(i):
    return f"drain-{i:03d}"


def pod(p):
    return f"pod-{p}"


def message(tenant, p, seq, k):
    return f"{tenant} {pod(p)} seq {seq:03d} event {k} run {RUN}"


def parallel(fn, items):
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(fn, items))


def onboard_all(operator):
    customers = [Customer(tenant_id(i), str(FIRST_ACCOUNT + i), bucket=False) for i in range(TARGETS)]
    done = itertools.count(1)

    def one(customer):
        onboard(operator, customer, CLUSTER)
        n = next(done)
        if n % 10 == 0:
            log(f"onboarded {n}/{TARGETS} tenants")

    parallel(one, customers)
    return customers


def stage_failing(customers):
    """Deletes every log group, then stages each (tenant, pod)'s objects in sequence."""
    parallel(lambda c: c.logs.delete_log_group(logGroupName=c.log_group), customers)
    base_ms = int(time.time() * 1000) - 3_600_000

    def one_stream(pair):
        customer, p = pair
        for seq in range(p, OBJECTS, PODS):
            messages = [message(customer.tenant, p, seq, k) for k in range(EVENTS)]
            stage(customer.tenant, CLUSTER, APPLICATION, pod(p), messages, base_ms + seq * 10_000)

    began = time.monotonic()
    parallel(one_stream, [(c, p) for c in customers for p in range(PODS)])
    log(f"staged {TARGETS * OBJECTS} objects in {time.monotonic() - began:.0f} s")


def health(operator, customer):
    status, body = call("GET", f"/v1/tenants/{customer.tenant}/delivery-configs/cloudwatch/health", operator)
    expect_status(200, "health", status, body)
    return body


def await_parked(operator, customers):
    """Waits until the queues are empty and every target reports all its objects parked."""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if sum(sum(queue_counts(url)) for url in QUEUES) == 0:
            parked = [health(operator, c).get("parked_objects", 0) for c in customers]
            if all(n == OBJECTS for n in parked):
                return health(operator, customers[0])
            log(f"parked so far: {sum(parked)}/{TARGETS * OBJECTS}")
        time.sleep(3)
    raise AssertionError("the objects were not all parked")


def recover(operator, customers):
    """Every customer creates its log group again, then verifies its config."""
    parallel(lambda c: c.logs.create_log_group(logGroupName=c.log_group), customers)
    began_ms = time.time() * 1000

    def verify(customer):
        while True:
            status, config = call("POST", f"/v1/tenants/{customer.tenant}/delivery-configs/cloudwatch/verify",
                                  operator)
            if status != 429:  # verified less than 10 s ago (at onboarding, in a short run)
                break
            time.sleep(1)
        expect_status(200, "verify", status, config)
        assert config["state"] == "active", config

    parallel(verify, customers)
    return began_ms


def delivered(customer):
    """{(stream, message): [ingestion times]} of the customer's drained events."""
    streams = [f"{CLUSTER}/{NAMESPACE}/{APPLICATION}/{pod(p)}" for p in range(PODS)]
    found, token = {}, None
    while True:
        kwargs = {"logGroupName": customer.log_group, "logStreamNames": streams}
        if token:
            kwargs["nextToken"] = token
        try:
            page = customer.logs.filter_log_events(**kwargs)
        except customer.logs.exceptions.ResourceNotFoundException:
            return found
        for event in page["events"]:
            found.setdefault((event["logStreamName"], event["message"]), []).append(event["ingestionTime"])
        token = page.get("nextToken")
        if not token or not page["events"]:
            return found


def await_drained(customers):
    """Polls each target until all its events are stored; returns {tenant: events}."""
    results, pending = {}, list(customers)
    deadline = time.monotonic() + TIMEOUT_S
    while pending and time.monotonic() < deadline:
        time.sleep(3)
        for customer, events in zip(pending, parallel(delivered, pending)):
            if len(events) >= OBJECTS * EVENTS:
                results[customer.tenant] = events
        pending = [c for c in pending if c.tenant not in results]
    for customer in pending:
        results[customer.tenant] = delivered(customer)
    return results


def check(customer, events):
    """(missing, duplicated, out of order, first ms, last ms) of one target."""
    tenant = customer.tenant
    missing = duplicated = disorder = 0
    first, last = None, None
    for p in range(PODS):
        stream = f"{CLUSTER}/{NAMESPACE}/{APPLICATION}/{pod(p)}"
        previous = None
        for seq in range(p, OBJECTS, PODS):
            times = []
            for k in range(EVENTS):
                stored = events.get((stream, message(tenant, p, seq, k)), [])
                missing += not stored
                duplicated += max(0, len(stored) - 1)
                times.extend(stored)
            if not times:
                continue
            start, end = min(times), max(times)
            first = start if first is None else min(first, start)
            last = end if last is None else max(last, end)
            # An object delivered before one staged earlier in its stream.
            if previous is not None and start < previous:
                disorder += 1
            previous = max(previous or end, end)
    return missing, duplicated, disorder, first, last


def overlap(intervals):
    """The most intervals that hold at one moment, and the mean over the span of them all."""
    edges = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    most = current = 0
    weighted, previous = 0.0, None
    for at, step in edges:
        if previous is not None:
            weighted += current * (at - previous)
        current += step
        most = max(most, current)
        previous = at
    span = max(b for _, b in intervals) - min(a for a, _ in intervals)
    return most, weighted / span if span else float(most)


def main():
    operator = mint_token("--role", "operator", "--sub", "bench-drain")
    began = time.monotonic()
    customers = onboard_all(operator)
    log(f"onboarded {TARGETS} tenants in {time.monotonic() - began:.0f} s")
    time.sleep(3)
    stage_failing(customers)
    parked = await_parked(operator, customers)
    log(f"all {TARGETS * OBJECTS} objects parked; one target's health: {parked.get('state')}, "
        f"last error {parked.get('last_error')}")
    before = scrape() if WORKER else None
    cpu_before = cpu_seconds(WORKER) if WORKER else None
    recovered_ms = recover(operator, customers)
    log("every customer fixed its log group and verified; waiting for the drain")
    results = await_drained(customers)
    wall_s = time.time() - recovered_ms / 1000

    totals = {"missing": 0, "duplicated": 0, "disorder": 0}
    intervals, starts, durations = [], [], []
    for customer in customers:
        missing, duplicated, disorder, first, last = check(customer, results[customer.tenant])
        totals["missing"] += missing
        totals["duplicated"] += duplicated
        totals["disorder"] += disorder
        if first is not None:
            intervals.append((first, last))
            starts.append((first - recovered_ms) / 1000)
            durations.append((last - first) / 1000)
    objects = TARGETS * OBJECTS
    if intervals:
        end_s = (max(b for _, b in intervals) - recovered_ms) / 1000
        most, mean = overlap(intervals)
        print(f"summary: drain: {objects} parked objects of {TARGETS} targets ({OBJECTS} each, {PODS} streams) "
              f"delivered {end_s:.1f} s after the first verification = {objects / end_s:.0f} objects/s")
        print(f"summary: per target: first object drained p50 {percentile(starts, 50):.1f} s / max {max(starts):.1f} s "
              f"after the first verification; drain (first to last object) p50 {percentile(durations, 50):.1f} s, "
              f"max {max(durations):.1f} s")
        print(f"summary: targets with their drain under way (first object delivered, not yet the last) at once: "
              f"at most {most}, {mean:.1f} on average over the drain")
    print(f"summary: duplicates {totals['duplicated']}, objects out of staged order in their stream "
          f"{totals['disorder']}, events missing {totals['missing']} (of {objects * EVENTS})")
    if WORKER:
        after = scrape()
        cpu = cpu_seconds(WORKER) - cpu_before
        drained = metric("logspoke_worker_objects_drained_total", after) - metric(
            "logspoke_worker_objects_drained_total", before)
        calls = {api: n - aws_calls(before).get(api, 0) for api, n in aws_calls(after).items()}
        counted = ", ".join(f"{api} {n / objects:.2f}" for api, n in sorted(calls.items()) if n)
        print(f"summary: worker: {drained:.0f} objects drained (its counter), CPU {cpu * 1000 / objects:.2f} ms per "
              f"object ({cpu:.1f} s over {wall_s:.0f} s); AWS calls per object: {counted or 'none'}")
    if any(totals.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
