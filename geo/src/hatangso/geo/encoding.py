"""Text encodings of Vietnamese data files: detection, decoding and repair.

Provincial offices still send shapefiles whose ``.dbf`` has no ``.cpg`` beside it, and CSV files
saved by old office software. Their text is one of:

- **UTF-8**, what everything written today uses;
- **Windows-1258** (``cp1258``), Microsoft's Vietnamese code page: it has the letters with
  circumflex, breve and horn and a few toned vowels precomposed, and writes most tone marks as a
  combining byte after the vowel, so its text must be normalised (NFC) after decoding;
- **TCVN3** (TCVN 5712:1993 "VN3", the ``.VnTime`` fonts of the ABC input method): one byte per
  precomposed lower-case letter in ``0xA1-0xFE``; of the capitals only Ă Â Ê Ô Ơ Ư Đ have a code,
  and capitals with a tone mark were typed in an all-capital font (``.VnTimeH``) using the
  lower-case codes;
- **VNI** (VNI-Windows fonts): an ASCII base letter followed by one byte drawn as the diacritics
  (``"Vieät Nam"``), with single bytes for ơ, ư, đ, the toned i and ỵ.

None of them can be told apart by the bytes alone, so :func:`detect_dbf_encoding` and
:func:`detect_text_encoding` decode the distinct non-ASCII values every way and keep the reading
that looks most like Vietnamese (:func:`vietnamese_score`).

GDAL (through pyogrio) reads shapefiles with a named encoding, but its Windows-1258 conversion
loses the last character of every value (measured with GDAL 3.12.4: ``"Hà Nội"`` reads as
``"Hà Nộ"``), and it knows neither TCVN3 nor VNI. A reader therefore asks GDAL for ISO-8859-1,
which GDAL converts byte for byte, and decodes the strings in Python::

    frame = geopandas.read_file(path, encoding=pyogrio_encoding(encoding))
    if pyogrio_encoding(encoding) != "UTF-8":
        frame[column] = redecode_latin1_strings(frame[column].tolist(), encoding)

Every string this module returns is in Unicode normal form C.
"""

from __future__ import annotations

import codecs
import functools
import logging
import re
import struct
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from hatangso.geo.errors import InputError, Problem

__all__ = [
    "VIETNAMESE_LETTERS",
    "decode_bytes",
    "decode_tcvn3",
    "decode_vni",
    "detect_dbf_encoding",
    "detect_text_encoding",
    "encode_tcvn3",
    "encode_vni",
    "fix_mojibake",
    "pyogrio_encoding",
    "redecode_latin1_strings",
    "vietnamese_score",
]

log = logging.getLogger(__name__)

Errors = Literal["strict", "replace"]

_ENCODING_FIX = (
    "add a .cpg file containing the encoding, e.g. UTF-8, or pass --encoding "
    "(utf-8, cp1258, tcvn3 or vni)"
)

# --------------------------------------------------------------------------------------------
# The Vietnamese alphabet
# --------------------------------------------------------------------------------------------

#: Combining marks of the five tones (Unicode names: grave, hook above, tilde, acute, dot below).
_TONE_MARKS: dict[str, str] = {
    "grave": "\u0300",
    "hook": "\u0309",
    "tilde": "\u0303",
    "acute": "\u0301",
    "dot": "\u0323",
}
_TONE_OF_MARK: dict[str, str] = {mark: tone for tone, mark in _TONE_MARKS.items()}
_TONES: tuple[str, ...] = ("", "grave", "hook", "tilde", "acute", "dot")

#: The twelve vowels and the two consonant letters of the alphabet that ASCII lacks or shares.
_VOWELS = "aăâeêioôơuưy"
#: Consonant letters; f, j, w and z occur in loan words and in names of ethnic minority places.
_CONSONANTS = "bcdđghklmnpqrstvxfjwz"


def _build_letters() -> tuple[str, ...]:
    """Return the 134 letters of Vietnamese that ASCII lacks, lower case first."""
    lower = [
        unicodedata.normalize("NFC", vowel + _TONE_MARKS[tone]) if tone else vowel
        for vowel in _VOWELS
        for tone in _TONES
    ]
    lower = [ch for ch in lower if not ch.isascii()] + ["đ"]
    return tuple(lower) + tuple(ch.upper() for ch in lower)


#: The 134 letters of the Vietnamese alphabet outside ASCII: 67 lower case then 67 capitals.
VIETNAMESE_LETTERS: tuple[str, ...] = _build_letters()


def _letter_parts() -> dict[str, tuple[str, str]]:
    """Map every letter (both cases) to its lower-case toneless letter and its tone."""
    parts: dict[str, tuple[str, str]] = {}
    for ch in _CONSONANTS:
        parts[ch] = (ch, "")
        parts[ch.upper()] = (ch, "")
    for vowel in _VOWELS:
        for tone in _TONES:
            letter = unicodedata.normalize("NFC", vowel + _TONE_MARKS[tone]) if tone else vowel
            parts[letter] = (vowel, tone)
            parts[letter.upper()] = (vowel, tone)
    return parts


_PARTS: dict[str, tuple[str, str]] = _letter_parts()


def _decompose(letter: str) -> tuple[str, str, str]:
    """Split a Vietnamese letter into ASCII base, modifier and tone.

    The modifier is ``"circumflex"``, ``"breve"``, ``"horn"``, ``"stroke"`` (đ) or ``""``.
    """
    if letter in ("đ", "Đ"):
        return ("d" if letter == "đ" else "D", "stroke", "")
    marks = unicodedata.normalize("NFD", letter)
    base, rest = marks[0], marks[1:]
    modifier = ""
    tone = ""
    for mark in rest:
        if mark in _TONE_OF_MARK:
            tone = _TONE_OF_MARK[mark]
        else:
            modifier = {"\u0302": "circumflex", "\u0306": "breve", "\u031b": "horn"}[mark]
    return base, modifier, tone


# --------------------------------------------------------------------------------------------
# TCVN3
# --------------------------------------------------------------------------------------------

# TCVN 5712:1993, table VN3 (the subset used by the .Vn fonts): 67 lower-case letters, the seven
# capitals without tone mark, and no-break space at 0xA0. Source: the standard as tabulated in
# Wikipedia's "VSCII" article and the Vietnamese Unicode FAQs (vietunicode.sourceforge.net,
# "Unicode & Vietnamese Legacy Character Encodings"); checked byte by byte against the GNU C
# library's TCVN5712-1 converter (``iconv -f TCVN5712-1``).
_TCVN3_LETTERS: dict[int, str] = {
    0xA1: "Ă", 0xA2: "Â", 0xA3: "Ê", 0xA4: "Ô", 0xA5: "Ơ", 0xA6: "Ư", 0xA7: "Đ",
    0xA8: "ă", 0xA9: "â", 0xAA: "ê", 0xAB: "ô", 0xAC: "ơ", 0xAD: "ư", 0xAE: "đ",
    0xB5: "à", 0xB6: "ả", 0xB7: "ã", 0xB8: "á", 0xB9: "ạ",
    0xBB: "ằ", 0xBC: "ẳ", 0xBD: "ẵ", 0xBE: "ắ", 0xC6: "ặ",
    0xC7: "ầ", 0xC8: "ẩ", 0xC9: "ẫ", 0xCA: "ấ", 0xCB: "ậ",
    0xCC: "è", 0xCE: "ẻ", 0xCF: "ẽ", 0xD0: "é", 0xD1: "ẹ",
    0xD2: "ề", 0xD3: "ể", 0xD4: "ễ", 0xD5: "ế", 0xD6: "ệ",
    0xD7: "ì", 0xD8: "ỉ", 0xDC: "ĩ", 0xDD: "í", 0xDE: "ị",
    0xDF: "ò", 0xE1: "ỏ", 0xE2: "õ", 0xE3: "ó", 0xE4: "ọ",
    0xE5: "ồ", 0xE6: "ổ", 0xE7: "ỗ", 0xE8: "ố", 0xE9: "ộ",
    0xEA: "ờ", 0xEB: "ở", 0xEC: "ỡ", 0xED: "ớ", 0xEE: "ợ",
    0xEF: "ù", 0xF1: "ủ", 0xF2: "ũ", 0xF3: "ú", 0xF4: "ụ",
    0xF5: "ừ", 0xF6: "ử", 0xF7: "ữ", 0xF8: "ứ", 0xF9: "ự",
    0xFA: "ỳ", 0xFB: "ỷ", 0xFC: "ỹ", 0xFD: "ý", 0xFE: "ỵ",
}  # fmt: skip

# The other high bytes as the fuller tables of TCVN 5712:1993 (VN1, VN2) assign them: capitals
# with tone marks and, at 0xB0-0xB4, the five combining tone marks. VN3 files do not use them;
# reading them this way keeps every byte meaningful and makes misreadings of other encodings
# look wrong (capitals inside words). Same sources as above.
_TCVN_EXTRA: dict[int, str] = {
    0x80: "À", 0x81: "Ả", 0x82: "Ã", 0x83: "Á", 0x84: "Ạ", 0x85: "Ặ", 0x86: "Ậ", 0x87: "È",
    0x88: "Ẻ", 0x89: "Ẽ", 0x8A: "É", 0x8B: "Ẹ", 0x8C: "Ệ", 0x8D: "Ì", 0x8E: "Ỉ", 0x8F: "Ĩ",
    0x90: "Í", 0x91: "Ị", 0x92: "Ò", 0x93: "Ỏ", 0x94: "Õ", 0x95: "Ó", 0x96: "Ọ", 0x97: "Ộ",
    0x98: "Ờ", 0x99: "Ở", 0x9A: "Ỡ", 0x9B: "Ớ", 0x9C: "Ợ", 0x9D: "Ù", 0x9E: "Ủ", 0x9F: "Ũ",
    0xAF: "Ằ", 0xB0: "\u0300", 0xB1: "\u0309", 0xB2: "\u0303", 0xB3: "\u0301", 0xB4: "\u0323",
    0xBA: "Ẳ", 0xBF: "Ẵ", 0xC0: "Ắ", 0xC1: "Ầ", 0xC2: "Ẩ", 0xC3: "Ẫ", 0xC4: "Ấ", 0xC5: "Ề",
    0xCD: "Ể", 0xD9: "Ễ", 0xDA: "Ế", 0xDB: "Ồ", 0xE0: "Ổ", 0xF0: "Ỗ", 0xFF: "Ố",
}  # fmt: skip

_TCVN3_DECODE: dict[int, str] = {**_TCVN_EXTRA, **_TCVN3_LETTERS}


def _tcvn3_encode_table() -> dict[str, bytes]:
    table = {ch: bytes([code]) for code, ch in _TCVN3_LETTERS.items()}
    table["\u00a0"] = b"\xa0"
    for ch in VIETNAMESE_LETTERS:
        if ch not in table:  # a capital with a tone mark: the lower-case code, as .VnTimeH does
            table[ch] = table[ch.lower()]
    return table


_TCVN3_ENCODE: dict[str, bytes] = _tcvn3_encode_table()
_TCVN3_TRANSLATE: dict[int, str] = {code: ch for code, ch in _TCVN3_DECODE.items()}
_UPPER_ASCII_OR_VN3 = re.compile(rb"[A-Z\xa1-\xa7]")
_LOWER_ASCII = re.compile(rb"[a-z]")


def decode_tcvn3(data: bytes, *, restore_capitals: bool = True) -> str:
    r"""Decode TCVN3 (TCVN 5712:1993 VN3, ``.VnTime`` fonts) bytes.

    Parameters
    ----------
    data
        The encoded text.
    restore_capitals
        TCVN3 has no codes for capitals with a tone mark; text typed in capitals (in the
        all-capital ``.VnTimeH`` font) stores them with the lower-case codes. When True, a value
        whose letters outside the toned vowels are all capitals, at least two of them, is
        returned in capitals (``b"H\xb5 N\xe9I"`` gives ``"HÀ NỘI"``, not ``"Hà NộI"``).

    Returns
    -------
    str
        The text in NFC.

    Notes
    -----
    Bytes below 0x80 are ASCII. Of the bytes from 0x80, VN3 assigns 0xA0 (no-break space) and
    74 letters; the other high bytes are read as the fuller TCVN 5712:1993 tables assign them
    (capitals with tone marks, and combining tone marks at 0xB0-0xB4), so decoding never fails.
    Sources of the table: TCVN 5712:1993 as tabulated in Wikipedia's "VSCII" article and the
    Vietnamese Unicode FAQs; identical to the GNU C library's TCVN5712-1 converter over
    0x80-0xFF.

    Examples
    --------
    >>> decode_tcvn3(b"H\xb5 N\xe9i")
    'Hà Nội'
    >>> decode_tcvn3(b"\xa7\xb5 N\xbdNG")
    'ĐÀ NẴNG'
    """
    text = data.decode("latin-1").translate(_TCVN3_TRANSLATE)
    text = unicodedata.normalize("NFC", text)
    if (
        restore_capitals
        and not _LOWER_ASCII.search(data)
        and len(_UPPER_ASCII_OR_VN3.findall(data)) >= 2
    ):
        text = text.upper()
    return text


def encode_tcvn3(text: str, *, errors: Errors = "strict") -> bytes:
    r"""Encode text as TCVN3 (TCVN 5712:1993 VN3).

    Parameters
    ----------
    text
        Text in any normal form (it is composed first).
    errors
        ``"strict"`` raises on a character TCVN3 cannot write; ``"replace"`` writes ``?``.

    Returns
    -------
    bytes
        The encoded text.

    Raises
    ------
    UnicodeEncodeError
        With ``errors="strict"``, for a character outside ASCII and TCVN3.

    Notes
    -----
    The 67 lower-case letters and Ă Â Ê Ô Ơ Ư Đ have codes and come back unchanged through
    :func:`decode_tcvn3`. The 60 capitals with a tone mark have none: they are written with the
    code of their lower-case letter, as typing in an all-capital ``.VnTimeH`` font does, so they
    read back in lower case unless :func:`decode_tcvn3` restores an all-capital value.

    Examples
    --------
    >>> encode_tcvn3("Hà Nội")
    b'H\xb5 N\xe9i'
    """
    return _encode_with(text, _TCVN3_ENCODE, "tcvn3", errors)


# --------------------------------------------------------------------------------------------
# VNI
# --------------------------------------------------------------------------------------------

# VNI-Windows (VNI Software Co.): a vowel is written as its ASCII letter followed by one byte
# carrying its diacritics; ơ, ư, đ, the toned i and ỵ have bytes of their own. Lower-case codes
# below; a capital uses the same code minus 0x20. Source: the VNI column of the Vietnamese
# Unicode FAQs table (vietunicode.sourceforge.net) and the VNI table of the xvnkb keyboard
# driver (lamdao/xvnkb, vni.h); e.g. "Việt Nam" is b"Vie\xe4t Nam".
_VNI_TONE: dict[str, int] = {"grave": 0xF8, "hook": 0xFB, "tilde": 0xF5, "acute": 0xF9, "dot": 0xEF}
_VNI_CIRCUMFLEX: dict[str, int] = {
    "": 0xE2, "grave": 0xE0, "hook": 0xE5, "tilde": 0xE3, "acute": 0xE1, "dot": 0xE4,
}  # fmt: skip
_VNI_BREVE: dict[str, int] = {
    "": 0xEA, "grave": 0xE8, "hook": 0xFA, "tilde": 0xFC, "acute": 0xE9, "dot": 0xEB,
}  # fmt: skip
_VNI_HORN: dict[str, int] = {"o": 0xF4, "u": 0xF6}  # ơ and ư
_VNI_STROKE_D = 0xF1  # đ
_VNI_TONED_I: dict[str, int] = {
    "grave": 0xEC,
    "hook": 0xE6,
    "tilde": 0xF3,
    "acute": 0xED,
    "dot": 0xF2,
}
_VNI_Y_DOT = 0xEE  # ỵ
_CASE_SHIFT = 0x20


def _vni_lower(letter: str) -> bytes:
    """VNI bytes of one lower-case Vietnamese letter."""
    base, modifier, tone = _decompose(letter)
    if modifier == "stroke":
        return bytes([_VNI_STROKE_D])
    if base == "i" and tone:
        return bytes([_VNI_TONED_I[tone]])
    if base == "y" and tone == "dot":
        return bytes([_VNI_Y_DOT])
    if modifier == "horn":
        return bytes([_VNI_HORN[base]] + ([_VNI_TONE[tone]] if tone else []))
    if modifier == "circumflex":
        return base.encode() + bytes([_VNI_CIRCUMFLEX[tone]])
    if modifier == "breve":
        return base.encode() + bytes([_VNI_BREVE[tone]])
    return base.encode() + (bytes([_VNI_TONE[tone]]) if tone else b"")


def _vni_code(letter: str) -> bytes:
    if letter.islower():
        return _vni_lower(letter)
    lower = _vni_lower(letter.lower())
    return bytes(b - _CASE_SHIFT if b >= 0x80 else ord(chr(b).upper()) for b in lower)


def _vni_tables() -> tuple[dict[str, bytes], dict[int, str]]:
    encode = {letter: _vni_code(letter) for letter in VIETNAMESE_LETTERS}
    # Decoding: each diacritic byte becomes the combining marks it draws, NFC then composes
    # them with the letter before; a byte that is a letter on its own becomes that letter.
    decode: dict[int, str] = {}
    for case_shift in (0, _CASE_SHIFT):
        for tone, code in _VNI_TONE.items():
            decode[code - case_shift] = _TONE_MARKS[tone]
        for tone, code in _VNI_CIRCUMFLEX.items():
            decode[code - case_shift] = "\u0302" + (_TONE_MARKS[tone] if tone else "")
        for tone, code in _VNI_BREVE.items():
            decode[code - case_shift] = "\u0306" + (_TONE_MARKS[tone] if tone else "")
    for letter, letter_code in encode.items():
        if len(letter_code) == 1:
            decode[letter_code[0]] = letter
    # 0x80-0xBF carry no Vietnamese in VNI-Windows fonts: they are Windows-1252's characters.
    for byte in range(0x80, 0xC0):
        try:
            decode[byte] = bytes([byte]).decode("cp1252")
        except UnicodeDecodeError:
            decode[byte] = "\ufffd"
    for byte in range(0x80, 0xC0):
        ch = decode[byte]
        if ch != "\ufffd" and ch not in encode:
            encode[ch] = bytes([byte])
    for byte in range(0xC0, 0x100):  # latin-1 characters VNI leaves in place (× ÷ ß ...)
        if byte not in decode and chr(byte) not in encode:
            encode[chr(byte)] = bytes([byte])
    encode["\u00a0"] = b"\xa0"
    return encode, decode


_VNI_ENCODE, _VNI_TRANSLATE = _vni_tables()
_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")


def decode_vni(data: bytes, *, errors: Errors = "strict") -> str:
    r"""Decode VNI-Windows bytes.

    Parameters
    ----------
    data
        The encoded text.
    errors
        ``"strict"`` raises on the five bytes no Windows font draws (0x81, 0x8D, 0x8F, 0x90,
        0x9D); ``"replace"`` turns them into U+FFFD.

    Returns
    -------
    str
        The text in NFC.

    Raises
    ------
    UnicodeDecodeError
        With ``errors="strict"``, for a byte with no meaning in VNI-Windows.

    Notes
    -----
    A diacritic byte is decoded into the combining marks it draws and composed with the letter
    before it, which is what a VNI font shows; a diacritic after a consonant therefore gives a
    non-Vietnamese letter (``"nù"`` gives ``"ń"``), which :func:`vietnamese_score` counts
    against the reading. Bytes 0x80-0xBF are Windows-1252 characters.

    Examples
    --------
    >>> decode_vni(b"Vie\xe4t Nam")
    'Việt Nam'
    >>> decode_vni(b"Th\xf6\xf8a Thie\xe2n Hue\xe1")
    'Thừa Thiên Huế'
    """
    if errors == "strict":
        bad = _CP1252_UNDEFINED.search(data)
        if bad is not None:
            raise UnicodeDecodeError(
                "vni", data, bad.start(), bad.end(), "byte has no meaning in VNI-Windows"
            )
    text = data.decode("latin-1").translate(_VNI_TRANSLATE)
    return unicodedata.normalize("NFC", text)


def encode_vni(text: str, *, errors: Errors = "strict") -> bytes:
    r"""Encode text as VNI-Windows.

    Parameters
    ----------
    text
        Text in any normal form (it is composed first).
    errors
        ``"strict"`` raises on a character VNI cannot write; ``"replace"`` writes ``?``.

    Returns
    -------
    bytes
        The encoded text. All 134 Vietnamese letters, both cases, round-trip through
        :func:`decode_vni`.

    Raises
    ------
    UnicodeEncodeError
        With ``errors="strict"``, for a character outside ASCII, VNI and Windows-1252's
        punctuation.

    Examples
    --------
    >>> encode_vni("Hà Nội")
    b'Ha\xf8 No\xe4i'
    """
    return _encode_with(text, _VNI_ENCODE, "vni", errors)


def _encode_with(text: str, table: dict[str, bytes], name: str, errors: Errors) -> bytes:
    text = unicodedata.normalize("NFC", text)
    out = bytearray()
    for position, ch in enumerate(text):
        if ch.isascii():
            out += ch.encode("ascii")
        elif ch in table:
            out += table[ch]
        elif errors == "replace":
            out += b"?"
        else:
            raise UnicodeEncodeError(
                name, text, position, position + 1, f"{ch!r} cannot be written in {name}"
            )
    return bytes(out)


# --------------------------------------------------------------------------------------------
# Codec names and dispatch
# --------------------------------------------------------------------------------------------

_ALIASES: dict[str, str] = {
    **dict.fromkeys(
        ("tcvn3", "tcvn", "tcvn-3", "vn3", "abc", "tcvn5712", "tcvn-5712", "tcvn5712-3"), "tcvn3"
    ),
    **dict.fromkeys(("vni", "vni-windows", "vni-win", "vniwin", "vni-ansi"), "vni"),
}


def _canonical(encoding: str, *, source: str | None = None) -> str:
    """Return the canonical name of `encoding`: ``tcvn3``, ``vni`` or a Python codec name."""
    key = encoding.strip().lower().replace("_", "-")
    if key in _ALIASES:
        return _ALIASES[key]
    try:
        return codecs.lookup(key).name
    except LookupError:
        raise InputError(
            Problem(
                file=source or "input",
                message=f"unknown text encoding '{encoding}'",
                fix="use utf-8, cp1258, tcvn3, vni or another encoding Python knows",
            )
        ) from None


def decode_bytes(
    data: bytes, encoding: str, *, errors: Errors = "strict", source: str | None = None
) -> str:
    r"""Decode `data` with a Python codec or one of the Vietnamese font encodings.

    Parameters
    ----------
    data
        The encoded text.
    encoding
        ``"tcvn3"``, ``"vni"`` (and their aliases such as ``"abc"``, ``"vni-windows"``) or any
        Python codec name (``"utf-8"``, ``"cp1258"``, ``"utf-16"``...).
    errors
        ``"strict"`` or ``"replace"`` (undecodable bytes become U+FFFD).
    source
        The file's name, for error messages.

    Returns
    -------
    str
        The text in NFC (Windows-1258 text comes out with its tone marks composed).

    Raises
    ------
    InputError
        If the encoding is unknown, or, with ``errors="strict"``, the bytes are not valid in
        it; the message gives the offset and line of the first bad byte.

    Examples
    --------
    >>> decode_bytes(b"Ha\xcc N\xf4\xf2i", "cp1258")
    'Hà Nội'
    >>> decode_bytes(b"Ha\xf8 No\xe4i", "VNI")
    'Hà Nội'
    """
    name = _canonical(encoding, source=source)
    try:
        if name == "tcvn3":
            return decode_tcvn3(data)
        if name == "vni":
            return decode_vni(data, errors=errors)
        return unicodedata.normalize("NFC", data.decode(name, errors=errors))
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            Problem(
                file=source or "input",
                message=(
                    f"byte 0x{data[exc.start]:02X} at offset {exc.start} (line {line}) cannot be "
                    f"read as {name}"
                ),
                fix=(
                    "pass the file's real encoding with --encoding (utf-8, cp1258, tcvn3 or vni) "
                    "or save the file as UTF-8"
                ),
            )
        ) from exc


def pyogrio_encoding(encoding: str) -> str:
    """Return the encoding to ask pyogrio/GDAL for when reading a file of `encoding`.

    Parameters
    ----------
    encoding
        The file's encoding, as :func:`detect_dbf_encoding` returns it.

    Returns
    -------
    str
        ``"UTF-8"`` for UTF-8; ``"ISO-8859-1"`` for everything else, whose strings are then
        decoded with :func:`redecode_latin1_strings`.

    Notes
    -----
    GDAL's ISO-8859-1 conversion maps each byte to the code point of the same number, so no
    byte is lost. The other names are not safe: GDAL's Windows-1258 conversion drops the last
    character of each value, and pyogrio 0.13 with GDAL 3.12 fails on ``"latin-1"`` (it wants
    ``"ISO-8859-1"`` or ``"latin1"``).

    Examples
    --------
    >>> pyogrio_encoding("utf-8"), pyogrio_encoding("cp1258"), pyogrio_encoding("tcvn3")
    ('UTF-8', 'ISO-8859-1', 'ISO-8859-1')
    """
    return "UTF-8" if _canonical(encoding) in ("utf-8", "utf-8-sig") else "ISO-8859-1"


def redecode_latin1_strings(
    values: Sequence[str | None],
    encoding: str,
    *,
    errors: Errors = "strict",
    source: str | None = None,
    column: str | None = None,
) -> list[str | None]:
    r"""Decode strings that were read as ISO-8859-1 with their real `encoding`.

    Parameters
    ----------
    values
        Strings read with ``encoding="ISO-8859-1"`` (one code point per byte), or None. Any
        other missing marker (NaN, ``pd.NA``) is returned as None.
    encoding
        The file's real encoding (``tcvn3``, ``vni``, ``cp1258``...).
    errors
        ``"strict"`` or ``"replace"``.
    source, column
        The file and column, for error messages.

    Returns
    -------
    list of str or None
        The decoded strings in NFC, in the order given. Each distinct value is decoded once.

    Raises
    ------
    InputError
        If a value cannot be decoded (``errors="strict"``); names the file, row and column.
    ValueError
        If a value holds a character above U+00FF, so it was not read as ISO-8859-1.

    Examples
    --------
    >>> redecode_latin1_strings(["H\xb5 N\xe9i", None, "H\xb5 N\xe9i"], "tcvn3")
    ['Hà Nội', None, 'Hà Nội']
    """
    name = _canonical(encoding, source=source)
    cache: dict[str, str] = {}
    out: list[str | None] = []
    for row, value in enumerate(values, start=1):
        if not isinstance(value, str):
            out.append(None)
            continue
        decoded = cache.get(value)
        if decoded is None:
            try:
                raw = value.encode("latin-1")
            except UnicodeEncodeError as exc:
                raise ValueError(
                    f"value {value!r} holds characters above U+00FF: read the file with "
                    f"encoding='ISO-8859-1' before redecoding it"
                ) from exc
            try:
                decoded = decode_bytes(raw, name, errors=errors, source=source)
            except InputError as exc:
                raise InputError(
                    Problem(
                        file=source or "input",
                        row=row,
                        column=column,
                        message=f"the value {value!r} cannot be read as {name}",
                        fix=("pass the file's real encoding with --encoding or correct the value"),
                    )
                ) from exc
            cache[value] = decoded
        out.append(decoded)
    return out


# --------------------------------------------------------------------------------------------
# How Vietnamese a text looks
# --------------------------------------------------------------------------------------------

# Vowel groups of Vietnamese syllables in writing (without tone), after the q of qu and the g of
# gi have taken their u and i. Source: the rhymes of Vietnamese orthography as listed in Doan
# Thien Thuat, "Ngu am tieng Viet" (1977), and Wikipedia's "Vietnamese phonology".
_GROUPS_OPEN_OR_CLOSED = frozenset("a e ê i o ô ơ u ư y oa oe uê uy".split())
_GROUPS_NEED_FINAL = frozenset("ă â oă uâ iê yê uyê uô ươ oo".split())
_GROUPS_NO_FINAL = frozenset(
    "ai ao au ay âu ây eo êu ia iu oi ôi ơi ui ưi ưu ưa ua uơ uya oai oay oao oeo uây uôi "
    "ươi ươu iêu yêu uyu".split()
)
_GROUPS = _GROUPS_OPEN_OR_CLOSED | _GROUPS_NEED_FINAL | _GROUPS_NO_FINAL
# Final consonants; k and h end syllables of minority-language place names (Đắk, Păh).
_FINALS = frozenset("c ch m n ng nh p t k h".split())
_STOP_FINALS = frozenset("c ch p t k".split())
# A syllable closed by a stop takes only the acute or the dot-below tone (or none, in names).
_STOP_TONES = frozenset(("", "acute", "dot"))

_SYLLABLE = re.compile(f"^([{_CONSONANTS}]*)([{_VOWELS}]+)([{_CONSONANTS}]*)$")
# Word separators: ASCII white space, digits and punctuation, dashes, quotes and the ellipsis.
# The no-break space is not one: mis-decoded text is full of it.
_SEPARATORS = re.compile("[ \t\n\r\f\v0-9!-/:-@\\[-`{-~\u2010-\u2015\u2018-\u201f\u2026]+")


@functools.lru_cache(maxsize=65536)
def _well_formed(token: str) -> bool:
    """Whether `token` is one well-formed Vietnamese syllable in a sensible case."""
    letters: list[str] = []
    tones: list[str] = []
    for ch in token:
        parts = _PARTS.get(ch)
        if parts is None:
            return False
        letters.append(parts[0])
        if parts[1]:
            tones.append(parts[1])
    if len(tones) > 1:
        return False
    if len(token) > 1 and not (token.islower() or token.isupper() or token.istitle()):
        return False
    match = _SYLLABLE.match("".join(letters))
    if match is None:
        return False
    initial, group, final = match.groups()
    if initial.endswith("q"):
        if not group.startswith("u") or len(group) < 2:
            return False
        group = group[1:]
    elif initial == "g" and group.startswith("i") and len(group) > 1:
        group = group[1:]
    if group not in _GROUPS:
        return False
    if final:
        if final not in _FINALS or group in _GROUPS_NO_FINAL:
            return False
        tone = tones[0] if tones else ""
        if final in _STOP_FINALS and tone not in _STOP_TONES:
            return False
    elif group in _GROUPS_NEED_FINAL:
        return False
    return True


def _counts_as_letter(ch: str) -> bool:
    """Tell letters, marks and the debris of bad decoding (controls, U+FFFD) from symbols."""
    category = unicodedata.category(ch)
    return category[0] in "LM" or ch == "\ufffd" or category in ("Cc", "Co", "Cn")


def _tally(text: str, *, non_ascii_only: bool) -> tuple[int, int]:
    """Return (characters in well-formed words, characters in all words with a letter)."""
    good = 0
    total = 0
    for token in _SEPARATORS.split(unicodedata.normalize("NFC", text)):
        if not token or (non_ascii_only and token.isascii()):
            continue
        if not any(_counts_as_letter(ch) for ch in token):
            continue
        weight = len(token)
        total += weight
        if _well_formed(token):
            good += weight
    return good, total


def vietnamese_score(text: str) -> float:
    """Return how plausible `text` is as Vietnamese, from 0 (not at all) to 1.

    Parameters
    ----------
    text
        Any text, in any normal form.

    Returns
    -------
    float
        The share of letters that stand in well-formed Vietnamese syllables; 0.0 for text
        without letters.

    Notes
    -----
    The text is cut into words at white space, digits and punctuation (not at the no-break
    space). A word is well formed when every character is a letter of the Vietnamese alphabet,
    it carries at most one tone mark, it is written in lower case, capitals or title case, and
    it parses as initial consonants, one vowel group of Vietnamese spelling (*oa*, *ươi*,
    *uyê*, ...; after *qu* and *gi*) and a final among *c ch m n ng nh p t* (and *k h* of
    minority place names), where groups ending in a glide take no final, groups such as *ă*,
    *iê*, *uô* need one, and a syllable closed by *c ch p t k* has no grave, hook or tilde
    tone. Each word weighs its number of letters.

    Mis-decoded text fails these rules: UTF-8 read as Windows-1252 (``"HÃ  Ná»™i"``) brings
    symbols and no-break spaces into words, TCVN3 read as Windows-1252 (``"Hµ Néi"``) brings µ
    and impossible vowel groups, VNI read as Windows-1252 (``"Haø Noäi"``) brings ø and ä.

    Examples
    --------
    >>> vietnamese_score("Thừa Thiên Huế")
    1.0
    >>> vietnamese_score("Thá»«a ThiÃªn Huáº¿")
    0.0
    """
    good, total = _tally(text, non_ascii_only=False)
    return good / total if total else 0.0


# --------------------------------------------------------------------------------------------
# Mojibake
# --------------------------------------------------------------------------------------------


def _cp1252_to_latin1() -> dict[int, int]:
    table: dict[int, int] = {}
    for byte in range(0x80, 0xA0):
        try:
            table[ord(bytes([byte]).decode("cp1252"))] = byte
        except UnicodeDecodeError:
            continue
    return table


_CP1252_TO_LATIN1 = _cp1252_to_latin1()
# A UTF-8 sequence missing its last byte, followed by a space or by the end: the missing byte
# was a no-break space (0xA0, as in "à" = C3 A0) that became a space or was trimmed.
_CONTINUATION = re.compile(rb"[\xc2-\xf4][\x80-\xbf]")
_BROKEN_BY_SPACE = re.compile(
    rb"((?:[\xc2-\xdf]|[\xe0-\xef][\x80-\xbf]|[\xf0-\xf4][\x80-\xbf]{2}))( |$)"
)


def fix_mojibake(text: str) -> str | None:
    """Repair UTF-8 text that was wrongly decoded as Windows-1252 or Latin-1.

    Parameters
    ----------
    text
        A string such as ``"HÃ  Ná»™i"``.

    Returns
    -------
    str or None
        The repaired text in NFC (``"Hà Nội"``), or None if `text` does not look like such a
        misreading (it has no character above ASCII, or its bytes are not UTF-8).

    Notes
    -----
    The characters are mapped back to the bytes Windows-1252 (or Latin-1, for the five bytes
    Windows-1252 leaves undefined) gave them, and those bytes are decoded as UTF-8. A no-break
    space that was turned into a space or trimmed, as ``"à"`` (C3 A0) suffers, is put back.
    Text misread twice is repaired twice. A repair that makes the text less Vietnamese
    (:func:`vietnamese_score`) is refused.

    Examples
    --------
    >>> fix_mojibake("HÃ  Ná»™i")
    'Hà Nội'
    >>> fix_mojibake("Hà Nội") is None
    True
    """
    current = text
    for attempt in range(3):
        if current.isascii():
            break
        try:
            raw = current.translate(_CP1252_TO_LATIN1).encode("latin-1")
        except UnicodeEncodeError:
            break
        try:
            repaired = raw.decode("utf-8")
        except UnicodeDecodeError:
            # Put lost no-break spaces back only on a first pass over text that holds other
            # UTF-8 sequences: "NGÃ BA" is good Vietnamese, not "NGà BA" misread.
            if attempt > 0 or not _CONTINUATION.search(raw):
                break
            try:
                repaired = _BROKEN_BY_SPACE.sub(lambda m: m.group(1) + b"\xa0", raw).decode("utf-8")
            except UnicodeDecodeError:
                break
        if repaired == current:
            break
        current = repaired
    if current == text or vietnamese_score(current) < vietnamese_score(text):
        return None
    return unicodedata.normalize("NFC", current)


# --------------------------------------------------------------------------------------------
# Choosing an encoding
# --------------------------------------------------------------------------------------------

#: Encodings tried, in order of preference when their readings are equally good.
_CANDIDATES: tuple[str, ...] = ("cp1258", "tcvn3", "vni", "cp1252")
#: Share of well-formed letters a reading needs to be believed.
_PLAUSIBLE = 0.5
#: Distinct values examined per column.
_MAX_SAMPLES = 5000


def _is_utf8(values: Sequence[bytes]) -> bool:
    """Whether every value is UTF-8, allowing a sequence cut short by the end of a field."""
    try:
        b"\n".join(values).decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return True
    for value in values:
        try:
            value.decode("utf-8")
        except UnicodeDecodeError as exc:
            truncated = exc.reason == "unexpected end of data" and exc.start >= len(value) - 3
            if not truncated:
                return False
    return True


@dataclass(frozen=True)
class _Reading:
    """One candidate encoding's reading of the samples."""

    encoding: str
    good: int
    total: int

    @property
    def score(self) -> float:
        return self.good / self.total if self.total else 0.0


def _read_all(samples: Sequence[bytes], encoding: str) -> list[str]:
    return [decode_bytes(value, encoding, errors="replace") for value in samples]


def _rank(samples: Sequence[bytes], candidates: Sequence[str]) -> list[_Reading]:
    """Score every candidate's reading of `samples`, best first (ties keep candidate order)."""
    readings = []
    for encoding in candidates:
        good = total = 0
        for text in _read_all(samples, encoding):
            g, t = _tally(text, non_ascii_only=True)
            good += g
            total += t
        readings.append(_Reading(encoding, good, total))
    order = sorted(range(len(readings)), key=lambda i: (-readings[i].score, i))
    return [readings[i] for i in order]


def _shorten(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _undecodable(
    name: str,
    column: str | None,
    sample: bytes,
    candidates: Sequence[str],
    *,
    what: str,
    row: int | None = None,
    hint: str = "",
    fix: str = _ENCODING_FIX,
) -> InputError:
    readings = ", ".join(
        f"{encoding} {_shorten(decode_bytes(sample, encoding, errors='replace'))!r}"
        for encoding in candidates
    )
    return InputError(
        Problem(
            file=name,
            row=row,
            column=column,
            message=(
                f"the text encoding cannot be recognised ({what}); no reading looks like "
                f"Vietnamese: a sample value reads as {readings}{hint}"
            ),
            fix=fix,
        )
    )


def _choose(
    samples: Sequence[bytes], candidates: Sequence[str]
) -> tuple[str | None, list[_Reading]]:
    """Return the plausible encoding of `samples`, or None, with the ranked readings."""
    ranked = _rank(samples, candidates)
    best = ranked[0]
    if best.total == 0:  # only symbols outside ASCII (°, ²...): every reading is as good
        return candidates[0], ranked
    if best.score >= _PLAUSIBLE:
        return best.encoding, ranked
    return None, ranked


# --------------------------------------------------------------------------------------------
# dBase files
# --------------------------------------------------------------------------------------------

# dBase language driver IDs (header byte 29) and their Windows code pages. Source: ESRI, ArcPad
# 10 help, "Setting the code page for shapefiles" (table of supported LDIDs).
_LDID_CODE_PAGES: dict[int, int] = {
    0x01: 437, 0x02: 850, 0x03: 1252, 0x08: 865, 0x09: 437, 0x0A: 850, 0x0B: 437, 0x0D: 437,
    0x0E: 850, 0x0F: 437, 0x10: 850, 0x11: 437, 0x12: 850, 0x13: 932, 0x14: 850, 0x15: 437,
    0x16: 850, 0x17: 865, 0x18: 437, 0x19: 437, 0x1A: 850, 0x1B: 437, 0x1C: 863, 0x1D: 850,
    0x1F: 852, 0x22: 852, 0x23: 852, 0x24: 860, 0x25: 850, 0x26: 866, 0x37: 850, 0x40: 852,
    0x4D: 936, 0x4E: 949, 0x4F: 950, 0x50: 874, 0x57: 1252, 0x58: 1252, 0x59: 1252, 0x64: 852,
    0x65: 866, 0x66: 865, 0x67: 861, 0x6A: 737, 0x6B: 857, 0x78: 950, 0x79: 949, 0x7A: 936,
    0x7B: 932, 0x7C: 874, 0x86: 737, 0x87: 852, 0x88: 857, 0xC8: 1250, 0xC9: 1251, 0xCA: 1254,
    0xCB: 1253, 0xCC: 1257,
}  # fmt: skip
#: Code pages an LDID names by default in Western software: they say nothing about Vietnamese.
_UNINFORMATIVE_CODE_PAGES = frozenset((437, 850, 1252))


@dataclass(frozen=True)
class _TextColumn:
    """The distinct values of one character field that hold bytes above ASCII."""

    name: str
    values: tuple[bytes, ...]


@dataclass(frozen=True)
class _DbfText:
    ldid: int
    columns: tuple[_TextColumn, ...]


def _field_name(raw: bytes) -> str:
    name = raw.split(b"\x00", 1)[0]
    try:
        return name.decode("utf-8").strip()
    except UnicodeDecodeError:
        return name.decode("latin-1").strip()


def _parse_dbf(data: npt.NDArray[np.uint8], name: str) -> _DbfText:
    """Read the header and the non-ASCII text values of a dBase III file.

    Notes
    -----
    Layout (dBase III, as the shapefile uses it): a 32-byte header (record count uint32 at 4,
    header length uint16 at 8, record length uint16 at 10, language driver at 29), 32-byte field
    descriptors (name 11 bytes, type at 11, length at 16, decimals at 17) ended by 0x0D, then
    fixed-length records, each a deletion flag (``*`` = deleted) and the fields. A character
    field longer than 255 bytes keeps the high byte of its length in the decimals byte, as
    shapelib writes it.
    """

    def corrupt(reason: str) -> InputError:
        return InputError(
            Problem(
                file=name,
                message=f"the .dbf file is not a valid dBase file ({reason})",
                fix="export the layer again, or save it as GeoPackage or GeoJSON",
            )
        )

    if data.size < 32:
        raise corrupt("it is shorter than its 32-byte header")
    header = data[:32].tobytes()
    n_records, header_length, record_length = struct.unpack_from("<IHH", header, 4)
    ldid = header[29]
    if header_length > data.size or record_length == 0:
        raise corrupt("its header gives impossible lengths")
    fields: list[tuple[str, str, int, int]] = []  # name, type, offset, width
    offset = 1
    descriptors = data[32:header_length].tobytes()
    for start in range(0, len(descriptors) - 31, 32):
        descriptor = descriptors[start : start + 32]
        if descriptor[0] == 0x0D:
            break
        field_type = chr(descriptor[11])
        width = descriptor[16]
        if field_type == "C":
            width += 256 * descriptor[17]
        fields.append((_field_name(descriptor[:11]), field_type, offset, width))
        offset += width
    if offset != record_length:
        raise corrupt(f"its fields add up to {offset} bytes but records are {record_length}")
    available = (data.size - header_length) // record_length
    if available < n_records:
        log.warning("%s: the .dbf holds %d of its %d records", name, available, n_records)
    count = min(n_records, available)
    records = data[header_length : header_length + count * record_length].reshape(
        count, record_length
    )
    records = records[records[:, 0] != ord("*")]
    columns = []
    for field_name, field_type, start, width in fields:
        if field_type != "C" or width == 0:
            continue
        cells = records[:, start : start + width]
        high = (cells >= 0x80).any(axis=1)
        if not high.any():
            continue
        distinct = np.unique(np.ascontiguousarray(cells[high]).view(f"S{width}").ravel())
        values = tuple(v.rstrip(b" ") for v in distinct.tolist()[:_MAX_SAMPLES])
        columns.append(_TextColumn(field_name, values))
    return _DbfText(ldid=ldid, columns=tuple(columns))


def _sibling(path: Path, suffix: str) -> Path | None:
    """Find the file beside `path` with `suffix`, matched without regard to case."""
    for candidate in (path.with_suffix(suffix.lower()), path.with_suffix(suffix.upper())):
        if candidate.is_file():
            return candidate
    wanted = path.with_suffix(suffix).name.lower()
    if path.parent.is_dir():
        for entry in path.parent.iterdir():
            if entry.name.lower() == wanted and entry.is_file():
                return entry
    return None


def _cpg_codec(content: str, name: str) -> str:
    """Turn the content of a ``.cpg`` file into a codec name."""
    text = content.strip().lstrip("\ufeff").strip()
    number = re.fullmatch(r"(?:ansi\s*|cp\s*|windows-?)?(\d{3,5})", text, re.IGNORECASE)
    if number is not None:
        code = int(number.group(1))
        if code == 65001:
            return "utf-8"
        if 88591 <= code <= 885916:  # ESRI writes ISO 8859-n as 8859n
            text = f"iso8859-{str(code)[4:]}"
        else:
            text = f"cp{code}"
    try:
        return _canonical(text, source=name)
    except InputError:
        raise InputError(
            Problem(
                file=name,
                message=f"the .cpg file names an unknown encoding {content.strip()!r}",
                fix="write the encoding into the .cpg file, e.g. UTF-8, or pass --encoding",
            )
        ) from None


def _zip_members(archive: zipfile.ZipFile, name: str) -> tuple[str, str | None]:
    """Return the ``.dbf`` member of the shapefile in `archive` and its ``.cpg``, if any."""
    members = archive.namelist()
    lowered = {member.lower(): member for member in members}
    stems = [m[:-4] for m in members if m.lower().endswith(".shp")]
    if not stems:
        stems = [m[:-4] for m in members if m.lower().endswith(".dbf")]
    if len(stems) != 1:
        raise InputError(
            Problem(
                file=name,
                message=f"the zip archive must hold exactly one shapefile; it holds {len(stems)}",
                fix="zip one layer per archive",
            )
        )
    stem = stems[0].lower()
    dbf = lowered.get(stem + ".dbf")
    if dbf is None:
        raise InputError(
            Problem(
                file=name,
                message=f"the shapefile {stems[0]}.shp in the archive has no .dbf file",
                fix="add the .dbf file (the attribute table) to the archive",
            )
        )
    return dbf, lowered.get(stem + ".cpg")


def _load_dbf(path: Path, name: str) -> tuple[_DbfText, str | None, str]:
    """Return the text of the ``.dbf``, the ``.cpg`` content if any, and the ``.dbf``'s name."""
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                dbf, cpg = _zip_members(archive, name)
                cpg_text = (
                    archive.read(cpg).decode("ascii", errors="replace") if cpg is not None else None
                )
                data = np.frombuffer(archive.read(dbf), dtype=np.uint8)
        except zipfile.BadZipFile as exc:
            raise InputError(
                Problem(file=name, message=f"not a valid zip archive ({exc})", fix="zip it again")
            ) from exc
        return _parse_dbf(data, name), cpg_text, Path(dbf).name
    cpg_path = _sibling(path, ".cpg")
    cpg_text = (
        cpg_path.read_bytes().decode("ascii", errors="replace") if cpg_path is not None else None
    )
    dbf_path = path if path.suffix.lower() == ".dbf" else _sibling(path, ".dbf")
    if dbf_path is None or not dbf_path.is_file():
        raise InputError(
            Problem(
                file=name,
                message="the shapefile has no .dbf file beside it",
                fix="put the .dbf file (the attribute table) in the same folder as the .shp",
            )
        )
    if dbf_path.stat().st_size == 0:
        data = np.zeros(0, dtype=np.uint8)
    else:
        data = np.asarray(np.memmap(dbf_path, dtype=np.uint8, mode="r"))
    return _parse_dbf(data, name), cpg_text, dbf_path.name


def detect_dbf_encoding(path: str | Path) -> str:
    """Return the text encoding of a shapefile's attribute table.

    Parameters
    ----------
    path
        The ``.shp``, the ``.dbf``, or a ``.zip`` holding one shapefile.

    Returns
    -------
    str
        A name :func:`decode_bytes` and :func:`pyogrio_encoding` accept: the ``.cpg``'s encoding
        when there is one, else ``"utf-8"``, ``"cp1258"``, ``"tcvn3"``, ``"vni"`` or
        ``"cp1252"`` (``"utf-8"`` also for a table with no byte above ASCII), or, failing
        those, the code page the header's language driver names (e.g. ``"cp936"``).

    Raises
    ------
    InputError
        If the files are missing or not valid, the ``.cpg`` names an unknown encoding, or no
        reading looks like Vietnamese; then the message names the column, shows a sample value
        as each encoding reads it, and says to add a ``.cpg`` or pass ``--encoding``.

    Notes
    -----
    Without a ``.cpg``, the distinct values of every character field that hold bytes above
    ASCII are read from the ``.dbf`` directly (header parsed with :mod:`struct`, cells sliced
    with numpy). If all of them are UTF-8 (a multi-byte sequence cut by the end of a field is
    allowed), the answer is UTF-8: text in the other encodings is almost never valid UTF-8.
    Otherwise each of Windows-1258, TCVN3, VNI and Windows-1252 reads the values, and the
    reading whose words score best under :func:`vietnamese_score` (counting only words with a
    character above ASCII) wins, if at least half of its letters are in well-formed syllables;
    on a tie the order just given decides. The language driver byte of the header (LDID) is a
    hint only, since most software writes 0x57 ("ANSI") whatever the text: when it names a
    code page other than 437, 850 or 1252 and no Vietnamese reading is plausible, that code
    page is used if it decodes every value.
    """
    path = Path(path)
    name = path.name
    if not path.exists():
        raise InputError(Problem(file=name, message=f"no such file: {path}", fix="check the path"))
    text, cpg, dbf_name = _load_dbf(path, name)
    if cpg is not None and cpg.strip():
        codec = _cpg_codec(cpg, name)
        log.debug("%s: encoding %s from its .cpg file", name, codec)
        return codec
    samples = [value for column in text.columns for value in column.values]
    if not samples or _is_utf8(samples):
        return "utf-8"
    code_page = _LDID_CODE_PAGES.get(text.ldid)
    log.debug("%s: no .cpg; language driver 0x%02X (code page %s)", name, text.ldid, code_page)
    chosen, ranked = _choose(samples, _CANDIDATES)
    if chosen is not None:
        log.info(
            "%s: no .cpg file, text read as %s (%s)",
            name,
            chosen,
            ", ".join(f"{r.encoding} {r.score:.2f}" for r in ranked),
        )
        return chosen
    hint = ""
    if code_page is not None and code_page not in _UNINFORMATIVE_CODE_PAGES:
        declared = f"cp{code_page}"
        try:
            for value in samples:
                value.decode(declared)
        except (UnicodeDecodeError, LookupError):
            hint = f"; the header's language driver names code page {code_page}"
        else:
            log.info("%s: text read as %s, the header's language driver", name, declared)
            return declared
    column = max(text.columns, key=lambda c: len(c.values))
    sample = max(column.values[:200], key=lambda v: sum(b >= 0x80 for b in v))
    raise _undecodable(
        name,
        column.name,
        sample,
        _CANDIDATES,
        what=f"no .cpg file and {dbf_name} is not UTF-8",
        hint=hint,
    )


# --------------------------------------------------------------------------------------------
# Text files
# --------------------------------------------------------------------------------------------

# Runs of bytes between delimiters of delimited text, holding a byte above ASCII.
_NON_ASCII_FIELD = re.compile(rb"[^\t\n\r,;|\"]*[\x80-\xff][^\t\n\r,;|\"]*")


def _utf16_without_bom(sample: bytes) -> str | None:
    """Recognise UTF-16 text without a byte-order mark by its zero bytes."""
    if len(sample) < 4:
        return None
    even = sample[0::2].count(0)
    odd = sample[1::2].count(0)
    half = len(sample) // 2
    if odd > 0.4 * half and even < 0.05 * half:
        return "utf-16-le"
    if even > 0.4 * half and odd < 0.05 * half:
        return "utf-16-be"
    return None


def _where_in_csv(data: bytes, position: int) -> tuple[int, str | None]:
    """Find the 1-based line of `position` and its column (named by the header line)."""
    line_start = data.rfind(b"\n", 0, position) + 1
    line = data.count(b"\n", 0, position) + 1
    header = data.split(b"\n", 1)[0].rstrip(b"\r")
    delimiter = max((b",", b";", b"\t", b"|"), key=header.count)
    names = header.decode("latin-1").split(delimiter.decode())
    index = data[line_start:position].count(delimiter)
    column = names[index].strip().strip('"') if line > 1 and index < len(names) else None
    return line, column


def detect_text_encoding(path: str | Path) -> str:
    """Return the encoding of a CSV or other delimited text file.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    str
        ``"utf-8-sig"``, ``"utf-32"`` or ``"utf-16"`` when the file starts with a byte-order
        mark; ``"utf-16-le"``/``"utf-16-be"`` for UTF-16 without one; ``"utf-8"`` when the bytes
        are UTF-8 (ASCII included); else ``"cp1258"``, ``"tcvn3"``, ``"vni"`` or ``"cp1252"``,
        chosen as :func:`detect_dbf_encoding` does from the fields holding bytes above ASCII.

    Raises
    ------
    InputError
        If the file is missing or no reading looks like Vietnamese; the message names the line
        and column of a sample and the fix.
    """
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise InputError(Problem(file=name, message=f"no such file: {path}", fix="check the path"))
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    utf16 = _utf16_without_bom(data[:4096])
    if utf16 is not None:
        return utf16
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    samples = list(dict.fromkeys(_NON_ASCII_FIELD.findall(data)))[:_MAX_SAMPLES]
    chosen, ranked = _choose(samples, _CANDIDATES)
    if chosen is not None:
        log.info(
            "%s: not UTF-8, read as %s (%s)",
            name,
            chosen,
            ", ".join(f"{r.encoding} {r.score:.2f}" for r in ranked),
        )
        return chosen
    sample = max(samples[:200], key=lambda v: sum(b >= 0x80 for b in v))
    line, column = _where_in_csv(data, data.find(sample))
    raise _undecodable(
        name,
        column,
        sample,
        _CANDIDATES,
        what=f"the file is not UTF-8; sample from line {line}",
        row=line - 1 if line > 1 else None,
        fix="pass --encoding (utf-8, cp1258, tcvn3 or vni) or save the file as UTF-8",
    )
