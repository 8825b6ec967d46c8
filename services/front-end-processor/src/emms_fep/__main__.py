"""``python -m emms_fep``: run the front-end processor service alone."""

from __future__ import annotations

from emms_fep.app import create_app
from emms_fep.settings import FepSettings
from emms_runtime import serve


def main() -> None:
    settings = FepSettings()
    serve(create_app(settings), settings, service="fep")


if __name__ == "__main__":
    main()
