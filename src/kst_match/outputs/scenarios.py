"""A scenario comparison's outputs: the table as CSV and JSON, and its plots (PNG).

Written into a private folder and published whole, as a plan's outputs are
(``kst_match.outputs.publish``); the folder is recognised by ``comparison.json``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, BinaryIO

from kst_match.outputs.publish import staged
from kst_match.scenarios import Outcome

MARKER = "comparison.json"


def cell(value: Any) -> str:
    """A figure for a table: a value, or ``median (min-max)`` over seeds."""
    if isinstance(value, dict) and {"min", "median", "max"} <= value.keys():
        return f"{_num(value['median'])} ({_num(value['min'])}-{_num(value['max'])})"
    return _num(value) if isinstance(value, float | int) else str(value)


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def comparison_csv(rows: Sequence[dict[str, Any]]) -> str:
    """One line per scenario; a figure that differs over seeds has ``_min``, ``_median`` and
    ``_max`` columns."""
    flat = []
    for row in rows:
        line: dict[str, Any] = {}
        for key, value in row.items():
            if isinstance(value, dict):
                for stat in ("min", "median", "max"):
                    line[f"{key}_{stat}"] = value[stat]
            else:
                line[key] = value
        flat.append(line)
    columns = list(dict.fromkeys(k for line in flat for k in line))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)
    return buffer.getvalue()


def write_comparison(
    out: str | Path,
    rows: Sequence[dict[str, Any]],
    outcomes: Sequence[Outcome],
    curve: Sequence[dict[str, Any]] = (),
    needed: dict[str, Any] | None = None,
    plots: bool = True,
) -> list[str]:
    """Write ``comparison.csv``, ``comparison.json`` (the rows, every run, the capacity curve
    and the volunteers needed) and, with ``plots``, ``capacity_curve.png`` and
    ``unserved_by_ward.png``; publish the folder whole. Returns the file names."""
    document = {
        "comparison": list(rows),
        "runs": [asdict(o) for o in outcomes],
        "capacity_curve": list(curve),
        "volunteers_needed": needed,
    }
    with staged(out, MARKER) as folder:
        (folder / "comparison.csv").write_text(comparison_csv(rows), encoding="utf-8")
        (folder / MARKER).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        for name, png in (render_plots(outcomes, curve) if plots else {}).items():
            (folder / f"{name}.png").write_bytes(png)
        names = sorted(p.name for p in folder.iterdir())
    return names


def render_plots(
    outcomes: Sequence[Outcome], curve: Sequence[dict[str, Any]] = ()
) -> dict[str, bytes]:
    """The comparison's plots as PNG bytes by name: ``capacity_curve`` when there is a curve,
    and ``unserved_by_ward``. Drawn from the runs' figures only: no resident appears."""
    plots: dict[str, bytes] = {}
    if curve:
        plots["capacity_curve"] = _png(lambda f: plot_capacity_curve(curve, f))
    plots["unserved_by_ward"] = _png(lambda f: plot_unserved_by_ward(outcomes, f))
    return plots


def _png(draw: Callable[[BinaryIO], None]) -> bytes:
    buffer = io.BytesIO()
    draw(buffer)
    return buffer.getvalue()


def failing_level(curve: Sequence[dict[str, Any]]) -> float | None:
    """The highest volunteer level (share) at which fewer urgent needs are served than with the
    most volunteers on the curve: where the hub starts failing urgent needs for want of
    volunteers. An urgent need that even every volunteer leaves unserved (out of everyone's
    reach or time, or no partner's place) is not one that fewer volunteers fail."""
    if not curve:
        return None
    best = max(curve, key=lambda p: p["level"])["urgent_served"]
    failing = [p["level"] for p in curve if p["urgent_served"] < best]
    return max(failing, default=None)


def plot_capacity_curve(curve: Sequence[dict[str, Any]], path: Path | BinaryIO) -> None:
    """Needs served and urgent needs served against the share of volunteers available, with
    the level at which urgent needs start to fail marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = sorted(curve, key=lambda p: p["level"])
    x = [100 * p["level"] for p in points]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    ax.plot(x, [p["served"] for p in points], "o-", label="needs served")
    ax.plot(x, [p["needs"] for p in points], ":", color="grey", label="needs")
    ax2 = ax.twinx()
    ax2.plot(x, [p["urgent_served"] for p in points], "s-", color="tab:red", label="urgent served")
    ax2.plot(x, [p["urgent_needs"] for p in points], ":", color="tab:red", alpha=0.5)
    ax2.set_ylabel("urgent needs served", color="tab:red")
    ax2.set_ylim(bottom=0)
    level = failing_level(points)
    if level is not None:
        ax.axvline(100 * level, color="tab:red", linestyle="--", linewidth=1)
        ax.annotate(
            f"urgent needs fail\nat {100 * level:.0f}% or fewer",
            (100 * level, 0.05),
            xycoords=("data", "axes fraction"),
            xytext=(4, 0),
            textcoords="offset points",
            color="tab:red",
            fontsize=8,
        )
    ax.set_xlabel("volunteers available (% of today's)")
    ax.set_ylabel("needs served")
    ax.set_ylim(bottom=0)
    ax.set_xlim(max(x) + 3, min(x) - 3)  # from all volunteers down to the fewest
    ax.set_title("Capacity curve: service as volunteers are removed")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def plot_unserved_by_ward(outcomes: Sequence[Outcome], path: Path | BinaryIO) -> None:
    """One ward map per scenario (the bundled 2022 wards), shaded by unserved needs (the mean
    over seeds). A scenario's name is drawn as it is written: ``$`` starts no formula."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kst_match.geo.areas import Areas

    names = list(dict.fromkeys(o.scenario for o in outcomes))
    wards = Areas.default().ward_geometries.copy()
    means = {}
    for name in names:
        runs = [o for o in outcomes if o.scenario == name]
        means[name] = {
            w: sum(o.unserved_by_ward.get(w, 0) for o in runs) / len(runs) for w in wards.index
        }
    top = max((v for m in means.values() for v in m.values()), default=0) or 1
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 4 * rows), dpi=110, squeeze=False)
    for ax in axes.flat[len(names) :]:
        ax.axis("off")
    for ax, name in zip(axes.flat, names, strict=False):
        wards["unserved"] = [means[name][w] for w in wards.index]
        wards.plot(
            column="unserved", ax=ax, cmap="Reds", vmin=0, vmax=top, edgecolor="grey", linewidth=0.5
        )
        title = f"{name}: {sum(means[name].values()):g} unserved"
        ax.set_title(title, fontsize=9, parse_math=False)
        ax.axis("off")
    mappable = plt.cm.ScalarMappable(cmap="Reds", norm=plt.Normalize(0, top))
    fig.colorbar(mappable, ax=list(axes.flat), shrink=0.6, label="unserved needs per ward")
    fig.suptitle("Unserved needs by ward (2022 wards)")
    fig.savefig(path, format="png")
    plt.close(fig)
