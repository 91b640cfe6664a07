"""The unit directory: valid files load, invalid ones name the unit and field, never values."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import ConfigurationError
from hub.units import load_units

GOOD = """
[[unit]]
code = "DJ"
name = "Direcția Juridică"
rank_one = true
head_email = "sef.dj@primariatm.ro"

[[unit]]
code = "SPIT"
name = "Serviciul Public de Impozite și Taxe"
kind = "subordinate"
email = "spit@primariatm.ro"
"""


def test_a_directory_loads_with_lookups(tmp_path: Path) -> None:
    path = tmp_path / "units.toml"
    path.write_text(GOOD, encoding="utf-8")
    units = load_units(path)
    assert "DJ" in units and "XX" not in units
    dj = units.get("DJ")
    assert dj is not None and dj.name == "Direcția Juridică" and dj.kind == "department"
    assert [u.code for u in units.rank_one] == ["DJ"]


def test_a_missing_file_is_an_empty_directory(tmp_path: Path) -> None:
    assert load_units(tmp_path / "absent.toml").units == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[unit]]\ncode = "dj"\nname = "x"\n', "unit 'dj': code"),
        ('[[unit]]\ncode = "DJ"\nname = "x"\nhead_email = "ion.popescu(at)x"\n', "head_email"),
        ('[[unit]]\ncode = "DJ"\nname = "x"\n[[unit]]\ncode = "DJ"\nname = "y"\n', "duplicate"),
        ('[[unit]]\ncode = "DJ"\nname = "x"\ncolour = "red"\n', "colour"),
        ("[[unit]\n", "not valid TOML"),
    ],
)
def test_invalid_files_name_the_problem_not_the_values(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "units.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=message) as info:
        load_units(path)
    assert "ion.popescu" not in str(info.value)
