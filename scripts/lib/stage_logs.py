"""Writes realistic staged log files the way the Vector collector does; see scripts/stage-logs."""


import argparse
import gzip
import io
import json
import os
import random
import sys
import time
import uuid

from emulator_aws import PROVIDER_ACCOUNT, Account, Failure, region_or_default, run

# The namespace a staged pod runs in unless told otherwise.
DEFAULT_NAMESPACE = "demo"
LEVELS = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"]
WORDS = "order payment cart user session cache request response retry timeout queue item stock".split()


def log(message):
    print(message, file=sys.stderr)


def message(rng, i, app):
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14)))
    return f"{rng.choice(LEVELS)} [{app}] {i:06d} {words} — ok ✓"


def collector_line(application, text, ts_ms, namespace=DEFAULT_NAMESPACE):
    """One line as the collector writes it (k8s/collector/base/vector.yaml): the routing
    fields go into the key, only these stay in the line."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts_ms / 1000)) + f".{ts_ms % 1000:03d}Z"
    return json.dumps(
        {"container": application, "message": text, "namespace": namespace or "", "timestamp": stamp},
        ensure_ascii=False,
    )


def stage_file(s3, bucket, tenant, cluster, application, pod, messages, start_ms, step_ms, bad_line=False,
               namespace=DEFAULT_NAMESPACE):
    """Uploads `messages` (timestamps from `start_ms`, `step_ms` apart) as one gzip NDJSON
    object under the contract layout
    {tenant_id}/{cluster_id}/{namespace}/{application}/{pod_name}/{unix_ts}-{uuid}.json.gz
    (with `namespace=None`, the layout without the namespace that collectors of the previous
    release wrote); returns (key, gzip size)."""
    body = io.BytesIO()
    with gzip.GzipFile(fileobj=body, mode="wb") as gz:
        for i, text in enumerate(messages):
            gz.write(collector_line(application, text, start_ms + i * step_ms, namespace).encode("utf-8") + b"\n")
        if bad_line:
            gz.write(b"this line is not JSON\n")
    key = f"{staged_prefix(tenant, cluster, namespace, application, pod)}{int(time.time())}-{uuid.uuid4()}.json.gz"
    s3.put_object(Bucket=bucket, Key=key, Body=body.getvalue(), ContentType="application/gzip")
    return key, len(body.getvalue())


def staged_prefix(tenant, cluster, namespace, application, pod):
    """The key prefix the collector writes for a pod (contract/src/object_key.rs); without
    the namespace segment when `namespace` is None."""
    if namespace is None:
        return f"{tenant}/{cluster}/{application}/{pod}/"
    return f"{tenant}/{cluster}/{namespace}/{application}/{pod}/"


def main():
    p = argparse.ArgumentParser(prog="scripts/stage-logs", description=__doc__)
    p.add_argument("--bucket", default=os.environ.get("LOGSPOKE_STAGING_BUCKET"),
                   help="staging bucket (default: $LOGSPOKE_STAGING_BUCKET)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--cluster", default="demo-cluster")
    p.add_argument("--namespace", default=DEFAULT_NAMESPACE,
                   help="the pod's namespace; empty stages a key without it, as collectors of the previous release did")
    p.add_argument("--application", default="checkout")
    p.add_argument("--pod", default="checkout-7d9f-x2k4q")
    p.add_argument("--events", type=int, default=100)
    p.add_argument("--span-seconds", type=int, default=60, help="time the events spread over, ending now")
    p.add_argument("--bad-line", action="store_true", help="append one line that is not JSON")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--region")
    args = p.parse_args()
    if not args.bucket:
        raise Failure("--bucket or LOGSPOKE_STAGING_BUCKET is required (scripts/dev-up prints it)")
    rng = random.Random(args.seed)
    step = max(1, args.span_seconds * 1000 // max(1, args.events))
    start = int(time.time() * 1000) - args.span_seconds * 1000
    messages = [message(rng, i, args.application) for i in range(args.events)]
    s3 = Account(PROVIDER_ACCOUNT, region_or_default(args.region)).client("s3")
    key, size = stage_file(s3, args.bucket, args.tenant, args.cluster, args.application, args.pod,
                           messages, start, step, args.bad_line, namespace=args.namespace or None)
    log(f"staged {args.events} events ({size} bytes gzip) in s3://{args.bucket}")
    print(key)
    return 0


if __name__ == "__main__":
    run(main)
