"""Download speed through a whole run: kpis.json, villages, the map and the report."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pydantic import ValidationError

from hatangso.coverage.config import CoverageConfig
from hatangso.scenarios.job import InputFiles, run_coverage
from hatangso.scenarios.maps import MapLayers, village_map
from hatangso.scenarios.speed_report import speed_html

UTM = 32648
X0, Y0 = 600_000.0, 2_450_000.0
EVIL = "<img src=x onerror=alert(1)>"


def _inputs(tmp_path: Path) -> InputFiles:
    # Three 1 km villages 0, 4 and 10 km east of a Viettel mast; T1, T2 in Xã A, T3 in Xã B.
    boxes = [shapely.box(X0 + x, Y0, X0 + x + 1000, Y0 + 1000) for x in (0, 4000, 10_000)]
    villages = gpd.GeoDataFrame(
        {
            "village_id": ["T1", "T2", "T3"],
            "name": ["Nà Mằm", "Pác Nặm", "Khuổi Hát"],
            "commune": ["Xã A", "Xã A", "Xã B"],
        },
        geometry=boxes,
        crs=UTM,
    ).to_crs(4326)
    villages.to_file(tmp_path / "villages.gpkg")
    sites = gpd.GeoDataFrame(
        {"site_id": ["S1"], "operator": ["Viettel"], "tech": ["4G"]},
        geometry=shapely.points([(X0 + 500, Y0 + 500)]),
        crs=UTM,
    ).to_crs(4326)
    sites.to_file(tmp_path / "sites.gpkg")
    centres = villages.to_crs(UTM).geometry.centroid.to_crs(4326)
    rows = ["lon,lat,operator,tech,rsrp_dbm,download_mbps"]
    # Xã A: 300 4G samples in T1, mean 45 Mb/s (30 and 60 in equal numbers): published, met.
    rows += [
        f"{centres.x[0]:.6f},{centres.y[0]:.6f},Viettel,4G,-90,{30 if i % 2 else 60}"
        for i in range(300)
    ]
    # Xã B: 299 samples: insufficient.
    rows += [f"{centres.x[2]:.6f},{centres.y[2]:.6f},Viettel,4G,-100,80" for _ in range(299)]
    samples = tmp_path / "samples.csv"
    samples.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return InputFiles(
        villages=tmp_path / "villages.gpkg", sites=tmp_path / "sites.gpkg", samples=samples
    )


def test_a_run_measures_communes_and_predicts_villages(tmp_path: Path) -> None:
    config = CoverageConfig.model_validate({"mobile": {"model": "radius", "rule": "point"}})
    result = run_coverage(_inputs(tmp_path), config, tmp_path / "out", speed_target_mbps=40.0)
    kpis = result.kpis
    speed = next(i for i in kpis["indicators"] if i["code"] == "commune_4g_speed")
    assert (speed["numerator"], speed["denominator"], speed["value"]) == (1, 1, 1.0)
    assert speed["target_mbps"] == 40.0 and "300" in speed["definition"]
    communes = {c["unit"]: c for c in kpis["commune_speed"]["communes"]}
    assert communes["Xã A"]["n_samples"] == 300 and communes["Xã A"]["mean_mbps"] == 45.0
    assert communes["Xã A"]["status"] == "published" and communes["Xã A"]["reaches_target"]
    assert communes["Xã B"] == {
        "unit": "Xã B",
        "n_samples": 299,
        "mean_mbps": None,
        "median_mbps": None,
        "status": "insufficient",
        "reaches_target": None,
    }
    villages = gpd.read_file(tmp_path / "out" / "villages.gpkg").set_index("village_id")
    # T1 holds the mast: a single carrier, limited by noise only, at the 4.4 b/s/Hz cap.
    assert villages.loc["T1", "pred_dl_mbps"] == 88.0
    assert villages.loc["T1", "pred_dl_operator"] == "Viettel"
    # Farther away, slower.
    assert villages.loc["T3", "pred_dl_mbps"] < villages.loc["T2", "pred_dl_mbps"] <= 88.0
    predicted = kpis["predicted_downlink"]
    assert predicted["target_mbps"] == 40.0 and "TR 36.942" in predicted["method"]
    page = (tmp_path / "out" / "map.html").read_text(encoding="utf-8")
    assert "Predicted download (target 40 Mb/s)" in page  # the layer, in the layer control
    report = speed_html(kpis, "vi")
    assert "Xã B" in report and "chưa đủ mẫu" in report and "2928/VNNIC" in report


def test_a_run_above_the_size_limit_measures_but_does_not_predict(tmp_path: Path) -> None:
    # speed.predict: auto leaves the prediction out above auto_max_villages (here 2 < 3
    # villages), says so in the notes, and still measures the communes; "always" predicts.
    base = {"mobile": {"model": "radius", "rule": "point"}}
    config = CoverageConfig.model_validate({**base, "speed": {"auto_max_villages": 2}})
    kpis = run_coverage(_inputs(tmp_path), config, tmp_path / "auto", speed_target_mbps=40.0).kpis
    assert "predicted_downlink" not in kpis
    assert any("predicted downlink left out: 3 villages" in n for n in kpis["notes"])
    assert kpis["commune_speed"]["communes"][0]["n_samples"] in (300, 299)
    villages = gpd.read_file(tmp_path / "auto" / "villages.gpkg")
    assert "pred_dl_mbps" not in villages

    config = CoverageConfig.model_validate(
        {**base, "speed": {"predict": "always", "auto_max_villages": 2}}
    )
    kpis = run_coverage(_inputs(tmp_path), config, tmp_path / "all", speed_target_mbps=40.0).kpis
    assert "predicted_downlink" in kpis
    assert not any("predicted downlink left out" in n for n in kpis["notes"])


def test_the_speed_layer_escapes_its_texts() -> None:
    villages = gpd.GeoDataFrame(
        {
            "village_id": ["V1", "V2"],
            "name": [EVIL, "Bản Nà Mạ"],
            "covered_mobile": [True, True],
            "pred_dl_mbps": [12.0, np.nan],
            "sinr_db": [0.0, np.nan],
            "pred_dl_operator": pd.array([EVIL, None], dtype="string"),
        },
        geometry=shapely.box([105.0, 105.02], [21.0, 21.0], [105.01, 105.03], [21.01, 21.01]),
        crs=4326,
    )
    kpis = {"indicators": [], "predicted_downlink": {"target_mbps": 40.0}}
    page = village_map(MapLayers(villages=villages, kpis=kpis), title="t")
    assert "Predicted download (target 40 Mb/s)" in page
    assert "Tốc độ dự báo dưới mục tiêu" in page  # the legend
    assert "<img src=x" not in page and "\\u003cimg" not in page
    report = speed_html(
        {
            "predicted_downlink": {
                "target_mbps": 40.0,
                "covered_below_target": 1,
                "villages_below_target": [
                    {"village_id": "V1", "name": EVIL, "pred_dl_mbps": 12.0, "sinr_db": 0.0}
                ],
            }
        },
        "vi",
    )
    assert "&lt;img src=x" in report and "<img src=x" not in report


def test_the_report_shows_the_speeds_in_vietnamese_then_english(tmp_path: Path) -> None:
    from hatangso.scenarios.report import report_rows, write_html
    from hatangso.scenarios.schema import Scenario

    scenario = Scenario.model_validate(
        {
            "name": "tiny",
            "title": "Tỉnh Thử",
            "description": "hand-made",
            "scope": {"province": "Tỉnh Thử"},
            "data": {"villages": "v.gpkg"},
            "years": [2025],
            "targets": {"village_mobile_coverage": {2025: 100}},
        }
    )
    mobile = {"code": "village_mobile_coverage", "value": 1.0, "numerator": 2}
    kpis = {
        "indicators": [{**mobile, "denominator": 2, "target": 1.0, "met": True}],
        "commune_speed": {
            "target_mbps": 80.0,
            "min_samples": 300,
            "communes": [
                {
                    "unit": "Xã A",
                    "n_samples": 400,
                    "mean_mbps": 61.5,
                    "median_mbps": 58.0,
                    "status": "published",
                    "reaches_target": False,
                }
            ],
        },
        "predicted_downlink": {
            "target_mbps": 80.0,
            "covered_below_target": 0,
            "villages_below_target": [],
        },
    }
    rows = report_rows(scenario, kpis, {2025: kpis})
    page = write_html(
        scenario, rows, tmp_path / "report.html", lang="both", registry=kpis
    ).read_text(encoding="utf-8")
    assert "Tốc độ tải xuống 4G đo được theo xã (mục tiêu 80 Mb/s)" in page
    assert "Measured 4G download per commune (target 80 Mb/s)" in page
    assert '<td>Xã A</td><td class="num">400</td><td class="num">61.5</td>' in page
    assert "<td>Chưa đạt</td>" in page and "<td>no</td>" in page
    assert "Thôn có sóng nhưng tốc độ dự báo dưới 80 Mb/s (0 thôn)" in page


def test_the_compact_map_shows_the_slow_covered_villages_and_the_popup_figure() -> None:
    villages = gpd.GeoDataFrame(
        {
            "village_id": ["V1", "V2", "V3"],
            "name": ["Một", "Hai", "Ba"],
            "covered_mobile": [True, True, False],
            "pred_dl_mbps": [12.0, 95.0, 3.0],
            "sinr_db": [0.0, 20.0, -8.0],
        },
        geometry=shapely.box(
            [105.0, 105.02, 105.04], [21.0] * 3, [105.01, 105.03, 105.05], [21.01] * 3
        ),
        crs=4326,
    )
    kpis = {"indicators": [], "predicted_downlink": {"target_mbps": 40.0}}
    page = village_map(MapLayers(villages=villages, kpis=kpis), title="t", compact=True)
    assert "Predicted download (target 40 Mb/s)" in page
    assert "Predicted download (Mb/s)" in page  # the villages' popups on the canvas
    # Only V1 (covered, below the target) is drawn: no key for the fast or uncovered ones.
    assert "Tốc độ dự báo dưới mục tiêu" in page
    assert "Tốc độ dự báo từ hai lần mục tiêu" not in page


def test_the_speed_keys_show_only_while_the_speed_layer_does() -> None:
    # The speed layer starts off; its keys (red and green circles, like the villages') must
    # not sit in the legend while it is, and come with it when it is switched on.
    villages = gpd.GeoDataFrame(
        {
            "village_id": ["V1", "V2"],
            "covered_mobile": [True, False],
            "pred_dl_mbps": [12.0, np.nan],
        },
        geometry=shapely.points([[105.0, 21.0], [105.02, 21.0]]),
        crs=4326,
    )
    kpis = {"indicators": [], "predicted_downlink": {"target_mbps": 40.0}}
    page = village_map(MapLayers(villages=villages, kpis=kpis), title="t")
    legend = page[page.index('id="hts-legend"') :]
    hidden = legend.index('<span id="hts-speed-keys" style="display:none">')
    assert legend.index("Tốc độ dự báo dưới mục tiêu") > hidden
    assert "getElementById('hts-speed-keys')" in page


def test_an_uncovered_village_shows_no_predicted_speed_on_the_map() -> None:
    # V2 has no 4G under the run's model (a terrain shadow) although the Hata-based prediction
    # at its centre gives 88 Mb/s: neither its popup nor the speed layer may show that speed.
    villages = gpd.GeoDataFrame(
        {
            "village_id": ["V1", "V2"],
            "name": ["Một", "Hai"],
            "covered_mobile": [True, False],
            "pred_dl_mbps": [12.0, 88.0],
            "sinr_db": [0.5, 27.0],
        },
        geometry=shapely.box([105.0, 105.02], [21.0, 21.0], [105.01, 105.03], [21.01, 21.01]),
        crs=4326,
    )
    kpis = {"indicators": [], "predicted_downlink": {"target_mbps": 40.0}}
    page = village_map(MapLayers(villages=villages, kpis=kpis), title="t")
    assert '"pred_dl_mbps": 12.0' in page  # V1's popup and speed point
    assert '"pred_dl_mbps": 88.0' not in page
    # V1 (12 < 40) is drawn below the target; no village at twice the target or more.
    assert "Tốc độ dự báo dưới mục tiêu" in page
    assert "Tốc độ dự báo từ hai lần mục tiêu" not in page


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("vi", "3.500 MHz (băng n78), 100 MHz. Sóng mang 5G song công"),
        ("en", "3,500 MHz (band n78) over 100 MHz. 5G carriers are TDD"),
    ],
)
def test_the_5g_method_names_the_default_carrier_and_the_run_s_downlink_share(
    lang: str, said: str
) -> None:
    # The 5G block records the share the prediction used: 0.5 -> "50%".
    block = {"target_mbps": 100.0, "covered_below_target": 0, "downlink_share": 0.5}
    report = speed_html({"predicted_downlink_5g": block}, lang)
    assert said in report
    assert "50%" in report


def test_the_5g_downlink_share_is_a_speed_setting() -> None:
    assert CoverageConfig().speed.tdd_downlink_share_5g == pytest.approx(52.0 / 70.0)
    config = CoverageConfig.model_validate({"speed": {"tdd_downlink_share_5g": 0.8}})
    assert config.speed.tdd_downlink_share_5g == 0.8
    with pytest.raises(ValidationError, match="tdd_downlink_share_5g"):
        CoverageConfig.model_validate({"speed": {"tdd_downlink_share_5g": 1.5}})
