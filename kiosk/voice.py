"""Voice prompts for the resident's page: espeak-ng WAVs generated offline and cached on disk.

Every prompt is a catalog key (``prompt.*`` in ``kiosk/ui/i18n/<lang>.json``); its text is spoken
with ``espeak-ng`` (``-v cmn`` for Mandarin, ``-v en`` for English) into
``<cache_dir>/<lang>/<key>-<hash of the text>.wav`` once, and served from there afterwards. Prompts
are fixed catalog texts, never personal data, so the cache holds nothing about a resident. Without
espeak-ng the page still shows the written guidance and :meth:`VoicePrompts.wav` returns None.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import shutil
from pathlib import Path

__all__ = ["CATALOG_DIR", "VOICES", "VoicePrompts"]

logger = logging.getLogger(__name__)

CATALOG_DIR = Path(__file__).parent / "ui" / "i18n"
"""The page's string catalogs; the voice reads the same texts."""

VOICES = {"zh-CN": "cmn", "en": "en"}
"""espeak-ng voice per UI language."""


class VoicePrompts:
    """Catalog key → cached WAV (generated on first use)."""

    def __init__(self, cache_dir: Path, *, espeak: str | None = None, speed: int = 140) -> None:
        self.cache_dir = cache_dir
        self.espeak = espeak or shutil.which("espeak-ng")
        self.speed = speed
        self._texts = {
            lang: json.loads((CATALOG_DIR / f"{lang}.json").read_text(encoding="utf-8")) for lang in VOICES
        }
        self._locks: dict[Path, asyncio.Lock] = {}

    def text(self, key: str, lang: str) -> str | None:
        """The prompt's text in ``lang`` (None for keys that are not voice prompts)."""
        if not key.startswith("prompt.") or lang not in self._texts:
            return None
        value = self._texts[lang].get(key)
        return value if isinstance(value, str) else None

    def keys(self) -> list[str]:
        """Every voice prompt key of the catalog."""
        return sorted(k for k in self._texts["zh-CN"] if k.startswith("prompt."))

    async def wav(self, key: str, lang: str) -> Path | None:
        """The WAV for ``key`` in ``lang``, generated if needed; None if unknown or no espeak-ng."""
        text = self.text(key, lang)
        if text is None or self.espeak is None:
            return None
        digest = hashlib.sha256(f"{self.speed}:{text}".encode()).hexdigest()[:12]
        path = self.cache_dir / lang / f"{key}-{digest}.wav"
        if path.exists():
            return path
        lock = self._locks.setdefault(path, asyncio.Lock())
        async with lock:
            if path.exists():
                return path
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            proc = await asyncio.create_subprocess_exec(
                self.espeak,
                "-v",
                VOICES[lang],
                "-s",
                str(self.speed),
                "-w",
                str(tmp),
                text,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                _, err = await proc.communicate()
            except asyncio.CancelledError:  # shutting down mid-generation: leave no process behind
                proc.kill()
                await asyncio.shield(proc.wait())
                tmp.unlink(missing_ok=True)
                raise
            if proc.returncode != 0 or not tmp.exists():
                logger.warning("espeak-ng failed for %s (%s)", key, err.decode(errors="replace")[:200])
                return None
            tmp.replace(path)
        return path

    async def warm(self) -> int:
        """Generate every prompt in every language now (start-up); how many are available."""
        n = 0
        for lang in VOICES:
            for key in self.keys():
                if await self.wav(key, lang) is not None:
                    n += 1
        return n
