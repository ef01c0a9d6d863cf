"""`hatangso coverage --masts --commitments`: the checks, the commitments and the map."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from hatangso.geo.validate import load_layer

UTM = 32648
X0, Y0 = 600_000.0, 2_450_000.0


def _lonlat(dx: float, dy: float) -> tuple[float, float]:
    point = gpd.GeoSeries(shapely.points([(X0 + dx, Y0 + dy)]), crs=UTM).to_crs(4326)
    return float(point.x.iloc[0]), float(point.y.iloc[0])


@pytest.fixture
def files(tmp_path: Path, write_layer) -> dict[str, Path]:
    # Two villages: V1 by the Viettel/VNPT mast, V2 15 km away with nothing.
    villages = write_layer(
        "villages.gpkg",
        {"village_id": ["V1", "V2"], "name": ["Nà Hin", "Pác Nặm"], "commune": ["A", "B"]},
        [
            shapely.box(X0, Y0, X0 + 800, Y0 + 800),
            shapely.box(X0 + 15_000, Y0, X0 + 15_800, Y0 + 800),
        ],
        crs=UTM,
    )
    (s1, s2, m1, m2) = (_lonlat(400, 400), _lonlat(410, 400), _lonlat(405, 400), _lonlat(465, 400))
    (tmp_path / "sites.csv").write_text(
        "site_id,operator,lon,lat,tech,mast_id\n"
        f"S1,Viettel,{s1[0]:.7f},{s1[1]:.7f},4G,M1\n"
        f"S2,VNPT,{s2[0]:.7f},{s2[1]:.7f},4G,\n",
        encoding="utf-8",
    )
    (tmp_path / "masts.csv").write_text(
        "Mã cột,Kinh độ,Vĩ độ,Chủ sở hữu,Trạng thái,Số giấy phép,Ngày cấp phép,Nhà mạng sử dụng\n"
        f"M1,{m1[0]:.7f},{m1[1]:.7f},Viettel,đã xây dựng,GP-1,15/03/2024,Viettel;Vinaphone\n"
        f"M2,{m2[0]:.7f},{m2[1]:.7f},Tower Co,built,,,\n",
        encoding="utf-8",
    )
    (tmp_path / "commitments.csv").write_text(
        "Mã thôn,Nhà mạng,Công nghệ,Hạn\n"
        "V1,Viettel,4G,30/06/2025\n"
        "V2,Viettel,4G,30/06/2025\n"
        "V2,VNPT,4G,31/12/2027\n",
        encoding="utf-8",
    )
    (tmp_path / "config.yaml").write_text(
        "mobile: {model: radius, rule: point}\nregistry: {report_date: 2025-12-31}\n",
        encoding="utf-8",
    )
    return {
        "villages": villages,
        "sites": tmp_path / "sites.csv",
        "masts": tmp_path / "masts.csv",
        "commitments": tmp_path / "commitments.csv",
        "config": tmp_path / "config.yaml",
    }


def test_the_registry_and_commitments_read_in_vietnamese(files) -> None:
    masts = load_layer(files["masts"], "masts").frame
    assert masts["status"].tolist() == ["built", "built"]
    assert masts["tenants"].iloc[0] == "Viettel;VNPT"
    assert masts["permit_date"].iloc[0] == "2024-03-15"
    commitments = load_layer(files["commitments"], "commitments").frame
    assert commitments["due"].tolist() == ["2025-06-30", "2025-06-30", "2027-12-31"]


def test_coverage_with_registry_and_commitments(files, tmp_path, run_cli) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(
        "coverage",
        "--villages",
        str(files["villages"]),
        "--sites",
        str(files["sites"]),
        "--masts",
        str(files["masts"]),
        "--commitments",
        str(files["commitments"]),
        "--config",
        str(files["config"]),
        "--out",
        str(out),
    )
    assert code == 0, stderr
    kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    assert kpis["sharing_basis"] == "registry"
    values = {i["code"]: i for i in kpis["indicators"]}
    # M1 carries Viettel and VNPT; M2 has no tenant: one shared mast of two built.
    assert values["bts_site_sharing_ratio"]["value"] == 0.5
    assert values["bts_station_sharing_ratio"]["value"] == 1.0
    # Due by 2025-12-31: V1 Viettel (done), V2 Viettel (not done).
    on_time = values["commitments_on_time"]
    assert (on_time["numerator"], on_time["denominator"]) == (1, 2)
    assert kpis["registry"]["checks"] == {
        "station_on_no_mast": 1,
        "built_without_permit": 1,
        "share_candidate": 1,
        "in_no_build": 0,
    }
    assert kpis["commitments"]["as_of"] == "2025-12-31"
    assert kpis["commitments"]["counts"] == {
        "done": 1,
        "due": 1,
        "overdue": 1,
        "unknown_village": 0,
    }
    checks = pd.read_csv(out / "registry_checks.csv")
    assert sorted(checks["check"]) == [
        "built_without_permit",
        "share_candidate",
        "station_on_no_mast",
    ]
    judged = pd.read_csv(out / "commitments.csv")
    assert judged["status"].tolist() == ["done", "overdue", "due"]
    page = (out / "map.html").read_text(encoding="utf-8")
    assert "Masts (registry)" in page and "Commitment overdue" in page
    assert "Cam kết của doanh nghiệp, tính đến 2025-12-31" in stdout


# Four villages 0.2° apart along 21° N; a Viettel site at A, one more each year (B, then C).
LON = (106.0, 106.2, 106.4, 106.6)


def _scenario_files(folder: Path, write_scenario: Callable[..., Path]) -> Path:
    half = 0.0045
    gpd.GeoDataFrame(
        {"village_id": list("ABCD"), "name": [f"Thôn {v}" for v in "ABCD"], "commune": "Xã"},
        geometry=[shapely.box(x - half, 21.0 - half, x + half, 21.0 + half) for x in LON],
        crs=4326,
    ).to_file(folder / "villages.geojson", driver="GeoJSON")
    for name, (site, at) in {"s.geojson": ("S1", 0), "y24.geojson": ("S2", 1)}.items():
        gpd.GeoDataFrame(
            {"site_id": [site], "operator": ["Viettel"], "mast_id": [f"M{at + 1}"]},
            geometry=shapely.points([(LON[at], 21.0)]),
            crs=4326,
        ).to_file(folder / name, driver="GeoJSON")
    gpd.GeoDataFrame(
        {"site_id": ["S3"], "operator": ["Viettel"]},
        geometry=shapely.points([(LON[2], 21.0)]),
        crs=4326,
    ).to_file(folder / "y25.geojson", driver="GeoJSON")
    gpd.GeoDataFrame(
        {
            "mast_id": ["M1", "M2"],
            "owner": ["Viettel", "Tower Co"],
            "permit_no": ["GP-1", None],
            "tenants": ["Viettel;VNPT", None],
        },
        geometry=shapely.points([(LON[0], 21.0), (LON[1], 21.0)]),
        crs=4326,
    ).to_file(folder / "masts.geojson", driver="GeoJSON")
    (folder / "commitments.csv").write_text(
        "village_id,operator,tech,due\n"
        "B,Viettel,4G,2024-06-30\n"
        "C,Viettel,4G,2024-09-30\n"
        "D,Viettel,4G,2025-06-30\n"
        "A,VNPT,4G,2026-01-31\n",
        encoding="utf-8",
    )
    return write_scenario(
        folder,
        name="registry",
        title="Sổ cột",
        data={
            "villages": "villages.geojson",
            "sites": "s.geojson",
            "commitments": "commitments.csv",
        },
        model={"mobile": {"model": "radius"}},
        years=[2024, 2025],
        targets={"village_mobile_coverage": {2024: 50, 2025: 100}},
        deployments={2024: {"sites": ["y24.geojson"]}, 2025: {"sites": ["y25.geojson"]}},
    )


def test_a_scenario_judges_commitments_at_each_year_end(
    tmp_path: Path, write_scenario: Callable[..., Path]
) -> None:
    from hatangso.scenarios.run import run_scenario

    path = _scenario_files(tmp_path, write_scenario)
    # The registry is given as `hatangso run --masts` gives it, over the scenario's data.
    result = run_scenario(path, tmp_path / "out", masts=tmp_path / "masts.geojson")
    by_year = {run.year: run.kpis for run in result.years}

    def on_time(kpis: dict[str, object]) -> tuple[int, int]:
        ind = next(i for i in kpis["indicators"] if i["code"] == "commitments_on_time")  # type: ignore[attr-defined]
        return ind["numerator"], ind["denominator"]

    # 2024: B done (S2 came that year), C overdue, D and A not yet due.
    assert by_year[2024]["commitments"]["as_of"] == "2024-12-31"
    assert by_year[2024]["commitments"]["counts"] == {
        "done": 1,
        "due": 2,
        "overdue": 1,
        "unknown_village": 0,
    }
    assert on_time(by_year[2024]) == (1, 2)
    # 2025: C done late (S3), D overdue, A still due.
    assert by_year[2025]["commitments"]["counts"]["overdue"] == 1
    assert on_time(by_year[2025]) == (2, 3)
    # The registry: M1 shared (Viettel, VNPT), M2 (S2's mast from 2024) without permit.
    assert by_year[2025]["sharing_basis"] == "registry"
    assert by_year[2025]["registry"]["checks"]["built_without_permit"] == 1
    assert by_year[2025]["registry"]["checks"]["station_on_no_mast"] == 1  # S3 names none
    report = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "Cam kết của doanh nghiệp (tính đến ngày 2025-12-31)" in report
    assert 'href="2025/registry_checks.csv"' in report
    assert (tmp_path / "out" / "2025" / "commitments.csv").is_file()


def test_report_part_escapes_what_the_inputs_say() -> None:
    from hatangso.scenarios.report import registry_html

    kpis = {
        "sharing_basis": "registry",
        "registry": {
            "masts": 2,
            "report_date": "2025-12-31",
            "checks": {"station_on_no_mast": 1, "built_without_permit": 0},
        },
        "commitments": {
            "as_of": "2025-12-31",
            "counts": {"done": 1, "due": 0, "overdue": 1, "unknown_village": 2},
            "by_operator": [
                {
                    "operator": "<script>alert(1)</script>",
                    "commitments": 2,
                    "done": 1,
                    "due": 0,
                    "overdue": 1,
                    "reached": 2,
                    "on_time": 0.5,
                }
            ],
        },
    }
    for lang in ("vi", "en"):
        part = registry_html(kpis, lang, folder="2025/")
        assert "<script>" not in part and "&lt;script&gt;" in part
        assert 'href="2025/registry_checks.csv"' in part and "50%" in part
    assert "Station on no mast" in registry_html(kpis, "en")
    assert "2 cam kết ghi mã thôn không có trong dữ liệu" in registry_html(kpis, "vi")
    assert registry_html({"indicators": []}, "vi") == ""
