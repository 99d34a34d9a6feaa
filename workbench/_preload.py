"""Imported once by a batch's fork server (workbench/warm.py): the modules every run imports, so that each forked run
starts with them in memory. Importing only: nothing here runs, reads data or starts a thread."""
import gc
import importlib

MODULES = (
    "workbench.cli", "workbench.pipeline", "workbench.dataset", "workbench.findings", "workbench.risk",
    "workbench.privacy", "workbench.outcomes", "workbench.relations", "workbench.intervals", "workbench.audit",
    "workbench.publish", "workbench.export", "workbench.report", "workbench.maps", "workbench.kernels",
    "workbench.wijkprofiel", "workbench.provider_sheet", "workbench.charts", "workbench.coverage",
    "workbench.sources.demo", "workbench.sources.records", "workbench.app.views", "matplotlib.pyplot",
    "statsmodels.genmod.generalized_linear_model", "statsmodels.discrete.discrete_model", "highspy", "scipy.optimize",
    "geopandas", "pyogrio", "xlsxwriter", "papermill", "nbformat",
    "jupyter_client", "ipykernel.kernelapp",
    # imported on first use by the notebooks' maps (TopoJSON), tables (Styler, jinja2) and the exports: 0.04 s, 4 MB.
    "topojson", "jinja2", "pandas.io.formats.style",
)

for _name in MODULES:
    try:
        importlib.import_module(_name)
    except Exception:  # noqa: BLE001 - a module a run cannot import fails in the run itself, with its own message
        pass

# The imported modules live as long as any run: out of the garbage collector's sight (gc.freeze, as the gc docs advise
# before fork), so that a run's full collections, and its kernel's two per notebook (IPython's %reset), walk the run's
# own objects only. Measured: those collections were 2.3 s of CPU per set in a national batch (benchmarks/README.md).
gc.collect()
gc.freeze()
