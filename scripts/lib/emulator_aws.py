"""boto3 clients for the AWS emulator (ministack, AUTH=true), shared by
scripts/provider-stack, scripts/customer, scripts/stage-logs and the end-to-end tests
(e2e/harness.py).

The emulator picks the account from the access key id (12 digits); any secret works.
S3 is addressed path-style (http://127.0.0.1:PORT/bucket/key): the emulator has no
per-bucket host names.
"""

import json
import os
import re
import sys
import threading

import boto3
import botocore.exceptions
from botocore.config import Config

PROVIDER_ACCOUNT = "111111111111"
DEFAULT_REGION = "eu-west-1"


class Failure(Exception):
    """An error to print as one `error: ...` line (exit status 1)."""


def endpoint_url():
    url = os.environ.get("AWS_ENDPOINT_URL", "").strip().rstrip("/")
    if not url:
        raise Failure(
            "AWS_ENDPOINT_URL is not set; start the emulator with `scripts/emulator start` "
            "and export the line it prints (scripts/dev-up prints it too)"
        )
    if not re.match(r"^https?://", url):
        raise Failure(f"AWS_ENDPOINT_URL must be an http(s) URL, got {url!r}")
    return url


def region_or_default(region=None):
    return region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def check_account(account):
    if not re.fullmatch(r"[0-9]{12}", account or ""):
        raise Failure(f"--account must be 12 digits (e.g. 222222222222), got {account!r}")
    return account


# One boto3 session for every account: a session loads each service's model once, so that
# a client made from it costs a third of one made from a session of its own (which counts
# when a bench acts as hundreds of customer accounts). Sessions are not thread-safe: clients
# are made under the lock.
_session = None
_session_lock = threading.Lock()


class Account:
    """Clients acting as one emulator account in one region."""

    def __init__(self, account, region, max_attempts=2):
        self.account = check_account(account)
        self.region = region
        self.endpoint = endpoint_url()
        self._config = Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": max_attempts, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
        )

    def client(self, service, **config):
        """A client of `service`; `config` adds botocore Config settings (e.g. a larger
        max_pool_connections for a client that many threads share)."""
        global _session
        merged = self._config.merge(Config(**config)) if config else self._config
        with _session_lock:
            if _session is None:
                _session = boto3.session.Session()
            return _session.client(service, region_name=self.region, endpoint_url=self.endpoint, config=merged,
                                   aws_access_key_id=self.account, aws_secret_access_key="test")


def error_code(err):
    return err.response.get("Error", {}).get("Code", "")


def create_bucket(s3, name, region):
    """Creates the bucket in `region`; True if created, False if it already was ours."""
    kwargs = {"Bucket": name}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**kwargs)
        return True
    except botocore.exceptions.ClientError as err:
        if error_code(err) == "BucketAlreadyOwnedByYou":
            return False
        raise


def subscribe_queue(sqs, sns, queue_name, topic):
    """A queue `queue_name` subscribed to `topic` with raw delivery (once), and the policy
    that lets that topic send to it: what a customer's e-mail subscription to a
    notification topic receives, readable in the emulator. Returns the queue URL."""
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": arn, "Condition": {"ArnEquals": {"aws:SourceArn": topic}}}]}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    subscribed = any(sub["Endpoint"] == arn for page in sns.get_paginator("list_subscriptions_by_topic")
                     .paginate(TopicArn=topic) for sub in page["Subscriptions"])
    if not subscribed:
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    return url


def run(main):
    """Runs `main()`, turning AWS and usage errors into one line on stderr."""
    try:
        sys.exit(main() or 0)
    except Failure as err:
        print(f"error: {err}", file=sys.stderr)
    except botocore.exceptions.ClientError as err:
        info = err.response.get("Error", {})
        print(
            f"error: {err.operation_name}: {info.get('Code', '?')}: {info.get('Message', str(err))}",
            file=sys.stderr,
        )
    except botocore.exceptions.EndpointConnectionError as err:
        print(f"error: cannot reach the emulator ({err}); is it running?", file=sys.stderr)
    except botocore.exceptions.BotoCoreError as err:
        print(f"error: {err}", file=sys.stderr)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(1)
