"""Tests of hatangso.geo.encoding: Vietnamese legacy encodings, detection, mojibake."""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from hatangso.geo.encoding import (
    VIETNAMESE_LETTERS,
    decode_bytes,
    decode_tcvn3,
    decode_vni,
    detect_dbf_encoding,
    detect_text_encoding,
    encode_tcvn3,
    encode_vni,
    fix_mojibake,
    pyogrio_encoding,
    redecode_latin1_strings,
    vietnamese_score,
)
from hatangso.geo.errors import InputError

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
ADM1 = SHARED / "admin" / "geoboundaries" / "geoBoundaries-VNM-ADM1.shp"
HDX_POINTS = SHARED / "admin" / "hdx_codab" / "vnm_admbndp_admALL_gov_itos_20201027.shp"

NAMES = [
    "Hà Nội",
    "Thừa Thiên Huế",
    "Bà Rịa - Vũng Tàu",
    "Đắk Lắk",
    "Quảng Ngãi",
    "Thôn Phước Lộc",
    "Xã Nghĩa Hưng",
    "Bản Mường Khương",
    "Ho Chi Minh",
]

TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"
TONED_CAPITALS = [c for c in VIETNAMESE_LETTERS[67:] if c not in "ĂÂÊÔƠƯĐ"]


def need_shared(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared test data not found at {path} (../shared/data beside the repository)")
    return path


def to_cp1258(text: str) -> bytes:
    """Encode as Windows does for code page 1258: precomposed where it can, else a tone byte."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        marks = unicodedata.normalize("NFD", ch)
        tones = "".join(m for m in marks if m in TONE_MARKS)
        base = unicodedata.normalize("NFC", "".join(m for m in marks if m not in TONE_MARKS))
        out += base.encode("cp1258") + tones.encode("cp1258")
    return bytes(out)


def as_cp1252_mojibake(text: str) -> str:
    """UTF-8 bytes shown as Windows-1252 (Latin-1 for the five bytes it leaves undefined)."""
    return "".join(
        bytes([b]).decode("cp1252") if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D) else chr(b)
        for b in text.encode("utf-8")
    )


def write_dbf(path: Path, columns: dict[str, list[bytes]], *, ldid: int = 0x57) -> None:
    """Write a dBase III table of character fields, byte for byte."""
    names = list(columns)
    n = len(columns[names[0]])
    widths = [max([1, *(len(v) for v in columns[name])]) for name in names]
    header_length = 32 + 32 * len(names) + 1
    record_length = 1 + sum(widths)
    out = bytearray(struct.pack("<BBBBIHH", 3, 125, 1, 1, n, header_length, record_length))
    out += bytes(17) + bytes([ldid]) + bytes(2)
    for name, width in zip(names, widths, strict=True):
        out += name.encode("ascii").ljust(11, b"\0") + b"C" + bytes(4) + bytes([width, 0])
        out += bytes(14)
    out += b"\r"
    for i in range(n):
        out += b" " + b"".join(
            columns[name][i].ljust(width, b" ") for name, width in zip(names, widths, strict=True)
        )
    out += b"\x1a"
    path.write_bytes(bytes(out))


def write_points(path: Path, n: int) -> None:
    """Write a point shapefile of `n` records (its .dbf is replaced by the caller)."""
    frame = gpd.GeoDataFrame(
        {"k": np.arange(n)}, geometry=shapely.points(np.zeros((n, 2))), crs=4326
    )
    frame.to_file(path, engine="pyogrio")
    path.with_suffix(".cpg").unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------
# The alphabet and the code tables
# ------------------------------------------------------------------------------------------


def test_alphabet_is_the_134_letters_outside_ascii() -> None:
    # 12 vowels x 6 tones = 72 lower-case vowels, minus the 6 plain ASCII ones, plus đ: 67.
    assert len(VIETNAMESE_LETTERS) == len(set(VIETNAMESE_LETTERS)) == 134
    lower, upper = VIETNAMESE_LETTERS[:67], VIETNAMESE_LETTERS[67:]
    assert all(c.islower() for c in lower) and all(c.isupper() for c in upper)
    assert all(len(c) == 1 and unicodedata.is_normalized("NFC", c) for c in VIETNAMESE_LETTERS)
    assert {"ộ", "ừ", "ỵ", "đ", "Ỹ", "Đ"} <= set(VIETNAMESE_LETTERS)


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        # à = 0xB5 and ộ = 0xE9 in the TCVN 5712 VN3 table.
        (b"H\xb5 N\xe9i", "Hà Nội"),
        # ừ = 0xF5, ê = 0xAA, ế = 0xD5.
        (b"Th\xf5a Thi\xaan Hu\xd5", "Thừa Thiên Huế"),
        # Examples published with a TCVN3 converter: "B¶o Th¾ng", "B¸t X¸t".
        (b"B\xb6o Th\xbeng", "Bảo Thắng"),
        (b"B\xb8t X\xb8t", "Bát Xát"),
        # Đ is one of the seven capitals TCVN3 has (0xA7); ắ = 0xBE.
        (b"\xa7\xbek L\xbek", "Đắk Lắk"),
    ],
)
def test_tcvn3_known_words(raw: bytes, text: str) -> None:
    assert decode_tcvn3(raw) == text
    assert encode_tcvn3(text) == raw


def test_tcvn3_high_half_matches_glibc() -> None:
    # An independent implementation of the same standard: the GNU C library's converter.
    if shutil.which("iconv") is None:
        pytest.skip("iconv is not installed")
    high = bytes(range(0x80, 0x100))
    done = subprocess.run(
        ["iconv", "-f", "TCVN5712-1", "-t", "UTF-8"], input=high, capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip("this iconv has no TCVN5712-1 converter")
    expected = list(done.stdout.decode("utf-8"))
    assert len(expected) == 128
    mine = [decode_tcvn3(bytes([b]), restore_capitals=False) for b in high]
    assert mine == expected


def test_tcvn3_round_trip_of_every_letter() -> None:
    exact = [c for c in VIETNAMESE_LETTERS if decode_tcvn3(encode_tcvn3(c)) == c]
    # 67 lower-case letters and the 7 capitals without tone mark have codes of their own.
    assert len(exact) == 74
    # The 60 toned capitals are written with their lower-case codes (the .VnTimeH convention).
    assert len(TONED_CAPITALS) == 60
    for capital in TONED_CAPITALS:
        assert encode_tcvn3(capital) == encode_tcvn3(capital.lower())
        assert decode_tcvn3(encode_tcvn3(capital)) == capital.lower()


def test_tcvn3_restores_all_capital_values() -> None:
    # "HÀ NỘI": H, N, I are ASCII capitals, À and Ộ take the codes of à and ộ.
    assert encode_tcvn3("HÀ NỘI") == b"H\xb5 N\xe9I"
    assert decode_tcvn3(b"H\xb5 N\xe9I") == "HÀ NỘI"
    assert decode_tcvn3(b"H\xb5 N\xe9I", restore_capitals=False) == "Hà NộI"
    assert decode_tcvn3(encode_tcvn3("ĐÀ NẴNG")) == "ĐÀ NẴNG"
    # One capital is not enough evidence: "Hà" stays as written.
    assert decode_tcvn3(b"H\xb5") == "Hà"


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        # ệ = e + 0xE4 (circumflex and dot below).
        (b"Vie\xe4t Nam", "Việt Nam"),
        # The example of a published VNI converter: "Xin chaøo caùc baïn".
        (b"Xin cha\xf8o ca\xf9c ba\xefn", "Xin chào các bạn"),
        # ư = 0xF6 then grave 0xF8; ê = e + 0xE2; ế = e + 0xE1.
        (b"Th\xf6\xf8a Thie\xe2n Hue\xe1", "Thừa Thiên Huế"),
        # Đ = 0xD1, ắ = a + 0xE9 (breve and acute).
        (b"\xd1a\xe9k La\xe9k", "Đắk Lắk"),
        # Capitals: Ư = 0xD6, Ớ = 0xD4 + 0xD9; ỵ is the single byte 0xEE.
        (b"\xd6\xd4\xd9C", "ƯỚC"),
        (b"Ky\xf9 M\xee", "Ký Mỵ"),
    ],
)
def test_vni_known_words(raw: bytes, text: str) -> None:
    assert decode_vni(raw) == text
    assert encode_vni(text) == raw


def test_vni_round_trip_of_every_letter() -> None:
    for letter in VIETNAMESE_LETTERS:
        assert decode_vni(encode_vni(letter)) == letter, letter
    # Each toned capital is its ASCII base plus a mark byte 0x20 below the lower-case one.
    assert encode_vni("Ấ") == b"A\xc1" and encode_vni("ấ") == b"a\xe1"


def test_vni_mark_after_consonant_is_not_vietnamese() -> None:
    # The font draws the acute over n: "ń", which is no Vietnamese letter.
    assert decode_vni(b"n\xf9") == "ń"
    assert vietnamese_score(decode_vni(b"n\xf9")) == 0.0


def test_vni_undefined_byte() -> None:
    with pytest.raises(UnicodeDecodeError):
        decode_vni(b"a\x81")
    assert decode_vni(b"a\x81", errors="replace") == "a\ufffd"


VIET_TEXT = st.text(
    alphabet=st.sampled_from(list(VIETNAMESE_LETTERS) + list("abcdeghiklmnopqrstuvxyABCDGHT -")),
    max_size=40,
)


@given(VIET_TEXT)
def test_vni_round_trip_property(text: str) -> None:
    assert decode_vni(encode_vni(text)) == text


@given(VIET_TEXT)
def test_tcvn3_round_trip_property(text: str) -> None:
    expected = "".join(c.lower() if c in TONED_CAPITALS else c for c in text)
    assert decode_tcvn3(encode_tcvn3(text), restore_capitals=False) == expected


@given(VIET_TEXT)
def test_encoders_compose_first(text: str) -> None:
    decomposed = unicodedata.normalize("NFD", text)
    assert encode_vni(decomposed) == encode_vni(text)
    assert encode_tcvn3(decomposed) == encode_tcvn3(text)


def test_encoders_refuse_foreign_characters() -> None:
    with pytest.raises(UnicodeEncodeError):
        encode_tcvn3("Zürich")
    with pytest.raises(UnicodeEncodeError):
        encode_vni("北京")
    assert encode_tcvn3("Zürich", errors="replace") == b"Z?rich"
    assert encode_vni("ß×€") == b"\xdf\xd7\x80"  # bytes VNI leaves to Windows-1252


# ------------------------------------------------------------------------------------------
# decode_bytes, pyogrio_encoding, redecode_latin1_strings
# ------------------------------------------------------------------------------------------


def test_decode_bytes_composes_windows_1258() -> None:
    # Hà: a then 0xCC (combining grave); Nội: ô (0xF4) then 0xF2 (combining dot below).
    raw = b"Ha\xcc N\xf4\xf2i"
    assert raw.decode("cp1258") != "Hà Nội"  # decomposed
    assert decode_bytes(raw, "cp1258") == "Hà Nội"
    assert decode_bytes(to_cp1258("Thừa Thiên Huế"), "windows-1258") == "Thừa Thiên Huế"


@pytest.mark.parametrize(
    ("encoding", "raw"),
    [("ABC", b"H\xb5 N\xe9i"), ("TCVN3", b"H\xb5 N\xe9i"), ("VNI-Windows", b"Ha\xf8 No\xe4i")],
)
def test_decode_bytes_aliases(encoding: str, raw: bytes) -> None:
    assert decode_bytes(raw, encoding) == "Hà Nội"


def test_decode_bytes_reports_the_bad_byte() -> None:
    with pytest.raises(InputError, match=r"villages\.csv.*0xE0 at offset 9 \(line 2\).*--encoding"):
        decode_bytes(b"ten\nThon \xe0 1", "utf-8", source="villages.csv")
    with pytest.raises(InputError, match="unknown text encoding 'klingon'"):
        decode_bytes(b"abc", "klingon")


def test_pyogrio_encoding() -> None:
    assert pyogrio_encoding("UTF-8") == "UTF-8"
    for encoding in ("cp1258", "tcvn3", "vni", "latin-1", "cp1252"):
        assert pyogrio_encoding(encoding) == "ISO-8859-1"


def test_redecode_latin1_strings() -> None:
    raw = encode_vni("Hà Nội").decode("latin-1")
    values: list[str | None] = [raw, None, raw, "Thon 1"]
    assert redecode_latin1_strings(values, "vni") == ["Hà Nội", None, "Hà Nội", "Thon 1"]
    assert redecode_latin1_strings([float("nan")], "vni") == [None]
    with pytest.raises(ValueError, match="ISO-8859-1"):
        redecode_latin1_strings(["Hà Nội"], "vni")
    with pytest.raises(InputError, match=r"x\.shp, row 2, column 'ten'"):
        redecode_latin1_strings(["ok", "a\x81"], "vni", source="x.shp", column="ten")


# ------------------------------------------------------------------------------------------
# vietnamese_score
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [*NAMES, "Bà Rịa–Vũng Tàu", "HÀ NỘI", "Nguyễn Quốc Khánh"])
def test_score_of_real_names_is_one(text: str) -> None:
    assert vietnamese_score(text) == 1.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # UTF-8 read as Windows-1252. Words "HÃ" (2 characters; "hã" is a good syllable) and
        # "Ná»™i" (5 characters; » and ™ are no letters): 2 / (2 + 5).
        ("HÃ  Ná»™i", 2 / 7),
        ("HÃ\xa0 Ná»™i", 0.0),  # the no-break space of "à" is kept in the word
        ("Ha¯ No¨i", 0.0),  # ¯ and ¨ inside words
        ("H¯ Néi", 0.0),  # ¯; "éi" is no Vietnamese vowel group
        ("Hµ Néi", 0.0),  # TCVN3 read as Windows-1252: µ is no Vietnamese letter
        ("Haø Noäi", 0.0),  # VNI read as Windows-1252: ø, ä
        ("Main Street", 0.0),  # "ai" takes no final; "str" + "ee"
        ("", 0.0),
        ("12 345", 0.0),
    ],
)
def test_score_of_mojibake_and_foreign_text(text: str, expected: float) -> None:
    assert vietnamese_score(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("word", "ok"),
    [
        ("hát", True),  # a stop final takes the acute tone...
        ("hàt", False),  # ...not the grave
        ("ăn", True),
        ("ă", False),  # ă needs a final consonant
        ("mai", True),
        ("main", False),  # a group ending in a glide takes no final
        ("quyết", True),  # qu + yê + t
        ("giữa", True),  # gi + ưa
        ("hóà", False),  # two tone marks
        ("hÀ", False),  # mixed case
        ("Đắk", True),  # k final of minority place names
        ("ngoằn", True),
    ],
)
def test_syllable_rules(word: str, ok: bool) -> None:
    assert vietnamese_score(word) == (1.0 if ok else 0.0)


@given(st.text(max_size=60))
def test_score_is_a_share(text: str) -> None:
    assert 0.0 <= vietnamese_score(text) <= 1.0


@pytest.mark.shared_data
def test_score_of_official_district_names() -> None:
    points = gpd.read_file(need_shared(HDX_POINTS), engine="pyogrio", columns=["ADM2_VI"])
    assert vietnamese_score("\n".join(points["ADM2_VI"].dropna())) > 0.95


# ------------------------------------------------------------------------------------------
# fix_mojibake
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("broken", "fixed"),
    [
        ("HÃ\xa0 Ná»™i", "Hà Nội"),
        ("HÃ  Ná»™i", "Hà Nội"),  # the no-break space became a space
        ("Thá»«a ThiÃªn Huáº¿", "Thừa Thiên Huế"),
        ("BÃ\xa0 Rá»\x8baâ\x80\x93VÅ©ng TÃ\xa0u", "Bà Rịa–Vũng Tàu"),  # as GDAL reads ADM1
        # "Đà" is C4 90 C3 A0; 0x90 is undefined in Windows-1252 and shows as U+0090, and the
        # trailing no-break space was trimmed.
        ("Ä\x90Ã", "Đà"),
        # Misread twice: "Hà" -> "HÃ\xa0" -> "HÃƒÂ\xa0".
        ("HÃƒÂ\xa0", "Hà"),
    ],
)
def test_fix_mojibake(broken: str, fixed: str) -> None:
    assert fix_mojibake(broken) == fixed


@pytest.mark.parametrize(
    "text", ["Hà Nội", "Café", "ABC", "", "Hµ Néi", "Haø Noäi", "NGÃ BA", "XÃ ĐÔNG"]
)
def test_fix_mojibake_leaves_other_text(text: str) -> None:
    assert fix_mojibake(text) is None


WORDS = sorted({w for name in NAMES for w in name.split()} | {"Ngã", "Ấp", "Ứng", "Ỷ", "Ơn"})
PHRASES = st.lists(
    st.sampled_from(WORDS).map(lambda w: w.upper() if len(w) % 3 == 0 else w), min_size=1
).map(" ".join)


@given(PHRASES.filter(lambda t: not t.isascii()))
def test_fix_mojibake_undoes_cp1252_misreading(text: str) -> None:
    assert fix_mojibake(as_cp1252_mojibake(text)) == text


@given(PHRASES)
def test_fix_mojibake_leaves_good_vietnamese(text: str) -> None:
    assert fix_mojibake(text) is None


@given(VIET_TEXT)
def test_fix_mojibake_never_invents(text: str) -> None:
    # On any string of the alphabet misread as Windows-1252, the answer is the original or
    # nothing (the repair is refused when the string is no more Vietnamese than its misreading).
    assert fix_mojibake(as_cp1252_mojibake(text)) in (text, None)


# ------------------------------------------------------------------------------------------
# detect_dbf_encoding
# ------------------------------------------------------------------------------------------


@pytest.mark.shared_data
def test_real_adm1_is_utf8_and_reads_clean() -> None:
    shp = need_shared(ADM1)
    assert not shp.with_suffix(".cpg").exists()
    encoding = detect_dbf_encoding(shp)
    assert encoding == "utf-8"
    assert detect_dbf_encoding(shp.with_suffix(".dbf")) == "utf-8"
    provinces = gpd.read_file(shp, engine="pyogrio", encoding=pyogrio_encoding(encoding))
    names = {unicodedata.normalize("NFC", n).strip() for n in provinces["shapeName"]}
    assert {"Hà Nội", "Thừa Thiên Huế", "Bà Rịa–Vũng Tàu", "Đắk Lắk", "Khánh Hòa"} <= names
    assert all(fix_mojibake(n) is None for n in names)
    assert vietnamese_score("\n".join(names)) == 1.0


@pytest.mark.shared_data
def test_upper_case_cpg_is_honoured() -> None:
    shp = need_shared(HDX_POINTS)
    assert shp.with_suffix(".CPG").exists()
    assert detect_dbf_encoding(shp) == "utf-8"


@pytest.mark.parametrize("encoding", ["utf-8", "cp1258"])
def test_dbf_written_by_gdal(tmp_path: Path, encoding: str) -> None:
    shp = tmp_path / "villages.shp"
    frame = gpd.GeoDataFrame(
        {"ten": NAMES}, geometry=shapely.points(np.zeros((len(NAMES), 2))), crs=4326
    )
    frame.to_file(shp, engine="pyogrio", encoding=encoding)
    assert detect_dbf_encoding(shp) == encoding  # from the .cpg GDAL wrote
    shp.with_suffix(".cpg").unlink()
    detected = detect_dbf_encoding(shp)
    assert detected == encoding
    read = gpd.read_file(shp, engine="pyogrio", encoding=pyogrio_encoding(detected))
    values = read["ten"].tolist()
    if pyogrio_encoding(detected) != "UTF-8":
        values = redecode_latin1_strings(values, detected)
    assert values == NAMES


@pytest.mark.parametrize(
    ("encoding", "encode"), [("tcvn3", encode_tcvn3), ("vni", encode_vni), ("cp1258", to_cp1258)]
)
def test_legacy_dbf_detected_and_read_back(
    tmp_path: Path, encoding: str, encode: Callable[[str], bytes]
) -> None:
    shp = tmp_path / "thon.shp"
    write_points(shp, len(NAMES))
    write_dbf(
        shp.with_suffix(".dbf"),
        {"TEN": [encode(n) for n in NAMES], "MA": [b"%d" % i for i in range(len(NAMES))]},
    )
    assert detect_dbf_encoding(shp) == encoding
    assert detect_dbf_encoding(shp.with_suffix(".dbf")) == encoding
    archive = tmp_path / "thon.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for part in tmp_path.glob("thon.*"):
            if part.suffix != ".zip":
                zipped.write(part, f"data/{part.name}")
    assert detect_dbf_encoding(archive) == encoding
    read = gpd.read_file(shp, engine="pyogrio", encoding=pyogrio_encoding(encoding))
    assert redecode_latin1_strings(read["TEN"].tolist(), encoding) == NAMES


def test_single_value_tables(tmp_path: Path) -> None:
    dbf = tmp_path / "one.dbf"
    for encoding, raw in [
        ("tcvn3", b"Th\xf5a Thi\xaan Hu\xd5"),
        ("vni", b"Th\xf6\xf8a Thie\xe2n Hue\xe1"),
        ("cp1258", to_cp1258("Thừa Thiên Huế")),
    ]:
        write_dbf(dbf, {"TEN": [raw]})
        assert detect_dbf_encoding(dbf) == encoding


def test_cpg_contents(tmp_path: Path) -> None:
    dbf = tmp_path / "t.dbf"
    write_dbf(dbf, {"TEN": [b"abc"]})
    for content, codec in [
        ("UTF-8", "utf-8"),
        ("1258", "cp1258"),
        ("ANSI 1252\r\n", "cp1252"),
        ("88591", "iso8859-1"),
        ("TCVN3", "tcvn3"),
        ("VNI-Windows", "vni"),
    ]:
        (tmp_path / "t.cpg").write_text(content)
        assert detect_dbf_encoding(dbf) == codec
    (tmp_path / "t.cpg").write_text("Klingon")
    with pytest.raises(InputError, match=r"t\.dbf.*\.cpg file names an unknown encoding"):
        detect_dbf_encoding(dbf)


def test_ascii_and_empty_tables_are_utf8(tmp_path: Path) -> None:
    dbf = tmp_path / "a.dbf"
    write_dbf(dbf, {"TEN": [b"Ha Noi", b"Hue"]})
    assert detect_dbf_encoding(dbf) == "utf-8"
    write_dbf(dbf, {"TEN": []})
    assert detect_dbf_encoding(dbf) == "utf-8"


def test_utf8_cut_at_the_end_of_a_field(tmp_path: Path) -> None:
    # "Thừa Thiên Huế" cut two bytes into the three of "ế" (E1 BA BF), as a narrow field does.
    raw = "Thừa Thiên Huế".encode()[:-1]
    dbf = tmp_path / "cut.dbf"
    write_dbf(dbf, {"TEN": [raw, "Hà Nội".encode()]})
    assert detect_dbf_encoding(dbf) == "utf-8"


def test_deleted_records_are_ignored(tmp_path: Path) -> None:
    dbf = tmp_path / "d.dbf"
    write_dbf(dbf, {"TEN": ["Hà Nội".encode(), b"\x81\x8d\x8f\x90"]})
    data = bytearray(dbf.read_bytes())
    header_length = struct.unpack_from("<H", data, 8)[0]
    record_length = struct.unpack_from("<H", data, 10)[0]
    data[header_length + record_length] = ord("*")  # delete the second record
    dbf.write_bytes(bytes(data))
    assert detect_dbf_encoding(dbf) == "utf-8"


def test_undecodable_table_names_file_column_and_fix(tmp_path: Path) -> None:
    dbf = tmp_path / "xa.dbf"
    chinese = ["河口瑶族自治县".encode("gbk"), "南溪镇".encode("gbk"), "水口镇".encode("gbk")]
    write_dbf(dbf, {"MA": [b"1", b"2", b"3"], "TEN_XA": chinese})
    with pytest.raises(InputError) as caught:
        detect_dbf_encoding(dbf)
    problem = caught.value.problems[0]
    assert problem.file == "xa.dbf" and problem.column == "TEN_XA"
    message = str(caught.value)
    assert "add a .cpg file containing the encoding, e.g. UTF-8, or pass --encoding" in message
    for encoding in ("cp1258", "tcvn3", "vni", "cp1252"):
        assert f"{encoding} '" in message


def test_language_driver_names_the_code_page(tmp_path: Path) -> None:
    # LDID 0x4D is code page 936 (ArcPad's table): trusted when no Vietnamese reading fits.
    dbf = tmp_path / "cn.dbf"
    write_dbf(dbf, {"TEN": ["河口瑶族自治县".encode("gbk")]}, ldid=0x4D)
    assert detect_dbf_encoding(dbf) == "cp936"


def test_missing_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        detect_dbf_encoding(tmp_path / "none.shp")
    shp = tmp_path / "lonely.shp"
    shp.write_bytes(b"\0" * 100)
    with pytest.raises(InputError, match=r"lonely\.shp.*no \.dbf"):
        detect_dbf_encoding(shp)
    bad = tmp_path / "bad.dbf"
    write_dbf(bad, {"TEN": [b"abc"]})
    data = bytearray(bad.read_bytes())
    data[10:12] = struct.pack("<H", 99)  # record length no longer matches the fields
    bad.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"bad\.dbf.*not a valid dBase file"):
        detect_dbf_encoding(bad)
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("a.shp", b"")
        zipped.writestr("b.shp", b"")
    with pytest.raises(InputError, match="exactly one shapefile"):
        detect_dbf_encoding(archive)


# ------------------------------------------------------------------------------------------
# detect_text_encoding
# ------------------------------------------------------------------------------------------

CSV = "ma;ten_thon;dan_so\n1;Thôn Phước Lộc;1200\n2;Bản Mường Khương;830\n3;Xã Nghĩa Hưng;2400\n"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (CSV.encode("utf-8-sig"), "utf-8-sig"),
        (CSV.encode("utf-16"), "utf-16"),
        (CSV.encode("utf-16-le"), "utf-16-le"),
        (CSV.encode("utf-32"), "utf-32"),
        (CSV.encode("utf-8"), "utf-8"),
        (to_cp1258(CSV), "cp1258"),
        (encode_tcvn3(CSV), "tcvn3"),
        (encode_vni(CSV), "vni"),
    ],
)
def test_csv_encodings(tmp_path: Path, raw: bytes, expected: str) -> None:
    path = tmp_path / "thon.csv"
    path.write_bytes(raw)
    detected = detect_text_encoding(path)
    assert detected == expected
    assert decode_bytes(raw, detected).lstrip("\ufeff") == CSV


def test_undecodable_csv_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "xa.csv"
    path.write_bytes("ma,ten\n1,abc\n2,河口瑶族自治县\n".encode("gbk"))
    with pytest.raises(InputError) as caught:
        detect_text_encoding(path)
    problem = caught.value.problems[0]
    assert (problem.file, problem.row, problem.column) == ("xa.csv", 2, "ten")
    assert "line 3" in problem.message and "--encoding" in problem.fix


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(NAMES[:8]), min_size=2, max_size=6, unique=True))
def test_csv_detection_of_any_few_names(names: list[str]) -> None:
    # Two or more real names are enough to tell every encoding's reading from the others'.
    text = "ma,ten\n" + "\n".join(f"{i},{name}" for i, name in enumerate(names)) + "\n"
    encoders: dict[str, Callable[[str], bytes]] = {
        "tcvn3": encode_tcvn3,
        "vni": encode_vni,
        "cp1258": to_cp1258,
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "thon.csv"
        for encoding, encode in encoders.items():
            path.write_bytes(encode(text))
            assert detect_text_encoding(path) == encoding, (names, encoding)
