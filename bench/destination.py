"""Benchmark of the destination side: how many allow/deny decisions per second.

One run, one table. Each server runs in its own process on one worker, all through the same
``jot.destination.serve.serve`` (so the same uvicorn settings: httptools, which the destination
extra installs, no access log), and the same load generator (raw asyncio, keep-alive, 32
connections) drives each in turn:

* ``forward-auth cached``: ``jot connector forward-auth``, warm verification cache;
* ``forward-auth uncached``: the same with ``--cache-size 0`` (every request checks the
  signature and the claims);
* ``bare hello``: a plain ASGI "hello" on the same stack (the ceiling);
* ``starlette+pyjwt``: what a user would write instead: Starlette, ``jwt.decode`` from PyJWT
  and a dict of group → roles.

Targets (issue 5): cached ≥ 0.75 × bare; uncached ≥ 1.2 × PyJWT baseline; RSS growth under
10 % after warm-up. Usage: ``python bench/destination.py [--duration 60] [--connections 32]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ISSUER = "https://auth.example.com"


def serve_mode(mode: str, jwks_file: str) -> None:
    """Child process: serve the bare or the baseline app on a free port."""
    if mode == "hello":

        async def app(scope, receive, send):  # type: ignore[no-untyped-def]
            if scope["type"] != "http":
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"5")],
                }
            )
            await send({"type": "http.response.body", "body": b"hello"})

    else:
        app = baseline_app(jwks_file)
    from jot.destination.serve import serve

    serve(app, host="127.0.0.1", port=0)


def baseline_app(jwks_file: str):  # type: ignore[no-untyped-def]
    import jwt
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    key = jwt.PyJWK(json.loads(Path(jwks_file).read_text())["keys"][0])
    roles = {"ops": ["admin"], "dev": ["viewer"]}

    async def auth(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return Response(status_code=401)
        try:
            claims = jwt.decode(
                header[7:], key, algorithms=["EdDSA"], audience="web", issuer=ISSUER
            )
        except jwt.PyJWTError:
            return Response(status_code=401)
        granted = sorted({r for g in claims.get("groups", []) for r in roles.get(g, [])})
        if not granted:
            return Response(status_code=403)
        return Response(headers={"x-jot-user": claims["name"], "x-jot-roles": ",".join(granted)})

    return Starlette(routes=[Route("/auth", auth)])


# -- load generator ---------------------------------------------------------------------------
async def _worker(
    port: int, request: bytes, stop: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


async def _load(
    port: int, request: bytes, seconds: float, connections: int
) -> tuple[list[float], list[int]]:
    latencies: list[float] = []
    errors: list[int] = []
    stop = time.perf_counter() + seconds
    await asyncio.gather(
        *(_worker(port, request, stop, latencies, errors) for _ in range(connections))
    )
    return latencies, errors


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process: a cost per decision that a busy machine does not
    distort the way it distorts throughput."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@contextlib.contextmanager
def server(command: list[str]) -> Iterator[tuple[int, int]]:
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"server did not start: {command}")
        yield int(line.rsplit(":", 1)[1]), process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


def run_all(
    commands: dict[str, list[str]], request: bytes, args: argparse.Namespace
) -> dict[str, dict[str, float]]:
    """Start every server, then load them in interleaved rounds, so that a change in the
    machine's load (it is shared) hits every scenario alike instead of the last one."""
    latencies: dict[str, list[float]] = {name: [] for name in commands}
    with contextlib.ExitStack() as stack:
        servers = {name: stack.enter_context(server(cmd)) for name, cmd in commands.items()}
        for port, _ in servers.values():
            asyncio.run(_load(port, request, args.warmup, args.connections))
        rss_start = {name: rss_kib(pid) for name, (_, pid) in servers.items()}
        cpu_start = {name: cpu_seconds(pid) for name, (_, pid) in servers.items()}
        for _ in range(args.rounds):
            for name, (port, _) in servers.items():
                seconds = args.duration / args.rounds
                got, errors = asyncio.run(_load(port, request, seconds, args.connections))
                if errors:
                    raise RuntimeError(f"{len(errors)} non-200 answers ({errors[0]}) from {name}")
                latencies[name] += got
        rss_end = {name: rss_kib(pid) for name, (_, pid) in servers.items()}
        cpu = {name: cpu_seconds(pid) - cpu_start[name] for name, (_, pid) in servers.items()}
    return {
        name: {
            **_summary(latencies[name], rss_start[name], rss_end[name], args),
            "cpu": cpu[name] * 1000 / max(1, len(latencies[name])),
        }
        for name in commands
    }


def _summary(
    latencies: list[float], start: int, end: int, args: argparse.Namespace
) -> dict[str, float]:
    latencies.sort()
    return {
        "rps": len(latencies) / args.duration,
        "p50": latencies[len(latencies) // 2] * 1000,
        "p99": latencies[int(len(latencies) * 0.99)] * 1000,
        "rss_start": start / 1024,
        "rss_end": end / 1024,
    }


def fixtures(directory: Path) -> tuple[str, str, str]:
    from jot.jose import jwk, jwt

    key = jwk.generate("Ed25519")
    jwks = directory / "jwks.json"
    jwks.write_text(json.dumps({"keys": [key.public().to_dict()]}))
    grants = directory / "grants.toml"
    grants.write_text('[[grants]]\nsubject = "group:ops"\nrole = "admin"\nresource = "web"\n')
    now = int(time.time())
    claims = {
        "iss": ISSUER, "sub": "u_alice", "aud": "web", "name": "alice@example.com",
        "groups": ["ops"], "iat": now, "nbf": now - 300, "exp": now + 3600,
        "nonce": "n", "jti": "j1",
    }  # fmt: skip
    return str(jwks), str(grants), jwt.encode(claims, key, typ="jot+jwt")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds")
    parser.add_argument("--serve", choices=["hello", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--jwks", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_mode(args.serve, args.jwks)
        return
    with tempfile.TemporaryDirectory() as tmp:
        jwks, grants, token = fixtures(Path(tmp))
        request = (
            f"GET /auth HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n"
        ).encode()
        jot = str(Path(sys.executable).with_name("jot"))
        fa = [jot, "connector", "forward-auth", "--issuer", ISSUER, "--name", "web",
              "--jwks-file", jwks, "--grants-file", grants, "--port", "0"]  # fmt: skip
        me = [sys.executable, __file__, "--jwks", jwks, "--serve"]
        commands = {
            "forward-auth cached": fa,
            "forward-auth uncached": [*fa, "--cache-size", "0"],
            "bare hello": [*me, "hello"],
            "starlette+pyjwt": [*me, "baseline"],
        }
        runs = run_all(commands, request, args)
    report(runs, args)


def _http() -> str:
    """The HTTP parser uvicorn's ``http="auto"`` picks for every server here."""
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11"
    return "httptools"


def report(runs: dict[str, dict[str, float]], args: argparse.Namespace) -> None:
    python = sys.version.split()[0]
    print(
        f"{args.connections} connections, {args.duration:.0f} s each, one worker ({_http()}), "
        f"Python {python}, {os.cpu_count()} CPUs"
    )
    columns = ("decisions/s", "p50 ms", "p99 ms", "CPU ms/decision", "RSS MiB")
    widths = (11, 7, 7, 15, 13)
    cells = " | ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True))
    print(f"| {'scenario':<22} | {cells} |")
    print("|" + "|".join("-" * (w + 2) for w in (22, *widths)) + "|")
    for name, r in runs.items():
        rss = f"{r['rss_start']:.0f} → {r['rss_end']:.0f}"
        cells = f"{r['rps']:>11,.0f} | {r['p50']:>7.2f} | {r['p99']:>7.2f} | {r['cpu']:>15.3f}"
        print(f"| {name:<22} | {cells} | {rss:>13} |")
    cached, uncached = runs["forward-auth cached"]["rps"], runs["forward-auth uncached"]["rps"]
    bare, base = runs["bare hello"]["rps"], runs["starlette+pyjwt"]["rps"]
    growth = max((r["rss_end"] - r["rss_start"]) / r["rss_start"] for r in runs.values())
    print(f"cached / bare = {cached / bare:.2f} (target ≥ 0.75)")
    print(f"uncached / pyjwt = {uncached / base:.2f} (target ≥ 1.2)")
    cpu_ratio = runs["starlette+pyjwt"]["cpu"] / runs["forward-auth uncached"]["cpu"]
    print(f"uncached / pyjwt by CPU per decision = {cpu_ratio:.2f}")
    print(f"max RSS growth = {growth:.1%} (target < 10 %)")


if __name__ == "__main__":
    main()
