"""PID 1 of a namespaced environment as a program of 132 bytes, not a copy of the interpreter.

A namespaced environment's init (``workbench_sandbox.init_first``) is a fork of the fork server:
to reap orphans and wait for the runtime it ran Python, and every page it wrote doing so (an
object's reference count, a code object's warm-up counter, the C library's heap) was copied for
it alone: ~0.7 MB of its own per environment, a quarter of an environment's memory (PSS) in a
burst of 1,000. Once it has followed the runtime into its mount namespace, it has nothing left
to do but what this program does, so it ``execve``s it (from a ``memfd``: no file of ours need
be reachable from where it is) and gives all those pages back. The program, machine code for
``x86_64`` Linux (on any other machine, or where the kernel refuses to run it, the init stays
the Python loop of ``workbench_sandbox._init``, which does the same):

1. makes itself non-dumpable (an ``execve`` made it dumpable again: a process of its user
   could then read its ``/proc`` files or trace it; the runtime has none of its capabilities);
2. closes ``release``, which the runtime waits on before any of the function's code runs;
3. reaps every child (``wait4(-1)``) until the runtime (``runtime``) ends, writes its wait
   status (4 bytes) to ``report`` and exits as it ended: its exit code, or 128 + the signal
   that killed it (PID 1 cannot be killed by it). The kernel then kills whatever is left in
   the namespace.

Its command line is ``init`` (what ``ps`` and ``/proc/1/cmdline`` show) and its variables are
the environment's (the watchdog knows an environment's processes by them).
"""

import os
import struct

# The code, assembled from the text beside each line (``as`` with ``.intel_syntax noprefix``,
# then ``objdump -d``); {runtime}, {report} and {release} are 32-bit immediates.
_X86_64 = (
    "b8 9d 00 00 00",  # 00  mov eax, 157            prctl(
    "bf 04 00 00 00",  # 05  mov edi, 4                PR_SET_DUMPABLE,
    "31 f6",  # 0a           xor esi, esi               0, 0, 0, 0)
    "31 d2",  # 0c           xor edx, edx
    "45 31 d2",  # 0e        xor r10d, r10d
    "45 31 c0",  # 11        xor r8d, r8d
    "0f 05",  # 14           syscall
    "b8 03 00 00 00",  # 16  mov eax, 3              close(release)
    "bf {release}",  # 1b    mov edi, release
    "0f 05",  # 20           syscall
    "48 83 ec 10",  # 22     sub rsp, 16              (the wait status, at [rsp])
    "b8 3d 00 00 00",  # 26  wait: mov eax, 61       wait4(
    "bf ff ff ff ff",  # 2b  mov edi, -1               any child,
    "48 89 e6",  # 30        mov rsi, rsp              &status,
    "31 d2",  # 33           xor edx, edx              0,
    "45 31 d2",  # 35        xor r10d, r10d            NULL)
    "0f 05",  # 38           syscall
    "83 f8 fc",  # 3a        cmp eax, -4               EINTR:
    "74 e7",  # 3d           je wait                     again
    "85 c0",  # 3f           test eax, eax             ECHILD (no child left):
    "78 35",  # 41           js fail                     exit 1
    "3d {runtime}",  # 43    cmp eax, runtime          an orphan reaped:
    "75 dc",  # 48           jne wait                    again
    "b8 01 00 00 00",  # 4a  mov eax, 1              write(
    "bf {report}",  # 4f     mov edi, report           report,
    "48 89 e6",  # 54        mov rsi, rsp              &status,
    "ba 04 00 00 00",  # 57  mov edx, 4                4)
    "0f 05",  # 5c           syscall
    "8b 04 24",  # 5e        mov eax, [rsp]
    "89 c7",  # 61           mov edi, eax
    "83 e7 7f",  # 63        and edi, 0x7f             killed by a signal:
    "74 08",  # 66           je exited
    "81 c7 80 00 00 00",  # 68  add edi, 128             128 + it
    "eb 0d",  # 6e           jmp quit
    "c1 e8 08",  # 70        exited: shr eax, 8        else its exit code
    "0f b6 f8",  # 73        movzx edi, al
    "eb 05",  # 76           jmp quit
    "bf 01 00 00 00",  # 78  fail: mov edi, 1
    "b8 e7 00 00 00",  # 7d  quit: mov eax, 231      exit_group(edi)
    "0f 05",  # 82           syscall
)
_BASE = 0x400000  # where it is loaded (a fixed address: ET_EXEC, no relocation)
_HEADERS = 64 + 2 * 56  # the ELF header and two program headers, then the code
PT_LOAD, PT_GNU_STACK = 1, 0x6474E551
PF_X, PF_W, PF_R = 1, 2, 4
TITLE = "init"
MFD_CLOEXEC, MFD_EXEC = 1, 0x10


def _imm(value):
    return struct.pack("<i", value).hex()


def program(runtime, report, release, machine=None):
    """The program, as an ELF executable's bytes, for this machine (``os.uname``) or
    ``machine``; None where there is none."""
    if (machine or os.uname().machine) != "x86_64":
        return None
    text = " ".join(_X86_64).format(
        runtime=_imm(runtime), report=_imm(report), release=_imm(release)
    )
    code = bytes.fromhex(text)
    size = _HEADERS + len(code)
    elf = struct.pack(
        "<4sBBBBB7xHHIQQQIHHHHHH",
        b"\x7fELF", 2, 1, 1, 0, 0,  # 64-bit, little-endian, version 1, System V ABI
        2, 62, 1,  # ET_EXEC, x86-64, version 1
        _BASE + _HEADERS, 64, 0,  # entry, program headers' offset, no section headers
        0, 64, 56, 2, 64, 0, 0,  # flags, sizes, 2 program headers, no sections
    )  # fmt: skip
    load = struct.pack("<IIQQQQQQ", PT_LOAD, PF_R | PF_X, 0, _BASE, _BASE, size, size, 0x1000)
    stack = struct.pack("<IIQQQQQQ", PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 0, 16)
    return elf + load + stack + code


def become(runtime, report, release, environ):
    """Replace this process (PID 1 of the environment's namespaces, ``runtime`` its child)
    by the program, which closes ``release`` once it runs (both descriptors are made
    inheritable: it needs them). Returns only where it cannot (no program for this machine, no
    ``memfd``, an ``execve`` refused), with ``release`` still open. ``environ``: its
    variables."""
    image = program(runtime, report, release)
    if image is None:
        return
    try:
        try:
            fd = os.memfd_create(TITLE, MFD_CLOEXEC | MFD_EXEC)
        except OSError:  # (MFD_EXEC: Linux 6.3+, where a memfd may be made not executable)
            fd = os.memfd_create(TITLE, MFD_CLOEXEC)
    except (OSError, AttributeError):
        return
    try:
        os.write(fd, image)
        os.set_inheritable(report, True)
        os.set_inheritable(release, True)
        os.execve(fd, [TITLE], environ)
    except (OSError, ValueError):
        pass
    finally:
        os.close(fd)
