"""charts.Picture: a figure drawn once, saved and shown in the notebook as the same PNG."""
import base64

import numpy as np
import pandas as pd
from IPython.core.formatters import DisplayFormatter

from workbench import charts


def test_picture_is_saved_and_shown_as_the_same_png(tmp_path):
    fig = charts.bar_compare(pd.DataFrame({"budget": [1200.0, 800.0]}, index=["Noord", "Zuid"]), ["budget"],
                             title="Verdeling", xlabel="bedrag per wijk")
    picture = charts.Picture(fig)
    path = picture.save(tmp_path / "verdeling.png")
    shown, _ = DisplayFormatter().format(picture)
    assert path.read_bytes() == picture.png and picture.png.startswith(b"\x89PNG")
    png = shown["image/png"]
    assert (base64.b64decode(png) if isinstance(png, str) else png) == picture.png
    assert shown["text/plain"].startswith("<Figure size")  # no object address in the notebook
    assert not list(tmp_path.glob("*.tmp*"))  # written atomically, nothing left beside it


def _drawn_bounds(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    return fig.get_tightbbox(renderer), renderer


def test_funnel_plot_lies_inside_its_image_whatever_the_names_and_texts():
    """The funnel is saved uncropped (no second layout pass): long names at either edge, a long subtitle and note, and
    a wide or a narrow range of expected counts must still lie inside the figure, the names inside the axes."""
    from workbench import risk

    rng = np.random.default_rng(3)
    for low, high in ((0.8, 90_000), (150, 3_000), (40, 60)):
        expected = np.geomspace(low, high, 30)
        points = pd.DataFrame({"expected": expected, "oe": rng.uniform(0.2, 3.5, 30),
                               "label": rng.choice(list(charts.COLOURS), 30)}, index=[f"WK{i:04d}" for i in range(30)])
        names = pd.Series({code: ("Buurtschap Langewater-Oosterhoogebroek en Wijdewormer " * 2)[: 10 + 3 * i]
                           for i, code in enumerate(points.index)})
        fig = charts.funnel_plot(points, risk.funnel_limits(expected), title="Wmo: waargenomen tegen verwacht per buurt",
                                 subtitle="Wmo: quasi-Poisson-model op 14.512 buurten (referentie: alle gemeenten); " * 4,
                                 names=names, annotate=30, note="Punten buiten de stippellijnen wijken meer af. " * 6)
        drawn, renderer = _drawn_bounds(fig)
        width, height = fig.get_size_inches()
        assert drawn.x0 >= 0 and drawn.y0 >= 0 and drawn.x1 <= width and drawn.y1 <= height, (low, high, drawn)
        axes = fig.axes[0].get_window_extent(renderer)
        for text in fig.axes[0].texts:  # the annotated names
            box = text.get_window_extent(renderer)
            assert axes.x0 <= box.x0 and box.x1 <= axes.x1 + 1, (low, high, text.get_text())


def test_funnel_plot_labels_its_log_axis_in_dutch():
    from workbench import risk

    expected = np.geomspace(150, 3_000, 12)
    points = pd.DataFrame({"expected": expected, "oe": 1.0, "label": "niet te onderscheiden"})
    fig = charts.funnel_plot(points, risk.funnel_limits(expected), title="t")
    _drawn_bounds(fig)
    labels = [t.get_text() for t in fig.axes[0].xaxis.get_ticklabels(which="both") if t.get_visible() and t.get_text()]
    assert "1.000" in labels and "2.000" in labels and "200" in labels, labels  # more than one label on 1,3 decades


def test_bar_compare_labels_euros_without_needless_decimals():
    fig = charts.bar_compare(pd.DataFrame({"budget": [1_200_000.0, 800_000.0]}, index=["Noord", "Zuid"]), ["budget"],
                             title="Verdeling", xlabel="bedrag per wijk")
    _drawn_bounds(fig)
    labels = [t.get_text() for t in fig.axes[0].xaxis.get_ticklabels() if t.get_text()]
    assert "€ 0" in labels and "€ 1.000.000" in labels, labels  # not '€ 0,0'
