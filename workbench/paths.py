"""Where things are: the analyst's project folder, and what the installed package brings along.

One rule for every command and for the Python API. The **project folder** is ``--project MAP``, else the
environment variable ``MMR_PROJECT``, else the current folder. It holds ``parameters/``, optionally its own
``notebooks/`` and ``verhalen/``, and what the workbench writes: ``outputs/``, ``cache/`` and
``geodata/demo/`` (only when the demo region has to be generated). A relative path is relative to the
project folder; inside a parameter file it is relative to that file's folder.

What the project folder lacks comes from the package (package data): the analysis and app notebooks, the
indicator catalogue, the product list, the result matrix, the demo parameter set and the demo region. In a
wheel these live in ``workbench/_data/``; in a git checkout they are the repository's own ``notebooks/``,
``parameters/`` and ``geodata/`` (so the repository is itself a project folder). The package folder is
only ever read.
"""
from __future__ import annotations

import os
from pathlib import Path

ENV_PROJECT = "MMR_PROJECT"
ENV_CACHE = "MMR_CACHE"
ENV_NOTEBOOKS = "MMR_NOTEBOOK_DIR"
PACKAGE = Path(__file__).resolve().parent
_BUNDLED = PACKAGE / "_data"  # filled by the wheel build (pyproject.toml, [tool.setuptools.package-dir])


def package_root() -> Path:
    """The folder with the package's data: ``workbench/_data`` in a wheel, the repository root in a checkout."""
    return _BUNDLED if _BUNDLED.is_dir() else PACKAGE.parent


def package_file(*parts: str) -> Path:
    """A file the package brings along, e.g. ``package_file("parameters", "indicators.yaml")``."""
    return package_root().joinpath(*parts)


def project_dir() -> Path:
    """The project folder: ``MMR_PROJECT`` (set by ``--project``) or the current folder; absolute."""
    return Path(os.path.abspath(Path(os.environ.get(ENV_PROJECT) or os.getcwd()).expanduser()))


def in_project(path: str | Path) -> Path:
    """A path as the analyst means it: relative paths are relative to the project folder."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else project_dir() / p


def find(path: str | Path, base: str | Path | None = None) -> Path:
    """An input file: absolute as given; relative to ``base`` (a parameter file's folder), then the project
    folder, then the package data (so ``parameters/resultatenmatrix.yaml`` works in an empty project).
    When it exists nowhere, the first place it was looked for (for the error message)."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    candidates = [Path(base) / p] if base is not None else []
    candidates += [project_dir() / p, package_root() / p]
    for c in candidates:
        if c.exists():
            return Path(os.path.abspath(c))
    return Path(os.path.abspath(candidates[0]))


def outputs_dir() -> Path:
    return project_dir() / "outputs"


def cache_dir() -> Path:
    """The download cache: ``MMR_CACHE`` or ``cache/`` in the project folder."""
    env = os.environ.get(ENV_CACHE)
    return Path(os.path.abspath(Path(env).expanduser())) if env else project_dir() / "cache"


def demo_dir() -> Path:
    """Where the demo region is generated when the package's copy does not fit: ``geodata/demo`` of the project."""
    return project_dir() / "geodata" / "demo"


def bundled_demo_dir() -> Path:
    """The demo region as the package brings it (read-only)."""
    return package_file("geodata", "demo")


def catalog_file() -> Path:
    """The indicator catalogue: the project's ``parameters/indicators.yaml``, else the package's."""
    return find(Path("parameters") / "indicators.yaml")


def products_file() -> Path:
    return find(Path("parameters") / "producten.yaml")


def notebook_dirs() -> list[Path]:
    """Where notebooks are looked up, first match wins: ``MMR_NOTEBOOK_DIR`` (only there, when set), else the
    project's ``notebooks/`` and then the package's."""
    env = os.environ.get(ENV_NOTEBOOKS)
    if env:
        return [Path(os.path.abspath(Path(env).expanduser()))]
    own, bundled = project_dir() / "notebooks", package_file("notebooks")
    return [own, bundled] if own.resolve() != bundled.resolve() else [bundled]


def notebook(name: str) -> Path:
    """The notebook ``name`` (without .ipynb), from the project folder or the package."""
    dirs = notebook_dirs()
    for d in dirs:
        p = d / f"{name}.ipynb"
        if p.is_file():
            return p
    return dirs[-1] / f"{name}.ipynb"


def available_notebooks() -> set[str]:
    return {p.stem for d in notebook_dirs() for p in d.glob("*.ipynb")}


def app_notebook() -> Path:
    return notebook("app")


def stories_file(gemeente: str, folder: str | Path | None = None) -> Path:
    """``<gemeente>.yaml`` with the stories behind the figures: in ``folder`` when given, else the project's
    ``verhalen/`` or ``parameters/verhalen/``, else the package's (the fictional demo example)."""
    name = f"{gemeente}.yaml"
    if folder is not None:
        return Path(folder) / name
    places = [project_dir() / "verhalen", project_dir() / "parameters" / "verhalen", package_file("parameters", "verhalen")]
    for d in places:
        if (d / name).is_file():
            return d / name
    return places[0] / name


def shown(path: str | Path) -> str:
    """A path for a published page: relative to the project folder or the package's data when inside one of
    them, else the file name alone; never the analyst's home or the installation folder."""
    p = Path(os.path.abspath(path))
    for root in (project_dir(), package_root()):
        try:
            return p.relative_to(root).as_posix()
        except ValueError:
            continue
    return p.name
