"""How the course's tools and tests start Jupyter kernels: over Unix sockets, not TCP.

jupyter_client picks a free TCP port, frees it, and the kernel binds it a moment later: another
kernel can take the port in between (``ZMQError: Address already in use`` under load). Over IPC
the endpoints are files named after this process, ``/tmp/gd-kernel-<pid>-<n>``, so no other
process's kernel can want them; kernels one process starts one after another reuse the numbers,
as jupyter_client removes the files when a kernel ends. The repository's ``nbgrader_config.py``
sets the same for the kernels nbgrader starts, and the grader its own in the sandbox's folder.
"""

import os
import tempfile

from traitlets.config import Config


def ipc_settings() -> dict[str, str]:
    """``KernelManager`` settings for a kernel of this process over Unix sockets."""
    return {"transport": "ipc", "ip": os.path.join(tempfile.gettempdir(),
                                                   f"gd-kernel-{os.getpid()}")}


def ipc_config() -> Config:
    """A traitlets ``Config`` that makes kernel managers use :func:`ipc_settings`."""
    return Config({"KernelManager": ipc_settings()})
