"""First code run in a sandboxed process: apply limits, drop root, then become the REPL or a shell.

Limits are set here, inside the namespaces, rather than by the server before `bwrap`: a user
namespace created afterwards would otherwise inherit them as its own ceiling, and RLIMIT_NPROC only
holds for a non-root uid, which a privileged `bwrap` can only switch to from inside.
The single argument is a JSON spec written by `server.workbench.sandbox`.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys


def _apply_limits(limits: dict[str, list[int]]) -> None:
    for name, (soft, hard) in limits.items():
        which = getattr(resource, name)
        current = resource.getrlimit(which)[1]
        if current != resource.RLIM_INFINITY:  # only root may raise a hard limit: never try
            hard = min(hard, current)
        resource.setrlimit(which, (min(soft, hard), hard))


def _drop_privileges(uid: int | None, gid: int | None) -> None:
    if uid is None or gid is None:
        return
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


def _open_capture(relpath: str) -> int:
    """Create an output file in the workbench as the sandbox user, never following a symlink."""
    folder = os.path.dirname(relpath)
    if folder:
        os.makedirs(folder, exist_ok=True)
    return os.open(relpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)


def _exec_shell(spec: dict) -> None:
    out, err = _open_capture(spec["stdout"]), _open_capture(spec["stderr"])
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(err, 2)
    # Python ignores these two; an exec'd shell must see the defaults (`yes | head` has to stop).
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    os.execve("/bin/bash", ["bash", "-c", spec["command"]], dict(os.environ))


def main() -> None:
    spec = json.loads(sys.argv[1])
    here = os.path.dirname(os.path.abspath(__file__))
    jail_spec = spec.get("jail")
    if jail_spec is not None:
        sys.path.insert(0, here)
        import jail  # type: ignore[import-not-found]  # the runtime folder runs as scripts, not as a package

        jail.enter(jail_spec)  # returns inside the new root, where this folder is mounted elsewhere
        here = jail_spec["runtime"]
        sys.path[0] = here
    _apply_limits(spec["limits"])
    if spec["limits"]:  # below the server, so a busy sandbox cannot starve it (or other sessions' calls)
        os.nice(10)
    _drop_privileges(spec.get("uid"), spec.get("gid"))
    if jail_spec is not None:
        jail.lock_down(jail_spec.get("seccomp"))
    os.umask(0o022)
    os.chdir(spec["cwd"])
    mode = spec["mode"]
    if mode == "probe":
        sys.stdout.write("ok\n")
    elif mode == "shell":
        _exec_shell(spec)
    elif mode == "repl":
        sys.path.insert(0, here)
        import repl

        repl.main()
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
