"""Run oidc-provider-mock on a free loopback port (a real OIDC provider for the tests).

Prints ``PORT <n>`` once it listens. Usage: ``python -m tests.oidc.mock_idp`` or as a script.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

import werkzeug.serving
from oidc_provider_mock import app


def main() -> None:
    server = werkzeug.serving.make_server("127.0.0.1", 0, app(require_nonce=True), threaded=True)
    print(f"PORT {server.server_port}", flush=True)
    sys.stdout.flush()
    server.serve_forever(0.05)


if __name__ == "__main__":
    main()
