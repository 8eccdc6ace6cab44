"""Tenant isolation under a noisy neighbour (run by scripts/bench-scale).

Onboards SCALE_TENANTS (200) tenants through the api as customers do, each with its own
customer account (300000000000 + i), role from the onboarding stack, log group and
verified CloudWatch config, then:

1. warm-up: every tenant stages 3 objects of 20 events at once;
2. unloaded: SCALE_QUIET (20) quiet tenants stage one object each, nothing else queued;
3. burst: tenant 0 stages SCALE_BURST (5,000) objects of 50 events as fast as it can; once
   the delivery queue holds half of them (or all are staged), each quiet tenant stages one
   more object;
4. gzip bomb: another tenant stages one small gzip object that expands to SCALE_BOMB_MIB
   (1,024) MiB of tiny lines, past the worker's object limit, and each quiet tenant stages
   one more object; the bomb must be rejected (`too_large`), never retried or
   dead-lettered, while the quiet objects arrive as usual;
5. isolation: every log group but the burst tenant's holds exactly its own tenant's events
   (each message starts with its tenant id). The burst tenant's is not read whole: the
   emulator's FilterLogEvents returns at most 10,000 events and has no next page.

An object's latency runs from its PUT returning to the ingestion time of its last event in
the customer's log group (the emulator stamps each event it stores), so it does not depend
on how often the bench polls. Prints one `summary:` line per figure. The worker's figures
(CPU, peak RSS, AWS calls from /metrics) need the worker process, LOAD_WORKER_PID; with the
worker as the stack's Lambda function they are left out. With LOGSPOKE_OVERFLOW_QUEUE_URL
set (the stack's DeliveryOverflowQueueUrl) that queue's depth is sampled too. Exits 1 when
an event reached another tenant's log group or an object never arrived."""

import itertools
import os
import zlib
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from harness import (NAMESPACE, RUN, Customer, aws_calls, cpu_seconds, metric, mint_token, onboard, percentile,
                     queue_counts, scrape, stage, stage_body, status_kb)

TENANTS = max(2, int(os.environ.get("SCALE_TENANTS", "200")))
BURST = int(os.environ.get("SCALE_BURST", "5000"))
QUIET = max(1, min(int(os.environ.get("SCALE_QUIET", "20")), TENANTS - 1))
WARM_OBJECTS, WARM_EVENTS, QUIET_EVENTS, BURST_EVENTS = 3, 20, 20, 50
BOMB_MIB = int(os.environ.get("SCALE_BOMB_MIB", "1024"))
FIRST_ACCOUNT = 300_000_000_000
CLUSTER, APPLICATION = "scale", "app"
# Tenants onboarded at once: each mostly waits for its stack.
THREADS = 16
# Threads that stage objects. The emulator serves its requests in turn, so the burst
# outpaces the worker only with more PUTs in flight than the worker has objects: 4 threads
# staged 97 objects/s and the worker kept up; 16 staged 270/s against the worker process.
# Against the Lambda function (whose moves to the overflow lane also run in the emulator)
# 16 stage only 76/s and it keeps up: 48 build a backlog there. Against the worker process
# 48 starve its receivers in the emulator (one Python process, each SQS call's cost growing
# with the queue's length), which says nothing about SQS (docs/benchmarks.md).
STAGE_THREADS = int(os.environ.get("SCALE_STAGE_THREADS", "16"))
QUEUE = os.environ["LOGSPOKE_DELIVERY_QUEUE_URL"]
DLQS = [os.environ[name] for name in ("LOGSPOKE_DELIVERY_DLQ_URL", "LOGSPOKE_OVERFLOW_DLQ_URL") if os.environ.get(name)]
OVERFLOW = os.environ.get("LOGSPOKE_OVERFLOW_QUEUE_URL")
WORKER = int(os.environ["LOAD_WORKER_PID"]) if os.environ.get("LOAD_WORKER_PID") else None
EMULATOR = int(os.environ["LOAD_EMULATOR_PID"]) if os.environ.get("LOAD_EMULATOR_PID") else None
# Long enough for any backlog this bench makes to drain on a slow machine.
DRAIN_TIMEOUT_S = 1800
SQS_APIS = {"ReceiveMessage", "DeleteMessage", "DeleteMessageBatch", "ChangeMessageVisibility",
            "ChangeMessageVisibilityBatch", "SendMessage", "SendMessageBatch", "GetQueueAttributes"}
DYNAMODB_APIS = {"GetItem", "BatchGetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchWriteItem",
                 "TransactWriteItems"}
# Where the api's verification writes its test event: not a delivered object.
VERIFICATION_STREAM = "logspoke-verification"


def log(message):
    print(message, file=sys.stderr, flush=True)


def now_ms():
    return time.time() * 1000


def tenant_id(i):
    return f"scale-{i:03d}"


def messages(tenant, label, count):
    """`count` messages that name their tenant first: the isolation check reads that."""
    return [f"{tenant} {label} event {k:02d} run {RUN}: INFO checkout order placed for cart c-12345 in 12 ms"
            for k in range(count)]


@dataclass
class Probe:
    """One staged object whose arrival is timed: its own stream in its tenant's log group."""
    customer: Customer
    pod: str
    messages: list
    staged_ms: float = 0.0
    arrived_ms: float | None = None

    @property
    def stream(self):
        return f"{CLUSTER}/{NAMESPACE}/{APPLICATION}/{self.pod}"

    @property
    def latency_s(self):
        return (self.arrived_ms - self.staged_ms) / 1000

    def stage(self):
        stage(self.customer.tenant, CLUSTER, APPLICATION, self.pod, self.messages, int(now_ms()) - 60_000)
        self.staged_ms = now_ms()


def check_arrivals(probes):
    """Marks the probes of one customer whose every event is stored, with the ingestion
    time of the object's last event (of each event's first copy)."""
    customer = probes[0].customer
    events = customer.logs.filter_log_events(logGroupName=customer.log_group,
                                             logStreamNames=[p.stream for p in probes])["events"]
    first = {}
    for event in events:
        key = (event["logStreamName"], event["message"])
        first[key] = min(first.get(key, event["ingestionTime"]), event["ingestionTime"])
    for probe in probes:
        times = [first.get((probe.stream, m)) for m in probe.messages]
        if None not in times:
            probe.arrived_ms = max(times)


def await_arrivals(probes, timeout_s):
    """Polls, once a second, the log groups of the probes not yet arrived; returns those
    still missing after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    pending = list(probes)
    with ThreadPoolExecutor(8) as pool:
        while pending and time.monotonic() < deadline:
            by_customer = {}
            for probe in pending:
                by_customer.setdefault(probe.customer.tenant, []).append(probe)
            list(pool.map(check_arrivals, by_customer.values()))
            pending = [p for p in pending if p.arrived_ms is None]
            if pending:
                time.sleep(1)
    return pending


def stage_all(probes, threads=STAGE_THREADS):
    with ThreadPoolExecutor(min(threads, len(probes))) as pool:
        list(pool.map(Probe.stage, probes))


# ------------------------------------------------------------------------ figures ------

@dataclass
class Snapshot:
    """What the worker, the emulator and the bench have done up to a moment."""
    at: float = field(default_factory=time.monotonic)
    worker_cpu: float = 0.0
    emulator_cpu: float = 0.0
    bench_cpu: float = 0.0
    machine_cpu: float = 0.0
    metrics: dict = field(default_factory=dict)

    @classmethod
    def take(cls):
        own = os.times()
        return cls(worker_cpu=cpu_seconds(WORKER) if WORKER else 0.0,
                   emulator_cpu=cpu_seconds(EMULATOR) if EMULATOR else 0.0,
                   bench_cpu=own.user + own.system, machine_cpu=machine_busy_seconds(),
                   metrics=scrape() if WORKER else {})


def machine_busy_seconds():
    """CPU time every process of the machine has used (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def delta(before, after, prefix):
    return metric(prefix, after.metrics) - metric(prefix, before.metrics)


@dataclass
class Sample:
    at_ms: float
    visible: int
    in_flight: int
    overflow: int | None
    burst_delivered: float | None


class Sampler(threading.Thread):
    """Samples the delivery queue (and the overflow queue, and the burst tenant's delivered
    objects) twice a second."""

    def __init__(self, burst_tenant):
        super().__init__(daemon=True)
        self.delivered = f'logspoke_worker_objects_delivered_total{{tenant_id="{burst_tenant}"'
        self.samples = []
        self.stopped = threading.Event()

    def sample(self):
        visible, in_flight = queue_counts(QUEUE)
        overflow = sum(queue_counts(OVERFLOW)) if OVERFLOW else None
        delivered = metric(self.delivered) if WORKER else None
        return Sample(now_ms(), visible, in_flight, overflow, delivered)

    def run(self):
        while not self.stopped.is_set():
            self.samples.append(self.sample())
            self.stopped.wait(0.5)

    def latest(self):
        return self.samples[-1] if self.samples else self.sample()

    def at(self, ms):
        return min(self.samples, key=lambda s: abs(s.at_ms - ms))

    def stop(self):
        self.stopped.set()
        self.join()


# ------------------------------------------------------------------------- phases ------

def onboard_all(operator):
    customers = [Customer(tenant_id(i), str(FIRST_ACCOUNT + i), bucket=False) for i in range(TENANTS)]
    began, done = time.monotonic(), itertools.count(1)

    def one(customer):
        onboard(operator, customer, CLUSTER)
        n = next(done)
        if n % 50 == 0:
            log(f"onboarded {n}/{TENANTS} tenants ({time.monotonic() - began:.0f} s)")

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(one, customers))
    return customers, time.monotonic() - began


def await_configs(applied_before):
    """Waits until the worker has applied a config change per tenant and no more arrive
    for two seconds (60 s at most): an object staged before its tenant's verified config
    reached the worker would be skipped. The worker as a Lambda function reads the configs
    per invocation: a short pause does."""
    if not WORKER:
        time.sleep(3)
        return
    deadline, last, steady_since = time.monotonic() + 60, -1, time.monotonic()
    while time.monotonic() < deadline:
        applied = metric("logspoke_worker_config_changes_applied_total") - applied_before
        if applied != last:
            last, steady_since = applied, time.monotonic()
        elif applied >= TENANTS and time.monotonic() - steady_since >= 2:
            return
        time.sleep(0.5)
    log(f"the worker applied {last:.0f} config changes for {TENANTS} tenants within 60 s; going on")


def await_queue_empty(timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if sum(queue_counts(QUEUE)) == 0 and (not OVERFLOW or sum(queue_counts(OVERFLOW)) == 0):
            return True
        time.sleep(0.5)
    return False


def warm_up(customers):
    probes = [Probe(c, f"warm-{j}", messages(c.tenant, f"warm {j}", WARM_EVENTS))
              for c in customers for j in range(WARM_OBJECTS)]
    stage_all(probes)
    missing = await_arrivals(probes, 600)
    await_queue_empty(120)
    return probes, missing


def burst(noisy, quiet, sampler):
    """Stages the burst from STAGE_THREADS threads; once half of it is queued (or all staged),
    stages one object per quiet tenant. Returns the quiet probes and the burst's timings."""
    probes = [Probe(c, "quiet-burst", messages(c.tenant, "quiet under the burst", QUIET_EVENTS)) for c in quiet]
    start_ms = int(now_ms()) - 3_600_000

    def stage_one(i):
        stage(noisy.tenant, CLUSTER, APPLICATION, f"burst-{i % 50}",
              messages(noisy.tenant, f"burst {i}", BURST_EVENTS), start_ms)

    began = now_ms()
    with ThreadPoolExecutor(STAGE_THREADS) as pool:
        staging = [pool.submit(stage_one, i) for i in range(BURST)]
        while not all(f.done() for f in staging) and sampler.latest().visible < BURST / 2:
            time.sleep(0.2)
        stage_all(probes, threads=len(probes))
        # Right after the last quiet PUT returned: what is queued ahead of them.
        quiet_at = sampler.sample()
        for f in staging:
            f.result()
    staged = now_ms()
    log(f"burst: {BURST} objects staged in {(staged - began) / 1000:.0f} s; queue depth {quiet_at.visible} "
        f"when the quiet objects were staged")
    return probes, began, staged, quiet_at


def await_burst_drained(sampler, delivered_before):
    """Waits until the burst tenant's objects are all delivered (by the worker's counter)
    or, without the worker's metrics, until both queues are empty; returns when that was
    (ms)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        s = sampler.latest()
        if s.burst_delivered is not None and s.burst_delivered - delivered_before >= BURST:
            return s.at_ms
        if s.burst_delivered is None and s.visible + s.in_flight + (s.overflow or 0) == 0:
            return s.at_ms
        time.sleep(0.5)
    log(f"the burst did not drain within {DRAIN_TIMEOUT_S} s")
    return now_ms()


def isolation(customers, expected):
    """(foreign events, own events found, missing, duplicates) over the log groups of
    `customers`, read whole; `expected` is {tenant: own messages}."""
    foreign = found = missing = duplicates = 0

    def read(customer):
        events = customer.logs.filter_log_events(logGroupName=customer.log_group)["events"]
        return customer, [e["message"] for e in events if e["logStreamName"] != VERIFICATION_STREAM]

    with ThreadPoolExecutor(8) as pool:
        for customer, got in pool.map(read, customers):
            own = [m for m in got if m.startswith(customer.tenant + " ")]
            foreign += len(got) - len(own)
            found += len(own)
            wanted = expected[customer.tenant]
            missing += len(wanted - set(own))
            duplicates += len(own) - len(set(own))
    return foreign, found, missing, duplicates


def gzip_bomb(mib, tenant):
    """One valid event, then `mib` MiB of two-byte lines that are not JSON (each is parsed
    and counted, none is sent): the most decoding work per staged byte. About 1 MiB of
    gzip per GiB."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"{\n" * (512 * 1024)
    parts = [deflate.compress(f'{{"message":"{tenant} the bomb\'s only event"}}\n'.encode())]
    parts += [deflate.compress(chunk) for _ in range(mib)]
    parts.append(deflate.flush())
    return b"".join(parts)


def bomb(bomber, quiet, body):
    """Stages the bomb and, right after, one object per quiet tenant; waits until the bomb
    is rejected (by the worker's counter) or, without the worker's metrics, until both
    queues are empty. Returns the quiet probes and how long the bomb took (s), or None."""
    probes = [Probe(c, "quiet-bomb", messages(c.tenant, "quiet beside the bomb", QUIET_EVENTS)) for c in quiet]
    too_large = 'logspoke_worker_rejected_total{reason="too_large"'
    rejected_before = metric(too_large) if WORKER else 0
    began = time.monotonic()
    stage_body(bomber.tenant, CLUSTER, APPLICATION, "bomb", body)
    stage_all(probes, threads=len(probes))
    deadline, took = began + 900, None
    while time.monotonic() < deadline and took is None:
        if WORKER and metric(too_large) > rejected_before:
            took = time.monotonic() - began
        elif not WORKER and sum(queue_counts(QUEUE)) == 0 and (not OVERFLOW or sum(queue_counts(OVERFLOW)) == 0):
            took = time.monotonic() - began
        else:
            time.sleep(0.2)
    return probes, took


# ------------------------------------------------------------------------ report -------

def latency_line(what, probes):
    arrived = [p.latency_s for p in probes if p.arrived_ms is not None]
    if not arrived:
        return f"summary: {what}: none arrived"
    return (f"summary: {what}: p50 {percentile(arrived, 50):.2f} s, p99 {percentile(arrived, 99):.2f} s, "
            f"max {max(arrived):.2f} s over {len(arrived)} objects"
            + (f" ({len(probes) - len(arrived)} never arrived)" if len(arrived) < len(probes) else ""))


def per_object(calls, objects, apis):
    counted = {api: n for api, n in calls.items() if api in apis and n}
    if not counted:
        return None
    parts = ", ".join(f"{api} {n / objects:.2f}" for api, n in sorted(counted.items()))
    return f"{sum(counted.values()) / objects:.2f} ({parts})"


def report_worker(before, after, objects, warm_before, warm_after, warm_objects):
    """The worker's CPU, memory and AWS calls per object over the burst phase."""
    if not WORKER:
        print("summary: worker CPU, peak RSS and AWS calls: not measured (the worker is the stack's Lambda function)")
        return
    cpu = after.worker_cpu - before.worker_cpu
    warm_cpu = warm_after.worker_cpu - warm_before.worker_cpu
    print(f"summary: worker CPU per object: {cpu * 1000 / objects:.2f} ms under the burst "
          f"({cpu:.1f} s user+system for {objects:.0f} objects of {BURST_EVENTS} events), "
          f"{warm_cpu * 1000 / warm_objects:.2f} ms in the warm-up (first objects of {TENANTS} tenants: "
          f"AssumeRole, new streams)")
    print(f"summary: worker peak RSS: {status_kb(WORKER, 'VmHWM') / 1024:.1f} MiB (VmHWM)")
    calls = {api: n - aws_calls(before.metrics).get(api, 0) for api, n in aws_calls(after.metrics).items()}
    received = delta(before, after, "logspoke_worker_messages_received_total")
    deleted = delta(before, after, "logspoke_worker_messages_deleted_total")
    sqs = per_object(calls, objects, SQS_APIS)
    print(f"summary: SQS requests per object under the burst: "
          f"{sqs or 'not counted by the worker (no SQS api in logspoke_worker_aws_calls_total)'}; "
          f"messages received {received / objects:.2f} and deleted {deleted / objects:.2f} per object")
    dynamodb = per_object(calls, objects, DYNAMODB_APIS)
    print(f"summary: DynamoDB calls per object under the burst: {dynamodb or 'none counted'} "
          f"(as the worker counts them: health reports and drain leases are not)")
    others = per_object(calls, objects, set(calls) - SQS_APIS - DYNAMODB_APIS)
    print(f"summary: other AWS calls per object under the burst: {others or 'none'}")


def report_burst(sampler, quiet, began, staged, drained, quiet_at):
    """The burst's rates and the queue around the quiet objects; times in wall-clock ms."""
    at_staged, at_drained = sampler.at(staged), sampler.at(drained)
    drain_s, staging_s, total_s = (drained - staged) / 1000, (staged - began) / 1000, (drained - began) / 1000
    if at_staged.burst_delivered is not None:
        left = at_drained.burst_delivered - at_staged.burst_delivered
    else:
        left = at_staged.visible + at_staged.in_flight + (at_staged.overflow or 0)
    draining = (f"{left / drain_s:.0f} objects/s while draining ({left:.0f} objects in the {drain_s:.0f} s "
                f"after staging ended)" if drain_s >= 3 else "drained as fast as it was staged")
    print(f"summary: burst: {BURST} objects of {BURST_EVENTS} events staged in {staging_s:.0f} s "
          f"({BURST / staging_s:.0f}/s); {draining}; {BURST / total_s:.0f} objects/s from the first staged to "
          f"the last delivered")
    arrivals = [sampler.at(p.arrived_ms).visible for p in quiet if p.arrived_ms is not None]
    if not arrivals:
        arrived = "none arrived"
    elif min(arrivals) == max(arrivals):
        arrived = f"{arrivals[0]} when they arrived"
    else:
        arrived = f"{min(arrivals)}–{max(arrivals)} (median {statistics.median(arrivals):.0f}) when they arrived"
    peak = max(s.visible for s in sampler.samples)
    print(f"summary: queue depth: {quiet_at.visible} visible ({quiet_at.in_flight} in flight) when the quiet "
          f"objects were staged; {arrived}; peak {peak}")
    if OVERFLOW:
        overflow = [s.overflow for s in sampler.samples]
        print(f"summary: overflow queue depth: {quiet_at.overflow} when the quiet objects were staged; "
              f"peak {max(overflow)}")
    else:
        print("summary: overflow queue: none (the stack has no DeliveryOverflowQueueUrl output)")


def report_cpu(what, before, after):
    """Where the machine's CPU went: the emulator (one Python process: at most about one
    core), the worker, the bench, and everything else (the api, Postgres, other work)."""
    wall = after.at - before.at
    used = {"emulator": after.emulator_cpu - before.emulator_cpu, "worker": after.worker_cpu - before.worker_cpu,
            "bench": after.bench_cpu - before.bench_cpu}
    used = {name: seconds for name, seconds in used.items() if seconds or name == "bench"}
    others = after.machine_cpu - before.machine_cpu - sum(used.values())
    parts = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in used.items())
    print(f"summary: CPU {what} ({wall:.0f} s of wall clock, {os.cpu_count()} cores = {wall * os.cpu_count():.0f} "
          f"core-s): {parts}, other processes {max(others, 0):.0f} s")


def main():
    began = time.monotonic()
    operator = mint_token("--role", "operator", "--sub", "bench-scale")
    applied_before = metric("logspoke_worker_config_changes_applied_total") if WORKER else 0
    start = Snapshot.take()
    customers, onboarding_s = onboard_all(operator)
    await_configs(applied_before)
    onboarded = Snapshot.take()
    print(f"summary: tenants: {TENANTS} onboarded through the api in {onboarding_s:.0f} s ({THREADS} at a time), "
          f"each its own account, role, log group and verified CloudWatch config")
    report_cpu("onboarding", start, onboarded)

    noisy, quiet = customers[0], customers[1:QUIET + 1]
    warm, warm_missing = warm_up(customers)
    warmed = Snapshot.take()
    print(latency_line(f"warm-up latency ({len(warm)} objects, {WARM_OBJECTS} per tenant, staged at once)", warm))

    idle = [Probe(c, "quiet-idle", messages(c.tenant, "quiet alone", QUIET_EVENTS)) for c in quiet]
    stage_all(idle, threads=len(idle))
    idle_missing = await_arrivals(idle, 120)
    await_queue_empty(60)
    print(latency_line("quiet-tenant latency unloaded (one object each, nothing else queued)", idle))

    sampler = Sampler(noisy.tenant)
    sampler.start()
    before = Snapshot.take()
    delivered_before = sampler.latest().burst_delivered or 0
    under, burst_began, staged, quiet_at = burst(noisy, quiet, sampler)
    under_missing = await_arrivals(under, DRAIN_TIMEOUT_S)
    drained = await_burst_drained(sampler, delivered_before)
    after = Snapshot.take()
    await_queue_empty(120)
    sampler.stop()
    print(latency_line(f"quiet-tenant latency under the burst ({QUIET} tenants, one object each)", under))
    report_burst(sampler, under, burst_began, staged, drained, quiet_at)

    bomber = customers[QUIET + 1] if TENANTS > QUIET + 1 else quiet[-1]
    body = gzip_bomb(BOMB_MIB, bomber.tenant)
    before_bomb = Snapshot.take()
    beside, bomb_s = bomb(bomber, quiet, body)
    beside_missing = await_arrivals(beside, 600)
    await_queue_empty(600)
    after_bomb = Snapshot.take()
    dead = sum(sum(queue_counts(url)) for url in DLQS)
    worker_cpu = (f"; worker CPU {after_bomb.worker_cpu - before_bomb.worker_cpu:.1f} s over the phase"
                  if WORKER else "")
    outcome = (f"rejected as too_large {bomb_s:.1f} s after it was staged" if bomb_s is not None and WORKER
               else f"both queues empty {bomb_s:.1f} s after it was staged" if bomb_s is not None
               else "NOT rejected within 900 s")
    print(f"summary: gzip bomb: {len(body) / 1024 / 1024:.1f} MiB of gzip expanding to {BOMB_MIB} MiB of "
          f"two-byte lines; {outcome}{worker_cpu}; messages in the dead-letter queues: {dead}")
    print(latency_line(f"quiet-tenant latency beside the bomb ({QUIET} tenants, one object each)", beside))

    expected = {c.tenant: {m for p in warm + idle + under + beside if p.customer is c for m in p.messages}
                for c in customers[1:]}
    foreign, found, missing, duplicates = isolation(customers[1:], expected)
    wanted = sum(len(m) for m in expected.values())
    print(f"summary: cross-tenant events: {foreign} ({len(expected)} log groups read whole: {wanted} own events "
          f"expected, {found} found, {missing} missing, {duplicates} duplicates; the burst tenant's group not read)")

    objects = delta(before, after, "logspoke_worker_objects_delivered_total") if WORKER else BURST + QUIET
    report_worker(before, after, max(objects, 1), onboarded, warmed, len(warm))
    report_cpu("under the burst", before, after)
    print(f"summary: wall clock: {time.monotonic() - began:.0f} s (onboarding {onboarding_s:.0f} s, "
          f"burst from the first staged to the last delivered {(drained - burst_began) / 1000:.0f} s)")
    lost = len(warm_missing) + len(idle_missing) + len(under_missing) + len(beside_missing)
    return 1 if foreign or lost or missing or dead or bomb_s is None else 0


if __name__ == "__main__":
    sys.exit(main())
