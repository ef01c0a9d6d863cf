"""Challenges through the service: a full round trip, with the roles held at every step."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from hatangso.app.auth import Principal, current_principal
from hatangso.app.main import create_app

OFFICIAL = Principal(name="so-tttt", role="official")
VIETTEL = Principal(name="viettel-noc", role="operator", operator="Viettel")
VNPT = Principal(name="vnpt-noc", role="operator", operator="VNPT")
VIEWER = Principal(name="khach", role="viewer")


@pytest.fixture(scope="module")
def workspace(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo workspace: the challenges written here stay out of the others' way."""
    root = tmp_path_factory.mktemp("challenges") / "ws"
    shutil.copytree(demo_workspace, root, symlinks=True)
    return root


@pytest.fixture(scope="module")
def app_and_client(workspace: Path, settings_for: Any) -> Iterator[tuple[Any, TestClient]]:
    application = create_app(settings_for(workspace, api_key=None))
    with TestClient(application) as test_client:
        yield application, test_client
    application.dependency_overrides.clear()


def _as(application: Any, principal: Principal) -> None:
    application.dependency_overrides[current_principal] = lambda: principal


def _samples(
    polygon: shapely.Geometry, n: int, *, operator: str = "Viettel"
) -> list[dict[str, Any]]:
    """`n` outdoor samples of `operator` 4G inside `polygon`, taken ten days ago at 10:00."""
    rng = np.random.default_rng(7)
    x0, y0, x1, y1 = polygon.bounds
    xy = rng.uniform((x0, y0), (x1, y1), size=(50 * n, 2))
    inside = xy[shapely.contains_xy(polygon, xy[:, 0], xy[:, 1])][:n]
    assert len(inside) == n
    day = (datetime.now(UTC) - timedelta(days=10)).date().isoformat()
    return [
        {
            "lon": float(lon),
            "lat": float(lat),
            "operator": operator,
            "tech": "4G",
            "rsrp_dbm": -121.0,
            "time": f"{day}T10:00:00",
            "outdoor": True,
        }
        for lon, lat in inside
    ]


def test_round_trip_with_roles(
    app_and_client: tuple[Any, TestClient], workspace: Path, settings_for: Any
) -> None:
    application, client = app_and_client
    villages = gpd.read_file(workspace / "demo" / "villages.gpkg")
    only_viettel = villages[villages["serving_operators"] == "Viettel"].iloc[0]
    village_id = str(only_viettel["village_id"])
    samples = _samples(only_viettel.geometry, 35)
    body = {
        "village_id": village_id,
        "operator": "Viettel",
        "tech": "4G",
        "claim": "not_covered",
        "evidence": {"samples": samples},
        "note": "dân phản ánh mất sóng",
    }
    base = "/api/scenarios/demo/challenges"

    # Filing: a viewer may not; an operator may not challenge itself.
    _as(application, VIEWER)
    assert client.post(base, json=body).status_code == 403
    _as(application, VIETTEL)
    refused = client.post(base, json=body)
    assert refused.status_code == 403
    assert "its own status" in refused.json()["detail"]

    # The evidence rules, each failed one named.
    _as(application, OFFICIAL)
    short = client.post(base, json={**body, "evidence": {"samples": samples[:20]}})
    assert short.status_code == 422
    assert "min_samples" in short.json()["detail"]
    night = [{**s, "time": s["time"].replace("10:00", "23:00")} for s in samples]
    late = client.post(base, json={**body, "evidence": {"samples": night}})
    assert late.status_code == 422 and "hours" in late.json()["detail"]

    filed = client.post(base, json=body)
    assert filed.status_code == 201, filed.text
    challenge_id = filed.json()["id"]
    assert filed.json()["status"] == "open"
    assert [c["challenge_id"] for c in client.get(base, params={"status": "open"}).json()] == [
        challenge_id
    ]

    # Answering: only the operator concerned; disputing needs evidence.
    answer = f"{base}/{challenge_id}/answer"
    _as(application, VNPT)
    assert client.post(answer, json={"position": "dispute"}).status_code == 403
    _as(application, OFFICIAL)
    assert client.post(answer, json={"position": "concede"}).status_code == 403
    _as(application, VIETTEL)
    assert client.post(answer, json={"position": "dispute"}).status_code == 422
    answered = client.post(
        answer, json={"position": "dispute", "evidence": {"document": "Biên bản đo 07/2026"}}
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "answered"
    assert client.post(answer, json={"position": "concede"}).status_code == 409

    # Deciding: never an operator; an official.
    decision = f"{base}/{challenge_id}/decision"
    assert client.post(decision, json={"decision": "upheld"}).status_code == 403
    _as(application, VIEWER)
    assert client.post(decision, json={"decision": "upheld"}).status_code == 403
    _as(application, OFFICIAL)
    decided = client.post(decision, json={"decision": "upheld", "note": "đo kiểm xác nhận"})
    assert decided.status_code == 200, decided.text
    assert decided.json()["decision"] == "upheld"
    assert client.post(decision, json={"decision": "rejected"}).status_code == 409

    # Every step is in the history, with its user.
    one = client.get(f"{base}/{challenge_id}").json()
    assert [(h["user"], h["action"], h["after"]["status"]) for h in one["history"]] == [
        ("so-tttt", "add", "open"),
        ("viettel-noc", "update", "answered"),
        ("so-tttt", "update", "decided"),
    ]
    assert client.get(base, params={"status": "open"}).json() == []
    assert len(client.get(base, params={"status": "decided"}).json()) == 1

    # The page lists it.
    page = client.get("/scenarios/demo/challenges")
    assert page.status_code == 200
    assert f'id="challenge-{challenge_id}"' in page.text and "Chấp nhận" in page.text

    # The next run puts the village on the decision (in this process: the job's code).
    from hatangso.app.routes.uploads import _run
    from hatangso.app.workspace import Workspace

    _run(Workspace(workspace), settings_for(workspace, api_key=None), "demo", {})
    after = gpd.read_file(workspace / "demo" / "villages.gpkg").set_index("village_id")
    assert after.loc[village_id, "mobile_basis"] == "challenge"
    assert after.loc[village_id, "challenge_id"] == challenge_id
    assert not after.loc[village_id, "covered_mobile"]
    kpis = json.loads((workspace / "demo" / "kpis.json").read_text(encoding="utf-8"))
    block = kpis["challenges"]
    assert (block["total"], block["decided"], block["upheld"]) == (1, 1, 1)
    assert block["list"][0]["challenge_id"] == challenge_id


def test_decision_of_an_open_challenge_waits_for_its_due_date(
    app_and_client: tuple[Any, TestClient], workspace: Path
) -> None:
    application, client = app_and_client
    villages = gpd.read_file(workspace / "demo" / "villages.gpkg")
    village = villages[villages["serving_operators"].fillna("") == ""].iloc[0]
    _as(application, VIETTEL)  # an operator challenges another's status
    filed = client.post(
        "/api/scenarios/demo/challenges",
        json={
            "village_id": str(village["village_id"]),
            "operator": "VNPT",
            "tech": "4G",
            "claim": "covered",
            "evidence": {"document": "Hợp đồng thuê trạm số 15"},
        },
    )
    assert filed.status_code == 201, filed.text
    _as(application, OFFICIAL)
    early = client.post(
        f"/api/scenarios/demo/challenges/{filed.json()['id']}/decision",
        json={"decision": "rejected"},
    )
    assert early.status_code == 409 and "may answer it until" in early.json()["detail"]
    unknown = client.post(
        "/api/scenarios/demo/challenges",
        json={
            "village_id": "NO-SUCH",
            "operator": "VNPT",
            "tech": "4G",
            "claim": "covered",
            "evidence": {"document": "x"},
        },
    )
    assert unknown.status_code == 404
