"""``python -m emms_operations``: run the operations service alone."""

from __future__ import annotations

from emms_operations.app import create_app
from emms_operations.settings import OperationsSettings
from emms_runtime import serve


def main() -> None:
    settings = OperationsSettings()
    serve(create_app(settings), settings, service="operations")


if __name__ == "__main__":
    main()
