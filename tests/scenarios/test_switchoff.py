"""A scenario year switching 2G off, and the report listing the villages that lose service.

Four square villages of 1 km about 21 km apart along 21° N (conftest's
``write_switch_off_province``): A under a 4G site, B under a 2G site (labelled GSM), C under a
3G site, D under a site carrying 2G and 4G (radius model, rural 2G 15 km, 3G 8 km, 4G 5 km:
each site serves its own village and no other).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest

from hatangso.geo.errors import InputError
from hatangso.scenarios.run import run_scenario
from hatangso.scenarios.schema import parse_scenario
from hatangso.scenarios.switchoff import switch_off_html, switch_off_sites, without_techs


def _indicator(kpis: dict[str, Any], code: str) -> dict[str, Any]:
    return next(i for i in kpis["indicators"] if i["code"] == code)


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory, write_switch_off_province: Callable[..., Path]
) -> Path:
    folder = tmp_path_factory.mktemp("switch-off")
    scenario = write_switch_off_province(
        folder,
        name="switch-off",
        s2_tech="GSM",
        years=[2025, 2026],
        deployments={2026: {"switch_off": ["2G"]}},
    )
    run_scenario(scenario, folder / "out")
    return folder / "out"


def test_today_b_loses_service_without_2g_and_c_without_3g(run: Path) -> None:
    base = json.loads((run / "kpis.json").read_text(encoding="utf-8"))
    # broadband: A and D (4G); B (2G) and C (3G) do not count
    assert _indicator(base, "village_mobile_coverage")["numerator"] == 2
    assert _indicator(base, "village_2g_off_loss")["numerator"] == 1  # B
    assert _indicator(base, "village_2g3g_off_loss")["numerator"] == 2  # B and C
    block = base["switch_off"]
    assert [v["village_id"] for v in block["village_2g_off_loss"]["listed"]] == ["B"]
    assert block["village_2g_off_loss"]["people"] == 200.0
    assert block["village_2g_off_loss"]["by_operator"] == [
        {"operator": "VNPT", "villages": 1, "people": 200.0}
    ]
    assert block["village_2g3g_off_loss"]["by_operator"] == [
        {"operator": "MobiFone", "villages": 1, "people": 300.0},
        {"operator": "VNPT", "villages": 1, "people": 200.0},
    ]
    villages = gpd.read_file(run / "villages.gpkg").set_index("village_id")
    assert villages["cov_2g"].to_dict() == {"A": False, "B": True, "C": False, "D": True}
    assert villages["mobile_service"].all()


def test_the_switch_off_year_runs_without_2g(run: Path) -> None:
    y2025 = json.loads((run / "2025" / "kpis.json").read_text(encoding="utf-8"))
    y2026 = json.loads((run / "2026" / "kpis.json").read_text(encoding="utf-8"))
    assert _indicator(y2025, "village_2g_off_loss")["numerator"] == 1
    # 2026: no site offers 2G; S2 offered nothing else and leaves the run, S4 keeps its 4G
    sites = gpd.read_file(run / "2026" / "inputs" / "sites_after_switch_off.gpkg")
    assert dict(zip(sites["site_id"], sites["tech"], strict=True)) == {
        "S1": "4G",
        "S3": "3G",
        "S4": "4G",
    }
    assert _indicator(y2026, "village_mobile_coverage")["numerator"] == 2  # unchanged
    villages = gpd.read_file(run / "2026" / "villages.gpkg").set_index("village_id")
    assert villages["mobile_service"].to_dict() == {"A": True, "B": False, "C": True, "D": True}
    assert _indicator(y2026, "village_2g_off_loss")["numerator"] == 0
    assert _indicator(y2026, "village_2g3g_off_loss")["numerator"] == 1  # C, on 3G alone


def test_the_report_lists_the_villages_in_vietnamese(run: Path) -> None:
    page = (run / "report.html").read_text(encoding="utf-8")
    assert "Thôn, tổ dân phố mất sóng di động khi tắt sóng 2G" in page
    assert "Thôn &lt;B&gt;" in page and "Doanh nghiệp mất sóng" in page
    assert "<B>" not in page  # a name from the data is escaped


def test_an_unknown_technology_to_switch_off_is_named() -> None:
    text = {
        "name": "x",
        "title": "X",
        "description": "d",
        "scope": {"province": "Tỉnh Thử"},
        "data": {"villages": "villages.geojson"},
        "years": [2026],
        "deployments": {2026: {"switch_off": ["2G", "4.5G"]}},
    }
    with pytest.raises(InputError, match=r"deployments\.2026\.switch_off\.1.*'4\.5G' is not"):
        parse_scenario(text, source="x.yaml", check_files=False)
    text["deployments"] = {2026: {"switch_off": ["gsm", "UMTS"]}}
    scenario = parse_scenario(text, source="x.yaml", check_files=False)  # no target needed
    assert scenario.switched_off(2026) == ("2G", "3G")
    assert scenario.switched_off(2025) == ()


def test_without_techs_and_the_written_layer(tmp_path: Path) -> None:
    tech = pd.Series(["2G;3G;4G", "2G", "NB-IoT;4G"])
    assert without_techs(tech, ["2G", "3G"]).tolist() == ["4G", "", "NB-IoT;4G"]
    gpd.GeoDataFrame(
        {"site_id": ["a", "b"], "operator": ["VNPT", "VNPT"], "tech": ["2G;4G", "gsm"]},
        geometry=gpd.points_from_xy([106.0, 106.1], [21.0, 21.0]),
        crs="EPSG:4326",
    ).to_file(tmp_path / "s.geojson", driver="GeoJSON")
    out = switch_off_sites(tmp_path / "s.geojson", ["2G"], tmp_path / "out.gpkg")
    written = gpd.read_file(out)
    assert written["site_id"].tolist() == ["a"] and written["tech"].tolist() == ["4G"]


def test_switch_off_html_without_losses() -> None:
    block = {"village_2g_off_loss": {"villages": 0, "people": 0.0, "by_operator": [], "listed": []}}
    assert "Không có thôn, tổ dân phố nào mất sóng." in switch_off_html(block, "vi")
    assert "No village loses its service." in switch_off_html(block, "en")
