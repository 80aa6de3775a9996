#!/usr/bin/python3
"""bench/run's last step: gathers the phase reports of one run into one JSON file, a Markdown
table of linetcp / kernel / memif-ceiling ratios (same run) and a PNG chart (matplotlib)."""
import argparse
import json
import os
import platform
import subprocess


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--started", required=True)
    ap.add_argument("--mode", required=True)
    ap.add_argument("--seconds", required=True)
    ap.add_argument("phases", nargs="*", help="name=client-report.json")
    a = ap.parse_args()
    w = a.work

    phases = {}
    for p in a.phases:
        name, path = p.split("=", 1)
        r = load(path)
        if not r:
            continue
        lat = r.get("latency_us", {}).get("request", {})
        t = r.get("totals", {})
        phases[name] = {
            "connections_per_s": r["rates"]["connections_per_s"],
            "requests_per_s": r["rates"]["requests_per_s"],
            "gbps_out": r["rates"]["gbps_out"],
            "gbps_in": r["rates"]["gbps_in"],
            "errors": t.get("errors", 0),
            "latency_p50_us": lat.get("p50"),
            "latency_p99_us": lat.get("p99"),
            "latency_p999_us": lat.get("p999"),
        }
        # Loop gaps of either side: time its core was taken away (see WorkerStats::stalls).
        for side, rep in (("client", r), ("server", load(path.replace("client-", "server-")))):
            ws = (rep or {}).get("workers", [])
            phases[name][f"{side}_stalls"] = sum(x.get("stalls", 0) for x in ws)
            phases[name][f"{side}_stall_ms"] = sum(x.get("stall_ms", 0) for x in ws)
            phases[name][f"{side}_max_gap_us"] = max((x.get("max_gap_us", 0) for x in ws), default=0)
            cs = (rep or {}).get("counters", {})
            phases[name][f"{side}_parked"] = cs.get("endpoint.connections_parked", 0)
            phases[name][f"{side}_unparked"] = cs.get("endpoint.connections_unparked", 0)

    def ph(name, key):
        return phases.get(name, {}).get(key)

    kernel = {n: load(os.path.join(w, f"kernel-{n}.json"), {}) for n in ("keepalive", "close", "keepalive_100", "keepalive_1")}
    ceil = {n: load(os.path.join(w, f"ceiling-{n}.json"), {}) for n in ("64", "1500")}
    mem = load(os.path.join(w, "memory.json"), {})
    d = mem.get("defaults", {})
    pk = mem.get("parked", {})

    res = {
        "started": a.started,
        "mode": a.mode,
        "seconds_per_phase": float(a.seconds),
        "machine": {
            "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
            "cores": os.cpu_count(),
            "kernel": platform.release(),
            "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                     cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip(),
        },
        "linetcp": {
            "http_short_cps": ph("short", "connections_per_s"),
            "keepalive_rps": ph("keepalive_1000", "requests_per_s"),
            "keepalive_rps_1": ph("keepalive_1", "requests_per_s"),
            "keepalive_rps_100": ph("keepalive_100", "requests_per_s"),
            "keepalive_rps_1000": ph("keepalive_1000", "requests_per_s"),
            "pingpong_rtt_p50_us": ph("keepalive_1", "latency_p50_us"),
            "bulk_gbps_1conn": ph("bulk_1", "gbps_out"),
            "bulk_gbps_1000conn": ph("bulk_1000", "gbps_out"),
            "echo_1400_rps": ph("echo_1400", "requests_per_s"),
            "keepalive_parked_rps": ph("keepalive_parked", "requests_per_s"),
            "latency_half_load_rps": ph("latency_half", "requests_per_s"),
            "latency_half_load_p50_us": ph("latency_half", "latency_p50_us"),
            "latency_half_load_p99_us": ph("latency_half", "latency_p99_us"),
            "phases": phases,
        },
        "kernel": {
            "http_short_cps": kernel["close"].get("rps"),
            "keepalive_rps": kernel["keepalive"].get("rps"),
            "keepalive_rps_100": kernel["keepalive_100"].get("rps"),
            "keepalive_rps_1": kernel["keepalive_1"].get("rps"),
            "pingpong_rtt_p50_us": kernel["keepalive_1"].get("p50_us"),
            "wrk": kernel,
        },
        "ceiling": {
            "memif_mpps_64": ceil["64"].get("mpps"),
            "memif_gbps_64": ceil["64"].get("gbps"),
            "memif_mpps_1500": ceil["1500"].get("mpps"),
            "memif_gbps_1500": ceil["1500"].get("gbps"),
        },
        "memory": {
            # An idle established connection, with full TCP state for 65536 at a time (the rest
            # parked): its record and index share. bytes_per_conn_full_state: one in full state.
            "bytes_per_conn": pk.get("bytes_per_idle_conn"),
            "bytes_per_conn_full_state": pk.get("bytes_per_full_state_conn"),
            "bytes_per_slot_defaults": d.get("bytes_per_conn"),
            "sizeof_conn_record": pk.get("sizeof_conn_record"),
            "bytes_per_time_wait": d.get("bytes_per_time_wait"),
            "sizeof_conn_slot": d.get("sizeof_conn_slot"),
            "sizeof_tcp_connection": d.get("sizeof_tcp_connection"),
            "sizeof_time_wait_record": d.get("sizeof_time_wait_record"),
            "index_bytes_per_entry": d.get("index_bytes_per_entry"),
            "hold": mem.get("hold"),
        },
    }
    micro = load(os.path.join(w, "micro.json"))
    if micro:
        res["micro"] = [{"name": b["name"], "ns": b.get("real_time"), "cycles_per_op": b.get("cycles/op"),
                         "items_per_second": b.get("items_per_second")} for b in micro.get("benchmarks", [])]

    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")

    # --- Markdown table ---
    L, K, C = res["linetcp"], res["kernel"], res["ceiling"]

    def fmt(v, unit=""):
        if v is None:
            return "–"
        if abs(v) >= 1e6:
            return f"{v / 1e6:.2f} M{unit}"
        if abs(v) >= 1e3:
            return f"{v / 1e3:.1f} k{unit}"
        return f"{v:.2f}{unit}"

    def ratio(x, y):
        return f"{x / y:.2f}×" if x and y else "–"

    rows = [
        ("HTTP short connections/s", L["http_short_cps"], K["http_short_cps"], None),
        ("HTTP keep-alive req/s, 1000 conns", L["keepalive_rps_1000"], K["keepalive_rps"], None),
        ("HTTP keep-alive req/s, 100 conns", L["keepalive_rps_100"], K["keepalive_rps_100"], None),
        ("HTTP keep-alive req/s, 1 conn", L["keepalive_rps_1"], K["keepalive_rps_1"], None),
        ("request RTT p50 (µs), 1 conn", L["pingpong_rtt_p50_us"], K["pingpong_rtt_p50_us"], None),
        ("bulk Gb/s (frames), 1 conn", L["bulk_gbps_1conn"], None, C["memif_gbps_1500"]),
        ("bulk Gb/s (frames), 1000 conns", L["bulk_gbps_1000conn"], None, C["memif_gbps_1500"]),
        ("echo 1400 B req/s, 100 conns", L["echo_1400_rps"], None, None),
        ("keep-alive req/s paced, 20000 conns on 2048 full states", L["keepalive_parked_rps"], None, None),
        ("latency p50 (µs) at 50 % load", L["latency_half_load_p50_us"], None, None),
        ("latency p99 (µs) at 50 % load", L["latency_half_load_p99_us"], None, None),
    ]
    md = [f"# bench/run {a.mode} pass, {a.started} ({a.seconds} s per phase, commit {res['machine']['commit']})", "",
          f"{res['machine']['cpu']}, {res['machine']['cores']} cores; server core 0, client core 1; "
          "all ratios from this run.", "",
          "| measure | linetcp | kernel | linetcp / kernel | memif ceiling | linetcp / ceiling |",
          "|---|---|---|---|---|---|"]
    for name, l, k, c in rows:
        md.append(f"| {name} | {fmt(l)} | {fmt(k)} | {ratio(l, k)} | {fmt(c)} | {ratio(l, c)} |")
    md += ["", f"memif ceiling (testpmd txonly -> rxonly): {fmt(C['memif_mpps_64'])} Mpps at 64 B "
           f"({fmt(C['memif_gbps_64'])} Gb/s), {fmt(C['memif_mpps_1500'])} Mpps at 1500 B ({fmt(C['memif_gbps_1500'])} Gb/s).", "",
           f"memory (engine accounting): {fmt(res['memory']['bytes_per_conn'])} B per idle (parked) connection "
           f"(record {res['memory']['sizeof_conn_record']} B + index), "
           f"{fmt(res['memory']['bytes_per_conn_full_state'])} B per connection in full TCP state "
           f"(sizeof state {res['memory']['sizeof_conn_slot']}, TcpConnection {res['memory']['sizeof_tcp_connection']}), "
           f"{fmt(res['memory']['bytes_per_time_wait'])} B per TIME_WAIT entry (record {res['memory']['sizeof_time_wait_record']})."]
    lh = phases.get("latency_half")
    if lh:
        md += ["", f"latency phase: {fmt(lh['requests_per_s'])} req/s, p50 {fmt(lh['latency_p50_us'])} µs, "
               f"p99 {fmt(lh['latency_p99_us'])} µs, p99.9 {fmt(lh['latency_p999_us'])} µs; loop stalls (>= 100 µs) "
               f"client {lh['client_stalls']} ({lh['client_stall_ms']:.1f} ms, longest {lh['client_max_gap_us']:.0f} µs), "
               f"server {lh['server_stalls']} ({lh['server_stall_ms']:.1f} ms, longest {lh['server_max_gap_us']:.0f} µs)."]
    if res["memory"]["hold"]:
        h = res["memory"]["hold"]
        md += ["", f"held {h['established_client']} idle connections (both sides in one process, "
               f"{h.get('full_state_connections', '?')} full TCP states each) in {h['seconds']:.1f} s, "
               f"peak RSS {h['peak_rss_bytes'] / 2**30:.2f} GiB, "
               f"{h['rss_bytes_per_conn_both_sides']:.0f} B of RSS per connection for both sides."]
    if res.get("micro"):
        md += ["", "## Micro benchmarks (Google Benchmark, CPU time; cycles/op = TSC cycles per item)", "",
               "| benchmark | ns/iter (CPU) | cycles/op | items/s |", "|---|---|---|---|"]
        for b in micro.get("benchmarks", []):
            ips = b.get("items_per_second")
            md.append(f"| {b['name']} | {b.get('cpu_time', 0):.1f} | {b.get('cycles/op', 0):.1f} | "
                      f"{fmt(ips) if ips else '–'} |")
    base = os.path.splitext(a.out)[0]
    with open(base + ".md", "w") as f:
        f.write("\n".join(md) + "\n")

    # --- chart: linetcp relative to the kernel (rates) and to the memif ceiling (bulk) ---
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no chart")
        return
    bars = [(n, l, k) for n, l, k, _ in rows[:4] if l and k]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 1.3]})
    ax = axes[0]
    xs = range(len(bars))
    ax.bar([x - 0.2 for x in xs], [b[1] / 1e3 for b in bars], 0.4, label="linetcp (memif)")
    ax.bar([x + 0.2 for x in xs], [b[2] / 1e3 for b in bars], 0.4, label="Linux kernel (nginx/wrk, loopback)")
    for x, b in zip(xs, bars):
        ax.text(x - 0.2, b[1] / 1e3, f"{b[1] / b[2]:.1f}×", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(xs))
    ax.set_xticklabels([b[0].replace("HTTP ", "").replace(", ", "\n") for b in bars], fontsize=8)
    ax.set_ylabel("thousands per second")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.set_title("one core each side, same run")
    ax = axes[1]
    gb = [("ceiling\n1500 B", C["memif_gbps_1500"]), ("linetcp\n1 conn", L["bulk_gbps_1conn"]),
          ("linetcp\n1000 conns", L["bulk_gbps_1000conn"])]
    gb = [g for g in gb if g[1]]
    ax.bar(range(len(gb)), [g[1] for g in gb], color=["gray"] + ["C0"] * (len(gb) - 1))
    ax.set_xticks(range(len(gb)))
    ax.set_xticklabels([g[0] for g in gb], fontsize=8)
    ax.set_ylabel("Gb/s")
    ax.set_title("bulk over memif")
    fig.tight_layout()
    fig.savefig(base + ".png", dpi=110)
    print(f"wrote {a.out}, {base}.md, {base}.png")


if __name__ == "__main__":
    main()
