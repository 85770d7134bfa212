"""``tools.compare_modes``'s outputs: the table (stdout), the latency chart (PNG) and the JSON file.

The chart draws, per mode, the share of replies delivered within a given time (an empirical
cumulative distribution) on a logarithmic time axis, so WebSocket's milliseconds and short
polling's seconds fit on one picture. matplotlib runs with the Agg backend (no display needed).
"""
from __future__ import annotations

import json
from pathlib import Path

TRANSPORT_NAMES = {"ws": "WebSocket", "longpoll": "long polling", "poll": "short polling"}
COLUMNS = ("mode", "sent", "received", "lost", "dup", "p50 ms", "p95 ms", "p99 ms", "max ms", "reconnects")


def _cell(value) -> str:
    return "-" if value is None else f"{value:.1f}" if isinstance(value, float) else str(value)


def table(report: dict) -> str:
    """A plain-text table, one row per mode, with a header line saying what was measured."""
    cfg = report["config"]
    rows = [COLUMNS]
    for mode, r in report["modes"].items():
        rows.append((mode, r["sent"], r["received"], r["lost"], r["duplicated"], r["p50_ms"], r["p95_ms"],
                     r["p99_ms"], r["max_ms"], r["reconnects"]))
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    lines = [f"{cfg['messages']} operator replies at {cfg['rate']:g}/s (via {report['replies_via']}) to "
             f"{report['relay']}; short polling every {cfg['poll_interval']:g} s, long polling "
             f"wait={cfg['longpoll_wait']:g}"]
    for row in cells:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))))
    for mode, r in report["modes"].items():
        if r["send_errors"]:
            reasons = "; ".join(f"{n}× {why}" for why, n in r["send_error_reasons"].items())
            lines.append(f"{mode}: {r['send_errors']} replies not accepted by the relay: {reasons}")
        if r["errors"]:
            lines.append(f"{mode}: client errors: " + ", ".join(f"{k} ×{n}" for k, n in r["errors"].items()))
    if report["timed_out"]:
        lines.append(f"timed out after {cfg['timeout']:g} s: figures are partial")
    return "\n".join(lines)


def write_json(report: dict, path: Path) -> None:
    path.write_text(json.dumps(report, indent=2) + "\n")


def write_chart(report: dict, path: Path) -> None:
    """The latency distribution per mode as a PNG (about 700 × 400 pixels)."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    drawn = False
    for mode, r in report["modes"].items():
        samples = [s for s in r["samples_ms"] if s is not None]
        if not samples:
            continue
        p50 = "-" if r["p50_ms"] is None else f"{r['p50_ms']:.0f}"
        p95 = "-" if r["p95_ms"] is None else f"{r['p95_ms']:.0f}"
        label = f"{TRANSPORT_NAMES.get(mode, mode)}: p50 {p50} ms, p95 {p95} ms, lost {r['lost']}"
        ax.ecdf([max(s, 0.01) for s in samples], label=label)
        drawn = True
    cfg = report["config"]
    ax.set_xscale("log")
    ax.set_xlabel("operator reply sent → event read by the client (ms, log scale)")
    ax.set_ylabel("share of replies delivered")
    ax.set_ylim(0, 1.02)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(f"{cfg['messages']} replies at {cfg['rate']:g}/s, replies via {report['replies_via']}", fontsize=10)
    if drawn:
        ax.legend(loc="best", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no reply arrived", transform=ax.transAxes, ha="center")
    fig.savefig(path, format="png")
