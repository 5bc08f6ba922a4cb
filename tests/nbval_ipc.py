"""A pytest plugin for the lecture runs of ``tests/test_notebooks.py``: nbval's kernels talk over
Unix sockets (``coursetools.kernels``), not TCP ports that another test's kernel may take first.

nbval makes its ``KernelManager`` without any configuration and has no option for the
transport, so this plugin gives its module a manager class that defaults to IPC.
"""

import nbval.kernel
from jupyter_client.manager import KernelManager

from coursetools.kernels import ipc_settings


class IPCKernelManager(KernelManager):
    def __init__(self, **kwargs):
        super().__init__(**{**ipc_settings(), **kwargs})


nbval.kernel.KernelManager = IPCKernelManager
