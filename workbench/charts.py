"""Static charts (matplotlib) with Dutch labels. Presentation only: every figure drawn is computed elsewhere."""
from __future__ import annotations

import io
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd

from . import formatting
from .io import write_atomic

COLOURS = {"hoger dan verwacht": "#d7301f", "lager dan verwacht": "#2171b5", "niet te onderscheiden": "#636363"}


def axis_nl(x, pos=None) -> str:
    """Axis ticks in Dutch (0,8 / 1,25 / 1.000): as few decimals as the tick needs."""
    for d in (0, 1, 2, 3):
        if abs(round(x, d) - x) < 1e-9:
            return formatting.number(x, d)
    return formatting.number(x, 3)


class _DutchLogFormatter(matplotlib.ticker.LogFormatter):
    """matplotlib's choice of which log ticks get a label, with the label in Dutch (200 / 1.000)."""

    def _num_to_string(self, x, vmin, vmax):
        return axis_nl(x)


# the funnel's fixed layout, in inches: the PNG is the figure itself, so saving it needs no layout pass to crop it
FUNNEL_SIZE = (9.0, 5.6)
_LEFT, _RIGHT, _LEGEND = 0.9, 2.2, 0.12  # axes from the left edge; room right of the axes for the legend
_TEXT_WRAP = {"subtitle": 118, "note": 150}  # characters per line: 8 pt from the axes' left edge, 7.5 pt across the figure
NAME_CHARS = 48  # an annotated area name is shortened beyond this (7 pt: half the axes' width)


def funnel_plot(points: pd.DataFrame, limits: pd.DataFrame, *, title: str, subtitle: str = "",
                value: str = "oe", value_label: str = "waargenomen / verwacht (W/V)", names: pd.Series | None = None,
                annotate: int = 5, note: str = ""):
    """Funnel plot: W/V (or a smoothed W/V) against the expected count, with 95% and 99,8% control limits.

    ``points``: expected, the ``value`` column and label (risk.score output, disclosure-controlled);
    ``limits``: risk.funnel_limits output. The ``annotate`` most extreme areas get their name. The subtitle and the
    note are wrapped and the legend stands beside the axes, so everything lies inside the figure (save it uncropped).
    """
    width, height = FUNNEL_SIZE
    subtitle_lines = textwrap.wrap(subtitle, _TEXT_WRAP["subtitle"]) if subtitle else []
    note_lines = textwrap.wrap(note, _TEXT_WRAP["note"]) if note else []
    line = 1.3 / 72  # inches per point of font size
    subtitle_top = 0.2 + 12 * line + 0.12  # below the 12 pt title
    top = subtitle_top + 8 * line * len(subtitle_lines) + 0.1
    bottom = 0.12 + 7.5 * line * len(note_lines) + 0.62
    axes_width = width - _LEFT - _RIGHT
    fig = plt.figure(figsize=FUNNEL_SIZE, dpi=110)
    ax = fig.add_axes((_LEFT / width, bottom / height, axes_width / width, (height - top - bottom) / height))
    lim = limits.sort_values("expected")
    ax.axhline(1.0, color="#333", lw=1)
    for level, style in (("0.95", "--"), ("0.998", ":")):
        lab = "95%-grenzen" if level == "0.95" else "99,8%-grenzen"
        ax.plot(lim["expected"], lim[f"high_{level}"], style, color="#555", lw=1, label=lab)
        ax.plot(lim["expected"], lim[f"low_{level}"], style, color="#555", lw=1)
    pts = points[points[value].notna() & points["expected"].notna()]
    for label, colour in COLOURS.items():
        sel = pts[pts["label"] == label]
        if len(sel):
            ax.scatter(sel["expected"], sel[value], s=28, color=colour, alpha=0.85, label=f"{label} ({len(sel)})",
                       edgecolor="white", linewidth=0.5, zorder=3)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(_DutchLogFormatter())
    ax.xaxis.set_minor_formatter(_DutchLogFormatter(labelOnlyBase=False))
    if names is not None and annotate and len(pts):
        extreme = (pts[value] - 1).abs().sort_values(ascending=False).index[:annotate]
        x_min, x_max = np.log(lim["expected"].min()), np.log(lim["expected"].max())
        for code in extreme:
            x = pts.at[code, "expected"]
            # a name right of its point in the left half, left of it in the right half: a name of up to
            # NAME_CHARS characters stays inside the axes
            left = x_max > x_min and (np.log(x) - x_min) / (x_max - x_min) > 0.5
            name = str(names.get(code, code))
            name = name if len(name) <= NAME_CHARS else name[: NAME_CHARS - 1].rstrip() + "…"
            ax.annotate(name, (x, pts.at[code, value]), fontsize=7,
                        xytext=(-4 if left else 4, 3), textcoords="offset points", ha="right" if left else "left",
                        color="#222")
    ax.set_xlabel("verwacht aantal cliënten (logaritmische schaal)")
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(axis_nl))
    ax.set_ylabel(value_label)
    fig.text(_LEFT / width, 1 - 0.2 / height, title, ha="left", va="top", fontsize=12, fontweight="bold")
    if subtitle_lines:
        fig.text(_LEFT / width, 1 - subtitle_top / height, "\n".join(subtitle_lines), ha="left", va="top",
                 fontsize=8, color="#444", linespacing=1.2)
    if note_lines:
        fig.text(0.12 / width, 0.12 / height, "\n".join(note_lines), ha="left", va="bottom", fontsize=7.5, color="#444",
                 linespacing=1.2)
    ax.legend(fontsize=7.5, frameon=False, loc="upper left", bbox_to_anchor=(1 + _LEGEND / axes_width, 1),
              borderaxespad=0)
    ax.grid(alpha=0.25)
    ax.grid(which="minor", axis="x", alpha=0.12)
    plt.close(fig)  # shown once, by whoever displays it (the inline backend would show an open figure again)
    return fig


def bar_compare(table: pd.DataFrame, columns: list[str], *, title: str, xlabel: str):
    """Horizontal bars, one group per row of ``table`` (index = label), one bar per column: a what-if side by side."""
    t = table[columns].iloc[::-1]
    fig, ax = plt.subplots(figsize=(8, max(3, 0.32 * len(t) + 1.2)), dpi=110)
    t.plot.barh(ax=ax, width=0.8, color=["#2171b5", "#fd8d3c", "#74c476"][: len(columns)])
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, pos: "€ " + axis_nl(x)))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("")
    ax.set_title(title, loc="left", fontsize=12, fontweight="bold")
    ax.legend(fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.25)
    fig.tight_layout()
    plt.close(fig)  # shown once, by whoever displays it
    return fig


class Picture:
    """A drawn figure as PNG: written to the run folder and shown in a notebook as the same bytes, so it is drawn once
    (shown as a figure, the inline backend would draw it again, with the same settings: PNG, tight bounding box)."""

    def __init__(self, fig, *, crop: bool = True):
        """``crop=False``: a figure laid out to lie inside its own bounds (``funnel_plot``) is saved as it is, without
        the extra layout pass that cropping to the drawn content costs."""
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight" if crop else None)
        plt.close(fig)
        self.figure, self.png = fig, buf.getvalue()

    def _repr_png_(self) -> bytes:
        return self.png

    def __repr__(self) -> str:  # the notebook's text version, as for the figure itself
        return repr(self.figure)

    def save(self, path: Path) -> Path:
        """Write the PNG atomically (temporary file, then rename)."""
        return write_atomic(path, self.png)
