"""The levelled-administration rule in its parts, and the HTTP Basic client credentials parser."""

from __future__ import annotations

import base64

import pytest

from emms_identity.directory.levels import Admin, Scope, company_role_refusal, within
from emms_identity.model import Role
from emms_identity.tokens.endpoint import basic_credentials
from emms_identity.tokens.errors import OAuthError
from emms_runtime.auth import Principal


@pytest.mark.parametrize(("inner", "outer", "expected"), [
    ((), (), True), (("A",), (), True), (("A",), ("A", "B"), True), (("A", "B"), ("A",), False),
    ((), ("A",), False), (("B",), ("A",), False),
])
def test_within_reads_empty_as_everything(inner: tuple[str, ...], outer: tuple[str, ...], expected: bool) -> None:
    assert within(inner, outer) is expected


def admin(**scope: tuple[str, ...]) -> Admin:
    return Admin(rt=None, principal=Principal.with_role("a1", "admin", **scope), client_ip=None)  # type: ignore[arg-type]


def test_scope_refusals_name_the_kind_and_both_sides() -> None:
    a = admin(companies=("A",), regions=("R1",))
    assert a.scope_refusal(Scope(("A",), ("R1",)), "x") is None
    assert a.scope_refusal(Scope(("B",), ("R1",)), "x") == "x: companies ['B'] are not within your companies ['A']"
    assert a.scope_refusal(Scope(("A",), ()), "x") == \
        "x: regions all (unrestricted) are not within your regions ['R1']"
    assert admin().scope_refusal(Scope(), "x") is None


def test_missing_permissions_and_self() -> None:
    viewer = Admin(rt=None, principal=Principal.with_role("v1", "viewer", kind="user"),  # type: ignore[arg-type]
                   client_ip=None)
    assert viewer.missing(["readings:read", "users:manage"]) == ["users:manage"]
    assert viewer.is_self("V1") and not viewer.is_self("v2")
    dev = Admin(rt=None, principal=Principal.with_role("v1", "viewer", kind="dev"), client_ip=None)  # type: ignore[arg-type]
    assert not dev.is_self("v1")


def test_a_company_role_goes_only_to_that_company() -> None:
    mine = Role("reader-a", "", False, "A", ("readings:read",))
    assert company_role_refusal([mine], Scope(("A",))) is None
    assert "belongs to company A" in str(company_role_refusal([mine], Scope(("A", "B"))))
    assert "unrestricted" in str(company_role_refusal([mine], Scope()))
    assert company_role_refusal([Role("viewer", "", True, None, ())], Scope()) is None


def _basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


def test_basic_credentials_are_form_decoded() -> None:
    assert basic_credentials(_basic("billing%3A1:s%2Bcret+x")) == ("billing:1", "s+cret x")
    assert basic_credentials(_basic("id:")) == ("id", "")
    assert basic_credentials(None) is None
    assert basic_credentials("Bearer abc") is None
    with pytest.raises(OAuthError, match="not base64"):
        basic_credentials("Basic %%%")
    with pytest.raises(OAuthError, match="client_id:client_secret"):
        basic_credentials(_basic("no-colon"))
