"""Control keeps its own copy of the archive's customer categories (a service never imports another):
the two must be equal."""

from __future__ import annotations

from emms_archive.masterdata.categories import CATEGORIES as ARCHIVE_CATEGORIES
from emms_control.categories import CATEGORIES, check_category


def test_the_categories_equal_the_archives_in_order_and_utility() -> None:
    assert [(c.code, c.utility.value) for c in ARCHIVE_CATEGORIES] == [(c, u.value) for c, u in CATEGORIES.items()]
    assert len(CATEGORIES) == 22


def test_a_category_of_another_utility_is_refused_with_the_reason() -> None:
    assert check_category("water", "w_residential") is None
    assert "belongs to electricity" in (check_category("water", "e_residential") or "")
    assert "unknown" in (check_category("gas", "hospital") or "")
