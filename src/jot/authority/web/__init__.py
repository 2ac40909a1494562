"""The web interface that ``jot server`` serves on its own port: sign-in, "My access", the
token debugger and the admin console.

Pages are server-rendered (Jinja2) and act through the same API handlers and access checks
as the JSON routes (:func:`jot.authority.context.run_as`, with the browser session's access
key); nothing here implements a rule of its own. :mod:`.routes` lists every page.
"""

__all__: list[str] = []
