"""`make bench`: run W1–W6 and write bench/RESULTS.md.

    .venv/bin/python bench/run_all.py [--only W1,W3] [--quick] [--output bench/RESULTS.md]

Each bench runs in its own process, one after the other (they would disturb each other's
figures), each against its own fresh database. W1–W3 write their figures as JSON
(``--json``); a bench that only prints (W4, W5) is read from its output: every line of the form
``<measure>  p50 <x> ms  p95 <y> ms`` becomes a row, and the rows named in ``TARGETS`` are
judged against DESIGN §7. Every figure is written beside its target and the baseline measured
in the same run; misses are written as misses.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
BENCH_PG = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
BENCH_REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")

# (id, title, script, arguments, arguments with --quick, DESIGN §7 target)
BENCHES = [
    ("W1", "webhook acknowledgement, sustained", "webhook.py", [], ["--duration", "5"],
     "≥ 500 alerts/s, p99 < 50 ms, every alert stored once"),
    ("W2", "webhook in → order accepted by the simulator", "latency.py", [], ["--alerts", "80"],
     "p50 < 25 ms, p99 < 100 ms"),
    ("W3", "one signal fanned out to 100 accounts", "fanout.py", ["--rounds", "3"], ["--rounds", "2"],
     "last order accepted < 1 s after the webhook"),
    ("W4", "statistics of a strategy with 100,000 trades", "analytics.py", [],
     ["--trades", "20000", "--repeat", "5"], "< 250 ms; dashboard API p95 < 100 ms"),
    ("W5", "fill → browser WebSocket message", "live.py", [], [], "p95 < 150 ms"),
    ("W6", "Tradovate requests per login, idle and per signal", "budget.py", [], ["--idle", "60"],
     "idle ≤ 300 /h per login; per signal per account exactly one order request, no position read"),
]  # fmt: skip

# For benches that print rather than write JSON: (pattern on the measure, statistic, limit ms).
TARGETS = {
    "W4": [
        (r"W4 statistics|statistics of the strategy", "p95", 250.0),
        (r"^GET /api/dashboard/", "p95", 100.0),
    ],
    "W5": [(r"fill|W5|websocket", "p95", 150.0)],
}
BASELINE = re.compile(r"baseline", re.I)
LINE = re.compile(
    r"^\s*(?P<name>.+?)\s+p50\s+(?P<p50>[\d.]+)\s*ms\s+p95\s+(?P<p95>[\d.]+)\s*ms", re.I
)


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    pg = subprocess.run(
        ["psql", f"{BENCH_PG}/postgres", "-Atc", "show server_version"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPU ({cpu or platform.machine()}), Python {platform.python_version()}, "
        f"PostgreSQL {pg or '?'}, Redis at {BENCH_REDIS}; load average at start {load}"
    )


def parse_printed(bench_id: str, output: str) -> dict:
    """Rows of a bench that prints `<measure> p50 x ms p95 y ms` lines."""
    rows, baselines = [], []
    for line in output.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        name, p50, p95 = m["name"].strip(), float(m["p50"]), float(m["p95"])
        if BASELINE.search(name):
            baselines.append(f"{name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
            continue
        target, ok = "", None
        for pattern, stat, limit in TARGETS.get(bench_id, []):
            if re.search(pattern, name, re.I):
                value = p95 if stat == "p95" else p50
                target, ok = f"{stat} < {limit:.0f} ms", value < limit
                break
        rows.append(
            {
                "measure": f"{name} (p50 {p50:.1f} ms)",
                "value": p95,
                "unit": "ms p95",
                "target": target,
                "ok": ok,
                "baseline": "",
            }
        )
    baseline = "; ".join(baselines)
    for row in rows:
        row["baseline"] = baseline
    return {"rows": rows, "notes": []}


def run_one(bench, *, quick: bool, timeout: float, log_dir: Path) -> dict:
    bench_id, title, script, args, quick_args, target = bench
    path = ROOT / "bench" / script
    out = {"id": bench_id, "title": title, "target": target, "rows": [], "notes": []}
    if not path.exists():
        out["error"] = f"bench/{script} does not exist yet"
        return out
    json_path = Path(tempfile.mkstemp(suffix=".json")[1])
    help_text = subprocess.run(
        [PY, str(path), "--help"], capture_output=True, text=True, cwd=ROOT, check=False
    ).stdout
    argv = [PY, str(path), *args, *(quick_args if quick else [])]
    if "--json" in help_text:
        argv += ["--json", str(json_path)]
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", f"{BENCH_PG}/justtrades_bench")
    env.setdefault("REDIS_URL", f"{BENCH_REDIS}/14")
    env.setdefault("JT_VAR_DIR", str(ROOT / "var" / "bench"))
    env["PYTHONUNBUFFERED"] = "1"
    started = time.monotonic()
    print(f"==> {bench_id}: {' '.join(argv[1:])}", flush=True)
    log_path = log_dir / f"{bench_id}.log"
    try:
        proc = subprocess.run(
            argv,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        output = proc.stdout + proc.stderr
        code = proc.returncode
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode(errors="replace") if exc.stdout else ""
        code = f"timeout after {timeout:.0f} s"
    log_path.write_text(output)
    out["seconds"] = time.monotonic() - started
    out["output"] = output
    if code != 0:
        out["error"] = f"exit {code}; last lines:\n" + "\n".join(output.splitlines()[-15:])
    if json_path.exists() and json_path.stat().st_size:
        data = json.loads(json_path.read_text())
        out["rows"], out["notes"] = data.get("rows", []), data.get("notes", [])
    elif not out.get("error") or LINE.search(output or ""):
        parsed = parse_printed(bench_id, output)
        out["rows"], out["notes"] = parsed["rows"], parsed["notes"]
        out["printed"] = True
    json_path.unlink(missing_ok=True)
    print(f"    {bench_id} done in {out['seconds']:.0f} s", flush=True)
    return out


def fmt_value(row: dict) -> str:
    value, unit = row["value"], row["unit"]
    if unit == "ok":
        return "yes" if value else "**no**"
    if unit == "/s":
        return f"{value:,.0f} /s"
    return f"{value:,.1f} {unit}"


def verdict(ok) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


def write_results(results: list[dict], path: Path, started: str, info: str) -> None:
    lines = [
        "# Benchmark results",
        "",
        f"Measured by `make bench` on {started} — {info}.",
        "",
        "Each bench starts the whole system the way `make run` does, on PostgreSQL and Redis with",
        "production settings (`bench/harness.py`), and drives it from a second process on loopback.",
        "Each figure sits beside its DESIGN §7 target and a baseline measured in the same run, so a",
        "noisy machine shows in both. Misses are written as misses.",
        "",
        "| id | measure | result | target | baseline (same run) | |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.get("error") and not r["rows"]:
            lines.append(
                f"| {r['id']} | {r['title']} | did not run | {r['target']} | | **missed** |"
            )
            continue
        for row in r["rows"]:
            lines.append(
                f"| {r['id']} | {row['measure']} | {fmt_value(row)} | {row['target'] or ''} | "
                f"{row['baseline'] or ''} | {verdict(row['ok'])} |"
            )
    lines.append("")
    for r in results:
        lines += [f"## {r['id']}: {r['title']}", "", f"Target: {r['target']}."]
        if "seconds" in r:
            lines[-1] += f" Ran in {r['seconds']:.0f} s."
        lines.append("")
        for note in r["notes"]:
            lines.append(f"- {note}")
        if r.get("error"):
            lines += ["", "Did not finish cleanly:", "", "```", r["error"], "```"]
        if r.get("printed") and r.get("output"):
            kept = [ln for ln in r["output"].splitlines() if ln.strip()][-25:]
            lines += ["", "Output:", "", "```", *kept, "```"]
        lines.append("")
    path.write_text("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description="Run W1–W6 and write bench/RESULTS.md")
    parser.add_argument("--only", help="comma-separated ids, e.g. W1,W3")
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per bench")
    parser.add_argument("--output", default=str(ROOT / "bench" / "RESULTS.md"))
    args = parser.parse_args()
    only = {s.strip().upper() for s in args.only.split(",")} if args.only else None
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    info = machine()
    log_dir = ROOT / "var" / "bench-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    # With --only, the other benches keep the figures of their last run (marked as such).
    saved_path = log_dir / "results.json"
    saved = json.loads(saved_path.read_text()) if only and saved_path.exists() else {}
    results = []
    for bench in BENCHES:
        if only and bench[0] not in only:
            if bench[0] in saved:
                previous = saved[bench[0]]
                previous["notes"] = [
                    f"figures of an earlier run ({previous.get('started', '?')})"
                ] + [n for n in previous["notes"] if not n.startswith("figures of an earlier")]
                results.append(previous)
            continue
        result = run_one(bench, quick=args.quick, timeout=args.timeout, log_dir=log_dir)
        result["started"] = started
        results.append(result)
    saved_path.write_text(json.dumps({r["id"]: r for r in results}, indent=1))
    write_results(results, Path(args.output), started, info)
    print(f"==> wrote {args.output} (full logs in {log_dir})")
    for r in results:
        for row in r["rows"]:
            print(f"  {r['id']} {row['measure']}: {fmt_value(row)} ({verdict(row['ok'])})")
        if r.get("error"):
            print(f"  {r['id']}: {r['error'].splitlines()[0]}")
    return 1 if any(r.get("error") for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
