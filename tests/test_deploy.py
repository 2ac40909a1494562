"""deploy/: the systemd units pass `systemd-analyze verify` and are hardened, the
Containerfile passes hadolint and has the shape docs/deployment.md promises, the Kubernetes
example passes the Kubernetes schemas (strict, offline); and every command line in them is a
real `jot` command line (an option that does not exist fails here, not at 3 a.m.)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import kubernetes_validate
import pytest
import yaml

from jot.authority.cli import server as authority_server
from jot.authority.routes import RAW_ROUTES
from jot.cli.main import cli

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
#: Each unit file, and the name it is verified as (a template needs an instance).
UNITS = {
    "jot-server.service": "jot-server.service",
    "jot-connector@.service": "jot-connector@web.service",
}


def check_command_line(argv: list[str]) -> None:
    """Every ``--option`` of ``jot ARGV`` is one its (sub)command takes, shown or hidden."""
    ctx = click.Context(cli)
    command: click.Command = cli
    rest = list(argv)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        found = authority_server if command is cli and rest[0] == "server" else None
        found = found or command.get_command(ctx, rest[0])
        assert found is not None, f"jot {' '.join(argv)}: no command {rest[0]!r}"
        command, rest = found, rest[1:]
    known = {o for p in command.params for o in [*p.opts, *p.secondary_opts]}
    for word in rest:
        if word.startswith("--"):
            assert word.split("=")[0] in known, f"jot {' '.join(argv)}: no option {word}"


# -- systemd ---------------------------------------------------------------------------------


def _unit_copies(tmp_path: Path) -> list[Path]:
    """The units, with ExecStart on this environment's jot (verify checks that it exists)."""
    copies = []
    for source, name in UNITS.items():
        text = (DEPLOY / "systemd" / source).read_text()
        copy = tmp_path / name
        copy.write_text(text.replace("/usr/local/bin/jot", str(BIN / "jot")))
        copies.append(copy)
    return copies


def test_the_systemd_units_verify(tmp_path: Path) -> None:
    done = subprocess.run(
        ["systemd-analyze", "verify", *(str(p) for p in _unit_copies(tmp_path))],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout + done.stderr == ""  # Not one warning (unknown keys are only warnings).


@pytest.mark.parametrize("name", UNITS.values())
def test_the_systemd_units_are_hardened(tmp_path: Path, name: str) -> None:
    unit = next(p for p in _unit_copies(tmp_path) if p.name == name)
    text = unit.read_text()
    for line in ("DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes",
                 "CapabilityBoundingSet=\n", "PrivateTmp=yes", "ProtectHome=yes"):  # fmt: skip
        assert line in text, line
    assert re.search(r"^StateDirectory=jot", text, re.M)
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(unit)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    found = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found.group(1)) <= 2.0, done.stdout  # systemd calls up to 2.0 "OK".


@pytest.mark.parametrize("connector", ["forward-auth", "proxy", "webhook"])
def test_the_units_run_real_jot_command_lines(connector: str) -> None:
    for source in UNITS:
        text = (DEPLOY / "systemd" / source).read_text()
        (line,) = re.findall(r"^ExecStart=(.*)$", text, re.M)
        line = line.replace("${JOT_CONNECTOR}", connector).replace("$JOT_CONNECTOR_ARGS", "")
        argv = shlex.split(line.replace("%i", "web").replace("%d", "/run/credentials"))
        assert argv[0] == "/usr/local/bin/jot"
        check_command_line(argv[1:])


# -- Containerfile ---------------------------------------------------------------------------


def instructions(path: Path) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` of a Containerfile, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", path.read_text())
    found = []
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def test_the_containerfile_passes_hadolint() -> None:
    done = subprocess.run(
        [str(BIN / "hadolint"), "--failure-threshold", "style", str(DEPLOY / "Containerfile")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""


def test_the_containerfile_is_multi_stage_non_root_and_checks_its_health() -> None:
    steps = instructions(DEPLOY / "Containerfile")
    stages = [i for i, (word, _) in enumerate(steps) if word == "FROM"]
    assert len(stages) >= 2
    final = steps[stages[-1] :]
    (user,) = [args for word, args in final if word == "USER"]
    assert not re.match(r"(root|0)(:|$)", user)
    assert any(word == "COPY" and args.startswith("--from=build ") for word, args in final)
    (health,) = [args for word, args in final if word == "HEALTHCHECK"]
    assert "/healthz" in health
    assert ("GET", "/healthz") in [(m, p) for m, p, *_ in RAW_ROUTES]
    env = " ".join(args for word, args in final if word == "ENV")
    assert "JOT_LISTEN=0.0.0.0:8080" in env
    assert ("EXPOSE", "8080") in final
    entry = [yaml.safe_load(args) for word, args in final if word in ("ENTRYPOINT", "CMD")]
    check_command_line([*entry[0][1:], *entry[1]])
    for word, args in steps:  # What the build copies is in the repository.
        if word == "COPY" and not args.startswith("--from"):
            for source in args.split()[:-1]:
                assert (ROOT / source).exists(), source


def test_the_container_build_pins_what_the_repository_pins() -> None:
    text = (DEPLOY / "Containerfile").read_text()
    make_uv = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert make_uv
    assert f"uv=={make_uv.group(1)}" in text
    # The build's `uv export` works on this lock and brings both extras, with hashes.
    command = re.search(r"uv export ([^\n\\]+)", text)
    assert command
    args = [a for a in command.group(1).split() if a != "-o" and not a.startswith("/")]
    done = subprocess.run(
        [str(BIN / "uv"), "export", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for name in ("fastapi==", "starlette==", "click==", "httptools==", "--hash=sha256:"):
        assert name in done.stdout, name
    assert "\njot" not in done.stdout  # The project itself comes from the wheel.


# -- Kubernetes ------------------------------------------------------------------------------


def manifests() -> list[tuple[str, dict]]:
    return [
        (path.name, doc)
        for path in sorted((DEPLOY / "kubernetes").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


@pytest.mark.parametrize("version", ["1.30.0", kubernetes_validate.latest_version()])
def test_the_kubernetes_example_passes_the_schemas(version: str) -> None:
    kinds = set()
    for _, doc in manifests():
        kubernetes_validate.validate(doc, version, strict=True)
        kinds.add((doc["kind"], doc["metadata"]["name"]))
    assert {("Deployment", "jot-authority"), ("Service", "jot-authority"),
            ("Secret", "jot-authority"), ("Deployment", "jot-proxy")} <= kinds  # fmt: skip


def test_the_kubernetes_example_holds_together() -> None:
    docs = [doc for _, doc in manifests()]
    secrets = {d["metadata"]["name"]: set(d["stringData"]) for d in docs if d["kind"] == "Secret"}
    routes = {path for _, path, *_ in RAW_ROUTES}
    for deployment in (d for d in docs if d["kind"] == "Deployment"):
        pod = deployment["spec"]["template"]
        assert pod["metadata"]["labels"] == deployment["spec"]["selector"]["matchLabels"]
        for container in pod["spec"]["containers"]:
            check_command_line(container["args"])
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            for env in container.get("env", []):
                ref = env["valueFrom"]["secretKeyRef"]
                assert ref["key"] in secrets[ref["name"]], ref
            for probe in ("readinessProbe", "livenessProbe"):
                path = container[probe].get("httpGet", {}).get("path")
                assert path is None or path in routes, path
        for volume in pod["spec"]["volumes"]:
            name = volume.get("secret", {}).get("secretName")
            assert name is None or name in secrets or name.endswith("-tls"), name
        labels = pod["metadata"]["labels"]
        ports = {p["name"] for c in pod["spec"]["containers"] for p in c["ports"]}
        services = [d for d in docs if d["kind"] == "Service" and d["spec"]["selector"] == labels]
        assert services, deployment["metadata"]["name"]
        assert {p["targetPort"] for s in services for p in s["spec"]["ports"]} <= ports
