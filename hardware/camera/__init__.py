"""Cameras of the kiosk: the document camera (高拍仪) and the face camera.

``pipeline`` holds the pure document pipeline (detect, warp, quality, auto-capture, JPEG/PDF) and
``synth`` the synthetic photographs it is tested and benchmarked on.
"""

__all__: list[str] = []
