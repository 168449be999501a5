"""The Python SDK for the Inlier REST API v1.

    import inlier

    with inlier.Client("http://127.0.0.1:8000") as client:
        client.login("expert@example.org", "correct-horse")
        while (task := client.next_assignment(project_id)) is not None:
            client.submit(task["id"], answer={...})
        print("stopped:", client.last_reason)

``AsyncClient`` has the same methods, awaited (list and export methods are async iterators).
"""

from inlier.sdk._client import AsyncClient, Client
from inlier.sdk._errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InlierError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)

__all__ = [
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ConflictError",
    "InlierError",
    "InvalidInputError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
]
