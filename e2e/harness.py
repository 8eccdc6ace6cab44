"""What the end-to-end tests and the benches drive: the running api over HTTP (tokens,
onboarding a customer as a customer does), the emulator through boto3 as the provider and
as customers, and what the benches read of a running worker (CPU and memory from /proc,
its /metrics). Configured by scripts/e2e and scripts/bench-* through the environment."""

import functools
import json
import math
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

REGION = os.environ.get("AWS_REGION", "eu-west-1")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts", "lib"))
# The emulator client, stack waits and link parsing of scripts/provider-stack and
# scripts/customer; stage_file is the generator behind scripts/stage-logs.
from emulator_aws import PROVIDER_ACCOUNT as PROVIDER, Account, subscribe_queue  # noqa: E402
from stacks import outputs, quick_create_parameters, wait_stack  # noqa: E402
from stage_logs import DEFAULT_NAMESPACE as NAMESPACE, stage_file, staged_prefix  # noqa: E402

CUSTOMER_TEMPLATE = os.path.join(ROOT, "cloudformation", "customer-log-delivery-role.yaml")
RUN = uuid.uuid4().hex[:6]


def client(service, account):
    """A boto3 client acting as `account` (the tests retry a little more than the scripts)."""
    return Account(account, REGION, max_attempts=3).client(service)


_provider_clients = {}
_provider_lock = threading.Lock()


def provider_client(service):
    """One client of the provider account per service, shared by every thread (boto3
    clients are thread-safe once made): making one costs tens of milliseconds of CPU,
    which load generators staging thousands of objects from many threads cannot pay per
    call or per thread. Its connection pool is sized for them, and it computes checksums
    only where S3 requires one (the emulator checks none; the default CRC32 costs CPU)."""
    with _provider_lock:
        if service not in _provider_clients:
            _provider_clients[service] = Account(PROVIDER, REGION, max_attempts=3).client(
                service, max_pool_connections=64, request_checksum_calculation="when_required")
        return _provider_clients[service]


def mint_token(*args):
    """A token for the running api, valid for an hour (`logspoke-api mint-token ARGS`)."""
    return subprocess.run([os.environ["LOGSPOKE_E2E_API_BIN"], "mint-token", *args, "--ttl", "1h"],
                          check=True, capture_output=True, text=True).stdout.strip()


def call(method, path, token, body=None, content_type="application/json"):
    """One API request; returns (status, parsed JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(os.environ["LOGSPOKE_E2E_API"] + path, data=data, method=method)
    request.add_header("authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("content-type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, (json.loads(raw) if raw else None)


def wait_for_stack(cfn, name):
    """The outputs of the stack once it is complete (a minute at most)."""
    return outputs(wait_stack(cfn, name, timeout=60, poll=0.2))


class Customer:
    """A customer account: a log group, a bucket (unless `bucket` is False) and the stack
    launched from the link (with a notification topic e-mailing `notify`, if given: its
    ARN is `topic` once launched)."""

    def __init__(self, tenant, account, bucket=True, notify=None):
        self.tenant, self.account = tenant, account
        self.log_group = f"/logspoke/{tenant}"
        self.bucket = f"{tenant}-logs-{RUN}" if bucket else None
        self.stack = f"Logspoke-{tenant}-delivery-role"
        self.notify, self.topic = notify, None

    # Made when first used: a bench with hundreds of customers needs only some of them.
    @functools.cached_property
    def logs(self):
        return client("logs", self.account)

    @functools.cached_property
    def s3(self):
        return client("s3", self.account)

    @functools.cached_property
    def cfn(self):
        return client("cloudformation", self.account)

    def prepare(self):
        self.logs.create_log_group(logGroupName=self.log_group)
        if self.bucket:
            self.s3.create_bucket(Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": REGION})

    def _parameters(self, link, as_linked=False):
        """The link's parameters, with this customer's log group and bucket as its configs
        name them; or, `as_linked`, exactly the link's (what the console fills in)."""
        params = quick_create_parameters(link)
        if not as_linked:
            params.update(LogGroupName=self.log_group)
            if self.bucket:
                params.update(BucketName=self.bucket, BucketPrefix="k8s/")
        if self.notify:
            params.update(NotificationEmail=self.notify)
        return [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(params.items())]

    def launch(self, link, as_linked=False):
        with open(CUSTOMER_TEMPLATE, encoding="utf-8") as f:
            body = f.read()
        self.cfn.create_stack(StackName=self.stack, TemplateBody=body, Parameters=self._parameters(link, as_linked),
                              Capabilities=["CAPABILITY_NAMED_IAM"])
        stack_outputs = wait_for_stack(self.cfn, self.stack)
        self.topic = stack_outputs.get("NotificationTopicArn")
        return stack_outputs["RoleArn"]

    def update(self, link):
        with open(CUSTOMER_TEMPLATE, encoding="utf-8") as f:
            body = f.read()
        self.cfn.update_stack(StackName=self.stack, TemplateBody=body, Parameters=self._parameters(link),
                              Capabilities=["CAPABILITY_NAMED_IAM"])
        wait_for_stack(self.cfn, self.stack)

    @functools.cached_property
    def inbox(self):
        """A queue of the account subscribed to the notification topic: what the stack's
        e-mail subscription receives, readable in the emulator."""
        return subscribe_queue(client("sqs", self.account), client("sns", self.account), f"{self.tenant}-inbox",
                               self.topic)

    def notifications(self, until=None, timeout=60):
        """The notifications that reached the topic, in arrival order, until one satisfies
        `until` (or, without it, those already there)."""
        sqs, received = client("sqs", self.account), []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            wait = 1 if until else 0
            batch = sqs.receive_message(QueueUrl=self.inbox, MaxNumberOfMessages=10, WaitTimeSeconds=wait)
            for message in batch.get("Messages", []):
                received.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.inbox, ReceiptHandle=message["ReceiptHandle"])
            if until is None and not batch.get("Messages"):
                return received
            if until and any(until(n) for n in received):
                return received
        return received

    def stream_events(self, stream):
        """(timestamp, message) of every event in `stream`, in stored order; [] if none."""
        events, token = [], None
        while True:
            kwargs = {"logGroupName": self.log_group, "logStreamName": stream, "startFromHead": True}
            if token:
                kwargs["nextToken"] = token
            try:
                page = self.logs.get_log_events(**kwargs)
            except self.logs.exceptions.ResourceNotFoundException:
                return events
            events.extend((e["timestamp"], e["message"]) for e in page["events"])
            if not page["events"] or page.get("nextForwardToken") == token:
                return events
            token = page.get("nextForwardToken")

    def streams(self):
        return [s["logStreamName"] for s in self.logs.describe_log_streams(logGroupName=self.log_group)["logStreams"]]

    def keys(self):
        return [o["Key"] for o in self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", [])]

    def wait_events(self, stream, count, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            events = self.stream_events(stream)
            if len({m for _, m in events}) >= count or time.monotonic() > deadline:
                return events
            time.sleep(0.5)


def onboard(operator, customer, cluster, kinds=("cloudwatch",)):
    """Onboards `customer` through the api as a customer does: the tenant, a registered
    cluster (only registered clusters deliver), the stack of the onboarding link in the
    customer's account, then a delivery config of each kind, verified. Returns the role."""
    tenant = customer.tenant
    expect_status(201, "create tenant", *call("POST", "/v1/tenants", operator, {"tenant_id": tenant}))
    expect_status(201, "register cluster", *call("PUT", f"/v1/tenants/{tenant}/clusters/{cluster}", operator))
    customer.prepare()
    status, onboarding = call("POST", f"/v1/tenants/{tenant}/onboarding", operator, {"region": REGION})
    expect_status(200, "onboarding", status, onboarding)
    role = customer.launch(onboarding["quick_create_url"])
    bodies = {"cloudwatch": {"log_group_name": customer.log_group},
              "s3": {"bucket_name": customer.bucket, "bucket_prefix": "k8s/"}}
    for kind in kinds:
        body = {"target_region": REGION, "role_arn": role, **bodies[kind]}
        expect_status(201, f"put {kind} config",
                      *call("PUT", f"/v1/tenants/{tenant}/delivery-configs/{kind}", operator, body))
    for kind in kinds:
        status, config = call("POST", f"/v1/tenants/{tenant}/delivery-configs/{kind}/verify", operator)
        expect_status(200, f"verify {kind}", status, config)
        if config["state"] != "active":
            raise AssertionError(f"{tenant}: {kind} config is {config['state']} after verify: {config}")
    return role


def expect_status(wanted, what, status, body):
    if status != wanted:
        raise AssertionError(f"{what}: {status} (expected {wanted}): {body}")


def stage(tenant, cluster, application, pod, messages, start_ms, step_ms=1000, bad_line=False, namespace=NAMESPACE):
    """Stages a gzip NDJSON file as the collector would (scripts/stage-logs) for a pod of
    `namespace` (None: as a collector of the previous release would, without it); returns
    its key."""
    key, _ = stage_file(provider_client("s3"), os.environ["LOGSPOKE_STAGING_BUCKET"], tenant, cluster,
                        application, pod, messages, start_ms, step_ms, bad_line, namespace=namespace)
    return key


def stage_body(tenant, cluster, application, pod, body, namespace=NAMESPACE):
    """Stages `body` as it is (any bytes) under the contract layout; returns its key."""
    key = f"{staged_prefix(tenant, cluster, namespace, application, pod)}{int(time.time())}-{uuid.uuid4()}.json.gz"
    provider_client("s3").put_object(Bucket=os.environ["LOGSPOKE_STAGING_BUCKET"], Key=key, Body=body,
                                     ContentType="application/gzip")
    return key


def percentile(values, p):
    """Nearest-rank percentile of `values` (p in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def queue_counts(url):
    """(visible, in flight) messages of a provider queue."""
    attributes = provider_client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def queue_depth(url):
    return sum(queue_counts(url))


def delivery_queues(*names):
    """The URLs of the named settings that are set (the overflow lane's may not be)."""
    return [os.environ[name] for name in names if os.environ.get(name)]


def wait_drained(timeout=30):
    """Waits until the delivery queue and the overflow lane hold no message."""
    deadline = time.monotonic() + timeout
    queues = delivery_queues("LOGSPOKE_DELIVERY_QUEUE_URL", "LOGSPOKE_OVERFLOW_QUEUE_URL")
    while time.monotonic() < deadline:
        if sum(queue_depth(url) for url in queues) == 0:
            return True
        time.sleep(0.3)
    return False


def redrive_dlq():
    """Moves every dead-lettered message back to the delivery queue (what an operator does
    after fixing the cause); returns how many moved."""
    sqs = client("sqs", PROVIDER)
    moved = 0
    while True:
        messages = sqs.receive_message(QueueUrl=os.environ["LOGSPOKE_DELIVERY_DLQ_URL"], MaxNumberOfMessages=10,
                                       WaitTimeSeconds=1).get("Messages", [])
        if not messages:
            return moved
        for message in messages:
            sqs.send_message(QueueUrl=os.environ["LOGSPOKE_DELIVERY_QUEUE_URL"], MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=os.environ["LOGSPOKE_DELIVERY_DLQ_URL"], ReceiptHandle=message["ReceiptHandle"])
            moved += 1


# ------------------------------------------------------------- the worker process ------
# What the benches read of a running worker: its own CPU time and memory from /proc, and
# its counters from /metrics (LOGSPOKE_WORKER_LISTEN).

def cpu_seconds(pid):
    """The process's own CPU time (user + system), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        # Fields after the command name, which is in parentheses and may contain spaces.
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status_kb(pid, field):
    """A kB field of /proc/<pid>/status, e.g. VmRSS or VmHWM (the peak)."""
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(rf"{field}:\s+(\d+)", f.read()).group(1))


def scrape(listen=None):
    """The worker's /metrics as {series: value}, a series being a sample's name and labels
    as printed (`name{label="value",...}`); `listen` picks another worker than
    LOGSPOKE_WORKER_LISTEN's."""
    listen = listen or os.environ["LOGSPOKE_WORKER_LISTEN"]
    with urllib.request.urlopen(f"http://{listen}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            samples[series] = float(value)
    return samples


def metric(prefix, samples=None):
    """The sum of the series that start with `prefix`: a name, or a name and its first
    labels (`logspoke_worker_aws_calls_total{api="GetObject"`); from `samples` or a scrape."""
    samples = scrape() if samples is None else samples
    return sum(value for series, value in samples.items() if series.startswith(prefix))


def aws_calls(samples):
    """{api: calls} of `logspoke_worker_aws_calls_total`, every outcome counted."""
    calls = {}
    for series, value in samples.items():
        found = re.match(r'logspoke_worker_aws_calls_total\{(?:.*,)?api="([^"]+)"', series)
        if found:
            calls[found.group(1)] = calls.get(found.group(1), 0) + value
    return calls
