"""Creates the provider resources the api needs in the emulator; see scripts/provider-bootstrap."""

import json
import os
import sys

import botocore.exceptions

from emulator_aws import PROVIDER_ACCOUNT, Account, Failure, create_bucket, error_code, region_or_default, run

ROLE_NAME = "LogspokeProvider"
POLICY_NAME = "assume-customer-delivery-roles"
BUCKET = "logspoke-templates"
TEMPLATE_KEY = "customer-log-delivery-role.yaml"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATE_FILE = os.path.join(ROOT, "cloudformation", TEMPLATE_KEY)
READ_MODEL_TABLE = "tenant-configs"
CONFIG_TOPIC = "config-changes"

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{PROVIDER_ACCOUNT}:root"},
            "Action": "sts:AssumeRole",
        }
    ],
}
ASSUME_CUSTOMER_ROLES = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::*:role/*"}],
}


def log(message):
    print(message, file=sys.stderr)


def provider_role(iam):
    try:
        arn = iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"]
        iam.update_assume_role_policy(RoleName=ROLE_NAME, PolicyDocument=json.dumps(TRUST))
        log(f"provider role {ROLE_NAME} exists")
    except botocore.exceptions.ClientError as err:
        if error_code(err) != "NoSuchEntity":
            raise
        arn = iam.create_role(
            RoleName=ROLE_NAME,
            AssumeRolePolicyDocument=json.dumps(TRUST),
            Description="Logspoke provider role: assumes customers' delivery roles",
        )["Role"]["Arn"]
        log(f"created provider role {ROLE_NAME}")
    iam.put_role_policy(RoleName=ROLE_NAME, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(ASSUME_CUSTOMER_ROLES))
    return arn


def read_model_table(dynamodb):
    """The DynamoDB read model the api's outbox relay writes (key: tenant_id + type)."""
    try:
        dynamodb.describe_table(TableName=READ_MODEL_TABLE)
        log(f"table {READ_MODEL_TABLE} exists")
    except botocore.exceptions.ClientError as err:
        if error_code(err) != "ResourceNotFoundException":
            raise
        dynamodb.create_table(
            TableName=READ_MODEL_TABLE,
            AttributeDefinitions=[
                {"AttributeName": "tenant_id", "AttributeType": "S"},
                {"AttributeName": "type", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "tenant_id", "KeyType": "HASH"},
                {"AttributeName": "type", "KeyType": "RANGE"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        log(f"created table {READ_MODEL_TABLE}")
    return READ_MODEL_TABLE


def main():
    region = region_or_default()
    provider = Account(PROVIDER_ACCOUNT, region)
    role_arn = provider_role(provider.client("iam"))

    s3 = provider.client("s3")
    if create_bucket(s3, BUCKET, region):
        log(f"created bucket {BUCKET} ({region})")
    else:
        log(f"bucket {BUCKET} exists")
    with open(TEMPLATE_FILE, "rb") as body:
        s3.put_object(Bucket=BUCKET, Key=TEMPLATE_KEY, Body=body.read(), ContentType="application/x-yaml")
    url = f"{provider.endpoint}/{BUCKET}/{TEMPLATE_KEY}"
    log(f"uploaded cloudformation/{TEMPLATE_KEY}")

    # The api reads the template by URL at start-up; make sure that works here already.
    try:
        summary = provider.client("cloudformation").get_template_summary(TemplateURL=url)
    except botocore.exceptions.ClientError as err:
        raise Failure(f"CloudFormation cannot read the uploaded template at {url}: {err}") from err
    names = sorted(p["ParameterKey"] for p in summary.get("Parameters", []))
    log(f"template readable by CloudFormation (parameters: {', '.join(names)})")

    table = read_model_table(provider.client("dynamodb"))
    topic_arn = provider.client("sns").create_topic(Name=CONFIG_TOPIC)["TopicArn"]
    log(f"config-change topic {CONFIG_TOPIC} ready")

    print(f"LOGSPOKE_PROVIDER_ROLE_ARN={role_arn}")
    print(f"LOGSPOKE_CUSTOMER_TEMPLATE_URL={url}")
    print(f"LOGSPOKE_READ_MODEL_TABLE={table}")
    print(f"LOGSPOKE_CONFIG_TOPIC_ARN={topic_arn}")
    return 0


if __name__ == "__main__":
    run(main)
