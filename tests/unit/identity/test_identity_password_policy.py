"""The password policy: each rule named when broken, generated passwords always acceptable."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from emms_identity.passwords.policy import character_classes, generate, violations
from emms_identity.settings import PasswordPolicy

POLICY = PasswordPolicy()


def test_a_good_password_breaks_no_rule() -> None:
    assert violations(POLICY, "Correct-Horse-9-battery", "alice") == []


def test_every_broken_rule_is_named_at_once() -> None:
    broken = violations(POLICY, "alice", "alice")
    assert broken == ["shorter than 12 characters",
                      "uses 1 of the character classes (lower case, upper case, digits, other); at least 3 are needed",
                      "contains the username"]


def test_the_username_is_found_whatever_its_case() -> None:
    assert violations(POLICY, "xxGRIDOPxx-2026", "gridop") == ["contains the username"]
    assert violations(POLICY.model_copy(update={"forbid_username": False}), "xxGRIDOPxx-2026", "gridop") == []


def test_the_policy_is_configurable() -> None:
    lax = PasswordPolicy(min_length=8, min_classes=1)
    assert violations(lax, "abcdefgh") == []
    assert violations(PasswordPolicy(max_length=16), "Aa1-" * 5) == ["longer than 16 characters"]


def test_character_classes_count_letters_of_any_script_and_others() -> None:
    assert character_classes("abc") == 1
    assert character_classes("aB3") == 3
    assert character_classes("aB3!") == 4
    assert character_classes("电表密码ab") == 2  # CJK characters are "other"


@given(st.text(alphabet=string.printable + "ÄéßΩ电", max_size=40), st.text(alphabet=string.ascii_lowercase,
                                                                             min_size=0, max_size=10))
def test_violations_agree_with_each_rule(password: str, username: str) -> None:
    broken = violations(POLICY, password, username)
    assert ("shorter than 12 characters" in broken) == (len(password) < 12)
    assert any("character classes" in b for b in broken) == (character_classes(password) < 3)
    named = len(username) >= 3 and username in password.lower()
    assert ("contains the username" in broken) == named


@settings(max_examples=50)
@given(st.integers(min_value=8, max_value=64), st.integers(min_value=1, max_value=4))
def test_generated_passwords_satisfy_any_policy(min_length: int, min_classes: int) -> None:
    policy = PasswordPolicy(min_length=min_length, min_classes=min_classes)
    password = generate(policy)
    assert violations(policy, password, "admin") == []
    assert len(password) >= max(min_length, 20)
