"""The sandboxed Jupyter kernel nbgrader runs student notebooks in.

nbgrader starts kernels by kernel-spec name. :func:`install_kernelspec` writes a spec named
``gd-sandbox`` whose command is this module: ``python -m autograder.sandbox {connection_file}``.
It runs outside the sandbox, as the grader, and

- copies the notebook's folder (nbgrader's ``autograded/<student>/<assignment>``) into a fresh
  scratch folder, the only place the student's code can write;
- starts ``bwrap`` (bubblewrap): new PID, network, IPC and UTS namespaces (no network at all, not
  even loopback: the kernel talks to nbgrader over Unix sockets); read-only system, Python and
  ``course`` package; no ``source/``, ``release/``, gradebook or grader files; ``/tmp`` private;
- inside, ``_inside.py`` sets the resource limits, drops to an unprivileged user of its own and
  starts the kernel with an audit hook that reports suspicious actions on a pipe;
- kills the whole sandbox when the notebook's wall-clock limit runs out, and writes what happened
  (exit code, timed out, flags) into the job folder, which the kernel cannot reach.

The job's settings come from the JSON file named by the environment variable
``GD_SANDBOX_JOB`` (written by the grading worker before it calls nbgrader).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

KERNEL_NAME = "gd-sandbox"
JOB_ENV = "GD_SANDBOX_JOB"
INSIDE = Path(__file__).with_name("_inside.py")
SANDBOX_HOME = "/home/student"
TOOL_DIR = "/opt/gd-sandbox"
# Threads count against the process limit and each reserves address space: keep them few.
THREAD_ENV = {name: "1" for name in (
    "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")}


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces on this machine."""


def bwrap_path() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed; student code must not run unsandboxed. "
            "Install it: `apt-get install -y bubblewrap` (Debian/Ubuntu) or your system's package."
        )
    return path


def check_bwrap() -> None:
    """Raise ``SandboxUnavailable`` unless bwrap can start a process in fresh namespaces here."""
    argv = [bwrap_path(), *_namespace_args(), "--ro-bind", "/", "/", "--proc", "/proc", "true"]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise SandboxUnavailable(f"bwrap cannot create a sandbox here: {done.stderr.strip()}")


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


def _course_dir() -> Path:
    import course

    return Path(course.__file__).resolve().parent


def read_only_roots() -> list[str]:
    """What the kernel may read: the system, Python, its packages and the ``course`` package."""
    roots = ["/usr", "/etc/alternatives", sys.base_prefix, sys.prefix, str(_course_dir())]
    if sys.prefix != sys.base_prefix and Path(sys.prefix, "pyvenv.cfg").exists():
        roots.append(str(Path(sys.prefix, "pyvenv.cfg")))
    return sorted({str(Path(r).resolve()) for r in roots if Path(r).exists()})


def _etc_files() -> list[str]:
    wanted = ["ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf",
              "ssl", "fonts", "mime.types"]
    return [f"/etc/{name}" for name in wanted if Path("/etc", name).exists()]


def bwrap_argv(scratch: Path, tool_dir: Path, runtime_dir: Path, workdir_name: str,
               command: list[str], extra_read: list[str] = ()) -> list[str]:
    argv = [bwrap_path(), *_namespace_args()]
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
    argv += ["--chdir", f"{SANDBOX_HOME}/{workdir_name}", "--setenv", "HOME", SANDBOX_HOME,
             *command]
    return argv


def _kernel_env() -> dict[str, str]:
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
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


def launch(connection_file: str, kernel_args: list[str]) -> int:
    """Run one sandboxed kernel until it exits or its wall-clock limit ends; return its code."""
    job = json.loads(Path(os.environ[JOB_ENV]).read_text())
    job_dir = Path(job["job_dir"])
    workdir = Path.cwd()  # nbgrader starts the kernel in the notebook's folder
    kernel_id = f"{time.time_ns()}"
    scratch = Path(job["scratch_root"]) / kernel_id
    tool_dir = Path(job["scratch_root"]) / f"tool-{kernel_id}"
    uid, gid = job.get("uid"), job.get("gid")
    as_root = os.geteuid() == 0

    _copy_workdir(workdir, scratch / workdir.name, job["max_copy_bytes"])
    tool_dir.mkdir(parents=True)
    shutil.copyfile(INSIDE, tool_dir / "inside.py")
    runtime_dir = Path(job["runtime_dir"]).resolve()
    if Path(connection_file).resolve().parent != runtime_dir:  # it is shared with the sandbox
        raise SystemExit(f"the connection file {connection_file} must lie in {runtime_dir}: "
                         "set c.KernelManager.connection_file there")
    read_fd, write_fd = os.pipe()
    rlimits = dict(job["rlimits"])
    if not as_root:  # the process limit counts all of this user's processes
        rlimits["RLIMIT_NPROC"] += _count_processes(os.getuid())
    inside_config = {
        "rlimits": rlimits,
        "uid": uid if as_root else None,
        "gid": gid if as_root else None,
        "event_fd": write_fd,
        "test_hashes": job["test_hashes"],
        "read_roots": read_only_roots() + _etc_files() + job["extra_read"] + [TOOL_DIR],
        "reference_dir": str(_course_dir() / "reference"),
        "home": SANDBOX_HOME,  # the scratch folder: the notebook's folder and its parent
    }
    (tool_dir / "config.json").write_text(json.dumps(inside_config))
    if as_root and uid is not None:
        _chown_tree(scratch, uid, gid)
        os.chown(runtime_dir, uid, gid)
        os.chown(connection_file, uid, gid)

    command = [sys.executable, f"{TOOL_DIR}/inside.py", f"{TOOL_DIR}/config.json", "--",
               "-f", connection_file, *kernel_args]
    argv = bwrap_argv(scratch, tool_dir, runtime_dir, workdir.name, command, job["extra_read"])

    events_path = job_dir / f"events-{kernel_id}.jsonl"
    record_path = job_dir / f"kernel-{kernel_id}.json"
    record = {"exit_code": None, "timed_out": False, "seconds": None,
              "notebook_dir": workdir.name}
    record_path.write_text(json.dumps(record))  # nbgrader may kill us before the end
    reader = threading.Thread(target=_copy_events, args=(read_fd, events_path, 1 << 20),
                              daemon=True)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # interrupts are for the kernel, not for us
    started = time.monotonic()
    process = subprocess.Popen(argv, env=_kernel_env(), pass_fds=(write_fd,))
    os.close(write_fd)
    reader.start()

    def stop(signum, frame):
        process.kill()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        code = process.wait(timeout=job["wall_s"])
    except subprocess.TimeoutExpired:
        record["timed_out"] = True
        process.kill()
        code = process.wait()
    record.update(exit_code=code, seconds=round(time.monotonic() - started, 3))
    record_path.write_text(json.dumps(record))
    reader.join(timeout=5)
    shutil.rmtree(tool_dir, ignore_errors=True)
    return code


def _copy_events(fd: int, path: Path, max_bytes: int) -> None:
    written = 0
    with os.fdopen(fd, "rb") as pipe, open(path, "wb") as out:
        for line in pipe:
            if written + len(line) <= max_bytes:
                out.write(line)
                out.flush()
                written += len(line)


def _count_processes(uid: int) -> int:
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                count += entry.stat().st_uid == uid
            except OSError:
                pass
    return count


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or JOB_ENV not in os.environ:
        print(f"usage: {JOB_ENV}=job.json python -m autograder.sandbox CONNECTION_FILE [ARGS]\n"
              "(nbgrader starts this through the gd-sandbox kernel spec)", file=sys.stderr)
        return 2
    return launch(argv[0], argv[1:])


if __name__ == "__main__":
    sys.exit(main())
