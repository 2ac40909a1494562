"""Instructions per JWE operation, jot against the floor: counts the machine's state cannot move.

Run ``.venv/bin/python bench/instructions.py`` (needs ``valgrind``, Debian's package of that
name); ``--rows dir+A256GCM --calls 2000`` for a shorter run.

Timings on a small shared machine move by several percent from one minute to the next (see
``docs/benchmarks.md``); the number of instructions a call executes does not. For each JWE
row of ``bench/jose.py`` (the same cases: :func:`_jwe_cases.jwe_cases`), encrypt and decrypt,
this runs the jot case and the floor case ``--calls`` times under ``valgrind
--tool=callgrind`` and prints the instructions per call. Only the timed loop is counted: it
runs inside one ``functools.reduce`` call, the function callgrind is told to collect in
(start-up, key generation and warm-up are not counted; the loop's own lambda, about 80
instructions, is, for everyone). Two runs go at a time (one per core).

A second table shows what a call's signature costs in CPython: a function with seven
keyword-only parameters that the call leaves to their defaults, against the same function
with positional-or-keyword ones (CPython 3.11 looks each omitted keyword-only default up in
a dict, on every call; ``jwe.decrypt_compact`` has seven such options).

``--workload NAME ROW CALLS`` is what valgrind runs: one workload, ``CALLS`` times.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _jwe_cases import DECRYPT, ENCRYPT, JWE_ROWS

from jot.jose import jwk as jot_jwk

_HERE = Path(__file__).resolve().parent
_LIBRARIES = ("floor", "jot")
_SIGNATURES = ("keyword-only", "positional-or-keyword")
_WARM_UP = 200


def _plaintext() -> bytes:
    """The plaintext of bench/jose.py's JWE rows: a signed JWT of jot's token shape."""
    # Loaded by path under another name: bench/jose.py would shadow python-jose as "jose".
    spec = importlib.util.spec_from_file_location("bench_jose", _HERE / "jose.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there.
    spec.loader.exec_module(module)
    sign = module._floor_signer("EdDSA", jot_jwk.generate("Ed25519"), module._claims())
    return str(sign()).encode("ascii")


def _jwe_workload(library: str, operation: str, row: str) -> Callable[[], object]:
    from _jwe_cases import jwe_cases

    for case in jwe_cases(_plaintext()):
        if (case.library, case.operation, case.alg) == (library, operation, row):
            return case.fn
    raise SystemExit(f"no {library} {operation} case for {row}")


def _keyword_only(
    token: object, keys: object, *, a: object = None, b: object = None, c: object = (),
    d: int = 1, e: bool = False, f: int = 2, g: int = 3,
) -> object:  # fmt: skip
    return token


def _positional(
    token: object, keys: object, a: object = None, b: object = None, c: object = (),
    d: int = 1, e: bool = False, f: int = 2, g: int = 3,
) -> object:  # fmt: skip
    return token


def _workload(name: str, row: str) -> Callable[[], object]:
    if name in _SIGNATURES:
        function = _keyword_only if name == "keyword-only" else _positional
        return lambda: function(1, 2)
    library, operation = name.split("-")
    return _jwe_workload(library, operation, row)


def run_workload(name: str, row: str, calls: int) -> None:
    """What valgrind runs: ``name`` warmed up, then called ``calls`` times inside one
    ``functools.reduce`` call (the only one: what callgrind counts)."""
    call = _workload(name, row)
    for _ in range(_WARM_UP):
        call()
    functools.reduce(lambda _, __: call(), range(calls), None)


def per_call(name: str, row: str, calls: int) -> int:
    """Instructions per call of the workload, counted inside ``functools.reduce`` only."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         "--collect-atstart=no", "--toggle-collect=functools_reduce", sys.executable, __file__,
         "--workload", name, row, str(calls)],
        capture_output=True, text=True, check=False, env={**os.environ, "PYTHONHASHSEED": "0"},
    )  # fmt: skip
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"valgrind failed for {name} {row}:\n{done.stderr[-2000:]}")
    return round(int(found.group(1)) / calls)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", default=",".join(JWE_ROWS), help="comma-separated JWE rows")
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--workload", nargs=3, metavar=("NAME", "ROW", "CALLS"))
    args = parser.parse_args(argv)
    if args.workload is not None:
        name, row, calls = args.workload
        run_workload(name, row, int(calls))
        return 0
    rows = args.rows.split(",")
    unknown = [row for row in rows if row not in JWE_ROWS]
    if unknown:
        raise SystemExit(f"unknown rows {unknown}; known: {', '.join(JWE_ROWS)}")
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    jobs = [(f"{library}-{operation}", row) for row in rows
            for operation in (ENCRYPT, DECRYPT) for library in _LIBRARIES]  # fmt: skip
    jobs += [(signature, "-") for signature in _SIGNATURES]
    with ThreadPoolExecutor(2) as pool:
        found = pool.map(lambda job: per_call(*job, args.calls), jobs)
        counts = dict(zip(jobs, found, strict=True))
    print(f"Instructions per call (valgrind --tool=callgrind, {args.calls} calls).")
    print()
    print("| operation | alg | floor | jot |")
    print("| --- | --- | ---: | ---: |")
    for row in rows:
        for operation in (ENCRYPT, DECRYPT):
            floor, jot = (counts[f"{library}-{operation}", row] for library in _LIBRARIES)
            print(f"| {operation} | {row} | {floor:,} | {jot:,} ({jot / floor:.3f}×) |")
    print()
    print("| a call `f(token, keys)` leaving seven options to their defaults | instructions |")
    print("| --- | ---: |")
    for signature in _SIGNATURES:
        print(f"| {signature} | {counts[signature, '-']:,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
