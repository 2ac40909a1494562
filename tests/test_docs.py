"""Every console block of README.md and docs/*.md, run as written against a real `jot server`.

Each file is one session: a temporary working directory and XDG directories, the real `jot`
on the PATH, and (unless the file starts its own `jot server`) a server already running with
the admin logged in. Each `$ command` runs in bash on a real pseudo-terminal, so prompts
are answered as a person would (a password, `y`). The lines under a command are its expected
output, in order, with `…` matching anything; a command must fail exactly when an expected
line starts with `Error:`. A command ending in `&`, and `jot server` or `jot connector`,
runs in the background until the file is done. The documented addresses (127.0.0.1:8080,
127.0.0.1:8081, https://auth.example.com) and the placeholder key `jot_ak_…` are replaced
by the session's own.

A block that cannot run here is marked, visibly in the Markdown source, by the line
``<!-- docs-test: not run (REASON) -->`` right above it; :data:`NOT_RUN` pins how many there
are, so that a new one is a decision.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_authority_support import cli, free_port, run_server
from tests.terminal import run_in_terminal

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = re.compile(r"<!-- docs-test: not run \((.+)\) -->\s*$")
#: The blocks that cannot run here (each marked in its file, with the reason).
NOT_RUN = 4
PASSWORD = "correct-horse-battery"
ANSWERS = [("Password:", PASSWORD), ("Repeat for confirmation:", PASSWORD), ("[y/N]:", "y")]


@dataclass
class Command:
    text: str
    expected: list[str] = field(default_factory=list)

    @property
    def background(self) -> bool:
        words = self.text.split("#")[0].split()
        service = words[:2] in (["jot", "connector"],) or (
            words[:2] == ["jot", "server"] and all(w.startswith("-") for w in words[2:])
        )
        return self.text.rstrip().endswith("&") or service


@dataclass
class Block:
    path: Path
    line: int
    commands: list[Command]
    skipped: str | None


def blocks(path: Path) -> Iterator[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if line.strip() != "```console":
            continue
        marker = MARKER.match(lines[number - 1]) if number else None
        commands: list[Command] = []
        body = iter(lines[number + 1 :])
        for text in body:
            if text.strip() == "```":
                break
            if text.startswith("$ "):
                command = text[2:]
                while command.endswith("\\"):
                    command = command[:-1] + " " + next(body).strip()
                commands.append(Command(command))
            elif text.strip() and not text.startswith("#") and commands:
                commands[-1].expected.append(text)
        yield Block(path, number + 1, commands, marker.group(1) if marker else None)


def test_the_not_run_blocks_are_few_and_marked() -> None:
    skipped = [b for path in DOCS for b in blocks(path) if b.skipped]
    assert len(skipped) == NOT_RUN, [(b.path.name, b.line, b.skipped) for b in skipped]
    for path in DOCS:
        for block in blocks(path):
            assert block.commands or block.skipped, f"{path.name}:{block.line}: no command"


class Session:
    """One file's shell: its directory, environment, substitutions and background jobs."""

    def __init__(self, tmp: Path, url: str, listen: str) -> None:
        self.cwd = tmp / "work"
        self.cwd.mkdir()
        bin_dir = Path(sys.executable).parent
        self.env = {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "XDG_CONFIG_HOME": str(tmp / "config"),
            "XDG_CACHE_HOME": str(tmp / "cache"),
            "XDG_DATA_HOME": str(tmp / "data"),
            "JOT_LISTEN": listen,
            "NO_COLOR": "1",
        }
        for name in ("JOT_ACCESS_KEY", "JOT_SERVER", "JOT_CONFIG", "JOT_DATABASE_URL"):
            self.env.pop(name, None)
        connector = f"127.0.0.1:{free_port()}"
        self.replace = {
            "http://127.0.0.1:8080": url,
            "https://auth.example.com": url,
            "127.0.0.1:8081": connector,
        }
        self.jobs: list[tuple[subprocess.Popen[bytes], list[bytes]]] = []
        self.url = url

    def sub(self, text: str) -> str:
        for old, new in self.replace.items():
            text = text.replace(old, new)
        return text

    def run(self, command: Command, where: str) -> None:
        text = self.sub(command.text)
        expected = [self.sub(line) for line in command.expected]
        if command.background:
            output = self._background(text.rstrip().rstrip("&"), expected, where)
            _check_output(output, expected, where)
            return
        done = run_in_terminal(["bash", "-c", text], ANSWERS, env=self.env, cwd=str(self.cwd))
        fails = any(line.startswith("Error:") for line in expected)
        assert (done.returncode != 0) == fails, f"{where}: exit {done.returncode}\n{done.output}"
        _check_output(done.output, expected, where)

    def _background(self, text: str, expected: list[str], where: str) -> str:
        master, slave = os.openpty()
        process = subprocess.Popen(
            ["bash", "-c", f"exec {text}"], stdin=slave, stdout=slave, stderr=slave,
            env=self.env, cwd=self.cwd, start_new_session=True,
        )  # fmt: skip
        os.close(slave)
        chunks: list[bytes] = []
        threading.Thread(target=_drain, args=(master, chunks), daemon=True).start()
        self.jobs.append((process, chunks))
        is_server = text.split()[:2] == ["jot", "server"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            output = b"".join(chunks).decode(errors="replace")
            assert process.poll() is None, f"{where}: exited {process.returncode}\n{output}"
            if (is_server and _ready(self.url)) or "listening on" in output:
                return output
            time.sleep(0.1)
        raise AssertionError(f"{where}: not ready after 60 s\n{output}")

    def close(self) -> None:
        for process, _ in self.jobs:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def _drain(master: int, chunks: list[bytes]) -> None:
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 1)
            if ready:
                chunk = os.read(master, 4096)
                if not chunk:
                    return
                chunks.append(chunk)
    except OSError:
        return
    finally:
        os.close(master)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _check_output(output: str, expected: list[str], where: str) -> None:
    plain = _ANSI.sub("", output).replace("\r\n", "\n")
    lines = [line.rstrip("\r") for line in plain.splitlines()]
    at = 0
    for want in expected:
        pattern = re.compile(".*".join(re.escape(part) for part in want.strip().split("…")))
        while at < len(lines) and not pattern.search(lines[at]):
            at += 1
        assert at < len(lines), f"{where}: {want!r} not in the output:\n{output}"
        at += 1


def _files_to_run() -> list[Path]:
    return [path for path in DOCS if any(b.commands and not b.skipped for b in blocks(path))]


@pytest.mark.parametrize("path", _files_to_run(), ids=lambda path: path.name)
def test_the_console_blocks_run_as_written(path: Path, tmp_path: Path) -> None:
    assert shutil.which("curl"), "curl is needed by the README's tour"
    runnable = [b for b in blocks(path) if not b.skipped]
    first = runnable[0].commands[0]
    starts_its_own = first.background and first.text.split()[:2] == ["jot", "server"]
    port = free_port()
    if starts_its_own:
        _run_file(runnable, Session(tmp_path, f"http://127.0.0.1:{port}", f"127.0.0.1:{port}"))
        return
    with run_server(tmp_path / "server") as server:
        session = Session(tmp_path, server.url, f"127.0.0.1:{port}")
        session.replace["jot_ak_…"] = server.admin_key()
        home = Path(session.env["XDG_CONFIG_HOME"]).parent
        cli(home, "login", server.url, "--key-stdin", stdin=server.admin_key() + "\n")
        _run_file(runnable, session)


def _run_file(runnable: list[Block], session: Session) -> None:
    try:
        for block in runnable:
            for command in block.commands:
                session.run(command, f"{block.path.name}:{block.line}: $ {command.text}")
    finally:
        session.close()
