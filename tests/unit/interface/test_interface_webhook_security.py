"""Webhook security's pure parts: the URL rules (scheme, allow-list, non-public addresses, in production and
outside it) and the sealing of signing secrets (round trip, KEK rotation, production's refusals)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from emms_interface import __main__ as cli
from emms_interface.settings import InterfaceSettings, WebhookSettings
from emms_interface.webhooks import targets
from emms_interface.webhooks.sealing import DEV_SECRET_KEY, SecretSealer, kek_keys
from emms_interface.webhooks.targets import TargetPolicy, TargetRefused

AUTH = {"accept_dev_tokens": False, "jwks_url": "http://identity:8007/.well-known/jwks.json"}
PROD = TargetPolicy(https_only=True, allow_private=False)
DEV = TargetPolicy(https_only=False, allow_private=True)
NON_PUBLIC = ["127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "224.0.0.0/4",
              "240.0.0.0/4", "0.0.0.0/8", "100.64.0.0/10", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8"]


def _in(network: str) -> st.SearchStrategy[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    net = ipaddress.ip_network(network)
    return st.integers(0, net.num_addresses - 1).map(lambda i: net[i])


@given(st.sampled_from(NON_PUBLIC).flatmap(_in))
def test_non_public_addresses_are_refused_unless_allowed(address: ipaddress.IPv4Address) -> None:
    assert targets.address_kind(address) is not None
    with pytest.raises(TargetRefused, match=r"host 'h\.example' resolves to .*allow_private_targets"):
        targets.check_address(PROD, "h.example", address)
    targets.check_address(DEV, "h.example", address)


@given(st.sampled_from(NON_PUBLIC[:9]).flatmap(_in))
def test_an_ipv4_mapped_ipv6_address_is_judged_as_its_ipv4_address(address: ipaddress.IPv4Address) -> None:
    assert targets.address_kind(ipaddress.IPv6Address(f"::ffff:{address}")) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert targets.address_kind(ipaddress.ip_address(address)) is None
    targets.check_address(PROD, "h.example", ipaddress.ip_address(address))


@pytest.mark.parametrize(("url", "rule"), [
    ("ftp://files.example/x", "absolute http"), ("file:///etc/passwd", "absolute http"),
    ("gopher://h.example/", "absolute http"), ("https:///nohost", "absolute http"),
    ("http://hooks.example/x", "only https"), ("https://h.example:99999/", "not a valid URL")])
def test_production_takes_absolute_https_urls_only(url: str, rule: str) -> None:
    with pytest.raises(TargetRefused, match=rule):
        targets.check_url(PROD, url)


def test_outside_production_http_is_accepted() -> None:
    assert targets.check_url(DEV, "http://Hooks.Example./x") == "hooks.example"


@given(st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z][a-z0-9-]{0,10}){0,3}", fullmatch=True))
def test_the_allow_list_takes_its_hosts_and_their_subdomains_only(label: str) -> None:
    policy = TargetPolicy(https_only=True, allow_private=False, allowed_hosts=("billing.example",))
    assert targets.check_url(policy, f"https://{label}.billing.example/h") == f"{label}.billing.example"
    assert targets.check_url(policy, "https://billing.example/h") == "billing.example"
    for host in (f"{label}billing.example", f"billing.example.{label}", f"{label}.example"):
        with pytest.raises(TargetRefused, match=f"host '{host}' is not in webhooks.allowed_hosts"):
            targets.check_url(policy, f"https://{host}/h")


async def test_a_host_is_checked_on_every_address_it_resolves_to() -> None:
    with pytest.raises(TargetRefused, match=r"'localhost' resolves to .* \(loopback\)"):
        await targets.resolve(PROD, "https://localhost/h")
    with pytest.raises(TargetRefused, match=r"'::1' resolves to ::1 \(loopback\)"):
        await targets.resolve(PROD, "https://[::1]/h")
    with pytest.raises(TargetRefused, match="does not resolve"):
        await targets.resolve(PROD, "https://no-such-host.invalid/h")
    target = await targets.resolve(DEV, "http://127.0.0.1:8080/h")
    assert target.addresses == (ipaddress.ip_address("127.0.0.1"),)


def test_the_policy_follows_the_environment_unless_set() -> None:
    assert WebhookSettings().policy("production") == TargetPolicy(True, False, (), 10.0)
    assert WebhookSettings().policy("test").allow_private
    assert WebhookSettings(allow_private_targets=False).policy("test").allow_private is False
    assert WebhookSettings(allowed_hosts=[" .Billing.Example. "]).policy("test").allowed_hosts == ("billing.example",)


@given(st.text(max_size=200))
def test_a_sealed_secret_opens_to_itself_and_holds_no_clear_text(secret: str) -> None:
    sealer = SecretSealer([DEV_SECRET_KEY])
    token = sealer.seal(secret)
    assert sealer.unseal(token) == secret
    assert len(secret) < 4 or secret.encode() not in token


def test_a_kek_rotation_unseals_with_either_key_and_reseals_under_the_first() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = SecretSealer([old]).seal("whsec_x")
    both = SecretSealer([new, old])
    assert both.unseal(token) == "whsec_x"
    renewed = both.renew(token)
    assert renewed is not None and both.renew(renewed) is None
    assert SecretSealer([new]).unseal(renewed) == "whsec_x"
    with pytest.raises(ValueError, match="does not open"):
        SecretSealer([new]).unseal(token)
    with pytest.raises(ValueError, match="new key first"):
        SecretSealer([Fernet.generate_key().decode()]).renew(token)


def test_production_refuses_the_development_key_and_no_key(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="published development key"):
        InterfaceSettings(_env_file=None, environment="production", auth=AUTH,
                          webhooks=WebhookSettings(secret_key=SecretStr(DEV_SECRET_KEY)))
    with pytest.raises(ValidationError, match="no key-encryption key for webhook secrets"):
        InterfaceSettings(_env_file=None, environment="production", auth=AUTH)
    with pytest.raises(ValidationError, match="Fernet keys"):
        InterfaceSettings(_env_file=None, webhooks=WebhookSettings(secret_key=SecretStr("short")))
    key = Fernet.generate_key().decode()
    (tmp_path / "k").write_text(f"{key}\n")
    settings = InterfaceSettings(_env_file=None, environment="production", auth=AUTH,
                                 webhooks=WebhookSettings(secret_key_file=tmp_path / "k"))
    assert settings.webhooks.secret_keys("production") == [key]
    assert kek_keys(None, None, "development") == [DEV_SECRET_KEY]
    with pytest.raises(ValueError, match="cannot read"):
        kek_keys(None, tmp_path / "missing", "production")


def test_generate_kek_prints_a_key_production_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    cli.main(["generate-kek"])
    key = capsys.readouterr().out.strip()
    settings = InterfaceSettings(_env_file=None, environment="production", auth=AUTH,
                                 webhooks=WebhookSettings(secret_key=SecretStr(key)))
    assert SecretSealer(settings.webhooks.secret_keys("production")).unseal(SecretSealer([key]).seal("s")) == "s"
