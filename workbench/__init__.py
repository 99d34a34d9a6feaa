"""MMR workbench: neighbourhood risk maps for care use and care costs (Monitor Maatschappelijk Resultaat).

The public surface an analyst needs in a fresh notebook::

    import workbench as wb
    ds = wb.load_dataset("parameters/demo.yaml")   # areas, statistics, records, indicators
    wb.report.indicator_map(ds, "sociaal_minimum", mode="comparison")
"""
__version__ = "0.1.0"

import pandas as _pd

# Text columns in Python objects rather than Arrow arrays (pandas 3's default): the workbench's tables are small
# (a gemeente's areas, a few thousand cells) and looked up, joined and iterated cell by cell, where each Arrow
# access costs more than the string itself. Same values, same "str" dtype; the sets of the national sample took 10-19 %
# less CPU (benchmarks/README.md, "Text columns as Python objects"). pandas 2 stores text as objects anyway.
_pd.set_option("mode.string_storage", "python")

from .catalog import load_catalog  # noqa: E402
from .dataset import Dataset, load_dataset  # noqa: E402
from .errors import WorkbenchError  # noqa: E402
from .params import load_parameters  # noqa: E402

__all__ = ["Dataset", "WorkbenchError", "load_catalog", "load_dataset", "load_parameters", "load_run", "__version__"]


def load_run(parameter_file, output_dir=None):
    """The Dataset a notebook works with: in a run, the findings ``workbench run`` computed once (read from
    ``output_dir``); opened by hand, ``load_dataset`` (the notebook computes its figures itself)."""
    from .findings import read_store

    params = load_parameters(parameter_file)
    ds = read_store(output_dir, params) if output_dir else None
    return ds if ds is not None else load_dataset(params)


def __getattr__(name):  # lazy: `wb.report` imports IPython display helpers only when used
    if name in ("report", "maps", "risk", "costs", "privacy", "indicators", "pipeline", "publish", "allocation", "charts",
                "outcomes", "findings", "audit", "areas", "formatting"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(name)
