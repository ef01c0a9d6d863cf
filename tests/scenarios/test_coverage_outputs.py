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


def test_an_answer_not_computed_is_null_not_text(inputs, tmp_path, run_cli) -> None:
    # Without access points nothing is known of fiber: covered_ftth is a boolean field holding
    # NULL in the GeoPackage (it was the text "<NA>", which reads back as true) and a nullable
    # boolean in the GeoParquet.
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
    assert villages["covered_ftth"].isna().all()
    parquet = gpd.read_parquet(out / "villages.parquet")
    assert str(parquet["covered_ftth"].dtype) == "boolean"
    assert parquet["covered_ftth"].isna().all()
