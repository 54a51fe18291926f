#!/usr/bin/env python3
"""Renders a Grafana dashboard of grafana/dashboards/ as one PNG, from a live Prometheus.

Usage: dashboard_png.py PROMETHEUS_URL DASHBOARD_JSON OUT_PNG [MINUTES]

Each panel's own PromQL expressions (read from the dashboard file, not repeated here) are
run as range queries over the last MINUTES (default: since Prometheus has data, at most
60) and drawn with matplotlib in the panel grid order. Grafana is not needed: this is how
the PNG in docs/ was produced from the test suite's real Prometheus (see
tests/metrics/dashboards.rs, RENDER_DASHBOARD_PNG).
"""

import json
import re
import sys
import time
import urllib.parse
import urllib.request

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def query_range(base, expr, start, end, step):
    params = urllib.parse.urlencode(
        {"query": expr, "start": start, "end": end, "step": step}
    )
    with urllib.request.urlopen(f"{base}/api/v1/query_range?{params}") as r:
        body = json.load(r)
    return body["data"]["result"]


def legend(fmt, labels):
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt)
    return text or "value"


SCALE = {"bytes": (1 / 1024, "KiB"), "Bps": (1 / 1024, "KiB/s"), "s": (1000, "ms"),
         "percentunit": (100, "%"), "reqps": (1, "req/s"), "ops": (1, "/s")}


def main():
    base, dashboard_path, out = sys.argv[1:4]
    minutes = float(sys.argv[4]) if len(sys.argv) > 4 else 60
    dashboard = json.load(open(dashboard_path))
    panels = [p for p in dashboard["panels"] if p.get("targets")]
    panels.sort(key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"]))
    end = time.time()
    start = end - minutes * 60
    # Rates over [5m] need five minutes of samples: on a longer run, leave the warm-up out.
    scraped = query_range(base, "up", start, end, 5)
    if scraped and scraped[0]["values"]:
        first = float(scraped[0]["values"][0][0])
        if end - first > 420:
            start = max(start, first + 300)
    cols = 3
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 6, rows * 3.2))
    for ax, panel in zip(axes.flat, panels):
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "short")
        factor, label = SCALE.get(unit, (1, ""))
        first = end
        for target in panel["targets"]:
            for series in query_range(base, target["expr"], start, end, 5):
                xs = [float(t) for t, _ in series["values"]]
                ys = [float(v) * factor for _, v in series["values"]]
                if not xs:
                    continue
                first = min(first, xs[0])
                name = legend(target.get("legendFormat", ""), series["metric"])
                dashed = name in ("limit", "warning threshold") or "quota" in name
                ax.plot([(x - end) / 60 for x in xs], ys, label=name,
                        linestyle="--" if dashed else "-")
        ax.set_title(panel["title"], fontsize=10)
        ax.set_ylabel(label, fontsize=8)
        ax.set_xlim((first - end) / 60, 0)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6, loc="upper left")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(end))
    fig.suptitle(f"{dashboard['title']}: x axis in minutes before {stamp}")
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.savefig(out, dpi=80)


if __name__ == "__main__":
    main()
