"""``python -m emms_validator``: run the validator service alone."""

from __future__ import annotations

from emms_runtime import serve
from emms_validator.app import create_app
from emms_validator.settings import ValidatorSettings


def main() -> None:
    settings = ValidatorSettings()
    serve(create_app(settings), settings, service="validator")


if __name__ == "__main__":
    main()
