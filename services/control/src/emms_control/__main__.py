"""``python -m emms_control``: run the control service alone."""

from __future__ import annotations

from emms_control.app import create_app
from emms_control.settings import ControlSettings
from emms_runtime import serve


def main() -> None:
    settings = ControlSettings()
    serve(create_app(settings), settings, service="control")


if __name__ == "__main__":
    main()
