"""The rounds and the report of scripts/bench_http (run by Debian's /usr/bin/python3).

scripts/bench_http builds the clients and starts nginx; this runs every client
against it and prints Markdown. For each concurrency c, each round runs:

    raw libcurl (start) → the same work in C, the Lua floor and lira, in an order
    shuffled per round → raw libcurl (mid) → curl CLI → Python requests → LuaSocket
    → wrk → raw libcurl (end)

and every ratio is taken against the mean of the two baseline runs around it
(start and mid for the first three, mid and end for the peers; without peers
mid is the end), so drift in a noisy machine's speed cancels out over a short
bracket, and no client always runs right after a baseline; the tables show
the median over rounds. Clients that time their own request loop print a
`BENCH key=value ...` line (CPU of the loop only, peak RSS of the process);
curl and wrk are whole processes, so their CPU and peak RSS come from
wait4()'s rusage of the child (their start-up is amortised over the run).
"""
import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))

GOALS = {  # issue 4, "Speed and memory"
    1: {"cpu": 1.3},
    32: {"cpu": 1.2, "throughput": 0.9},
}
CPU_NEVER = 1.5
RSS_GOAL_MB = 20
QUEUE_RSS_GOAL_MB = 100

CORE = ("raw_curl", "raw_same", "raw_lua", "lira")   # bracketed by start and mid

LABELS = {
    "raw_curl": "raw libcurl (baseline)",
    "raw_same": "raw libcurl + lira's 4 headers + cJSON decode (the same work in C)",
    "raw_lua": "the same work, body decoded by a Lua function (`lira.json.decode`): the floor "
               "of a Lua client",
    "lira": "**lira** `lira.client`",
    "curl_cli": "curl CLI",
    "python_requests": "Python `requests.Session`",
    "luasocket": "LuaSocket `socket.http` (no keep-alive)",
    "wrk": "wrk -t1 (reference: the floor)",
}


def run(cmd, env=None, timeout=600):
    """Runs cmd; returns (stdout, stderr, exit code, child CPU s, child peak RSS KB, wall s).

    CPU comes from wait4() (exact, and it includes the children the process
    reaped). Peak RSS comes from GNU time's %M of the command itself: ru_maxrss
    of our own child would start at this Python process's size, since Linux
    carries it across execve; time is small, so the command's own is clean."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as rss:
        t0 = time.monotonic()
        p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", rss.name] + cmd,
                             stdout=out, stderr=err, env=env)
        timer = threading.Timer(timeout, p.kill)
        timer.start()
        _, status, ru = os.wait4(p.pid, 0)
        timer.cancel()
        wall = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        words = rss.read().split()
        peak = int(words[-1]) if words and words[-1].isdigit() else -1
        return (out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                p.returncode, ru.ru_utime + ru.ru_stime, peak, wall)


def parse_bench(text):
    for line in text.splitlines():
        if line.startswith("BENCH "):
            return {k: v for k, v in (kv.split("=", 1) for kv in line.split()[1:])}
    return None


class Bench:
    def __init__(self, a):
        self.a = a
        self.lua_env = dict(os.environ, LUA_PATH=a.lua_path, LUA_CPATH=a.lua_cpath)
        self.samples = []   # dicts: client, c, round, phase, n, ok, cpu, wall, rss_kb
        self.notes = []
        self.curl_cfg = os.path.join(a.tmp, "urls.cfg")
        with open(self.curl_cfg, "w") as f:
            for _ in range(a.peer_n):
                f.write(f'url = "{a.url}"\noutput = "/dev/null"\n')

    def record(self, client, c, rnd, phase, n, ok, cpu, wall, rss_kb):
        s = dict(client=client, c=c, round=rnd, phase=phase, n=int(n), ok=int(ok),
                 cpu=float(cpu), wall=float(wall), rss_kb=int(rss_kb))
        self.samples.append(s)
        if s["ok"] < s["n"]:
            self.note(f"{client} c={c} round {rnd}: only {s['ok']} of {s['n']} requests succeeded")
        self.a.raw_out.write(" ".join(f"{k}={v}" for k, v in s.items()) + "\n")
        self.a.raw_out.flush()

    def note(self, text):
        if text not in self.notes:
            self.notes.append(text)
            print(f"bench_http: {text}", file=sys.stderr)

    def self_timed(self, client, cmd, c, rnd, phase="", env=None):
        out, err, rc, _, _, _ = run(cmd, env=env, timeout=self.a.timeout)
        b = parse_bench(out)
        if not b:
            tail = (err.strip().splitlines() or ["no output"])[-1]
            self.note(f"{client} c={c} failed (exit {rc}): {tail}")
            return False
        if err.strip():
            self.note(f"{client} c={c}: {err.strip().splitlines()[0]}")
        self.record(client, c, rnd, phase, b["n"], b["ok"], b["cpu"], b["wall"], b["rss_kb"])
        return True

    def raw(self, c, rnd, phase):
        cmd = [self.a.raw_bin, self.a.url, str(self.a.n), str(c)]
        return self.self_timed("raw_curl", cmd, c, rnd, phase)

    def raw_same(self, c, rnd):
        cmd = [self.a.raw_bin, "--same-work", self.a.url, str(self.a.n), str(c)]
        self.self_timed("raw_same", cmd, c, rnd)

    def raw_lua(self, c, rnd):
        if self.a.lira_missing:
            return
        cmd = [self.a.raw_bin, "--lua", self.a.url, str(self.a.n), str(c)]
        self.self_timed("raw_lua", cmd, c, rnd, env=self.lua_env)

    def lira(self, c, rnd):
        if self.a.lira_missing:
            return
        cmd = ["lua5.4", os.path.join(HERE, "lira_client.lua"), self.a.url, str(self.a.n), str(c)]
        self.self_timed("lira", cmd, c, rnd, env=self.lua_env)

    def curl_cli(self, c, rnd):
        cmd = ["curl", "-s", "-w", "%{http_code}\\n", "--config", self.curl_cfg]
        if c > 1:
            cmd[1:1] = ["--parallel", "--parallel-max", str(c), "--no-progress-meter"]
        out, err, rc, cpu, rss, wall = run(cmd, timeout=self.a.timeout)
        ok = sum(1 for line in out.splitlines() if line.startswith("2"))
        if rc != 0:
            self.note(f"curl CLI c={c} exit {rc}: {err.strip()[:200]}")
        self.record("curl_cli", c, rnd, "", self.a.peer_n, ok, cpu, wall, rss)

    def python(self, c, rnd):
        cmd = ["/usr/bin/python3", os.path.join(HERE, "requests_client.py"),
               self.a.url, str(self.a.peer_n), str(c)]
        self.self_timed("python_requests", cmd, c, rnd)

    def luasocket(self, c, rnd):
        if c != 1:
            return  # blocking socket.http has no concurrency of its own
        cmd = ["lua5.4", os.path.join(HERE, "luasocket_client.lua"), self.a.url, str(self.a.peer_n)]
        self.self_timed("luasocket", cmd, c, rnd)

    def wrk(self, c, rnd):
        secs = self.a.wrk_seconds
        out, err, rc, cpu, rss, _ = run(["wrk", "-t1", f"-c{c}", f"-d{secs}s", self.a.url],
                                        timeout=self.a.timeout)
        m = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
        if rc != 0 or not m:
            self.note(f"wrk c={c} failed: {err.strip()[:200]}")
            return
        wall = float(m.group(2)) / (1000 if m.group(3) == "ms" else 1)
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        n = int(m.group(1))
        self.record("wrk", c, rnd, "", n, n - (int(errors.group(1)) if errors else 0), cpu, wall, rss)

    def group(self, c):
        peers = [("curl_cli", self.curl_cli), ("python_requests", self.python),
                 ("luasocket", self.luasocket), ("wrk", self.wrk)]
        peers = [fn for name, fn in peers if name not in self.a.skip]
        for rnd in range(1, self.a.rounds + 1):
            print(f"bench_http: c={c} round {rnd}/{self.a.rounds}", file=sys.stderr)
            if not self.raw(c, rnd, "start"):
                sys.exit("bench_http: the raw libcurl baseline failed; nothing to compare with")
            core = [self.raw_same, self.raw_lua, self.lira]
            random.Random(f"{c}/{rnd}").shuffle(core)   # the same order in every run
            for fn in core:
                fn(c, rnd)
            self.raw(c, rnd, "mid" if peers else "end")
            if peers:
                for fn in peers:
                    fn(c, rnd)
                self.raw(c, rnd, "end")

    def queue(self):
        if self.a.lira_missing or self.a.queue <= 0:
            return None
        cmd = ["lua5.4", os.path.join(HERE, "lira_queue.lua"), self.a.url,
               str(self.a.queue), str(self.a.queue_rate)]
        out, err, rc, _, _, _ = run(cmd, env=self.lua_env, timeout=self.a.timeout)
        b = parse_bench(out)
        if not b:
            tail = (err.strip().splitlines() or ["no output"])[-1]
            self.note(f"lira queue test failed (exit {rc}): {tail}")
        elif err.strip():
            self.note(f"lira queue test: {err.strip().splitlines()[0]}")
        return b


# ------------------------------------------------------------------ report ---

def per_req_us(s):
    return s["cpu"] / max(s["n"], 1) * 1e6


def rps(s):
    return s["n"] / s["wall"] if s["wall"] > 0 else 0.0


def fmt(v, spec):
    return "—" if v is None else format(v, spec)


def group_table(b, c):
    a = b.a
    rows = []
    # round -> (cpu µs/req, req/s): the mean of the baselines around the
    # core clients (start, and mid or end) and around the peers (mid, end)
    base, peer_base = {}, {}
    drift = []
    for rnd in range(1, a.rounds + 1):
        raws = {s["phase"]: s for s in b.samples
                if s["client"] == "raw_curl" and s["c"] == c and s["round"] == rnd}

        def mean_of(*phases):
            got = [raws[p] for p in phases if p in raws]
            return (statistics.mean(per_req_us(s) for s in got),
                    statistics.mean(rps(s) for s in got)) if got else None
        core = mean_of("start", "mid") if "mid" in raws else mean_of("start", "end")
        if core:
            base[rnd] = core
            peer_base[rnd] = mean_of("mid", "end") if "mid" in raws else core
            pair = [raws[p] for p in ("start", "mid" if "mid" in raws else "end") if p in raws]
            if len(pair) == 2:
                cpus = [per_req_us(s) for s in pair]
                drift.append(abs(cpus[0] - cpus[1]) / statistics.mean(cpus))
    lines = [f"### c={c}", "",
             "| client | CPU µs/request | × raw libcurl CPU | requests/s | × raw throughput "
             "| peak RSS MB | goal (issue 4) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for client in LABELS:
        ss = [s for s in b.samples if s["client"] == client and s["c"] == c and s["round"] in base]
        bb = base if client in CORE else peer_base
        if not ss:
            if client == "lira" and a.lira_missing:
                lines.append(f"| {LABELS[client]} | pending | | | | | {a.lira_missing} |")
            continue
        cpu = statistics.median(per_req_us(s) for s in ss)
        thr = statistics.median(rps(s) for s in ss)
        cpu_x = statistics.median(per_req_us(s) / bb[s["round"]][0] for s in ss)
        thr_x = statistics.median(rps(s) / bb[s["round"]][1] for s in ss)
        rss = max(s["rss_kb"] for s in ss) / 1024
        goal = ""
        if client == "lira":
            g = GOALS.get(c, {})
            parts = []
            if "cpu" in g:
                worst = max(per_req_us(s) / bb[s["round"]][0] for s in ss)
                ok = cpu_x <= g["cpu"] and worst <= CPU_NEVER
                parts.append(f"CPU ≤ {g['cpu']}× (never > {CPU_NEVER}×; worst round "
                             f"{worst:.2f}×): {'met' if ok else '**not met**'}")
            if "throughput" in g:
                ok = thr_x >= g["throughput"]
                parts.append(f"throughput ≥ {g['throughput']:.0%}: {'met' if ok else '**not met**'}")
            parts.append(f"RSS ≤ {RSS_GOAL_MB} MB: {'met' if rss <= RSS_GOAL_MB else '**not met**'}")
            goal = "; ".join(parts)
        n = ss[0]["n"] if client != "wrk" else None
        if client == "wrk":
            goal = f"{a.wrk_seconds} s runs"
        elif client != "raw_curl" and n != a.n:
            goal = f"n={n} per run"
        lines.append(f"| {LABELS[client]} | {cpu:.1f} | {cpu_x:.2f} | {thr:,.0f} | {thr_x:.2f} "
                     f"| {rss:.1f} | {goal} |")
    def paired(num, den):   # median of same-round CPU ratios num/den, or None
        pairs = [(s, t) for s in b.samples if s["client"] == num and s["c"] == c
                 for t in b.samples if t["client"] == den and t["c"] == c
                 and t["round"] == s["round"]]
        return statistics.median(per_req_us(s) / per_req_us(t) for s, t in pairs) if pairs else None
    x = paired("lira", "raw_same")
    if x is not None:
        lines += ["", f"lira's CPU per request over the same work done in C (raw_same, same round): "
                      f"{x:.2f}× — what lira itself adds; the rest of its ratio to raw libcurl is "
                      "the work any client doing this pays (bench/README.md, \"Where the time goes\")."]
    x = paired("lira", "raw_lua")
    if x is not None:
        lines += ["", f"lira's CPU per request over the floor of a Lua client (raw_lua, same round): "
                      f"{x:.2f}× — tasks, the call pipeline, the response object and telemetry."]
    if drift:
        lines += ["", f"Baseline drift around the same work, the floor and lira (|before − after| "
                      "/ mean, median of rounds): "
                      f"{statistics.median(drift):.1%}."]
    return lines


def report(b, queue):
    a = b.a
    load = " / ".join(f"{x:.1f}" for x in (a.load_start[0], os.getloadavg()[0]))
    out = [f"## HTTP benchmark ({time.strftime('%Y-%m-%d', time.gmtime())}, {os.cpu_count()} cores, "
           f"{os.uname().machine}; {a.versions}; load average at start / end {load})", "",
           f"nginx on 127.0.0.1 answering a 213-byte JSON body with keep-alive. n={a.n} GETs per run "
           f"for raw libcurl and lira, n={a.peer_n} for the slower peers; {a.rounds} rounds; "
           "medians; ratios against the mean of the same round's raw libcurl runs around them "
           "(before and after the same work, the floor and lira, in a shuffled order; before and "
           "after the peers). "
           f"Peak RSS is the largest over rounds. CPU placement: {a.placement}. lira sends "
           "X-Request-Id and traceparent and keeps metrics (observability as a plain host "
           "has it by default).", ""]
    for c in a.conc:
        out += group_table(b, c) + [""]
    if queue:
        peak = int(queue["rss_kb"]) / 1024
        verdict = "met" if peak <= QUEUE_RSS_GOAL_MB else "**not met**"
        out += [f"### {int(queue['n']):,} requests queued on a limiter".replace(",", " "), "",
                "| tasks | limiter | ok | wall s | RSS before spawn MB | peak RSS MB | goal |",
                "| ---: | --- | ---: | ---: | ---: | ---: | --- |",
                f"| {queue['n']} | {a.queue_rate}/s | {queue['ok']} | {float(queue['wall']):.1f} "
                f"| {int(queue['rss0_kb']) / 1024:.1f} | {peak:.1f} | ≤ {QUEUE_RSS_GOAL_MB} MB: {verdict} |", ""]
    elif a.queue > 0:
        out += [f"### {a.queue:,} requests queued on a limiter".replace(",", " "), "",
                f"pending: {a.lira_missing or 'the run failed (see notes)'}", ""]
    if b.notes:
        out += ["Notes from this run:", ""] + [f"- {n}" for n in b.notes] + [""]
    print("\n".join(out))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--raw-bin", required=True)
    p.add_argument("--tmp", required=True)
    p.add_argument("--lua-path", required=True)
    p.add_argument("--lua-cpath", required=True)
    p.add_argument("--lira-missing", default="")
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--peer-n", type=int, default=3000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--conc", default="1,32")
    p.add_argument("--queue", type=int, default=10000)
    p.add_argument("--queue-rate", type=int, default=2000)
    p.add_argument("--skip", default="", help="comma-separated peers that are not installed")
    p.add_argument("--wrk-seconds", type=int, default=2)
    p.add_argument("--timeout", type=int, default=300)
    p.add_argument("--versions", default="")
    p.add_argument("--placement", default="")
    p.add_argument("--raw-out", required=True)
    a = p.parse_args()
    a.conc = [int(x) for x in a.conc.split(",") if x]
    a.skip = set(x for x in a.skip.split(",") if x)
    a.load_start = os.getloadavg()
    with open(a.raw_out, "w") as a.raw_out:
        b = Bench(a)
        for c in a.conc:
            b.group(c)
        q = b.queue()
        report(b, q)


if __name__ == "__main__":
    main()
