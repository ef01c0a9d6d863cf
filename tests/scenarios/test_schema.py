"""Tests of the scenario file (hatangso.scenarios.schema): its errors and the shipped plans."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from hatangso.geo.errors import ConfigError, InputError
from hatangso.scenarios.schema import Scenario, load_scenario, parse_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
SHIPPED = ("demo", "ca-mau", "tien-giang", "bac-kan", "hong-phong")


def _minimal(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "tiny",
        "title": "Tiny",
        "description": "hand-made",
        "scope": {"province": "Tỉnh Demo"},
        "data": {"villages": "villages.geojson"},
        "years": [2024, 2025],
        "targets": {"village_mobile_coverage": {2024: 95, 2025: 100}},
    }
    data.update(changes)
    return data


def _write(folder: Path, data: dict[str, Any], name: str = "s.yaml") -> Path:
    (folder / "villages.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_minimal_scenario_targets_are_shares(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path, _minimal()))
    # 95 % in the file is the share 0.95 in the coverage configuration.
    assert scenario.targets_for(2024) == {"village_mobile_coverage": 0.95}
    assert scenario.config_for(2025).targets == {"village_mobile_coverage": 1.0}
    assert scenario.config_for(None).targets == {}
    assert scenario.path == tmp_path / "s.yaml"


def test_unknown_indicator_names_key_and_known_codes(tmp_path: Path) -> None:
    data = _minimal(targets={"village_wifi": {2024: 100, 2025: 100}})
    with pytest.raises(InputError, match=r"s\.yaml: key 'targets\.village_wifi'.*unknown"):
        load_scenario(_write(tmp_path, data))
    with pytest.raises(InputError, match="village_mobile_coverage"):
        load_scenario(_write(tmp_path, data))


def test_year_without_target(tmp_path: Path) -> None:
    data = _minimal(years=[2024, 2025, 2026])
    with pytest.raises(InputError, match="year 2026 has no target for any indicator"):
        load_scenario(_write(tmp_path, data))


def test_target_year_not_listed_and_deployment_year_not_listed(tmp_path: Path) -> None:
    data = _minimal(
        targets={"village_mobile_coverage": {2024: 95, 2025: 100, 2027: 100}},
        deployments={2023: {"sites": ["villages.geojson"]}},
    )
    with pytest.raises(InputError) as info:
        load_scenario(_write(tmp_path, data))
    # Both faults come in one error, so the user fixes them in one go.
    text = str(info.value)
    assert "targets.village_mobile_coverage.2027" in text
    assert "deployments.2023" in text
    assert len(info.value.problems) == 2


def test_missing_file(tmp_path: Path) -> None:
    data = _minimal(deployments={2025: {"sites": ["new/sites_2025.gpkg"]}})
    with pytest.raises(
        InputError,
        match=r"deployments\.2025\.sites\.0': file 'new/sites_2025\.gpkg' does not exist",
    ):
        load_scenario(_write(tmp_path, data))


@pytest.mark.parametrize("escape", ["../outside.gpkg", "data/../../outside.gpkg", "..\\x.gpkg"])
def test_path_escaping_the_data_root(tmp_path: Path, escape: str) -> None:
    folder = tmp_path / "scenario"
    folder.mkdir()
    data = _minimal(data={"villages": "villages.geojson", "sites": escape})
    with pytest.raises(InputError, match="leaves the data root"):
        load_scenario(_write(folder, data))


def test_absolute_path_is_refused_and_cannot_be_allowed(tmp_path: Path) -> None:
    # A scenario file names files under its own folder only: `allow_absolute_paths` once let
    # it read any file of the machine, so it is refused now, with what to do instead.
    other = tmp_path / "elsewhere.geojson"
    other.write_text('{"type": "FeatureCollection", "features": []}')
    folder = tmp_path / "scenario"
    folder.mkdir()
    data = _minimal(data={"villages": "villages.geojson", "sites": str(other)})
    with pytest.raises(ConfigError, match=r"absolute path .* is not allowed"):
        load_scenario(_write(folder, data))
    with pytest.raises(ConfigError, match=r"key 'allow_absolute_paths'.*--data-root"):
        load_scenario(_write(folder, {**data, "allow_absolute_paths": True}))


@pytest.mark.skipif(os.name == "nt", reason="symbolic links")
def test_symlink_out_of_the_root(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.geojson"
    other.write_text('{"type": "FeatureCollection", "features": []}')
    folder = tmp_path / "scenario"
    folder.mkdir()
    (folder / "link.geojson").symlink_to(other)
    data = _minimal(data={"villages": "villages.geojson", "sites": "link.geojson"})
    with pytest.raises(InputError, match="resolves outside the data root"):
        load_scenario(_write(folder, data))


def test_data_root_comes_from_the_command_line_not_the_file(tmp_path: Path) -> None:
    root = tmp_path / "shared"
    root.mkdir()
    (root / "v.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    folder = tmp_path / "scenario"
    folder.mkdir()
    # `data_root: /etc` in a file would let the file read anything: refused, naming the fix.
    for value in ("../shared", "/etc"):
        data = _minimal(data_root=value, data={"villages": "v.geojson"})
        with pytest.raises(ConfigError, match=r"key 'data_root'.*hatangso run .*--data-root"):
            load_scenario(_write(folder, data))
    # Given by the caller (`hatangso run --data-root`), it is where paths start.
    data = _minimal(data={"villages": "v.geojson"})
    assert load_scenario(_write(folder, data), root=root).data.villages == "v.geojson"
    # ... and paths still may not leave it.
    escaping = _minimal(data={"villages": "../scenario/s.yaml"})
    with pytest.raises(ConfigError, match="leaves the data root"):
        load_scenario(_write(folder, escaping), root=root)


def test_unknown_key_and_bad_values(tmp_path: Path) -> None:
    data = _minimal(deplyoments={}, model={"mobile": {"model": "magic"}})
    with pytest.raises(InputError) as info:
        load_scenario(_write(tmp_path, data))
    text = str(info.value)
    assert "key 'deplyoments'" in text and "remove the key or correct its spelling" in text
    data = _minimal(
        targets={"village_mobile_coverage": {2024: 120, 2025: 100}},
        model={"mobile": {"model": "magic"}},
    )
    with pytest.raises(InputError) as info:
        load_scenario(_write(tmp_path, data))
    text = str(info.value)
    assert "120.0 is not a percentage" in text and "model.mobile.model" in text


def test_targets_in_model_are_refused(tmp_path: Path) -> None:
    data = _minimal(model={"targets": {"village_mobile_coverage": 1.0}})
    with pytest.raises(InputError, match="top-level 'targets:'"):
        load_scenario(_write(tmp_path, data))


def test_not_a_mapping_and_not_yaml(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="must be a mapping"):
        parse_scenario(["a"], source="x.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed", encoding="utf-8")
    with pytest.raises(InputError, match="not valid YAML") as info:
        load_scenario(bad)
    # one line, where and why, not the parser's quote of the text with a caret
    assert str(info.value) == (
        "bad.yaml: is not valid YAML: line 1, column 16: expected ',' or ']', but got "
        "'<stream end>' (while parsing a flow sequence opened at line 1, column 7). "
        "Fix: check indentation and colons"
    )
    bad.write_bytes("name: Hà Giang".encode("cp1258"))
    with pytest.raises(InputError, match=r"bad.yaml: is not UTF-8 text .*Fix: save it as UTF-8"):
        load_scenario(bad)
    with pytest.raises(InputError, match="no such scenario file"):
        load_scenario(tmp_path / "absent.yaml")


def test_statistic_met() -> None:
    scenario = Scenario.model_validate(
        _minimal(
            statistics=[
                {
                    "code": "speed_mbps",
                    "label_vi": "Tốc độ",
                    "label_en": "Speed",
                    "unit": "Mb/s",
                    "targets": {2024: 42, 2025: 50},
                    "achieved": {2024: 42.0, 2025: 49.9},
                }
            ]
        )
    )
    stat = scenario.statistics[0]
    assert stat.met(2024) is True  # 42 >= 42
    assert stat.met(2025) is False  # 49.9 < 50
    assert stat.met(2026) is None


# ---- the shipped scenarios ------------------------------------------------------------------


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenarios_parse_and_say_generated(name: str) -> None:
    scenario = load_scenario(SCENARIOS / f"{name}.yaml", check_files=False)
    assert scenario.name == name
    assert scenario.generated is not None
    assert "GENERATED" in scenario.description


def _targets(name: str) -> dict[str, dict[int, float]]:
    return load_scenario(SCENARIOS / f"{name}.yaml", check_files=False).targets


def test_ca_mau_appendix_exactly() -> None:
    scenario = load_scenario(SCENARIOS / "ca-mau.yaml", check_files=False)
    # Plan 250/KH-UBND, appendix: Jun 2023 baseline, then 2023, 2024, 2025.
    appendix = {
        "village_mobile_coverage": (100, 100, 100, 100),
        "village_ftth_coverage": (99, 99, 100, 100),
        "bts_site_sharing_ratio": (11.74, 13, 19, 25),
        "pole_sharing_ratio": (80, 82, 85, 90),
        "duct_sharing_ratio": (0, 0, 1, 2),
        "commune_data_network_connection": (100, 100, 100, 100),
    }
    for code, (base, *targets) in appendix.items():
        assert scenario.baseline.values[code] == base
        assert [scenario.targets[code][y] for y in (2023, 2024, 2025)] == targets
    stats = {
        s.code: (s.baseline, *(s.targets[y] for y in (2023, 2024, 2025)))
        for s in scenario.statistics
    }
    assert stats["mobile_broadband_subscriptions_per_100"] == (71, 72, 75, 80)
    assert stats["smartphone_subscription_share"] == (79, 80, 85, 90)
    assert stats["internet_users"] == (70, 71, 73, 75)
    assert stats["fixed_broadband_subscriptions_per_100"] == (19, 20, 25, 30)
    assert stats["households_with_fiber"] == (62, 65, 70, 80)
    assert stats["adults_with_smartphone"] == (77, 78, 79, 80)
    assert stats["households_with_broadband"] == (90, 91, 92, 93)
    assert stats["mobile_download_4g_mbps"] == (40, 45, 60, 80)
    assert stats["fixed_download_mbps"] == (80, 80, 100, 120)


def test_hong_phong_tien_giang_bac_kan_exactly() -> None:
    hp = load_scenario(SCENARIOS / "hong-phong.yaml", check_files=False)
    assert hp.baseline.values == {
        "village_mobile_coverage": 92,
        "village_ftth_coverage": 87,
        "bts_site_sharing_ratio": 16,
    }
    assert hp.targets == {
        "village_mobile_coverage": {2025: 98},
        "village_ftth_coverage": {2025: 95},
    }
    stats = {s.code: (s.baseline, s.targets[2025]) for s in hp.statistics}
    assert stats == {
        "mobile_broadband_subscriptions_per_100": (80.69, 90),
        "smartphone_subscription_share": (80.20, 90),
        "adults_with_smartphone": (70, 90),
        "mobile_download_mbps": (34.41, 42),
        "fixed_broadband_subscriptions_per_100": (17.38, 18),
        "households_with_fixed_broadband": (67.75, 75),
        "fixed_download_mbps": (85.07, 102),
    }
    assert _targets("tien-giang") == {
        "village_mobile_coverage": {2025: 100},
        "bts_site_sharing_ratio": {2025: 30},
    }
    tg = {
        s.code: s.baseline
        for s in load_scenario(SCENARIOS / "tien-giang.yaml", check_files=False).statistics
    }
    assert tg == {
        "mobile_broadband_subscriptions_per_100": 76.85,
        "smartphone_subscription_share": 74.60,
        "adults_with_smartphone": 80,
        "mobile_download_mbps": 30,
    }
    bk = _targets("bac-kan")
    assert bk["village_mobile_coverage"] == {2025: 100}
    assert bk["village_ftth_coverage"] == {2025: 100}
    assert bk["bts_site_sharing_ratio"] == {2025: 25}
    assert bk["commune_data_network_connection"] == {2025: 100}
    assert bk["population_5g_coverage"] == {2030: 99}
    assert bk["key_area_5g_coverage"] == {2025: 100}


def test_files_of_the_model_section_stay_in_the_scenarios_folder(tmp_path: Path) -> None:
    folder = tmp_path / "scenario"
    folder.mkdir()
    for value in ("/etc/passwd", "/etc/no-such-file", "../s.yaml"):
        data = _minimal(model={"mobile": {"model": "hata", "calibration": value}})
        with pytest.raises(ConfigError) as info:
            load_scenario(_write(folder, data))
        (problem,) = info.value.problems
        assert problem.column == "model.mobile.calibration"
        assert problem.message == f"'{value}' is not a file in the scenario file's folder"
    (folder / "cal.json").write_text("{}", encoding="utf-8")
    data = _minimal(model={"mobile": {"model": "hata", "calibration": "cal.json"}})
    scenario = load_scenario(_write(folder, data))
    assert scenario.config_for(2025).mobile.calibration == str((folder / "cal.json").resolve())


def test_work_limits_apply_to_the_model_section(tmp_path: Path) -> None:
    from hatangso.geo.limits import WorkLimits

    data = _minimal(model={"terrain": {"radius_m": 100000}})
    with pytest.raises(ConfigError, match=r"model\.terrain\.radius_m.*HATANGSO_MAX_TERRAIN"):
        load_scenario(_write(tmp_path, data))
    data = _minimal(model={"terrain": {"radius_m": 8000}})
    lower = WorkLimits(max_terrain_radius_m=5000.0)
    with pytest.raises(ConfigError, match="limit of 5000 m"):
        load_scenario(_write(tmp_path, data), limits=lower)
    scenario = load_scenario(_write(tmp_path, data))
    assert scenario.config_for(2025).terrain.radius_m == 8000.0
