"""``/kpis?units=old|new``: the KPIs by unit before or after the reform of 1 July 2025.

Five villages of Hồ Chí Minh City with their old wards (see tests/scenarios/test_units_kpis.py
for the hand count): by new ward An Đông 2/3, An Nhơn 1/2; by old ward 1/1, 0/1, 1/1, 1/1, 0/1.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import shapely
from fastapi.testclient import TestClient

from hatangso.app.main import create_app
from hatangso.app.workspace import demo_metadata
from hatangso.coverage.config import CoverageConfig
from hatangso.geo.outputs import write_json
from hatangso.scenarios.job import InputFiles, run_coverage

UTM = 32648
X0, Y0 = 686_000.0, 1_194_000.0
HCM = "Thành phố Hồ Chí Minh"


def _scenario(root: Path, *, communes: list[str], province: str = "Hồ Chí Minh") -> None:
    east = {"v1": 0, "v3": 2000, "v4": 4000, "v2": 12_000, "v5": 20_000}
    data = root / "hcm" / "data"
    data.mkdir(parents=True)
    gpd.GeoDataFrame(
        {
            "village_id": list(east),
            "name": list(east),
            "commune": communes,
            "district": ["Quận 5", "Quận 5", "Gò Vấp", "Quận 5", "Gò Vấp"],
            "province": [province] * 5,
        },
        geometry=[shapely.box(X0 + x, Y0, X0 + x + 1000, Y0 + 1000) for x in east.values()],
        crs=UTM,
    ).to_crs(4326).to_file(data / "villages.gpkg")
    gpd.GeoDataFrame(
        {"site_id": ["S1"], "operator": ["Viettel"], "tech": ["4G"]},
        geometry=shapely.points([(X0 + 2500, Y0 + 500)]),
        crs=UTM,
    ).to_crs(4326).to_file(data / "sites.gpkg")
    run_coverage(
        InputFiles(villages=data / "villages.gpkg", sites=data / "sites.gpkg"),
        CoverageConfig.model_validate({"mobile": {"rule": "point"}}),
        root / "hcm",
    )
    write_json(
        {**demo_metadata(), "name": "hcm", "source": "upload"}, root / "hcm" / "scenario.json"
    )


def _shares(by_unit: dict) -> dict[str, dict[str, tuple[float, float]]]:
    return {
        level: {
            unit["unit"]: next(
                (i["numerator"], i["denominator"])
                for i in unit["indicators"]
                if i["code"] == "village_mobile_coverage"
            )
            for unit in units
        }
        for level, units in by_unit.items()
    }


def test_the_service_answers_in_either_hierarchy(tmp_path, settings_for) -> None:
    root = tmp_path / "workspace"
    _scenario(root, communes=["Phường 5", "Phường 9", "Phường 5", "Phường 7", "Phường 6"])
    with TestClient(create_app(settings_for(root))) as client:
        plain = client.get("/api/scenarios/hcm/kpis").json()
        assert plain["units"] == "old"
        new = client.get("/api/scenarios/hcm/kpis", params={"units": "new"})
        assert new.status_code == 200
        assert new.json()["units"] == "new"
        assert _shares(new.json()["by_unit"])["commune"] == {
            f"{HCM} / Phường An Đông": (2, 3),
            f"{HCM} / Phường An Nhơn": (1, 2),
        }
        old = client.get("/api/scenarios/hcm/kpis", params={"units": "old"}).json()
        assert old["units"] == "old"
        assert _shares(old["by_unit"])["commune"][f"{HCM} / Quận 5 / Phường 7"] == (0, 1)
        assert _shares(old["by_unit"])["district"][f"{HCM} / Quận Gò Vấp"] == (1, 2)


def test_a_province_alone_gives_the_kpis_of_its_province(tmp_path, settings_for) -> None:
    root = tmp_path / "workspace"
    _scenario(root, communes=["Xã A", "Xã B", "Xã C", "Xã D", "Xã E"])
    with TestClient(create_app(settings_for(root))) as client:
        # The province alone is known: the city's KPIs can be had in either hierarchy.
        new = client.get("/api/scenarios/hcm/kpis", params={"units": "new"}).json()
        # No commune is known: the levels without a unit are left out, as without --units.
        assert _shares(new["by_unit"]) == {"province": {HCM: (3, 5)}}


def test_units_the_villages_do_not_name_are_a_422(tmp_path, settings_for) -> None:
    root = tmp_path / "workspace"
    _scenario(root, communes=["Xã A"] * 5, province="Tỉnh Demo")
    with TestClient(create_app(settings_for(root))) as client:
        assert client.get("/api/scenarios/hcm/kpis").json()["units"] == "as_given"
        refused = client.get("/api/scenarios/hcm/kpis", params={"units": "new"})
        assert refused.status_code == 422
        assert "no village of the scenario was placed" in refused.text
        assert client.get("/api/scenarios/hcm/kpis", params={"units": "x"}).status_code == 422
