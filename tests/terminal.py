"""Run a command on a real pseudo-terminal, answering its prompts, as a person at a keyboard
would (no test tool pretends to be a terminal: the command's own ``isatty`` says yes)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class Answered:
    returncode: int
    #: Everything the command wrote (stdout and stderr), with the terminal's ``\r\n``.
    output: str

    @property
    def lines(self) -> list[str]:
        return [line.rstrip("\r") for line in self.output.splitlines()]


def run_in_terminal(
    args: Sequence[str],
    answers: Sequence[tuple[str, str]] = (),
    *,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    timeout: float = 60,
) -> Answered:
    """Run ``args`` with stdin, stdout and stderr on a new pseudo-terminal; each
    ``(prompt, reply)`` of ``answers`` types ``reply`` once, when ``prompt`` appears."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        list(args), stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
        start_new_session=True, close_fds=True,
    )  # fmt: skip
    os.close(slave)
    output, seen_up_to, pending = b"", 0, list(answers)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: every process on the terminal has closed it.
                    break
                if not chunk:
                    break
                output += chunk
            asked = [a for a in pending if a[0].encode() in output[seen_up_to:]]
            if asked:
                seen_up_to = len(output)
                pending.remove(asked[0])
                os.write(master, asked[0][1].encode() + b"\n")
            elif not ready and process.poll() is not None:
                break
        else:
            process.kill()
            raise AssertionError(f"{args} did not finish:\n{output.decode(errors='replace')}")
    finally:
        os.close(master)
    return Answered(process.wait(timeout=10), output.decode(errors="replace"))
