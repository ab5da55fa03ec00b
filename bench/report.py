#!/usr/bin/env python3
"""Writes report.md and latency.png of one bench/run.sh run from its JSON.

Usage (run.sh calls it): INSECURE=0|1 report.py OUT KEYS CONCURRENCY
DURATION WARMUP THREADS OPEN_THREADS
"""
import json, os, platform, statistics, subprocess, sys, time

out, keys, conc, dur, warm, threads, open_threads = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
targets = ("sesh", "redis")

def load(t, name):
    with open(os.path.join(out, "%s-%s.json" % (t, name))) as f:
        return json.load(f)

def memory(t, suffix=""):
    m = {}
    with open(os.path.join(out, "%s-memory%s.txt" % (t, suffix))) as f:
        for line in f:
            k, v = line.split()
            m[k] = float(v)
    return m

r = {t: {n: load(t, n) for n in ("a-get_touch", "b-get", "c-mix", "d-open", "e-sweep")}
     for t in targets}

def load_rounds(t, n):  # the first phase of each round of n, round 1 first
    out_ = [r[t][n]["phases"][0]]
    while os.path.exists(os.path.join(out, "%s-%s-r%d.json" % (t, n, len(out_) + 1))):
        out_.append(load(t, "%s-r%d" % (n, len(out_) + 1))["phases"][0])
    return out_

round_phases = {(t, n): load_rounds(t, n) for t in targets for n in r[t]}

def maybe(t, n):  # a sesh-load run that older runs of this script lack
    path = os.path.join(out, "%s-%s.json" % (t, n))
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)

# Every sesh-load run of the directory, for the errors: {target: {name: json}}.
runs = {}
for fn in sorted(os.listdir(out)):
    for t in ("redis-wait", "sesh", "redis"):
        if fn.startswith(t + "-") and fn.endswith(".json"):
            with open(os.path.join(out, fn)) as f:
                j = json.load(f)
            if "phases" in j:
                runs.setdefault(t, {})[fn[len(t) + 1:-5]] = j
            break

def rounds(t, n):
    return round_phases[(t, n)]

def median_op(t, n, op):  # an op's figures, each the median over the rounds
    xs = [p["ops"][op] for p in rounds(t, n)]
    return {k: statistics.median(x[k] for x in xs) for k in ("ops_per_s", "p50_us", "p99_us")}

def median_cpu(t, n):  # CPU per op, medians over the rounds that have it
    m = {}
    for k in ("server_cpu_us_per_op", "client_cpu_us_per_op"):
        xs = [p[k] for p in rounds(t, n) if p.get(k) is not None]
        if xs:
            m[k] = statistics.median(xs)
    return m

n_rounds = len(rounds("sesh", "a-get_touch"))

def ms(us):
    return "%.2f" % (us / 1000.0)

def ratio(a, b):
    return "%.2f" % (a / b) if b else "n/a"

def mib(b):
    return "%.0f MiB" % (b / 2**20)

cpu = "unknown"
try:
    with open("/proc/cpuinfo") as f:
        cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
except Exception:
    pass
redis_version = subprocess.run(["redis-server", "--version"], capture_output=True,
                               text=True).stdout.split()[2]

L = []
L.append("# Sesh vs Redis, %s" % time.strftime("%Y-%m-%d %H:%M"))
L.append("")
L.append("Machine: %d cores (%s), Linux %s. Both servers and the load generator "
         "share it, on loopback." % (os.cpu_count(), cpu, platform.release()))
L.append("Sesh: 3 `sesh-node` processes, replication factor 3, default durability "
         "(QUORUM), default flags, %s; `sesh::Client` with its default batching. "
         % ("plaintext without tokens (INSECURE=1)" if os.environ.get("INSECURE") == "1"
            else "TLS on both ports (mutual on the peer port) and a namespace token") +
         "Redis %s: one `redis-server`, no persistence (`--save '' --appendonly no`)."
         % redis_version.replace("v=", ""))
L.append("Load: `sesh-load`, %d sessions of %d bytes (Sesh: 4 attributes; Redis: "
         "one blob), %s concurrent callers on %s driver threads (%s for the open "
         "loops), %s s measured per phase after %s s warm-up; keys uniformly "
         "random. Before the phases, Sesh's block caches are warmed by a "
         "closed-loop get run (`sesh-warm.json`, if present; not in the tables). "
         "Build: Bazel default mode (fastbuild, `-O2` from `.bazelrc`)."
         % (keys, r["sesh"]["a-get_touch"]["value_bytes"], conc, threads,
            open_threads, dur, warm))
L.append("")
L.append("## Throughput and latency")
L.append("")
L.append("| phase | op | Sesh ops/s | Redis ops/s | Sesh / Redis | Sesh p50 / p99 ms | Redis p50 / p99 ms |")
L.append("|---|---|---:|---:|---:|---:|---:|")

def row(phase, op, s, rd, offered=False):
    L.append("| %s | %s | %.0f | %.0f | %s | %s / %s | %s / %s |" % (
        phase, op, s["ops_per_s"], rd["ops_per_s"],
        "n/a" if offered else ratio(s["ops_per_s"], rd["ops_per_s"]),
        ms(s["p50_us"]), ms(s["p99_us"]), ms(rd["p50_us"]), ms(rd["p99_us"])))

def ph(t, n, i=0):
    return r[t][n]["phases"][i]

row("(a) closed loop", "get_touch", median_op("sesh", "a-get_touch", "get_touch"),
    median_op("redis", "a-get_touch", "get_touch"))
row("(b) closed loop", "get", median_op("sesh", "b-get", "get"), median_op("redis", "b-get", "get"))
for op in ph("sesh", "c-mix")["ops"]:
    row("(c) web mix, closed loop", op, ph("sesh", "c-mix")["ops"][op], ph("redis", "c-mix")["ops"][op])
row("(c) web mix, closed loop", "**all**", ph("sesh", "c-mix")["all"], ph("redis", "c-mix")["all"])
ds, dr = ph("sesh", "d-open"), ph("redis", "d-open")
row("(d) open loop, offered: Sesh %.0f/s, Redis %.0f/s" % (ds["rate"], dr["rate"]), "get_touch",
    ds["ops"]["get_touch"], dr["ops"]["get_touch"], offered=True)
L.append("")
L.append(("(a) and (b): medians of %d alternating rounds (a, b, a, b, ...; each "
          "figure's median on its own). " % n_rounds if n_rounds > 1 else "") +
         "(d) offers each target half of its own (a) peak, so its ops/s columns "
         "(achieved) are not capacities and their ratio is meaningless; compare "
         "latencies at equal rates in the sweep below. Mix (c): %s; a destroy is "
         "measured alone (its replacement create is not), Redis rotate = "
         "`SET new` + `DEL old`." % r["sesh"]["c-mix"]["mix"])
L.append("")

L.append("## Sliding-expiry overhead: get_touch against get, (a) vs (b)")
L.append("")
if n_rounds > 1:
    L.append("Each round's (a) against the (b) that follows it; the median of the "
             "rounds' ratios.")
    L.append("")
L.append("| | Sesh | Redis | issue 5 target (Sesh) |")
L.append("|---|---:|---:|---:|")
def over(t):  # per round: (throughput ratio, p99 ratio)
    return [(a["ops"]["get_touch"]["ops_per_s"] / b["ops"]["get"]["ops_per_s"],
             a["ops"]["get_touch"]["p99_us"] / b["ops"]["get"]["p99_us"])
            for a, b in zip(rounds(t, "a-get_touch"), rounds(t, "b-get"))]
def rounds_text(xs):
    return " (%s)" % ", ".join("%.2f" % x for x in xs) if len(xs) > 1 else ""
ov = {t: over(t) for t in targets}
(st, sp), (rt, rp) = [(statistics.median(x for x, _ in ov[t]),
                       statistics.median(y for _, y in ov[t])) for t in targets]
L.append("| throughput get_touch / get%s | %.2f%s | %.2f%s | >= 0.90 |" % (
    ", median (rounds)" if n_rounds > 1 else "",
    st, rounds_text([x for x, _ in ov["sesh"]]), rt, rounds_text([x for x, _ in ov["redis"]])))
L.append("| p99 get_touch / get%s | %.2f%s | %.2f%s | <= 1.20 |" % (
    ", median (rounds)" if n_rounds > 1 else "",
    sp, rounds_text([y for _, y in ov["sesh"]]), rp, rounds_text([y for _, y in ov["redis"]])))
if n_rounds > 1:
    for t in targets:
        L.append("| %s rounds: get_touch / get ops/s | %s | | |" % (t.capitalize(), ", ".join(
            "%.0f / %.0f" % (a["ops"]["get_touch"]["ops_per_s"], b["ops"]["get"]["ops_per_s"])
            for a, b in zip(rounds(t, "a-get_touch"), rounds(t, "b-get")))))
L.append("")

def share_text(xs):  # shares of touches written, median and rounds
    xs = [x for x in xs if x is not None]
    if not xs:
        return "n/a"
    m = "%.1f%%" % (100 * statistics.median(xs))
    return m + (" (%s)" % ", ".join("%.1f%%" % (100 * x) for x in xs) if len(xs) > 1 else "")

def cpu_pair(p):
    if not p or p.get("server_cpu_us_per_op") is None or p.get("client_cpu_us_per_op") is None:
        return "n/a"
    return "%.1f + %.1f" % (p["server_cpu_us_per_op"], p["client_cpu_us_per_op"])

def interval_s(n_keys, p):  # mean time between two visits of one session
    g = p["ops"].get("get_touch", {}).get("ops_per_s", 0)
    return "%.1f s" % (n_keys / g) if g else "n/a"

h = {idle: (maybe("sesh", "h-get_touch-idle%d" % idle), maybe("redis", "h-get_touch-idle%d" % idle))
     for idle in (1800, 60)}
if any(p is not None and p.get("touches_written_share") is not None
       for p in rounds("sesh", "a-get_touch")):
    L.append("## Touches written (Sesh)")
    L.append("")
    L.append("A node records a touch (persisted within a second) only when it moves "
             "the session's last_access by at least 1%% of its idle timeout "
             "(`--touch_write_fraction` 0.01): after 18 s at 30 minutes, 600 ms at "
             "60 s. With keys picked uniformly, a session is visited about every "
             "sessions / (get_touch ops/s). Written: the nodes' `touches_written` / "
             "`touches_requested` (NodeStats, summed over the nodes) over each "
             "measured window. (h): get_touch:100 on %s sessions created just "
             "before the phase (preload in %s s for Sesh), one set with each idle "
             "timeout, the same for Redis (`GETEX … EX 1800` / `EX 60`)." % (
                 h[60][0]["keys"] if h[60][0] else "n/a",
                 " and ".join("%.0f" % h[i][0]["preload_s"] for i in (1800, 60) if h[i][0]) or "n/a"))
    L.append("")
    L.append("| phase | sessions | idle timeout | one session visited every | touches written | Sesh ops/s | Redis ops/s | Sesh / Redis | CPU us/op, Sesh nodes + client | Redis server + client |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    sa_, ra_ = median_op("sesh", "a-get_touch", "get_touch"), median_op("redis", "a-get_touch", "get_touch")
    sc_, rc_ = median_cpu("sesh", "a-get_touch"), median_cpu("redis", "a-get_touch")
    L.append("| (a) get_touch%s | %d | 30 min | %.1f s | %s | %.0f | %.0f | %s | %s | %s |" % (
        ", median of %d rounds" % n_rounds if n_rounds > 1 else "", keys,
        keys / sa_["ops_per_s"], share_text([p.get("touches_written_share") for p in rounds("sesh", "a-get_touch")]),
        sa_["ops_per_s"], ra_["ops_per_s"], ratio(sa_["ops_per_s"], ra_["ops_per_s"]),
        cpu_pair(sc_), cpu_pair(rc_)))
    cs_, cr_ = ph("sesh", "c-mix"), ph("redis", "c-mix")
    L.append("| (c) web mix, all ops | %d | 30 min | %s | %s | %.0f | %.0f | %s | %s | %s |" % (
        keys, interval_s(keys, cs_), share_text([cs_.get("touches_written_share")]),
        cs_["all"]["ops_per_s"], cr_["all"]["ops_per_s"],
        ratio(cs_["all"]["ops_per_s"], cr_["all"]["ops_per_s"]), cpu_pair(cs_), cpu_pair(cr_)))
    for idle, label in ((1800, "30 min"), (60, "60 s")):
        hs, hr = h[idle]
        if hs is None or hr is None:
            continue
        ps, pr = hs["phases"][0], hr["phases"][0]
        L.append("| (h) get_touch, fresh sessions | %d | %s | %s | %s | %.0f | %.0f | %s | %s | %s |" % (
            hs["keys"], label, interval_s(hs["keys"], ps), share_text([ps.get("touches_written_share")]),
            ps["ops"]["get_touch"]["ops_per_s"], pr["ops"]["get_touch"]["ops_per_s"],
            ratio(ps["ops"]["get_touch"]["ops_per_s"], pr["ops"]["get_touch"]["ops_per_s"]),
            cpu_pair(ps), cpu_pair(pr)))
    L.append("")

sf, rf = maybe("sesh", "f-writes-QUORUM"), maybe("redis", "f-update")
wf, wc = maybe("redis-wait", "f-update"), maybe("redis-wait", "c-mix")
if sf and rf and wf and wc:
    L.append("## Durable writes: Sesh (QUORUM) against Redis with two replicas and `WAIT 1`")
    L.append("")
    L.append("Redis + WAIT: a primary and two `redis-server --replicaof` on loopback (no "
             "persistence), each write followed by `WAIT 1 2000`, pipelined with it: "
             "acknowledged once a replica holds it, 2 copies, as a Sesh QUORUM write "
             "(2 of 3 nodes). A rotate's SET and DEL share one WAIT; GETEX has none "
             "(a Sesh touch is not replicated before its reply either). Its server "
             "CPU is the primary's and both replicas'. Neither side syncs to disk "
             "(Sesh writes RocksDB's WAL without fsync).")
    L.append("")
    L.append("| phase | op | Sesh ops/s | Redis ops/s | Redis + WAIT ops/s | Sesh / Redis | Sesh / Redis + WAIT | p50 / p99 ms: Sesh; Redis; Redis + WAIT | CPU us/op, server + client: Sesh; Redis; Redis + WAIT |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    cs_, cr_, cw_ = ph("sesh", "c-mix"), ph("redis", "c-mix"), wc["phases"][0]
    fs, fr, fw = sf["phases"][0], rf["phases"][0], wf["phases"][0]
    for label, op, (a, b, c), whole in (
            ("(f) update only, closed loop", "update", (fs, fr, fw), True),
            ("(c) web mix, closed loop", "update", (cs_, cr_, cw_), False),
            ("(c) web mix, closed loop", "**all**", (cs_, cr_, cw_), True)):
        st_ = [p["all"] if op == "**all**" else p["ops"][op] for p in (a, b, c)]
        L.append("| %s | %s | %.0f | %.0f | %.0f | %s | %s | %s | %s |" % (
            label, op, st_[0]["ops_per_s"], st_[1]["ops_per_s"], st_[2]["ops_per_s"],
            ratio(st_[0]["ops_per_s"], st_[1]["ops_per_s"]), ratio(st_[0]["ops_per_s"], st_[2]["ops_per_s"]),
            "; ".join("%s / %s" % (ms(x["p50_us"]), ms(x["p99_us"])) for x in st_),
            "; ".join(cpu_pair(p) for p in (a, b, c)) if whole else ""))
    L.append("")

L.append("## CPU per operation (measured windows, from /proc and getrusage%s)" % ("; (a) and (b): medians over the rounds" if n_rounds > 1 else ""))
L.append("")
L.append("| phase | Sesh: 3 nodes, us/op | Sesh: sesh-load, us/op | Redis: server, us/op | Redis: sesh-load, us/op |")
L.append("|---|---:|---:|---:|---:|")
def cpu_cell(p, k):
    v = p.get(k)
    return "%.1f" % v if v is not None else "n/a"
for n, label in (("a-get_touch", "(a) get_touch"), ("b-get", "(b) get"), ("c-mix", "(c) web mix"),
                 ("d-open", "(d) open loop")):
    s, rd = median_cpu("sesh", n), median_cpu("redis", n)
    L.append("| %s | %s | %s | %s | %s |" % (label, cpu_cell(s, "server_cpu_us_per_op"),
             cpu_cell(s, "client_cpu_us_per_op"), cpu_cell(rd, "server_cpu_us_per_op"),
             cpu_cell(rd, "client_cpu_us_per_op")))
L.append("")

L.append("## Memory and disk, %d sessions (after (b))" % keys)
L.append("")
ms_, mr = memory("sesh"), memory("redis")
ms0, mr0 = memory("sesh", "-empty"), memory("redis", "-empty")
rss = [ms_["n%d.rss_bytes" % i] for i in (1, 2, 3)]
disk = [ms_["n%d.disk_bytes" % i] for i in (1, 2, 3)]
rss_growth = sum(ms_["n%d.rss_bytes" % i] - ms0["n%d.rss_bytes" % i] for i in (1, 2, 3))
disk_growth = sum(ms_["n%d.disk_bytes" % i] - ms0["n%d.disk_bytes" % i] for i in (1, 2, 3))
scale = 1e6 / keys
L.append("| | Sesh, per node (each holds every session at RF 3) | Sesh, 3 nodes | Redis |")
L.append("|---|---:|---:|---:|")
L.append("| resident memory (VmRSS) | %s | %s | %s |" % (
    " / ".join(mib(x) for x in rss), mib(sum(rss)), mib(mr["rss_bytes"])))
L.append("| Redis used_memory | | | %s (dataset %s) |" % (mib(mr["used_memory"]), mib(mr.get("used_memory_dataset", 0))))
L.append("| data on disk (`du -sb` data dir) | %s | %s | none (no persistence) |" % (
    " / ".join(mib(x) for x in disk), mib(sum(disk))))
L.append("| growth over the empty servers, per 10^6 sessions: memory | %s | %s | %s used_memory, %s RSS |" % (
    mib(rss_growth / 3 * scale), mib(rss_growth * scale),
    mib((mr["used_memory"] - mr0["used_memory"]) * scale),
    mib((mr["rss_bytes"] - mr0["rss_bytes"]) * scale)))
L.append("| growth over the empty servers, per 10^6 sessions: disk | %s | %s | |" % (
    mib(disk_growth / 3 * scale), mib(disk_growth * scale)))
L.append("")
L.append("Per-10^6 rows scale this run's growth linearly. Sesh's RSS includes "
         "RocksDB's block cache (1 GiB per node by default, filled as sessions are read), "
         "memtables and gRPC buffers, so it does not grow linearly with "
         "sessions; disk holds SST files plus the WAL and memtables not yet "
         "compacted. Redis: %d keys in the database." % mr["dbsize"])
L.append("")

L.append("## Issue 5 targets (defined at 10^6 sessions; this run: %d)" % keys)
L.append("")
sa, ra = median_op("sesh", "a-get_touch", "get_touch"), median_op("redis", "a-get_touch", "get_touch")
def verdict(ok):
    return "met" if ok else "**missed**"
L.append("- Get+touch throughput >= Redis GETEX (unpipelined, same concurrency): "
         "%.0f vs %.0f ops/s, %.2fx: %s." % (sa["ops_per_s"], ra["ops_per_s"],
         sa["ops_per_s"] / ra["ops_per_s"], verdict(sa["ops_per_s"] >= ra["ops_per_s"])))
L.append("- Sliding-expiry overhead, throughput >= 90%% of get: %.0f%%: %s." % (st * 100, verdict(st >= 0.9)))
L.append("- Sliding-expiry overhead, p99 <= 1.2x get's: %.2fx: %s." % (sp, verdict(sp <= 1.2)))
dsg = ds["ops"]["get_touch"]
L.append("- Open loop at half the peak (%.0f/s): get_touch p99 <= 2 ms: %s ms: %s." % (
    ds["rate"], ms(dsg["p99_us"]), verdict(dsg["p99_us"] <= 2000)))
rb = {}
try:
    import csv
    with open(os.path.join(out, "redis-benchmark.csv")) as f:
        for row in csv.reader(f):
            rb[int(row[0])] = (float(row[2]), float(row[5]), float(row[7]))  # rps, p50, p99 ms
except Exception:
    pass
if 16 in rb:
    L.append("- Stretch: Get+touch throughput >= Redis GETEX with 16-deep pipelining "
             "(redis-benchmark, %s connections): %.0f vs %.0f ops/s, %.2fx: %s. "
             "(redis-benchmark unpipelined, for comparison with sesh-load's Redis "
             "figure: %.0f ops/s, p50 %.2f / p99 %.2f ms.)" % (
             conc, sa["ops_per_s"], rb[16][0], sa["ops_per_s"] / rb[16][0],
             verdict(sa["ops_per_s"] >= rb[16][0]), rb.get(1, (0, 0, 0))[0],
             rb.get(1, (0, 0, 0))[1], rb.get(1, (0, 0, 0))[2]))
L.append("- Store micro-benchmark (GetTouch at 10^6 <= 2x at 10^4): not part of this "
         "script; `bazel-bin/bench/store_bench --benchmark_filter=GetTouch`.")
L.append("")

L.append("## Issue 15 targets (defined at 10^6 sessions; this run: %d)" % keys)
L.append("")
L.append("| figure | target | this run | verdict |")
L.append("|---|---|---|---|")
def target_row(figure, target, value, ok):
    L.append("| %s | %s | %s | %s |" % (figure, target, value, verdict(ok)))
cs, cr = ph("sesh", "c-mix"), ph("redis", "c-mix")
mix_ratio = cs["all"]["ops_per_s"] / cr["all"]["ops_per_s"]
target_row("web mix, Sesh / Redis", ">= 0.6x (stretch 1.0x)",
           "%.2fx (%.0f vs %.0f ops/s)" % (mix_ratio, cs["all"]["ops_per_s"], cr["all"]["ops_per_s"]),
           mix_ratio >= 0.6)
mix_cpu = cs.get("server_cpu_us_per_op")
if isinstance(mix_cpu, (int, float)):
    target_row("node CPU per web-mix op (3 nodes summed)", "<= 50 us",
               "%.1f us (+ client %.1f us)" % (mix_cpu, cs.get("client_cpu_us_per_op", 0)),
               mix_cpu <= 50)
try:
    fq = load("sesh", "f-writes-QUORUM")["phases"][0]
    target_row("QUORUM updates/s (update-only phase)", ">= 20,000",
               "%.0f (node CPU %.1f us per update)" % (fq["total_ops_per_s"], fq.get("server_cpu_us_per_op", 0)),
               fq["total_ops_per_s"] >= 20000)
except (OSError, KeyError, IndexError):
    pass
target_row("get+touch, Sesh / Redis GETEX", ">= 1.0x",
           "%.2fx (%.0f vs %.0f ops/s)" % (sa["ops_per_s"] / ra["ops_per_s"], sa["ops_per_s"], ra["ops_per_s"]),
           sa["ops_per_s"] >= ra["ops_per_s"])
target_row("touch overhead: get+touch / get throughput; p99 ratio", ">= 0.90; <= 1.2",
           "%.2f; %.2f" % (st, sp), st >= 0.9 and sp <= 1.2)
drg = dr["ops"]["get_touch"]
target_row("open loop at half peak, get+touch p99", "<= 2x Redis's at half its peak",
           "%s ms vs Redis %s ms (%.1fx)" % (ms(dsg["p99_us"]), ms(drg["p99_us"]), dsg["p99_us"] / drg["p99_us"]),
           dsg["p99_us"] <= 2 * drg["p99_us"])
rss_per_node = sum(rss) / len(rss) * 1e6 / keys
used = mr["used_memory"] * 1e6 / keys
target_row("resident memory per node per 10^6 sessions", "<= Redis used_memory",
           "%s vs %s" % (mib(rss_per_node), mib(used)), rss_per_node <= used)
L.append("")
L.append("CPU per operation for each phase is in the CPU table above; the perf "
         "profiles behind the figures, when the run had PERF=1, are "
         "`perf-sesh-{get_touch,mix,update}-{nodes,load}.txt`.")
L.append("")

L.append("## Latency against throughput (open-loop get_touch sweeps)")
L.append("")
L.append("![p99 latency against throughput](latency.png)")
L.append("")
L.append("| target | offered ops/s | achieved ops/s | p50 ms | p99 ms | p99.9 ms | s to finish a %s s schedule | unstarted |" % r["sesh"]["e-sweep"]["phases"][0]["duration_s"])
L.append("|---|---:|---:|---:|---:|---:|---:|---:|")
for t in targets:
    with open(os.path.join(out, "sweep-%s.dat" % t), "w") as f:
        f.write("# offered achieved p50_us p99_us p999_us\n")
        for p in r[t]["e-sweep"]["phases"]:
            g = p["ops"]["get_touch"]
            f.write("%.0f %.0f %.1f %.1f %.1f\n" % (p["rate"], g["ops_per_s"], g["p50_us"], g["p99_us"], g["p999_us"]))
            L.append("| %s | %.0f | %.0f | %s | %s | %s | %.1f | %d |" % (t, p["rate"], g["ops_per_s"], ms(g["p50_us"]),
                     ms(g["p99_us"]), ms(g["p999_us"]), p["elapsed_s"], p["unstarted_at_end"]))
L.append("")
L.append("Open loop: latency counts from each operation's scheduled start. A "
         "target that falls behind its schedule finishes it late (for at most "
         "one more window; the rest is 'unstarted'), and its achieved ops/s is "
         "measured over the time it took.")
L.append("")

# Issue 4 figures, Sesh only: writes by durability and replication lag.
wfiles = [(d, os.path.join(out, "sesh-f-writes-%s.json" % d)) for d in ("ONE", "QUORUM", "ALL")]
if all(os.path.exists(f) for _, f in wfiles):
    L.append("## Sesh writes by durability (update:100, closed loop, %s callers)" % conc)
    L.append("")
    L.append("| durability | writes/s | p50 ms | p99 ms |")
    L.append("|---|---:|---:|---:|")
    for d, f in wfiles:
        u = json.load(open(f))["phases"][0]["ops"]["update"]
        L.append("| %s | %.0f | %s | %s |" % (d, u["ops_per_s"], ms(u["p50_us"]), ms(u["p99_us"])))
    L.append("")
lag = os.path.join(out, "sesh-g-lag.json")
if os.path.exists(lag):
    g = json.load(open(lag))
    L.append("## Sesh replication lag under the web mix")
    L.append("")
    L.append("`lag_probe`: a write at ONE, then every replica's own copy polled over "
             "the peer protocol; the time from the acknowledgement until the last "
             "replica holds it. %d samples (%d timed out): p50 %.1f ms, p90 %.1f ms, "
             "p99 %.1f ms, max %.1f ms." % (g["samples"], g["timeouts"], g["p50_ms"],
                                             g["p90_ms"], g["p99_ms"], g["max_ms"]))
    L.append("")

L.append("## Errors")
L.append("")
for t in [t for t in ("sesh", "redis", "redis-wait") if t in runs]:
    rt = runs[t]
    unexpected = sum(rt[n]["unexpected_errors"] for n in rt)
    expected = sum(rt[n]["expected_errors"] for n in rt)
    detail = "; ".join("%s: %s" % (n, json.dumps(rt[n]["errors"])) for n in rt if rt[n]["errors"])
    L.append("- %s: %d unexpected, %d expected (NOT_FOUND after a concurrent destroy/rotate)%s" % (
        t, unexpected, expected, (". " + detail) if detail else ""))
L.append("")
status_path = os.path.join(out, "sesh-status.json")
if os.path.exists(status_path):
    try:
        with open(status_path) as f:
            nodes = json.load(f).get("nodes", [])
        counts = ", ".join("%s %s" % (n.get("id"), n.get("repair_reads", "n/a"))
                           for n in nodes)
        L.append("Sesh calls answered only after reading the other replicas "
                 "(`repair_reads`, whole run; 0 unless a primary lost its read "
                 "lease or a node looked down): " + counts + ".")
        L.append("")
    except (OSError, ValueError):
        pass
L.append("Files: `<target>-<phase>.json` (sesh-load output; targets sesh, redis and "
         "redis-wait), `*-memory.txt`, `sweep-*.dat`, `commit.txt`, "
         "`sesh-status.json` (`seshctl status` after the Sesh phases); `logs/` "
         "(progress, node and Redis logs) stays out of git.")

with open(os.path.join(out, "report.md"), "w") as f:
    f.write("\n".join(L) + "\n")
