import jot


def test_version() -> None:
    assert jot.__version__.count(".") == 2


def test_the_destination_settings_load_without_the_destination_dependencies() -> None:
    # `jot --help` loads `jot connector`, which shows these defaults: it must not pull in the
    # verifier's dependencies (httpx, pydantic, yaml) or the verifier itself.
    import subprocess
    import sys

    code = (
        "import sys, jot.destination.settings, jot.destination;"
        "print(sorted(m for m in ('httpx', 'pydantic', 'yaml', 'jot.destination.verifier')"
        " if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
