"""KPIs by unit before or after the 2025 reform: ``coverage --units``.

Five villages of Hồ Chí Minh City written with their old wards and districts: wards 5, 7
and 9 of Quận 5 (now Phường An Đông) and wards 5 and 6 of Gò Vấp (now Phường An Nhơn). One
4G mast covers the three villages within 5 km (v1, v3, v4): by old ward 1/1, 0/1, 1/1, 1/1,
0/1; by new ward An Đông 2/3, An Nhơn 1/2; the city 3/5 either way.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from hatangso.cli import main

UTM = 32648
X0, Y0 = 686_000.0, 1_194_000.0  # Hồ Chí Minh City
HCM = "Thành phố Hồ Chí Minh"


@pytest.fixture
def register(tmp_path: Path) -> dict[str, Path]:
    east = {"v1": 0, "v3": 2000, "v4": 4000, "v2": 12_000, "v5": 20_000}
    villages = gpd.GeoDataFrame(
        {
            "Mã thôn": list(east),
            "Tên thôn": ["Khu phố 1", "Khu phố 3", "Khu phố 4", "Khu phố 2", "Khu phố 5"],
            "Phường": ["Phường 5", "Phường 9", "Phường 5", "Phường 7", "Phường 6"],
            "Quận": ["Quận 5", "Quận 5", "Gò Vấp", "Quận 5", "Gò Vấp"],
            "Tỉnh": ["TP. Hồ Chí Minh"] * 5,
        },
        geometry=[shapely.box(X0 + x, Y0, X0 + x + 1000, Y0 + 1000) for x in east.values()],
        crs=UTM,
    ).to_crs(4326)
    villages.to_file(tmp_path / "thon.gpkg")
    sites = gpd.GeoDataFrame(
        {"site_id": ["S1"], "operator": ["Viettel"], "tech": ["4G"]},
        geometry=shapely.points([(X0 + 2500, Y0 + 500)]),
        crs=UTM,
    ).to_crs(4326)
    sites.to_file(tmp_path / "tram.gpkg")
    (tmp_path / "config.yaml").write_text("mobile: {rule: point}\n", encoding="utf-8")
    return {
        "villages": tmp_path / "thon.gpkg",
        "sites": tmp_path / "tram.gpkg",
        "config": tmp_path / "config.yaml",
    }


def _shares(by_unit: dict) -> dict[str, dict[str, tuple[float, float]]]:
    out = {}
    for level, units in by_unit.items():
        out[level] = {}
        for unit in units:
            (ind,) = [i for i in unit["indicators"] if i["code"] == "village_mobile_coverage"]
            out[level][unit["unit"]] = (ind["numerator"], ind["denominator"])
    return out


NEW = {
    "province": {HCM: (3, 5)},
    "commune": {f"{HCM} / Phường An Đông": (2, 3), f"{HCM} / Phường An Nhơn": (1, 2)},
}
OLD_COMMUNES = {
    f"{HCM} / Quận 5 / Phường 5": (1, 1),
    f"{HCM} / Quận 5 / Phường 7": (0, 1),
    f"{HCM} / Quận 5 / Phường 9": (1, 1),
    f"{HCM} / Quận Gò Vấp / Phường 5": (1, 1),
    f"{HCM} / Quận Gò Vấp / Phường 6": (0, 1),
}


def _coverage(run_cli, register, out: Path, *extra: str) -> dict:
    code, _, _ = run_cli(
        "coverage",
        "--villages",
        str(register["villages"]),
        "--sites",
        str(register["sites"]),
        "--config",
        str(register["config"]),
        "--out",
        str(out),
        "--quiet",
        *extra,
    )
    assert int(code or 0) == 0
    return json.loads((out / "kpis.json").read_text(encoding="utf-8"))


def test_coverage_counts_by_new_or_old_units(run_cli, register, tmp_path) -> None:
    new = _coverage(run_cli, register, tmp_path / "new", "--units", "new")
    assert new["units"] == "new"
    assert _shares(new["by_unit"]) == NEW
    old = _coverage(run_cli, register, tmp_path / "old", "--units", "old")
    assert old["units"] == "old"
    assert _shares(old["by_unit"])["commune"] == OLD_COMMUNES
    assert _shares(old["by_unit"])["district"] == {
        f"{HCM} / Quận 5": (2, 3),
        f"{HCM} / Quận Gò Vấp": (1, 2),
    }
    # The default: the file's own columns, named as the hierarchy they were found in.
    given = _coverage(run_cli, register, tmp_path / "given")
    assert given["units"] == "old"
    assert _shares(given["by_unit"])["commune"]["TP. Hồ Chí Minh / Gò Vấp / Phường 5"] == (1, 1)
    assert _shares(given["by_unit_in"]["new"]) == NEW
    assert given["indicators"] == new["indicators"]  # the hierarchy changes no total
    # One row per village, its id kept, with its units on both sides.
    villages = gpd.read_file(tmp_path / "new" / "villages.gpkg").set_index("village_id")
    assert sorted(villages.index) == ["v1", "v2", "v3", "v4", "v5"]
    assert villages.loc["v2", "commune_old"] == "Phường 7"
    assert villages.loc["v2", "commune_code_new"] == "27316"
    assert villages.loc["v5", "commune_new"] == "Phường An Nhơn"


def test_a_bad_units_value_is_a_usage_error(monkeypatch, capsys, register, tmp_path) -> None:
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "hatangso",
            "coverage",
            "--villages",
            "v",
            "--sites",
            "s",
            "--out",
            "o",
            "--units",
            "middle",
        ],
    )
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2


def test_run_coverage_refuses_an_unknown_hierarchy_before_any_work(register, tmp_path) -> None:
    from hatangso.coverage.config import CoverageConfig
    from hatangso.geo.errors import InputError
    from hatangso.scenarios.job import InputFiles, run_coverage

    files = InputFiles(villages=register["villages"], sites=register["sites"])
    with pytest.raises(InputError, match="unknown admin hierarchy"):
        run_coverage(files, CoverageConfig(), tmp_path / "out", units="middle")
    assert not (tmp_path / "out").exists()
