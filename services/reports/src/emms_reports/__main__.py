"""``python -m emms_reports`` / ``emms-reports``: run the reports service alone."""

from __future__ import annotations

from emms_reports.app import create_app
from emms_reports.settings import ReportsSettings
from emms_runtime import serve


def main() -> None:
    settings = ReportsSettings()
    serve(create_app(settings), settings, service="reports")


if __name__ == "__main__":
    main()
