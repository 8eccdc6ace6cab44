"""What the end-to-end tests drive: the running api over HTTP, the emulator through boto3
as the provider and as customers. Configured by scripts/e2e through the environment."""

import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid

REGION = os.environ.get("AWS_REGION", "eu-west-1")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts", "lib"))
# The emulator client, stack waits and link parsing of scripts/provider-stack and
# scripts/customer; stage_file is the generator behind scripts/stage-logs.
from emulator_aws import PROVIDER_ACCOUNT as PROVIDER, Account  # noqa: E402
from stacks import outputs, quick_create_parameters, wait_stack  # noqa: E402
from stage_logs import stage_file  # noqa: E402

CUSTOMER_TEMPLATE = os.path.join(ROOT, "cloudformation", "customer-log-delivery-role.yaml")
RUN = uuid.uuid4().hex[:6]


def client(service, account):
    """A boto3 client acting as `account` (the tests retry a little more than the scripts)."""
    return Account(account, REGION, max_attempts=3).client(service)


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
    """A customer account: a log group, a bucket and the stack launched from the link."""

    def __init__(self, tenant, account):
        self.tenant, self.account = tenant, account
        self.log_group = f"/logspoke/{tenant}"
        self.bucket = f"{tenant}-logs-{RUN}"
        self.stack = f"Logspoke-{tenant}-delivery-role"
        self.logs = client("logs", account)
        self.s3 = client("s3", account)
        self.cfn = client("cloudformation", account)

    def prepare(self):
        self.logs.create_log_group(logGroupName=self.log_group)
        self.s3.create_bucket(Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": REGION})

    def _parameters(self, link):
        params = quick_create_parameters(link)
        params.update(LogGroupName=self.log_group, BucketName=self.bucket, BucketPrefix="k8s/")
        return [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(params.items())]

    def launch(self, link):
        with open(CUSTOMER_TEMPLATE, encoding="utf-8") as f:
            body = f.read()
        self.cfn.create_stack(StackName=self.stack, TemplateBody=body, Parameters=self._parameters(link),
                              Capabilities=["CAPABILITY_NAMED_IAM"])
        return wait_for_stack(self.cfn, self.stack)["RoleArn"]

    def update(self, link):
        with open(CUSTOMER_TEMPLATE, encoding="utf-8") as f:
            body = f.read()
        self.cfn.update_stack(StackName=self.stack, TemplateBody=body, Parameters=self._parameters(link),
                              Capabilities=["CAPABILITY_NAMED_IAM"])
        wait_for_stack(self.cfn, self.stack)

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


def stage(tenant, cluster, application, pod, messages, start_ms, step_ms=1000, bad_line=False):
    """Stages a gzip NDJSON file as the collector would (scripts/stage-logs); returns its key."""
    key, _ = stage_file(client("s3", PROVIDER), os.environ["LOGSPOKE_STAGING_BUCKET"], tenant, cluster,
                        application, pod, messages, start_ms, step_ms, bad_line)
    return key


def queue_depth(url):
    attributes = client("sqs", PROVIDER).get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return sum(int(v) for v in attributes.values())


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
