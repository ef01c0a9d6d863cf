"""`hatangso coverage` with the hata model: a total EIRP and its per-element value agree."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hatangso.cli import main
from hatangso.coverage.radio import site_reach_m

UTM = 32648
X0, Y0 = 600_000.0, 2_450_000.0
# Village centres due east of the mast, in metres.
DISTANCES_M = (1000.0, 3000.0, 5000.0, 7000.0, 9000.0, 12_000.0, 14_000.0)


def run_coverage(tmp_path: Path, sites_text: str, name: str, monkeypatch) -> gpd.GeoDataFrame:
    sites = tmp_path / f"{name}.csv"
    sites.write_text(sites_text, encoding="utf-8")
    out = tmp_path / name
    monkeypatch.setattr(
        sys,
        "argv",
        ["hatangso", "coverage", "--villages", str(tmp_path / "villages.gpkg"), "--sites",
         str(sites), "--config", str(tmp_path / "hata.yaml"), "--out", str(out)],
    )  # fmt: skip
    with pytest.raises(SystemExit) as info:
        main()
        sys.exit(0)
    assert info.value.code == 0
    return gpd.read_file(out / "villages.gpkg").sort_values("village_id")


@pytest.fixture
def place(tmp_path: Path) -> tuple[float, float]:
    # Small villages (50 m squares) centred east of the mast; the point rule uses the centre.
    boxes = [shapely.box(X0 + d - 25, Y0 - 25, X0 + d + 25, Y0 + 25) for d in DISTANCES_M]
    gpd.GeoDataFrame(
        {"village_id": [f"T{i}" for i in range(len(boxes))], "name": ["Thôn"] * len(boxes)},
        geometry=boxes,
        crs=UTM,
    ).to_crs(4326).to_file(tmp_path / "villages.gpkg")
    (tmp_path / "hata.yaml").write_text(
        "mobile: {model: hata, threshold_dbm: -110, rule: point}\n", encoding="utf-8"
    )
    mast = gpd.GeoSeries([shapely.Point(X0, Y0)], crs=UTM).to_crs(4326)
    return float(mast.x[0]), float(mast.y[0])


def test_total_eirp_and_its_per_element_value_cover_the_same_villages(
    place: tuple[float, float], tmp_path: Path, monkeypatch
) -> None:
    lon, lat = place
    head = "Mã trạm,Nhà mạng,Kinh độ,Vĩ độ,Công nghệ,Độ cao,Môi trường"
    row = f"S1,Viettel,{lon:.8f},{lat:.8f},4G,30,rural"
    # 40 W (46 dBm) into a 17 dBi panel with 1.2 dB of jumper: 61.8 dBm for the 20 MHz carrier,
    # 61.8 - 10 log10(1200) = 31.0 dBm per resource element.
    per_element = 61.8 - 10 * math.log10(1200)
    total = run_coverage(
        tmp_path, f"{head},EIRP (dBm),Băng thông\n{row},61.8,20\n", "total", monkeypatch
    )
    element = run_coverage(
        tmp_path, f"{head},eirp_re_dbm\n{row},{per_element:.10f}\n", "element", monkeypatch
    )
    np.testing.assert_array_equal(total["covered_mobile"], element["covered_mobile"])
    np.testing.assert_allclose(total["best_dbm"], element["best_dbm"], atol=1e-6)

    # By hand: the reach at 31.0 dBm per element (1,800 MHz, 30 m, rural, -110 dBm) is between
    # 9 and 12 km (11.04 km), so the first five villages are covered and the last two are not.
    reach = float(
        site_reach_m(tech=["4G"], model="hata", env=["rural"], height_m=30.0,
                     eirp_dbm=per_element, freq_mhz=1800.0, radius_m=None,
                     threshold_dbm=-110.0)[0]
    )  # fmt: skip
    assert 9000.0 < reach < 12_000.0
    covered = total["covered_mobile"].astype(bool).tolist()
    assert covered == [d <= reach for d in DISTANCES_M] == [True] * 5 + [False] * 2

    # The total written in the per-element column is refused, with the fix, not read as a
    # per-element EIRP 30.8 dB too strong.
    wrong = run_coverage(tmp_path, f"{head},eirp_re_dbm\n{row},61.8\n", "wrong", monkeypatch)
    assert not wrong["covered_mobile"].astype(bool).any()
    rejects = pd.read_csv(tmp_path / "wrong" / "rejects.csv")
    (reason,) = rejects["reason"]
    assert "eirp_re_dbm 61.8 is outside -10 to 45 dBm" in reason
    assert "move it to eirp_dbm" in reason
