"""The station kiosk: aiortc call media, devices over signaling, enrollment and the office client.

Modules: :mod:`kiosk.config` (settings, token store), :mod:`kiosk.media` (camera, synthetic
tracks, drains), :mod:`kiosk.peer` (one peer connection: tracks, control channel, health),
:mod:`kiosk.media_session` (a call's peer connections, renegotiation),
:mod:`kiosk.devices` (``hw.request`` → devices, consent hook), :mod:`kiosk.runtime` (the process's
main loop), :mod:`kiosk.office_client` and :mod:`kiosk.enroll` (HTTP to the office),
:mod:`kiosk.cli` (``doorstep kiosk``). The resident UI lives in ``kiosk/ui``, ``kiosk/web.py`` and
``kiosk/session.py`` (built separately) and plugs in through the runtime's hooks.
"""

__all__: list[str] = []
