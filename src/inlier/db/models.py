"""Every area's tables, imported so that metadata (and Alembic) sees them all."""

from inlier.accounts import models as accounts_models
from inlier.db.base import Base
from inlier.forum import models as forum_models
from inlier.llm import models as llm_models
from inlier.notify import models as notify_models
from inlier.projects import models as projects_models
from inlier.workflow import models as workflow_models

metadata = Base.metadata

__all__ = [
    "accounts_models",
    "forum_models",
    "llm_models",
    "metadata",
    "notify_models",
    "projects_models",
    "workflow_models",
]
