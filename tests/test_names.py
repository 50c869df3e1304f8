"""`parse_name` takes a shortcut (one regular expression) for plain LDH names; it must accept
exactly what the rule-by-rule `checked_name` accepts, with the same name, and leave every
other name to it (so the errors and their wording are unchanged)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domreg.model.names import MAX_NAME_OCTETS, NameError_, checked_name, parse_name


def outcome(fn: object, raw: str) -> tuple[str, str]:
    try:
        return "ok", fn(raw)  # type: ignore[operator]
    except NameError_ as exc:
        return "error", str(exc)


def both(raw: str) -> None:
    fast = outcome(lambda r: parse_name(r).name, raw)
    rules = outcome(lambda r: checked_name(r.strip().lower()), raw)
    assert fast == rules, raw


CASES = [
    "a.test",
    "A.Test ",
    " x-y.b.c\n",
    "0.test",
    "a" * 63 + ".test",
    "a" * 64 + ".test",
    ".".join(["a" * 63] * 4),  # 255 octets: too long
    ".".join(["a" * 62] * 4),  # 251 octets
    "a..b",
    "a.b.",
    ".a.b",
    "-a.b",
    "a-.b",
    "a",
    "",
    " ",
    "ab--c.test",
    "a--b.test",
    "xn--bcher-kva.test",
    "XN--BCHER-KVA.test",
    "xn--abc.test",
    "a_b.test",
    "a b.test",
    "\u212a.test",  # KELVIN SIGN lower-cases to an ASCII k
    "\u0130.test",
    "bücher.test",
    "a.test\x00",
]


@pytest.mark.parametrize("raw", CASES)
def test_the_shortcut_agrees_with_the_rules(raw: str) -> None:
    both(raw)


def test_the_longest_names_are_judged_by_length_alike() -> None:
    for n in range(MAX_NAME_OCTETS - 3, MAX_NAME_OCTETS + 3):
        both(("a" * 61 + ".") * 3 + "b" * (n - 186))


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="abxnAZ09-. \t\n_\u212aü", max_size=40))
def test_random_names_agree(raw: str) -> None:
    both(raw)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.text(alphabet="abz09-", min_size=0, max_size=66), min_size=1, max_size=5).map(
        ".".join
    )
)
def test_random_label_lists_agree(raw: str) -> None:
    both(raw)
