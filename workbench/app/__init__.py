"""The Voila app for stakeholders: ipywidgets components over the published aggregates of a run.

``launch()`` (used by notebooks/app.ipynb) shows the app for ``$MMR_OUTPUTS/$MMR_SET/latest/publish.gpkg``;
``workbench serve`` starts Voila on that notebook.
"""
from .data import NoPublishedRun, PublishedRun, load_stories
from .views import MapState, build_view
from .widgets import App, launch

__all__ = ["App", "MapState", "NoPublishedRun", "PublishedRun", "build_view", "launch", "load_stories"]
