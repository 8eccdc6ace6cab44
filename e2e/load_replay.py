"""Load for replays (run by scripts/bench-replay): onboards two tenants through the api,
stages REPLAY_OBJECTS small objects for `bulk` while its config is disabled (the worker
skips them), enables it again and asks for a `missing` replay of the window. While the
replay runs it stages one object a second for `live` and measures how long each takes
to appear in live's log group, and it samples the replay's progress. Prints `summary:`
lines: replay wall time and objects/s, whether progress only ever grew, live's
delivery latency (p50, max) during the replay, and (with LOAD_WORKER_PID) how far the
worker's resident memory rose above what it held before the replay."""

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from harness import NAMESPACE, Customer, call, mint_token, onboard, stage, status_kb, wait_drained

OBJECTS = int(os.environ.get("REPLAY_OBJECTS", "10000"))
WORKER = int(os.environ["LOAD_WORKER_PID"]) if os.environ.get("LOAD_WORKER_PID") else None


def onboard_tenant(operator, tenant, account):
    customer = Customer(tenant, account, bucket=False)
    onboard(operator, customer, "load")
    return customer


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def enabled(operator, tenant, value):
    status, config = call("PATCH", f"/v1/tenants/{tenant}/delivery-configs/cloudwatch", operator, {"enabled": value},
                          content_type="application/merge-patch+json")
    assert status == 200, config


def live_latencies(live, stop, out):
    n = 0
    while not stop.is_set():
        message = f"live {n}"
        put = time.monotonic()
        stage("live", "load", "app", "live", [message], int(time.time() * 1000))
        while message not in {m for _, m in live.stream_events(f"load/{NAMESPACE}/app/live")}:
            if time.monotonic() - put > 60:
                break
            time.sleep(0.1)
        out.append(time.monotonic() - put)
        n += 1
        time.sleep(1)


def main():
    operator = mint_token("--role", "operator", "--sub", "load")
    onboard_tenant(operator, "bulk", "222222222222")
    live = onboard_tenant(operator, "live", "333333333333")
    enabled(operator, "bulk", False)
    time.sleep(2)
    since = int(time.time() * 1000) - 1000
    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: stage("bulk", "load", "app", f"pod-{i % 50}", [f"bulk {i}"], since),
                      range(OBJECTS)))
    print(f"staged {OBJECTS} objects in {time.monotonic() - started:.0f} s", file=sys.stderr)
    assert wait_drained(timeout=600), "the skipped objects never left the queue"
    enabled(operator, "bulk", True)
    time.sleep(2)
    until = int(time.time() * 1000) + 1000

    stop, latencies = threading.Event(), []
    prober = threading.Thread(target=live_latencies, args=(live, stop, latencies))
    prober.start()
    status, replay = call("POST", "/v1/tenants/bulk/delivery-configs/cloudwatch/replays", operator,
                          {"since": iso(since), "until": iso(until)})
    assert status == 202, replay
    begun, done_seen = time.monotonic(), []
    rss_before = status_kb(WORKER, "VmRSS") if WORKER else None
    rss_peak = rss_before
    while True:
        if WORKER:
            rss_peak = max(rss_peak, status_kb(WORKER, "VmRSS"))
        status, replay = call("GET", f"/v1/tenants/bulk/delivery-configs/cloudwatch/replays/{replay['replay_id']}",
                              operator)
        done_seen.append(replay["objects_done"])
        if replay["state"] in ("done", "failed", "cancelled") or time.monotonic() - begun > 1800:
            break
        time.sleep(1)
    wall = time.monotonic() - begun
    stop.set()
    prober.join()
    latencies.sort()
    monotonic = done_seen == sorted(done_seen)
    print(f"summary: replay state {replay['state']}, {replay['objects_done']}/{replay['objects_total']} objects "
          f"({replay['objects_skipped']} skipped) in {wall:.0f} s = {replay['objects_done'] / wall:.0f} objects/s; "
          f"listing: {replay.get('pages_listed')} ListObjectsV2 pages")
    print(f"summary: progress samples {len(done_seen)}, monotonic {monotonic}")
    if WORKER:
        print(f"summary: worker RSS during the replay: {rss_before / 1024:.1f} MiB before, peak {rss_peak / 1024:.1f} MiB "
              f"(+{(rss_peak - rss_before) / 1024:.1f} MiB for a window of {replay['objects_total']} objects; sampled "
              f"every second)")
    if latencies:
        print(f"summary: live tenant latency during the replay: p50 {latencies[len(latencies) // 2]:.1f} s, "
              f"max {latencies[-1]:.1f} s over {len(latencies)} objects")
    assert replay["state"] == "done" and monotonic, replay


if __name__ == "__main__":
    main()
