"""``hatangso run`` with samples: each year measured on the samples up to its end."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely
import yaml

from hatangso.scenarios.run import run_scenario
from hatangso.scenarios.yearly_samples import samples_until

LON = (106.0, 106.2)
LAT = 21.0


def _write_inputs(folder: Path) -> None:
    half = 0.0045
    gpd.GeoDataFrame(
        {"village_id": ["A", "B"], "name": ["Thôn A", "Thôn B"], "commune": ["Xã Một", "Xã Hai"]},
        geometry=[shapely.box(x - half, LAT - half, x + half, LAT + half) for x in LON],
        crs="EPSG:4326",
    ).to_file(folder / "villages.geojson", driver="GeoJSON")
    gpd.GeoDataFrame(
        {"site_id": ["S1"], "operator": "Viettel", "tech": "4G;5G"},
        geometry=gpd.points_from_xy([LON[0]], [LAT]),
        crs="EPSG:4326",
    ).to_file(folder / "sites.geojson", driver="GeoJSON")
    rows = ["lon,lat,operator,tech,rsrp_dbm,download_mbps,time"]

    def add(n: int, x: float, tech: str, mbps: float, time: str) -> None:
        rows.extend(f"{x},{LAT},Viettel,{tech},-80,{mbps},{time}" for _ in range(n))

    add(300, LON[0], "4G", 30.0, "2024-06-01T09:00:00")  # Xã Một, 2024: mean 30
    add(300, LON[0], "4G", 70.0, "2025-06-01T09:00:00+07:00")  # Xã Một, 2025: 70
    add(300, LON[0], "5G", 120.0, "2025-03-01")  # Xã Một, 5G, 2025 only
    add(10, LON[1], "4G", 5.0, "")  # Xã Hai: undated, in every year; too few
    (folder / "samples.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def _scenario(folder: Path, write_scenario: Callable[..., Path]) -> Path:
    _write_inputs(folder)
    speed = {"label_vi": "Tốc độ", "label_en": "Speed", "unit": "Mb/s"}
    return write_scenario(
        folder,
        name="two-years",
        title="Hai năm",
        data={
            "villages": "villages.geojson",
            "sites": "sites.geojson",
            "samples": "samples.csv",
        },
        model={"mobile": {"model": "radius"}},
        years=[2024, 2025],
        targets={"village_mobile_coverage": {2024: 50, 2025: 100}},
        statistics=[
            {"code": "mobile_download_4g_mbps", **speed, "targets": {2024: 40, 2025: 45}},
            {"code": "mobile_download_5g_mbps", **speed, "targets": {2025: 110}},
        ],
    )


def _speed(kpis: dict[str, Any], code: str) -> tuple[Any, ...] | None:
    found = [i for i in kpis["indicators"] if i["code"] == code]
    if not found:
        return None
    return (found[0]["numerator"], found[0]["denominator"], found[0]["target_mbps"])


def _communes(kpis: dict[str, Any], block: str) -> dict[str, tuple[int, float | None]]:
    return {c["unit"]: (c["n_samples"], c["mean_mbps"]) for c in kpis[block]["communes"]}


@pytest.fixture(scope="module")
def two_years(tmp_path_factory: pytest.TempPathFactory, write_scenario: Callable[..., Path]) -> Any:
    folder = tmp_path_factory.mktemp("two-years")
    return run_scenario(_scenario(folder, write_scenario), folder / "out")


def test_each_year_measures_the_samples_up_to_its_end(two_years: Any) -> None:
    kpis = two_years.kpis_by_year()
    # 2024: Xã Một's 300 samples of 2024 (mean 30) against 2024's 40 Mb/s: 0 of 1. No 5G yet.
    assert _speed(kpis[2024], "commune_4g_speed") == (0, 1, 40.0)
    assert _speed(kpis[2024], "commune_5g_speed") is None
    assert _communes(kpis[2024], "commune_speed") == {"Xã Một": (300, 30.0), "Xã Hai": (10, None)}
    assert kpis[2024]["inputs"]["samples"]["read"] == 310
    # 2025: 600 samples, mean (30 + 70) / 2 = 50 >= 45: 1 of 1. 5G: 300 at 120 >= 110.
    assert _speed(kpis[2025], "commune_4g_speed") == (1, 1, 45.0)
    assert _speed(kpis[2025], "commune_5g_speed") == (1, 1, 110.0)
    assert _communes(kpis[2025], "commune_speed") == {"Xã Một": (600, 50.0), "Xã Hai": (10, None)}
    assert _communes(kpis[2025], "commune_speed_5g") == {"Xã Một": (300, 120.0)}
    assert kpis[2025]["inputs"]["samples"]["read"] == 910


def test_the_baseline_takes_every_sample_against_the_national_targets(two_years: Any) -> None:
    kpis = two_years.baseline.kpis
    assert _speed(kpis, "commune_4g_speed") == (1, 1, 40.0)
    assert _speed(kpis, "commune_5g_speed") == (1, 1, 100.0)
    assert kpis["inputs"]["samples"]["read"] == 910


def test_the_5g_village_is_predicted_and_the_report_shows_5g(two_years: Any) -> None:
    kpis = two_years.kpis_by_year()[2025]
    block = kpis["predicted_downlink_5g"]
    assert block["tech"] == "5G" and block["target_mbps"] == 110.0
    # Thôn A holds the 5G site alone: 4.4 b/s/Hz on 100 MHz for the downlink's 52 of the TDD
    # frame's 70 symbols, 440 x 52 / 70 = 326.86 Mb/s, above the target.
    assert block["villages_predicted"] == 1 and block["covered_below_target"] == 0
    villages = gpd.read_file(two_years.years[1].out_dir / "villages.gpkg").set_index("village_id")
    assert villages.loc["A", "pred_dl_5g_mbps"] == pytest.approx(440 * 52 / 70, abs=0.005)
    report = (two_years.out_dir / "report.html").read_text(encoding="utf-8")
    assert "Tốc độ tải xuống 5G đo được theo xã (mục tiêu 110 Mb/s)" in report
    assert "Thôn có sóng 5G nhưng tốc độ 5G dự báo dưới 110 Mb/s (0 thôn)" in report


def test_samples_until_keeps_the_file_when_nothing_is_later(tmp_path: Path) -> None:
    _write_inputs(tmp_path)
    path = tmp_path / "samples.csv"
    assert samples_until(path, 2025, tmp_path / "2025") == path
    assert not (tmp_path / "2025" / "samples.csv").exists()
    kept = samples_until(path, 2024, tmp_path / "2024")
    assert kept == tmp_path / "2024" / "samples.csv"
    frame = pd.read_csv(kept, dtype=str, keep_default_na=False)
    assert len(frame) == 310 and set(frame["time"]) == {"2024-06-01T09:00:00", ""}
    assert list(frame.columns) == [
        "lon",
        "lat",
        "operator",
        "tech",
        "rsrp_dbm",
        "download_mbps",
        "time",
    ]


def test_samples_until_a_geopackage_and_a_mapped_time_column(tmp_path: Path) -> None:
    path = tmp_path / "samples.gpkg"
    gpd.GeoDataFrame(
        {
            "operator": "VNPT",
            "tech": "4G",
            "rsrp_dbm": -90.0,
            "Ngày đo": ["2023-12-31", "2024-01-01T06:59:59+07:00", "2024-01-01T00:00:00Z"],
        },
        geometry=gpd.points_from_xy([106.0] * 3, [21.0] * 3),
        crs=4326,
    ).to_file(path)
    # Without the column map no time column is known: every sample counts.
    assert samples_until(path, 2023, tmp_path / "a") == path
    kept = samples_until(path, 2023, tmp_path / "b", columns={"time": "Ngày đo"})
    # 2024-01-01 07:00 in Vietnam is 00:00 UTC: after 2023; 06:59:59 is still 2024 locally.
    assert gpd.read_file(kept)["Ngày đo"].tolist() == ["2023-12-31"]


def test_samples_until_a_workbook_writes_the_years_rows_as_csv(tmp_path: Path) -> None:
    path = tmp_path / "samples.xlsx"
    pd.DataFrame(
        {
            "lon": [106.0, 106.0, 106.0],
            "lat": [21.0, 21.0, 21.0],
            "operator": "VNPT",
            "tech": "4G",
            "rsrp_dbm": [-90, -91, -92],
            "time": ["2024-12-31T23:00:00", "2025-01-01T00:00:00", ""],
        }
    ).to_excel(path, index=False)
    # 2025-01-01 00:00 in Vietnam is after 2024; the undated sample counts in every year.
    kept = samples_until(path, 2024, tmp_path / "2024")
    assert kept == tmp_path / "2024" / "samples.csv"
    assert pd.read_csv(kept)["rsrp_dbm"].tolist() == [-90, -92]
    assert not list((tmp_path / "2024").glob(".*"))  # no temporary file left beside it


HATANGSO = shutil.which("hatangso", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(HATANGSO is None, reason="the console script is not installed")
def test_run_takes_samples_from_the_command_line(
    tmp_path: Path, write_scenario: Callable[..., Path]
) -> None:
    assert HATANGSO is not None
    data = yaml.safe_load(_scenario(tmp_path, write_scenario).read_text(encoding="utf-8"))
    del data["data"]["samples"]  # the scenario names none: the option brings them
    path = write_scenario(tmp_path, **data)
    measured = (tmp_path / "samples.csv").rename(tmp_path / "measured.csv")
    out = tmp_path / "out"
    done = subprocess.run(
        [HATANGSO, "run", str(path), "--out", str(out), "--samples", str(measured)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    kpis = json.loads((out / "2024" / "kpis.json").read_text(encoding="utf-8"))
    assert _speed(kpis, "commune_4g_speed") == (0, 1, 40.0)
    assert kpis["inputs"]["samples"]["read"] == 310


def test_an_offset_of_hours_alone_counts_as_an_offset() -> None:
    from hatangso.scenarios.yearly_samples import dated_before

    # The end of 2024 in Vietnam time is 2024-12-31T17:00Z.
    times = pd.Series(
        [
            "2025-01-01T00:30:00+07",  # 17:30Z: after the end
            "2024-12-31T23:59:59+07",  # 16:59:59Z: before it
            "2024-12-31T12:00:00-05",  # 17:00Z: the end itself, after
            "2024-12-31T11:59:00-05",  # 16:59Z: before
            "2025-01-01T00:30:00+0700",  # 17:30Z
            "2024-12",  # a month, not a time with an offset: unreadable, so undated
        ]
    )
    assert dated_before(times, 2024).tolist() == [False, True, False, True, False, True]


def test_samples_until_writes_the_years_csv_atomically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hatangso.scenarios.yearly_samples as yearly

    _write_inputs(tmp_path)
    path = tmp_path / "samples.csv"
    out = tmp_path / "2024" / "samples.csv"
    out.parent.mkdir()
    out.write_text("the year's file of an earlier run\n", encoding="utf-8")
    written: list[Path] = []
    real = yearly.atomic_write

    def spy(target: str | Path, write: Callable[[Path], object]) -> Path:
        written.append(Path(target))
        return real(target, write)

    monkeypatch.setattr(yearly, "atomic_write", spy)
    # Nothing after 2025: nothing written, nothing left behind, the earlier file untouched.
    assert samples_until(path, 2025, out.parent) == path
    assert sorted(p.name for p in out.parent.iterdir()) == ["samples.csv"]
    # A failure while the file is written leaves the earlier one whole, and no partial file.
    monkeypatch.setattr(yearly, "dated_before", lambda *_a: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        samples_until(path, 2024, out.parent)
    assert out.read_text(encoding="utf-8") == "the year's file of an earlier run\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["samples.csv"]
    monkeypatch.undo()
    monkeypatch.setattr(yearly, "atomic_write", spy)
    assert samples_until(path, 2024, out.parent) == out
    assert written == [out] * 3
    assert len(pd.read_csv(out, dtype=str, keep_default_na=False)) == 310
    assert sorted(p.name for p in out.parent.iterdir()) == ["samples.csv"]
