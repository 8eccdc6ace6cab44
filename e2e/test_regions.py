"""Two regions end to end (scripts/e2e-regions starts them): the api and the read model's
primary in one region, a replica region whose stack subscribes its workers to the
primary's config-changes topic, a worker process in each, and one emulator holding both.
One tenant's cluster stages in both regions; its logs reach the same log group from both
regions' workers. Tests run in order."""

import os
import time
import unittest

from harness import NAMESPACE, PROVIDER, Account, Customer, call, mint_token, onboard, stage_file

PRIMARY = os.environ.get("LOGSPOKE_E2E_PRIMARY_REGION", "eu-west-1")
REPLICA = os.environ.get("LOGSPOKE_E2E_REPLICA_REGION", "eu-central-1")
# Each region's staging bucket and delivery queue (the replica's from its own stack).
BUCKETS = {PRIMARY: os.environ.get("LOGSPOKE_STAGING_BUCKET"),
           REPLICA: os.environ.get("LOGSPOKE_E2E_REPLICA_STAGING_BUCKET")}
QUEUES = {PRIMARY: os.environ.get("LOGSPOKE_DELIVERY_QUEUE_URL"),
          REPLICA: os.environ.get("LOGSPOKE_E2E_REPLICA_DELIVERY_QUEUE_URL")}
# Slower than any change event may take (DESIGN.md section 8: 2 s p99), far faster than
# the workers' 5-minute resync.
PROPAGATION_S = 2
TENANT, CLUSTER = "initech", "c1"
PATCH = "application/merge-patch+json"


def provider(service, region):
    return Account(PROVIDER, region, max_attempts=3).client(service)


def stage_in(region, pod, messages, start_ms, step_ms=1000):
    """Stages a file of `messages` in `region`'s staging bucket, as that region's
    collectors would; returns its key."""
    key, _ = stage_file(provider("s3", region), BUCKETS[region], TENANT, CLUSTER, "web", pod, messages,
                        start_ms, step_ms, False, namespace=NAMESPACE)
    return key


def stream(pod):
    return f"{CLUSTER}/{NAMESPACE}/web/{pod}"


def drained(timeout=30):
    """Waits until both regions' delivery queues hold no message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        depth = 0
        for region, url in QUEUES.items():
            attributes = provider("sqs", region).get_queue_attributes(
                QueueUrl=url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            depth += sum(int(value) for value in attributes.values())
        if depth == 0:
            return True
        time.sleep(0.3)
    return False


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def now_ms():
    return int(time.time() * 1000)


class TwoRegions(unittest.TestCase):
    operator = None
    customer = None
    config = f"/v1/tenants/{TENANT}/delivery-configs/cloudwatch"

    @classmethod
    def setUpClass(cls):
        for name, value in [*BUCKETS.items(), *QUEUES.items()]:
            if not value:
                raise unittest.SkipTest(f"run by scripts/e2e-regions ({name} is not configured)")
        cls.operator = mint_token("--role", "operator", "--sub", "e2e-regions")
        cls.customer = Customer(TENANT, "222222222222", bucket=False)

    def api(self, method, path, body=None, status=None, **kwargs):
        code, document = call(method, path, self.operator, body, **kwargs)
        if status is not None:
            self.assertEqual(code, status, f"{method} {path}: {document}")
        return document

    def health(self):
        return self.api("GET", f"{self.config}/health", status=200)

    def wait_health(self, done, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            health = self.health()
            if done(health) or time.monotonic() > deadline:
                return health
            time.sleep(0.5)

    @staticmethod
    def region(document, name):
        return next(r for r in document["regions"] if r["region"] == name)

    def test_1_a_tenant_onboarded_once_is_delivered_from_both_regions(self):
        onboard(self.operator, self.customer, CLUSTER)
        # The replica region's worker learns of the new config from the primary's topic
        # (its own read model replica, re-read until it has the version), not its resync.
        time.sleep(PROPAGATION_S)
        stage_in(PRIMARY, "west", ["staged in the primary region"], now_ms())
        stage_in(REPLICA, "central", ["staged in the replica region"], now_ms())
        self.assertEqual([m for _, m in self.customer.wait_events(stream("west"), 1)], ["staged in the primary region"])
        self.assertEqual([m for _, m in self.customer.wait_events(stream("central"), 1, timeout=20)],
                         ["staged in the replica region"])
        health = self.wait_health(lambda h: all(r["state"] == "healthy" for r in h["regions"]))
        self.assertEqual([r["region"] for r in health["regions"]], [PRIMARY, REPLICA], health)
        self.assertEqual(health["state"], "healthy", health)
        self.assertEqual(health["unreadable_regions"], [], health)

    def test_2_a_disable_stops_delivery_in_both_regions_within_two_seconds(self):
        self.api("PATCH", self.config, {"enabled": False}, status=200, content_type=PATCH)
        time.sleep(PROPAGATION_S)
        stage_in(PRIMARY, "west-off", ["while disabled, primary"], now_ms())
        stage_in(REPLICA, "central-off", ["while disabled, replica"], now_ms())
        self.assertTrue(drained())
        self.assertEqual(self.customer.stream_events(stream("west-off")), [])
        self.assertEqual(self.customer.stream_events(stream("central-off")), [],
                         "the replica region's worker delivered after the disable")

        self.assertEqual(self.api("PATCH", self.config, {"enabled": True}, status=200,
                                  content_type=PATCH)["state"], "active")
        time.sleep(PROPAGATION_S)
        stage_in(REPLICA, "central-on", ["enabled again, replica"], now_ms())
        self.assertEqual([m for _, m in self.customer.wait_events(stream("central-on"), 1, timeout=20)],
                         ["enabled again, replica"])

    def test_3_health_names_the_region_whose_objects_are_parked(self):
        logs = self.customer.logs
        logs.delete_log_group(logGroupName=self.customer.log_group)
        start = now_ms() - 60_000
        files = [[f"parked in the replica region {f} line {i}" for i in range(5)] for f in range(3)]
        for f, lines in enumerate(files):
            stage_in(REPLICA, "central-parked", lines, start + f * 1000, step_ms=10)
        failing = self.wait_health(lambda h: self.region(h, REPLICA)["parked_objects"] == 3)
        self.assertEqual(failing["state"], "failing", "failing anywhere is failing: %s" % failing)
        replica = self.region(failing, REPLICA)
        self.assertEqual((replica["state"], replica["parked_cause"]), ("failing", "log_group_missing"), failing)
        primary = self.region(failing, PRIMARY)
        self.assertEqual((primary["state"], primary["parked_objects"]), ("healthy", 0), failing)
        listed = self.api("GET", "/v1/delivery-health?state=failing", status=200)
        self.assertIn((TENANT, "cloudwatch"), [(h["tenant_id"], h["type"]) for h in listed["items"]], listed)

        logs.create_log_group(logGroupName=self.customer.log_group)
        expected = [line for lines in files for line in lines]
        events = self.customer.wait_events(stream("central-parked"), len(expected), timeout=60)
        self.assertEqual([m for _, m in events], expected, "every parked event once, in order")
        healthy = self.wait_health(lambda h: h["state"] == "healthy" and h["parked_objects"] == 0)
        self.assertEqual((healthy["state"], self.region(healthy, REPLICA)["parked_objects"]), ("healthy", 0), healthy)

    def wait_count(self, pod, count, timeout=60):
        """The events of `pod`'s stream once it holds `count` (duplicates counted)."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.customer.stream_events(stream(pod))
            if len(events) >= count or time.monotonic() > deadline:
                return events
            time.sleep(0.5)

    def test_4_one_replay_covers_the_objects_of_both_regions(self):
        since = (int(time.time()) + 1) * 1000
        time.sleep(since / 1000 - time.time())
        stage_in(PRIMARY, "west-replayed", [f"primary {i}" for i in range(4)], since, step_ms=10)
        for f in range(2):
            stage_in(REPLICA, "central-replayed", [f"replica {f} {i}" for i in range(3)], since + f * 1000, step_ms=10)
        self.assertEqual(len(self.customer.wait_events(stream("central-replayed"), 6, timeout=20)), 6)
        self.assertEqual(len(self.customer.wait_events(stream("west-replayed"), 4)), 4)
        until = now_ms() + 1000

        replay = self.api("POST", f"{self.config}/replays", {"since": iso(since), "until": iso(until), "mode": "all"},
                          status=202)
        path = f"{self.config}/replays/{replay['replay_id']}"
        deadline = time.monotonic() + 60
        while True:
            replay = self.api("GET", path, status=200)
            if replay["state"] in ("done", "failed", "cancelled") or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.assertEqual((replay["state"], replay["objects_total"], replay["objects_done"]), ("done", 3, 3), replay)
        by_region = {r["region"]: r["progress"] for r in replay["regions"]}
        self.assertEqual((by_region[PRIMARY]["state"], by_region[PRIMARY]["objects_total"]), ("done", 1), replay)
        self.assertEqual((by_region[REPLICA]["state"], by_region[REPLICA]["objects_total"]), ("done", 2), replay)
        self.assertEqual(replay["unreadable_regions"], [], replay)
        # `all` sends each object again: every event twice, from both regions.
        self.assertEqual(len(self.wait_count("west-replayed", 8)), 8)
        self.assertEqual(len(self.wait_count("central-replayed", 12)), 12)


if __name__ == "__main__":
    unittest.main(verbosity=2)
