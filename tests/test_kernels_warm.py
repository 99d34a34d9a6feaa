"""A run's kernel forked from the run process (``kernels.prefork``) behaves as a kernel started as a new interpreter."""
import json
import os
import subprocess
import sys
import time

import nbformat

SCRIPT = r"""
import json, os, sys
import pandas, matplotlib.pyplot  # as the batch's fork server imports them before any run
import papermill as pm
from workbench import kernels
from workbench.kernels import SHARED_ENGINE, RunKernel

folder, warm = sys.argv[1], sys.argv[2] == "warm"
if warm:
    kernels.prefork()
    template = kernels._TEMPLATE.pid
else:
    template = None
kernel = RunKernel()
kernel.start(folder, env={"MMR_KERNEL_TEST": "eigen"})
with kernel as km:
    for name in ("a", "b"):
        pm.execute_notebook(os.path.join(folder, name + ".ipynb"), os.path.join(folder, f"{name}.{sys.argv[2]}.ipynb"),
                            engine_name=SHARED_ENGINE, km=km, progress_bar=False, cwd=folder, execution_timeout=120)
    pid = km.provisioner.pid
print(json.dumps({"template": template, "kernel": pid, "run": os.getpid()}))
"""

FACTS = ("import os, sys, pandas, matplotlib, matplotlib.pyplot as plt, warnings\n"
         "plt.figure(); plt.plot([1, 2])\n"
         "print({'ppid_is_run': os.getppid() == int(os.environ['MMR_RUN_PID']), 'own_session': os.getsid(0) == os.getpid(),"
         " 'argv0': os.path.basename(sys.argv[0]), 'cwd': os.getcwd(), 'env': os.environ.get('MMR_KERNEL_TEST'),"
         " 'max_columns': pandas.get_option('display.max_columns'), 'backend': matplotlib.get_backend(),"
         " 'mplbackend': os.environ.get('MPLBACKEND'), 'parent_pid_set': os.environ.get('JPY_PARENT_PID') == os.environ['MMR_RUN_PID'],"
         " 'path0': sys.path[0], 'stdin': os.isatty(0), 'history': str(get_ipython().history_manager.hist_file),"
         " 'imports_frozen': __import__('gc').get_freeze_count() > 1000})")


def _nb(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)


def _run(tmp_path, mode):
    env = dict(os.environ)
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT.replace("MMR_RUN_PID", "x"), str(tmp_path), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def _outputs(path):
    nb = nbformat.read(path, as_version=4)
    return [(c.execution_count, o.get("output_type"), "".join(o.get("text", "")).strip(), sorted(o.get("data", {})))
            for c in nb.cells for o in c.outputs]


def test_forked_kernel_is_a_kernel_like_a_new_interpreter(tmp_path):
    # the run's pid reaches the notebook through the environment the kernel inherits
    facts = FACTS.replace("os.environ['MMR_RUN_PID']", "os.environ['JPY_PARENT_PID']")
    _nb(tmp_path / "a.ipynb", "x = 1", facts)
    _nb(tmp_path / "b.ipynb", "print('x' in globals())", "df = __import__('pandas').DataFrame({f'c{i}': [i] for i in range(25)})\nprint(df)")
    runs = {mode: _run(tmp_path, mode) for mode in ("warm", "cold")}
    assert runs["warm"]["template"] == runs["warm"]["kernel"]  # the kernel was the forked template
    assert runs["cold"]["template"] is None
    a_warm, a_cold = _outputs(tmp_path / "a.warm.ipynb"), _outputs(tmp_path / "a.cold.ipynb")
    assert a_warm == a_cold  # the same facts, the same figure output (inline PNG), the same numbering
    assert "'ppid_is_run': True" in a_warm[0][2] and "'own_session': True" in a_warm[0][2]
    assert "'max_columns': 20" in a_warm[0][2] and "inline" in a_warm[0][2] and "'env': 'eigen'" in a_warm[0][2]
    assert any("image/png" in o[3] for o in a_warm)
    # history in memory (no commit per cell to the user's history.sqlite), imports out of the collector's sight
    assert "'history': ':memory:'" in a_warm[0][2] and "'imports_frozen': True" in a_warm[0][2]
    b_warm, b_cold = _outputs(tmp_path / "b.warm.ipynb"), _outputs(tmp_path / "b.cold.ipynb")
    assert b_warm == b_cold and b_warm[0][2] == "False"
    assert not any("Session/line" in o[2] for o in a_warm + b_warm + a_cold + b_cold)
    for r in runs.values():  # nothing left running after the run
        deadline = time.time() + 10
        while os.path.exists(f"/proc/{r['kernel']}") and time.time() < deadline:
            time.sleep(0.1)
        assert not os.path.exists(f"/proc/{r['kernel']}")


def test_an_unused_template_goes_with_the_run(tmp_path):
    code = ("import sys\nfrom workbench import kernels\nkernels.prefork()\nprint(kernels._TEMPLATE.pid)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    pid = int(out.stdout.strip())
    deadline = time.time() + 10
    while os.path.exists(f"/proc/{pid}") and time.time() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{pid}")
