"""Every area's tables, imported so that metadata (and Alembic) sees them all."""

from inlier.accounts import models as accounts_models
from inlier.audit import models as audit_models
from inlier.datasets import models as datasets_models
from inlier.db.base import Base
from inlier.experts import models as experts_models
from inlier.forum import models as forum_models
from inlier.llm import models as llm_models
from inlier.notify import models as notify_models
from inlier.pay import models as pay_models
from inlier.privacy import models as privacy_models
from inlier.projects import models as projects_models
from inlier.quality import models as quality_models
from inlier.workflow import models as workflow_models

metadata = Base.metadata

__all__ = [
    "accounts_models",
    "audit_models",
    "datasets_models",
    "experts_models",
    "forum_models",
    "llm_models",
    "metadata",
    "notify_models",
    "pay_models",
    "privacy_models",
    "projects_models",
    "quality_models",
    "workflow_models",
]
