"""Tests of the scenario runner (hatangso.scenarios.run): yearly accumulation, gaps, targets."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely

from hatangso.coverage.config import CoverageConfig
from hatangso.geo.errors import InputError
from hatangso.scenarios.job import InputFiles, run_coverage
from hatangso.scenarios.run import Gap, compare_scenarios, gaps, run_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

# Four square villages of 1 km, 0.2° (about 21 km) apart along 21° N: a 4G site at a village's
# centre covers that village's representative point (radius model, rural 5 km) and no other.
LON = (106.0, 106.2, 106.4, 106.6)
LAT = 21.0
POPULATION = (100, 200, 300, 400)


def _villages(folder: Path) -> Path:
    half = 0.0045
    frame = gpd.GeoDataFrame(
        {
            "village_id": ["A", "B", "C", "D"],
            "name": ["Thôn A", "Thôn B", "Thôn C", "Thôn D"],
            "commune": "Xã Thử",
            "population": list(POPULATION),
        },
        geometry=[shapely.box(x - half, LAT - half, x + half, LAT + half) for x in LON],
        crs="EPSG:4326",
    )
    path = folder / "villages.geojson"
    frame.to_file(path, driver="GeoJSON")
    return path


def _sites(folder: Path, name: str, rows: list[tuple[str, int]]) -> str:
    frame = gpd.GeoDataFrame(
        {"site_id": [r[0] for r in rows], "operator": "Viettel", "tech": "4G"},
        geometry=gpd.points_from_xy([LON[r[1]] for r in rows], [LAT] * len(rows)),
        crs="EPSG:4326",
    )
    frame.to_file(folder / name, driver="GeoJSON")
    return name


def _scenario(folder: Path, write_scenario: Callable[..., Path], **changes: Any) -> Path:
    _villages(folder)
    data: dict[str, Any] = {
        "name": "four-villages",
        "title": "Bốn thôn",
        "data": {"villages": "villages.geojson", "sites": _sites(folder, "s.geojson", [("S1", 0)])},
        "years": [2024, 2025],
        "baseline": {"label": "2023", "values": {"village_mobile_coverage": 20}},
        "targets": {"village_mobile_coverage": {2024: 50, 2025: 100}},
        "statistics": [
            {
                "code": "speed_mbps",
                "label_vi": "Tốc độ",
                "label_en": "Speed",
                "unit": "Mb/s",
                "baseline": 30,
                "targets": {2025: 40},
                "achieved": {2025: 41},
            }
        ],
        "deployments": {
            2024: {"sites": [_sites(folder, "new_2024.geojson", [("S2", 1)])]},
            2025: {"plan": [_sites(folder, "plan_2025.geojson", [("S3", 2)])]},
        },
    }
    data.update(changes)
    return write_scenario(folder, **data)


def _indicator(kpis: dict[str, Any], code: str) -> dict[str, Any]:
    return next(i for i in kpis["indicators"] if i["code"] == code)


@pytest.fixture(scope="module")
def four(
    tmp_path_factory: pytest.TempPathFactory, write_scenario: Callable[..., Path]
) -> tuple[Path, Any]:
    folder = tmp_path_factory.mktemp("four")
    path = _scenario(folder, write_scenario)
    return folder, run_scenario(path, folder / "out")


def test_deployments_accumulate_year_by_year(four: tuple[Path, Any]) -> None:
    folder, result = four
    out = folder / "out"
    # Baseline: S1 covers A only: 1/4. 2024 adds S2 (B): 2/4. 2025 adds the plan's S3 (C): 3/4.
    base = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    y2024 = json.loads((out / "2024" / "kpis.json").read_text(encoding="utf-8"))
    y2025 = json.loads((out / "2025" / "kpis.json").read_text(encoding="utf-8"))
    assert _indicator(base, "village_mobile_coverage")["value"] == 0.25
    assert _indicator(y2024, "village_mobile_coverage")["value"] == 0.5
    assert _indicator(y2025, "village_mobile_coverage")["value"] == 0.75
    # The combined layers hold the base sites and every deployment up to the year.
    assert sorted(gpd.read_file(out / "2024" / "inputs" / "sites.gpkg")["site_id"]) == ["S1", "S2"]
    assert sorted(gpd.read_file(out / "2025" / "inputs" / "sites.gpkg")["site_id"]) == [
        "S1",
        "S2",
        "S3",
    ]
    assert [r.year for r in result.years] == [2024, 2025]


def test_each_year_carries_its_targets_and_gap(four: tuple[Path, Any]) -> None:
    _, result = four
    base, (y2024, y2025) = result.baseline.kpis, result.years
    assert _indicator(base, "village_mobile_coverage")["target"] is None
    first = _indicator(y2024.kpis, "village_mobile_coverage")
    assert (first["target"], first["met"]) == (0.5, True)  # 2/4 >= 50 %
    last = _indicator(y2025.kpis, "village_mobile_coverage")
    assert (last["target"], last["met"]) == (1.0, False)  # 3/4 < 100 %
    # ceil(1.0 * 4 - 3) = 1 more village; D (400 people) is the one without coverage.
    assert y2025.kpis["gaps"] == [
        {
            "code": "village_mobile_coverage",
            "units": 1,
            "basis": "villages",
            "people": 400.0,
            "villages_without": 1,
            "message": (
                "Cần thêm 1 thôn, tổ dân phố để đạt 100% "
                "(400 người sống ở 1 thôn, tổ dân phố còn thiếu)"
            ),
            "message_en": "1 more villages to reach 100% (400 people live in the 1 without it)",
        }
    ]
    assert y2025.kpis["year"] == 2025 and y2025.kpis["scenario"] == "four-villages"
    stats = y2025.kpis["statistics"][0]
    assert (stats["target"], stats["achieved"], stats["met"]) == (40, 41, True)
    assert base["baseline"]["values"] == {"village_mobile_coverage": 0.2}


def test_figures_match_the_coverage_job_on_the_same_files(four: tuple[Path, Any]) -> None:
    folder, result = four
    out = folder / "out"
    direct = run_coverage(
        InputFiles(
            villages=folder / "villages.geojson", sites=out / "2025" / "inputs" / "sites.gpkg"
        ),
        CoverageConfig.model_validate({"targets": {"village_mobile_coverage": 1.0}}),
        folder / "direct",
    )
    assert direct.kpis["indicators"] == result.years[-1].kpis["indicators"]
    assert direct.kpis["by_unit"] == result.years[-1].kpis["by_unit"]


def test_report_files_written(four: tuple[Path, Any]) -> None:
    folder, result = four
    assert {p.name for p in result.report.values()} == {
        "report.xlsx",
        "report.html",
        "summary.json",
    }
    summary = json.loads((folder / "out" / "summary.json").read_text(encoding="utf-8"))
    row = summary["rows"][0]
    assert row["by_year"]["2025"]["computed"] == 75.0 and row["by_year"]["2025"]["met"] is False


def test_repeated_id_in_a_deployment_is_refused(
    tmp_path: Path, write_scenario: Callable[..., Path]
) -> None:
    path = _scenario(tmp_path, write_scenario)
    _sites(tmp_path, "new_2024.geojson", [("S1", 1)])  # S1 is already a base site
    with pytest.raises(InputError, match="site_id 'S1' appears more than once"):
        run_scenario(path, tmp_path / "out")


def test_gap_arithmetic() -> None:
    # 1,263 of 1,300 villages against 100 %: ceil(1300 - 1263) = 37.
    kpis = {
        "indicators": [
            {
                "code": "village_mobile_coverage",
                "numerator": 1263,
                "denominator": 1300,
                "target": 1.0,
                "met": False,
            },
            # 19 of 100 towers shared against 25 %: ceil(25 - 19) = 6.
            {
                "code": "bts_site_sharing_ratio",
                "numerator": 19,
                "denominator": 100,
                "target": 0.25,
                "met": False,
            },
            {
                "code": "pole_sharing_ratio",
                "numerator": 9,
                "denominator": 10,
                "target": 0.8,
                "met": True,
            },
        ]
    }
    found = gaps(kpis)
    assert found == [
        Gap("village_mobile_coverage", 37, "villages", None, None),
        Gap("bts_site_sharing_ratio", 6, "tower locations", None, None),
    ]
    assert found[0].message(1.0) == "37 more villages to reach 100%"


def test_gap_of_iot_zones_in_vietnamese() -> None:
    # 1 of 2 zones covered against 100 %: ceil(2 - 1) = 1 zone, named in Vietnamese.
    kpis = {
        "indicators": [
            {
                "code": "key_area_iot_coverage",
                "numerator": 1,
                "denominator": 2,
                "target": 1.0,
                "met": False,
            }
        ]
    }
    (gap,) = gaps(kpis)
    assert gap.message(1.0, lang="vi") == "Cần thêm 1 khu công nghiệp, vùng sản xuất để đạt 100%"
    assert gap.message(1.0) == "1 more IoT zones to reach 100%"


def test_every_gap_unit_has_its_vietnamese() -> None:
    from hatangso.coverage.kpis import INDICATORS
    from hatangso.scenarios.run import _BASIS_VI

    assert {i.basis for i in INDICATORS.values()} - set(_BASIS_VI) == set()


def test_compare_two_scenarios(tmp_path: Path, write_scenario: Callable[..., Path]) -> None:
    a_folder = tmp_path / "a"
    a_folder.mkdir()
    a = _scenario(a_folder, write_scenario)
    b_folder = tmp_path / "b"
    b_folder.mkdir()
    b = _scenario(b_folder, write_scenario, name="without-plan", deployments={})
    comparison = compare_scenarios(a, b, tmp_path / "cmp")
    row = next(
        r for r in comparison.rows if r["year"] == "2025" and r["code"] == "village_mobile_coverage"
    )
    # With the deployments 3/4, without them 1/4: b - a = -0.5.
    assert (row["value_a"], row["value_b"], row["difference"]) == (0.75, 0.25, -0.5)
    assert (tmp_path / "cmp" / "comparison.html").exists()


def test_shipped_commune_scenario_from_scratch(tmp_path: Path) -> None:
    """The Hồng Phong scenario runs with nothing prepared: data generated, then reused."""
    result = run_scenario(SCENARIOS / "hong-phong.yaml", tmp_path / "hp")
    out = tmp_path / "hp"
    assert (out / "data" / "GENERATED.txt").exists()
    villages = gpd.read_file(out / "data" / "villages.gpkg")
    assert len(villages) == 15
    # Moved to Cao Lộc: every village within 0.3° of 106.8 E, 21.9 N, named as the plan's.
    assert (villages["centre_lon"] - 106.8).abs().max() < 0.3
    assert (villages["centre_lat"] - 21.9).abs().max() < 0.3
    assert set(villages["commune"]) == {"Xã Hồng Phong"}
    assert set(villages["province"]) == {"Tỉnh Lạng Sơn"}
    # The commune offices keep their yes/no data-network flag through the move.
    codes = {i["code"] for i in result.baseline.kpis["indicators"]}
    assert "commune_data_network_connection" in codes
    assert result.baseline.kpis["inputs"]["pois"]["rejected"] == 0
    # 2025, the plan's year (2026 switches 2G off, with no target of its own)
    y2025 = next(run for run in result.years if run.year == 2025)
    mobile = _indicator(y2025.kpis, "village_mobile_coverage")
    assert mobile["target"] == 0.98
    # The generated deployments put a site / cabinet in every village without: both reach 100%.
    assert mobile["value"] == 1.0
    assert _indicator(y2025.kpis, "village_ftth_coverage")["value"] == 1.0
    assert [run.year for run in result.years] == [2025, 2026]
    assert _indicator(result.years[-1].kpis, "village_mobile_coverage")["value"] == 1.0
    stamp = (out / "data" / "generated.json").stat().st_mtime_ns
    run_scenario(SCENARIOS / "hong-phong.yaml", tmp_path / "hp")
    assert (out / "data" / "generated.json").stat().st_mtime_ns == stamp


def test_figures_match_the_coverage_command(four: tuple[Path, Any]) -> None:
    """``hatangso coverage`` on a year's combined files gives that year's figures."""
    from typer.testing import CliRunner

    from hatangso.cli import app

    folder, result = four
    out = folder / "cli"
    answer = CliRunner().invoke(
        app,
        [
            "coverage",
            "--villages",
            str(folder / "villages.geojson"),
            "--sites",
            str(folder / "out" / "2024" / "inputs" / "sites.gpkg"),
            "--out",
            str(out),
        ],
    )
    assert answer.exit_code == 0, answer.output
    command = json.loads((out / "kpis.json").read_text(encoding="utf-8"))

    def figures(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [(i["code"], i["numerator"], i["denominator"]) for i in doc["indicators"]]

    assert figures(command) == figures(result.years[0].kpis)
