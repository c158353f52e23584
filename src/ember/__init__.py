"""ember: a Redis-compatible server with byte-compatible RDB/AOF persistence."""

__version__ = "0.1.0"


def is_compiled(module_file: str | None) -> bool:
    """Whether the module at ``module_file`` (its ``__file__``) runs as a mypyc extension
    module (the tree ``scripts/compile.py`` builds) rather than interpreted."""
    return not (module_file or "").endswith(".py")


def build_kind() -> str:
    """``compiled`` when the request path runs as mypyc extension modules, ``pure`` when
    it is interpreted."""
    from ember.server import client

    return "compiled" if is_compiled(client.__file__) else "pure"
