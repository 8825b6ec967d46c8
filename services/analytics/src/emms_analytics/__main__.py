"""``python -m emms_analytics``: run the analytics service alone."""

from __future__ import annotations

from emms_analytics.app import create_app
from emms_analytics.settings import AnalyticsSettings
from emms_runtime import serve


def main() -> None:
    settings = AnalyticsSettings()
    serve(create_app(settings), settings, service="analytics")


if __name__ == "__main__":
    main()
