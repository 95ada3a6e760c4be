"""The JSON Schema of the signaling protocol, generated from the message models.

``python -m signaling.schema [PATH]`` writes it (default ``docs/signaling.schema.json``); a test
checks that the committed file equals :func:`json_schema`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from signaling.messages import MAX_FRAME_BYTES, PROTOCOL_VERSION, Message

__all__ = ["SCHEMA_ID", "json_schema", "main", "render"]

SCHEMA_ID = f"https://doorstep.invalid/schemas/signaling-v{PROTOCOL_VERSION}.json"


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one signaling frame."""
    schema = TypeAdapter(Message).json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"doorstep signaling message, protocol version {PROTOCOL_VERSION}",
        "description": (
            f"One WebSocket text frame: a JSON object of at most {MAX_FRAME_BYTES} UTF-8 bytes. "
            "See docs/signaling.md."
        ),
        **schema,
    }


def render() -> str:
    """The schema as the text committed in ``docs/signaling.schema.json``."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the schema to ``argv[0]`` (default ``docs/signaling.schema.json``)."""
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0] if args else "docs/signaling.schema.json")
    path.write_text(render(), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
