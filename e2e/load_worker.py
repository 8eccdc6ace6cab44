"""Load for the delivery worker (run by scripts/bench-worker): onboards one tenant through
the api, stages FILES files of EVENTS events each at once, samples the worker's RSS while
it delivers them, and prints throughput, peak RSS and AWS call counts.

Three cases (LOAD_CASE):
- `lean` (default): ~200-byte messages, staged while the worker runs.
- `both-targets`: as `lean`, for a tenant with a CloudWatch and an S3 target: each
  object is read from the staging bucket once and feeds both.
- `long-lines`: messages of LOAD_MESSAGE_BYTES (default: lines of just under the worker's
  8 MiB line limit, stack-trace-like text with escapes and multi-byte characters). The
  worker is paused (SIGSTOP) while the files are staged and resumed once all are queued,
  so every in-flight slot decodes an 8 MiB line at the same moment: the worst case the
  decode budget must bound.
The last line is a machine-readable summary with the peak RSS from /proc (VmHWM)."""

import math
import os
import signal
import sys
import threading
import time

from harness import Customer, cpu_seconds, metric, mint_token, onboard, stage, status_kb, wait_drained

CASE = os.environ.get("LOAD_CASE", "lean")
LONG = CASE == "long-lines"
BOTH = CASE == "both-targets"
FILES = int(os.environ.get("LOAD_FILES", "20" if LONG else "40"))
EVENTS = int(os.environ.get("LOAD_EVENTS", "3" if LONG else "20000"))
# The worker's line limit is 8 MiB including the JSON around the message.
LINE_LIMIT = 8 * 1024 * 1024
IDLE_SECONDS = 5
MESSAGE_BYTES = int(os.environ.get("LOAD_MESSAGE_BYTES", str(LINE_LIMIT - 512) if LONG else "200"))


def onboard_loadtest(operator):
    customer = Customer("loadtest", "222222222222")
    onboard(operator, customer, "load", ("cloudwatch", "s3") if BOTH else ("cloudwatch",))
    return customer


def lean_messages():
    line = "INFO checkout order placed for cart c-12345 by user u-67890 in 12 ms; items=3 total=59.90 EUR " * 2
    return [line[:MESSAGE_BYTES] for _ in range(EVENTS)]


def long_message(i):
    """A stack-trace-like message whose JSON form (newlines and tabs escaped) is at most
    MESSAGE_BYTES bytes, with a 3-byte character in every frame."""
    head = f"ERROR [load] request {i} failed ✗ java.lang.IllegalStateException: boom\n"
    frames, size, n = [head], len(head.encode()) + head.count("\n"), 0
    while True:
        frame = f"\tat com.example.orders.OrderService.step{n % 997}(OrderService.java:{n % 4096}) ✓\n"
        cost = len(frame.encode()) + 2  # \t and \n take two bytes each in JSON
        if size + cost > MESSAGE_BYTES:
            return "".join(frames)
        frames.append(frame)
        size, n = size + cost, n + 1


def main():
    pid = int(os.environ["LOAD_WORKER_PID"])
    operator = mint_token("--role", "operator", "--sub", "load")
    customer = onboard_loadtest(operator)
    time.sleep(2)  # the config change reaches the worker
    idle = status_kb(pid, "VmRSS")
    # What the worker spends with nothing to do (long polls, timers, health flushes), so
    # that the per-event figure can be told apart from the run's wall clock.
    idle_began = cpu_seconds(pid)
    time.sleep(IDLE_SECONDS)
    idle_cpu_per_second = (cpu_seconds(pid) - idle_began) / IDLE_SECONDS
    messages = [long_message(i) for i in range(EVENTS)] if LONG else lean_messages()
    start_ms = int(time.time() * 1000) - 3_600_000
    peak, running = [idle], True

    def sample():
        while running:
            peak[0] = max(peak[0], status_kb(pid, "VmRSS"))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    if LONG:
        os.kill(pid, signal.SIGSTOP)
    cpu_began = cpu_seconds(pid)
    stage_began = time.monotonic()
    try:
        threads = [threading.Thread(target=stage, args=("loadtest", "load", "app", f"pod-{i}", messages, start_ms, 1))
                   for i in range(FILES)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        if LONG:
            os.kill(pid, signal.SIGCONT)
    staged = time.monotonic()
    began = staged if LONG else stage_began
    drained = wait_drained(timeout=600)
    elapsed = time.monotonic() - began
    running = False
    sampler.join()
    hwm = status_kb(pid, "VmHWM")
    cpu = cpu_seconds(pid) - cpu_began
    wall = time.monotonic() - began  # the worker runs (and idles) only this long
    delivered = metric("logspoke_worker_events_delivered_total")
    delivered_bytes = metric("logspoke_worker_bytes_delivered_total")
    calls = metric("logspoke_worker_put_log_events_calls_total")
    # Each object here goes to a stream of its own, so its first call meets a missing
    # stream, which is created and the batch sent again: that call carries no events.
    creations = metric('logspoke_worker_aws_calls_total{api="CreateLogStream"')
    sending = calls - creations
    assumes = metric("logspoke_worker_assume_role_total")
    splits = metric("logspoke_worker_split_events_total")
    print(f"case={CASE} files={FILES} events/file={EVENTS} message <= {MESSAGE_BYTES:,} bytes as JSON "
          f"total={FILES * EVENTS} drained={drained}")
    print(f"staging took {staged - stage_began:.1f}s; all delivered after "
          f"{elapsed:.1f}s{' from resuming the worker' if LONG else ''} "
          f"-> {delivered / elapsed:,.0f} events/s end to end (emulator included)")
    print(f"events delivered={delivered:,.0f} (split messages={splits:,.0f}) PutLogEvents calls={calls:,.0f} "
          f"(avg {delivered / max(calls, 1):,.0f} events/call) AssumeRole={assumes:.0f}")
    print(f"worker RSS: idle {idle / 1024:.1f} MiB, sampled peak {peak[0] / 1024:.1f} MiB")
    # bytes_delivered counts as PutLogEvents does against its 1,048,576-byte limit:
    # message bytes + 26 per event.
    billed = delivered_bytes
    fewest_calls = max(billed / 1_048_576, delivered / 10_000)
    print(f"summary: case={CASE} cpu_us_per_event={cpu * 1e6 / max(delivered, 1):.2f} "
          f"(worker user+system CPU {cpu:.2f}s; target <= 1.0)")
    busy = cpu - idle_cpu_per_second * wall
    print(f"summary: case={CASE} cpu_us_per_event_beyond_idle={busy * 1e6 / max(delivered, 1):.2f} "
          f"(idle worker: {idle_cpu_per_second * 1000:.1f} ms of CPU per second, {IDLE_SECONDS} s measured)")
    print(f"summary: case={CASE} events_per_second={delivered / elapsed:,.0f} (end to end, emulator included)")
    print(f"summary: case={CASE} put_log_events_per_million_events={calls * 1e6 / max(delivered, 1):.0f} "
          f"(the limits allow {fewest_calls * 1e6 / max(delivered, 1):.0f})")
    print(f"summary: case={CASE} fill_ratio={fewest_calls / max(sending, 1):.3f} "
          f"(calls the limits need / calls that delivered; {creations:.0f} more met a stream "
          f"not yet created; target >= 0.95 for large objects)")
    # Each object is its own sequence of batches, so it ends in a partial batch: the
    # fewest calls for objects of this size are whole batches per object.
    whole_batches = FILES * math.ceil(max(billed / FILES / 1_048_576, EVENTS / 10_000))
    print(f"summary: case={CASE} calls_over_whole_batches={sending / max(whole_batches, 1):.3f} "
          f"({sending:.0f} calls that delivered; {whole_batches} whole batches for {FILES} objects of this size)")
    print(f"summary: case={CASE} files={FILES} peak_rss_mib={hwm / 1024:.1f} (VmHWM; target <= 128)")
    copies = len(customer.keys()) if BOTH else 0
    if BOTH:
        reads = metric('logspoke_worker_aws_calls_total{api="GetObject"')
        print(f"summary: case={CASE} staging_reads_per_object={reads / FILES:.2f} "
              f"({copies} S3 copies; target 1 read for both targets)")
    return 0 if drained and delivered >= FILES * EVENTS and (not BOTH or copies == FILES) else 1


if __name__ == "__main__":
    sys.exit(main())
