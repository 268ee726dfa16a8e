"""How a workbench process is started at each isolation level, and which level this host supports.

`bwrap` gives each process its own mount, PID, network, IPC and UTS namespaces. It sees a read-only
/usr and Python install, an empty /etc apart from a few files the loader and Python read, a fresh
size-limited /tmp, and read-write only its own session's workbench (as /workbench). The tool
socket's folder is bound read-only at /run/concierge. Nothing else of the host is visible.

When the server runs as root, RLIMIT_NPROC would not hold (the kernel exempts uid 0, also as
mapped into a user namespace), so bubblewrap runs privileged without a user namespace and the
launcher switches to a per-session uid before user code runs. As a normal user, bubblewrap runs
unprivileged in a user namespace and the limit holds per sandbox.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from server.errors import ConfigError
from server.workbench.files import Owner
from server.workbench.seccomp import build_filter
from server.workbench.settings import WorkbenchSettings

log = logging.getLogger(__name__)

RUNTIME_CODE = Path(__file__).resolve().parent / "runtime"
WORKDIR = "/workbench"
RUNTIME_MOUNT = "/opt/concierge"
CHANNEL_MOUNT = "/run/concierge"
SOCKET_NAME = "tool.sock"

_ETC_FILES = (
    "alternatives", "bash.bashrc", "fonts", "inputrc", "ld.so.cache", "ld.so.conf", "ld.so.conf.d",
    "localtime", "magic", "magic.mime", "mime.types", "nsswitch.conf",
)  # fmt: skip
_ROOT_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
_SHM_BYTES = 16 << 20
_UID_BASE = 2_000_000_000
_UID_SPAN = 100_000_000
_USERNS_UID = 1000
_PROBE_TIMEOUT = 30.0
SANDBOXES = ("bwrap", "namespaces")
"""The levels that confine code (no data folder, no network), strongest first: what "auto" tries."""


class SandboxUnavailable(ConfigError):
    """No sandbox works on this host and none was named: the workbench is turned off."""

    def __init__(self, problems: str) -> None:
        super().__init__(
            f"workbench: OFF, no sandbox can run on this host ({problems}); COMPOSIO_REMOTE_WORKBENCH and "
            "COMPOSIO_REMOTE_BASH_TOOL are not offered and large results are not saved to files. To turn it on, "
            "install bubblewrap (`apt-get install bubblewrap`) or allow user namespaces, or set "
            'workbench.isolation = "rlimit-only" to run it unconfined (trusted users only); '
            "see docs/workbench.md, 'What each host gets'"
        )


def _chown_tree(top: Path, owner: tuple[int, int]) -> None:
    os.chown(top, *owner, follow_symlinks=False)
    for _folder, dirs, names, folder_fd in os.fwalk(top, follow_symlinks=False):
        for name in (*dirs, *names):
            os.chown(name, *owner, dir_fd=folder_fd, follow_symlinks=False)


@dataclass(frozen=True)
class SessionPaths:
    """Host paths of one session: its workbench and the folder holding its tool socket."""

    workdir: Path
    channel_dir: Path
    owner: Owner

    @property
    def socket(self) -> Path:
        return self.channel_dir / SOCKET_NAME


@dataclass(frozen=True)
class Launch:
    """A command ready to spawn; `pass_fds` (the seccomp filter) are closed by `close()` once spawned."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    pass_fds: tuple[int, ...] = ()

    def close(self) -> None:
        for fd in self.pass_fds:
            os.close(fd)


class Sandbox:
    """Builds the command line that runs the launcher for one session at the effective level."""

    def __init__(self, level: str, settings: WorkbenchSettings, scratch: Path) -> None:
        self.level = level
        self.settings = settings
        self.privileged = level in SANDBOXES and os.geteuid() == 0
        self._bwrap = shutil.which("bwrap") or "bwrap"
        self._jail_root = scratch / "jail-root"
        self._seccomp: Path | None = None
        self._seccomp_hex: str | None = None
        program = build_filter() if level in SANDBOXES else None
        if program is not None and level == "bwrap":
            self._seccomp = scratch / "seccomp.bpf"
            self._seccomp.write_bytes(program)
        elif program is not None:
            self._seccomp_hex = program.hex()
            self._jail_root.mkdir(mode=0o755, exist_ok=True)
        elif level in SANDBOXES:
            log.warning("workbench: no seccomp filter for %s; nested namespaces are not blocked", platform.machine())

    @property
    def confined(self) -> bool:
        """True when code runs in its own namespaces (no data folder, no network, a PID namespace)."""
        return self.level in SANDBOXES

    @classmethod
    def choose(cls, settings: WorkbenchSettings, scratch: Path) -> Sandbox:
        """The level `settings.isolation` asks for; for "auto" the first sandbox that works here.

        ConfigError when an explicitly named sandbox cannot run; SandboxUnavailable when "auto"
        finds none (the workbench is then off rather than unconfined).
        """
        wanted = settings.isolation
        if wanted in ("off", "rlimit-only"):
            sandbox = cls(wanted, settings, scratch)
            log.warning(
                "workbench: isolation is %r (set in the configuration): workbench code runs as the server's user "
                "and can read the server's data folder (database, secret.key) and reach the network; use it only "
                "where every session is trusted (docs/workbench.md, 'What each host gets')",
                wanted,
            )
            if wanted == "rlimit-only" and os.geteuid() == 0:
                log.warning("workbench: rlimit-only as root: the process-count limit cannot hold for uid 0")
        else:
            problems = []
            for level in SANDBOXES if wanted == "auto" else (wanted,):
                candidate = cls(level, settings, scratch)
                problem = candidate.probe(scratch)
                if problem is None:
                    sandbox = candidate
                    break
                if wanted != "auto":
                    raise ConfigError(f"workbench isolation is {level!r} but that sandbox cannot run here: {problem}")
                problems.append(f"{level}: {problem}")
            else:
                raise SandboxUnavailable("; ".join(problems))
        log.info("workbench isolation: %s", sandbox.level)
        return sandbox

    def probe(self, scratch: Path) -> str | None:
        """Start the launcher in the sandbox once; None if it works, else why not."""
        if self.level == "bwrap" and shutil.which("bwrap") is None:
            return "the `bwrap` executable is not installed (Debian package `bubblewrap`)"
        if self.level == "namespaces" and self._seccomp_hex is None:
            return f"no seccomp filter for the {platform.machine()} architecture"
        paths = SessionPaths(scratch / "probe-work", scratch / "probe-channel", self.owner("probe"))
        self.prepare(paths)
        launch = self.launch(paths, {"mode": "probe"})
        try:
            done = subprocess.run(
                launch.argv,
                env=launch.env,
                cwd=launch.cwd,
                pass_fds=launch.pass_fds,
                capture_output=True,
                timeout=_PROBE_TIMEOUT,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
        finally:
            launch.close()
            shutil.rmtree(paths.workdir, ignore_errors=True)
            shutil.rmtree(paths.channel_dir, ignore_errors=True)
        if done.returncode != 0 or done.stdout.strip() != b"ok":
            detail = " ".join(done.stderr.decode(errors="replace").split())[-500:]
            return f"trial run exited with {done.returncode}: {detail or 'no output'}"
        return None

    def owner(self, session_id: str) -> Owner:
        """The host uid/gid a session's sandbox runs as when the server is root (stable per session)."""
        if not self.privileged:
            return None
        digest = int.from_bytes(hashlib.sha256(session_id.encode()).digest()[:8], "big")
        uid = _UID_BASE + digest % _UID_SPAN
        return uid, uid

    def prepare(self, paths: SessionPaths) -> None:
        """Create the session's folders (owned by its sandbox user) and its passwd/group files."""
        for folder in (paths.workdir, paths.channel_dir):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if paths.owner is not None:
            os.chown(paths.channel_dir, *paths.owner)
            if paths.workdir.stat().st_uid != paths.owner[0]:  # new, or last used at another level
                _chown_tree(paths.workdir, paths.owner)
        uid, gid = paths.owner or (_USERNS_UID, _USERNS_UID)
        (paths.channel_dir / "passwd").write_text(
            f"root:x:0:0::/:/bin/false\nsandbox:x:{uid}:{gid}::{WORKDIR}:/bin/bash\n"
            "nobody:x:65534:65534::/nonexistent:/bin/false\n"
        )
        (paths.channel_dir / "group").write_text(f"root:x:0:\nsandbox:x:{gid}:\nnogroup:x:65534:\n")

    def limits(self) -> dict[str, list[int]]:
        if self.level == "off":
            return {}
        s, mb = self.settings, 1 << 20
        return {
            "RLIMIT_AS": [s.memory_mb * mb] * 2,
            "RLIMIT_CPU": [s.cpu_seconds, s.cpu_seconds + 5],
            "RLIMIT_NPROC": [s.max_pids] * 2,
            "RLIMIT_FSIZE": [s.max_file_mb * mb] * 2,
            "RLIMIT_CORE": [0, 0],
            "RLIMIT_NOFILE": [1024, 1024],
        }

    def launch(self, paths: SessionPaths, spec: dict[str, object]) -> Launch:
        """The argv/env/cwd that runs `runtime/launch.py` with `spec` (mode and its arguments)."""
        inside = self.confined
        # The launcher changes directory after dropping root: a capability-less root may not enter
        # the session's folder (mode 0700, owned by the sandbox user).
        full_spec = {**spec, "limits": self.limits(), "cwd": WORKDIR if inside else str(paths.workdir)}
        if paths.owner is not None:
            full_spec["uid"], full_spec["gid"] = paths.owner
        runtime = RUNTIME_MOUNT if self.level == "bwrap" else str(RUNTIME_CODE)  # the jail starts outside
        command = [sys.executable, "-I", f"{runtime}/launch.py", json.dumps(full_spec)]
        if not inside:
            return Launch(command, self._env(paths, inside), paths.workdir)
        if self.level == "namespaces":
            full_spec["jail"] = self._jail_spec(paths)
            command[-1] = json.dumps(full_spec)
            return Launch(command, self._env(paths, inside), Path("/"))
        pass_fds: tuple[int, ...] = ()
        seccomp: list[str] = []
        if self._seccomp is not None:
            pass_fds = (os.open(self._seccomp, os.O_RDONLY | os.O_CLOEXEC),)
            seccomp = ["--seccomp", str(pass_fds[0])]
        argv = [*self._bwrap_args(paths), *seccomp, "--", *command]
        return Launch(argv, self._env(paths, inside), Path("/"), pass_fds)

    def _env(self, paths: SessionPaths, inside: bool) -> dict[str, str]:
        """A fresh environment: nothing of the server's (which may hold keys) reaches the sandbox."""
        workdir = WORKDIR if inside else str(paths.workdir)
        threads = str(min(4, os.cpu_count() or 1))
        return {
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "HOME": workdir,
            "USER": "sandbox",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "TMPDIR": "/tmp",
            "PYTHONPATH": RUNTIME_MOUNT if inside else str(RUNTIME_CODE),
            "PYTHONDONTWRITEBYTECODE": "1",
            "CONCIERGE_TOOL_SOCKET": f"{CHANNEL_MOUNT}/{SOCKET_NAME}" if inside else str(paths.socket),
            "MPLBACKEND": "Agg",
            "OPENBLAS_NUM_THREADS": threads,
            "OMP_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
        }

    def _python_dirs(self) -> list[str]:
        """The Python install and venv outside /usr, which the sandbox needs read-only."""
        candidates = {sys.base_prefix, sys.prefix, str(Path(os.path.realpath(sys.executable)).parent.parent)}
        found = []
        for path in sorted(os.path.realpath(c) for c in candidates):
            if not (path == "/usr" or path.startswith("/usr/")) and os.path.isdir(path):
                found.append(path)
        return found

    def _jail_spec(self, paths: SessionPaths) -> dict[str, object]:
        """The same layout as `_bwrap_args`, for `runtime/jail.py` to build itself."""
        symlinks, ro_binds = [], [["/usr", "/usr"]]
        for name in _ROOT_DIRS:
            host = Path("/") / name
            if host.is_symlink():
                symlinks.append([str(host), os.readlink(host)])
            elif host.is_dir():
                ro_binds.append([str(host), str(host)])
        ro_binds += [[f"/etc/{name}", f"/etc/{name}"] for name in _ETC_FILES]
        ro_binds += [[path, path] for path in self._python_dirs()]
        ro_binds += [
            [str(paths.channel_dir / "passwd"), "/etc/passwd"],
            [str(paths.channel_dir / "group"), "/etc/group"],
            [str(RUNTIME_CODE), RUNTIME_MOUNT],
            [str(paths.channel_dir), CHANNEL_MOUNT],
        ]
        return {
            "root": str(self._jail_root),
            "runtime": RUNTIME_MOUNT,
            "privileged": self.privileged,
            "inner_id": _USERNS_UID,
            "symlinks": symlinks,
            "ro_binds": ro_binds,
            "rw_binds": [[str(paths.workdir), WORKDIR]],
            "tmp_bytes": self.settings.tmp_mb << 20,
            "shm_bytes": _SHM_BYTES,
            "seccomp": self._seccomp_hex,
        }

    def _bwrap_args(self, paths: SessionPaths) -> list[str]:
        s = self.settings
        args = [self._bwrap, "--die-with-parent", "--new-session"]
        if self.privileged:
            args += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
            args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        else:
            args += ["--unshare-all", "--uid", str(_USERNS_UID), "--gid", str(_USERNS_UID)]
        args += ["--hostname", "workbench", "--ro-bind", "/usr", "/usr"]
        for name in _ROOT_DIRS:
            host = Path("/") / name
            if host.is_symlink():
                args += ["--symlink", os.readlink(host), str(host)]
            elif host.is_dir():
                args += ["--ro-bind", str(host), str(host)]
        # The private /tmp comes before the Python binds: an interpreter or venv that lives under /tmp
        # must be mounted on top of it, not hidden by it.
        args += ["--perms", "1777", "--size", str(s.tmp_mb << 20), "--tmpfs", "/tmp"]
        python_dirs = self._python_dirs()
        # bwrap creates missing parents as 0700, which the unprivileged sandbox user could not enter.
        parents = {str(p) for d in (*python_dirs, "/etc/passwd", RUNTIME_MOUNT, CHANNEL_MOUNT) for p in Path(d).parents}
        for parent in sorted(parents - {"/"}):
            args += ["--perms", "0755", "--dir", parent]
        for name in _ETC_FILES:
            args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        for path in python_dirs:
            args += ["--ro-bind", path, path]
        args += [
            "--ro-bind", str(paths.channel_dir / "passwd"), "/etc/passwd",
            "--ro-bind", str(paths.channel_dir / "group"), "/etc/group",
            "--proc", "/proc",
            "--dev", "/dev",
            "--perms", "1777", "--size", str(_SHM_BYTES), "--tmpfs", "/dev/shm",
            "--ro-bind", str(RUNTIME_CODE), RUNTIME_MOUNT,
            "--ro-bind", str(paths.channel_dir), CHANNEL_MOUNT,
            "--bind", str(paths.workdir), WORKDIR,
            "--remount-ro", "/dev",
            "--remount-ro", "/",
        ]  # fmt: skip
        return args
