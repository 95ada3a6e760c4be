"""The kiosk's ticket printer (ESC/POS): slip layouts, status bytes, preview, driver and simulator.

``ticket`` lays out slips as ESC/POS bytes, ``status`` parses DLE EOT answers, ``preview`` renders
ESC/POS to PNG; the device class lives in ``device`` with the python-escpos backend in ``escpos``
and a TCP simulator in ``sim``.
"""

__all__: list[str] = []
