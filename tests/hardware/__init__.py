"""Tests of the hardware layer (device model, ID card, fingerprint, diagnostics)."""
