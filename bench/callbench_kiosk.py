"""``doorstep kiosk run`` as ``bench_call_browser`` measures it: the real kiosk process (``KIOSK_*``
settings, enrolled token, signaling, runtime, peer) with two bench-only hooks, applied by
patching names before the kiosk starts (the kiosk code is not changed):

- the synthetic video (used when no face camera is configured) stamps each frame with the wall
  clock (``SyntheticVideoTrack(stamped=True)``, :func:`kiosk.media.stamp`);
- received tracks are drained by :class:`callbench_probe.Probe` (first frame, stamps read back),
  written to the file named by ``CALLBENCH_PROBE``, with the peer connections' set-up milestones
  (:meth:`callbench_probe.Probe.hook_aiortc`).
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

from callbench_probe import Probe

import kiosk.cli
import kiosk.media_session
import kiosk.peer
import kiosk.warm
from kiosk.media import SyntheticVideoTrack


def main() -> int:
    probe = Probe(os.environ["CALLBENCH_PROBE"])
    probe.hook_aiortc()
    setattr(kiosk.cli, "SyntheticVideoTrack", functools.partial(SyntheticVideoTrack, stamped=True))  # noqa: B010
    setattr(kiosk.peer, "drain", probe.drain)  # noqa: B010
    # Diagnostics (docs/benchmarks.md): no document-camera m-line; no spare connection built while
    # idle (the offer built on the invite); neither (the offer built only when it is sent).
    if os.environ.get("CALLBENCH_NO_WARM") or os.environ.get("CALLBENCH_NO_PREPARE"):

        async def no_spare(self: Any) -> None:
            return None

        setattr(kiosk.warm.WarmOffer, "maintain", no_spare)  # noqa: B010
    if os.environ.get("CALLBENCH_NO_PREPARE"):
        setattr(kiosk.media_session.MediaSession, "prepare", lambda self: None)  # noqa: B010
    if os.environ.get("CALLBENCH_NO_DOCUMENT_TRACK"):
        original = kiosk.cli._track_factory

        def without_document(settings: Any, view: Any = None, document: Any = None) -> Any:
            return original(settings, view, None)

        setattr(kiosk.cli, "_track_factory", without_document)  # noqa: B010
    return kiosk.cli.main(["run"])


if __name__ == "__main__":
    sys.exit(main())
