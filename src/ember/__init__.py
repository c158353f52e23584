"""ember: a Redis-compatible server with byte-compatible RDB/AOF persistence."""

__version__ = "0.1.0"
