"""End to end: the real `logspoke-api` and `logspoke-worker` binaries, Postgres, and the
emulator with the provider stack deployed, driven only through the public HTTP API and
AWS APIs. Run by scripts/e2e (which starts everything); tests run in order."""

import os
import time
import unittest

from harness import NAMESPACE, PROVIDER, Customer, call, client, delivery_queues, queue_depth, stage, wait_drained
from harness import mint_token as token
from stacks import describe as describe_stack

HOUR_MS = 3_600_000


class EndToEnd(unittest.TestCase):
    operator = None
    customers = {}

    @classmethod
    def setUpClass(cls):
        cls.operator = token("--role", "operator", "--sub", "e2e")
        cls.customers = {"acme": Customer("acme", "222222222222", notify="ops@acme.example"),
                         "globex": Customer("globex", "333333333333")}

    def api(self, method, path, body=None, token=None, status=None, **kwargs):
        code, document = call(method, path, token or self.operator, body, **kwargs)
        if status is not None:
            self.assertEqual(code, status, f"{method} {path}: {document}")
        return document

    def onboarding_link(self, tenant, token=None):
        return self.api("POST", f"/v1/tenants/{tenant}/onboarding", {"region": "eu-west-1"}, token=token,
                        status=200)["quick_create_url"]

    def verify(self, tenant, kind):
        result = self.api("POST", f"/v1/tenants/{tenant}/delivery-configs/{kind}/verify", status=200)
        self.assertEqual(result["state"], "active", result["verification"])

    # The clusters each tenant's collectors stage from (only registered ones deliver).
    CLUSTERS = {"acme": ["c1", "c2", "c3"], "globex": ["c1", "c9"]}

    def test_1_operator_onboards_two_customers(self):
        for tenant, customer in self.customers.items():
            self.api("POST", "/v1/tenants", {"tenant_id": tenant, "display_name": tenant.title()}, status=201)
            for cluster in self.CLUSTERS[tenant]:
                self.api("PUT", f"/v1/tenants/{tenant}/clusters/{cluster}", status=201)
            customer.prepare()
            role = customer.launch(self.onboarding_link(tenant))
            common = {"target_region": "eu-west-1", "role_arn": role}
            self.api("PUT", f"/v1/tenants/{tenant}/delivery-configs/cloudwatch",
                     {**common, "log_group_name": customer.log_group}, status=201)
            self.api("PUT", f"/v1/tenants/{tenant}/delivery-configs/s3",
                     {**common, "bucket_name": customer.bucket, "bucket_prefix": "k8s/"}, status=201)
            self.verify(tenant, "cloudwatch")
            self.verify(tenant, "s3")
            if customer.topic:
                target = {"topic_arn": customer.topic, "role_arn": role}
                self.api("PUT", f"/v1/tenants/{tenant}/notification-target", target, status=201)
                self.assertEqual(customer.notifications(), [], "subscribed before anything was sent")
        # A config change reaches every worker within 2 s (DESIGN.md section 8).
        time.sleep(2)

    def test_2_logs_reach_the_right_account_in_order(self):
        acme, globex = self.customers["acme"], self.customers["globex"]
        start = int(time.time() * 1000) - 30 * HOUR_MS
        big = [f"acme checkout {i:05d} — grüße ✓ 日本" for i in range(12_000)]
        keys = {
            "acme": [
                stage("acme", "c1", "checkout", "p1", big, start, step_ms=9_000, bad_line=True),
                stage("acme", "c2", "billing", "p2", [f"acme billing {i}" for i in range(50)], start),
                # Staged by a collector of the previous release, without the namespace.
                stage("acme", "c2", "billing", "old", ["acme billing before the upgrade"], start, namespace=None),
            ],
            "globex": [stage("globex", "c1", "web", "w1", [f"globex web {i}" for i in range(100)], start)],
        }
        # A cluster globex never registered (c2) stages under globex's prefix: rejected, never delivered.
        stage("globex", "c2", "web", "forged", ["forged into globex"], start)
        checkout = acme.wait_events(f"c1/{NAMESPACE}/checkout/p1", 12_000)
        self.assertEqual(sorted({m for _, m in checkout}), big)
        in_time_order = [m for _, m in sorted(checkout, key=lambda e: e[0])]
        self.assertEqual(list(dict.fromkeys(in_time_order)), big)
        self.assertEqual(len(acme.wait_events(f"c2/{NAMESPACE}/billing/p2", 50)), 50)
        # Into the stream name it had before the namespace joined the key.
        self.assertEqual(len(acme.wait_events("c2/billing/old", 1)), 1)
        self.assertEqual(len(globex.wait_events(f"c1/{NAMESPACE}/web/w1", 100)), 100)
        self.assertTrue(wait_drained())
        self.assertNotIn(f"c2/{NAMESPACE}/web/forged", globex.streams())
        # Isolation: nothing of one tenant in the other's account.
        for name, customer in self.customers.items():
            other = "globex" if name == "acme" else "acme"
            for stream in customer.streams():
                self.assertFalse(any(m.startswith(other) for _, m in customer.stream_events(stream)), stream)
            self.assertEqual(sorted(customer.keys()), sorted(f"k8s/{k}" for k in keys[name]))

    def test_3_desired_logs_disable_and_reenable(self):
        acme = self.customers["acme"]
        path = "/v1/tenants/acme/delivery-configs/cloudwatch"
        now = int(time.time() * 1000)
        self.api("PATCH", path, {"desired_logs": ["billing"]}, status=200, content_type="application/merge-patch+json")
        time.sleep(2)
        stage("acme", "c3", "checkout", "p3", ["filtered out"], now)
        stage("acme", "c3", "billing", "p4", ["wanted"], now)
        self.assertEqual([m for _, m in acme.wait_events(f"c3/{NAMESPACE}/billing/p4", 1)], ["wanted"])
        self.assertTrue(wait_drained())
        self.assertEqual(acme.stream_events(f"c3/{NAMESPACE}/checkout/p3"), [])

        # A pod chooses its application label, not its namespace: "namespace/application"
        # admits only that namespace (and no object whose key lacks the namespace).
        self.api("PATCH", path, {"desired_logs": [f"{NAMESPACE}/billing"]}, status=200,
                 content_type="application/merge-patch+json")
        time.sleep(2)
        stage("acme", "c3", "billing", "p7", ["billing of another namespace"], now, namespace="sandbox")
        stage("acme", "c3", "billing", "p8", ["billing of an unknown namespace"], now, namespace=None)
        stage("acme", "c3", "billing", "p9", ["billing of its namespace"], now)
        self.assertEqual([m for _, m in acme.wait_events(f"c3/{NAMESPACE}/billing/p9", 1)],
                         ["billing of its namespace"])
        self.assertTrue(wait_drained())
        self.assertEqual(acme.stream_events("c3/sandbox/billing/p7"), [])
        self.assertEqual(acme.stream_events("c3/billing/p8"), [])

        self.api("PATCH", path, {"enabled": False}, status=200, content_type="application/merge-patch+json")
        time.sleep(2)
        stage("acme", "c3", "billing", "p5", ["while disabled"], now)
        self.assertTrue(wait_drained())
        self.assertEqual(acme.stream_events(f"c3/{NAMESPACE}/billing/p5"), [])

        config = self.api("PATCH", path, {"enabled": True}, status=200,
                          content_type="application/merge-patch+json")
        self.assertEqual(config["state"], "active")
        time.sleep(2)
        stage("acme", "c3", "billing", "p6", ["enabled again"], now)
        self.assertEqual([m for _, m in acme.wait_events(f"c3/{NAMESPACE}/billing/p6", 1)], ["enabled again"])

    def health(self, tenant, kind):
        return self.api("GET", f"/v1/tenants/{tenant}/delivery-configs/{kind}/health", status=200)

    def wait_health(self, tenant, kind, done, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            health = self.health(tenant, kind)
            if done(health) or time.monotonic() > deadline:
                return health
            time.sleep(0.5)

    def dead_letters(self):
        queues = delivery_queues("LOGSPOKE_DELIVERY_QUEUE_URL", "LOGSPOKE_DELIVERY_DLQ_URL",
                                 "LOGSPOKE_OVERFLOW_QUEUE_URL", "LOGSPOKE_OVERFLOW_DLQ_URL")
        return sum(queue_depth(url) for url in queues)

    def test_4_rotating_the_external_id_parks_logs_until_the_stack_is_updated(self):
        globex = self.customers["globex"]
        self.api("POST", "/v1/tenants/globex/onboarding/rotate-external-id", status=200)
        configs = self.api("GET", "/v1/tenants/globex/delivery-configs", status=200)["items"]
        self.assertTrue(all(c["state"] == "pending_verification" for c in configs), configs)
        time.sleep(2)
        stage("globex", "c9", "web", "w9", ["after rotation"], int(time.time() * 1000))
        paused = self.wait_health("globex", "cloudwatch", lambda h: h["parked_objects"] == 1)
        self.assertEqual((paused["state"], paused["parked_cause"]), ("paused", "awaiting_verification"), paused)
        self.assertEqual(globex.stream_events(f"c9/{NAMESPACE}/web/w9"), [])
        self.assertTrue(wait_drained())
        self.assertEqual(self.dead_letters(), 0, "parked in the ledger, not waiting in the queue or the DLQ")

        globex.update(self.onboarding_link("globex"))
        self.verify("globex", "cloudwatch")
        self.verify("globex", "s3")
        # No redrive: the worker drains the parked object once the config is active again.
        self.assertEqual([m for _, m in globex.wait_events(f"c9/{NAMESPACE}/web/w9", 1)], ["after rotation"])
        drained = self.wait_health("globex", "cloudwatch", lambda h: h["parked_objects"] == 0)
        self.assertEqual(drained["parked_objects"], 0, drained)

    def test_5_a_tenant_token_reaches_only_its_own_tenant(self):
        acme = token("--role", "tenant", "--tenant-id", "acme", "--sub", "acme-admin")
        self.onboarding_link("acme", token=acme)
        self.api("GET", "/v1/tenants/acme/delivery-configs", token=acme, status=200)
        code, _ = call("POST", "/v1/tenants/acme/delivery-configs/cloudwatch/verify", acme)
        self.assertEqual(code, 200)
        for method, path, body in [
            ("GET", "/v1/tenants/globex", None),
            ("GET", "/v1/tenants/globex/delivery-configs", None),
            ("POST", "/v1/tenants/globex/onboarding", {"region": "eu-west-1"}),
            ("POST", "/v1/tenants/globex/delivery-configs/s3/verify", None),
            ("GET", "/v1/tenants/nonexistent", None),
        ]:
            code, problem = call(method, path, acme, body)
            self.assertIn(code, (403, 404), f"{method} {path}")
            self.assertNotIn("globex", str(problem.get("detail", "")) if problem else "")
        # Whether another tenant exists is not revealed.
        self.assertEqual(call("GET", "/v1/tenants/globex", acme)[0], call("GET", "/v1/tenants/nonexistent", acme)[0])
        code, _ = call("GET", "/v1/tenants", acme)
        self.assertEqual(code, 403)

    def test_6_a_deleted_log_group_parks_twenty_files_until_it_is_back(self):
        acme = self.customers["acme"]
        earlier = acme.notifications()
        self.assertNotIn("target_failing", [n["kind"] for n in earlier], "nothing failed before")
        acme.logs.delete_log_group(logGroupName=acme.log_group)
        start = int(time.time() * 1000) - HOUR_MS
        files = [[f"acme lost group {f:02d} line {i:02d}" for i in range(50)] for f in range(20)]
        for f, lines in enumerate(files):
            stage("acme", "c2", "billing", "lg", lines, start + f * 60_000)
        # The parked count is written as objects park, the last error with the next health
        # flush (every few seconds): wait for both.
        failing = self.wait_health("acme", "cloudwatch",
                                   lambda h: h["parked_objects"] == 20 and h.get("last_error") is not None)
        self.assertEqual(failing["parked_objects"], 20, failing)
        self.assertEqual(failing["state"], "failing", failing)
        self.assertEqual(failing["parked_cause"], "log_group_missing", failing)
        self.assertEqual(failing["last_error"]["cause"], "log_group_missing", failing)
        self.assertTrue(wait_drained())
        self.assertEqual(self.dead_letters(), 0, "nothing may enter the DLQ")
        failing_list = self.api("GET", "/v1/delivery-health?state=failing", status=200)["items"]
        self.assertIn(("acme", "cloudwatch"), [(h["tenant_id"], h["type"]) for h in failing_list])
        # The customer is told, once, with the cause and what to do.
        told = acme.notifications(until=lambda n: n["kind"] == "target_failing")
        self.assertEqual([n["kind"] for n in told], ["target_failing"], told)
        self.assertEqual((told[0]["cause"], told[0]["delivery_type"]), ("log_group_missing", "cloudwatch"), told)
        # The notifier reads health through a 5 s cache: let it see all twenty parked before
        # they drain (the recovery tells the most it saw).
        time.sleep(7)

        acme.logs.create_log_group(logGroupName=acme.log_group)
        expected = [line for lines in files for line in lines]
        events = acme.wait_events(f"c2/{NAMESPACE}/billing/lg", len(expected), timeout=90)
        time.sleep(3)
        events = acme.stream_events(f"c2/{NAMESPACE}/billing/lg")
        self.assertEqual([m for _, m in events], expected, "every event exactly once, in order")
        healthy = self.wait_health("acme", "cloudwatch", lambda h: h["state"] == "healthy")
        self.assertEqual((healthy["state"], healthy["parked_objects"]), ("healthy", 0), healthy)
        # And told once more when it works again, with what drained.
        told = acme.notifications(until=lambda n: n["kind"] == "target_recovered")
        self.assertEqual([(n["kind"], n.get("drained_objects")) for n in told], [("target_recovered", 20)], told)
        sent = self.api("GET", "/v1/tenants/acme/notifications", status=200)["items"]
        self.assertEqual([n["kind"] for n in sent][:2], ["target_recovered", "target_failing"])
        self.assertTrue(all(n["sent_at"] for n in sent), sent)

    def replay(self, tenant, kind, since_ms, until_ms, mode=None, token=None):
        body = {"since": iso(since_ms), "until": iso(until_ms)}
        if mode:
            body["mode"] = mode
        return self.api("POST", f"/v1/tenants/{tenant}/delivery-configs/{kind}/replays", body, token=token,
                        status=202)

    def wait_replay(self, tenant, kind, replay_id, timeout=90):
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            replay = self.api("GET", f"/v1/tenants/{tenant}/delivery-configs/{kind}/replays/{replay_id}", status=200)
            seen.append(replay["objects_done"])
            if replay["state"] in ("done", "failed", "cancelled") or time.monotonic() > deadline:
                self.assertEqual(seen, sorted(seen), "progress never goes back")
                return replay
            time.sleep(0.5)

    def test_7_a_missing_replay_backfills_what_a_disabled_config_skipped(self):
        globex = self.customers["globex"]
        path = "/v1/tenants/globex/delivery-configs/cloudwatch"
        patch = "application/merge-patch+json"
        self.api("PATCH", path, {"enabled": False}, status=200, content_type=patch)
        time.sleep(2)
        # The window starts at the next whole second (keys carry seconds), so it holds
        # exactly the files staged below and none of the earlier tests'.
        since = (int(time.time()) + 1) * 1000
        time.sleep(since / 1000 - time.time())
        files = [[f"globex replayed {f:02d} line {i}" for i in range(10)] for f in range(30)]
        for f, lines in enumerate(files):
            stage("globex", "c1", "web", "replayed", lines, since + f * 10_000, step_ms=100)
        self.assertTrue(wait_drained())
        self.assertEqual(globex.stream_events(f"c1/{NAMESPACE}/web/replayed"), [], "skipped while disabled")
        self.assertEqual(self.api("PATCH", path, {"enabled": True}, status=200, content_type=patch)["state"], "active")
        time.sleep(2)
        until = int(time.time() * 1000) + 1000

        first = self.wait_replay("globex", "cloudwatch", self.replay("globex", "cloudwatch", since, until)["replay_id"])
        self.assertEqual((first["state"], first["objects_total"], first["objects_skipped"]), ("done", 30, 0), first)
        expected = [line for lines in files for line in lines]
        events = globex.wait_events(f"c1/{NAMESPACE}/web/replayed", len(expected))
        self.assertEqual([m for _, m in events], expected, "those 30 files' events, in order, once")

        second = self.wait_replay("globex", "cloudwatch", self.replay("globex", "cloudwatch", since, until)["replay_id"])
        self.assertEqual((second["state"], second["objects_done"], second["objects_skipped"]), ("done", 30, 30), second)
        self.assertEqual(len(globex.stream_events(f"c1/{NAMESPACE}/web/replayed")), len(expected), "nothing sent twice")

        everything = self.replay("globex", "cloudwatch", since, until, mode="all")
        self.assertEqual(self.wait_replay("globex", "cloudwatch", everything["replay_id"])["state"], "done")
        self.assertEqual(len(globex.wait_events(f"c1/{NAMESPACE}/web/replayed", 2 * len(expected))), 2 * len(expected))

        acme = token("--role", "tenant", "--tenant-id", "acme", "--sub", "acme-admin")
        code, _ = call("POST", "/v1/tenants/globex/delivery-configs/cloudwatch/replays",
                       acme, {"since": iso(since), "until": iso(until)})
        self.assertEqual(code, 403)

        cancelled = self.replay("globex", "cloudwatch", since, until, mode="all")
        self.api("DELETE", f"{path}/replays/{cancelled['replay_id']}", status=202)
        ended = self.wait_replay("globex", "cloudwatch", cancelled["replay_id"], timeout=15)
        self.assertEqual(ended["state"], "cancelled", ended)

    def test_8_a_poison_file_is_rejected_and_the_queue_moves_on(self):
        acme = self.customers["acme"]
        dlq = os.environ["LOGSPOKE_DELIVERY_DLQ_URL"]
        dead_before = queue_depth(dlq)
        now = int(time.time() * 1000)
        poison = f"acme/c1/{NAMESPACE}/billing/poison/{now // 1000}-poison.json.gz"
        client("s3", PROVIDER).put_object(Bucket=os.environ["LOGSPOKE_STAGING_BUCKET"], Key=poison,
                                          Body=b"this is not a gzip file")
        stage("acme", "c1", "billing", "after-poison", ["after the poison file"], now)
        after = acme.wait_events(f"c1/{NAMESPACE}/billing/after-poison", 1)
        self.assertEqual([m for _, m in after], ["after the poison file"])
        self.assertTrue(wait_drained())
        self.assertEqual(queue_depth(dlq), dead_before, "rejected, not retried into the dead-letter queue")
        self.assertEqual(acme.stream_events(f"c1/{NAMESPACE}/billing/poison"), [])

    def test_9_the_worker_role_may_serve_both_lanes_and_find_open_replays(self):
        # The worker moves a tenant's messages past its share to the overflow lane with
        # SendMessageBatch and deletes and retries with the batch calls, as its role (the
        # Lambda function always; a replica through IRSA). The emulator's own evaluator
        # answers for the role's policy, whichever principal may assume it in this mode.
        iam, sqs = client("iam", PROVIDER), client("sqs", PROVIDER)
        role = os.environ["LOGSPOKE_WORKER_ROLE_ARN"]

        def decisions(url, actions):
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            results = iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=actions,
                                                    ResourceArns=[arn])["EvaluationResults"]
            return {r["EvalActionName"]: r["EvalDecision"] for r in results}

        consumer = ["sqs:ReceiveMessage", "sqs:DeleteMessageBatch", "sqs:ChangeMessageVisibilityBatch"]
        [delivery] = delivery_queues("LOGSPOKE_DELIVERY_QUEUE_URL")
        self.assertEqual(decisions(delivery, consumer), {a: "allowed" for a in consumer})
        self.assertNotEqual(decisions(delivery, ["sqs:SendMessageBatch"]), {"sqs:SendMessageBatch": "allowed"},
                            "only SNS sends to the delivery queue")
        for overflow in delivery_queues("LOGSPOKE_OVERFLOW_QUEUE_URL"):
            lane = consumer + ["sqs:SendMessageBatch"]
            self.assertEqual(decisions(overflow, lane), {a: "allowed" for a in lane})
        # It finds replay jobs through the ledger's index of open jobs.
        table = client("dynamodb", PROVIDER).describe_table(TableName=os.environ["LOGSPOKE_LEDGER_TABLE"])["Table"]
        index = f"{table['TableArn']}/index/open-replay-jobs"
        result = iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["dynamodb:Query"],
                                               ResourceArns=[index])["EvaluationResults"][0]
        self.assertEqual(result["EvalDecision"], "allowed", result)

    def test_10_a_stack_that_creates_its_log_group_verifies_with_no_manual_step(self):
        # A third customer, onboarded without creating anything by hand: the stack of the
        # link creates the log group (retention 14 days), launched with the link's
        # parameters exactly as the console fills them in (no prepare()).
        initech = Customer("initech", "444444444444", bucket=False)
        self.api("POST", "/v1/tenants", {"tenant_id": "initech"}, status=201)
        self.api("PUT", "/v1/tenants/initech/clusters/c1", status=201)
        body = {"region": "eu-west-1", "delivery_types": ["cloudwatch"], "create_log_group": {"retention_days": 14}}
        onboarding = self.api("POST", "/v1/tenants/initech/onboarding", body, status=200)
        self.assertEqual({k: v for k, v in onboarding["parameters"].items() if k not in ("ExternalId", "ProviderRoleArn")},
                         {"LogGroupName": initech.log_group, "CreateLogGroup": "true", "LogGroupRetentionDays": "14"})
        self.assertEqual(initech.logs.describe_log_groups(logGroupNamePrefix=initech.log_group)["logGroups"], [])

        role = initech.launch(onboarding["quick_create_url"], as_linked=True)
        [group] = initech.logs.describe_log_groups(logGroupNamePrefix=initech.log_group)["logGroups"]
        self.assertEqual((group["logGroupName"], group.get("retentionInDays")), (initech.log_group, 14))
        self.api("PUT", "/v1/tenants/initech/delivery-configs/cloudwatch",
                 {"target_region": "eu-west-1", "role_arn": role, "log_group_name": initech.log_group}, status=201)
        self.verify("initech", "cloudwatch")
        time.sleep(2)
        stage("initech", "c1", "web", "w1", ["initech web, delivered into the group its stack made"],
              int(time.time() * 1000))
        self.assertEqual([m for _, m in initech.wait_events(f"c1/{NAMESPACE}/web/w1", 1)],
                         ["initech web, delivered into the group its stack made"])

        # The group holds the customer's logs: deleting the stack (the role) keeps it.
        initech.cfn.delete_stack(StackName=initech.stack)
        deadline = time.monotonic() + 30
        while describe_stack(initech.cfn, initech.stack) and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertIsNone(describe_stack(initech.cfn, initech.stack))
        self.assertEqual(len(initech.stream_events(f"c1/{NAMESPACE}/web/w1")), 1, "the group and its events are kept")


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


if __name__ == "__main__":
    unittest.main(verbosity=2)
