"""``python -m emms_archive``: run the archive service alone."""

from __future__ import annotations

from emms_archive.app import create_app
from emms_archive.settings import ArchiveSettings
from emms_runtime import serve


def main() -> None:
    settings = ArchiveSettings()
    serve(create_app(settings), settings, service="archive")


if __name__ == "__main__":
    main()
