"""Creates or updates cloudformation/provider-regional.yaml in the emulator's provider
account and prints its outputs as settings; with --smoke, also proves that the stack works,
with two clusters' collector roles (cloudformation/collector-cluster-role.yaml).
See scripts/provider-stack."""

import argparse
import base64
import gzip
import hashlib
import io
import json
import os
import sys
import time
import uuid
import zipfile

import boto3
import botocore.exceptions

from emulator_aws import PROVIDER_ACCOUNT, Account, Failure, create_bucket, error_code, region_or_default, run
from stacks import describe, outputs, wait_stack

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATE_FILE = os.path.join(ROOT, "cloudformation", "provider-regional.yaml")
COLLECTOR_TEMPLATE_FILE = os.path.join(ROOT, "cloudformation", "collector-cluster-role.yaml")
# The clusters whose collector roles the smoke test creates (one stack each).
SMOKE_CLUSTERS = ("smoke-c1", "smoke-c2")
DEFAULT_STACK = "logspoke-provider"
# The published customer template: outside the stack
# (one bucket for every region, readable by the customers' CloudFormation).
CUSTOMER_TEMPLATE_BUCKET = "logspoke-templates"
CUSTOMER_TEMPLATE_KEY = "customer-log-delivery-role.yaml"
CUSTOMER_TEMPLATE_FILE = os.path.join(ROOT, "cloudformation", CUSTOMER_TEMPLATE_KEY)

# Stack output -> the setting it feeds, printed as NAME=value. The first group are the
# settings of the api and the worker (DESIGN.md section 6); the rest are for scripts/tests.
SETTINGS = (
    ("ProviderRoleArn", "LOGSPOKE_PROVIDER_ROLE_ARN"),
    ("ReadModelTableName", "LOGSPOKE_READ_MODEL_TABLE"),
    ("LedgerTableName", "LOGSPOKE_LEDGER_TABLE"),
    ("StagingRetentionDays", "LOGSPOKE_STAGING_RETENTION_DAYS"),
    ("ConfigTopicArn", "LOGSPOKE_CONFIG_TOPIC_ARN"),
    ("DeliveryQueueUrl", "LOGSPOKE_DELIVERY_QUEUE_URL"),
    ("DeliveryOverflowQueueUrl", "LOGSPOKE_OVERFLOW_QUEUE_URL"),
    ("StagingBucketName", "LOGSPOKE_STAGING_BUCKET"),
    ("DeliveryDlqUrl", "LOGSPOKE_DELIVERY_DLQ_URL"),
    ("DeliveryOverflowDlqUrl", "LOGSPOKE_OVERFLOW_DLQ_URL"),
    ("LogPayloadsTopicArn", "LOGSPOKE_LOG_PAYLOADS_TOPIC_ARN"),
    ("ConfigQueueNamePrefix", "LOGSPOKE_CONFIG_QUEUE_PREFIX"),
    ("ApiRoleArn", "LOGSPOKE_API_ROLE_ARN"),
    ("WorkerRoleArn", "LOGSPOKE_WORKER_ROLE_ARN"),
)


def log(message):
    print(message, file=sys.stderr, flush=True)


def parse_args():
    parser = argparse.ArgumentParser(prog="scripts/provider-stack", add_help=True)
    parser.add_argument("--stack-name", default=DEFAULT_STACK)
    parser.add_argument("--region", default=None)
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="template parameter (repeatable); overrides the defaults")
    parser.add_argument("--lambda-worker", metavar="BINARY",
                        help="WorkerMode=lambda with the function's code a provided.al2023 zip "
                             "whose bootstrap runs BINARY lambda (uploaded to the template bucket)")
    parser.add_argument("--smoke", action="store_true",
                        help="after deploying, check the bucket -> SNS -> SQS path and the roles "
                             "(creates two collector-cluster-role stacks for it)")
    args = parser.parse_args()
    params = {}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise Failure(f"--param wants KEY=VALUE, got {item!r}")
        params[key] = value
    args.params = params
    return args


# ------------------------------------------------------------------------- deploy ------

def publish_customer_template(provider, region):
    """Uploads the customer template; returns its URL."""
    s3 = provider.client("s3")
    if create_bucket(s3, CUSTOMER_TEMPLATE_BUCKET, region):
        log(f"created bucket {CUSTOMER_TEMPLATE_BUCKET} ({region})")
    with open(CUSTOMER_TEMPLATE_FILE, "rb") as body:
        s3.put_object(Bucket=CUSTOMER_TEMPLATE_BUCKET, Key=CUSTOMER_TEMPLATE_KEY,
                      Body=body.read(), ContentType="application/x-yaml")
    url = f"{provider.endpoint}/{CUSTOMER_TEMPLATE_BUCKET}/{CUSTOMER_TEMPLATE_KEY}"
    try:
        provider.client("cloudformation").get_template_summary(TemplateURL=url)
    except botocore.exceptions.ClientError as err:
        raise Failure(f"CloudFormation cannot read the uploaded template at {url}: {err}") from err
    log(f"published cloudformation/{CUSTOMER_TEMPLATE_KEY} at {url}")
    return url


def publish_worker_code(provider, binary):
    """Uploads a provided.al2023 zip whose bootstrap runs `BINARY lambda`; returns the
    template parameters that make the stack's worker that function. The emulator runs
    provided.* functions as local processes, so the zip names the binary by its path
    instead of carrying it (a real deployment uses the worker image, WorkerImageUri)."""
    binary = os.path.abspath(binary)
    if not os.access(binary, os.X_OK):
        raise Failure(f"--lambda-worker: {binary} is not an executable")
    script = f"#!/bin/sh\nexec '{binary}' lambda\n".encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        entry = zipfile.ZipInfo("bootstrap")
        entry.external_attr = 0o100755 << 16
        archive.writestr(entry, script)
    key = f"worker/{hashlib.sha256(script).hexdigest()[:16]}.zip"
    provider.client("s3").put_object(Bucket=CUSTOMER_TEMPLATE_BUCKET, Key=key, Body=buffer.getvalue())
    log(f"published the worker function's code at s3://{CUSTOMER_TEMPLATE_BUCKET}/{key}")
    return {"WorkerMode": "lambda", "WorkerCodeBucket": CUSTOMER_TEMPLATE_BUCKET, "WorkerCodeKey": key,
            "WorkerFunctionTimeoutSeconds": "60"}


def retype_event_source_mapping(provider, function, stack):
    """The emulator's CloudFormation stores the event source mapping's MaximumConcurrency
    as the parameter's string, which its SQS poller cannot compare (ADR 4); the mapping is
    given the number through the Lambda API, as AWS's CloudFormation would have."""
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
    limit = int(params.get("WorkerMaxConcurrency", "10"))
    client = provider.client("lambda")
    for mapping in client.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]:
        client.update_event_source_mapping(UUID=mapping["UUID"], ScalingConfig={"MaximumConcurrency": limit})


def add_read_model_replicas(provider, stack):
    """With ReadModelMode global-primary, makes sure each ReadModelReplica region has its
    replica of tenant-configs. The emulator's CloudFormation creates a GlobalTable's local
    table only (ADR 4); its DynamoDB does replicate once UpdateTable adds a replica, which
    is what AWS's CloudFormation does for the stack. Idempotent."""
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
    if params.get("ReadModelMode") != "global-primary":
        return
    table = outputs(stack).get("ReadModelTableName", "tenant-configs")
    ddb = provider.client("dynamodb")
    held = {r["RegionName"] for r in ddb.describe_table(TableName=table)["Table"].get("Replicas", [])}
    for key in ("ReadModelReplica1Region", "ReadModelReplica2Region"):
        region = params.get(key, "")
        if not region or region in held:
            continue
        ddb.update_table(TableName=table, ReplicaUpdates=[{"Create": {"RegionName": region}}])
        log(f"added a replica of {table} in {region} (UpdateTable: the emulator's GlobalTable makes none)")


def stack_parameters(provider, overrides):
    params = {"TemplateBucketName": CUSTOMER_TEMPLATE_BUCKET}
    # The bucket policy denies requests without TLS; the emulator speaks plain HTTP.
    if provider.endpoint.startswith("http://"):
        params["RequireTls"] = "false"
    # ministack leaves sts:ExternalId out of identity-policy evaluation, so the provider
    # role's "only with an ExternalId" condition would refuse every AssumeRole there (ADR 0004).
    params["ProviderRequireExternalId"] = "false"
    params.update(overrides)
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(params.items())]


def publish_template(provider, template):
    """Uploads a stack template to the template bucket under its content hash; returns its
    URL. CloudFormation takes at most 51,200 bytes inline (TemplateBody) and 1 MB from S3,
    and the provider's template is near the first limit."""
    with open(template, "rb") as f:
        body = f.read()
    key = f"stacks/{hashlib.sha256(body).hexdigest()[:16]}-{os.path.basename(template)}"
    provider.client("s3").put_object(Bucket=CUSTOMER_TEMPLATE_BUCKET, Key=key, Body=body,
                                      ContentType="application/x-yaml")
    return f"{provider.endpoint}/{CUSTOMER_TEMPLATE_BUCKET}/{key}"


def deploy(provider, name, parameters, template=TEMPLATE_FILE):
    cfn = provider.client("cloudformation")
    common = {
        "StackName": name,
        "TemplateURL": publish_template(provider, template),
        "Parameters": parameters,
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
    }
    stack = describe(cfn, name)
    if stack and stack["StackStatus"] == "ROLLBACK_COMPLETE":
        # A failed first create cannot be updated; AWS wants it deleted first.
        log(f"stack {name} is ROLLBACK_COMPLETE from an earlier failed create; deleting it")
        cfn.delete_stack(StackName=name)
        deadline = time.monotonic() + 300
        while describe(cfn, name) is not None:
            if time.monotonic() > deadline:
                raise Failure(f"stack {name} was not deleted within 300 s")
            time.sleep(1)
        stack = None
    if stack is None:
        log(f"creating stack {name} ({provider.region}, account {provider.account})")
        cfn.create_stack(**common, OnFailure="ROLLBACK")
    else:
        try:
            cfn.update_stack(**common)
            log(f"updating stack {name} ({provider.region}, account {provider.account})")
        except botocore.exceptions.ClientError as err:
            if error_code(err) == "ValidationError" and "No updates are to be performed" in str(err):
                log(f"stack {name} is up to date")
                return stack
            raise
    stack = wait_stack(cfn, name)
    log(f"stack {name}: {stack['StackStatus']}")
    return stack


def outputs_of(stack, wanted=tuple(key for key, _ in SETTINGS)):
    found = outputs(stack)
    missing = [key for key in wanted if key not in found]
    if missing:
        raise Failure(f"stack {stack['StackName']} lacks outputs {', '.join(missing)}")
    return found


# ------------------------------------------------------------------------- smoke -------

class Check:
    def __init__(self):
        self.count = 0

    def ok(self, what):
        self.count += 1
        log(f"  ok  {what}")

    @staticmethod
    def gap(what):
        log(f"  --  {what}")


def expect(condition, what):
    if not condition:
        raise Failure(f"smoke: {what}")


def denied(call, what):
    """Runs `call`, which must fail with an access-denied error."""
    try:
        call()
    except botocore.exceptions.ClientError as err:
        code = error_code(err)
        if code in ("AccessDenied", "AccessDeniedException", "AuthorizationError", "AuthorizationErrorException"):
            return
        raise Failure(f"smoke: {what}: expected AccessDenied, got {code}: {err}") from err
    raise Failure(f"smoke: {what}: expected AccessDenied, but it was allowed")


def _as_tls(request, **_):
    # The emulator speaks plain HTTP; a TLS-terminating proxy in front of it would mark
    # the request like this, which is what aws:SecureTransport is evaluated from there.
    request.headers["X-Forwarded-Proto"] = "https"


class Session:
    """Clients acting as an assumed role, through the emulator."""

    def __init__(self, base, creds, tls):
        self._base = base
        self._tls = tls
        self._session = boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=base.region,
        )

    def client(self, service, tls=None):
        client = self._session.client(service, endpoint_url=self._base.endpoint, config=self._base._config)
        if self._tls if tls is None else tls:
            client.meta.events.register("before-sign", _as_tls)
        return client


class Smoke:
    def __init__(self, provider, stack_name, out, parameters):
        self.provider = provider
        self.stack_name = stack_name
        self.out = out
        self.params = parameters
        self.tls = parameters.get("RequireTls") == "true"
        self.oidc = parameters.get("OidcProviderHostPath", "")
        self.check = Check()

    def assume(self, via, role_arn, session_name, external_id=None):
        kwargs = {"RoleArn": role_arn, "RoleSessionName": session_name, "DurationSeconds": 900}
        if external_id is not None:
            kwargs["ExternalId"] = external_id
        creds = via.client("sts").assume_role(**kwargs)["Credentials"]
        return Session(self.provider, creds, self.tls)

    def web_identity_token(self, namespace, service_account, audience):
        """An (unsigned) service-account token as EKS projects it; ministack does not verify
        signatures, so it shows whether the trust policy's sub/aud conditions are right."""
        def part(doc):
            return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()
        claims = {"iss": f"https://{self.oidc}", "aud": audience, "exp": int(time.time()) + 3600,
                  "sub": f"system:serviceaccount:{namespace}:{service_account}"}
        return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"

    def workload(self, role_output, sa_param, ns_param, session_name):
        """Credentials of the api's or the worker's role (see `assume_workload`)."""
        return self.assume_workload(self.out[role_output], role_output, self.params[ns_param],
                                    self.params[sa_param], session_name)

    def assume_workload(self, role_arn, role_output, namespace, sa, session_name):
        """Credentials of a workload's role: through IRSA when the stack has an OIDC provider,
        otherwise assumed by the account (which those roles then trust)."""
        if not self.oidc:
            return self.assume(self.provider, role_arn, session_name)
        sts = self.provider.client("sts")
        audience = self.params.get("OidcAudience", "sts.amazonaws.com")
        for wrong_ns, wrong_sa, wrong_aud in ((namespace, "someone-else", audience), (namespace, sa, "other")):
            token = self.web_identity_token(wrong_ns, wrong_sa, wrong_aud)
            denied(lambda: sts.assume_role_with_web_identity(
                RoleArn=role_arn, RoleSessionName=session_name, WebIdentityToken=token),
                f"{role_output} assumed with sub {wrong_sa} / aud {wrong_aud}")
        denied(lambda: self.assume(self.provider, role_arn, session_name), f"the account assumes {role_output}")
        creds = sts.assume_role_with_web_identity(
            RoleArn=role_arn, RoleSessionName=session_name,
            WebIdentityToken=self.web_identity_token(namespace, sa, audience))["Credentials"]
        return Session(self.provider, creds, self.tls)

    def run(self):
        out, check = self.out, self.check
        bucket, queue_url, dlq_url = out["StagingBucketName"], out["DeliveryQueueUrl"], out["DeliveryDlqUrl"]
        log(f"smoke test against the stack outputs (bucket {bucket})")

        collector, other_collector = (self.collector(cluster) for cluster in SMOKE_CLUSTERS)
        worker = self.workload("WorkerRoleArn", "WorkerServiceAccount", "Namespace", "smoke-worker")
        api = self.workload("ApiRoleArn", "ApiServiceAccount", "Namespace", "smoke-api")
        if self.oidc:
            check.ok("collector, worker and api roles: only their service accounts (sub + aud) get in")
        else:
            check.ok("the account assumes the collector, worker and api roles (no OIDC provider)")

        # Start from an empty delivery queue: earlier runs and the s3:TestEvent leave messages.
        root_sqs = self.provider.client("sqs")
        root_sqs.purge_queue(QueueUrl=queue_url)

        # 1. The collector writes; only .json.gz objects are announced.
        run_id = uuid.uuid4().hex[:8]
        own, other = SMOKE_CLUSTERS
        key = f"x/{own}/a/p/1-u{run_id}.json.gz"
        body = gzip.compress(b'{"message":"hello from the smoke test"}\n')
        c_s3 = collector.client("s3")
        c_s3.put_object(Bucket=bucket, Key=f"x/{own}/a/p/1-u{run_id}.txt", Body=b"not a log batch")
        c_s3.put_object(Bucket=bucket, Key=key, Body=body)
        check.ok(f"collector role of {own} puts s3://{bucket}/{key}")
        denied(lambda: c_s3.get_object(Bucket=bucket, Key=key), "collector role reads the bucket")
        denied(lambda: c_s3.delete_object(Bucket=bucket, Key=key), "collector role deletes an object")
        check.ok("collector role cannot read or delete objects")
        self.collectors_stay_in_their_cluster(c_s3, other_collector.client("s3"), bucket, run_id)
        if self.tls:
            plain = collector.client("s3", tls=False)
            denied(lambda: plain.put_object(Bucket=bucket, Key=f"x/{own}/a/p/2-u{run_id}.json.gz", Body=body),
                   "collector role writes without TLS")
            check.ok("the bucket refuses requests without TLS")

        # 2. The worker receives the SNS envelope carrying the S3 event.
        w_sqs = worker.client("sqs")

        def is_ours(msg):
            _, records = s3_records(msg)
            return bool(records) and records[0].get("s3", {}).get("object", {}).get("key") == key

        msg, others = receive_until(w_sqs, queue_url, is_ours)
        expect(msg is not None, f"no notification for {key} on the delivery queue within 30 s "
                                f"({len(others)} other message(s))")
        envelope, records = s3_records(msg)
        expect(envelope.get("Type") == "Notification", f"not an SNS envelope: {envelope}")
        expect(envelope.get("TopicArn") == out["LogPayloadsTopicArn"], f"from topic {envelope.get('TopicArn')}")
        record = records[0]
        expect(record.get("eventSource") == "aws:s3", f"eventSource {record.get('eventSource')}")
        expect(record.get("eventName", "").startswith("ObjectCreated:"), f"eventName {record.get('eventName')}")
        expect(record["s3"]["bucket"]["name"] == bucket, f"bucket {record['s3']['bucket']['name']}")
        check.ok(f"delivery queue got an SNS envelope from log-payloads: {record['eventName']} {key}")
        announced = [(s3_records(m)[1] or [{}])[0].get("s3", {}).get("object", {}).get("key", "") for m in others]
        expect(not any(k.endswith(".txt") for k in announced), "a .txt object was announced (suffix filter)")

        w_s3 = worker.client("s3")
        expect(w_s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body,
               "the worker read different bytes than the collector wrote")
        check.ok("worker role reads the announced object")
        denied(lambda: w_s3.put_object(Bucket=bucket, Key="x/forged.json.gz", Body=b""), "worker role writes the bucket")
        check.ok("worker role cannot write the bucket")

        # 3. Poison handling: after maxReceiveCount receives the message moves to the DLQ.
        max_receives = int(json.loads(root_sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"])["maxReceiveCount"])
        w_sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=msg["ReceiptHandle"], VisibilityTimeout=0)
        for _ in range(max_receives + 1):
            resp = w_sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for m in resp.get("Messages", []):
                w_sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"],
                                                VisibilityTimeout=0)
        dead, _ = receive_until(root_sqs, dlq_url, is_ours, timeout=10)
        expect(dead is not None, f"the message did not reach the DLQ after {max_receives} receives")
        root_sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=dead["ReceiptHandle"])
        check.ok(f"after {max_receives} receives the message moved to the dead-letter queue")

        # 4. The read model and config changes (a worker replica's own queue).
        self.config_changes(api, worker, run_id)

        # 5. The delivery ledger.
        self.ledger(api, worker, run_id)

        # 6. The provider role.
        self.provider_role(api, worker, collector)
        log(f"smoke test passed ({check.count} checks)")

    def collector(self, cluster):
        """Deploys the collector-cluster-role stack of `cluster` (same OIDC issuer as the
        provider stack, default namespace and service account) and returns its credentials."""
        params = {"ClusterId": cluster, "StagingBucketName": self.out["StagingBucketName"],
                  "OidcProviderHostPath": self.oidc}
        for key in ("OidcAudience", "StagingBucketKmsKeyArn"):
            if self.params.get(key):
                params[key] = self.params[key]
        stack = deploy(self.provider, f"{self.stack_name}-collector-{cluster}",
                       [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(params.items())],
                       template=COLLECTOR_TEMPLATE_FILE)
        role_arn = outputs_of(stack, ("CollectorRoleArn",))["CollectorRoleArn"]
        stack_params = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
        return self.assume_workload(role_arn, f"the collector role of {cluster}",
                                    stack_params.get("Namespace", "logspoke"),
                                    stack_params.get("ServiceAccount", "logspoke-collector"),
                                    f"smoke-collector-{cluster}")

    def collectors_stay_in_their_cluster(self, own_s3, other_s3, bucket, run_id):
        """A collector role writes only keys whose second segment is its cluster: not another
        cluster's, not even one that names its own cluster as a later segment."""
        own, other = SMOKE_CLUSTERS
        body = b"forged"
        for key in (f"x/{other}/a/p/f-u{run_id}.json.gz", f"x/{other}/{own}/p/f-u{run_id}.json.gz",
                    f"x/{own}/{own}/p/f-u{run_id}.json.gz", f"{own}/a/p/f-u{run_id}.json.gz"):
            denied(lambda k=key: own_s3.put_object(Bucket=bucket, Key=k, Body=body),
                   f"collector role of {own} writes {key}")
        other_s3.put_object(Bucket=bucket, Key=f"x/{other}/a/p/1-u{run_id}.txt", Body=body)
        check_key = f"x/{own}/a/p/g-u{run_id}.txt"
        denied(lambda: other_s3.put_object(Bucket=bucket, Key=check_key, Body=body),
               f"collector role of {other} writes {check_key}")
        self.check.ok("each collector role writes only keys of its own cluster (TENANT/CLUSTER/...)")

    def config_changes(self, api, worker, run_id):
        out, check = self.out, self.check
        table = out["ReadModelTableName"]
        a_ddb, w_ddb = api.client("dynamodb"), worker.client("dynamodb")
        item = {"tenant_id": {"S": f"smoke-{run_id}"}, "type": {"S": "cloudwatch"}, "version": {"N": "1"}}
        item_key = {k: item[k] for k in ("tenant_id", "type")}
        a_ddb.put_item(TableName=table, Item=item)
        got = w_ddb.get_item(TableName=table, Key=item_key).get("Item")
        expect(got == item, f"worker read {got} from the read model")
        w_ddb.scan(TableName=table, Limit=1)
        denied(lambda: w_ddb.put_item(TableName=table, Item=item), "worker role writes the read model")
        check.ok("api role writes the read model; worker role reads and scans it but cannot write")

        topic = out["ConfigTopicArn"]
        w_sqs, w_sns = worker.client("sqs"), worker.client("sns")
        queue_name = f"{out['ConfigQueueNamePrefix']}smoke-{run_id}"
        denied(lambda: w_sqs.create_queue(QueueName=f"other-{run_id}"), "worker role creates a queue outside its prefix")
        own_url = w_sqs.create_queue(QueueName=queue_name, tags={"logspoke:component": "config"})["QueueUrl"]
        try:
            own_arn = w_sqs.get_queue_attributes(QueueUrl=own_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            w_sqs.set_queue_attributes(QueueUrl=own_url, Attributes={"Policy": json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                               "Action": "sqs:SendMessage", "Resource": own_arn,
                               "Condition": {"ArnEquals": {"aws:SourceArn": topic}}}],
            })})
            sub_arn = self.subscribe(w_sns, topic, own_arn)
            try:
                event = {"tenant_id": f"smoke-{run_id}", "type": "cloudwatch", "version": 1}
                api.client("sns").publish(TopicArn=topic, Message=json.dumps(event))
                change, _ = receive_until(w_sqs, own_url, lambda m: json.loads(m["Body"]) == event, timeout=10)
                expect(change is not None, "the config change did not reach the worker's own queue")
                w_sqs.delete_message(QueueUrl=own_url, ReceiptHandle=change["ReceiptHandle"])
                check.ok(f"api publishes to config-changes; the worker's own queue {queue_name} receives it")
            finally:
                self.unsubscribe(w_sns, sub_arn)
        finally:
            w_sqs.delete_queue(QueueUrl=own_url)
            a_ddb.delete_item(TableName=table, Key=item_key)
        check.ok("worker role deletes its queue; api role deletes the read-model item")

    def ledger(self, api, worker, run_id):
        out, check = self.out, self.check
        table = out["LedgerTableName"]
        a_ddb, w_ddb = api.client("dynamodb"), worker.client("dynamodb")
        item = {"pk": {"S": f"smoke-{run_id}#cloudwatch"}, "sk": {"S": f"o#x/smoke-c1/a/p/1-u{run_id}.json.gz"},
                "state": {"S": "delivered"}, "expires_at": {"N": str(int(time.time()) + 3600)}}
        item_key = {k: item[k] for k in ("pk", "sk")}
        w_ddb.put_item(TableName=table, Item=item)
        try:
            got = w_ddb.get_item(TableName=table, Key=item_key).get("Item")
            expect(got == item, f"worker read {got} from the ledger")
            got = a_ddb.get_item(TableName=table, Key=item_key).get("Item")
            expect(got == item, f"api read {got} from the ledger")
            denied(lambda: a_ddb.delete_item(TableName=table, Key=item_key), "api role deletes from the ledger")
            denied(lambda: a_ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": item}}]}),
                   "api role batch-writes the ledger")
            check.ok("worker role writes and reads the delivery ledger; api role reads it but cannot delete")
        finally:
            w_ddb.delete_item(TableName=table, Key=item_key)
        # The api's outbox relay creates and cancels replay jobs: the `replay` partition only.
        # AWS enforces that with dynamodb:LeadingKeys, which the emulator leaves out of the
        # request context (ADR 4, gap 9): there the policy's Null guard refuses the writes,
        # and the account makes them. scripts/check-iam evaluates the condition.
        job_key = {"pk": {"S": "replay"}, "sk": {"S": f"smoke-{run_id}"}}
        try:
            self.replay_job_writes(a_ddb, table, job_key)
            check.ok("api role creates and cancels replay jobs")
        except botocore.exceptions.ClientError as err:
            if error_code(err) not in ("AccessDenied", "AccessDeniedException"):
                raise
            check.gap("api role refused its replay-job writes: no dynamodb:LeadingKeys in the emulator's "
                      "request context (emulator gap, ADR 0004); writing as the account")
            self.replay_job_writes(self.provider.client("dynamodb"), table, job_key)
        w_ddb.delete_item(TableName=table, Key=job_key)
        expect(replay_writes_are_pinned(), "the api role's ledger writes are not limited to the replay partition")
        check.ok("the api role's ledger writes are conditioned on dynamodb:LeadingKeys = replay")

    @staticmethod
    def replay_job_writes(ddb, table, job_key):
        ddb.put_item(TableName=table, Item={**job_key, "state": {"S": "queued"}},
                     ConditionExpression="attribute_not_exists(pk)")
        ddb.update_item(TableName=table, Key=job_key, UpdateExpression="SET cancelled = :t",
                        ExpressionAttributeValues={":t": {"BOOL": True}})

    def subscribe(self, worker_sns, topic, queue_arn):
        """The worker role may subscribe only its own queues, over sqs (sns:Protocol and
        sns:Endpoint conditions); ministack 1.5.33 puts neither key in the request context,
        so there the conditions fail and the account subscribes (ADR 0004; scripts/check-iam
        evaluates them)."""
        kwargs = {"TopicArn": topic, "Protocol": "sqs", "Endpoint": queue_arn,
                  "Attributes": {"RawMessageDelivery": "true"}, "ReturnSubscriptionArn": True}
        try:
            sub_arn = worker_sns.subscribe(**kwargs)["SubscriptionArn"]
            self.check.ok("worker role subscribes its own queue")
            return sub_arn
        except botocore.exceptions.ClientError as err:
            if error_code(err) not in ("AuthorizationError", "AccessDenied"):
                raise
            self.check.gap("worker role refused sns:Subscribe: no sns:Protocol/sns:Endpoint in the emulator's "
                           "request context (emulator gap, ADR 0004); subscribing as the account")
            return self.provider.client("sns").subscribe(**kwargs)["SubscriptionArn"]

    def unsubscribe(self, worker_sns, sub_arn):
        """IAM authorizes sns:Unsubscribe on the topic, which the worker role allows; ministack
        1.5.33 checks it against resource "*" (the request names only the subscription), so
        there it is refused and the account cleans up (ADR 0004)."""
        try:
            worker_sns.unsubscribe(SubscriptionArn=sub_arn)
            self.check.ok("worker role unsubscribes its queue")
        except botocore.exceptions.ClientError as err:
            if error_code(err) not in ("AuthorizationError", "AccessDenied"):
                raise
            self.check.gap("worker role refused sns:Unsubscribe (emulator gap, ADR 0004); "
                           "unsubscribing as the account")
            self.provider.client("sns").unsubscribe(SubscriptionArn=sub_arn)

    def provider_role(self, api, worker, collector):
        """Reachable from the worker and the api only; assumes other roles only with an
        ExternalId, even a customer role whose trust policy forgot to require one."""
        out, check = self.out, self.check
        role = out["ProviderRoleArn"]
        denied(lambda: self.assume(collector, role, "smoke-collector-provider"), "collector role assumes the provider role")
        try:
            via_worker = self.assume(worker, role, "smoke-worker-provider")
            self.assume(api, role, "smoke-api-provider")
        except botocore.exceptions.ClientError as err:
            if not self.oidc or error_code(err) != "AccessDenied":
                raise
            check.gap("provider role refused the worker role: ministack evaluates aws:PrincipalArn as "
                      "the session ARN, not the role ARN (emulator gap, ADR 0004); provider checks skipped")
            return
        check.ok("worker and api roles assume the provider role; the collector role cannot")
        customer_iam = Account("222222222222", self.provider.region).client("iam")
        lax = ensure_lax_customer_role(customer_iam, role)
        self.assume(via_worker, lax, "smoke-with-external-id", external_id="smoke-external-id")
        outside = ensure_lax_customer_role(customer_iam, role, path="/")
        denied(lambda: self.assume(via_worker, outside, "smoke-outside-path", external_id="smoke-external-id"),
               "provider role assumes a customer role outside /logspoke/")
        own_account = ensure_lax_customer_role(self.provider.client("iam"), role)
        denied(lambda: self.assume(via_worker, own_account, "smoke-own-account", external_id="smoke-external-id"),
               "provider role assumes a role of the provider account")
        check.ok("provider role assumes only roles under /logspoke/ and none of its own account")
        if self.params.get("ProviderRequireExternalId", "true") == "true":
            denied(lambda: self.assume(via_worker, lax, "smoke-no-external-id"),
                   "provider role assumes a customer role without an ExternalId")
            check.ok("provider role assumes a customer role only when it passes an ExternalId")
        else:
            check.ok("provider role assumes a customer role with an ExternalId")
            check.gap("ProviderRequireExternalId=false (emulator gap, ADR 0004): "
                      "the refusal without an ExternalId is not checked")


def receive_until(sqs, queue_url, predicate, timeout=30):
    """Receives (without deleting) until a message matches; returns (message, others)."""
    deadline = time.monotonic() + timeout
    others = []
    while time.monotonic() < deadline:
        resp = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2,
                                   VisibilityTimeout=30)
        for msg in resp.get("Messages", []):
            if predicate(msg):
                return msg, others
            others.append(msg)
    return None, others


def s3_records(msg):
    """The S3 event records of an SQS message carrying an SNS envelope (None if not one)."""
    try:
        envelope = json.loads(msg["Body"])
        event = json.loads(envelope["Message"])
    except (KeyError, TypeError, ValueError):
        return None, None
    return envelope, event.get("Records")


def ensure_lax_customer_role(iam, provider_role_arn, path="/logspoke/"):
    """A role of `iam`'s account that trusts the provider role WITHOUT requiring an ExternalId:
    the provider role's own policy must still refuse to assume it without one, and refuse it
    altogether outside the customer template's path /logspoke/ or in the provider account."""
    name = "logspoke-smoke-lax-trust" + ("" if path == "/logspoke/" else "-outside-path")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": provider_role_arn}, "Action": "sts:AssumeRole"}]})
    try:
        existing = iam.get_role(RoleName=name)["Role"]
        if existing["Path"] == path:
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust)
            return existing["Arn"]
        iam.delete_role(RoleName=name)  # from a run before roles had a path
    except botocore.exceptions.ClientError as err:
        if error_code(err) != "NoSuchEntity":
            raise
    return iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=trust)["Role"]["Arn"]



def replay_writes_are_pinned():
    """True when every ledger write the api role's policy allows is conditioned on the
    `replay` partition key (dynamodb:LeadingKeys)."""
    from cfnlint.decode import cfn_yaml

    template = cfn_yaml.load(TEMPLATE_FILE)
    writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
    found = False
    for policy in template["Resources"]["ApiRole"]["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            if not isinstance(statement, dict) or "Action" not in statement:
                continue
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if not writes.intersection(actions) or "DeliveryLedgerTable" not in str(statement.get("Resource")):
                continue
            keys = statement.get("Condition", {}).get("ForAllValues:StringEquals", {}).get("dynamodb:LeadingKeys")
            if keys != ["replay"]:
                return False
            found = True
    return found

def main():
    args = parse_args()
    region = region_or_default(args.region)
    provider = Account(PROVIDER_ACCOUNT, region)
    template_url = publish_customer_template(provider, region)
    overrides = dict(args.params)
    if args.lambda_worker:
        overrides = {**publish_worker_code(provider, args.lambda_worker), **overrides}
    stack = deploy(provider, args.stack_name, stack_parameters(provider, overrides))
    out = outputs_of(stack)
    add_read_model_replicas(provider, stack)
    if "WorkerFunctionName" in out:
        retype_event_source_mapping(provider, out["WorkerFunctionName"], stack)
    if args.smoke:
        Smoke(provider, args.stack_name, out, {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}).run()
    print(f"LOGSPOKE_CUSTOMER_TEMPLATE_URL={template_url}")
    for key, setting in SETTINGS:
        print(f"{setting}={out[key]}")
    if "WorkerFunctionName" in out:
        print(f"LOGSPOKE_WORKER_FUNCTION_NAME={out['WorkerFunctionName']}")
    return 0


if __name__ == "__main__":
    run(main)
