"""Acts as a customer AWS account in the emulator (what a customer would do in the AWS
console), for the local walk-through printed by scripts/dev-up and for manual tests.

Needs AWS_ENDPOINT_URL (the emulator). Region: --region, else AWS_REGION, else eu-west-1
(launch-stack: --region, else the link's region). Progress goes to stderr; stdout carries
only the result (an ARN, messages, keys), so it can be captured with $(...).
"""

import argparse
import json
import os
import sys
import time

import botocore.exceptions

from emulator_aws import (PROVIDER_ACCOUNT, Account, Failure, create_bucket, error_code, region_or_default, run,
                          subscribe_queue)
from stacks import describe, outputs, quick_create_parameters, quick_create_values, wait_stack

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATE_FILE = os.path.join(ROOT, "cloudformation", "customer-log-delivery-role.yaml")
UNSAFE_ROLE = "LogspokeDeliveryNoExternalId"
# Logspoke assumes only roles under the customer template's IAM path.
ROLE_PATH = "/logspoke/"
STACK_TIMEOUT_S = 120


def log(message):
    print(message, file=sys.stderr)


def link_values(link):
    """The values of the quick-create link passed as --link."""
    values = quick_create_values(link)
    if not any(k.startswith("param_") for k in values):
        raise Failure("--link has no param_* values; pass the quick_create_url from the onboarding response")
    return values


def stack_status(cfn, name):
    return (describe(cfn, name) or {}).get("StackStatus")


def free_stack_name(cfn, wanted):
    """`wanted`, or `wanted-2`, `wanted-3`, ... if a stack of that name exists."""
    name, n = wanted, 1
    while stack_status(cfn, name) not in (None, "DELETE_COMPLETE"):
        n += 1
        name = f"{wanted}-{n}"
    if name != wanted:
        log(f"stack {wanted} exists; using {name}")
    return name


def launch_stack(args):
    values = link_values(args.link)
    region = args.region or values.get("region") or region_or_default()
    params = quick_create_parameters(args.link)
    overrides = (("ExternalId", args.external_id), ("LogGroupName", args.log_group), ("BucketName", args.bucket),
                 ("BucketPrefix", args.bucket_prefix), ("NotificationEmail", args.notification_email))
    for name, override in overrides:
        if override is not None:
            params[name] = override
    account = Account(args.account, region)
    cfn = account.client("cloudformation")
    stack = free_stack_name(cfn, args.stack_name or values.get("stackName") or "Logspoke-delivery-role")
    with open(TEMPLATE_FILE, encoding="utf-8") as f:
        body = f.read()
    # The ExternalId is not a secret, but it is not written to logs either.
    shown = ", ".join(f"{k}={'(hidden)' if k == 'ExternalId' else v}" for k, v in sorted(params.items()))
    log(f"creating stack {stack} in account {args.account} ({region}) with {shown}")
    # TemplateBody, not the link's templateURL: a customer account cannot read the
    # provider's bucket in the emulator (on AWS the console downloads it for you).
    cfn.create_stack(
        StackName=stack,
        TemplateBody=body,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(params.items())],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    role_arn = outputs(wait_stack(cfn, stack, timeout=STACK_TIMEOUT_S)).get("RoleArn")
    if role_arn is None:
        raise Failure(f"stack {stack} is complete but has no RoleArn output")
    log(f"stack {stack}: CREATE_COMPLETE")
    print(role_arn)


def create_log_group(args):
    logs = Account(args.account, region_or_default(args.region)).client("logs")
    try:
        logs.create_log_group(logGroupName=args.name)
        log(f"created log group {args.name} in account {args.account} ({region_or_default(args.region)})")
    except botocore.exceptions.ClientError as err:
        if error_code(err) != "ResourceAlreadyExistsException":
            raise
        log(f"log group {args.name} already exists")


def delete_log_group(args):
    logs = Account(args.account, region_or_default(args.region)).client("logs")
    logs.delete_log_group(logGroupName=args.name)
    log(f"deleted log group {args.name} in account {args.account}")


def stack_output(args):
    """The output `args.name` of the account's newest complete stack that has one."""
    cfn = Account(args.account, region_or_default(args.region)).client("cloudformation")
    stacks = [st for page in cfn.get_paginator("describe_stacks").paginate() for st in page["Stacks"]
              if st.get("StackStatus") in ("CREATE_COMPLETE", "UPDATE_COMPLETE") and args.name in outputs(st)]
    if not stacks:
        raise Failure(f"no complete stack in account {args.account} has the output {args.name}")
    print(outputs(max(stacks, key=lambda st: st["CreationTime"]))[args.name])


INBOX_QUEUE = "logspoke-notifications-inbox"


def inbox(args):
    """Subscribes a queue of the account to the topic (once), then prints what arrived:
    what the e-mail subscription would show, readable in the emulator."""
    account = Account(args.account, region_or_default(args.region))
    sqs = account.client("sqs")
    url = subscribe_queue(sqs, account.client("sns"), INBOX_QUEUE, args.topic)
    seen = 0
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline and (seen == 0 or args.all):
        wait = max(0, min(20, int(deadline - time.monotonic())))
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=wait).get("Messages", []):
            body = json.loads(message["Body"])
            print(f"{body.get('kind')}: {body.get('summary')}  (notification_id {body.get('notification_id')})")
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            seen += 1
    log(f"{seen} notification(s)")


def create_bucket_cmd(args):
    region = region_or_default(args.region)
    s3 = Account(args.account, region).client("s3")
    if create_bucket(s3, args.name, region):
        log(f"created bucket {args.name} in account {args.account} ({region})")
    else:
        log(f"bucket {args.name} already exists")


def unsafe_role(args):
    """A role that trusts the provider role WITHOUT requiring the ExternalId: the
    confused-deputy mistake that verification must refuse."""
    provider = args.provider_role_arn or os.environ.get("LOGSPOKE_PROVIDER_ROLE_ARN") or (
        f"arn:aws:iam::{PROVIDER_ACCOUNT}:role/LogspokeProvider"
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": provider}, "Action": "sts:AssumeRole"}],
    }
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}
        ],
    }
    iam = Account(args.account, region_or_default(args.region)).client("iam")
    arn = None
    try:
        existing = iam.get_role(RoleName=args.name)["Role"]
        if existing["Path"] == ROLE_PATH:
            arn = existing["Arn"]
            iam.update_assume_role_policy(RoleName=args.name, PolicyDocument=json.dumps(trust))
            log(f"role {args.name} exists; trust policy reset")
        else:
            # Made before the roles had a path: Logspoke would refuse it for that alone.
            for policy in iam.list_role_policies(RoleName=args.name)["PolicyNames"]:
                iam.delete_role_policy(RoleName=args.name, PolicyName=policy)
            iam.delete_role(RoleName=args.name)
    except botocore.exceptions.ClientError as err:
        if error_code(err) != "NoSuchEntity":
            raise
    if arn is None:
        arn = iam.create_role(RoleName=args.name, Path=ROLE_PATH,
                              AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        log(f"created role {ROLE_PATH}{args.name} trusting {provider} without an ExternalId condition")
    iam.put_role_policy(RoleName=args.name, PolicyName="write-any-log-group", PolicyDocument=json.dumps(policy))
    print(arn)


def show_logs(args):
    logs = Account(args.account, region_or_default(args.region)).client("logs")
    kwargs = {"logGroupName": args.log_group}
    if args.stream:
        kwargs["logStreamNames"] = [args.stream]
    count = 0
    for page in logs.get_paginator("filter_log_events").paginate(**kwargs):
        for event in page.get("events", []):
            print(event["message"] if args.stream else f"[{event.get('logStreamName', '?')}] {event['message']}")
            count += 1
    log(f"{count} event(s) in {args.log_group}" + (f" / {args.stream}" if args.stream else ""))


def list_objects(args):
    s3 = Account(args.account, region_or_default(args.region)).client("s3")
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=args.bucket, Prefix=args.prefix or ""):
        for obj in page.get("Contents", []):
            print(obj["Key"])
            count += 1
    log(f"{count} object(s) in s3://{args.bucket}/{args.prefix or ''}")


def parser():
    top = argparse.ArgumentParser(
        prog="scripts/customer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--account", required=True, help="the customer account id (12 digits), e.g. 222222222222")
    common.add_argument("--region", help="AWS region (default: $AWS_REGION, else eu-west-1)")
    sub = top.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "launch-stack",
        parents=[common],
        help="create the delivery-role stack from a quick-create link; prints the RoleArn",
        description="Does what opening the quick-create link and pressing 'Create stack' does: "
        "creates cloudformation/customer-log-delivery-role.yaml with the link's param_* values "
        "(and stackName; a suffix is added if that stack exists), waits for CREATE_COMPLETE and "
        "prints the RoleArn output.",
    )
    p.add_argument("--link", required=True, help="the quick_create_url from POST /v1/tenants/{t}/onboarding")
    p.add_argument("--external-id", help="override param_ExternalId (e.g. to show a mismatch)")
    p.add_argument("--log-group", help="override param_LogGroupName")
    p.add_argument("--bucket", help="override param_BucketName")
    p.add_argument("--bucket-prefix", help="override param_BucketPrefix (e.g. k8s/)")
    p.add_argument("--notification-email", help="set NotificationEmail: the stack creates a notification topic")
    p.add_argument("--stack-name", help="override the link's stackName")
    p.set_defaults(func=launch_stack)

    p = sub.add_parser("create-log-group", parents=[common], help="create a CloudWatch Logs log group")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func=create_log_group)

    p = sub.add_parser("delete-log-group", parents=[common], help="delete a CloudWatch Logs log group")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func=delete_log_group)

    p = sub.add_parser("stack-output", parents=[common],
                       help="print an output (e.g. NotificationTopicArn) of the newest stack that has it")
    p.add_argument("name", metavar="OUTPUT")
    p.set_defaults(func=stack_output)

    p = sub.add_parser(
        "inbox",
        parents=[common],
        help="print the notifications published to a topic (subscribes a queue to it first)",
        description="What the stack's e-mail subscription would receive, readable in the emulator: "
        f"subscribes the queue {INBOX_QUEUE} of the account to the topic (once), then waits up to "
        "--wait seconds for notifications and prints each one's kind and summary.",
    )
    p.add_argument("--topic", required=True, help="the topic ARN (stack output NotificationTopicArn)")
    p.add_argument("--wait", type=int, default=30, help="seconds to wait for the first (default 30)")
    p.add_argument("--all", action="store_true", help="keep reading until --wait passes")
    p.set_defaults(func=inbox)

    p = sub.add_parser("create-bucket", parents=[common], help="create an S3 bucket")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func=create_bucket_cmd)

    p = sub.add_parser(
        "unsafe-role",
        parents=[common],
        help="create a role trusting the provider WITHOUT an ExternalId condition; prints its ARN",
        description="Creates (or resets) a role, under the path /logspoke/ like the template's, that "
        "the provider role may assume without an ExternalId, allowed logs:CreateLogStream and "
        "logs:PutLogEvents on *. Verification must refuse it (external_id_not_required).",
    )
    p.add_argument("--name", default=UNSAFE_ROLE, help=f"role name (default {UNSAFE_ROLE})")
    p.add_argument(
        "--provider-role-arn",
        help="the role to trust (default: $LOGSPOKE_PROVIDER_ROLE_ARN, else "
        f"arn:aws:iam::{PROVIDER_ACCOUNT}:role/LogspokeProvider)",
    )
    p.set_defaults(func=unsafe_role)

    p = sub.add_parser("logs", parents=[common], help="print the messages of a log group (or one stream)")
    p.add_argument("--log-group", required=True)
    p.add_argument("--stream")
    p.set_defaults(func=show_logs)

    p = sub.add_parser("objects", parents=[common], help="list the keys in a bucket")
    p.add_argument("--bucket", required=True)
    p.add_argument("--prefix")
    p.set_defaults(func=list_objects)
    return top


def main():
    args = parser().parse_args()
    args.func(args)


if __name__ == "__main__":
    run(main)
