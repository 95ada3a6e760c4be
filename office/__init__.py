"""The street-office server that kiosks and consoles connect to.

Build the app with :func:`office.app.create_app` from validated :class:`office.settings.Settings`.
"""

__all__: list[str] = []
