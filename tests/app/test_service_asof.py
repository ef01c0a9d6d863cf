"""``?as_of=``: the KPIs, villages and report as the record stood at the end of a past day.

Four villages 30 km apart; the record gets them and a site in the first in 2024, sites in the
second and third in 2025. Covered share: 1/4 as of 31 Dec 2024, 3/4 as of 31 Dec 2025.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import geopandas as gpd
import openpyxl
import pytest
import shapely
from fastapi.testclient import TestClient

from hatangso.app.config import Settings
from hatangso.app.main import create_app
from hatangso.app.workspace import Workspace, record_schema
from hatangso.geo.outputs import write_json
from hatangso.geo.store import open_store, store_url

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
UTM = 32648
X0, Y0 = 600_000.0, 2_450_000.0
CENTRES = [(X0 + 500, Y0 + 500 - 30_000 * i) for i in range(4)]
API_KEY = "asof-key"
NAME = "tinh"
POSTGIS_URL = os.environ.get("HATANGSO_TEST_DATABASE_URL")


class YearClock:
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


@pytest.fixture(params=["embedded", "postgis"])
def workspace_root(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """A workspace whose scenario has two yearly change sets in its record, and no run yet."""
    database = None
    if request.param == "postgis":
        if not POSTGIS_URL:
            pytest.skip("HATANGSO_TEST_DATABASE_URL is not set: run `make test`")
        database = POSTGIS_URL
    root = tmp_path / "ws"
    folder = root / NAME
    folder.mkdir(parents=True)
    write_json(
        {"name": NAME, "title": "Tỉnh thử", "config": {"mobile": {"rule": "point"}}},
        folder / "scenario.json",
    )
    clock = YearClock()
    store = (
        open_store(database, schema=record_schema(NAME), clock=clock)
        if database
        else open_store(store_url(folder), clock=clock)
    )
    store.apply(store.diff("villages", four_villages(), actor="so-tt"))
    store.apply(store.diff("sites", sites_in([0]), actor="so-tt"))
    clock.now = datetime(2025, 5, 1, 9, 0, tzinfo=HANOI)
    store.apply(store.diff("sites", sites_in([0, 1, 2]), actor="viettel"))
    store.close()
    request.node.database = database
    yield root
    if database:
        import sqlalchemy as sa

        engine = sa.create_engine(database.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{record_schema(NAME)}" CASCADE')
        engine.dispose()


@pytest.fixture
def client(workspace_root: Path, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    settings = Settings.model_validate(
        {
            "workspace": workspace_root,
            "demo": False,
            "prewarm": False,
            "api_key": API_KEY,
            "database_url": request.node.database,
        }
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def share(document: dict[str, object]) -> float:
    indicators = document["indicators"]
    assert isinstance(indicators, list)
    (value,) = [i["value"] for i in indicators if i["code"] == "village_mobile_coverage"]
    return float(value)


def asof_runs(root: Path) -> list[str]:
    place = root / NAME / "asof"
    return (
        sorted(p.name for p in place.iterdir() if not p.name.startswith("."))
        if place.is_dir()
        else []
    )


def test_kpis_as_of_each_year_end(client: TestClient, workspace_root: Path) -> None:
    key = {"X-API-Key": API_KEY}
    # A run of the service reads the record and keeps the version it read.
    run = client.post(f"/api/scenarios/{NAME}/coverage", headers=key)
    assert run.status_code == 200, run.text
    assert run.json()["record_version"] == 3
    assert share(run.json()) == pytest.approx(3 / 4)
    published = json.loads((workspace_root / NAME / "current" / "run.json").read_text())
    assert published["record"] == {
        "version": 3,
        "as_of": None,
        "counts": {"villages": 4, "sites": 3},
    }

    # The run is kept as the run of version 3 too (its files linked, not copied).
    (made,) = asof_runs(workspace_root)
    assert made.startswith("v3-")
    kept_kpis = workspace_root / NAME / "asof" / made / "kpis.json"
    published_kpis = workspace_root / NAME / "current" / "kpis.json"
    assert kept_kpis.stat().st_ino == published_kpis.stat().st_ino

    # The end of 2025 is version 3, the published run's: it answers, nothing is run.
    late = client.get(f"/api/scenarios/{NAME}/kpis", params={"as_of": "2025-12-31"})
    assert late.status_code == 200, late.text
    assert (late.json()["as_of"], late.json()["record_version"]) == ("2025-12-31", 3)
    assert share(late.json()) == pytest.approx(3 / 4)
    assert asof_runs(workspace_root) == [made]

    # The end of 2024 is version 2: run once, kept, then answered from the kept run.
    early = client.get(f"/api/scenarios/{NAME}/kpis", params={"as_of": "2024-12-31"})
    assert early.status_code == 200, early.text
    assert (early.json()["as_of"], early.json()["record_version"]) == ("2024-12-31", 2)
    assert share(early.json()) == pytest.approx(1 / 4)
    kept = asof_runs(workspace_root)
    assert len(kept) == 2 and kept[0].startswith("v2-")
    again = client.get(f"/api/scenarios/{NAME}/kpis", params={"as_of": "2024-06-30"})
    assert again.json()["record_version"] == 2 and again.json()["as_of"] == "2024-06-30"
    assert share(again.json()) == pytest.approx(1 / 4)
    assert asof_runs(workspace_root) == kept

    # The current KPIs are untouched by the past day's run.
    assert share(client.get(f"/api/scenarios/{NAME}/kpis").json()) == pytest.approx(3 / 4)

    # The villages and the report of that day, from the same run.
    villages = client.get(f"/api/scenarios/{NAME}/villages", params={"as_of": "2024-12-31"})
    assert villages.status_code == 200, villages.text
    covered = {
        f["properties"]["village_id"]
        for f in villages.json()["features"]
        if f["properties"]["covered_mobile"]
    }
    assert covered == {"V1"}
    towers = client.get(f"/api/scenarios/{NAME}/towers", params={"as_of": "2024-12-31"})
    assert towers.status_code == 200, towers.text
    assert towers.json()["numberMatched"] == 1  # S1 alone stood then
    assert client.get(f"/api/scenarios/{NAME}/towers").json()["numberMatched"] == 3
    report = client.get(
        f"/api/scenarios/{NAME}/exports/report.xlsx", params={"as_of": "2024-12-31"}
    )
    assert report.status_code == 200
    assert "2024-12-31" in report.headers["content-disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(report.content))["Uncovered"]
    assert sorted(r[0] for r in sheet.iter_rows(min_row=2, values_only=True)) == ["V2", "V3", "V4"]


def test_a_day_before_the_first_change_is_404(client: TestClient) -> None:
    answer = client.get(f"/api/scenarios/{NAME}/kpis", params={"as_of": "2023-12-31"})
    assert answer.status_code == 404
    assert "no change by the end of 2023-12-31" in answer.text
    assert (
        client.get(f"/api/scenarios/{NAME}/kpis", params={"as_of": "31/12/2024"}).status_code == 422
    )


def test_a_record_never_run_answers_a_past_day(client: TestClient) -> None:
    # No run published yet: a past day is run on the record all the same.
    answer = client.get(f"/api/scenarios/{NAME}/kpis", params={"as_of": "2025-01-01"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["record_version"] == 2
    assert share(answer.json()) == pytest.approx(1 / 4)
    assert client.get(f"/api/scenarios/{NAME}/kpis").status_code == 404


def test_kept_runs_are_the_least_recently_used(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    (tmp_path / NAME).mkdir()
    made = []
    for i in range(3):
        with workspace.new_asof_run(NAME) as out:
            (out / "kpis.json").write_text("{}")
            made.append(workspace.publish_asof_run(NAME, f"v{i + 1}-x", out, keep=2))
        os.utime(made[-1], (1_000_000 + i, 1_000_000 + i))
    assert asof_runs(tmp_path) == ["v2-x", "v3-x"]  # the oldest went
    assert workspace.asof_run(NAME, "v2-x") is not None  # used: now the newest
    assert workspace.asof_run(NAME, "v1-x") is None
    with workspace.new_asof_run(NAME) as out:
        workspace.publish_asof_run(NAME, "v4-x", out, keep=2)
    assert asof_runs(tmp_path) == ["v2-x", "v4-x"]
    (tmp_path / NAME / "asof" / ".tmp-killed").mkdir()  # a killed job's leftover
    removed = workspace.clean(NAME)
    assert [p.name for p in removed] == [".tmp-killed"]
