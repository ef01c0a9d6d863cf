"""The record's layers as the coverage job reads them, as they stood on a day.

Two yearly change sets in the record (2024: four villages and a site in the first; 2025:
sites in the second and third): 1/4 of the villages covered as of 31 Dec 2024, 3/4 after.
`hatangso run --record --as-of 2024-12-31` makes the same report as a run on the 2024 data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import pytest
import shapely
import yaml

from hatangso.coverage.config import parse_config
from hatangso.geo.errors import InputError, NotFoundError
from hatangso.geo.store import SqlStore, open_store
from hatangso.scenarios.job import InputFiles, run_coverage
from hatangso.scenarios.record import inputs_as_of, record_version

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
UTM = 32648
X0, Y0 = 600_000.0, 2_450_000.0
#: Four 1 km villages 30 km apart (north to south): a site in a village covers it and no other.
CENTRES = [(X0 + 500, Y0 + 500 - 30_000 * i) for i in range(4)]


class YearClock:
    """Stamps each change on a day the test sets, a second after the last."""

    def __init__(self) -> None:
        self.now = datetime(2024, 3, 1, 9, 0, tzinfo=HANOI)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def four_villages() -> gpd.GeoDataFrame:
    boxes = [shapely.box(x - 500, y - 500, x + 500, y + 500) for x, y in CENTRES]
    return gpd.GeoDataFrame(
        {
            "village_id": ["V1", "V2", "V3", "V4"],
            "name": ["Nà Mằm", "Pác Nặm", "Khuổi Hát", "Bản Chang"],
            "commune": ["Xã A", "Xã A", "Xã B", "Xã B"],
            "population": [300.0, 500.0, 200.0, 400.0],
        },
        geometry=boxes,
        crs=UTM,
    ).to_crs(4326)


def sites_in(villages: list[int]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "site_id": [f"S{i + 1}" for i in villages],
            "operator": ["Viettel"] * len(villages),
            "tech": ["4G"] * len(villages),
        },
        geometry=shapely.points([CENTRES[i] for i in villages]),
        crs=UTM,
    ).to_crs(4326)


def two_years(store: SqlStore, clock: YearClock) -> None:
    """Year 1 (2024): four villages, a site in V1. Year 2 (2025): sites in V2 and V3."""
    store.apply(store.diff("villages", four_villages(), actor="so-tt"))
    store.apply(store.diff("sites", sites_in([0]), actor="so-tt"))
    clock.now = datetime(2025, 5, 1, 9, 0, tzinfo=HANOI)
    store.apply(store.diff("sites", sites_in([0, 1, 2]), actor="so-tt"))


@pytest.fixture
def record(tmp_path: Path) -> Iterator[SqlStore]:
    clock = YearClock()
    store = open_store(tmp_path / "record.gpkg", clock=clock)
    two_years(store, clock)
    yield store
    store.close()


def covered_share(files: dict[str, Path], out: Path) -> float:
    config = parse_config({"mobile": {"rule": "point"}}, source="test")
    result = run_coverage(InputFiles.from_paths(files), config, out)
    (value,) = [
        i["value"] for i in result.kpis["indicators"] if i["code"] == "village_mobile_coverage"
    ]
    return float(value)


def test_the_record_as_of_each_year_end(record: SqlStore, tmp_path: Path) -> None:
    year1 = inputs_as_of(record, "2024-12-31", tmp_path / "y1")
    year2 = inputs_as_of(record, "2025-12-31", tmp_path / "y2")
    now = inputs_as_of(record, None, tmp_path / "now")

    assert (year1.version, year2.version, now.version) == (2, 3, 3)
    assert year1.counts == {"villages": 4, "sites": 1}
    assert year2.counts == {"villages": 4, "sites": 3}
    assert set(year1.paths) == {"villages", "sites"}  # kinds without rows: no file
    assert year1.describe() == {
        "version": 2,
        "as_of": "2024-12-31",
        "counts": {"villages": 4, "sites": 1},
    }
    assert covered_share(dict(year1.paths), tmp_path / "out1") == pytest.approx(1 / 4)
    assert covered_share(dict(year2.paths), tmp_path / "out2") == pytest.approx(3 / 4)


def test_a_day_before_the_first_change_has_no_record(record: SqlStore) -> None:
    assert record_version(record, "2024-12-31") == 2
    with pytest.raises(NotFoundError, match="no change by the end of 2023-12-31"):
        record_version(record, "2023-12-31")
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        record_version(record, "31/12/2024")


# ------------------------------------------------------------------------------------------
# hatangso run --record --as-of


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    """A scenario file whose data are the 2024 layers, and a record of 2024 and 2025 beside."""
    four_villages().to_file(tmp_path / "villages.gpkg")
    sites_in([0]).to_file(tmp_path / "sites.gpkg")
    clock = YearClock()
    store = open_store(tmp_path / "record.gpkg", clock=clock)
    two_years(store, clock)
    store.close()
    path = tmp_path / "tinh.yaml"
    document = {
        "name": "tinh",
        "title": "Tỉnh thử",
        "description": "hand-made",
        "scope": {"province": "Tỉnh Thử"},
        "data": {"villages": "villages.gpkg", "sites": "sites.gpkg"},
        "model": {"mobile": {"rule": "point"}},
        "years": [2025],
        "targets": {"village_mobile_coverage": {2025: 100}},
    }
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def _read(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    kpis = json.loads((folder / "kpis.json").read_text(encoding="utf-8"))
    return summary, kpis


def _share(kpis: dict[str, Any]) -> float:
    (value,) = [i["value"] for i in kpis["indicators"] if i["code"] == "village_mobile_coverage"]
    return float(value)


def test_the_report_as_of_year_end_equals_the_run_on_that_years_data(
    scenario: Path, tmp_path: Path, run_cli: Any
) -> None:
    code, _, err = run_cli("run", str(scenario), "--out", str(tmp_path / "files"), "--quiet")
    assert code == 0, err
    code, _, err = run_cli(
        "run",
        str(scenario),
        "--out",
        str(tmp_path / "asof"),
        "--record",
        str(tmp_path / "record.gpkg"),
        "--as-of",
        "2024-12-31",
        "--quiet",
    )
    assert code == 0, err
    files_summary, files_kpis = _read(tmp_path / "files")
    asof_summary, asof_kpis = _read(tmp_path / "asof")
    assert asof_summary == files_summary
    assert asof_kpis["indicators"] == files_kpis["indicators"]
    assert _share(asof_kpis) == pytest.approx(1 / 4)
    assert (asof_kpis["as_of"], asof_kpis["record_version"]) == ("2024-12-31", 2)
    # The record now: the 2025 sites count.
    code, _, err = run_cli(
        "run",
        str(scenario),
        "--out",
        str(tmp_path / "now"),
        "--record",
        str(tmp_path / "record.gpkg"),
        "--quiet",
    )
    assert code == 0, err
    _, now_kpis = _read(tmp_path / "now")
    assert _share(now_kpis) == pytest.approx(3 / 4)
    assert (now_kpis["as_of"], now_kpis["record_version"]) == (None, 3)


def test_as_of_needs_a_record_and_a_day_it_has(
    scenario: Path, tmp_path: Path, run_cli: Any
) -> None:
    out = str(tmp_path / "out")
    code, _, err = run_cli("run", str(scenario), "--out", out, "--as-of", "2024-12-31")
    assert code == 2 and "--record" in err
    record = str(tmp_path / "record.gpkg")
    args = ("run", str(scenario), "--out", out, "--record", record, "--as-of")
    code, _, err = run_cli(*args, "2023-12-31")
    assert code == 2 and "no change by the end of 2023-12-31" in err
    code, _, err = run_cli(*args, "31/12/2024")
    assert code == 2 and "YYYY-MM-DD" in err
    code, _, err = run_cli(
        "run",
        str(scenario),
        "--out",
        out,
        "--record",
        str(tmp_path / "nope.gpkg"),
    )
    assert code == 2 and "no record there" in err
    assert not (tmp_path / "nope.gpkg").exists()


def test_a_file_that_is_no_record_is_refused_untouched(tmp_path: Path) -> None:
    from hatangso.scenarios.record import open_record

    villages = tmp_path / "villages.gpkg"
    four_villages().to_file(villages)
    table = tmp_path / "thon.csv"
    table.write_text("village_id,name\nV1,Nà Mằm\n", encoding="utf-8")
    for path in (villages, table):
        before = path.read_bytes()
        with pytest.raises(InputError, match="the file is not a record"):
            open_record(path, name="bac-kan")
        assert path.read_bytes() == before  # no record tables added to the user's file


def test_a_database_out_of_reach_is_the_users_fault(tmp_path: Path) -> None:
    from hatangso.scenarios.record import open_record

    # Port 1 on this machine: refused at once, nothing leaves the machine.
    with pytest.raises(InputError, match=r"database cannot be reached") as info:
        open_record("postgresql://so:secret@127.0.0.1:1/hatangso", name="bac-kan")
    assert "secret" not in str(info.value) and "so:***@127.0.0.1:1" in str(info.value)
