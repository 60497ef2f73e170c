"""Kernels the book's own tools start: over IPC (Unix sockets), not TCP.

ipykernel 7.3 and newer log "Kernel is running over TCP without encryption ..." at every start of a kernel whose
connection is TCP without CurveZMQ keys (jupyter_client's default). The book's tools start a kernel per notebook on
the machine that runs them, so the fix of the cause is the transport ipykernel itself recommends for that case:
IPC, whose sockets are files readable by this user only. The socket files get an absolute path in Jupyter's runtime
folder (the default, ``kernel-ipc``, is relative, and kernel and client resolve it against different working folders)
and jupyter_client removes them when the kernel shuts down. Windows has no IPC transport: there the kernel stays on TCP.

Used by ``tools/build_book.py`` (the book's execution) and ``.ci/run_notebooks.py``; pass it to nbclient as
``NotebookClient(..., kernel_manager_class=kernel_manager_class())``.
"""

from __future__ import annotations

import os
import uuid


def kernel_manager_class():
    """jupyter_client's ``AsyncKernelManager``, on IPC where the platform has it (imported on demand)."""
    from jupyter_client.manager import AsyncKernelManager

    if os.name == "nt":
        return AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            from jupyter_core.paths import jupyter_runtime_dir

            runtime = jupyter_runtime_dir()
            os.makedirs(runtime, mode=0o700, exist_ok=True)
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("ip", os.path.join(runtime, f"kernel-{uuid.uuid4().hex[:12]}-ipc"))
            super().__init__(**kwargs)

    return IPCKernelManager
