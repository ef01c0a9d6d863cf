"""`hatangso coverage`: one ``--columns`` map for all files; villages.parquet beside the gpkg."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

UTM = 32648
X0, Y0 = 600_000.0, 2_450_000.0


@pytest.fixture
def inputs(write_layer) -> dict[str, Path]:
    # Columns no alias knows: `ma` is the village id in one file and the site id in the other.
    boxes = [shapely.box(X0 + x, Y0, X0 + x + 1000, Y0 + 1000) for x in (0, 4000, 10_000)]
    villages = write_layer(
        "thon.gpkg",
        {"ma": ["T1", "T2", "T3"], "ten_goi": ["Nà Mằm", "Pác Nặm", "Khuổi Hát"]},
        boxes,
        crs=UTM,
    )
    sites = write_layer(
        "tram.geojson",
        {"ma_tram": ["S1"], "nha_mang": ["Viettel"], "tech": ["4G"]},
        shapely.points([(X0 + 500, Y0 + 500)]),
        crs=UTM,
    )
    aps = write_layer(
        "ap.geojson",
        {"ap_id": ["A1"], "operator": ["VNPT"]},
        shapely.points([(X0 + 4500, Y0 + 700)]),
        crs=UTM,
    )
    return {"villages": villages, "sites": sites, "aps": aps}


def _coverage(run_cli, inputs, out: Path, *extra: str):
    return run_cli(
        "coverage",
        "--villages",
        str(inputs["villages"]),
        "--sites",
        str(inputs["sites"]),
        "--access-points",
        str(inputs["aps"]),
        "--out",
        str(out),
        *extra,
    )


def test_one_column_map_serves_every_file(inputs, tmp_path, run_cli) -> None:
    out = tmp_path / "out"
    code, _, stderr = _coverage(
        run_cli,
        inputs,
        out,
        "--columns",
        "village_id=ma,name=ten_goi,site_id=ma_tram,operator=nha_mang",
    )

    assert code == 0, stderr
    villages = gpd.read_file(out / "villages.gpkg", layer="villages")
    assert villages["village_id"].tolist() == ["T1", "T2", "T3"]
    assert villages["name"].tolist() == ["Nà Mằm", "Pác Nặm", "Khuổi Hát"]
    assert villages["covered_mobile"].tolist() == [True, True, False]


def test_a_column_map_entry_no_file_takes_stops(inputs, tmp_path, run_cli) -> None:
    code, _, stderr = _coverage(
        run_cli,
        inputs,
        tmp_path / "out",
        "--columns",
        "village_id=ma,name=ten_goi,site_id=ma_tram,operator=nha_mang,population=dan_so",
    )

    assert code == 2
    assert "dan_so" in stderr and "--columns" in stderr
    assert "Traceback" not in stderr


def test_villages_parquet_holds_what_the_gpkg_holds(inputs, tmp_path, run_cli) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = _coverage(
        run_cli,
        inputs,
        out,
        "--columns",
        "village_id=ma,name=ten_goi,site_id=ma_tram,operator=nha_mang",
    )

    assert code == 0, stderr
    assert "villages.parquet" in stdout
    gpkg = gpd.read_file(out / "villages.gpkg", layer="villages")
    parquet = gpd.read_parquet(out / "villages.parquet")
    assert list(parquet.columns) == list(gpkg.columns)
    assert parquet.crs == gpkg.crs
    assert len(parquet) == len(gpkg) == 3
    assert parquet.geometry.geom_equals_exact(gpkg.geometry, tolerance=1e-9).all()
    plain = [c for c in gpkg.columns if c != "geometry"]
    pd.testing.assert_frame_equal(
        pd.DataFrame(parquet[plain]).astype(object).where(parquet[plain].notna(), None),
        pd.DataFrame(gpkg[plain]).astype(object).where(gpkg[plain].notna(), None),
        check_dtype=False,
    )
    # Written atomically: no temporary file is left beside it.
    assert not list(out.glob(".*.tmp*"))


def test_without_fiber_data_covered_ftth_is_false_and_its_indicators_left_out(
    inputs, tmp_path, run_cli
) -> None:
    # Without access points or cables no village is known to be within fiber reach: the
    # contract's bool column is false for all three villages in both files (a NULL read back
    # from the GeoPackage as float NaN, and the text "<NA>" before it, as true), the distance
    # is NULL, and the two FTTH indicators are left out of kpis.json with a note saying why.
    import json

    import pyogrio

    out = tmp_path / "out"
    code, _, err = run_cli(
        "coverage",
        "--villages",
        str(inputs["villages"]),
        "--sites",
        str(inputs["sites"]),
        "--columns",
        "village_id=ma,name=ten_goi,site_id=ma_tram,operator=nha_mang",
        "--out",
        str(out),
    )
    assert code == 0, err
    info = pyogrio.read_info(out / "villages.gpkg", layer="villages")
    assert dict(zip(info["fields"], info["dtypes"], strict=True))["covered_ftth"] == "bool"
    villages = gpd.read_file(out / "villages.gpkg", layer="villages")
    assert villages["covered_ftth"].dtype == bool
    assert villages["covered_ftth"].tolist() == [False, False, False]
    assert villages["ftth_distance_m"].isna().all()
    parquet = gpd.read_parquet(out / "villages.parquet")
    assert parquet["covered_ftth"].dtype == bool
    assert parquet["covered_ftth"].tolist() == [False, False, False]
    kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    codes = {i["code"] for i in kpis["indicators"]}
    assert "village_mobile_coverage" in codes
    assert not codes & {"village_ftth_coverage", "household_ftth_reach"}
    for units in kpis["by_unit"].values():
        for unit in units:
            assert "village_ftth_coverage" not in {i["code"] for i in unit["indicators"]}
    assert any("village_ftth_coverage" in n and "not computed" in n for n in kpis["notes"])
