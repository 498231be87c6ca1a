"""The processes of a run meet before JAX connects them: every one proves it runs the same
command, and JAX's coordinator gets a port no other run knows.

Process 0 listens on the ``--coordinator`` address; every other process connects and sends
its index, the process count and the settings it was given. Process 0 waits for all of them
(at most ``timeout`` seconds), compares, and answers every one with one verdict: either the
port of JAX's coordinator (a fresh port, chosen now) or the reason the run cannot start,
which every process then prints as its one line. So:

* processes given different settings (seeds, optimizer, hyperparameters, chunking, process
  count) stop before any work, each with the same line naming what differs;
* a process that never comes stops the others after ``timeout`` seconds, with one line;
* a stray process of another run that reaches a run already started finds nobody listening
  (and cannot reach JAX's coordinator, whose port it does not know), so it stops alone
  without harming the run.

Messages are one JSON line each way, at most 1 MiB; anything else is refused.
"""

from __future__ import annotations

import json
import socket
import time

#: Longest message accepted from a peer (settings are small JSON).
MAX_MESSAGE = 1 << 20


class RendezvousError(ValueError):
    """The processes could not meet, or disagree: the one line every process prints."""


def _send(sock: socket.socket, message: dict) -> None:
    sock.sendall(json.dumps(message).encode() + b"\n")


def _receive(sock: socket.socket, deadline: float) -> dict:
    data = b""
    while not data.endswith(b"\n"):
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the other side closed the connection")
        data += chunk
        if len(data) > MAX_MESSAGE:
            raise ConnectionError("message too long")
    message = json.loads(data)
    if not isinstance(message, dict):
        raise ConnectionError("not a message")
    return message


def _refuse(conn: socket.socket, why: str) -> None:
    try:
        _send(conn, {"ok": False, "why": why})
    finally:
        conn.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def host(port: int, count: int, settings: dict, timeout: float) -> int:
    """Process 0's side: waits for the ``count - 1`` others on ``port``, compares their
    settings with its own, and tells every one the verdict.

    Returns:
      The port JAX's coordinator is to use.

    Raises:
      RendezvousError: the line every process prints (sent to the others too).
    """
    from rnn_jax._src.runs.identity import differences

    try:
        server = socket.create_server(("", port), reuse_port=False)
    except OSError:
        raise RendezvousError(
            f"--coordinator port {port} is in use on this host; choose a free port"
        ) from None
    peers: dict[int, socket.socket] = {}
    deadline = time.monotonic() + timeout
    problem = None
    try:
        server.settimeout(0.2)
        while len(peers) < count - 1 and time.monotonic() < deadline:
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            try:
                message = _receive(conn, min(deadline, time.monotonic() + 10))
                index, their_count = message.get("index"), message.get("count")
                if their_count != count:
                    problem = (
                        f"--num-processes {count} on process 0 but {their_count} on process "
                        f"{index}: every process must be given the same --num-processes"
                    )
                elif not isinstance(index, int) or not 1 <= index < count:
                    _send(
                        conn, {"ok": False, "why": f"--process-id {index} is not in [1, {count})"}
                    )
                    conn.close()
                    continue
                elif index in peers:
                    _send(
                        conn,
                        {"ok": False, "why": f"process {index} of this run has joined already"},
                    )
                    conn.close()
                    continue
                else:
                    diff = differences(settings, message.get("settings", {}))
                    if diff and problem is None:
                        shown = ", ".join(diff[:8]) + (", ..." if len(diff) > 8 else "")
                        problem = (
                            f"the processes of this run were given different settings (process "
                            f"{index} differs from process 0 in {shown}): every process must run "
                            "the same command"
                        )
                peers[index] = conn
            except (OSError, ConnectionError, ValueError):
                conn.close()
        if problem is None and len(peers) < count - 1:
            missing = sorted(set(range(1, count)) - set(peers))
            problem = (
                f"only {len(peers) + 1} of {count} processes joined within {timeout:.0f} s "
                f"(missing: process {', '.join(map(str, missing))}); start every process"
            )
        verdict = {"ok": False, "why": problem} if problem else {"ok": True, "port": _free_port()}
        for conn in peers.values():
            try:
                _send(conn, verdict)
            except OSError:
                pass
    finally:
        for conn in peers.values():
            conn.close()
        server.close()
    if problem:
        raise RendezvousError(problem)
    return verdict["port"]


def join(address: tuple[str, int], index: int, count: int, settings: dict, timeout: float) -> int:
    """Another process's side: reaches process 0 (retrying until ``timeout``), sends what it
    was given, and returns the port of JAX's coordinator from the verdict.

    Raises:
      RendezvousError: the verdict's reason, or why process 0 could not be reached.
    """
    deadline = time.monotonic() + timeout
    where = f"{address[0]}:{address[1]}"
    while True:
        try:
            sock = socket.create_connection(address, timeout=max(0.1, deadline - time.monotonic()))
            break
        except OSError:
            if time.monotonic() >= deadline:
                raise RendezvousError(
                    f"no run is waiting at {where} (process 0 did not start within "
                    f"{timeout:.0f} s, or the run started without this process)"
                ) from None
            time.sleep(0.2)  # process 0 may not listen yet: poll the port, bounded by timeout
    with sock:
        try:
            _send(sock, {"index": index, "count": count, "settings": settings})
            verdict = _receive(sock, deadline + 10)
        except (OSError, ConnectionError, ValueError):
            raise RendezvousError(
                f"the run at {where} did not answer (it may belong to another command)"
            ) from None
    if not verdict.get("ok"):
        raise RendezvousError(str(verdict.get("why")))
    port = verdict.get("port")
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise RendezvousError(f"the run at {where} answered nonsense")
    return port
