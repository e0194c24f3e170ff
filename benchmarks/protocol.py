"""Contenders in worker processes, driven by the parent over pipes.

Each contender runs in a process of its own, so its peak RSS, start-up time and thread pools are
its alone, and the parent can interleave the timed passes of all contenders. The parent writes
one JSON request per line to the worker's stdin; the worker writes one JSON reply per line on its
original stdout (the *reply pipe*; anything libraries print goes to stderr instead).

Worker side: ``serve(start, ...)``. ``start()`` imports the contender's framework, loads it and
returns its command handlers plus a start-up report, the first reply. Every request names a
``command``; three are built in: ``texts`` (store texts under a name, so timed requests carry only
a name), ``rss`` (peak resident memory so far) and ``exit``. Handlers get the request and the
stored texts and return the reply.

Parent side: ``WorkerProcess``, started with the command line that runs ``serve`` and the
environment that pins its threads (``thread_environment``).
"""

from __future__ import annotations

import base64
import json
import os
import resource
import subprocess
import sys
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

Request = dict[str, Any]
Texts = dict[str, list[str]]
Handler = Callable[[Request, Texts], dict[str, Any]]


def thread_environment(threads: int) -> dict[str, str]:
    """Environment variables that give a worker's frameworks ``threads`` intra-op threads and one
    inter-op thread; they must be set before the framework is imported. TensorFlow's log level
    and the Rust tokenizers' parallelism keep the caller's value if it set one (the Rust side is
    serial by default: its thread pool would compete with the framework's)."""
    environment = {
        name: str(threads)
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
    }
    environment["TF_NUM_INTRAOP_THREADS"] = str(threads)
    environment["TF_NUM_INTEROP_THREADS"] = "1"
    environment["TF_CPP_MIN_LOG_LEVEL"] = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")
    environment["TOKENIZERS_PARALLELISM"] = os.environ.get("TOKENIZERS_PARALLELISM", "false")
    return environment


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, MB (Linux reports ``ru_maxrss`` in KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def encode_array(array: np.ndarray) -> dict[str, Any]:
    """A float32 array as JSON-safe reply fields (``decode_array`` reads them back)."""
    array = np.ascontiguousarray(array, np.float32)
    return {"shape": array.shape, "data": base64.b64encode(array.tobytes()).decode()}


def decode_array(reply: dict[str, Any]) -> np.ndarray:
    data = np.frombuffer(base64.b64decode(reply["data"]), np.float32)
    return data.reshape(reply["shape"])


# --- worker side ---------------------------------------------------------------------------------


def serve(start: Callable[[], tuple[dict[str, Handler], dict[str, Any]]]) -> None:
    """Run a contender: send ``start()``'s report, then answer requests until ``exit``.

    A ``RuntimeError`` from ``start`` (a missing GPU, say) is sent as ``{"error": ...}`` and ends
    the worker; an exception in a handler is sent the same way and the worker goes on.
    """
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # libraries' prints go to stderr; the reply pipe stays clean
    texts: Texts = {}

    def reply(values: dict[str, Any]) -> None:
        replies.write(json.dumps(values) + "\n")

    try:
        handlers, report = start()
    except RuntimeError as error:
        reply({"error": str(error)})
        return
    reply(report)
    for line in sys.stdin:
        request = json.loads(line)
        command = request["command"]
        if command == "exit":
            return
        if command == "texts":
            texts[request["name"]] = request["texts"]
            reply({"ok": True})
        elif command == "rss":
            reply({"peak_rss_mb": peak_rss_mb()})
        elif command in handlers:
            try:
                reply(handlers[command](request, texts))
            except Exception as error:  # reported to the parent, which stops the run
                traceback.print_exc()
                reply({"error": f"{command}: {type(error).__name__}: {error}"})
        else:
            reply({"error": f"unknown command {command!r}; this worker knows {sorted(handlers)}"})


# --- parent side ---------------------------------------------------------------------------------


class WorkerProcess:
    """A contender's process: started, asked, closed. ``startup`` is its first reply."""

    def __init__(
        self, name: str, command: list[str], environment: dict[str, str], verbose: bool = False
    ):
        self.name = name
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if verbose else subprocess.DEVNULL,
            text=True,
            env={**os.environ, **environment},
        )
        self.startup = self._read()
        if "error" in self.startup:
            self.process.wait()
            raise SystemExit(f"error: {self.startup['error']}")

    def _read(self) -> dict[str, Any]:
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(
                f"error: the {self.name} worker exited with status {self.process.wait()}; "
                "rerun with --verbose to see its output"
            )
        return json.loads(line)

    def ask(self, **request) -> dict[str, Any]:
        """Send one request, return the reply; an ``error`` reply stops the run."""
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = self._read()
        if "error" in answer:
            raise SystemExit(f"error: the {self.name} worker: {answer['error']}")
        return answer

    def close(self) -> None:
        if self.process.poll() is None:
            self.ask(command="rss")  # keep the pipe in step before exiting
            self.process.stdin.write(json.dumps({"command": "exit"}) + "\n")
            self.process.stdin.close()
            self.process.wait(timeout=60)
