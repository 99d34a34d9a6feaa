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
