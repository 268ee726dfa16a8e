"""A small seccomp filter (classic BPF, assembled here) that bubblewrap loads before the launcher runs.

Why: with namespaces alone, sandboxed code could create a user namespace of its own and, as its
"root", mount a tmpfs that fills the host's RAM beyond every rlimit, or reach kernel code that
is only exposed to namespace owners. The filter refuses namespace creation and joining, every
mount call, the kernel keyring, BPF, perf events and userfaultfd; `clone3` answers ENOSYS so the C
library falls back to `clone`, whose flags a filter can inspect. Format: `struct sock_filter`
(see linux/filter.h and linux/seccomp.h), as libseccomp's `seccomp_export_bpf` would write it.
"""

from __future__ import annotations

import errno
import platform
import struct

# linux/filter.h opcodes
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06
# linux/seccomp.h
_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000
_KILL_PROCESS = 0x80000000
# struct seccomp_data offsets
_NR, _ARCH, _ARG0_LOW = 0, 4, 16

_NAMESPACE_FLAGS = 0x7E020000  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
_X32_SYSCALL_BIT = 0x40000000

# (audit arch, syscall numbers refused with EPERM, clone, clone3)
_ARCHES: dict[str, tuple[int, dict[str, int], int, int]] = {
    "x86_64": (
        0xC000003E,
        {
            "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161,
            "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
            "fspick": 433, "mount_setattr": 442, "keyctl": 250, "add_key": 248, "request_key": 249,
            "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
        },
        56,
        435,
    ),
    "aarch64": (
        0xC00000B7,
        {
            "unshare": 97, "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51,
            "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
            "fspick": 433, "mount_setattr": 442, "keyctl": 219, "add_key": 217, "request_key": 218,
            "bpf": 280, "perf_event_open": 241, "userfaultfd": 282,
        },
        220,
        435,
    ),
}  # fmt: skip


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def build_filter(machine: str | None = None) -> bytes | None:
    """The filter for this CPU architecture, or None where we do not know its syscall numbers."""
    spec = _ARCHES.get(machine or platform.machine())
    if spec is None:
        return None
    audit_arch, refused, clone, clone3 = spec
    deny = _op(_RET_K, _ERRNO | errno.EPERM)
    body = [_op(_LD_W_ABS, _NR)]
    if audit_arch == _ARCHES["x86_64"][0]:  # x32 syscalls would bypass the numbers below
        body.append(_op(_JGE_K, _X32_SYSCALL_BIT, 0, 1))
        body.append(deny)
    for number in refused.values():
        body += [_op(_JEQ_K, number, 0, 1), deny]
    body += [_op(_JEQ_K, clone3, 0, 1), _op(_RET_K, _ERRNO | errno.ENOSYS)]
    body += [
        _op(_JEQ_K, clone, 0, 3),
        _op(_LD_W_ABS, _ARG0_LOW),
        _op(_JSET_K, _NAMESPACE_FLAGS, 0, 1),
        deny,
        _op(_RET_K, _ALLOW),
    ]
    header = [_op(_LD_W_ABS, _ARCH), _op(_JEQ_K, audit_arch, 1, 0), _op(_RET_K, _KILL_PROCESS)]
    return b"".join(header + body)
