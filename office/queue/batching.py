"""Call-next presses arriving together are claimed together: the generic combiner now lives in
:mod:`office.batching` (also used by the session look-up); this name stays importable."""

from __future__ import annotations

from office.batching import Combiner, combiner_for

__all__ = ["Combiner", "combiner_for"]
