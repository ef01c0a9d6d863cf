"""The map page is built once per result, however many requests wait for it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hatangso.app.config import Settings
from hatangso.app.main import create_app
from hatangso.app.routes import maps
from hatangso.app.singleflight import SingleFlight

SettingsFor = Callable[..., Settings]


def _villages() -> bytes:
    features = []
    for i, x in enumerate((105.8, 106.0)):
        d = 0.005
        ring = [[x - d, 22 - d], [x + d, 22 - d], [x + d, 22 + d], [x - d, 22 + d], [x - d, 22 - d]]
        features.append(
            {
                "type": "Feature",
                "properties": {"village_id": f"V{i}", "name": f"Thôn {i}"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    return json.dumps({"type": "FeatureCollection", "features": features}).encode("utf-8")


def test_single_flight_builds_once_for_waiters_without_a_previous_value() -> None:
    flight: SingleFlight[str] = SingleFlight()
    calls: list[int] = []
    started = threading.Event()

    def build() -> str:
        calls.append(1)
        started.set()
        time.sleep(0.3)
        return "page-1"

    with ThreadPoolExecutor(20) as pool:
        pages = list(pool.map(lambda _: flight.get("k", 1, build), range(20)))
    assert pages == ["page-1"] * 20 and len(calls) == 1
    # A new version: one builder; the others meanwhile get the previous value at once.
    release = threading.Event()

    def build_two() -> str:
        calls.append(2)
        release.wait(5)
        return "page-2"

    builder = threading.Thread(target=lambda: flight.get("k", 2, build_two))
    builder.start()
    while len(calls) < 2:
        time.sleep(0.01)
    assert [flight.get("k", 2, build_two) for _ in range(5)] == ["page-1"] * 5
    release.set()
    builder.join()
    assert flight.get("k", 2, build_two) == "page-2" and calls == [1, 2]


def test_a_failed_build_is_retried_by_the_next_caller() -> None:
    flight: SingleFlight[str] = SingleFlight()

    def broken() -> str:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        flight.get("k", 1, broken)
    assert flight.get("k", 1, lambda: "ok") == "ok"


@pytest.mark.slow
def test_twenty_map_requests_after_new_results_build_the_page_once(
    tmp_path: Path, settings_for: SettingsFor, key: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(create_app(settings_for(tmp_path))) as client:
        for kind, file, data in (
            ("villages", "v.geojson", _villages()),
            ("sites", "s.csv", b"site_id,operator,lon,lat\nS1,viettel,105.8,22.0\n"),
        ):
            url = f"/api/scenarios/flight/uploads/{kind}"
            assert client.post(url, files={"file": (file, data)}, headers=key).status_code == 200
        first = client.post("/api/scenarios/flight/coverage", headers=key, json={})
        assert first.status_code == 200, first.text
        old_page = client.get("/map/flight").text

        # New results: 5 km radius covers one village; 30 km covers both.
        config = {"mobile": {"radius_m": {"4G": {"rural": 30_000}}}}
        second = client.post("/api/scenarios/flight/coverage", headers=key, json=config)
        assert second.status_code == 200, second.text

        real = maps.build_page
        builds: list[float] = []

        def slow_build(*args: Any, **kwargs: Any) -> str:
            builds.append(time.monotonic())
            time.sleep(1.0)  # as a large province's page takes seconds
            return real(*args, **kwargs)

        monkeypatch.setattr(maps, "build_page", slow_build)
        barrier = threading.Barrier(20)

        def get(_: int) -> str:
            barrier.wait()
            response = client.get("/map/flight")
            assert response.status_code == 200
            return response.text

        with ThreadPoolExecutor(20) as pool:
            pages = list(pool.map(get, range(20)))
        assert len(builds) == 1
        new_page = client.get("/map/flight").text
        assert new_page != old_page and len(builds) == 1
        # Each request had the previous page at once or the new one, never anything else.
        assert set(pages) <= {old_page, new_page}
        assert new_page in pages
        # Another worker process (its own slots) reads the page the first one built.
        monkeypatch.setattr(maps, "PAGES", SingleFlight())
        assert client.get("/map/flight").text == new_page and len(builds) == 1
