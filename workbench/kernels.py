"""The kernel manager of a run: quiet in logs (cron mails, the journal) and private on the machine.

jupyter_client's defaults make every run print two lines that are not problems: ipykernel warns that the
kernel talks over TCP without encryption, and shutting the kernel down starts with an interrupt, which the
kernel logs as "KeyboardInterrupt caught in kernel". Here the kernel talks over Unix sockets in the user's
private Jupyter runtime folder (not reachable by other users, so the warning is not just silenced but
answered), and a kernel that is shut down is not interrupted first: a shutdown request stops an idle kernel,
and one that does not stop is killed, as before.
"""
from __future__ import annotations

import os
import secrets

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir


class QuietKernelManager(AsyncKernelManager):
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
