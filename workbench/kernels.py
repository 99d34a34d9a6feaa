"""The kernel manager of a run: quiet in logs (cron mails, the journal) and private on the machine.

jupyter_client's defaults make every run print two lines that are not problems: ipykernel warns that the
kernel talks over TCP without encryption, and shutting the kernel down starts with an interrupt, which the
kernel logs as "KeyboardInterrupt caught in kernel". Here the kernel talks over Unix sockets in the user's
private Jupyter runtime folder (not reachable by other users, so the warning is not just silenced but
answered), and a kernel that is shut down is not interrupted first: a shutdown request stops an idle kernel,
and one that does not stop is killed, as before. The app's kernels under `workbench serve` get the same
(``AppKernelManager``, set by workbench/app/server.py).
"""
from __future__ import annotations

import os
import secrets

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir


class _Quiet:
    """Unix sockets in the private runtime folder; no interrupt before a shutdown."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        runtime = jupyter_runtime_dir()
        os.makedirs(runtime, mode=0o700, exist_ok=True)
        self.transport = "ipc"
        self.ip = os.path.join(runtime, f"mmr-{secrets.token_hex(6)}")

    async def _async_interrupt_kernel(self) -> None:
        if self.shutting_down:  # jupyter_client interrupts before every shutdown; the kernel logs it as an error
            return
        await super()._async_interrupt_kernel()


class QuietKernelManager(_Quiet, AsyncKernelManager):
    """The kernel of a papermill run (``workbench run``)."""


def __getattr__(name: str):
    # The app's kernels (`workbench serve`, --MappingKernelManager.kernel_manager_class): Jupyter Server requires
    # its own kernel manager class there. Made on first use, so a papermill run does not import the server.
    if name != "AppKernelManager":
        raise AttributeError(name)
    from jupyter_server.services.kernels.kernelmanager import ServerKernelManager

    cls = type("AppKernelManager", (_Quiet, ServerKernelManager),
               {"__module__": __name__, "__doc__": "A viewer's kernel of the Voila app, as quiet as a run's."})
    globals()[name] = cls
    return cls
