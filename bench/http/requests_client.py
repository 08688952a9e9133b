"""Python requests peer for scripts/bench_http (run with Debian's /usr/bin/python3).

The same N GETs a Python user would write: one requests.Session (keep-alive)
and r.json() on every body. For c > 1, c threads each with its own Session
(a Session is not documented as thread-safe, and one shared Session keeps
only 10 pooled connections per host) doing n/c sequential GETs.

CPU is time.process_time() (every thread of the process) around the request
loop only; peak RSS is VmHWM (ru_maxrss would include the driver's size:
Linux carries it across execve). Prints one line:
  BENCH client=python_requests c=<c> n=<n> ok=<ok> wall=<s> cpu=<s> rss_kb=<kb>

usage: requests_client.py <url> <n> [c]
"""
import sys
import threading
import time

import requests


def worker(url, count, results, idx):
    session = requests.Session()
    session.get(url).json()  # warm-up: opens the connection outside the measurement
    barrier.wait()
    ok = 0
    for _ in range(count):
        r = session.get(url)
        r.json()
        if 200 <= r.status_code < 300:
            ok += 1
    results[idx] = ok


url = sys.argv[1]
n = int(sys.argv[2])
c = int(sys.argv[3]) if len(sys.argv) > 3 else 1
barrier = threading.Barrier(c + 1)
results = [0] * c
threads = [threading.Thread(target=worker, args=(url, n // c + (1 if i < n % c else 0), results, i))
           for i in range(c)]
for t in threads:
    t.start()
barrier.wait()
cpu0, wall0 = time.process_time(), time.monotonic()
for t in threads:
    t.join()
wall = time.monotonic() - wall0
cpu = time.process_time() - cpu0
with open("/proc/self/status") as f:
    rss = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
print(f"BENCH client=python_requests c={c} n={n} ok={sum(results)} wall={wall:.6f} cpu={cpu:.6f} rss_kb={rss}")
