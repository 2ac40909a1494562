"""Request bodies checked before they are sent, with messages in the user's words.

The rules are the wire models' own (``jot.api``); this module only says them the way a
person typed the value: ``subject must be user:NAME or group:NAME``, not a regular
expression.
"""

from __future__ import annotations

from typing import Any, TypeVar

import click
from pydantic import BaseModel, ValidationError

__all__ = ["checked"]

M = TypeVar("M", bound=BaseModel)

#: What a value of each field looks like, for a value that does not match its pattern.
_SHAPES = {
    "subject": "user:NAME or group:NAME",
    "role": "letters, digits and : . _ - (e.g. viewer)",
    "resource": "a destination name, or DESTINATION.SUB for a part of it (e.g. web.reports)",
    "name": "letters, digits and @ . _ + : -, starting with a letter or digit",
    "kind": "lower-case letters, digits and -",
    "reason": "one line of text",
}
_DESTINATION_SHAPE = "lower-case letters, digits, _ and -, starting with a letter or digit"


def _say(model: type[BaseModel], error: Any) -> str:
    field = str(error["loc"][0]) if error["loc"] else "value"
    if error["type"] in ("string_pattern_mismatch", "string_too_short"):
        shape = _SHAPES.get(field, "")
        if field == "name" and "Destination" in model.__name__:
            shape = _DESTINATION_SHAPE
        if shape:
            return f"{field} must be {shape}"
    if error["type"] == "string_too_short" and field == "password":
        return f"password must be at least {error['ctx']['min_length']} characters"
    return f"{field}: {str(error['msg'])[0].lower()}{str(error['msg'])[1:]}"


def checked(model: type[M], **values: Any) -> M:
    """``model(**values)`` (``None`` values left out), or one line saying what is wrong."""
    try:
        return model(**{name: value for name, value in values.items() if value is not None})
    except ValidationError as exc:
        raise click.ClickException(_say(model, exc.errors()[0])) from None
