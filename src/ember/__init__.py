"""ember: a Redis-compatible server with byte-compatible RDB/AOF persistence."""

__version__ = "0.1.0"


def build_kind() -> str:
    """``compiled`` when the request path runs as mypyc extension modules (the tree
    ``scripts/compile.py`` builds), ``pure`` when it is interpreted."""
    from ember.server import client

    return "pure" if (client.__file__ or "").endswith(".py") else "compiled"
