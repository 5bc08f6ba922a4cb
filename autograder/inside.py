"""What runs in each kernel's process before the student's code: limits, no privileges, a watch.

This file is copied into the sandbox beside ``zygote.py``, which imports it, so it imports
nothing from the repository but the ``course`` package, which the sandbox mounts. In a kernel
the server has just forked, :func:`start_kernel` does, in order:

1. set the resource limits (memory, processes, file size, no core dumps);
2. forbid gaining privileges, become the sandbox's own user when the grader is root, and drop
   every capability;
3. install an audit hook (``sys.addaudithook``, which no later code can remove) that reports, as
   JSON lines on an inherited pipe, what the student's code does that a grader must know about:
   importing ``course.reference``, patching ``numpy``/``numpy.testing``/``course.checks``/
   builtins, defining ``__eq__`` and friends, touching files outside its folder;
4. start the IPython kernel in this same process, so the hook stays.

"Student code" is every cell that is not one of the assignment's test cells (recognised by the
SHA-256 of their source, which the grader passes in) and any code it compiles or calls into.
The same static checks (:func:`scan_source`) also run on the submitted notebook outside the
sandbox, so a flag does not depend on the kernel surviving.
"""

import ast
import functools
import hashlib
import json
import os
import sys

REFERENCE = "course.reference"
# Names the test cells rely on besides those course.checks exports; a student cell must not
# rebind any of them (see harness_names).
HARNESS_EXTRA = frozenset({
    "np", "numpy", "torch", "AssertionError",
    "run_showdown", "trusted_race",  # chapter 8: its test cells race the student's MyAdam again
})
PATCHED_MODULES = ("np", "numpy", "checks", "course", "builtins", "__builtins__", "testing")
EQUALITY_DUNDERS = frozenset({
    "__eq__", "__ne__", "__bool__", "__array__", "__array_ufunc__", "__array_function__",
})
FILE_CALLS = frozenset({
    "open", "listdir", "scandir", "remove", "unlink", "rename", "replace", "rmdir", "rmtree",
    "chmod", "chown", "symlink", "link", "truncate", "walk", "glob", "copy", "copyfile",
    "read_text", "read_bytes", "write_text", "write_bytes", "Path", "chdir", "mkdir", "utime",
})


def cell_hash(source: str) -> str:
    """The identity of a cell's source, blind to surrounding blank space."""
    return hashlib.sha256(source.strip().encode()).hexdigest()


@functools.cache
def harness_names() -> frozenset[str]:
    """Global names the test cells rely on: what ``course.checks`` exports, and numpy's."""
    import course.checks  # the package the sandbox mounts; this file imports nothing else of ours

    return frozenset(course.checks.__all__) | HARNESS_EXTRA


def _dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif isinstance(node, ast.Subscript):
        parts.append(_dotted(node.value) + "[]")
    return ".".join(reversed(parts))


def _outside(path: str) -> bool:
    return path.startswith(("/", "~")) or ".." in path.replace("\\", "/").split("/")


def _defines_equality(body) -> bool:
    """Whether the namespace of ``type(name, bases, {...})`` defines an equality method."""
    return isinstance(body, ast.Dict) and any(
        isinstance(k, ast.Constant) and k.value in EQUALITY_DUNDERS for k in body.keys)


def _is_reference(module: str) -> bool:
    return module == REFERENCE or module.startswith(REFERENCE + ".")


class _Scanner(ast.NodeVisitor):
    """Collects the static flags of one piece of code, one ``visit_*`` per kind of statement."""

    def __init__(self):
        self.flags: list[tuple[str, str]] = []

    def flag(self, kind: str, detail: str) -> None:
        self.flags.append((kind, detail))

    def visit_Import(self, node):
        for alias in node.names:
            if _is_reference(alias.name):
                self.flag("reference_import", f"import {alias.name}")
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        module, names = node.module or "", {alias.name for alias in node.names}
        if module.startswith(REFERENCE) or (module == "course" and "reference" in names):
            self.flag("reference_import", f"from {module} import {', '.join(names)}")
        self.generic_visit(node)

    def visit_Call(self, node):
        func = _dotted(node.func)
        args = [a.value for a in node.args
                if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        name = func.split(".")[-1]
        if name in {"import_module", "__import__"} and any(a.startswith(REFERENCE)
                                                           for a in args):
            self.flag("reference_import", f"{func}({args[0]!r})")
        if func in {"setattr", "delattr"} and node.args:
            self._setattr(func, node, args)
        if name == "type" and len(node.args) == 3 and _defines_equality(node.args[2]):
            self.flag("custom_eq", "type(...) with an equality method")
        if name in FILE_CALLS and args and _outside(args[0]):
            self.flag("outside_file", f"{func}({args[0]!r})")
        self.generic_visit(node)

    def _setattr(self, func: str, node, args: list[str]) -> None:
        target = _dotted(node.args[0])
        if target.split(".")[0] in PATCHED_MODULES or "testing" in target:
            self.flag("monkey_patch", f"{func}({target}, ...)")
        if any(a in EQUALITY_DUNDERS for a in args):
            self.flag("custom_eq", f"{func}(..., {args[-1]!r}, ...)")

    def visit_ClassDef(self, node):
        for item in node.body:
            if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and (
                    item.name in EQUALITY_DUNDERS):
                self.flag("custom_eq", f"class {node.name} defines {item.name}")
        self.visit_FunctionDef(node)

    def visit_FunctionDef(self, node):
        if node.name in harness_names():
            self.flag("monkey_patch", f"redefines {node.name}")
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Assign(self, node):
        targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
        for target in targets:
            self._assigned(target)
        self.generic_visit(node)

    visit_AugAssign = visit_AnnAssign = visit_Delete = visit_Assign

    def _assigned(self, target) -> None:
        for sub in ast.walk(target):
            name = _dotted(sub) if isinstance(sub, ast.Attribute | ast.Subscript) else ""
            root = name.split(".")[0].removesuffix("[]")
            if name and (root in PATCHED_MODULES or ".testing" in name):
                self.flag("monkey_patch", f"assigns {name}")
                return
            if isinstance(sub, ast.Name) and sub.id in harness_names() and (
                    sub is target or isinstance(target, ast.Tuple | ast.List)):
                self.flag("monkey_patch", f"rebinds {sub.id}")


def scan_source(source: str) -> list[tuple[str, str]]:
    """Static flags for one piece of student code: ``[(kind, detail), ...]``.

    Kinds: ``reference_import``, ``monkey_patch``, ``custom_eq``, ``outside_file``.
    Code that does not parse yields nothing (it fails on its own when run).
    """
    # IPython magics and shell escapes are not Python; blank them out line by line.
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n")]
    try:
        tree = ast.parse("\n".join(lines))
    except (SyntaxError, ValueError):
        return []
    scanner = _Scanner()
    scanner.visit(tree)
    return scanner.flags


class _Watch:
    """The audit hook's state; one per kernel."""

    # Builtins that IPython and ipykernel replace on purpose.
    IPYTHON_BUILTINS = frozenset({
        "input", "raw_input", "exit", "quit", "help", "display", "get_ipython", "copyright",
        "credits", "license", "_", "__", "___", "__IPYTHON__", "open", "__builtins__",
        "__name__", "__doc__", "__package__", "__loader__", "__spec__",
    })
    PATH_EVENTS = frozenset({
        "open", "os.listdir", "os.scandir", "os.remove", "os.rename", "os.rmdir", "os.mkdir",
        "os.chmod", "os.chown", "os.symlink", "os.link", "os.truncate", "os.utime",
        "shutil.rmtree", "shutil.copyfile", "os.chdir", "glob.glob",
    })
    READ_EVENTS = frozenset({"open", "os.listdir", "os.scandir", "glob.glob", "os.chdir"})

    def __init__(self, fd: int, test_hashes: set[str], home: str, read_roots: list[str],
                 reference_dir: str):
        self.fd = fd
        self.reference_dir = os.path.join(reference_dir, "")
        self.test_hashes = test_hashes
        self.home = home
        # the process's own view of the system (its PID namespace) is nothing to report
        self.read_roots = tuple(os.path.join(r, "") for r in [*read_roots, "/proc", "/sys",
                                                               "/dev"])
        self.write_roots = (os.path.join(home, ""), "/tmp/")
        self.student_files: set[str] = set()
        self.reported: set[tuple[str, str]] = set()
        self.snapshot: dict[str, dict[str, object]] = {}
        self.busy = False

    def take_snapshot(self) -> None:
        import builtins

        import numpy
        import numpy.testing

        import course.checks

        harness_names()  # now, before any student code runs
        for name, module in [("builtins", builtins), ("numpy", numpy),
                             ("numpy.testing", numpy.testing), ("course.checks", course.checks)]:
            self.snapshot[name] = dict(vars(module))
        self.modules = {"builtins": builtins, "numpy": numpy, "numpy.testing": numpy.testing,
                        "course.checks": course.checks}

    def report(self, kind: str, detail: str) -> None:
        if (kind, detail) in self.reported or len(self.reported) >= 100:
            return
        self.reported.add((kind, detail))
        line = json.dumps({"kind": kind, "detail": detail[:300]}) + "\n"
        try:
            os.write(self.fd, line.encode())
        except OSError:
            pass  # the pipe is gone: the launcher is, so the grader sees the kernel go

    def check_patches(self) -> None:
        for name, before in self.snapshot.items():
            now = vars(self.modules[name])
            for attr, value in before.items():
                if name == "builtins" and attr in self.IPYTHON_BUILTINS:
                    continue
                if now.get(attr, value) is not value:
                    self.report("monkey_patch", f"{name}.{attr} was replaced")

    def from_student(self) -> bool:
        frame = sys._getframe(2)
        while frame is not None:
            if frame.f_code.co_filename in self.student_files:
                return True
            frame = frame.f_back
        return False

    @staticmethod
    def _full(path) -> str:
        full = os.path.normpath(os.path.join(os.getcwd(), os.fsdecode(os.fspath(path))))
        return full if full.endswith("/") else full + "/"

    def _outside(self, full: str, write: bool) -> bool:
        if full.startswith(self.write_roots) or full in {"/dev/null/", "/dev/urandom/"}:
            return False
        return write or not full.startswith(self.read_roots)

    def __call__(self, event: str, args: tuple) -> None:
        if self.busy or not (event == "compile" or event == "import"
                             or event in self.PATH_EVENTS):
            return
        self.busy = True  # our own work below must not re-enter the hook
        try:
            self.handle(event, args)
        except Exception as err:  # a hook must never break the kernel
            self.report("watch_error", f"{event}: {type(err).__name__}: {err}")
        finally:
            self.busy = False

    def handle(self, event: str, args: tuple) -> None:
        if event == "compile":
            self._on_compile(*args[:2])
        elif event == "import":
            if _is_reference(str(args[0])) and self.from_student():
                self.report("reference_import", f"imports {args[0]} at run time")
        elif self.from_student():
            self._on_file(event, args)

    def _on_compile(self, source, filename) -> None:
        if not isinstance(source, str | bytes) or not isinstance(filename, str):
            return
        if isinstance(source, bytes):
            source = source.decode(errors="replace")
        if cell_hash(source) in self.test_hashes:
            self.check_patches()  # before every test cell
            return
        is_cell = filename.startswith(("/tmp/ipykernel_", "<ipython-input"))
        if not is_cell and os.path.isabs(filename) and not os.access(filename, os.W_OK):
            # a module of a read-only mount compiled as it is imported (no .pyc there); asked of
            # the file, not its path: a checkout under /tmp is still a read-only mount here
            return
        if is_cell or self.from_student():
            self.student_files.add(filename)
            for kind, detail in scan_source(source):
                self.report(kind, detail)

    def _on_file(self, event: str, args: tuple) -> None:
        if event in self.READ_EVENTS:
            paths = args[:1]
            write = event == "open" and any(c in str(args[1]) for c in "wax+")
        else:
            paths = [a for a in args if isinstance(a, str | bytes | os.PathLike)][:2]
            write = True
        for path in paths:
            if path is None or isinstance(path, int):
                continue
            full = self._full(path)
            if full.startswith(self.reference_dir):
                self.report("reference_import", "loads course.reference at run time")
            elif self._outside(full, write):
                verb = "writes" if write else "reads"
                self.report("outside_file", f"{verb} {os.fsdecode(path)} ({event})")


def _limit(resource_name: str, value: int) -> None:
    import resource

    resource.setrlimit(getattr(resource, resource_name), (value, value))


def drop_privileges(uid: int | None, gid: int | None) -> None:
    """Forbid gaining privileges, become ``uid`` when given (the grader is root), and keep no
    capability at all: the kernel server forked this process with the ones it needed to build
    the kernel's namespaces."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in range(64):  # the bounding set, while CAP_SETPCAP is still held
        libc.prctl(24, capability, 0, 0, 0)  # PR_CAPBSET_DROP; EINVAL past the last one
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS: setuid programs stay powerless
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if uid is not None:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Sets(ctypes.Structure):
        _fields_ = [(name, ctypes.c_uint32) for name in ("effective", "permitted",
                                                          "inheritable")]

    if libc.capset(ctypes.byref(Header(0x20080522, 0)), (Sets * 2)()) != 0:  # version 3: none
        raise OSError(ctypes.get_errno(), "capset failed")
    libc.prctl(47, 4, 0, 0, 0)  # PR_CAP_AMBIENT_CLEAR_ALL
    with open("/proc/self/status") as status:
        held = {k: v.strip() for k, _, v in (ln.partition(":") for ln in status)
                if k in {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}}
    if any(int(v, 16) for v in held.values()):
        raise PermissionError(f"the kernel still holds capabilities: {held}")


def start_kernel(config: dict, kernel_args: list[str]) -> None:
    """In the kernel's process, before any student code: the limits, no privileges, the watch;
    then run the IPython kernel in this same process, so the hook stays."""
    for name, value in config["rlimits"].items():
        _limit(name, value)
    drop_privileges(config.get("uid"), config.get("gid"))
    watch = _Watch(config["event_fd"], set(config["test_hashes"]), config["home"],
                   config["read_roots"], config["reference_dir"])
    watch.take_snapshot()
    sys.addaudithook(watch)
    sys.argv = ["ipykernel_launcher", *kernel_args]
    # ipykernel sends what is written on fd 2 to the notebook once it runs; a kernel that fails
    # as it starts (out of memory, most often) says why here, on the launcher's stderr, instead
    stderr = os.dup(2)
    try:
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
    except BaseException as failure:
        if not (isinstance(failure, SystemExit) and failure.code in (0, None)):
            os.write(stderr, f"the kernel stopped: {type(failure).__name__}: {failure}\n"
                     .encode(errors="replace"))
        raise
    finally:
        watch.check_patches()  # what the cells after the last test cell patched
