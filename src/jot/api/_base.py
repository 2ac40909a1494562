"""Shared pieces of the wire models: strict request bodies and name patterns."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CONTROL",
    "DestinationName",
    "Label",
    "Name",
    "Request",
    "Resource",
    "Response",
    "Role",
    "Subject",
]

#: Control characters (C0, DEL, C1) as a regex class body: never accepted in stored text (an
#: ESC reaches terminals that display it, a NUL breaks PostgreSQL text).
CONTROL = r"\x00-\x1f\x7f-\x9f"

#: Names of identities and groups: an e-mail address, a host name, a plain word.
Name = Annotated[
    str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9][A-Za-z0-9@._+:-]*$")
]

#: Destination names: DNS-label-like, no dots (a dot separates the sub-resource of a grant).
DestinationName = Annotated[
    str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9_-]*$")
]


#: A grant's subject: ``user:<name>`` or ``group:<name>``.
Subject = Annotated[
    str,
    Field(min_length=6, max_length=300, pattern=r"^(user|group):[A-Za-z0-9][A-Za-z0-9@._+:-]*$"),
]

#: A role: a name the destination understands (a Kubernetes cluster role, an app's role).
Role = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9:._-]+$")]

#: ``destination[.sub-resource]``: what a grant applies to.
Resource = Annotated[
    str,
    Field(min_length=1, max_length=300, pattern=rf"^[a-z0-9][a-z0-9_-]*(\.[^\s{CONTROL}]+)?$"),
]

#: Free text that people choose (an access key's label): any printable text, one line.
Label = Annotated[str, Field(min_length=1, max_length=253, pattern=rf"^[^{CONTROL}]+$")]


class Request(BaseModel):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Response(BaseModel):
    """A response body."""

    model_config = ConfigDict(extra="forbid")
