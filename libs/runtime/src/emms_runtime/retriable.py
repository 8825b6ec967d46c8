"""The project's one retriable-error classification: an outage of the network, the broker or the
database (wait and try again) versus an error of the work itself (trying again cannot help).

Used by every bus consumer a service registers (a retriable handler error pauses the consumer
instead of dead-lettering) and by every periodic worker (a retriable error is retried soon and
logged as a warning; any other is logged with its traceback and counted).
"""

from __future__ import annotations

from emms_bus.errors import causes, is_transient_itself
from emms_db.errors import is_retriable_db_error


def is_retriable(exc: BaseException) -> bool:
    """True when waiting for the network, the broker or the database can cure ``exc``
    (its ``raise … from`` causes included)."""
    return any(is_transient_itself(e) or is_retriable_db_error(e) for e in causes(exc))
