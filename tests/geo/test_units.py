"""Villages placed in the units before and after 1 July 2025, and their KPIs in either.

The answers are derived by hand from the official lists (as ``vietnamadminunits`` ships them)
and cross-checked with Ho Chi Minh City's own list of its new wards (HCM-2's ``sap_nhap``):
wards 5, 7 and 9 of Quận 5 became Phường An Đông (27316), wards 5 and 6 of Gò Vấp became
Phường An Nhơn (26876); Phường Bến Nghé (26740), Đa Kao and Nguyễn Thái Bình became Phường
Sài Gòn (26740); the old Phường Tân Định (26734) is the new Phường Tân Định (26737).
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hatangso.coverage.kpis import indicators_by_unit
from hatangso.geo.errors import InputError
from hatangso.geo.schema import UNIT_COLUMNS
from hatangso.geo.units import (
    admin_units,
    check_units,
    province_names,
    resolve_units,
    unit_columns,
    unit_key,
)

HCM = "Thành phố Hồ Chí Minh"
HCM2 = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "admin" / "hcmc" / "HCM-2.shp"
)


def test_the_package_has_both_hierarchies_whole() -> None:
    units = admin_units()
    assert len(province_names("old")) == 63
    assert len(province_names("new")) == 34
    assert units.old["district_code"].nunique() == 696
    assert units.new["commune_code"].nunique() == 3321
    # Every old unit goes somewhere, and every new unit comes from somewhere.
    assert set(units.links["old"]) == set(range(len(units.old)))
    assert set(units.links["new"]) == set(range(len(units.new)))


def test_names_match_whatever_their_prefix_case_and_accents() -> None:
    assert unit_key("Tỉnh Cà Mau") == unit_key("Ca Mau") == unit_key("CÀ MAU") == "camau"
    assert unit_key("TP. Hồ Chí Minh") == unit_key("Thành phố Hồ Chí Minh")
    assert unit_key("Phường 05") == unit_key("phường 5") == "5"
    assert unit_key("Xà Phiên") == "xaphien"  # "Xà" is a name, not the prefix "Xã"


def test_old_and_new_map_both_ways() -> None:
    units = admin_units()
    assert sorted(units.old_of_new("27316")["commune"]) == ["Phường 5", "Phường 7", "Phường 9"]
    assert set(units.old_of_new("27316")["district"]) == {"Quận 5"}
    assert units.new_of_old("27316")["commune"].tolist() == ["Phường An Đông"]
    assert units.new_of_old("26734")["commune"].tolist() == ["Phường Tân Định"]
    assert units.new_province_of_old("95") == "96"  # Bạc Liêu into Cà Mau
    assert units.old_provinces_of_new("79") == ["74", "77", "79"]


def _old_register() -> pd.DataFrame:
    """Five villages written in the old hierarchy (with districts), two in each merged ward."""
    return pd.DataFrame(
        {
            "village_id": ["v1", "v2", "v3", "v4", "v5"],
            "commune": ["Phường 5", "Phường 07", "phuong 9", "Phường 5", "Phường 6"],
            "district": ["Quận 5", "Quận 5", "quan 5", "Gò Vấp", "Quận Gò Vấp"],
            "province": ["TP. Hồ Chí Minh", "Hồ Chí Minh", "tp hcm", "79", "Thành phố Hồ Chí Minh"],
            "covered_mobile": [True, False, True, True, False],
        },
        index=pd.Index([10, 11, 12, 13, 14], name="row"),
    )


def test_villages_in_merged_wards_get_both_units() -> None:
    placed = resolve_units(_old_register())
    villages = placed.villages
    assert placed.hierarchy == "old"
    assert placed.matched["old"] == 5
    assert not placed.ambiguous and not placed.not_found
    assert villages.index.tolist() == [10, 11, 12, 13, 14]  # row for row, ids kept
    assert villages["village_id"].tolist() == ["v1", "v2", "v3", "v4", "v5"]
    assert set(UNIT_COLUMNS) <= set(villages.columns)
    assert villages["commune_code_old"].tolist() == ["27334", "27316", "27304", "26887", "26876"]
    assert villages["district_old"].tolist() == ["Quận 5"] * 3 + ["Quận Gò Vấp"] * 2
    assert villages["commune_new"].tolist() == ["Phường An Đông"] * 3 + ["Phường An Nhơn"] * 2
    assert villages["commune_code_new"].tolist() == ["27316"] * 3 + ["26876"] * 2
    assert villages["province_code_new"].tolist() == ["79"] * 5
    assert villages["province_new"].tolist() == [HCM] * 5
    # The file's own columns are kept as written.
    assert villages["commune"].tolist() == _old_register()["commune"].tolist()


def test_kpis_per_old_unit_and_per_new_unit() -> None:
    villages = resolve_units(_old_register()).villages
    codes = ["village_mobile_coverage"]

    def shares(hierarchy: str) -> dict[str, dict[str, tuple[float, float]]]:
        by_unit = indicators_by_unit(
            villages,
            levels=("province", "district", "commune")
            if hierarchy == "old"
            else ("province", "commune"),
            codes=codes,
            targets={},
            columns=unit_columns(check_units(hierarchy)),
        )
        return {
            level: {
                u["unit"]: (u["indicators"][0]["numerator"], u["indicators"][0]["denominator"])
                for u in units
            }
            for level, units in by_unit.items()
        }

    old = shares("old")
    assert old["province"] == {HCM: (3, 5)}
    assert old["commune"] == {
        f"{HCM} / Quận 5 / Phường 5": (1, 1),
        f"{HCM} / Quận 5 / Phường 7": (0, 1),
        f"{HCM} / Quận 5 / Phường 9": (1, 1),
        f"{HCM} / Quận Gò Vấp / Phường 5": (1, 1),
        f"{HCM} / Quận Gò Vấp / Phường 6": (0, 1),
    }
    new = shares("new")
    assert set(new) == {"province", "commune"}  # no districts after the reform
    assert new["province"] == {HCM: (3, 5)}
    assert new["commune"] == {
        f"{HCM} / Phường An Đông": (2, 3),
        f"{HCM} / Phường An Nhơn": (1, 2),
    }


def test_a_register_in_the_new_hierarchy_is_placed_too() -> None:
    villages = pd.DataFrame(
        {
            "village_id": ["a", "b", "c"],
            "commune": ["An Đông", "Phường Sài Gòn", "Tân Định"],
            "province": ["Hồ Chí Minh"] * 3,
        }
    )
    placed = resolve_units(villages)
    out = placed.villages
    assert placed.hierarchy == "new"
    assert out["commune_code_new"].tolist() == ["27316", "26740", "26737"]
    # A new ward made of several old ones has no one old commune: blank, not guessed; its
    # old province is known (all three came from Hồ Chí Minh).
    assert out["commune_old"].isna().tolist() == [True, True, False]
    assert out["province_code_old"].tolist() == ["79", "79", "79"]
    # Tân Định kept its name: the old one (26734) went whole into the new one (26737).
    assert out.loc[2, "commune_code_old"] == "26734"
    assert placed.matched == {"old": 0, "new": 2, "both": 1}


def test_a_name_matching_two_units_is_reported_not_picked() -> None:
    # There was a Phường 5 in several districts of Hồ Chí Minh; without the district it is
    # not one unit. Nor is Cà Mau's new province alone the old one.
    villages = pd.DataFrame(
        {
            "village_id": ["x", "y", "z"],
            "commune": ["Phường 5", "Phường 5", None],
            "province": ["Hồ Chí Minh", "Hồ Chí Minh", "Tỉnh Bạc Liêu"],
        }
    )
    placed = resolve_units(villages)
    out = placed.villages
    assert out["commune_old"].isna().all() and out["commune_new"].isna().all()
    assert out["province_code_new"].tolist() == ["79", "79", "96"]
    assert out["province_code_old"].tolist() == ["79", "79", "95"]
    ((column, value, found),) = placed.ambiguous
    assert (column, value) == ("commune", "Phường 5")
    assert len(found) > 2 and any("Quận 5 / Phường 5" in f for f in found)
    (note,) = [n for n in placed.notes() if "Phường 5" in n]
    assert "left blank" in note and "district" in note


def test_an_unknown_name_is_reported_and_a_divided_ward_left_blank() -> None:
    units = admin_units()
    divided_row = int(units.links.loc[units.links["divided"], "old"].iloc[0])
    old = units.old.iloc[divided_row]
    villages = pd.DataFrame(
        {
            "village_id": ["d", "u"],
            "commune": [old["commune"], "Xã Không Có"],
            "district": [old["district"], old["district"]],
            "province": [old["province"], old["province"]],
        }
    )
    placed = resolve_units(villages)
    out = placed.villages
    assert out.loc[0, "commune_code_old"] == old["commune_code"]
    assert pd.isna(out.loc[0, "commune_code_new"])  # divided: several new wards
    assert out.loc[0, "province_code_new"] == units.new_province_of_old(old["province_code"])
    assert placed.divided == 1
    assert (
        placed.not_found == (("commune", "Xã Không Có"),)
        or (
            "commune",
            "Xã Không Có",
        )
        in placed.not_found
    )
    assert out.loc[1, ["commune_old", "commune_new"]].isna().all()


def test_a_bare_code_is_placed_only_when_both_sides_agree() -> None:
    # 27316 is Phường 7 of Quận 5 before and Phường An Đông after: the one went into the other.
    # 26737 is Phường Đa Kao before and Phường Tân Định after: unrelated, so reported.
    villages = pd.DataFrame({"village_id": ["p", "q"], "commune": ["27316", "26737"],
                             "province": ["79", "79"]})  # fmt: skip
    placed = resolve_units(villages)
    out = placed.villages
    assert out["commune_new"].tolist()[0] == "Phường An Đông"
    assert out.loc[0, "commune_old"] == "Phường 7"
    assert pd.isna(out.loc[1, "commune_new"]) and pd.isna(out.loc[1, "commune_old"])
    assert [a[1] for a in placed.ambiguous] == ["26737"]


def test_no_admin_columns_no_lookups_and_given_unit_columns_win() -> None:
    bare = resolve_units(pd.DataFrame({"village_id": ["a"]}))
    assert bare.hierarchy == "unknown" and bare.villages[list(UNIT_COLUMNS)].isna().all(axis=None)
    given = resolve_units(
        pd.DataFrame(
            {
                "village_id": ["a"],
                "commune": ["Phường 5"],
                "province": ["Hồ Chí Minh"],
                "commune_code_new": ["27316"],
            }
        )
    )
    assert given.villages.loc[0, "commune_code_new"] == "27316"


def test_unknown_hierarchy_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown admin hierarchy 'middle'"):
        check_units("middle")


def _sources(text: str) -> list[str]:
    """The old units of a ``sap_nhap`` cell: split at commas and "và" outside brackets."""
    depth, parts, current = 0, [], ""
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch in ",;" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    names = [n for p in parts for n in re.split(r"\s+và\s+", p.split("(")[0])]
    return [n.strip() for n in names if n.strip()]


@pytest.mark.shared_data
def test_every_hcmc_merged_ward_maps_to_its_new_ward() -> None:
    if not HCM2.exists():
        pytest.skip(f"{HCM2} is absent")
    import pyogrio

    wards = pyogrio.read_dataframe(HCM2, read_geometry=False)
    units = admin_units()
    total = matched = 0
    for code, name, merged in zip(wards["ma_xa"], wards["ten_xa"], wards["sap_nhap"], strict=True):
        new = units.new[units.new["commune_code"] == str(code).zfill(5)]
        assert unit_key(new["commune"].iloc[0]) == unit_key(name)
        old = units.old_of_new(str(code).zfill(5))
        keys = {unit_key(n) for n in pd.concat([old["commune"], old["district"]]).dropna()}
        found = [unit_key(s) in keys for s in _sources(merged or "")]
        total += len(found)
        matched += int(np.sum(found))
    # Every merged-from name of the city's 167 new units is one of the package's old parts.
    assert len(wards) == 167
    assert (matched, total) == (492, 492)


def test_the_listed_short_forms_of_province_names_are_understood() -> None:
    villages = pd.DataFrame({"village_id": ["a", "b"], "province": ["TP HCM", "Vũng Tàu"]})
    out = resolve_units(villages).villages
    assert out["province_code_old"].tolist() == ["79", "77"]
    assert out["province_code_new"].tolist() == ["79", "79"]
    assert out["province_new"].tolist() == [HCM, HCM]


def test_the_units_cache_reads_back_the_tables_built_and_survives_a_torn_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hatangso.geo import units as module

    monkeypatch.setenv("HATANGSO_CACHE_DIR", str(tmp_path))
    path = module.admin_units_cache()
    assert path is not None and path.parent == tmp_path
    version = importlib.metadata.version("vietnamadminunits")
    assert path.name.startswith(f"admin-units-{version}-")  # another version: another file
    module._tables.cache_clear()
    try:
        built = module._tables()  # no file yet: built, then written
        assert path.is_file()
        module._tables.cache_clear()
        read = module._tables()  # read back from the file
        assert read is not built
        pd.testing.assert_frame_equal(read.units.old, built.units.old)
        pd.testing.assert_frame_equal(read.units.links, built.units.links)
        assert read.indexes == built.indexes and read.links.whole == built.links.whole
        # Quận 5's Phường 7 (27316 before the reform) is found by its code in the read index.
        assert read.indexes[("old", "commune")][("code", 27316)]
        path.write_bytes(b"torn")
        module._tables.cache_clear()
        again = module._tables()  # a file that cannot be read: built again and rewritten
        assert again.indexes == built.indexes
        assert path.read_bytes() != b"torn"
    finally:
        module._tables.cache_clear()
