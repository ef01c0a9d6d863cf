"""Challenges: the evidence rules on hand-made samples, the steps' roles, the decided basis."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from shapely import Point, box

from hatangso.coverage.config import ChallengesConfig, CoverageConfig
from hatangso.geo.errors import ConflictError, ForbiddenError
from hatangso.geo.store import open_store
from hatangso.scenarios.challenges import (
    answer_challenge,
    apply_decisions,
    check_samples,
    decide_challenge,
    file_challenge,
    kpis_block,
    read_challenges,
)

FILED = datetime(2026, 6, 30, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội
VILLAGE = box(105.80, 21.00, 105.81, 21.01)


@dataclass(frozen=True)
class User:
    name: str
    role: str
    operator: str | None = None
    province: str | None = None


def _samples(n: int, **changes: object) -> pd.DataFrame:
    """`n` good samples: Viettel 4G, inside the village, outdoors, at 09:00 a week before."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "lon": 105.80 + 0.01 * rng.uniform(0.1, 0.9, n),
            "lat": 21.00 + 0.01 * rng.uniform(0.1, 0.9, n),
            "operator": "Viettel",
            "tech": "4G",
            "rsrp_dbm": np.where(np.arange(n) % 4 == 0, -100.0, -120.0),
            "time": "2026-06-23T09:00:00",
            "outdoor": "yes",
        }
    )
    for column, value in changes.items():
        frame[column] = value
    return frame


def _check(frame: pd.DataFrame, **rules: object) -> object:
    return check_samples(
        frame,
        VILLAGE,
        operator="Viettel",
        tech="4G",
        filed_at=FILED,
        rules=ChallengesConfig.model_validate(rules),
    )


def test_good_samples_pass_every_rule() -> None:
    check = _check(_samples(40))
    assert check.ok and check.valid == 40 and check.failed == ()  # type: ignore[attr-defined]
    assert check.availability == pytest.approx(10 / 40)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"operator": "VNPT"}, "operator_tech"),
        ({"tech": "5G"}, "operator_tech"),
        ({"lon": 105.85}, "in_village"),
        ({"time": "2025-06-01T09:00:00"}, "recent"),  # 13 months before the filing
        ({"time": "2026-07-01T09:00:00"}, "recent"),  # after it
        ({"time": "2026-06-23T22:30:00"}, "hours"),
        ({"time": "2026-06-23T05:59:00+07:00"}, "hours"),
        ({"time": "2026-06-22T23:30:00Z"}, "hours"),  # 06:30 local: in hours
        ({"outdoor": "no"}, "outdoors"),
        ({"rsrp_dbm": "strong"}, "readable"),
    ],
)
def test_each_rule_is_named_when_it_fails(changes: dict[str, object], rule: str) -> None:
    frame = _samples(40).astype(object)
    frame.loc[:9, list(changes)] = list(changes.values())
    check = _check(frame)
    if changes == {"time": "2026-06-22T23:30:00Z"}:
        assert check.ok and check.failed == ()  # type: ignore[attr-defined]
        return
    assert check.failing[rule] == 10  # type: ignore[attr-defined]
    assert check.failed == (rule,)  # type: ignore[attr-defined]
    assert check.valid == 30 and check.ok  # type: ignore[attr-defined]
    # Two more bad samples and too few are left.
    frame.loc[:11, list(changes)] = list(changes.values())
    short = _check(frame)
    assert not short.ok and short.failed == (rule, "min_samples")  # type: ignore[attr-defined]


def test_the_rules_are_configurable() -> None:
    frame = _samples(12, outdoor="no", time="2026-06-23T23:00:00")
    assert not _check(frame).ok  # type: ignore[attr-defined]
    relaxed = _check(frame, min_samples=10, outdoors=False, hours=(0, 24))
    assert relaxed.ok and relaxed.failed == ()  # type: ignore[attr-defined]


def test_a_point_village_takes_samples_within_its_radius() -> None:
    frame = pd.DataFrame(
        {
            "lon": [105.8, 105.8, 105.8],
            "lat": [21.0, 21.004, 21.006],  # 0, ~445 m and ~667 m north
            "operator": "Viettel",
            "tech": "4G",
            "rsrp_dbm": -100.0,
            "time": "2026-06-23T09:00:00",
            "outdoor": "yes",
        }
    )
    check = check_samples(
        frame,
        Point(105.8, 21.0),
        operator="Viettel",
        tech="4G",
        filed_at=FILED,
        rules=ChallengesConfig(min_samples=2),
    )
    assert check.valid == 2 and check.failing["in_village"] == 1


def _villages() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "village_id": ["V1", "V2", "V3"],
            "name": ["Nà Hin", "Bản Mới", "Khuổi Ho"],
            "province": ["Bắc Kạn", "Bắc Kạn", "Bắc Kạn"],
            "covered_mobile": [True, True, False],
            "covered_5g": [False, False, False],
            "serving_operators": ["Viettel", "Viettel;VNPT", ""],
            "mobile_basis": ["predicted", "measured", "predicted"],
            "population_in_village": [100.0, 200.0, 50.0],
            "population_covered_mobile": [100.0, 200.0, 0.0],
        },
        geometry=[VILLAGE, box(105.82, 21.0, 105.83, 21.01), Point(105.9, 21.0)],
        crs=4326,
    )


POSTGIS_URL = os.environ.get("HATANGSO_TEST_DATABASE_URL")


@pytest.fixture(params=["embedded", "postgis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """The scenario's record: a GeoPackage, or a schema of the test PostGIS (when there is one)."""
    if request.param == "embedded":
        opened = open_store(tmp_path)
        yield opened
        opened.close()
        return
    if not POSTGIS_URL:
        pytest.skip(
            os.environ.get("HATANGSO_TEST_POSTGIS_SKIP") or "HATANGSO_TEST_DATABASE_URL is not set"
        )
    schema = f"t_{uuid.uuid4().hex[:12]}"
    opened = open_store(POSTGIS_URL, schema=schema)
    yield opened
    opened.close()
    engine = sa.create_engine(POSTGIS_URL.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


def test_steps_roles_and_the_decided_basis(store: object) -> None:
    villages = _villages()
    official = User("so", "official", province="Bắc Kạn")
    viettel = User("vt", "operator", "Viettel")
    evidence = {"samples": _samples(35).to_dict("records")}
    with pytest.raises(ForbiddenError, match="in Bắc Kạn, not in Cao Bằng"):
        file_challenge(
            store,  # type: ignore[arg-type]
            villages,
            User("cb", "official", province="Cao Bằng"),
            village_id="V1",
            operator="Viettel",
            tech="4G",
            claim="not_covered",
            evidence=evidence,
            now=FILED,
        )
    first = file_challenge(
        store,  # type: ignore[arg-type]
        villages,
        official,
        village_id="V1",
        operator="viettel",  # operator names are normalised
        tech="4G",
        claim="not_covered",
        evidence=evidence,
        now=FILED,
    )
    assert (first["challenge_id"], first["operator"], first["due"]) == (
        "CH-0001",
        "Viettel",
        "2026-08-29",
    )
    second = file_challenge(
        store,  # type: ignore[arg-type]
        villages,
        viettel,
        village_id="V3",
        operator="VNPT",
        tech="4G",
        claim="covered",
        evidence={"document": "Hợp đồng 15"},
        now=FILED,
    )
    with pytest.raises(ConflictError, match="may answer it until 2026-08-29"):
        decide_challenge(store, official, second["challenge_id"], decision="upheld", now=FILED)  # type: ignore[arg-type]
    with pytest.raises(ForbiddenError, match="only the operator concerned, VNPT"):
        answer_challenge(store, villages, viettel, second["challenge_id"], now=FILED)  # type: ignore[arg-type]
    answer_challenge(
        store,  # type: ignore[arg-type]
        villages,
        viettel,
        "CH-0001",
        position="concede",
        now=FILED + timedelta(days=3),
    )
    decide_challenge(store, official, "CH-0001", decision="upheld", now=FILED + timedelta(days=4))  # type: ignore[arg-type]
    # Past its due date, an unanswered challenge is decided; it can no longer be answered.
    late = FILED + timedelta(days=61)
    with pytest.raises(ConflictError, match="was due by 2026-08-29"):
        answer_challenge(
            store,  # type: ignore[arg-type]
            villages,
            User("vnpt", "operator", "VNPT"),
            "CH-0002",
            position="concede",
            now=late,
        )
    decide_challenge(store, official, "CH-0002", decision="upheld", now=late)  # type: ignore[arg-type]

    challenges = read_challenges(store)  # type: ignore[arg-type]
    out = apply_decisions(villages, challenges).set_index("village_id")
    # V1: Viettel was its only serving operator; held not to cover it, nobody does.
    assert not out.loc["V1", "covered_mobile"]
    assert out.loc["V1", "mobile_basis"] == "challenge"
    assert out.loc["V1", "challenge_id"] == "CH-0001"
    assert out.loc["V1", "population_covered_mobile"] == 0.0
    # V3: VNPT held to cover it.
    assert out.loc["V3", "covered_mobile"] and out.loc["V3", "serving_operators"] == "VNPT"
    assert out.loc["V3", "population_covered_mobile"] == 50.0
    # V2: untouched.
    assert out.loc["V2", "mobile_basis"] == "measured" and pd.isna(out.loc["V2", "challenge"])
    block = kpis_block(challenges)
    assert (block["total"], block["open"], block["decided"], block["upheld"]) == (2, 0, 2, 2)


def test_a_rejected_or_pending_challenge_changes_no_answer() -> None:
    villages = _villages()
    challenges = pd.DataFrame(
        {
            "challenge_id": ["CH-0001", "CH-0002"],
            "village_id": ["V1", "V2"],
            "operator": ["Viettel", "VNPT"],
            "tech": ["4G", "4G"],
            "claim": ["not_covered", "not_covered"],
            "status": ["decided", "answered"],
            "decision": ["rejected", None],
        }
    )
    out = apply_decisions(villages, challenges)
    columns = ["covered_mobile", "serving_operators", "mobile_basis"]
    pd.testing.assert_frame_equal(pd.DataFrame(out[columns]), pd.DataFrame(villages[columns]))
    assert out["challenge"].tolist()[:2] == ["rejected", "answered"]


def test_a_coverage_run_counts_and_applies_the_challenges(tmp_path: Path) -> None:
    from hatangso.scenarios.job import InputFiles, run_coverage

    path = tmp_path / "villages.gpkg"
    _villages()[["village_id", "name", "geometry"]].to_file(path)
    sites = tmp_path / "sites.gpkg"
    # One Viettel site, 5 km rural radius: V1 and V2 covered, V3 (10 km east) not.
    gpd.GeoDataFrame(
        {"site_id": ["S1"], "operator": ["Viettel"], "tech": ["4G"]},
        geometry=[Point(105.805, 21.005)],
        crs=4326,
    ).to_file(sites)
    challenges = pd.DataFrame(
        {
            "challenge_id": ["CH-0001"],
            "village_id": ["V3"],
            "operator": ["VNPT"],
            "tech": ["4G"],
            "claim": ["covered"],
            "status": ["decided"],
            "decision": ["upheld"],
            "decided_at": ["2026-07-01T00:00:00+00:00"],
        }
    )
    result = run_coverage(
        InputFiles(villages=path, sites=sites),
        CoverageConfig(),
        tmp_path / "out",
        challenges=challenges,
    )
    by_code = {i["code"]: i for i in result.kpis["indicators"]}
    assert by_code["village_mobile_coverage"]["numerator"] == 3
    assert result.kpis["challenges"]["upheld"] == 1
    written = gpd.read_file(tmp_path / "out" / "villages.gpkg").set_index("village_id")
    assert written.loc["V3", "mobile_basis"] == "challenge"


def test_the_map_outlines_the_challenged_villages() -> None:
    from hatangso.scenarios.maps import MapLayers, village_map

    challenges = pd.DataFrame(
        {
            "challenge_id": ["CH-0001"],
            "village_id": ["V2"],
            "operator": ["VNPT"],
            "tech": ["4G"],
            "claim": ["not_covered"],
            "status": ["open"],
        }
    )
    page = village_map(MapLayers(villages=apply_decisions(_villages(), challenges)), title="t")
    # In its status layer, and again in the layer of the challenged villages' outlines.
    assert "Thôn bị khiếu nại" in page and page.count('"challenge": "open"') == 2
    plain = village_map(
        MapLayers(villages=apply_decisions(_villages(), challenges.head(0))), title="t"
    )
    assert "Thôn bị khiếu nại" not in plain
