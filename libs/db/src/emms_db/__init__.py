"""asyncpg pool, ordered SQL migrations, storage-mode probe and consumer inbox."""

from emms_db.migrations import MigrationError, MigrationReport, migrate, migrate_url
from emms_db.pool import create_pool, drop_database, ensure_database
from emms_db.settings import DatabaseSettings
from emms_db.storage_mode import StorageMode, detect_storage_mode

__all__ = [
    "DatabaseSettings", "MigrationError", "MigrationReport", "StorageMode", "create_pool",
    "detect_storage_mode", "drop_database", "ensure_database", "migrate", "migrate_url",
]
