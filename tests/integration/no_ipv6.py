#!/usr/bin/env python3
"""no_ipv6.py CMD [ARGS...] - runs CMD as on a host without IPv6.

A seccomp filter makes socket(AF_INET6, ...) fail with EAFNOSUPPORT, what
a kernel booted with ipv6.disable=1 answers; everything else is allowed.
For t-defaults.sh: the default portal's fallback to 0.0.0.0 (issue 9,
item 5). x86_64 and aarch64 only; elsewhere it exits 2 saying so.
"""
import ctypes
import errno
import os
import platform
import struct
import sys

# <linux/audit.h> AUDIT_ARCH_*, and __NR_socket, per machine
ARCHES = {
    "x86_64": (0xC000003E, 41),
    "aarch64": (0xC00000B7, 198),
}
AF_INET6 = 10

# <linux/filter.h>, <linux/seccomp.h>, <linux/prctl.h>
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_RET_K = 0x06
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
# struct seccomp_data: nr at 0, arch at 4, args[0] at 16 (its low half on
# a little-endian machine, which both ARCHES are)
OFF_NR, OFF_ARCH, OFF_ARG0 = 0, 4, 16


def insn(code, jt, jf, k):
    return struct.pack("HBBI", code, jt, jf, k)


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: no_ipv6.py CMD [ARGS...]")
    machine = platform.machine()
    if machine not in ARCHES:
        print(f"no_ipv6.py: no seccomp numbers for {machine}", file=sys.stderr)
        sys.exit(2)
    arch, nr_socket = ARCHES[machine]
    prog = b"".join([
        insn(BPF_LD_W_ABS, 0, 0, OFF_ARCH),
        insn(BPF_JEQ_K, 0, 5, arch),            # other ABI: allow
        insn(BPF_LD_W_ABS, 0, 0, OFF_NR),
        insn(BPF_JEQ_K, 0, 3, nr_socket),       # not socket(): allow
        insn(BPF_LD_W_ABS, 0, 0, OFF_ARG0),
        insn(BPF_JEQ_K, 0, 1, AF_INET6),        # not AF_INET6: allow
        insn(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.EAFNOSUPPORT),
        insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
    ])
    buf = ctypes.create_string_buffer(prog, len(prog))
    # struct sock_fprog { unsigned short len; struct sock_filter *filter; }
    fprog = struct.pack("HxxxxxxQ", len(prog) // 8, ctypes.addressof(buf))
    fprog_buf = ctypes.create_string_buffer(fprog, len(fprog))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p,
                           ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0 or \
       libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER,
                  ctypes.addressof(fprog_buf), 0, 0) != 0:
        e = ctypes.get_errno()
        print(f"no_ipv6.py: seccomp: {os.strerror(e)}", file=sys.stderr)
        sys.exit(2)
    os.execvp(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()
