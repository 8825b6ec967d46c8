"""``python -m emms_collector``: run the collector service alone."""

from __future__ import annotations

from emms_collector.app import create_app
from emms_collector.settings import CollectorSettings
from emms_runtime import serve


def main() -> None:
    settings = CollectorSettings()
    serve(create_app(settings), settings, service="collector")


if __name__ == "__main__":
    main()
