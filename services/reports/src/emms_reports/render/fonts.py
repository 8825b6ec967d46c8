"""The CJK font PDFs are set in: a TrueType font from Debian's font packages (fonts-wqy-microhei, installed
by ``make test`` / the image), registered with ReportLab once."""

from __future__ import annotations

from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from emms_runtime import Unavailable

CANDIDATES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/arphic/uming.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
)
NAME = "EMMS-CJK"


def find_font(configured: Path | None) -> Path | None:
    if configured is not None:
        return configured if configured.is_file() else None
    return next((p for p in CANDIDATES if p.is_file()), None)


def cjk_font(configured: Path | None) -> str:
    """The registered font's name; 503 naming the package when no CJK font is installed."""
    if NAME in pdfmetrics.getRegisteredFontNames():
        return NAME
    path = find_font(configured)
    if path is None:
        raise Unavailable("no CJK font for PDF reports: install Debian's fonts-wqy-microhei or set"
                          " EMMS_REPORTS_CJK_FONT to a TrueType font with Chinese glyphs")
    pdfmetrics.registerFont(TTFont(NAME, str(path), subfontIndex=0) if path.suffix == ".ttc"
                            else TTFont(NAME, str(path)))
    return NAME
