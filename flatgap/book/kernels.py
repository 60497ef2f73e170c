"""Kernels the book's own tools start: over IPC (Unix sockets), not TCP.

ipykernel 7.3 and newer log "Kernel is running over TCP without encryption ..." at every start of a kernel whose
connection is TCP without CurveZMQ keys (jupyter_client's default). The book's tools start a kernel per notebook on
the machine that runs them, so the fix of the cause is the transport ipykernel itself recommends for that case:
IPC, whose sockets are files readable by this user only. The socket files get an absolute path in Jupyter's runtime
folder (the default, ``kernel-ipc``, is relative, and kernel and client resolve it against different working folders)
and jupyter_client removes them when the kernel shuts down. Windows has no IPC transport: there the kernel stays on TCP.

Used by ``tools/build_book.py`` (the book's execution) and ``.ci/run_notebooks.py``; pass it to nbclient as
``NotebookClient(..., kernel_manager_class=kernel_manager_class())``.

``kernel_manager_class(niceness=19)`` starts kernels at the lowest scheduling priority, so that they take only the
CPU that other work leaves idle (the build runs its light notebooks so, beside an experiment chapter). A kernel
starts a session of its own, and where Linux groups each session's processes for the scheduler (autogroups,
``/proc/sys/kernel/sched_autogroup_enabled``), a process's own nice value only ranks it inside its group: the
group's niceness is set as well (``/proc/<pid>/autogroup``).
"""

from __future__ import annotations

import os
import uuid


def lower_priority(pid: int, niceness: int) -> None:
    """Give process ``pid`` (and, where the scheduler groups sessions, its session's group) the niceness ``niceness``.

    Raises:
        ValueError: niceness outside 0-19 (only lowering a priority needs no privilege).
    """
    if isinstance(niceness, bool) or not isinstance(niceness, int) or not 0 <= niceness <= 19:
        raise ValueError(f"niceness must be a whole number from 0 to 19, got {niceness!r}")
    os.setpriority(os.PRIO_PROCESS, pid, niceness)
    try:
        with open(f"/proc/{pid}/autogroup", "w") as group:
            group.write(str(niceness))
    except OSError:  # no autogroups here (not Linux, or turned off): the process's own niceness is all there is
        pass


def kernel_manager_class(niceness: int = 0):
    """jupyter_client's ``AsyncKernelManager``, on IPC where the platform has it (imported on demand); its kernels
    start at ``niceness`` (0: normal priority; 19: the lowest) where the platform has scheduling priorities."""
    from jupyter_client.manager import AsyncKernelManager

    if os.name == "nt":
        return AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        async def _async_post_start_kernel(self, **kw):
            await super()._async_post_start_kernel(**kw)
            pid = getattr(self.provisioner, "pid", None)
            if niceness and pid:
                lower_priority(pid, niceness)

        def __init__(self, **kwargs):
            from jupyter_core.paths import jupyter_runtime_dir

            runtime = jupyter_runtime_dir()
            os.makedirs(runtime, mode=0o700, exist_ok=True)
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("ip", os.path.join(runtime, f"kernel-{uuid.uuid4().hex[:12]}-ipc"))
            super().__init__(**kwargs)

    return IPCKernelManager
