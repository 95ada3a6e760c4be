"""Cameras of the kiosk: the document camera (高拍仪) and the face camera.

* :class:`DocumentCamera` and :class:`FaceCamera` are the device classes (``hardware.camera.device``);
* ``pipeline`` is the pure document pipeline (detect, warp, quality, auto-capture, JPEG/PDF);
* ``synth`` renders the synthetic photographs the simulator, tests and benchmark use;
* ``sim`` holds the simulated cameras and ``uvc`` the OpenCV UVC backend.
"""

from hardware.camera.device import Camera, CaptureResult, DocumentCamera, FaceCamera, Negotiated
from hardware.camera.errors import PoorImage

__all__ = ["Camera", "CaptureResult", "DocumentCamera", "FaceCamera", "Negotiated", "PoorImage"]
