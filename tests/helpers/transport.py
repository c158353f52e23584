"""An in-memory stand-in for an asyncio transport, for driving a Client in-process."""

from __future__ import annotations

from typing import Any


class FakeTransport:
    """Collects what the client writes in ``buf``; ``port`` is the peer's."""

    def __init__(self, port: int = 40000) -> None:
        self.buf = bytearray()
        self.closed = False
        self.port = port

    def write(self, data: bytes) -> None:
        self.buf += data

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", self.port) if name in ("peername", "sockname") else default

    def get_write_buffer_size(self) -> int:
        return 0

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass
