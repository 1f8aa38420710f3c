"""A benchmark's progress lines on stderr, and exceptions in one line (for those lines and table cells)."""

from __future__ import annotations

import asyncio
import sys
import time


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def short_error(e: BaseException, limit: int = 160) -> str:
    if isinstance(e, (asyncio.TimeoutError, TimeoutError)) and not str(e):
        return "timed out"
    text = f"{type(e).__name__}: {e}".strip()
    cause = e.__cause__ or (None if e.__suppress_context__ else e.__context__)
    if cause is not None and type(cause).__name__ != type(e).__name__ and str(cause) and str(cause) not in text:
        text += f" (cause: {type(cause).__name__}: {cause})"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
