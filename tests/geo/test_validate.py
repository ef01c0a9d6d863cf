"""Validation of every input kind: aliases, formats, row rejects and file-level stops."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hatangso.geo.errors import InputError
from hatangso.geo.validate import load_layer, parse_column_map

# A small valley in Bắc Kạn, where every test village lies.
LON0, LAT0 = 105.83, 22.15


def village_frame(n: int = 4) -> gpd.GeoDataFrame:
    boxes = shapely.box(
        LON0 + np.arange(n) * 0.01, LAT0, LON0 + np.arange(n) * 0.01 + 0.008, LAT0 + 0.008
    )
    return gpd.GeoDataFrame(
        {
            "village_id": [f"V{i}" for i in range(n)],
            "name": [f"Thôn {i}" for i in range(n)],
            "commune": ["Xã A"] * n,
            "population": np.arange(n) * 100.0 + 100,
        },
        geometry=boxes,
        crs=4326,
    )


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# --- formats and aliases -------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".shp", ".zip"])
def test_every_vector_format_loads_the_same(tmp_path: Path, suffix: str) -> None:
    villages = village_frame()
    if suffix == ".zip":
        shp_dir = tmp_path / "shp"
        shp_dir.mkdir()
        villages.to_file(shp_dir / "thon.shp")
        path = tmp_path / "thon.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for part in shp_dir.iterdir():
                archive.write(part, part.name)
    else:
        path = tmp_path / f"thon{suffix}"
        villages.to_file(path)
    layer = load_layer(path, "villages")
    assert layer.counts() == {"read": 4, "used": 4, "rejected": 0, "repaired": 0}
    assert list(layer.frame["village_id"]) == ["V0", "V1", "V2", "V3"]
    assert layer.frame.crs.to_epsg() == 4326
    assert layer.frame["population"].tolist() == [100.0, 200.0, 300.0, 400.0]


def test_csv_with_vietnamese_headers_and_decimal_commas(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "tram.csv",
        "Mã trạm;Nhà mạng;Kinh độ;Vĩ độ;Công nghệ;Độ cao\n"
        "BK001;Vinaphone;105,8300;22,1500;4G;35\n"
        "BK002;viettel;105,8400;22,1600;4G/5G;\n"
        "BK003;Mobi;105,8500;22,1700;LTE;40,5\n",
    )
    layer = load_layer(path, "sites")
    frame = layer.frame
    assert frame["operator"].tolist() == ["VNPT", "Viettel", "MobiFone"]
    assert frame["tech"].tolist() == ["4G", "4G;5G", "4G"]
    # An empty height takes the contract's default of 30 m.
    assert frame["height_m"].tolist() == [35.0, 30.0, 40.5]
    assert frame["env"].tolist() == ["rural"] * 3
    assert frame.geometry.x.round(4).tolist() == [105.83, 105.84, 105.85]


def test_xlsx_table(tmp_path: Path) -> None:
    path = tmp_path / "diem.xlsx"
    pd.DataFrame(
        {"Mã điểm": ["A1"], "Doanh nghiệp": ["VNPT"], "lon": [105.9], "lat": [22.2]}
    ).to_excel(path, index=False)
    layer = load_layer(path, "access-points")
    assert layer.frame["ap_id"].tolist() == ["A1"]


def test_columns_option_maps_other_names(tmp_path: Path) -> None:
    villages = village_frame().rename(columns={"village_id": "osm_id", "name": "ten_goi"})
    path = tmp_path / "places.gpkg"
    villages.to_file(path)
    with pytest.raises(InputError, match="required column 'village_id' is missing"):
        load_layer(path, "villages")
    layer = load_layer(path, "villages", columns="village_id=osm_id,name=ten_goi")
    assert layer.used == 4


def test_operator_lists_are_normalised_and_unknown_names_reported(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "cot.csv",
        "pole_id,operators,lon,lat\n"
        "P1,vina;Viettel,105.83,22.15\n"
        "P2,VNPT + viettel + vnpt,105.84,22.15\n"
        "P3,FPT,105.85,22.15\n",
    )
    layer = load_layer(path, "poles")
    assert layer.frame["operators"].tolist() == ["Viettel;VNPT", "Viettel;VNPT", "FPT"]
    assert any("FPT" in note for note in layer.notes)


def test_numbers_with_thousands_separators(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "thon.csv",
        "village_id,name,lon,lat,population,households\n"
        "A,Thôn A,105.83,22.15,1.200,300\n"
        'B,Thôn B,105.84,22.15,"2,5",1 050\n',
    )
    layer = load_layer(path, "villages")
    # "1.200" is one thousand two hundred people (Vietnamese grouping); "2,5" is a decimal comma.
    assert layer.frame["population"].tolist() == [1200.0, 2.5]
    assert layer.frame["households"].tolist() == [300.0, 1050.0]


def test_text_is_nfc(tmp_path: Path) -> None:
    decomposed = "Tho\u0302n Na\u0300 Ma\u0306\u0300m"
    path = write_csv(
        tmp_path / "thon.csv", f"village_id,name,lon,lat\nA,{decomposed},105.83,22.15\n"
    )
    assert load_layer(path, "villages").frame["name"].iloc[0] == "Thôn Nà Mằm"


def test_declared_has_no_geometry(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "declared.csv", "Mã thôn,Nhà mạng,tech\nV1,Viettel,4G\nV2,mobi,\n")
    layer = load_layer(path, "declared")
    assert not isinstance(layer.frame, gpd.GeoDataFrame)
    assert layer.frame["operator"].tolist() == ["Viettel"]
    # tech is required for declarations: an empty cell refuses the row.
    assert layer.rejects["reason"].tolist() == ["empty 'tech' (tech)"]


# --- repairs and row rejects ---------------------------------------------------------------


def test_bowtie_is_repaired_and_counted(tmp_path: Path) -> None:
    villages = village_frame(2)
    x, y = LON0, LAT0 + 0.05
    villages.loc[1, "geometry"] = shapely.Polygon(
        [(x, y), (x + 0.01, y + 0.01), (x + 0.01, y), (x, y + 0.01)]
    )
    path = tmp_path / "v.gpkg"
    villages.to_file(path)
    layer = load_layer(path, "villages")
    assert layer.repaired == 1 and layer.used == 2
    assert layer.frame.geometry.is_valid.all()
    # The bow tie becomes two triangles of a quarter of the square each.
    assert layer.frame.geometry.iloc[1].area == pytest.approx(0.01**2 / 2)


ROW_FAULTS = [
    # (kind, csv text, expected reason fragment)
    ("villages", "village_id,name,lon,lat\n,Thôn A,105.83,22.15\n", "missing village_id"),
    ("villages", "village_id,name,lon,lat\nA,,105.83,22.15\n", "empty 'name'"),
    ("villages", "village_id,name,lon,lat\nA,Thôn A,2.35,48.85\n", "outside Vietnam"),
    ("villages", "village_id,name,lon,lat\nA,Thôn A,,22.15\n", "empty 'lon' (lon). Fix: fill"),
    (
        "villages",
        "village_id,name,lon,lat\nA,Thôn A,abc,22.15\n",
        "lon 'abc' in 'lon' is not a number. Fix: write decimal degrees such as 105.85",
    ),
    (
        "villages",
        "village_id,name,lon,lat,population\nA,Thôn A,105.8,22.1,nhiều\n",
        "is not a number",
    ),
    (
        "villages",
        "village_id,name,lon,lat,population\nA,Thôn A,105.8,22.1,-5\n",
        "outside the plausible range",
    ),
    ("sites", "site_id,operator,lon,lat,height_m\nS,Viettel,105.8,22.1,cao\n", "is not a number"),
    ("sites", "site_id,operator,lon,lat,tech\nS,Viettel,105.8,22.1,6G\n", "is not a list of"),
    ("sites", "site_id,operator,lon,lat,env\nS,Viettel,105.8,22.1,mars\n", "is not one of urban"),
    ("sites", "site_id,operator,lon,lat\nS,,105.8,22.1\n", "empty 'operator'"),
    (
        "samples",
        "operator,tech,rsrp_dbm,lon,lat\nViettel,4G,-200,105.8,22.1\n",
        "outside the plausible range",
    ),
    ("pois", "poi_id,kind,lon,lat\nP,casino,105.8,22.1\n", "is not one of district_centre"),
    ("pois", "poi_id,kind,lon,lat,data_network\nP,commune_hq,105.8,22.1,maybe\n", "is not yes/no"),
    (
        "sites",
        'site_id,operator,wkt\nS,Viettel,"LINESTRING (105.8 22.1, 105.9 22.2)"\n',
        "expected Point, got LineString",
    ),
    ("fiber", "operator,wkt\nVNPT,LINESTRING (105.8 22.1\n", "is not readable WKT"),
    ("fiber", "operator,wkt\nVNPT,\n", "empty geometry"),
]


@pytest.mark.parametrize(("kind", "text", "reason"), ROW_FAULTS)
def test_row_faults_go_to_rejects_with_their_reason(
    tmp_path: Path,
    kind: str,
    text: str,
    reason: str,
    run_cli: Callable[..., tuple[Any, str, str]],
) -> None:
    # One good row first so that the file itself is fine.
    header, bad_row = text.strip().split("\n")
    good = {
        "villages": "G,Thôn G,105.9,22.2",
        "sites": "G,Viettel,105.9,22.2",
        "samples": "Viettel,4G,-90,105.9,22.2",
        "pois": "G,tourism,105.9,22.2",
        "fiber": 'VNPT,"LINESTRING (105.8 22.1, 105.9 22.2)"',
    }[kind]
    columns = header.split(",")
    good_cells = good.split(",") if kind != "fiber" else good.split(",", 1)
    if "wkt" in columns and kind == "sites":
        good_cells = ["G", "Viettel", "POINT (105.9 22.2)"]
    good_cells += [""] * (len(columns) - len(good_cells))
    if kind == "pois" and "data_network" in columns:
        good_cells[-1] = "có"
    path = write_csv(tmp_path / f"{kind}.csv", f"{header}\n{','.join(good_cells)}\n{bad_row}\n")
    code, out, _ = run_cli("validate", kind, str(path), "--out", str(tmp_path / "out"))
    assert code == 0
    assert "read 2, used 1, rejected 1" in out
    rejects = pd.read_csv(tmp_path / "out" / "rejects.csv")
    assert rejects["row"].tolist() == [2]
    assert reason in rejects["reason"].iloc[0]
    assert rejects["file"].iloc[0] == path.name


def test_unrepairable_polygon_is_rejected(tmp_path: Path) -> None:
    villages = village_frame(2)
    # A polygon whose ring runs out and back along one line has no area to repair into.
    villages.loc[1, "geometry"] = shapely.from_wkt(
        "POLYGON ((105.9 22.2, 105.95 22.2, 106.0 22.2, 105.9 22.2))"
    )
    path = tmp_path / "v.gpkg"
    villages.to_file(path)
    layer = load_layer(path, "villages")
    assert layer.used == 1
    assert "unrepairable geometry" in layer.rejects["reason"].iloc[0]


def test_a_unit_with_far_islands_is_in_vietnam(tmp_path: Path) -> None:
    # A block of Đà Nẵng with an islet of Hoàng Sa (Phú Lâm, 112.33 E 16.83 N): the box's
    # centre lies in the open sea between them, the unit itself in Vietnam. A unit wholly
    # abroad (Vientiane) is still refused.
    mainland = shapely.box(108.19, 16.04, 108.21, 16.06)
    islet = shapely.box(112.325, 16.825, 112.335, 16.835)
    villages = gpd.GeoDataFrame(
        {"village_id": ["DN", "VT"], "name": ["Đà Nẵng", "Viêng Chăn"]},
        geometry=[
            shapely.MultiPolygon([mainland, islet]),
            shapely.box(102.59, 17.96, 102.61, 17.98),
        ],
        crs=4326,
    )
    villages.to_file(tmp_path / "v.gpkg")
    layer = load_layer(tmp_path / "v.gpkg", "villages")
    assert list(layer.frame["village_id"]) == ["DN"]
    assert list(layer.rejects["id"]) == ["VT"]
    assert "outside Vietnam" in layer.rejects["reason"].iloc[0]


# --- file-level faults: exit 2 with file, column or row and the fix --------------------------


def _dup_ids(tmp: Path) -> list[str]:
    p = write_csv(
        tmp / "thon.csv",
        "village_id,name,lon,lat\nA,x,105.8,22.1\nB,y,105.8,22.1\nA,z,105.8,22.1\n",
    )
    return ["validate", "villages", str(p)]


def _swapped(tmp: Path) -> list[str]:
    p = write_csv(
        tmp / "tram.csv",
        "site_id,operator,Kinh độ,Vĩ độ\nS1,Viettel,22.15,105.83\nS2,VNPT,22.2,105.9\n",
    )
    return ["validate", "sites", str(p)]


def _xy_no_crs(tmp: Path) -> list[str]:
    p = write_csv(tmp / "tram.csv", "site_id,operator,x,y\nS1,Viettel,585000,2450000\n")
    return ["validate", "sites", str(p)]


def _xy_northing_first(tmp: Path) -> list[str]:
    p = write_csv(tmp / "tram.csv", "site_id,operator,x,y\nS1,Viettel,2450000,585000\n")
    return ["validate", "sites", str(p), "--crs", "EPSG:3405"]


def _missing_column(tmp: Path) -> list[str]:
    p = write_csv(tmp / "tram.csv", "code,nha mang,lon,lat\nS1,Viettel,105.8,22.1\n")
    return ["validate", "sites", str(p)]


def _unknown_suffix(tmp: Path) -> list[str]:
    p = tmp / "thon.docx"
    p.write_bytes(b"PK")
    return ["validate", "villages", str(p)]


def _missing_file(tmp: Path) -> list[str]:
    return ["validate", "villages", str(tmp / "nowhere.gpkg")]


def _unknown_kind(tmp: Path) -> list[str]:
    p = write_csv(tmp / "x.csv", "a\n1\n")
    return ["validate", "towers", str(p)]


def _bad_columns_syntax(tmp: Path) -> list[str]:
    p = write_csv(tmp / "thon.csv", "village_id,name,lon,lat\nA,x,105.8,22.1\n")
    return ["validate", "villages", str(p), "--columns", "village_id"]


def _columns_naming_absent(tmp: Path) -> list[str]:
    p = write_csv(tmp / "thon.csv", "village_id,name,lon,lat\nA,x,105.8,22.1\n")
    return ["validate", "villages", str(p), "--columns", "name=ten_thon_moi"]


def _unknown_crs(tmp: Path) -> list[str]:
    p = write_csv(tmp / "tram.csv", "site_id,operator,x,y\nS1,Viettel,585000,2450000\n")
    return ["validate", "sites", str(p), "--crs", "VN2000:Atlantis"]


def _no_coordinates(tmp: Path) -> list[str]:
    p = write_csv(tmp / "thon.csv", "village_id,name\nA,x\n")
    return ["validate", "villages", str(p)]


def _multi_layer(tmp: Path) -> list[str]:
    p = tmp / "many.gpkg"
    village_frame().to_file(p, layer="a")
    village_frame().to_file(p, layer="b")
    return ["validate", "villages", str(p)]


def _no_prj(tmp: Path) -> list[str]:
    frame = village_frame().to_crs(3405).set_crs(None, allow_override=True)
    p = tmp / "thon.shp"
    with pytest.warns(UserWarning, match="crs"):
        frame.to_file(p)
    return ["validate", "villages", str(p)]


def _metres_labelled_degrees(tmp: Path) -> list[str]:
    # VN-2000 metres in a file that declares WGS 84: --crs cannot help, the file must change.
    frame = village_frame().to_crs(3405).set_crs(4326, allow_override=True)
    p = tmp / "thon.gpkg"
    frame.to_file(p)
    return ["validate", "villages", str(p), "--crs", "EPSG:3405"]


def _empty_csv(tmp: Path) -> list[str]:
    p = write_csv(tmp / "thon.csv", "")
    return ["validate", "villages", str(p)]


def _zip_two_layers(tmp: Path) -> list[str]:
    p = tmp / "two.zip"
    with zipfile.ZipFile(p, "w") as archive:
        archive.writestr("a.shp", b"")
        archive.writestr("b.shp", b"")
    return ["validate", "villages", str(p)]


def _broken_csv(tmp: Path) -> list[str]:
    p = write_csv(tmp / "thon.csv", 'village_id,name,lon,lat\nA,"unterminated,105.8,22.1\n')
    return ["validate", "villages", str(p)]


FILE_FAULTS = [
    (_dup_ids, "duplicate village_id", ("rows 1, 3", "give every row its own")),
    (_swapped, "swapped", ("Kinh độ", "--columns lon=Vĩ độ,lat=Kinh độ")),
    (_xy_no_crs, "no coordinate reference system", ("pass --crs", "VN2000:")),
    (_xy_northing_first, "holds northings", ("--columns x=y,y=x",)),
    (_missing_column, "required column 'site_id' is missing", ("--columns site_id=",)),
    (_unknown_suffix, "unknown file type", ("GeoJSON",)),
    (_missing_file, "no such file", ("check the path",)),
    (_unknown_kind, "unknown input kind 'towers'", ("villages",)),
    (_bad_columns_syntax, "is not of the form", ("--columns village_id=osm_id",)),
    (_columns_naming_absent, "which the file does not have", ("ten_thon_moi",)),
    (_unknown_crs, "Atlantis", ("VN2000",)),
    (_no_coordinates, "no geometry and no coordinate columns", ("Kinh độ",)),
    (_multi_layer, "holds 2 layers", ("name the layer 'villages'",)),
    (_no_prj, "declares no coordinate reference system", ("--crs",)),
    (_metres_labelled_degrees, "are not degrees", ("declare the file's own CRS", "-a_srs")),
    (_empty_csv, "the file is empty", ("header row",)),
    (_zip_two_layers, "exactly one shapefile", ("one layer per archive",)),
    (_broken_csv, "not a well-formed table", ("same number of",)),
]


@pytest.mark.parametrize(
    ("make", "message", "fixes"), FILE_FAULTS, ids=[f[0].__name__.strip("_") for f in FILE_FAULTS]
)
def test_file_faults_stop_with_exit_2(
    tmp_path: Path,
    make,
    message: str,
    fixes: tuple[str, ...],
    run_cli: Callable[..., tuple[Any, str, str]],
) -> None:
    args = make(tmp_path)
    code, _, err = run_cli(*args)
    assert code == 2, err
    assert message in err
    assert "Fix:" in err
    for fix in fixes:
        assert fix in err
    # The message names the file (or the option) it is about.
    assert any(part in err for part in (Path(args[2]).name, "--columns", "--crs", "KIND"))


def test_all_file_faults_are_reported_together(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "tram.csv",
        "code,x,y\nS1,585000,2450000\nS1,585100,2450100\n",
    )
    with pytest.raises(InputError) as info:
        load_layer(path, "sites")
    messages = [p.message for p in info.value.problems]
    assert any("'site_id' is missing" in m for m in messages)
    assert any("'operator' is missing" in m for m in messages)
    assert any("no coordinate reference system" in m for m in messages)


# --- accounting ----------------------------------------------------------------------------


def test_parse_column_map() -> None:
    assert parse_column_map("a=b, c = d") == {"a": "b", "c": "d"}
    assert parse_column_map(None) == {}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["A", "B", "C", "D", "", "E", "F"]),
            st.sampled_from(["Viettel", "vina", "", "mobi"]),
            st.sampled_from(["105.83", "", "2.0", "abc", "106.1"]),
            st.sampled_from(["22.15", "22.3", "", "48.0"]),
            st.sampled_from(["", "30", "-1", "x"]),
        ),
        min_size=1,
        max_size=12,
        unique_by=lambda r: r[0] or None,
    )
)
def test_read_equals_used_plus_rejected(tmp_path_factory: pytest.TempPathFactory, rows) -> None:
    path = tmp_path_factory.mktemp("acc") / "tram.csv"
    lines = ["site_id,operator,lon,lat,height_m"] + [",".join(r) for r in rows]
    write_csv(path, "\n".join(lines) + "\n")
    try:
        layer = load_layer(path, "sites")
    except InputError:
        return  # a file-level stop (e.g. every row swapped) loses nothing either
    assert layer.read == len(rows) == layer.used + layer.rejected
    assert set(layer.rejects["row"]).isdisjoint(set(layer.frame["source_row"]))
    assert sorted([*layer.rejects["row"], *layer.frame["source_row"]]) == list(
        range(1, len(rows) + 1)
    )


def test_xy_csv_in_the_provinces_vn2000_zone(tmp_path: Path) -> None:
    import pyproj

    from hatangso.geo.crs import vn2000_crs

    # Bắc Kạn's zone has its central meridian at 106°30'; write two points in it and read them
    # back through --crs VN2000:<province>, accent- and case-insensitively.
    to_zone = pyproj.Transformer.from_crs(4326, vn2000_crs(106.5), always_xy=True)
    x, y = to_zone.transform([105.83, 105.9], [22.15, 22.2])
    path = write_csv(
        tmp_path / "tram.csv",
        "site_id,operator,x,y\n"
        + "".join(
            f"S{i},Viettel,{a:.3f},{b:.3f}\n" for i, (a, b) in enumerate(zip(x, y, strict=True))
        ),
    )
    layer = load_layer(path, "sites", crs="vn2000:bac kan")
    np.testing.assert_allclose(layer.frame.geometry.x, [105.83, 105.9], atol=1e-7)
    np.testing.assert_allclose(layer.frame.geometry.y, [22.15, 22.2], atol=1e-7)
    # Easting near 430 km, west of the 106°30' meridian's 500 km false easting.
    assert 400_000 < x[0] < 500_000


def test_zipped_csv(tmp_path: Path) -> None:
    csv_path = write_csv(tmp_path / "tram.csv", "site_id,operator,lon,lat\nS1,Viettel,105.8,22.1\n")
    archive = tmp_path / "tram.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(csv_path, "export/tram.csv")
    layer = load_layer(archive, "sites")
    assert layer.used == 1 and layer.name == "tram.zip/tram.csv"


def test_pois_may_be_polygons_and_production_zones(tmp_path: Path) -> None:
    pois = gpd.GeoDataFrame(
        {
            "Mã": ["HQ", "KCN", "VSX"],
            "Loại": ["UBND xã", "Khu công nghiệp", "Vùng sản xuất tập trung"],
        },
        geometry=[
            shapely.Point(105.80, 22.10),
            shapely.box(105.81, 22.10, 105.83, 22.11),
            shapely.MultiPolygon([shapely.box(105.85, 22.10, 105.86, 22.11)]),
        ],
        crs=4326,
    )
    path = tmp_path / "pois.geojson"
    pois.to_file(path, driver="GeoJSON")
    layer = load_layer(path, "pois")
    assert (layer.used, layer.rejected) == (3, 0)
    assert layer.frame["kind"].tolist() == ["commune_hq", "industrial_park", "production_zone"]
    assert layer.frame.geom_type.tolist() == ["Point", "Polygon", "MultiPolygon"]


def test_site_technologies_and_their_aliases(tmp_path: Path) -> None:
    # The contract's six technologies, as site lists write them; an unknown one is rejected.
    written = ["GSM", "umts;LTE", "4G LTE / NB-IoT", "Cat-M1", "lte-m;5G NR", "2G/3G", "wifi"]
    path = tmp_path / "sites.csv"
    pd.DataFrame(
        {
            "site_id": [f"S{i}" for i in range(len(written))],
            "operator": "Viettel",
            "tech": written,
            "lon": 106.0,
            "lat": [21.0 + 0.01 * i for i in range(len(written))],
        }
    ).to_csv(path, index=False)
    layer = load_layer(path, "sites")
    assert layer.frame["tech"].tolist() == [
        "2G",
        "3G;4G",
        "4G;NB-IoT",
        "LTE-M",
        "5G;LTE-M",
        "2G;3G",
    ]
    assert layer.rejected == 1
    reason = layer.rejects["reason"].iloc[0]
    assert "'wifi'" in reason and "2G, 3G, 4G, 5G, NB-IoT, LTE-M" in reason


def test_unreadable_coordinates_name_the_value_and_the_fix(tmp_path: Path) -> None:
    # A spreadsheet saved as CSV with ';' between cells and a decimal comma: the comma reads as
    # a decimal point; each unreadable value goes to the rejects, named with how to write it.
    path = write_csv(
        tmp_path / "tram.csv",
        "Mã trạm;Nhà mạng;Kinh độ;Vĩ độ\n"
        "S1;Viettel;105,85;21,03\n"  # 1: fine, decimal commas
        "S2;Viettel;abc;21,03\n"  # 2: not a number
        "S3;VNPT;105°51';21,03\n"  # 3: degrees and minutes
        "S4;VNPT;105,8,5;21,03\n"  # 4: two decimal separators
        "S5;Mobi;105.85;\n"  # 5: no latitude
        "S6;Mobi;105.9;21.1\n",  # 6: fine, decimal points
    )
    layer = load_layer(path, "sites")
    assert layer.frame["site_id"].tolist() == ["S1", "S6"]
    assert layer.frame.geometry.x.tolist() == [105.85, 105.9]
    assert layer.frame.geometry.y.tolist() == [21.03, 21.1]
    assert layer.counts()["read"] == 6 and layer.counts()["rejected"] == 4  # nothing lost
    rejects = layer.rejects
    assert rejects["row"].tolist() == [2, 3, 4, 5]
    assert rejects["file"].eq("tram.csv").all()
    assert rejects["reason"].tolist() == [
        "lon 'abc' in 'Kinh độ' is not a number. Fix: write decimal degrees such as 105.85 "
        "(a point or a comma as the decimal separator)",
        "lon '105°51'' in 'Kinh độ' is not a number. Fix: write decimal degrees: degrees + "
        "minutes/60 + seconds/3600 (105°48'30\" is 105.8083)",
        "lon '105,8,5' in 'Kinh độ' is not a number. Fix: write one decimal separator (a point "
        "or a comma), e.g. decimal degrees such as 105.85",
        "empty 'Vĩ độ' (lat). Fix: fill in the coordinate",
    ]


def test_projected_coordinates_with_grouped_thousands(tmp_path: Path) -> None:
    # Vietnamese spreadsheets group thousands with points and write a decimal comma
    # ("581.234,5"); English ones group with commas ("581,234.5"). A single group of three
    # ("581.234") cannot be told from a decimal and stays one.
    path = write_csv(
        tmp_path / "tram.csv",
        "site_id;operator;x;y\n"
        "S1;Viettel;581.234,5;2.345.678,25\n"
        'S2;Viettel;"581,234.5";"2,345,678.25"\n'
        "S3;Viettel;581234,5;2345678,25\n"
        "S4;Viettel;xyz;2345678\n",
    )
    layer = load_layer(path, "sites", crs="VN2000:Hà Nội")
    assert layer.frame["site_id"].tolist() == ["S1", "S2", "S3"]
    xy = shapely.get_coordinates(layer.frame.geometry)
    assert np.allclose(xy, xy[0], atol=1e-9)  # the three rows are the same point
    assert layer.rejects["reason"].tolist() == [
        "x 'xyz' in 'x' is not a number. Fix: write metres such as 581234.5 (a point or a "
        "comma as the decimal separator)"
    ]


def test_validate_prints_a_note_once(
    tmp_path: Path, run_cli: Callable[..., tuple[Any, str, str]]
) -> None:
    path = write_csv(
        tmp_path / "thon.csv",
        "village_id,name,lon,lat,population\nT1,Thôn A,105.8,22.1,0\nT2,Thôn B,105.9,22.1,0\n",
    )
    code, out, err = run_cli("validate", "villages", str(path))
    assert code == 0
    note = "population 0 in 'population' on 2 rows read as unknown"
    assert (out + err).count(note) == 1
    assert f"warning: thon.csv: {note}" in err  # on stderr, one line; stdout is the report
    assert "read 2, used 2" in out


def test_x_y_in_degrees_are_read_as_longitude_and_latitude(tmp_path: Path) -> None:
    # QGIS writes a WGS 84 layer's points to CSV as X/Y in degrees: no CRS is needed for them.
    path = write_csv(tmp_path / "tram.csv", "site_id,operator,X,Y\nS1,Viettel,105.8,21.0\n")
    layer = load_layer(path, "sites")
    assert shapely.get_coordinates(layer.frame.geometry).tolist() == [[105.8, 21.0]]
    assert layer.notes == (
        "tram.csv: 'X'/'Y' hold degrees in Vietnam: read as longitude/latitude in WGS 84 "
        "(give --crs if another datum)",
    )
    # Metres still need their CRS.
    metres = write_csv(tmp_path / "m.csv", "site_id,operator,X,Y\nS1,Viettel,585000,2450000\n")
    with pytest.raises(InputError, match="no coordinate reference system"):
        load_layer(metres, "sites")
