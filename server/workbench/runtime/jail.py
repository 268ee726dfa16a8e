"""The `namespaces` sandbox: what bubblewrap does, done by the launcher itself with the kernel's calls.

Used where `bwrap` is not installed but the kernel lets this process create namespaces (as root, or
as a normal user with unprivileged user namespaces). `enter()` unshares mount, PID, network, IPC,
UTS and cgroup namespaces (plus a user namespace when not root), forks a small init as PID 1 of the
new PID namespace, builds a new root on a tmpfs from read-only binds of the system, the Python
install and the runtime code, a read-write bind of the session's folder, a private /tmp and /dev,
and pivots into it. It returns in the workload process; the outer processes only wait and pass on
its exit status. `lock_down()` then drops capabilities, sets no_new_privs and loads the seccomp
filter the server built. The only way out is the tool socket bound at /run/concierge.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import platform
import signal
import socket
import stat
import struct
import sys
from typing import Any

_CLONE_NEWNS = 0x00020000
_CLONE_NEWCGROUP = 0x02000000
_CLONE_NEWUTS = 0x04000000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWPID = 0x20000000
_CLONE_NEWNET = 0x40000000

_MS_RDONLY = 1
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_NOEXEC = 8
_MS_REMOUNT = 32
_MS_NOATIME = 1024
_MS_NODIRATIME = 2048
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_MS_RELATIME = 1 << 21
_MNT_DETACH = 2
# statvfs f_flag bit -> mount flag: a remount in a user namespace must keep these "locked" flags
_LOCKED = ((2, _MS_NOSUID), (4, _MS_NODEV), (8, _MS_NOEXEC), (1024, _MS_NOATIME), (2048, _MS_NODIRATIME),
           (4096, _MS_RELATIME))  # fmt: skip

_PR_SET_PDEATHSIG = 1
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_CAP_VERSION_3 = 0x20080522
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1
_SYSCALLS = {"x86_64": {"pivot_root": 155, "capset": 126}, "aarch64": {"pivot_root": 41, "capset": 91}}
_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")

_libc = ctypes.CDLL(None, use_errno=True)


class JailError(RuntimeError):
    """A step of building the sandbox failed; the message names the step and the kernel's answer."""


def _check(result: int, what: str) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise JailError(f"{what}: {os.strerror(code)} (errno {errno.errorcode.get(code, code)})")
    return result


def _syscall(name: str, *args: Any) -> int:
    numbers = _SYSCALLS.get(platform.machine())
    if numbers is None:
        raise JailError(f"no namespace sandbox for the {platform.machine()} architecture")
    return _check(_libc.syscall(numbers[name], *args), name)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = [None if v is None else v.encode() for v in (source, target, fstype, data)]
    _check(_libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]), f"mount {target}")


def _locked_flags(path: str) -> int:
    flags = os.statvfs(path).f_flag
    return sum(ms for st, ms in _LOCKED if flags & st)


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def _die_with_parent() -> None:
    _check(_libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")


def _wait_for(child: int) -> int:
    """Wait for `child`, reaping any other process meanwhile (as PID 1 must); its status as an exit code."""
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return 1
        if pid == child:
            return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def _make_target(root: str, target: str, like: str) -> str:
    """Create the mount point `root + target` as a folder or an empty file, matching `like`."""
    path = root + target
    if os.path.isdir(like):
        os.makedirs(path, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
    return path


def _bind(root: str, source: str, target: str, *, read_only: bool) -> None:
    path = _make_target(root, target, source)
    _mount(source, path, None, _MS_BIND | _MS_REC)
    flags = _MS_BIND | _MS_REMOUNT | _MS_NOSUID | _MS_NODEV | _locked_flags(source)
    _mount(None, path, None, flags | (_MS_RDONLY if read_only else 0))


def _build_dev(root: str, shm_bytes: int) -> None:
    dev = root + "/dev"
    os.makedirs(dev, mode=0o755, exist_ok=True)
    _mount("tmpfs", dev, "tmpfs", _MS_NOSUID | _MS_NOEXEC, "mode=0755,size=64k")
    for name in _DEVICES:
        host = f"/dev/{name}"
        if os.path.exists(host) and stat.S_ISCHR(os.stat(host).st_mode):
            os.close(os.open(f"{dev}/{name}", os.O_CREAT | os.O_WRONLY, 0o666))
            _mount(host, f"{dev}/{name}", None, _MS_BIND)
    for name, target in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ):
        os.symlink(target, f"{dev}/{name}")
    os.mkdir(f"{dev}/shm", 0o755)
    _mount("tmpfs", f"{dev}/shm", "tmpfs", _MS_NOSUID | _MS_NODEV, f"mode=1777,size={shm_bytes}")
    _mount(None, dev, None, _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NOEXEC, "mode=0755,size=64k")


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock.fileno(), _SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | _IFF_UP))


def _build_root(spec: dict[str, Any]) -> None:
    """Runs as PID 1 of the new namespaces: assemble the new root and pivot into it."""
    root = spec["root"]
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    _mount("tmpfs", root, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755,size=1m")
    for target, link in spec["symlinks"]:
        os.symlink(link, root + target)
    tmp = _make_target(root, "/tmp", "/")
    _mount("tmpfs", tmp, "tmpfs", _MS_NOSUID | _MS_NODEV, f"mode=1777,size={spec['tmp_bytes']}")
    for source, target in spec["ro_binds"]:
        if os.path.lexists(source):
            _bind(root, source, target, read_only=True)
    for source, target in spec["rw_binds"]:
        _bind(root, source, target, read_only=False)
    proc = _make_target(root, "/proc", "/")
    _mount("proc", proc, "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    _build_dev(root, spec["shm_bytes"])
    os.chdir(root)
    _syscall("pivot_root", b".", b".")
    _check(_libc.umount2(b".", _MNT_DETACH), "umount the old root")
    os.chdir("/")
    _mount(None, "/", None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
    hostname = b"workbench"
    _check(_libc.sethostname(hostname, len(hostname)), "sethostname")
    _loopback_up()


def enter(spec: dict[str, Any]) -> None:
    """Move into a fresh sandbox; returns only in the workload process (PID 2 of the new namespace)."""
    try:
        _enter(spec)
    except (OSError, JailError) as exc:
        sys.stderr.write(f"namespace sandbox: {exc}\n")
        os._exit(70)


def _enter(spec: dict[str, Any]) -> None:
    _die_with_parent()
    flags = _CLONE_NEWNS | _CLONE_NEWPID | _CLONE_NEWNET | _CLONE_NEWIPC | _CLONE_NEWUTS | _CLONE_NEWCGROUP
    uid, gid = os.geteuid(), os.getegid()
    if not spec["privileged"]:
        flags |= _CLONE_NEWUSER
    _check(_libc.unshare(flags), "unshare")
    if not spec["privileged"]:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{spec['inner_id']} {uid} 1\n")
        _write("/proc/self/gid_map", f"{spec['inner_id']} {gid} 1\n")
    sys.stdout.flush()
    init = os.fork()
    if init:
        os._exit(_wait_for(init))
    _die_with_parent()
    _build_root(spec)
    workload = os.fork()
    if workload:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        os._exit(_wait_for(workload))
    _die_with_parent()


def lock_down(seccomp_hex: str | None) -> None:
    """No capabilities, no_new_privs, and the seccomp filter: the last step before user code runs."""
    header = struct.pack("Ii", _CAP_VERSION_3, 0)
    data = ctypes.create_string_buffer(24)
    _syscall("capset", ctypes.c_char_p(header), data)
    _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    if seccomp_hex:
        program = bytes.fromhex(seccomp_hex)
        filters = ctypes.create_string_buffer(program)
        fprog = struct.pack("HP", len(program) // 8, ctypes.addressof(filters))
        _check(_libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.c_char_p(fprog), 0, 0), "seccomp")
