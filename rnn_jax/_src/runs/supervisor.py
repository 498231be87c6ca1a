"""A supervisor around a process of a multi-process run, so that its user sees one line.

JAX's multi-controller runtime ends a process natively when the run around it fails in some
ways (the coordinator lost, a peer silent past the heartbeat timeout): an abort with a C++ log
of a dozen lines and no chance for Python to say anything. A script started with process
flags therefore runs itself as a child under :func:`supervise`, which passes the child's
output through, keeps JAX's native log lines out of the terminal (into a private report file),
forwards Ctrl-C and SIGTERM, and, when the child is ended by a signal it did not handle (an
abort, a kill), prints one line and exits with status 3.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile

#: Set in the child's environment: the process runs supervised.
SUPERVISED = "RNN_JAX_SUPERVISED"

#: Exit status when another process of a multi-process run stopped (as the script's own).
EXIT_PEER = 3

#: The start of a line that JAX's native runtime writes (glog lines, stack frames, gloo).
NATIVE = re.compile(
    rb"^([EWIF]\d{4} \d\d:\d\d:\d\d|\s+@\s+0x|\*\*\* |\[Gloo\]|RPC: |absl::|Fatal Python error"
    rb"|Current thread|Thread 0x|Extension modules|  File \"|The tasks have|Check the task logs"
    rb"|E\d{4}|F\d{4})"
)

#: The start of a line the scripts themselves write (kept even right after native lines).
OURS = re.compile(
    rb"^(\r|\[#|\[ |error:|warning:|interrupted|compiling|reusing|continuing|moved|\| |"
    rb"files:|binary_addition|counting_ones|next_number|devices )"
)


def wanted(argv) -> bool:
    """Whether a command runs among several processes (it names them, or a cluster launcher
    started it among several) and is not yet supervised."""
    if os.environ.get(SUPERVISED) == "1":
        return False
    named = any(str(a).split("=")[0] in ("--coordinator", "--num-processes") for a in argv)
    from rnn_jax._src.runs.processes import _launched_by_cluster

    return named or _launched_by_cluster()


def supervise(argv: list[str]) -> int:
    """Runs ``python argv`` as a supervised child and returns the exit status to leave with.

    Args:
      argv: the command line (``sys.argv``: the script, then its arguments).
    """
    env = {**os.environ, SUPERVISED: "1"}
    child = subprocess.Popen([sys.executable, *argv], env=env, stderr=subprocess.PIPE)
    forwarded = []

    def forward(signum, frame):
        forwarded.append(signum)
        child.send_signal(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, forward)
    native = _relay(child.stderr.fileno())
    code = child.wait()
    if code >= 0:
        return code
    signum = -code
    if signum in forwarded:  # ended by the user's own signal before it could say so
        print(f"\ninterrupted ({signal.Signals(signum).name})", file=sys.stderr)
        return 128 + signum
    fd, report = tempfile.mkstemp(prefix="rnn_jax-native-", suffix=".log")
    with os.fdopen(fd, "wb") as f:
        f.write(b"".join(native))
    name = signal.Signals(signum).name if signum in signal.Signals._value2member_map_ else signum
    print(
        f"error: JAX's runtime stopped this process ({name}): another process of the run "
        f"stopped or the coordinator was lost (its log: {report}); rerun every process with "
        "the same command to continue",
        file=sys.stderr,
        flush=True,
    )
    return EXIT_PEER


def _relay(fd: int) -> list[bytes]:
    """Copies the child's stderr to ours as it comes, except JAX's native log lines (and the
    lines that follow one until a line of the script's own); returns those lines."""
    native: list[bytes] = []
    line, mode, after_native = b"", None, False
    while chunk := os.read(fd, 65536):
        for part in chunk.splitlines(keepends=True):
            if mode == "ours":
                _write(part)
            else:
                line += part
            if mode is None and (len(line) >= 12 or line.endswith(b"\n")):
                start = line.lstrip(b"\r\n")
                is_native = bool(NATIVE.match(start)) or (after_native and not OURS.match(line))
                mode = "native" if is_native else "ours"
                if mode == "ours":
                    _write(line)
            if part.endswith(b"\n"):
                if mode == "native":
                    native.append(line)
                after_native = mode == "native"
                line, mode = b"", None
            elif mode == "ours":
                line = b""
    if line:
        (native.append if mode == "native" else _write)(line)
    return native


def _write(data: bytes) -> None:
    sys.stderr.buffer.write(data)
    sys.stderr.buffer.flush()
