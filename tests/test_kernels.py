"""One kernel per run: the notebooks of a run share a kernel but each starts as in a kernel of its own."""
import nbformat
import papermill as pm
import pytest

from workbench.kernels import SHARED_ENGINE, RunKernel


def _nb(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return str(path)


def _outputs(path):
    nb = nbformat.read(path, as_version=4)
    return [("".join(o.get("text", "")).strip(), c.execution_count) for c in nb.cells for o in c.outputs]


def test_notebooks_share_one_kernel_but_start_with_a_fresh_namespace(tmp_path):
    first = _nb(tmp_path / "a.ipynb", "import os, warnings\nx = 41\nprint(os.getpid())",
                "warnings.simplefilter('ignore')\nimport matplotlib; matplotlib.use('Agg')\n"
                "import matplotlib.pyplot as plt; plt.figure(); print(len(plt.get_fignums()))")
    second = _nb(tmp_path / "b.ipynb", "import os, sys, warnings\nprint(os.getpid())",
                 "print('x' in globals(), 'plt' in globals())",
                 "print(len(sys.modules['matplotlib.pyplot'].get_fignums()), "
                 "any(f[0] == 'ignore' and f[2] is Warning for f in warnings.filters))")
    with RunKernel() as km:
        for src in (first, second):
            pm.execute_notebook(src, src.replace(".ipynb", ".out.ipynb"), engine_name=SHARED_ENGINE, km=km,
                                progress_bar=False, cwd=str(tmp_path))
        assert km.has_kernel
    assert not km.has_kernel  # shut down when the run ends
    a, b = _outputs(tmp_path / "a.out.ipynb"), _outputs(tmp_path / "b.out.ipynb")
    assert a[0][0] == b[0][0]  # the same kernel process
    assert b[1][0] == "False False"  # nothing of the first notebook's namespace
    assert b[2][0] == "0 False"  # no open figure, the first notebook's warning filter undone
    assert [n for _, n in b] == [1, 2, 3]  # numbered from 1, as in a kernel of its own


def test_a_failing_notebook_still_stops_the_kernel(tmp_path):
    bad = _nb(tmp_path / "bad.ipynb", "raise ValueError('kapot')")
    with pytest.raises(pm.PapermillExecutionError):
        with RunKernel() as km:
            pm.execute_notebook(bad, str(tmp_path / "bad.out.ipynb"), engine_name=SHARED_ENGINE, km=km,
                                progress_bar=False)
    assert not km.has_kernel


def test_a_run_kernel_works_inside_a_running_event_loop(tmp_path):
    """An analyst calls ``wb.pipeline.run`` from a JupyterLab cell, where an event loop is already running:
    starting, using and stopping the run's kernel must not wait on that loop."""
    import asyncio

    nb = _nb(tmp_path / "c.ipynb", "print(6 * 7)")

    async def in_a_notebook_cell():
        kernel = RunKernel()
        kernel.start(str(tmp_path))  # the early start of a run, as pipeline.run does it
        # the warm-up client must not take the zmq identity the notebooks' client will use: the kernel would
        # drop the second connection, and the run wait for replies that never come (half of the runs before)
        assert kernel._kc.session.bsession != kernel.km.session.bsession
        with kernel as km:
            pm.execute_notebook(nb, str(tmp_path / "c.out.ipynb"), engine_name=SHARED_ENGINE, km=km,
                                progress_bar=False, cwd=str(tmp_path), execution_timeout=60)
        return km.has_kernel

    assert asyncio.run(asyncio.wait_for(in_a_notebook_cell(), 120)) is False
    assert _outputs(tmp_path / "c.out.ipynb")[0][0] == "42"


def test_a_started_run_kernel_gets_the_run_browser_in_its_environment(tmp_path, monkeypatch):
    """``start(env=...)``: the run passes its Chromium (MMR_PDF_BROWSER) to the kernel, so the provider sheets of
    notebook 05 print in the run's browser; the rest of the environment is the run's own."""
    monkeypatch.setenv("MMR_KERNEL_TEST_OWN", "eigen")
    nb = _nb(tmp_path / "e.ipynb", "import os\nprint(os.environ.get('MMR_PDF_BROWSER'), os.environ.get('MMR_KERNEL_TEST_OWN'))")
    kernel = RunKernel()
    kernel.start(str(tmp_path), env={"MMR_PDF_BROWSER": "/tmp/profiel"})
    with kernel as km:
        pm.execute_notebook(nb, str(tmp_path / "e.out.ipynb"), engine_name=SHARED_ENGINE, km=km, progress_bar=False,
                            cwd=str(tmp_path), execution_timeout=60)
    assert _outputs(tmp_path / "e.out.ipynb")[0][0] == "/tmp/profiel eigen"


def test_a_running_notebook_is_written_at_most_every_few_seconds_and_completely_at_the_end(tmp_path, monkeypatch):
    """papermill writes the whole notebook at every cell's start and end; the shared engine writes it at the start,
    at most every SAVE_EVERY seconds while it runs, and completely at the end, also when a cell fails."""
    import papermill.engines

    from workbench import kernels

    writes = []
    real = papermill.engines.write_ipynb
    monkeypatch.setattr(papermill.engines, "write_ipynb", lambda nb, path: (writes.append(path), real(nb, path)))
    good = _nb(tmp_path / "g.ipynb", *[f"print({i})" for i in range(6)])
    bad = _nb(tmp_path / "f.ipynb", "print('voor')", "raise ValueError('kapot')", "print('na')")
    with RunKernel() as km:
        pm.execute_notebook(good, str(tmp_path / "g.out.ipynb"), engine_name=SHARED_ENGINE, km=km, progress_bar=False)
        assert len(writes) == 2  # start and end, not 2 per cell
        assert [t for t, _ in _outputs(tmp_path / "g.out.ipynb")] == [str(i) for i in range(6)]
        writes.clear()
        with pytest.raises(pm.PapermillExecutionError):
            pm.execute_notebook(bad, str(tmp_path / "f.out.ipynb"), engine_name=SHARED_ENGINE, km=km,
                                progress_bar=False)
        assert len(writes) == 2
        failed = nbformat.read(tmp_path / "f.out.ipynb", as_version=4)
        errors = [o["ename"] for c in failed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert errors == ["ValueError"] and failed.metadata.papermill["exception"]
        writes.clear()
        monkeypatch.setattr(kernels, "SAVE_EVERY", 0.0)  # every write is due: papermill's own rhythm again
        pm.execute_notebook(good, str(tmp_path / "g2.out.ipynb"), engine_name=SHARED_ENGINE, km=km,
                            progress_bar=False)
        assert len(writes) == 2 + 2 * 6
