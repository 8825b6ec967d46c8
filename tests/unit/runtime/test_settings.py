"""Settings: one class per service, env prefix per service, project-wide fallbacks, safe defaults."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from emms_collector.settings import CollectorSettings
from emms_fep.settings import FepSettings


def test_service_prefix_and_nested_delimiter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMMS_FEP_HTTP__PORT", "18001")
    monkeypatch.setenv("EMMS_COLLECTOR_HTTP__PORT", "18002")
    assert FepSettings().http.port == 18001
    assert CollectorSettings().http.port == 18002


def test_project_wide_fallbacks_are_read_at_build_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMMS_DATABASE_URL", "postgresql://u@db:5432/x")
    monkeypatch.setenv("EMMS_KAFKA_BOOTSTRAP", "kafka:9092")
    s = FepSettings()
    assert s.database.url == "postgresql://u@db:5432/x" and s.kafka.bootstrap == "kafka:9092"
    monkeypatch.setenv("EMMS_FEP_KAFKA__BOOTSTRAP", "other:9092")
    assert FepSettings().kafka.bootstrap == "other:9092"


def test_unknown_settings_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError):
        FepSettings(no_such_setting=1)  # type: ignore[call-arg]


def test_production_refuses_development_tokens_and_needs_a_jwks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMMS_ENVIRONMENT", "production")
    monkeypatch.delenv("EMMS_ACCEPT_DEV_TOKENS", raising=False)
    monkeypatch.delenv("EMMS_JWKS_URL", raising=False)
    with pytest.raises(ValidationError, match="must not accept development tokens"):
        FepSettings()
    monkeypatch.setenv("EMMS_ACCEPT_DEV_TOKENS", "false")
    with pytest.raises(ValidationError, match="EMMS_JWKS_URL"):
        FepSettings()
    monkeypatch.setenv("EMMS_JWKS_URL", "http://identity:8007/.well-known/jwks.json")
    auth = FepSettings().auth
    assert not auth.accept_dev_tokens and auth.jwks_url.endswith("/jwks.json")


def test_one_nested_variable_keeps_the_sections_other_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from emms_archive.settings import ArchiveSettings

    monkeypatch.setenv("EMMS_ARCHIVE_HTTP__HOST", "0.0.0.0")
    s = ArchiveSettings()
    assert (s.http.host, s.http.port) == ("0.0.0.0", 8006)
    monkeypatch.setenv("EMMS_ARCHIVE_KAFKA__MAX_BATCH", "50")
    monkeypatch.setenv("EMMS_KAFKA_BOOTSTRAP", "kafka:9092")
    s = ArchiveSettings()
    assert (s.kafka.max_batch, s.kafka.bootstrap) == (50, "kafka:9092")


def test_topic_creation_can_be_left_to_the_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    from emms_archive.settings import ArchiveSettings

    assert ArchiveSettings().kafka.ensure_topics is True
    monkeypatch.setenv("EMMS_KAFKA_ENSURE_TOPICS", "false")
    assert ArchiveSettings().kafka.ensure_topics is False
