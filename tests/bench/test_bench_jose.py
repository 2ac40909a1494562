"""The benchmark script cannot rot: it runs (in its quick mode) and prints its table."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load_harness():
    # Loaded by path: putting bench/ on sys.path would let its jose.py shadow python-jose.
    spec = importlib.util.spec_from_file_location("_harness", BENCH / "_harness.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_harness"] = module  # dataclasses look their module up there.
    spec.loader.exec_module(module)
    return module


_harness = _load_harness()
FLOOR, Case, Target = _harness.FLOOR, _harness.Case, _harness.Target
check_targets, measure, render_table = (
    _harness.check_targets,
    _harness.measure,
    _harness.render_table,
)

ALGS = ("HS256", "RS256", "PS256", "ES256", "EdDSA")


def test_quick_run_prints_the_whole_table() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "jose.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.startswith("| operation"))
    for library in (FLOOR, "floor-direct", "jot", "PyJWT", "joserfc", "jwcrypto", "python-jose"):
        assert f" {library} |" in header
    rows = [line for line in lines if line.startswith(("| sign |", "| verify |"))]
    assert sorted(row.split(" | ")[1] for row in rows) == sorted(ALGS * 2)
    assert all("(" in row and "×)" in row for row in rows)
    targets = lines[lines.index("Targets:") + 1 :]
    # JWS (11), JWE (24, issue 3), and the JWS ones again against floor-direct (10).
    assert sum(line.startswith("- [") for line in targets) == 11 + 24 + 10
    jwe_rows = [line for line in lines if line.startswith(("| encrypt |", "| decrypt |"))]
    assert len(jwe_rows) == 8
    assert all(row.count("×)") == 3 for row in jwe_rows)  # jot, joserfc, jwcrypto


def _case(library: str, alg: str = "X", fn=lambda: None) -> Case:
    return Case(library, "op", alg, fn)


def test_ratios_are_paired_with_the_floor_of_the_same_round() -> None:
    cases = [_case(FLOOR), _case("lib", fn=lambda: sum(range(50)))]
    results = measure(cases, rounds=3, batch_seconds=0.001)
    assert [len(r.per_round_ns) for r in results] == [3, 3]
    floor, lib = results
    assert lib.ratios == [a / b for a, b in zip(lib.per_round_ns, floor.per_round_ns, strict=True)]
    table = render_table(results)
    assert table.splitlines()[0] == "| operation | alg | floor | lib |"
    assert "×)" in table.splitlines()[2]


def test_targets_report_ratios_and_missing_cases() -> None:
    results = measure([_case(FLOOR), _case("lib")], rounds=1, batch_seconds=0.0005)
    checked = check_targets(results, [Target("lib", "op", "X", 1e9), Target("lib", "op", "Y", 1e9)])
    assert [ok for _, _, ok in checked] == [True, False]
    assert checked[1][1] is None


@pytest.mark.parametrize(
    "cases",
    [[_case("lib")], [_case(FLOOR), _case(FLOOR)], [_case(FLOOR), _case("a"), _case("a")]],
    ids=["no-floor", "two-floors", "library-twice"],
)
def test_each_group_needs_one_floor_and_distinct_libraries(cases: list[Case]) -> None:
    with pytest.raises(ValueError, match="group"):
        measure(cases, rounds=1)


def test_a_broken_case_fails_before_timing() -> None:
    def broken() -> None:
        raise RuntimeError("broken case")

    with pytest.raises(RuntimeError, match="broken case"):
        measure([_case(FLOOR), _case("lib", fn=broken)], rounds=1)


@pytest.mark.parametrize(
    "workload",
    [
        ["floor-encrypt", "dir+A256GCM"],
        ["jot-decrypt", "A256KW+A256CBC-HS512"],
        ["keyword-only", "-"],
        ["positional-or-keyword", "-"],
    ],
)
def test_instruction_workloads_run(workload: list[str]) -> None:
    # What bench/instructions.py runs under valgrind, here without it: the workloads exist
    # and run (the counting itself needs valgrind, which CI does not install).
    done = subprocess.run(
        [sys.executable, str(BENCH / "instructions.py"), "--workload", *workload, "5"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_instruction_script_refuses_an_unknown_row() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "instructions.py"), "--rows", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("unknown rows ['nope']; known: dir+")
