"""The sites' EIRP and bandwidth as operators write them: aliases, row faults, notes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from hatangso.geo.validate import load_layer

HEADER = "site_id,operator,lon,lat,tech,eirp_dbm,eirp_re_dbm,bandwidth_mhz\n"


def sites_csv(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "tram.csv"
    body = "".join(f"S{i},Viettel,105.83,22.15,{row}\n" for i, row in enumerate(rows, 1))
    path.write_text(header + body, encoding="utf-8")
    return path


def reasons(path: Path) -> dict[str, str]:
    layer = load_layer(path, "sites")
    return dict(zip(layer.rejects["id"], layer.rejects["reason"], strict=True))


def test_operator_headers_name_the_three_columns(tmp_path: Path) -> None:
    path = tmp_path / "tram.csv"
    path.write_text(
        "Mã trạm,Nhà mạng,Kinh độ,Vĩ độ,Công nghệ,Công suất phát xạ (dBm),EIRP/RE,"
        'Băng thông (MHz)\nS1,Viettel,105.83,22.15,4G,"61,8","31,0",20\n',
        encoding="utf-8",
    )
    frame = load_layer(path, "sites").frame
    assert frame.loc[0, ["eirp_dbm", "eirp_re_dbm", "bandwidth_mhz"]].tolist() == [61.8, 31.0, 20.0]
    path.write_text(
        "site_id,operator,lon,lat,EIRP (dBm),Total EIRP,BW\nS1,VNPT,105.83,22.15,61.8,,10\n",
        encoding="utf-8",
    )
    frame = load_layer(path, "sites").frame
    # "EIRP (dBm)" folds to the canonical name, which wins over the alias "Total EIRP"
    assert frame.loc[0, ["eirp_dbm", "bandwidth_mhz"]].tolist() == [61.8, 10.0]


def test_plausible_values_are_kept(tmp_path: Path) -> None:
    path = sites_csv(tmp_path, "4G,61.8,,20", "5G,76,,100", "4G,,31,", "2G,58,,0.2", "4G,,,")
    layer = load_layer(path, "sites")
    assert layer.rejected == 0 and layer.used == 5
    assert layer.notes == ()


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        # 0 dBm is a milliwatt: no base station; probably an unknown written as 0.
        ("4G,0,,", r"eirp_dbm 0 is outside 30 to 80 dBm.*0 dBm is 1 mW.*leave the cell empty"),
        # 150 is no EIRP in dBm; as watts it is 51.8 dBm.
        ("4G,150,,", r"eirp_dbm 150 is outside 30 to 80 dBm.*150 W = 51\.8 dBm"),
        # 20 W written as a number of watts: 43 dBm, or the per-element value in the wrong column.
        ("4G,20,,", r"eirp_dbm 20 is outside.*move it to eirp_re_dbm.*20 W = 43\.0 dBm"),
        # 40 kW of EIRP or 40 W in milliwatts: both are said.
        ("4G,40000,,", r"40000 W = 76\.0 dBm.*40000 mW = 46\.0 dBm"),
        # 15 dBm total is a per-element figure in the total column.
        ("4G,15,,", r"eirp_dbm 15 is outside 30 to 80.*EIRP per resource element written in"),
        # the total in the per-element column
        ("4G,,61.8,", r"eirp_re_dbm 61\.8 is outside -10 to 45 dBm.*move it to eirp_dbm"),
        ("4G,,-30,", r"eirp_re_dbm -30 is outside -10 to 45 dBm.*check the sign and the unit"),
        ("4G,,,20000", r"bandwidth_mhz 20000 is outside 1\.4 to 400 MHz.*20000 kHz = 20 MHz"),
        ("4G,,,0.2", r"bandwidth_mhz 0\.2 is outside 1\.4 to 400.*GSM or NB-IoT carrier"),
        ("5G,,,0.1", r"bandwidth_mhz 0\.1 is outside 1\.4 to 400.*0\.1 GHz = 100 MHz"),
        ("2G,,,0.1", r"bandwidth_mhz 0\.1 is outside 0\.18 to 400 MHz, the width of a channel"),
    ],
)
def test_implausible_values_are_row_faults_with_the_fix(
    tmp_path: Path, row: str, expected: str
) -> None:
    path = sites_csv(tmp_path, "4G,61.8,,20", row)
    layer = load_layer(path, "sites")
    assert layer.frame["site_id"].tolist() == ["S1"]
    (reason,) = layer.rejects["reason"]
    assert layer.rejects["row"].tolist() == [2]
    assert pytest.approx(61.8) == layer.frame.loc[0, "eirp_dbm"]
    assert re.search(expected, reason), reason


def test_disagreeing_figures_are_noted_and_the_per_element_one_kept(tmp_path: Path) -> None:
    # 61.8 dBm over the 1,200 subcarriers of 20 MHz is 31.0 dBm each: 31.5 agrees (0.5 dB),
    # 25 does not (6 dB). A 10 MHz carrier has 600: 61.8 - 27.8 = 34.0, so 34 agrees.
    path = sites_csv(tmp_path, "4G,61.8,31.5,20", "4G,61.8,25,", "4G,61.8,34,10")
    layer = load_layer(path, "sites")
    assert layer.rejected == 0
    (note,) = layer.notes
    assert "1 site(s) give both eirp_dbm and eirp_re_dbm, more than 1 dB apart" in note
    assert "site S2, row 2: total 61.8 dBm is 31.0 dBm per resource element" in note
    assert "eirp_re_dbm says 25" in note and "eirp_re_dbm is used" in note
    np.testing.assert_array_equal(layer.frame["eirp_re_dbm"], [31.5, 25.0, 34.0])


def test_a_5g_row_is_compared_over_its_own_subcarriers(tmp_path: Path) -> None:
    # 76 dBm over 3,276 subcarriers (100 MHz at 30 kHz) is 40.8 dBm; 41 agrees. Read as LTE
    # (1,200) it would be 45.2 and be noted: the 5G table is the one used.
    layer = load_layer(sites_csv(tmp_path, "5G,76,41,"), "sites")
    assert layer.notes == ()


def test_a_small_total_is_noted_as_maybe_per_element(tmp_path: Path) -> None:
    # 32 dBm is a small cell's total, or the per-element figure files used to write here.
    layer = load_layer(sites_csv(tmp_path, "4G,61.8,,", "4G,32,,", "4G,40,,"), "sites")
    assert layer.rejected == 0
    (note,) = layer.notes
    assert "2 site(s) give a total EIRP (eirp_dbm) of at most 45 dBm" in note
    assert "--columns eirp_re_dbm=<your column>" in note
