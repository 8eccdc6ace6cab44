"""Load for the delivery worker (run by scripts/bench-worker): onboards one tenant through
the api, stages FILES files of EVENTS events each at once, samples the worker's RSS while
it delivers them, and prints throughput, peak RSS and AWS call counts."""

import os
import re
import subprocess
import sys
import threading
import time
import urllib.request

from harness import Customer, call, stage, wait_drained

FILES = int(os.environ.get("LOAD_FILES", "40"))
EVENTS = int(os.environ.get("LOAD_EVENTS", "20000"))


def token():
    return subprocess.run([os.environ["LOGSPOKE_E2E_API_BIN"], "mint-token", "--role", "operator", "--sub", "load"],
                          check=True, capture_output=True, text=True).stdout.strip()


def onboard(operator):
    customer = Customer("loadtest", "222222222222")
    call("POST", "/v1/tenants", operator, {"tenant_id": "loadtest"})
    customer.prepare()
    link = call("POST", "/v1/tenants/loadtest/onboarding", operator, {"region": "eu-west-1"})[1]["quick_create_url"]
    role = customer.launch(link)
    call("PUT", "/v1/tenants/loadtest/delivery-configs/cloudwatch", operator,
         {"target_region": "eu-west-1", "role_arn": role, "log_group_name": customer.log_group})
    status, config = call("POST", "/v1/tenants/loadtest/delivery-configs/cloudwatch/verify", operator)
    assert status == 200 and config["state"] == "active", config
    return customer


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def metric(name):
    text = urllib.request.urlopen(f"http://{os.environ['LOGSPOKE_WORKER_LISTEN']}/metrics").read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def main():
    pid = int(os.environ["LOAD_WORKER_PID"])
    operator = token()
    onboard(operator)
    time.sleep(2)  # the config change reaches the worker
    idle = rss_kb(pid)
    line = "INFO checkout order placed for cart c-12345 by user u-67890 in 12 ms; items=3 total=59.90 EUR " * 2
    messages = [line[:200] for _ in range(EVENTS)]
    start_ms = int(time.time() * 1000) - 3_600_000
    peak, samples, running = [idle], [], True

    def sample():
        while running:
            peak[0] = max(peak[0], rss_kb(pid))
            samples.append(peak[0])
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    began = time.monotonic()
    threads = [threading.Thread(target=stage, args=("loadtest", "load", "app", f"pod-{i}", messages, start_ms, 1))
               for i in range(FILES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    staged = time.monotonic()
    drained = wait_drained(timeout=600)
    elapsed = time.monotonic() - began
    running = False
    sampler.join()
    delivered = metric("logspoke_worker_events_delivered_total")
    calls = metric("logspoke_worker_put_log_events_calls_total")
    assumes = metric("logspoke_worker_assume_role_total")
    print(f"files={FILES} events/file={EVENTS} total={FILES * EVENTS} drained={drained}")
    print(f"staging took {staged - began:.1f}s; all delivered after {elapsed:.1f}s "
          f"-> {delivered / elapsed:,.0f} events/s end to end (emulator included)")
    print(f"events delivered={delivered:,.0f} PutLogEvents calls={calls:,.0f} "
          f"(avg {delivered / max(calls, 1):,.0f} events/call) AssumeRole={assumes:.0f}")
    print(f"worker RSS: idle {idle / 1024:.1f} MB, peak under load {peak[0] / 1024:.1f} MB")
    return 0 if drained and delivered >= FILES * EVENTS else 1


if __name__ == "__main__":
    sys.exit(main())
