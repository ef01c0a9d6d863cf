"""`hatangso coverage` end to end: the contract's outputs, columns and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hatangso.scenarios.maps import find_outside_loads

UTM = 32648
X0, Y0 = 600_000.0, 2_450_000.0


@pytest.fixture
def inputs(tmp_path: Path, write_layer) -> dict[str, Path]:
    # Three 1 km villages in a row, 0, 4 and 10 km east of a Viettel+VNPT mast; one bad row.
    boxes = [shapely.box(X0 + x, Y0, X0 + x + 1000, Y0 + 1000) for x in (0, 4000, 10_000)]
    villages = write_layer(
        "thon.gpkg",
        {
            "Mã thôn": ["T1", "T2", "T3"],
            "Tên thôn": ["Nà Mằm", "Pác Nặm", "Khuổi Hát"],
            "Xã": ["Xã A", "Xã A", "Xã B"],
            "Dân số": [300.0, 500.0, 200.0],
            "Số hộ": [70.0, 120.0, 50.0],
        },
        boxes,
        crs=UTM,
    )
    sites = gpd.GeoDataFrame(
        {"site_id": ["S1", "S2"], "operator": ["viettel", "Vinaphone"], "tech": ["4G", "4G;5G"]},
        geometry=shapely.points([(X0 + 500, Y0 + 500), (X0 + 510, Y0 + 500)]),
        crs=UTM,
    ).to_crs(4326)
    lon, lat = sites.geometry.x, sites.geometry.y
    (tmp_path / "tram.csv").write_text(
        "Mã trạm,Nhà mạng,Kinh độ,Vĩ độ,Công nghệ\n"
        f"S1,viettel,{lon[0]:.7f},{lat[0]:.7f},4G\n"
        f"S2,Vinaphone,{lon[1]:.7f},{lat[1]:.7f},4G;5G\n"
        "S3,Mobi,,,4G\n",
        encoding="utf-8",
    )
    aps = write_layer(
        "ap.geojson",
        {"ap_id": ["A1"], "operator": ["VNPT"]},
        shapely.points([(X0 + 4500, Y0 + 700)]),
        crs=UTM,
    )
    (tmp_path / "config.yaml").write_text(
        "mobile: {rule: point}\ntargets: {village_mobile_coverage: 1.0}\n", encoding="utf-8"
    )
    return {
        "villages": villages,
        "sites": tmp_path / "tram.csv",
        "aps": aps,
        "config": tmp_path / "config.yaml",
    }


def test_coverage_writes_the_contract_outputs(inputs, tmp_path, run_cli) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(
        "coverage",
        "--villages",
        str(inputs["villages"]),
        "--sites",
        str(inputs["sites"]),
        "--access-points",
        str(inputs["aps"]),
        "--config",
        str(inputs["config"]),
        "--out",
        str(out),
    )
    assert code == 0, stderr
    for name in ("kpis.json", "villages.gpkg", "rejects.csv", "map.html", "towers.geojson"):
        assert (out / name).exists(), name

    kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    by_code = {i["code"]: i for i in kpis["indicators"]}
    mobile = by_code["village_mobile_coverage"]
    # T1 and T2 are within 5 km (rural 4G reach) of the mast; T3 (10.5 km) is not.
    assert (mobile["numerator"], mobile["denominator"], mobile["value"]) == (2, 3, 2 / 3)
    assert mobile["target"] == 1.0 and mobile["met"] is False
    assert set(mobile) == {
        "code",
        "label_vi",
        "label_en",
        "value",
        "numerator",
        "denominator",
        "target",
        "met",
        "definition",
        "definition_en",
    }
    assert mobile["definition"].startswith("Số thôn, tổ dân phố có sóng 4G trở lên")
    # Indicators without inputs are left out (no poles were given).
    assert "pole_sharing_ratio" not in by_code
    assert by_code["bts_site_sharing_ratio"]["value"] == 1.0
    assert "tower locations" in by_code["bts_site_sharing_ratio"]["definition_en"]
    # Both used sites stand at the one shared location: 2 of 2 stations.
    station = by_code["bts_station_sharing_ratio"]
    assert (station["numerator"], station["denominator"]) == (2, 2)
    assert kpis["inputs"]["sites"] == {"read": 3, "used": 2, "rejected": 1, "repaired": 0}
    assert kpis["by_unit"]["commune"][0]["unit"] == "Xã A"

    villages = gpd.read_file(out / "villages.gpkg", layer="villages")
    for column in (
        "covered_mobile",
        "covered_5g",
        "covered_ftth",
        "best_dbm",
        "nearest_site_m",
        "serving_operators",
        "ftth_distance_m",
    ):
        assert column in villages, column
    assert villages["covered_mobile"].tolist() == [True, True, False]
    assert villages["serving_operators"].tolist() == ["VNPT;Viettel", "VNPT;Viettel", ""]
    # Only T2 lies within 500 m (straight line: no roads given) of the access point.
    assert villages["covered_ftth"].tolist() == [False, True, False]
    assert villages["village_id"].tolist() == ["T1", "T2", "T3"]
    # No village gives its centre: fiber distance is measured at the interior point.
    assert villages["ftth_reason"].str.contains("interior point \\(no centre given\\)").all()
    assert villages["ftth_reason"].str.contains("limit 500 m").tolist() == [False, True, False]

    rejects = pd.read_csv(out / "rejects.csv")
    assert rejects.to_dict("records") == [
        {"file": "tram.csv", "row": 3, "id": "S3", "reason": rejects["reason"][0]}
    ]
    assert rejects["reason"][0] == (
        "empty 'Kinh độ' (lon). Fix: fill in the coordinate; "
        "empty 'Vĩ độ' (lat). Fix: fill in the coordinate"
    )
    page = (out / "map.html").read_text(encoding="utf-8")
    assert find_outside_loads(page) == []
    # The uncovered village is on the map (folium writes GeoJSON with \u escapes).
    assert "Khuổi Hát" in page or json.dumps("Khuổi Hát")[1:-1] in page
    assert "village_mobile_coverage" in stdout


def test_coverage_bad_input_exits_2(inputs, tmp_path, run_cli) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("site_id,operator,x,y\nS1,Viettel,585000,2450000\n", encoding="utf-8")
    code, _, stderr = run_cli(
        "coverage",
        "--villages",
        str(inputs["villages"]),
        "--sites",
        str(bad),
        "--out",
        str(tmp_path / "o"),
    )
    assert code == 2
    assert "bad.csv" in stderr and "--crs" in stderr


def test_villages_all_rejected_exit_2_with_their_rejects(inputs, tmp_path, run_cli) -> None:
    # Villages 100 degrees too far west (a sign lost, a wrong offset): every one falls
    # outside Vietnam. The run stops with exit 2 naming the file and the first reason, and
    # the rejects are written, so no row vanishes.
    villages = gpd.read_file(inputs["villages"])
    villages.geometry = villages.translate(xoff=-100.0)
    villages.to_file(tmp_path / "abroad.gpkg")
    out = tmp_path / "o"
    code, _, stderr = run_cli(
        "coverage",
        "--villages",
        str(tmp_path / "abroad.gpkg"),
        "--sites",
        str(inputs["sites"]),
        "--out",
        str(out),
    )
    assert code == 2
    assert "abroad.gpkg" in stderr and "all 3" in stderr and "outside Vietnam" in stderr
    assert "bounds" not in stderr
    rejects = pd.read_csv(out / "rejects.csv")
    assert sorted(rejects.loc[rejects["file"] == "abroad.gpkg", "id"]) == ["T1", "T2", "T3"]


def test_bad_config_exits_2(inputs, tmp_path, run_cli) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("mobile: {rule: nearest}\ntargets: {village_5g: 1.0}\n", encoding="utf-8")
    code, _, stderr = run_cli(
        "coverage",
        "--villages",
        str(inputs["villages"]),
        "--sites",
        str(inputs["sites"]),
        "--config",
        str(config),
        "--out",
        str(tmp_path / "o"),
    )
    assert code == 2
    assert "bad.yaml" in stderr and "mobile.rule" in stderr and "targets" in stderr


def test_hata_model_reports_received_power(inputs, tmp_path) -> None:
    from hatangso.coverage.config import CoverageConfig
    from hatangso.scenarios.job import InputFiles, run_coverage

    config = CoverageConfig.model_validate({"mobile": {"model": "hata", "threshold_dbm": -110}})
    result = run_coverage(
        InputFiles(villages=inputs["villages"], sites=inputs["sites"]), config, tmp_path / "h"
    )
    villages = result.assessment.villages
    covered = villages["covered_mobile"].to_numpy(dtype=bool)
    best = villages["best_dbm"].to_numpy(dtype=float)
    # Covered villages carry a received power at or above the threshold; the others none.
    assert covered.any()
    assert np.all(best[covered] >= -110 - 1e-6)
    assert np.all(np.isnan(best[~covered]))
    # Power falls with distance: T1 (on the mast) hears more than T2 (4 km).
    assert best[0] > best[1]


def test_samples_and_declarations_decide_the_basis(inputs, tmp_path) -> None:
    from hatangso.coverage.config import CoverageConfig
    from hatangso.scenarios.job import InputFiles, run_coverage

    villages = gpd.read_file(inputs["villages"])
    centre = villages.to_crs(UTM).geometry.centroid.to_crs(4326)
    rows = ["lon,lat,operator,tech,rsrp_dbm"]
    # T1: 40 Viettel samples, 39 at or above -110 dBm (97.5%): measured covered.
    rows += [
        f"{centre.x[0]:.6f},{centre.y[0]:.6f},Viettel,4G,{-95 if i else -120}" for i in range(40)
    ]
    # T2: predicted covered, Viettel declares it, but 40% of 50 samples: measured uncovered.
    rows += [
        f"{centre.x[1]:.6f},{centre.y[1]:.6f},Viettel,4G,{-100 if i < 20 else -125}"
        for i in range(50)
    ]
    # T3: 3 samples only: insufficient, the prediction (uncovered) stands.
    rows += [f"{centre.x[2]:.6f},{centre.y[2]:.6f},Viettel,4G,-90" for _ in range(3)]
    samples = tmp_path / "samples.csv"
    samples.write_text("\n".join(rows) + "\n", encoding="utf-8")
    declared = tmp_path / "declared.csv"
    declared.write_text("village_id,operator,tech\nT2,Viettel,4G\n", encoding="utf-8")
    config = CoverageConfig.model_validate({"samples": {"min_samples": 30}})
    result = run_coverage(
        InputFiles(
            villages=inputs["villages"], sites=inputs["sites"], samples=samples, declared=declared
        ),
        config,
        tmp_path / "out",
    )
    v = result.assessment.villages.set_index("village_id")
    assert v.loc["T1", "mobile_basis"] == "measured" and bool(v.loc["T1", "covered_mobile"])
    # Bases are per operator: Viettel's own samples say T2 is dark (40%, disputing its
    # declaration), while VNPT, on the same mast and unmeasured, still covers it by prediction.
    assert v.loc["T2", "mobile_basis"] == "measured" and bool(v.loc["T2", "covered_mobile"])
    assert v.loc["T2", "measured_availability"] == pytest.approx(0.4)
    assert bool(v.loc["T2", "disputed"])
    assert v.loc["T3", "mobile_basis"] == "predicted" and int(v.loc["T3", "n_samples"]) == 3
    disputes = pd.read_csv(tmp_path / "out" / "disputes.csv")
    assert "T2" in set(disputes["village_id"])
    kpis = result.kpis
    assert kpis["inputs"]["samples"]["read"] == 93
    assert kpis["mobile_basis"]["basis"]["measured"] == 2
    mobile = next(i for i in kpis["indicators"] if i["code"] == "village_mobile_coverage")
    # T1 (measured) and T2 (VNPT's prediction) are covered; T3 stays dark.
    assert (mobile["numerator"], mobile["denominator"]) == (2, 3)
    disputed = disputes[disputes["village_id"] == "T2"]
    assert disputed["operator"].tolist() == ["Viettel"]


def test_the_shared_columns_map_reaches_the_streamed_samples(inputs, tmp_path, run_cli) -> None:
    # The samples name their level "muc_song", which no alias knows. One --columns entry maps
    # it, as it maps the other files' columns; the samples are streamed, not loaded with the
    # layers, yet the entry must reach them and must not be reported as unused. T1 has 40
    # samples at -95 dBm: measured covered.
    villages = gpd.read_file(inputs["villages"])
    centre = villages.to_crs(UTM).geometry.centroid.to_crs(4326)
    rows = ["lon,lat,operator,tech,muc_song"]
    rows += [f"{centre.x[0]:.6f},{centre.y[0]:.6f},Viettel,4G,-95" for _ in range(40)]
    samples = tmp_path / "do_kiem.csv"
    samples.write_text("\n".join(rows) + "\n", encoding="utf-8")
    common = ("coverage", "--villages", str(inputs["villages"]), "--sites", str(inputs["sites"]))
    code, out, err = run_cli(
        *common,
        "--samples",
        str(samples),
        "--columns",
        "rsrp_dbm=muc_song",
        "--out",
        str(tmp_path / "out"),
    )
    assert code == 0, out + err
    v = gpd.read_file(tmp_path / "out" / "villages.gpkg").set_index("village_id")
    assert v.loc["T1", "mobile_basis"] == "measured"
    assert int(v.loc["T1", "n_samples"]) == 40
    # A column that is in no file, samples included, is still refused.
    code, out, err = run_cli(
        *common,
        "--samples",
        str(samples),
        "--columns",
        "rsrp_dbm=rsrp_typo",
        "--out",
        str(tmp_path / "bad"),
    )
    assert code == 2
    assert "rsrp_typo" in out + err


def test_a_calibration_shrinks_the_hata_reach_in_later_runs(inputs, tmp_path) -> None:
    from hatangso.coverage.calibration import Calibration, GroupFit
    from hatangso.coverage.config import load_config
    from hatangso.scenarios.job import InputFiles, run_coverage

    # Measurements said every site is received 40 dB weaker than the model predicts.
    weaker = Calibration(
        by=("operator",),
        groups=tuple(
            GroupFit((op,), 500, "offset", -40.0, 0.0, 41.0, -40.0, 5.0, 0.0, 0.1)
            for op in ("Viettel", "VNPT")
        ),
        reference_distance_m=1000.0,
        min_samples=100,
        rmse_before_db=41.0,
        bias_before_db=-40.0,
        rmse_after_db=5.0,
        bias_after_db=0.0,
    )
    weaker.to_json(tmp_path / "calibration.json")
    plain = tmp_path / "plain.yaml"
    plain.write_text("mobile: {model: hata}\n", encoding="utf-8")
    fitted = tmp_path / "fitted.yaml"
    fitted.write_text("mobile: {model: hata, calibration: calibration.json}\n", encoding="utf-8")
    files = InputFiles(villages=inputs["villages"], sites=inputs["sites"])
    before = run_coverage(files, load_config(plain), tmp_path / "a").assessment.villages
    after = run_coverage(files, load_config(fitted), tmp_path / "b")
    # T2, 4 km from the mast, is reached by the plain model and lost with 40 dB less power.
    assert bool(before["covered_mobile"].iloc[1])
    assert not bool(after.assessment.villages["covered_mobile"].iloc[1])
    assert any("calibration" in note for note in after.kpis["notes"])


# A 20 x 2 km village stretched east of a mast: its centre 0.5 km and its one residential
# cluster 3 km from the mast, its representative (interior) point in the middle, 9 km away.
# A second, small village 30 km east has five drive-test samples and is out of every reach.
LONG_VILLAGE = (-1000.0, -1000.0, 19_000.0, 1000.0)
OTHER_VILLAGE = (30_000.0, 0.0, 31_000.0, 1000.0)


def _official_case(tmp_path: Path) -> dict[str, Path]:
    boxes = [
        shapely.box(X0 + a, Y0 + b, X0 + c, Y0 + d) for a, b, c, d in (LONG_VILLAGE, OTHER_VILLAGE)
    ]
    centres = gpd.GeoSeries(shapely.points([(X0 + 500, Y0), (X0 + 30_500, Y0 + 500)]), crs=UTM)
    centres = centres.to_crs(4326)
    villages = gpd.GeoDataFrame(
        {
            "village_id": ["LONG", "FAR"],
            "name": ["Bản Dài", "Bản Xa"],
            "centre_lon": centres.x.to_numpy(),
            "centre_lat": centres.y.to_numpy(),
        },
        geometry=boxes,
        crs=UTM,
    ).to_crs(4326)
    villages.to_file(tmp_path / "villages.gpkg")
    site = gpd.GeoSeries(shapely.points([(X0, Y0)]), crs=UTM).to_crs(4326)
    (tmp_path / "sites.csv").write_text(
        "site_id,operator,lon,lat,tech,height_m,env\n"
        f"S1,Viettel,{site.x[0]:.7f},{site.y[0]:.7f},4G,30,rural\n",
        encoding="utf-8",
    )
    gpd.GeoDataFrame(
        {"settlement_id": ["C1"], "village_id": ["LONG"]},
        geometry=shapely.points([(X0 + 3000, Y0)]),
        crs=UTM,
    ).to_crs(4326).to_file(tmp_path / "settlements.geojson")
    # Five samples, all strong, in the other village: too few to measure anything anywhere.
    pts = gpd.GeoSeries(
        shapely.points([(X0 + 30_100 + 200 * i, Y0 + 500) for i in range(5)]), crs=UTM
    ).to_crs(4326)
    rows = ["lon,lat,operator,tech,rsrp_dbm"]
    rows += [f"{p.x:.7f},{p.y:.7f},Viettel,4G,-80" for p in pts]
    (tmp_path / "samples.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    # A flat DEM (100 m above sea level) over everything, with room for the terrain radius.
    import rasterio
    from rasterio.transform import from_origin

    cell = 100.0
    width, height = 600, 240  # x from -12 km to 48 km, y from -12 km to 12 km
    with rasterio.open(
        tmp_path / "flat.tif",
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype="float32",
        crs=f"EPSG:{UTM}",
        transform=from_origin(X0 - 12_000, Y0 + 12_000, cell, cell),
    ) as dst:
        dst.write(np.full((1, height, width), 100.0, dtype=np.float32))
    return {
        "villages": tmp_path / "villages.gpkg",
        "sites": tmp_path / "sites.csv",
        "settlements": tmp_path / "settlements.geojson",
        "samples": tmp_path / "samples.csv",
        "dem": tmp_path / "flat.tif",
    }


def _hata_power_at(distance_m: float) -> float:
    from hatangso.coverage import radio

    return float(
        radio.received_power_dbm(
            np.array([distance_m]),
            eirp_dbm=np.array([radio.DEFAULT_EIRP_DBM["4G"]]),
            freq_mhz=np.array([radio.DEFAULT_FREQ_MHZ["4G"]]),
            h_tx_m=np.array([30.0]),
            env=np.array(["rural"], dtype=object),
        )[0]
    )


@pytest.mark.parametrize("model", ["radius", "hata", "terrain"])
def test_samples_elsewhere_leave_an_officially_covered_village_covered(tmp_path, model) -> None:
    # The site reaches 5 km under every model: radius, the rural 4G default (5 km); hata, a
    # threshold set to the Hata power at 5 km; terrain, flat ground (free space, ~-80 dBm at
    # 5 km, far above -110 dBm) cut at terrain.radius_m = 5 km. The centre (0.5 km) and the
    # cluster (3 km) are inside, the interior point (9 km) is not: covered under the official
    # rule, dark under the point rule. The five samples lie in the other village and are too
    # few (< 30) to measure it; nothing is measured in the long village, so its answer stays
    # the prediction's: covered, on the predicted basis, undisputed.
    from hatangso.coverage.config import CoverageConfig
    from hatangso.scenarios.job import InputFiles, run_coverage

    paths = _official_case(tmp_path)
    mobile: dict[str, object] = {"rule": "official", "model": model}
    if model == "hata":
        mobile["threshold_dbm"] = _hata_power_at(5000.0)
    settings = {"mobile": mobile, "terrain": {"radius_m": 5000, "resolution_m": 100}}
    files = InputFiles(
        villages=paths["villages"],
        sites=paths["sites"],
        settlements=paths["settlements"],
        samples=paths["samples"],
        dem=paths["dem"] if model == "terrain" else None,
    )
    result = run_coverage(files, CoverageConfig.model_validate(settings), tmp_path / model)
    assert result.assessment.model == model
    v = result.assessment.villages.set_index("village_id")
    assert v["covered_mobile"].tolist() == [True, False]
    assert v.loc["LONG", "mobile_basis"] == "predicted"
    assert not v["disputed"].any()
    assert v.loc["LONG", "serving_operators"] == "Viettel"
    assert v.loc["LONG", "mobile_reason"].endswith("centre and every residential cluster covered")
    if model != "terrain":
        assert v.loc["LONG", "mobile_reason"] == "centre and every residential cluster covered"
    assert v.loc["FAR", "measured_status"] == "insufficient samples"
    assert int(v.loc["FAR", "n_samples"]) == 5
    mobile_kpi = next(
        i for i in result.kpis["indicators"] if i["code"] == "village_mobile_coverage"
    )
    assert (mobile_kpi["numerator"], mobile_kpi["denominator"]) == (1, 2)
    # Under the point rule the interior point decides, and it is out of reach.
    point = {**settings, "mobile": {**mobile, "rule": "point"}}
    dark = run_coverage(files, CoverageConfig.model_validate(point), tmp_path / f"{model}-point")
    assert dark.assessment.villages["covered_mobile"].tolist() == [False, False]


def test_every_input_kind_has_its_option_field_and_scenario_key() -> None:
    import dataclasses

    import typer.main

    from hatangso.cli import app
    from hatangso.coverage.engine import CoverageInputs
    from hatangso.geo.schema import LAYER_KINDS, OTHER_INPUTS, RECORD_KINDS, spec_for
    from hatangso.scenarios.job import InputFiles
    from hatangso.scenarios.schema import DATA_KINDS, DataSources

    command = typer.main.get_command(app)
    coverage = command.commands["coverage"]  # type: ignore[attr-defined]
    options = {opt for param in coverage.params for opt in param.opts}
    fields = {f.name for f in dataclasses.fields(InputFiles)}
    for kind in RECORD_KINDS:
        spec = spec_for(kind)
        assert spec.option in options, kind
        assert spec.stem in fields, kind
    for other in OTHER_INPUTS:
        assert f"--{other}" in options and other in fields
    assert set(DATA_KINDS) <= set(DataSources.model_fields)
    # The engine's frames: the layers read whole, and the other inputs.
    engine_fields = {f.name for f in dataclasses.fields(CoverageInputs)} - {"calibration"}
    assert engine_fields == {spec_for(k).stem for k in LAYER_KINDS} | set(OTHER_INPUTS)
    assert DATA_KINDS == (*(spec_for(k).stem for k in LAYER_KINDS), *OTHER_INPUTS)
    files = InputFiles.from_paths({"villages": Path("v.gpkg"), "access-points": Path("a.gpkg")})
    assert files.path("access_points") == files.access_points == Path("a.gpkg")
    assert files.path("dem") is None
