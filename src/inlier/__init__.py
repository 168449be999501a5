from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from inlier.sdk import AsyncClient, Client, InlierError

__all__ = ["AsyncClient", "Client", "InlierError", "__version__"]


def __getattr__(name: str) -> Any:
    """``inlier.Client`` and friends, imported on first use so the server never loads the SDK."""
    if name in ("AsyncClient", "Client", "InlierError"):
        from inlier import sdk

        return getattr(sdk, name)
    raise AttributeError(f"module 'inlier' has no attribute {name!r}")
