"""charts.Picture: a figure drawn once, saved and shown in the notebook as the same PNG."""
import base64

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
