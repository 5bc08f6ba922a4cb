"""The sandboxed Jupyter kernel nbgrader runs student notebooks in.

nbgrader starts kernels by kernel-spec name. :func:`install_kernelspec` writes a spec named
``gd-sandbox`` whose command is this module: ``python -m autograder.sandbox {connection_file}``.
It runs outside the sandbox, as the grader, and

- copies the notebook's folder (nbgrader's ``autograded/<student>/<assignment>``) into a fresh
  scratch folder, the only place the student's code can write;
- asks the worker's kernel server (:class:`KernelServer`, ``zygote.py``) for a kernel in it. The
  server runs in ``bwrap`` (bubblewrap): new PID, network, IPC and UTS namespaces (no network at
  all, not even loopback: the kernel talks to nbgrader over Unix sockets); read-only system,
  Python and ``course`` package; no ``source/``, ``release/``, gradebook or grader files;
  ``/tmp`` private. It forks each kernel into namespaces of its own, where ``inside.py`` sets
  the resource limits, drops every privilege and starts the kernel with an audit hook that
  reports suspicious actions on a pipe;
- kills the kernel when the notebook's wall-clock limit runs out, and writes what happened (exit
  code, timed out, the first 64 KiB of the kernel's stderr) into the job's folder, which the
  kernel cannot reach.

The job comes from the JSON file named by the environment variable ``GD_SANDBOX_JOB`` (written by
the grading worker before it calls nbgrader): the :class:`autograder.jobs.Job`, where this
worker keeps its kernels' connection files, and where its kernel server listens.
"""

import functools
import importlib.util
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from autograder.jobs import GradingError, Job, Limits
from autograder.paths import COURSE_PACKAGE, REPO

KERNEL_NAME = "gd-sandbox"
JOB_ENV = "GD_SANDBOX_JOB"
SERVER_FILES = [Path(__file__).with_name(name) for name in ("zygote.py", "inside.py")]
SANDBOX_HOME = "/home/student"
TOOL_DIR = "/opt/gd-sandbox"
STDERR_BYTES = 64 << 10  # of each kernel's stderr, kept for the row's reason
MAX_COPY_BYTES = 50 << 20  # of the notebook's folder, copied into the scratch folder
# Threads count against the process limit and each reserves address space: keep them few.
THREAD_ENV = {name: "1" for name in (
    "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")}
NAMESPACE_FIX = (
    "let unprivileged users create user namespaces (`sysctl -w kernel.unprivileged_userns_clone=1`"
    "; on Ubuntu 23.10 and later also `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`)"
    ", or run the grader as root; in a container, give it CAP_SYS_ADMIN or --privileged")


class SandboxUnavailable(GradingError):
    """bubblewrap is missing, or cannot build the sandbox on this machine."""


def bwrap_path() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed; student code must not run unsandboxed. "
            "Install it: `apt-get install -y bubblewrap` (Debian/Ubuntu) or your system's package."
        )
    return path


def _first_lines(text: str, n: int = 3) -> str:
    return " / ".join(line.strip() for line in text.strip().splitlines()[:n] if line.strip())


def check_sandbox(extra_read: list[str] = ()) -> None:
    """Raise ``SandboxUnavailable``, in one line that says how to fix it, unless this machine can
    start a kernel in the sandbox: bwrap can create its namespaces, and Python, ipykernel and the
    ``course`` package load inside it with the kernels' mounts."""
    argv = [bwrap_path(), *_namespace_args(), "--ro-bind", "/", "/", "--proc", "/proc", "true"]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise SandboxUnavailable("bubblewrap cannot create the sandbox's namespaces on this "
                                 f"machine ({_first_lines(done.stderr, 1)}): {NAMESPACE_FIX}")
    with tempfile.TemporaryDirectory(prefix="gd-sandbox-check-") as tmp:
        scratch, tools = Path(tmp, "home"), Path(tmp, "tools")
        (scratch / "work").mkdir(parents=True)
        tools.mkdir()
        probe = [kernel_python(), "-c", "import ipykernel.kernelapp, course.checks"]
        argv = bwrap_argv(scratch, tools, tools, "work", probe, list(extra_read))
        done = subprocess.run(argv, env=_kernel_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise SandboxUnavailable(
            f"a kernel cannot start in the sandbox ({_first_lines(done.stderr)}): the sandbox "
            f"mounts {', '.join(read_only_roots())} read-only; the kernel runs {kernel_python()} "
            f"and imports course from {COURSE_PACKAGE}")


def kernel_python() -> str:
    """The interpreter the kernel runs: this one, with the folder it sits in resolved, so that a
    virtual environment reached through a link is found inside the sandbox (where only the
    link's target is mounted) and is still a virtual environment (found beside the unresolved
    interpreter name)."""
    executable = Path(sys.executable)
    return str(executable.parent.resolve() / executable.name)


def first_sandbox_uid() -> int:
    """The first of 64 user ids this process gives its sandboxes (one per worker slot): a range
    of its own per grading process, so the process limits of concurrent sandboxes never add up.
    No account is needed: the kernel only runs as that number."""
    return 200_000 + (os.getpid() % 100_000) * 64


def launcher_env(env) -> dict[str, str]:
    """``env`` with this repository first on PYTHONPATH: the grading worker and the kernel
    launcher import this package from it."""
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(REPO)]
    return {**env, "PYTHONPATH": os.pathsep.join([str(REPO), *paths])}


def install_kernelspec(jupyter_dir: Path) -> Path:
    """Write the ``gd-sandbox`` kernel spec into ``jupyter_dir/kernels`` (a JUPYTER_PATH entry)."""
    spec_dir = Path(jupyter_dir) / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "autograder.sandbox", "{connection_file}"],
        "display_name": "Python 3 (grading sandbox)",
        "language": "python",
        "interrupt_mode": "signal",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return spec_dir


def _namespace_args() -> list[str]:
    args = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent"]
    if os.geteuid() != 0:
        args.insert(0, "--unshare-user")  # unprivileged: a user namespace gives the mounts
    return args


def read_only_roots() -> list[str]:
    """What the kernel may read: the system, Python, its packages and the ``course`` package."""
    roots = ["/usr", "/etc/alternatives", sys.base_prefix, sys.prefix, str(COURSE_PACKAGE)]
    if sys.prefix != sys.base_prefix and Path(sys.prefix, "pyvenv.cfg").exists():
        roots.append(str(Path(sys.prefix, "pyvenv.cfg")))
    return sorted({str(Path(r).resolve()) for r in roots if Path(r).exists()})


def _etc_files() -> list[str]:
    wanted = ["ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf",
              "ssl", "fonts", "mime.types"]
    return [f"/etc/{name}" for name in wanted if Path("/etc", name).exists()]


def bwrap_argv(scratch: Path, tool_dir: Path, runtime_dir: Path, workdir_name: str,
               command: list[str], extra_read: list[str] = (), options: list[str] = ()
               ) -> list[str]:
    argv = [bwrap_path(), *_namespace_args(), *options]
    for top in ("bin", "lib", "lib64", "sbin"):
        if Path("/", top).is_symlink():
            argv += ["--symlink", os.readlink(f"/{top}"), f"/{top}"]
    mounts = [("--proc", "/proc", "/proc"), ("--dev", "/dev", "/dev"),
              ("--tmpfs", "/tmp", "/tmp")]
    mounts += [("--ro-bind", root, root)
               for root in read_only_roots() + _etc_files() + list(extra_read)]
    mounts += [("--bind", str(scratch), SANDBOX_HOME), ("--ro-bind", str(tool_dir), TOOL_DIR),
               ("--bind", str(runtime_dir), str(runtime_dir))]
    made = {"/", "/usr", "/etc", "/tmp", "/proc", "/dev"}
    for kind, source, target in mounts:
        # bwrap makes missing parent folders private (0700): the sandbox user must traverse them
        for parent in reversed(Path(target).parents):
            if str(parent) not in made:
                argv += ["--perms", "0755", "--dir", str(parent)]
                made.add(str(parent))
        if kind == "--tmpfs":
            argv += ["--perms", "1777", kind, target]
        elif kind in {"--proc", "--dev"}:
            argv += [kind, target]
        else:
            argv += [kind, source, target]
    for hidden in _hidden_packages():  # an empty, read-only folder in its place
        argv += ["--tmpfs", hidden, "--remount-ro", hidden]
    argv += ["--chdir", f"{SANDBOX_HOME}/{workdir_name}", "--setenv", "HOME", SANDBOX_HOME,
             *command]
    return argv


@functools.cache
def _hidden_packages() -> list[str]:
    """Installed packages a grading kernel does without: debugpy, which ipykernel loads (a
    fifth of a kernel's start) only to offer a debugger, and uses only if it imports."""
    spec = importlib.util.find_spec("debugpy")
    return [str(Path(p).resolve()) for p in (spec.submodule_search_locations or [])] if spec \
        else []


def _kernel_env() -> dict[str, str]:
    env = {
        "PATH": f"{Path(kernel_python()).parent}:/usr/local/bin:/usr/bin:/bin",
        "PYTHONPATH": str(REPO),  # `import course` finds the mounted package, whatever else
        "LANG": "C.UTF-8",        # the environment's own install says
        "HOME": SANDBOX_HOME,
        "MPLBACKEND": "agg",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "IPYTHONDIR": "/tmp/ipython",
        "JUPYTER_RUNTIME_DIR": "/tmp/jupyter-runtime",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MALLOC_ARENA_MAX": "2",
        **THREAD_ENV,
    }
    if "VIRTUAL_ENV" in os.environ:
        env["VIRTUAL_ENV"] = os.environ["VIRTUAL_ENV"]
    return env


def _copy_workdir(src: Path, dst: Path, max_bytes: int) -> None:
    """Copy the notebook's folder: regular files only (no links that could lead outside), and
    no notebooks (once graded, a notebook holds the hidden tests)."""
    total = 0
    dst.mkdir(parents=True)
    for path in sorted(src.rglob("*")):
        if path.is_symlink() or not (path.is_file() or path.is_dir()) or path.suffix == ".ipynb":
            continue
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(exist_ok=True)
            continue
        total += path.stat().st_size
        if total > max_bytes:
            break
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


def write_job(path: Path, job: Job, runtime_dir: Path, uid: int | None,
              server: "KernelServer") -> Path:
    """Write the settings the kernels of ``job`` are started with (the worker calls this)."""
    Path(path).write_text(json.dumps({"job": job.to_json(), "runtime_dir": str(runtime_dir),
                                      "uid": uid, "server": str(server.socket_path),
                                      "scratch": str(server.scratch)}))
    return Path(path)


class KernelServer:
    """A grading worker's kernel server (``zygote.py``): one sandbox that forks every kernel of
    this worker, with what the kernels import already imported. It lives as long as the worker
    (``bwrap --die-with-parent``) or until :meth:`stop`; ``extra_read`` is mounted for all its
    kernels. Its socket is made in ``socket_dir``, which must be short (a socket's path holds
    107 bytes) and is removed by :meth:`stop`."""

    def __init__(self, folder: Path, runtime_dir: Path, socket_dir: Path,
                 extra_read: list[str] = ()):
        self.folder, self.runtime_dir = Path(folder), Path(runtime_dir).resolve()
        self.extra_read = list(extra_read)
        self.scratch, self.tools = self.folder / "scratch", self.folder / "tools"
        self.socket_path = Path(socket_dir) / "socket"
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 120.0) -> None:
        """Start the server and wait until it has preloaded; raise ``SandboxUnavailable`` with
        the first lines of what it said when it cannot."""
        shutil.rmtree(self.folder, ignore_errors=True)
        self.scratch.mkdir(parents=True)
        self.tools.mkdir()
        for source in SERVER_FILES:
            shutil.copyfile(source, self.tools / source.name)
        self.socket_path.parent.mkdir(mode=0o700, exist_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.socket_path.unlink(missing_ok=True)
        listener.bind(str(self.socket_path))
        listener.listen(8)
        # unprivileged, the server needs the capabilities of its user namespace to build each
        # kernel's namespaces; every kernel drops them before it runs anything of the student's
        options = ["--cap-add", "ALL"] if os.geteuid() != 0 else []
        command = [kernel_python(), f"{TOOL_DIR}/zygote.py", str(listener.fileno())]
        argv = bwrap_argv(self.scratch, self.tools, self.runtime_dir, "", command,
                          self.extra_read, options)
        stderr_path = self.folder / "server.stderr"
        with listener, open(stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(argv, env=_kernel_env(), pass_fds=(listener.fileno(),),
                                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                            stderr=stderr)
        ready, _, _ = select.select([self.process.stdout], [], [], timeout_s)
        line = self.process.stdout.readline() if ready else b""
        if b'"ready"' not in line:
            self.stop()
            said = _first_lines(stderr_path.read_text(errors="replace")) or (
                f"it said nothing in {timeout_s:g} s" if not ready else "it stopped")
            raise SandboxUnavailable(said)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.process is not None:
            self.process.stdout.close()
        shutil.rmtree(self.socket_path.parent, ignore_errors=True)


class Stopped(BaseException):
    """The launcher was told to stop (SIGTERM) while its kernel ran; the kernel is killed. Not
    an ``Exception``, as ``KeyboardInterrupt`` is not: no error handler records it as a failure."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum


class Orphaned(RuntimeError):
    """The grading worker that started this launcher died before the launcher could follow it."""


class Kernel:
    """One sandboxed kernel of a job: its folder, its record and its request to the server."""

    def __init__(self, settings: dict, connection_file: str, workdir: Path):
        self.job = Job.from_json(settings["job"])
        self.uid = settings["uid"] if os.geteuid() == 0 else None
        self.runtime_dir = Path(settings["runtime_dir"]).resolve()
        self.server = settings["server"]
        self.connection_file, self.workdir = connection_file, workdir
        self.id = f"{time.time_ns()}"
        work = Path(self.job.work_dir)
        self.scratch = Path(settings["scratch"]) / self.id
        self.record_path = work / f"kernel-{self.id}.json"
        self.events_path = work / f"events-{self.id}.jsonl"
        self.stderr_path = work / f"kernel-{self.id}.stderr"
        self.record = {"kernel_id": self.id, "exit_code": None, "timed_out": False,
                       "seconds": None, "notebook_dir": workdir.name, "error": None}

    def save(self, **changes) -> None:
        self.record.update(changes)
        self.record_path.write_text(json.dumps(self.record))

    def prepare(self, kernel_args: list[str]) -> dict:
        """Make the scratch folder; return the request for the kernel server."""
        if Path(self.connection_file).resolve().parent != self.runtime_dir:  # the sandbox sees
            raise GradingError(f"the connection file {self.connection_file} must lie in "  # it
                               f"{self.runtime_dir}: set c.KernelManager.connection_file there")
        _copy_workdir(self.workdir, self.scratch / self.workdir.name, MAX_COPY_BYTES)
        limits: Limits = self.job.limits
        rlimits = limits.rlimits()
        if self.uid is None:  # the kernel's processes share the limit with others of its user
            rlimits["RLIMIT_NPROC"] += _processes_beside_the_kernel()
        config = {
            "rlimits": rlimits, "uid": self.uid, "gid": self.uid,
            "test_hashes": self.job.test_hashes,
            "read_roots": read_only_roots() + _etc_files() + list(self.job.extra_read)
            + [TOOL_DIR],
            "reference_dir": str(COURSE_PACKAGE / "reference"),
            "home": SANDBOX_HOME,  # the scratch folder: the notebook's folder and its parent
        }
        if self.uid is not None:
            _chown_tree(self.scratch, self.uid, self.uid)
            os.chown(self.runtime_dir, self.uid, self.uid)
            os.chown(self.connection_file, self.uid, self.uid)
        return {"kernel_id": self.id, "workdir": self.workdir.name, "config": config,
                "kernel_args": ["-f", self.connection_file, *kernel_args]}

    def run(self, kernel_args: list[str]) -> int:
        """Run the kernel until it exits or its wall-clock limit ends; return its exit code."""
        self.save()  # nbgrader may kill us before the end
        request = json.dumps(self.prepare(kernel_args)).encode()
        events_read, events_write = os.pipe()
        stderr_read, stderr_write = os.pipe()
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            connection.connect(self.server)
        except OSError as err:
            raise GradingError(f"this worker's kernel server is gone ({err})") from None
        started = time.monotonic()
        socket.send_fds(connection, [request], [events_write, stderr_write])
        os.close(events_write)
        os.close(stderr_write)
        copiers = [threading.Thread(target=_copy_capped, daemon=True, args=args) for args in (
            (events_read, self.events_path, 1 << 20),
            (stderr_read, self.stderr_path, STDERR_BYTES, sys.stderr.buffer))]
        for copier in copiers:
            copier.start()

        def interrupt(signum, frame):  # jupyter_client signals our process group, and the
            connection.send(b"int")    # kernel is not in it

        def stop(signum, frame):
            connection.close()  # the server kills the kernel when its launcher goes
            raise Stopped(signum)

        signal.signal(signal.SIGINT, interrupt)
        signal.signal(signal.SIGTERM, stop)
        with connection:
            connection.settimeout(self.job.limits.wall_s)
            try:
                reply = connection.recv(1 << 16)
            except TimeoutError:
                self.record["timed_out"] = True
                connection.settimeout(None)
                connection.send(b"kill")
                reply = connection.recv(1 << 16)
        for copier in copiers:
            copier.join(timeout=5)
        answer = json.loads(reply or b'{"error": "it stopped while the kernel ran"}')
        shutil.rmtree(self.scratch, ignore_errors=True)
        if "error" in answer:
            raise GradingError(f"this worker's kernel server: {answer['error']}")
        self.save(exit_code=answer["exit_code"], seconds=round(time.monotonic() - started, 3))
        return answer["exit_code"]


def _copy_capped(source, path: Path, max_bytes: int, echo=None) -> None:
    """Copy lines from a pipe (a file descriptor or a file) into ``path``, the first
    ``max_bytes`` of them, and also into ``echo`` when given; read the pipe to its end."""
    written = 0
    pipe = os.fdopen(source, "rb") if isinstance(source, int) else source
    with pipe, open(path, "wb") as out:
        for line in pipe:
            if written + len(line) <= max_bytes:
                out.write(line)
                out.flush()
                if echo is not None:
                    echo.write(line)
                    echo.flush()
                written += len(line)


def _processes_beside_the_kernel() -> int:
    """What else counts against an unprivileged kernel's process limit. Since Linux 5.14 the
    limit counts the processes of the user in the kernel's own user namespace: the server's
    sandbox, where the server and the kernel's supervisor run beside it. Before, it counted all
    of the user's processes on the machine."""
    release = tuple(int(n) for n in re.findall(r"\d+", os.uname().release)[:2])
    return 2 if release >= (5, 14) else _count_processes(os.getuid())


def _count_processes(uid: int) -> int:
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                count += entry.stat().st_uid == uid
            except OSError:
                pass
    return count


def die_with_parent() -> None:
    """Make this process die when the one that started it does.

    jupyter_client starts every kernel in a session of its own, so killing a grading worker's
    session (what the pool does to a worker past its deadline) would leave its kernels running,
    and the worker that replaces it would wipe and reuse the folders under them: the launcher
    then found its working folder gone, a kernel its connection file's folder, and a late kernel
    could bind the sockets of the next student's. With the parent-death signal the launcher
    goes at once, and bwrap's ``--die-with-parent`` takes the sandbox with it.
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(1, int(signal.SIGKILL), 0, 0, 0) != 0:  # PR_SET_PDEATHSIG
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    parent = os.environ.get("JPY_PARENT_PID")  # jupyter_client's pid, set for its kernels
    if parent and os.getppid() != int(parent):  # it died before the signal was armed
        raise Orphaned("the grading worker that started this kernel is gone")


def launch(connection_file: str, kernel_args: list[str]) -> int:
    """Start one sandboxed kernel for the job named by ``GD_SANDBOX_JOB``; return its exit code.
    A failure before the kernel starts is recorded, so the row can say why."""
    die_with_parent()
    settings = json.loads(Path(os.environ[JOB_ENV]).read_text())
    kernel = Kernel(settings, connection_file, Path.cwd())  # nbgrader starts us in the
    try:                                                    # notebook's folder
        return kernel.run(kernel_args)
    except Exception as err:
        kernel.save(error=f"{type(err).__name__}: {err}")
        raise


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or JOB_ENV not in os.environ:
        print(f"usage: {JOB_ENV}=job.json python -m autograder.sandbox CONNECTION_FILE [ARGS]\n"
              "(nbgrader starts this through the gd-sandbox kernel spec)", file=sys.stderr)
        return 2
    try:
        return launch(argv[0], argv[1:])
    except Stopped as stopped:  # the kernel is killed; exit as a process the signal ended
        return 128 + stopped.signum
    except Orphaned as err:
        print(err, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
