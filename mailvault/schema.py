"""Every table mailvault has, registered on one metadata: what Alembic compares revisions with."""

from __future__ import annotations

from mailvault.access import models as access_models
from mailvault.archive import models as archive_models
from mailvault.handover import models as handover_models
from mailvault.ledger import models as ledger_models
from mailvault.retention import models as retention_models
from mailvault.signals import models as signal_models

# Importing a model module registers its tables on the one Base.
MODEL_MODULES = (
    archive_models,
    access_models,
    handover_models,
    ledger_models,
    retention_models,
    signal_models,
)
metadata = archive_models.Base.metadata
