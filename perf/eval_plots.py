#!/usr/bin/env python3
"""The plots of `fluxshard eval` (DESIGN 8): reads results.json, writes PNGs with matplotlib.

usage: perf/eval_plots.py RESULTS.json OUTDIR

  latency.png              end-to-end latency per system and bandwidth preset (grouped bars)
  bandwidth.png            uplink MB/s per system and preset (log scale)
  hit_ratio.png            share of cached positions reused per system and preset
  accuracy.png             accuracy per system and preset (retention vs ground truth, else vs dense)
  time_composition.png     edge / network / server time per system at the main preset (stacked bars)
  accuracy_vs_latency.png  every system and preset as a point
  scalability.png          latency against the number of edges sharing one link

`fluxshard eval` calls it after writing results.json; `fluxshard eval --report DIR` again. Needs Debian's
python3-matplotlib (scripts/setup.sh installs it). Each plot is for the first clip of the results when
there are several (the report's tables cover every clip).
"""
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def accuracy(r):
    """The report's headline accuracy (cli/eval_report.cpp row_accuracy)."""
    if r.get("gt_retention") is not None:
        return r["gt_retention"]
    if r["task"] == "segment":
        return r.get("mask_iou")
    return r.get("f1")


def num(v):
    return float("nan") if v is None else float(v)


def main():
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    with open(sys.argv[1]) as f:
        res = json.load(f)
    out = sys.argv[2]
    meta, rows = res["meta"], res["rows"]
    if not rows:
        print("no rows: nothing to plot", file=sys.stderr)
        return 1
    clip = rows[0]["clip"]
    rows = [r for r in rows if r["clip"] == clip]
    presets = meta.get("presets") or sorted({r["preset"] for r in rows})
    systems = [s["name"] for s in meta.get("systems", [])] or sorted({r["system"] for r in rows})
    groups = {s["name"]: s["group"] for s in meta.get("systems", [])}
    main_preset = "medium" if "medium" in presets else presets[0]
    cell = {(r["system"], r["preset"], r["edges"]): r for r in rows}
    compared = [s for s in systems if groups.get(s) in ("baseline", "fluxshard")] or systems
    slowdown = meta.get("edge_slowdown", 1)
    subtitle = "%s, %s; emulated edge K = %g" % (clip, rows[0]["model"], slowdown)

    def bars(metric, ylabel, title, name, scale=1.0, log=False, names=compared):
        fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(names) + 2), 4.2))
        width = 0.8 / max(1, len(presets))
        for i, p in enumerate(presets):
            ys = [num(metric(cell[(s, p, 1)])) * scale if (s, p, 1) in cell else float("nan") for s in names]
            xs = [k + (i - (len(presets) - 1) / 2) * width for k in range(len(names))]
            ax.bar(xs, ys, width, label=p)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=30, ha="right")
        ax.set_ylabel(ylabel)
        ax.set_title("%s\n%s" % (title, subtitle), fontsize=10)
        if log:
            ax.set_yscale("log")
        ax.legend(title="bandwidth")
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        fig.savefig(os.path.join(out, name), dpi=110)
        plt.close(fig)

    bars(lambda r: r["latency_ms"], "ms per frame", "End-to-end latency", "latency.png")
    bars(lambda r: max(r["mb_per_s"], 1e-4), "MB/s (uplink, log)", "Bandwidth", "bandwidth.png", log=True)
    bars(lambda r: r["hit_ratio"], "% of cached positions reused", "Cache hit ratio", "hit_ratio.png", 100)
    bars(accuracy, "% (vs ground truth where present, else vs dense)", "Accuracy", "accuracy.png", 100)

    # Time composition at the main preset.
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(compared) + 2), 4.2))
    names = [s for s in compared if (s, main_preset, 1) in cell]
    bottom = [0.0] * len(names)
    for key, label in (("edge_ms", "edge compute"), ("network_ms", "network + wait"), ("server_ms", "server")):
        ys = [num(cell[(s, main_preset, 1)][key]) for s in names]
        ax.bar(range(len(names)), ys, 0.6, bottom=bottom, label=label)
        bottom = [b + y for b, y in zip(bottom, ys)]
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=30, ha="right")
    ax.set_ylabel("ms per frame")
    ax.set_title("Time composition (%s)\n%s" % (main_preset, subtitle), fontsize=10)
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "time_composition.png"), dpi=110)
    plt.close(fig)

    # Accuracy against latency: every system and preset a point.
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.set_prop_cycle(color=[plt.cm.tab20(i) for i in range(20)])  # one colour per system (up to 20)
    markers = {p: m for p, m in zip(presets, "osD^v<>")}
    for s in systems:
        xs, ys = [], []
        for p in presets:
            r = cell.get((s, p, 1))
            if r:
                xs.append(r["latency_ms"])
                ys.append(num(accuracy(r)) * 100)
        if not xs:
            continue
        line = ax.plot(xs, ys, "-", alpha=0.4)[0]
        for x, y, p in zip(xs, ys, [p for p in presets if (s, p, 1) in cell]):
            ax.plot([x], [y], markers.get(p, "o"), color=line.get_color())
        ax.annotate(s, (xs[0], ys[0]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    for p in presets:
        ax.plot([], [], markers.get(p, "o"), color="grey", label=p)
    ax.set_xscale("log")
    ax.set_xlabel("end-to-end latency, ms per frame (log)")
    ax.set_ylabel("accuracy %")
    ax.set_title("Accuracy against latency\n%s" % subtitle, fontsize=10)
    ax.legend(title="bandwidth")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "accuracy_vs_latency.png"), dpi=110)
    plt.close(fig)

    # Latency against the number of edges.
    edges = meta.get("edges") or [1]
    sp = meta.get("scaling_preset") or main_preset
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    drawn = False
    for s in compared:
        pts = [(e, cell[(s, sp, e)]["latency_ms"]) for e in edges if (s, sp, e) in cell]
        if len(pts) >= 1 and (len(edges) == 1 or len(pts) > 1):
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=s)
            drawn = True
    ax.set_xlabel("edges sharing one %s link" % sp)
    ax.set_ylabel("ms per frame")
    ax.set_xticks(edges)
    ax.set_title("Latency against the number of edges\n%s" % subtitle, fontsize=10)
    if drawn:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "scalability.png"), dpi=110)
    plt.close(fig)
    return 0


if __name__ == "__main__":
    sys.exit(main())
