#!/usr/bin/env python3
"""Bookkeeping for perf/bench.sh: check each redis-benchmark run and turn the runs into tables.

Two subcommands, stdlib only:

  record  check one redis-benchmark --csv output (exit status already checked by bench.sh), then
          append one JSON line describing the run to the raw file. Anything unexpected (a line on
          stderr, a missing test, 0 rps) ends the benchmark: a figure from a run that failed is worse
          than no figure.
  idle    append one JSON line with a server's CPU ticks over an idle interval.
  report  read the raw file and print markdown: medians over rounds, ratios, per-round figures,
          and the targets from the issue with met/missed.

Ratios follow perf/README.md: throughput is candidate/redis, CPU per request is redis/candidate, so
for both a figure above 1 favours the candidate. PERF-METHOD.md section 1: running redis against
itself gives ratios between about 0.8 and 1.25, so a ratio inside that band is not a difference.
"""

import argparse
import csv
import json
import math
import statistics
import sys

NOISE_LOW, NOISE_HIGH = 0.8, 1.25

# Lines redis-benchmark writes to stderr that do not invalidate a run: the first whenever -k 0 is
# given, the second when CONFIG GET fails. They are reported rather than fatal.
TOLERATED_STDERR = (
    "WARNING: Keepalive disabled.",
    "WARNING: Could not fetch server CONFIG",
)


def fail(message):
    print(f"side_by_side.py: {message}", file=sys.stderr)
    sys.exit(1)


def parse_benchmark_csv(path, expected_tests):
    """Return {test: rps} from `redis-benchmark -q --csv` output, or fail with the reason."""
    with open(path, newline="") as f:
        text = f.read()
    rows = [row for row in csv.reader(text.splitlines()) if row]
    if not rows or rows[0][:2] != ["test", "rps"]:
        fail(f"{path}: no CSV header from redis-benchmark; output was:\n{text}")
    rps = {}
    for row in rows[1:]:
        if len(row) < 2:
            fail(f"{path}: unexpected line {row!r}; output was:\n{text}")
        try:
            value = float(row[1])
        except ValueError:
            fail(f"{path}: rps {row[1]!r} for {row[0]} is not a number; output was:\n{text}")
        if value <= 0:
            fail(f"{path}: {row[0]} ran at {value} rps; output was:\n{text}")
        rps[row[0]] = value
    missing = [t for t in expected_tests if t not in rps]
    if missing:
        fail(f"{path}: no result for {', '.join(missing)}; output was:\n{text}")
    extra = [t for t in rps if t not in expected_tests]
    if extra:
        fail(f"{path}: unexpected tests {', '.join(extra)}; output was:\n{text}")
    return rps


def check_stderr(path):
    """Fail on any stderr line except the tolerated ones, which are returned as notes."""
    notes = []
    with open(path, errors="replace") as f:
        for line in f.read().replace("\r", "\n").splitlines():
            line = line.strip()
            if not line:
                continue
            if line.startswith(TOLERATED_STDERR):
                notes.append(line)
            else:
                fail(f"redis-benchmark wrote to stderr: {line!r} (full text in {path})")
    return notes


def cmd_record(args):
    tests = args.tests.upper().split(",")
    notes = check_stderr(args.stderr)
    if args.note:
        notes.append(args.note)
    rps = parse_benchmark_csv(args.csv, tests)
    entry = {
        "kind": "run",
        "config": args.config,
        "scenario": args.scenario,
        "server": args.server,
        "round": args.round,
        "n": args.n,
        "tests": tests,
        "rps": rps,
        "ticks": args.ticks,
        "other_ticks": args.other_ticks,
        "wall_s": args.wall,
        "clk_tck": args.clk_tck,
        "notes": notes,
    }
    with open(args.raw, "a") as f:
        f.write(json.dumps(entry) + "\n")
    requests = args.n * len(tests)
    us = args.ticks / args.clk_tck * 1e6 / requests
    shown = " ".join(f"{t} {rps[t]:,.0f}/s" for t in tests)
    print(f"  {args.config} {args.scenario} {args.server} round {args.round}: {shown}, "
          f"{us:.2f} us CPU/req", file=sys.stderr)


def cmd_idle(args):
    entry = {"kind": "idle", "config": args.config, "server": args.server,
             "ticks": args.ticks, "seconds": args.seconds, "clk_tck": args.clk_tck}
    with open(args.raw, "a") as f:
        f.write(json.dumps(entry) + "\n")


def cpu_us_per_request(run):
    return run["ticks"] / run["clk_tck"] * 1e6 / (run["n"] * len(run["tests"]))


def combined_rps(run):
    """Requests per second over the whole run: every test ran n requests, one after another."""
    return run["n"] * len(run["tests"]) / sum(run["n"] / run["rps"][t] for t in run["tests"])


def ratio(numerator, denominator):
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def fmt_rps(value):
    return "–" if value is None else f"{value:,.0f}"


def fmt_us(value):
    return "–" if value is None else f"{value:.2f}"


def fmt_thousands(value):
    return f"{value / 1000:.0f}k" if value >= 100_000 else f"{value / 1000:.1f}k"


def fmt_ratio(value):
    if value is None:
        return "–"
    mark = "" if NOISE_LOW < value < NOISE_HIGH else " *"
    return f"{value:.2f}{mark}"


def median_or_none(values):
    return statistics.median(values) if values else None


class Results:
    def __init__(self, entries):
        self.runs = [e for e in entries if e["kind"] == "run"]
        self.idle = [e for e in entries if e["kind"] == "idle"]
        self.configs = list(dict.fromkeys(e["config"] for e in self.runs))
        self.servers = list(dict.fromkeys(e["server"] for e in self.runs))
        self.scenarios = list(dict.fromkeys(e["scenario"] for e in self.runs))

    def select(self, config, scenario, server):
        return [r for r in self.runs
                if (r["config"], r["scenario"], r["server"]) == (config, scenario, server)]

    def median_rps(self, config, scenario, server, test):
        return median_or_none([r["rps"][test] for r in self.select(config, scenario, server)])

    def median_combined_rps(self, config, scenario, server):
        return median_or_none([combined_rps(r) for r in self.select(config, scenario, server)])

    def median_cpu(self, config, scenario, server):
        return median_or_none([cpu_us_per_request(r) for r in self.select(config, scenario, server)])

    def tests(self, config, scenario):
        for r in self.runs:
            if (r["config"], r["scenario"]) == (config, scenario):
                return r["tests"]
        return []


def print_config(results, config, reference, candidate, descriptions):
    print(f"### {config}\n")
    if config in descriptions:
        print(descriptions[config] + "\n")
    idle = [e for e in results.idle if e["config"] == config]
    if idle:
        parts = [f"{e['server']} {100 * e['ticks'] / e['clk_tck'] / e['seconds']:.1f}%" for e in idle]
        print(f"Idle CPU over {idle[0]['seconds']:g} s after start (share of one core): "
              + ", ".join(parts) + ".\n")

    print(f"| scenario | {reference} rps | {candidate} rps | ratio | {reference} µs CPU/req | "
          f"{candidate} µs CPU/req | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for scenario in results.scenarios:
        tests = results.tests(config, scenario)
        if not tests:
            continue
        for test in tests:
            a = results.median_rps(config, scenario, reference, test)
            b = results.median_rps(config, scenario, candidate, test)
            print(f"| {scenario} · {test} | {fmt_rps(a)} | {fmt_rps(b)} | {fmt_ratio(ratio(b, a))} "
                  f"| | | |")
        a = results.median_combined_rps(config, scenario, reference)
        b = results.median_combined_rps(config, scenario, candidate)
        ca = results.median_cpu(config, scenario, reference)
        cb = results.median_cpu(config, scenario, candidate)
        print(f"| {scenario} · {'+'.join(tests)} run | {fmt_rps(a)} | {fmt_rps(b)} | "
              f"{fmt_ratio(ratio(b, a))} | {fmt_us(ca)} | {fmt_us(cb)} | {fmt_ratio(ratio(ca, cb))} |")
    print()


def print_rounds(results):
    print("### Per-round figures\n")
    print("rps per test, µs of server CPU per request over the run, and the idle server's CPU "
          "while the other one was measured (share of one core), in round order.\n")
    print("| config | scenario | server | " + " | ".join(f"{t} rps" for t in ("SET", "GET"))
          + " | µs CPU/req | bystander CPU |")
    print("|---|---|---|---|---|---|---|")
    for config in results.configs:
        for scenario in results.scenarios:
            for server in results.servers:
                runs = sorted(results.select(config, scenario, server), key=lambda r: r["round"])
                if not runs:
                    continue
                per_test = []
                for test in ("SET", "GET"):
                    per_test.append(" ".join(fmt_thousands(r["rps"].get(test, 0)) for r in runs))
                cpu = " ".join(f"{cpu_us_per_request(r):.2f}" for r in runs)
                bystander = " ".join(
                    f"{100 * r['other_ticks'] / r['clk_tck'] / r['wall_s']:.0f}%"
                    if r["other_ticks"] is not None and r["wall_s"] > 0 else "–" for r in runs)
                print(f"| {config} | {scenario} | {server} | {per_test[0]} | {per_test[1]} | "
                      f"{cpu} | {bystander} |")
    print()


def paired_rounds(reference_runs, candidate_runs, value, higher_is_better):
    """Compare round by round: rounds alternate, so round i of each server saw the same moment.

    Returns "; better in k of n rounds, sign test p=..." (ties count as neither), a difference
    that a ratio of medians inside the noise band can hide."""
    reference = {r["round"]: value(r) for r in reference_runs}
    candidate = {r["round"]: value(r) for r in candidate_runs}
    rounds = sorted(set(reference) & set(candidate))
    if not rounds:
        return ""
    wins = sum(1 for i in rounds if (candidate[i] > reference[i]) == higher_is_better
               and candidate[i] != reference[i])
    losses = sum(1 for i in rounds if candidate[i] != reference[i]) - wins
    return f"; better in {wins} of {len(rounds)} rounds, sign test p={sign_test(wins, losses):.2f}"


def sign_test(wins, losses):
    """Two-sided sign test: chance of a split at least this uneven between equal servers."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(0, min(wins, losses) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def verdict(value, goal, rounds_note):
    if value is None:
        return "not measured"
    met = "met" if value >= goal else "**missed**"
    notes = []
    if NOISE_LOW < value < NOISE_HIGH:
        notes.append("inside the 0.8–1.25 band")
    if rounds_note:
        notes.append(rounds_note.lstrip("; "))
    return met + (f" ({'; '.join(notes)})" if notes else "")


def print_targets(results, reference, candidate, scenario_names):
    clients, pipelined, connect = scenario_names
    print("### Targets\n")
    print("| target | config | figure | verdict |")
    print("|---|---|---|---|")
    if "pinned" in results.configs:
        for scenario in (clients, connect):
            value = ratio(results.median_cpu("pinned", scenario, reference),
                          results.median_cpu("pinned", scenario, candidate))
            note = paired_rounds(results.select("pinned", scenario, reference),
                                 results.select("pinned", scenario, candidate),
                                 cpu_us_per_request, higher_is_better=False)
            print(f"| {candidate} CPU per request at most {reference}'s, {scenario} | pinned | "
                  f"{reference}/{candidate} = {fmt_ratio(value)} | {verdict(value, 1.0, note)} |")
    for config in results.configs:
        for test in results.tests(config, pipelined):
            value = ratio(results.median_rps(config, pipelined, candidate, test),
                          results.median_rps(config, pipelined, reference, test))
            note = paired_rounds(results.select(config, pipelined, reference),
                                 results.select(config, pipelined, candidate),
                                 lambda r, test=test: r["rps"][test], higher_is_better=True)
            print(f"| pipelined {test} throughput at least 1.0x {reference}'s | {config} | "
                  f"{candidate}/{reference} = {fmt_ratio(value)} | {verdict(value, 1.0, note)} |")
    print()


def cmd_report(args):
    with open(args.raw) as f:
        entries = [json.loads(line) for line in f if line.strip()]
    results = Results(entries)
    if not results.runs:
        fail(f"{args.raw}: no runs recorded")
    descriptions = {}
    for item in args.describe or []:
        name, _, text = item.partition("=")
        descriptions[name] = text
    for config in results.configs:
        print_config(results, config, args.reference, args.candidate, descriptions)
    print("Medians over rounds. Throughput ratio = "
          f"{args.candidate}/{args.reference}; CPU ratio = {args.reference}/{args.candidate}: above 1 "
          f"favours {args.candidate} in both. `*` marks a ratio outside 0.8–1.25, the band that "
          "redis against itself stays inside (PERF-METHOD.md §1); ratios without it are not "
          "distinguishable from noise in one run. The `+` row's rps is requests over the whole "
          "run; its CPU figure is the server's utime+stime over the run divided by all its "
          "requests. In the targets, \"better in k of n rounds\" pairs round i of one server with "
          "round i of the other (they ran back to back); the sign test p is the chance of a split "
          "at least that uneven between two equal servers.\n")
    print_targets(results, args.reference, args.candidate, args.scenario_names)
    print_rounds(results)
    notes = sorted({n for r in results.runs for n in r.get("notes", [])})
    if notes:
        print("### Notes from the runs\n")
        for note in notes:
            hits = [r for r in results.runs if note in r.get("notes", [])]
            servers = sorted({r["server"] for r in hits})
            print(f"- `{note}`: {len(hits)} run(s), against {', '.join(servers)}")
        print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    rec = sub.add_parser("record")
    rec.add_argument("--raw", required=True)
    rec.add_argument("--config", required=True)
    rec.add_argument("--scenario", required=True)
    rec.add_argument("--server", required=True)
    rec.add_argument("--round", type=int, required=True)
    rec.add_argument("--csv", required=True)
    rec.add_argument("--stderr", required=True)
    rec.add_argument("--tests", required=True)
    rec.add_argument("--n", type=int, required=True)
    rec.add_argument("--ticks", type=int, required=True)
    rec.add_argument("--other-ticks", type=int)
    rec.add_argument("--wall", type=float, required=True)
    rec.add_argument("--clk-tck", type=int, required=True)
    rec.add_argument("--note", default="", help="something the report should mention")
    rec.set_defaults(func=cmd_record)

    idle = sub.add_parser("idle")
    idle.add_argument("--raw", required=True)
    idle.add_argument("--config", required=True)
    idle.add_argument("--server", required=True)
    idle.add_argument("--ticks", type=int, required=True)
    idle.add_argument("--seconds", type=float, required=True)
    idle.add_argument("--clk-tck", type=int, required=True)
    idle.set_defaults(func=cmd_idle)

    rep = sub.add_parser("report")
    rep.add_argument("--raw", required=True)
    rep.add_argument("--reference", required=True)
    rep.add_argument("--candidate", required=True)
    rep.add_argument("--scenario-names", nargs=3, required=True,
                     metavar=("CLIENTS", "PIPELINED", "CONNECT"))
    rep.add_argument("--describe", action="append", metavar="CONFIG=TEXT")
    rep.set_defaults(func=cmd_report)

    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
