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

LEVELS = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"]
WORDS = "order payment cart user session cache request response retry timeout queue item stock".split()


def log(message):
    print(message, file=sys.stderr)


def message(rng, i, app):
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14)))
    return f"{rng.choice(LEVELS)} [{app}] {i:06d} {words} — ok ✓"


def lines(args, rng):
    """One JSON line per event, oldest first, spread over --span-seconds ending now."""
    now_ms = int(time.time() * 1000)
    start = now_ms - args.span_seconds * 1000
    step = max(1, args.span_seconds * 1000 // max(1, args.events))
    for i in range(args.events):
        ts = start + i * step
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts / 1000)) + f".{ts % 1000:03d}Z"
        # The collector's line shape (k8s/collector/base/vector.yaml): routing fields go
        # into the key, only these stay in the line.
        yield json.dumps(
            {
                "container": args.application,
                "message": message(rng, i, args.application),
                "namespace": args.application,
                "timestamp": stamp,
            },
            ensure_ascii=False,
        )
    if args.bad_line:
        yield "this line is not JSON"


def key_for(args):
    """The contract layout: {tenant_id}/{cluster_id}/{application}/{pod_name}/{unix_ts}-{uuid}.json.gz"""
    return f"{args.tenant}/{args.cluster}/{args.application}/{args.pod}/{int(time.time())}-{uuid.uuid4()}.json.gz"


def main():
    p = argparse.ArgumentParser(prog="scripts/stage-logs", description=__doc__)
    p.add_argument("--bucket", default=os.environ.get("LOGSPOKE_STAGING_BUCKET"),
                   help="staging bucket (default: $LOGSPOKE_STAGING_BUCKET)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--cluster", default="demo-cluster")
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
    body = io.BytesIO()
    with gzip.GzipFile(fileobj=body, mode="wb") as gz:
        for line in lines(args, rng):
            gz.write(line.encode("utf-8") + b"\n")
    key = key_for(args)
    s3 = Account(PROVIDER_ACCOUNT, region_or_default(args.region)).client("s3")
    s3.put_object(Bucket=args.bucket, Key=key, Body=body.getvalue(), ContentType="application/gzip")
    log(f"staged {args.events} events ({len(body.getvalue())} bytes gzip) in s3://{args.bucket}")
    print(key)
    return 0


if __name__ == "__main__":
    run(main)
