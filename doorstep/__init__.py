"""doorstep (家门口): the composition root — the ``doorstep`` command and the demo launcher.

It is the one place allowed to import every package (office, kiosk, hardware, …); nothing imports it.
"""

__all__: list[str] = []
