"""Values a user can fix raise an InputError naming the option or KIND and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from hatangso.geo.demo import generate_demo
from hatangso.geo.encoding import redecode_latin1_strings
from hatangso.geo.errors import InputError
from hatangso.geo.schema import KINDS, spec_for


def test_unknown_kind_names_kind_and_the_kinds() -> None:
    with pytest.raises(InputError, match=r"^KIND: unknown input kind 'towers'\. Fix: use one of"):
        spec_for("towers")
    assert spec_for("access_points").kind == "access-points"
    assert set(KINDS) >= {"villages", "sites"}


def test_a_kind_in_another_case_or_singular() -> None:
    assert spec_for("Sites").kind == "sites"  # as a user types it
    with pytest.raises(InputError, match=r"candidates \('village' looks like villages\)$"):
        spec_for("village")


def test_demo_options_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^options, column 'seed': seed must be a non-negative"):
        generate_demo(tmp_path, seed=-1)
    with pytest.raises(InputError, match=r"column 'n_villages': .*at least 200.*Fix: ask for 200"):
        generate_demo(tmp_path, n_villages=50)
    assert not any(tmp_path.iterdir())  # refused before anything is written


def test_redecoding_a_wrongly_read_value_is_a_programmer_error() -> None:
    # The caller must read the file as ISO-8859-1 first; no user value can cause this.
    with pytest.raises(ValueError, match="ISO-8859-1") as info:
        redecode_latin1_strings(["Hà Nội"], "vni")
    assert not isinstance(info.value, InputError)
