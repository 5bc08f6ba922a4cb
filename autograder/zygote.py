"""The kernel server: one per grading worker, in a sandbox of its own, forking every kernel.

A kernel of chapters 4 to 8 spent about 2.4 of its 4 seconds importing torch (and the compiler
stack that the first optimizer's ``add_param_group`` imports), and every kernel spent half a
second on Python, IPython and ipykernel. This server imports them once, then forks each
student's kernel from itself: a kernel starts in a tenth of a second with all of it loaded.

It runs inside the worker's sandbox (:class:`autograder.sandbox.KernelServer` starts it with the
same bwrap mounts a kernel had) and, like ``inside.py`` beside it, imports nothing from the
repository but the ``course`` package. ``python zygote.py LISTEN_FD`` preloads, says ``ready``
on stdout, then accepts one launcher at a time on the inherited Unix socket. A launcher sends one
JSON request (the kernel's folder, its ``inside.py`` settings, its ipykernel arguments) and two
file descriptors (the audit hook's pipe and the kernel's stderr), then ``int`` to interrupt the
kernel; closing the connection kills it. It gets back one JSON line: the kernel's exit code.

Nothing of one student's kernel reaches the next one's. Each kernel is forked from the server,
which has never run student code, into namespaces of its own: a PID namespace (killing its first
process kills all of it; it sees no other process), mounts (its own folder over
``/home/student``, where the other kernels' folders lie, and its own ``/tmp``), IPC (no SysV
memory left behind), network (none) and host name. Then it drops every capability (and, when
the grader is root, becomes the slot's user) and forbids gaining privileges, before any student
code runs; its copy of the server's memory is its own. The random generators of ``random``,
NumPy and torch are seeded afresh in each kernel, as a new process would be.
"""

import ctypes
import gc
import json
import os
import re
import select
import signal
import socket
import sys
import time
import traceback
from pathlib import Path

import inside  # beside this file, in the sandbox's tool folder

PRELOAD = ("numpy", "numpy.testing", "torch", "torch.optim", "IPython", "ipykernel.kernelapp",
           "course.checks")
HOME = "/home/student"  # in the server: every kernel's folder, one sub-folder each
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x20000, 0x4000000, 0x8000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 0x4000, 1 << 18
PR_SET_DUMPABLE = 4
REQUEST_BYTES = 1 << 20

libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, kind: str | None, flags: int,
           data: str | None = None) -> None:
    encoded = [None if s is None else s.encode() for s in (source, target, kind, data)]
    _check(libc.mount(*encoded[:3], ctypes.c_ulong(flags), encoded[3]), f"mount {target}")


def preload() -> None:
    """Import what the kernels would each import, and create one optimizer, whose first
    ``add_param_group`` imports the rest of torch that a kernel would."""
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    import torch

    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:  # a fork copies only the calling thread: the rest would be missing
        raise RuntimeError(f"the kernel server has {threads} threads after preloading; it must "
                           "have one to fork")
    gc.freeze()  # what is loaded stays out of the kernels' collections, and their pages shared


def serve(listener: socket.socket) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernels' supervisors reap themselves
    while True:
        connection, _ = listener.accept()
        fds = []
        try:
            message, fds, _, _ = socket.recv_fds(connection, REQUEST_BYTES, 2)
            if os.fork() == 0:
                listener.close()
                supervise(connection, message, fds)  # never returns
        except OSError:  # the launcher finds its connection closed with no answer
            traceback.print_exc()
        finally:
            connection.close()
            for fd in fds:
                os.close(fd)


def supervise(connection: socket.socket, message: bytes, fds: list[int]) -> None:
    """In a child of the server: start the kernel in new namespaces, pass on interrupts, kill
    it when the launcher goes, and tell the launcher its exit code."""
    try:
        reply = {"exit_code": _start(connection, json.loads(message), fds)}
    except BaseException as err:
        traceback.print_exc()
        reply = {"error": f"{type(err).__name__}: {err}"}
    try:
        connection.sendall(json.dumps(reply).encode())
    finally:
        os._exit(0)


def _start(connection: socket.socket, request: dict, fds: list[int]) -> int:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    if len(fds) != 2:
        raise ValueError(f"a kernel request brings 2 file descriptors, not {len(fds)}")
    _check(libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNET
                        | CLONE_NEWUTS), "unshare")
    pid = os.fork()
    if pid == 0:
        connection.close()
        _kernel(request, *fds)  # never returns
    for fd in fds:
        os.close(fd)
    return _follow(connection, pid)


def _follow(connection: socket.socket, pid: int) -> int:
    exited = os.pidfd_open(pid)
    watched = [connection, exited]
    while True:
        ready, _, _ = select.select(watched, [], [])
        if exited in ready:
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status)
        if connection.recv(64) == b"int":
            os.kill(pid, signal.SIGINT)
        else:  # the launcher closed the connection, or said "kill"
            os.kill(pid, signal.SIGKILL)  # the first process of a PID namespace: all of it
            watched = [exited]


def _kernel(request: dict, event_fd: int, stderr_fd: int) -> None:
    """The kernel: the first process of its new PID namespace."""
    try:
        os.dup2(stderr_fd, 2)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.closerange(3, event_fd)
        os.closerange(event_fd + 1, 1 << 16)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _own_mounts(request["kernel_id"])
        os.chdir(f"{HOME}/{request['workdir']}")
        _check(libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "prctl(PR_SET_DUMPABLE)")
        _fresh_random_state()
        config = {**request["config"], "event_fd": event_fd}
        inside.start_kernel(config, request["kernel_args"])
    except SystemExit as done:
        os._exit(done.code if isinstance(done.code, int) else 0 if done.code is None else 1)
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    os._exit(0)


def _own_mounts(kernel_id: str) -> None:
    """The kernel's own view of the server's mounts: its own ``/proc``, its folder over
    ``/home/student``, a ``/tmp`` and ``/dev/shm`` of its own, and the server's root and
    ``/dev`` (folders every kernel would share) read-only."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing of this reaches the server
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _mount(f"{HOME}/{kernel_id}", HOME, None, MS_BIND | MS_REC)
    _fresh_tmpfs("/tmp")
    _fresh_tmpfs("/dev/shm")
    for shared in ("/", "/dev"):
        kept = os.statvfs(shared).f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC)  # same bits
        _mount(None, shared, None, MS_REMOUNT | MS_BIND | MS_RDONLY | kept)


def _fresh_tmpfs(target: str) -> None:
    """An empty tmpfs on ``target``, with the mounts the sandbox has under it (a checkout or a
    virtual environment under ``/tmp``, the runtime folder) mounted again in it."""
    inner = _mounts_under(target)
    held = [(path, os.open(path, os.O_PATH), os.path.isdir(path)) for path in inner]
    _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    for path, fd, is_dir in held:
        for parent in reversed(Path(path).parents):
            if str(parent).startswith(target + "/") and not parent.exists():
                parent.mkdir(mode=0o755)
        if is_dir:
            os.mkdir(path, 0o755)
        else:
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
        _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        os.close(fd)


def _mounts_under(target: str) -> list[str]:
    """The outermost mount points below ``target`` (their own sub-mounts come with them)."""
    with open("/proc/self/mountinfo") as info:  # field 5 is the mount point, octal-escaped
        points = {re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), line.split()[4])
                  for line in info}
    below = sorted(p for p in points if p.startswith(target + "/"))
    return [p for p in below if not any(p.startswith(q + "/") for q in below if q != p)]


def _fresh_random_state() -> None:
    """Seeds from the system's entropy for ``random``, NumPy and torch (whose default
    generator a new process also seeds at random)."""
    import random

    import numpy
    import torch

    random.seed()
    numpy.random.seed()
    torch.seed()


def main() -> None:
    listener = socket.socket(fileno=int(sys.argv[1]))
    started = time.monotonic()
    preload()
    _check(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(PR_SET_DUMPABLE)")
    print(json.dumps({"ready": True, "preload_s": round(time.monotonic() - started, 3)}),
          flush=True)
    serve(listener)


if __name__ == "__main__":
    main()
