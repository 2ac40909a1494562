"""A Python client for the jot authority, sync and async; the CLI is a shell over it.

::

    from jot.client import Client, ops

    with Client("https://auth.example", access_key) as client:
        token = client.token("web").token
        users = client.call(ops.users_list())
"""

from __future__ import annotations

from jot.client import ops
from jot.client._async import AsyncClient
from jot.client._core import Call, ClientError, ConnectError
from jot.client._sync import Client

__all__ = ["AsyncClient", "Call", "Client", "ClientError", "ConnectError", "ops"]
