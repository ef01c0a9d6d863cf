"""The input layers of the contract: their columns, aliases, types and geometries.

Column names are matched after :func:`hatangso.geo.text.fold_key` (lower case, accents removed,
spaces, dashes and underscores dropped), so ``Tên thôn``, ``ten_thon`` and ``TEN THON`` are one
name. Aliases are what provincial offices and operators write in their spreadsheets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from hatangso.geo.errors import InputError, Problem

__all__ = [
    "KINDS",
    "LAYER_KINDS",
    "MAST_KINDS",
    "MAST_STATUSES",
    "OPERATORS",
    "OTHER_INPUTS",
    "POI_KINDS",
    "RECORD_KINDS",
    "STORED_KINDS",
    "UNIT_COLUMNS",
    "UNIT_LEVELS",
    "ColumnSpec",
    "LayerSpec",
    "spec_for",
]

ColumnType = Literal["str", "int", "float", "bool", "operators", "date"]
GeometryKind = Literal["point", "polygon", "line", "point_or_polygon", "any", "none"]

#: Canonical operator names of the contract.
OPERATORS: tuple[str, ...] = ("Viettel", "VNPT", "MobiFone", "Vietnamobile", "Gmobile")

#: Kinds of point of interest the contract knows. A POI is a point or an area (a polygon: an
#: industrial park's or a production zone's outline).
POI_KINDS: tuple[str, ...] = (
    "district_centre",
    "industrial_park",
    "tourism",
    "commune_hq",
    "production_zone",
)

#: Kinds of antenna mast of the registry.
MAST_KINDS: tuple[str, ...] = ("ground", "rooftop", "camouflage", "pole", "small_cell")

#: Stages of a mast's life in the registry, in order.
MAST_STATUSES: tuple[str, ...] = ("planned", "permitted", "built", "dismantled")


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a layer.

    Attributes
    ----------
    name
        Canonical name (as written in output files).
    dtype
        ``str``, ``int``, ``float``, ``bool``, ``operators`` (a ``;``-separated list) or
        ``date`` (read from ISO ``2025-06-30`` or ``30/06/2025``, kept as ISO text).
    required
        Whether a file without it is refused.
    aliases
        Other names accepted for it (matched after folding).
    default
        Value used when the column is absent or the cell empty (optional columns only).
    unit
        Physical unit, for the documentation.
    choices
        The values a text column may take, if it is a closed list; `choice_aliases` maps
        other spellings (matched after folding) to them.
    """

    name: str
    dtype: ColumnType = "str"
    required: bool = False
    aliases: tuple[str, ...] = ()
    default: object = None
    unit: str | None = None
    choices: tuple[str, ...] = ()
    choice_aliases: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class LayerSpec:
    """One input kind of the contract.

    Attributes
    ----------
    kind
        Name of the kind as the contract and the service spell it (``villages``, ``sites``,
        ``access-points`` ...); see :attr:`stem` and :attr:`option` for its other spellings.
    columns
        The contract's columns, required and optional.
    geometry
        Geometry family accepted.
    id_column
        Column whose values must be present and unique, if any.
    streamed
        Whether the input is streamed through in chunks (measurement samples, too many rows
        to hold) rather than read and validated whole.
    record
        Whether the kind is part of a province's record: an input of ``coverage``, of a
        scenario and of the service. The planner's own candidate sites are not (``plan
        --candidates`` and ``validate`` read them).
    workflow
        Whether the kind is kept in the record's store but written by the service's own
        steps rather than uploaded (the challenges to a village's status): no input file,
        no ``validate``.
    """

    kind: str
    columns: tuple[ColumnSpec, ...]
    geometry: GeometryKind
    id_column: str | None = None
    coordinate_aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    streamed: bool = False
    record: bool = True
    workflow: bool = False

    @property
    def stem(self) -> str:
        """File-name stem and Python name of the kind (``access_points``)."""
        return self.kind.replace("-", "_")

    @property
    def option(self) -> str:
        """Command-line option that names the kind's file (``--access-points``)."""
        return f"--{self.kind}"

    @property
    def required(self) -> tuple[str, ...]:
        """Names of the required columns."""
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> ColumnSpec:
        """Return the spec of column `name`."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


# Coordinate columns for tables without geometry (CSV). VN-2000 survey tables write X for the
# northing and Y for the easting; we follow GIS usage (x = easting) and detect the swap.
_COORDS: dict[str, tuple[str, ...]] = {
    "lon": ("lon", "lng", "long", "longitude", "kinh do", "kinhdo", "kinh_do", "toa do kinh do"),
    "lat": ("lat", "latitude", "vi do", "vido", "vi_do", "toa do vi do"),
    "x": ("x", "easting", "toa do x", "x_m", "east"),
    "y": ("y", "northing", "toa do y", "y_m", "north"),
}

_OPERATOR = ColumnSpec(
    "operator",
    required=True,
    aliases=(
        "nha mang",
        "doanh nghiep",
        "doanh nghiep vien thong",
        "carrier",
        "mno",
        "network",
        "nha cung cap",
        "provider",
        "dnvt",
    ),
)
_OPERATORS = ColumnSpec(
    "operators",
    dtype="operators",
    required=True,
    aliases=(
        "operator",
        "nha mang",
        "doanh nghiep",
        "doanh nghiep su dung",
        "carriers",
        "cac nha mang",
        "dung chung",
    ),
)
_POPULATION = ColumnSpec(
    "population",
    dtype="float",
    aliases=("dan so", "so dan", "pop", "so nhan khau", "nhan khau"),
    unit="people",
)

_MAST_ID_OF_SITE = ColumnSpec(
    "mast_id", aliases=("ma cot", "ma cot anten", "ma cot ang ten", "mast", "tower id", "ma vi tri")
)
_TECH = ColumnSpec("tech", required=True, aliases=("technology", "cong nghe", "rat"))

_SPECS: dict[str, LayerSpec] = {
    "villages": LayerSpec(
        "villages",
        (
            ColumnSpec(
                "village_id",
                required=True,
                aliases=(
                    "id",
                    "ma thon",
                    "ma ap",
                    "ma ban",
                    "ma khom",
                    "ma to dan pho",
                    "village code",
                    "village_code",
                    "thon id",
                    "ma",
                ),
            ),
            ColumnSpec(
                "name",
                required=True,
                aliases=(
                    "ten",
                    "ten thon",
                    "ten ap",
                    "ten ban",
                    "ten khom",
                    "ten to dan pho",
                    "village",
                    "village name",
                    "thon",
                    "ap",
                ),
            ),
            ColumnSpec(
                "commune",
                aliases=(
                    "xa",
                    "ten xa",
                    "phuong",
                    "xa phuong",
                    "xa/phuong",
                    "ward",
                    "commune name",
                ),
            ),
            ColumnSpec(
                "district",
                aliases=(
                    "huyen",
                    "ten huyen",
                    "quan",
                    "ten quan",
                    "quan huyen",
                    "quan/huyen",
                    "district name",
                ),
            ),
            ColumnSpec(
                "province",
                aliases=("tinh", "ten tinh", "tinh thanh", "tinh/thanh pho", "province name"),
            ),
            _POPULATION,
            ColumnSpec(
                "households",
                dtype="float",
                aliases=("ho", "so ho", "ho gia dinh", "so ho gia dinh", "hh"),
                unit="households",
            ),
            ColumnSpec(
                "centre_lon",
                dtype="float",
                aliases=(
                    "kinh do trung tam",
                    "kinh do nha van hoa",
                    "center lon",
                    "center_lon",
                    "centre longitude",
                ),
            ),
            ColumnSpec(
                "centre_lat",
                dtype="float",
                aliases=(
                    "vi do trung tam",
                    "vi do nha van hoa",
                    "center lat",
                    "center_lat",
                    "centre latitude",
                ),
            ),
            ColumnSpec("centre_x", dtype="float", aliases=("center x", "center_x")),
            ColumnSpec("centre_y", dtype="float", aliases=("center y", "center_y")),
        ),
        geometry="point_or_polygon",
        id_column="village_id",
    ),
    "sites": LayerSpec(
        "sites",
        (
            ColumnSpec(
                "site_id",
                required=True,
                aliases=(
                    "id",
                    "ma tram",
                    "ma bts",
                    "bts id",
                    "bts",
                    "station id",
                    "tram id",
                    "ten tram",
                    "site",
                    "site name",
                    "ma",
                ),
            ),
            _OPERATOR,
            ColumnSpec("tech", default="4G", aliases=("technology", "cong nghe", "rat")),
            ColumnSpec(
                "height_m",
                dtype="float",
                default=30.0,
                aliases=(
                    "height",
                    "do cao",
                    "chieu cao",
                    "chieu cao cot",
                    "do cao anten",
                    "antenna height",
                    "h",
                ),
                unit="m",
            ),
            ColumnSpec(
                "azimuth_deg",
                dtype="float",
                aliases=("azimuth", "phuong vi", "goc phuong vi", "huong"),
                unit="deg",
            ),
            ColumnSpec(
                "beamwidth_deg",
                dtype="float",
                aliases=("beamwidth", "do rong bup song", "bup song", "hbw"),
                unit="deg",
            ),
            # Total EIRP of the sector's carrier (what a site list holds); per resource element
            # in eirp_re_dbm. See hatangso.geo.carrier.
            ColumnSpec(
                "eirp_dbm",
                dtype="float",
                aliases=(
                    "eirp",
                    "total eirp",
                    "eirp total",
                    "eirp tong",
                    "tong eirp",
                    "eirp sector",
                    "eirp cell",
                    "cong suat phat xa",
                    "cong suat phat xa dbm",
                    "cong suat phat xa hieu dung",
                    "cong suat phat xa dang huong tuong duong",
                    "cong suat buc xa",
                    "cong suat buc xa dbm",
                    "cong suat buc xa hieu dung",
                ),
                unit="dBm",
            ),
            ColumnSpec(
                "eirp_re_dbm",
                dtype="float",
                aliases=(
                    "eirp re",
                    "eirp per re",
                    "eirp re dbm",
                    "eirp per resource element",
                    "rs eirp",
                    "eirp rs",
                    "eirp tren re",
                    "eirp moi re",
                    "cong suat phat xa tren re",
                    "cong suat phat xa moi re",
                    "cong suat buc xa tren re",
                ),
                unit="dBm",
            ),
            ColumnSpec(
                "bandwidth_mhz",
                dtype="float",
                aliases=(
                    "bandwidth",
                    "bw",
                    "bw mhz",
                    "channel bandwidth",
                    "carrier bandwidth",
                    "bang thong",
                    "bang thong mhz",
                    "bang thong kenh",
                    "do rong bang tan",
                    "do rong kenh",
                ),
                unit="MHz",
            ),
            ColumnSpec(
                "freq_mhz",
                dtype="float",
                aliases=("freq", "frequency", "tan so", "bang tan", "band"),
                unit="MHz",
            ),
            ColumnSpec(
                "env",
                default="rural",
                aliases=("environment", "moi truong", "khu vuc", "area type"),
            ),
            # The registry's mast the site stands on (the ``masts`` kind), when known.
            _MAST_ID_OF_SITE,
        ),
        geometry="point",
        id_column="site_id",
    ),
    "access-points": LayerSpec(
        "access-points",
        (
            ColumnSpec(
                "ap_id",
                required=True,
                aliases=("id", "access point id", "ma diem", "ma diem truy nhap", "ma tu", "ma"),
            ),
            _OPERATOR,
            ColumnSpec("kind", aliases=("loai", "type", "loai thiet bi")),
        ),
        geometry="point",
        id_column="ap_id",
    ),
    "fiber": LayerSpec("fiber", (_OPERATOR,), geometry="line"),
    "poles": LayerSpec(
        "poles",
        (
            ColumnSpec("pole_id", required=True, aliases=("id", "ma cot", "so cot", "ma")),
            _OPERATORS,
        ),
        geometry="point",
        id_column="pole_id",
    ),
    "ducts": LayerSpec(
        "ducts",
        (
            ColumnSpec("duct_id", required=True, aliases=("id", "ma cong", "ma tuyen cong", "ma")),
            _OPERATORS,
        ),
        geometry="line",
        id_column="duct_id",
    ),
    "pois": LayerSpec(
        "pois",
        (
            ColumnSpec("poi_id", required=True, aliases=("id", "ma", "ma diem")),
            ColumnSpec("kind", required=True, aliases=("loai", "type", "category")),
            ColumnSpec("name", aliases=("ten",)),
            ColumnSpec(
                "data_network",
                dtype="bool",
                aliases=(
                    "mang truyen so lieu",
                    "truyen so lieu",
                    "mang tsl",
                    "tsl",
                    "ket noi mang truyen so lieu chuyen dung",
                ),
            ),
        ),
        geometry="any",
        id_column="poi_id",
    ),
    "settlements": LayerSpec(
        "settlements",
        (
            ColumnSpec(
                "settlement_id", required=True, aliases=("id", "ma cum dan cu", "cluster id", "ma")
            ),
            ColumnSpec("village_id", aliases=("ma thon", "ma ap")),
            _POPULATION,
        ),
        geometry="point_or_polygon",
        id_column="settlement_id",
    ),
    "samples": LayerSpec(
        "samples",
        (
            _OPERATOR,
            ColumnSpec("tech", required=True, aliases=("technology", "cong nghe", "rat")),
            ColumnSpec(
                "rsrp_dbm",
                dtype="float",
                required=True,
                aliases=("rsrp", "muc thu", "cuong do tin hieu", "signal dbm"),
                unit="dBm",
            ),
            ColumnSpec("time", aliases=("timestamp", "thoi gian", "datetime")),
            ColumnSpec("source", aliases=("nguon",)),
            ColumnSpec(
                "download_mbps",
                dtype="float",
                aliases=("download", "dl mbps", "toc do tai xuong", "toc do download"),
                unit="Mb/s",
            ),
            ColumnSpec(
                "upload_mbps",
                dtype="float",
                aliases=("upload", "ul mbps", "toc do tai len", "toc do upload"),
                unit="Mb/s",
            ),
        ),
        geometry="point",
        streamed=True,
    ),
    "declared": LayerSpec(
        "declared",
        (
            ColumnSpec("village_id", required=True, aliases=("ma thon", "ma ap", "id")),
            _OPERATOR,
            ColumnSpec("tech", required=True, aliases=("technology", "cong nghe", "rat")),
        ),
        geometry="none",
    ),
    "masts": LayerSpec(
        "masts",
        (
            ColumnSpec(
                "mast_id",
                required=True,
                aliases=(
                    "id",
                    "ma cot",
                    "ma cot anten",
                    "ma cot ang ten",
                    "ma vi tri",
                    "tower id",
                    "mast",
                    "ma",
                ),
            ),
            # An operator or a tower company: operators' names are normalised, others kept.
            ColumnSpec(
                "owner",
                required=True,
                aliases=(
                    "chu so huu",
                    "chu dau tu",
                    "don vi so huu",
                    "owner name",
                    "tower company",
                ),
            ),
            ColumnSpec(
                "height_m",
                dtype="float",
                aliases=("height", "do cao", "chieu cao", "chieu cao cot"),
                unit="m",
            ),
            ColumnSpec(
                "kind",
                aliases=("loai", "loai cot", "type", "mast type"),
                choices=MAST_KINDS,
                choice_aliases=(
                    ("cot dat", "ground"),
                    ("cot tren mat dat", "ground"),
                    ("cot tu dung", "ground"),
                    ("greenfield", "ground"),
                    ("tren mai", "rooftop"),
                    ("cot tren mai nha", "rooftop"),
                    ("cot tren nha", "rooftop"),
                    ("roof", "rooftop"),
                    ("nguy trang", "camouflage"),
                    ("cot nguy trang", "camouflage"),
                    ("cot ngung trang", "camouflage"),
                    ("cot den", "pole"),
                    ("cot dien", "pole"),
                    ("monopole", "pole"),
                    ("tram nho", "small_cell"),
                    ("small cell", "small_cell"),
                    ("smallcell", "small_cell"),
                ),
            ),
            ColumnSpec(
                "status",
                default="built",
                aliases=("trang thai", "tinh trang", "state"),
                choices=MAST_STATUSES,
                choice_aliases=(
                    ("quy hoach", "planned"),
                    ("du kien", "planned"),
                    ("da cap phep", "permitted"),
                    ("cap phep", "permitted"),
                    ("da xay dung", "built"),
                    ("da xay", "built"),
                    ("dang hoat dong", "built"),
                    ("hoat dong", "built"),
                    ("in service", "built"),
                    ("da thao do", "dismantled"),
                    ("thao do", "dismantled"),
                    ("removed", "dismantled"),
                ),
            ),
            ColumnSpec(
                "permit_no",
                aliases=("so giay phep", "giay phep", "so gp", "permit", "permit number"),
            ),
            ColumnSpec(
                "permit_date",
                dtype="date",
                aliases=("ngay cap phep", "ngay cap", "ngay giay phep", "permit issued"),
            ),
            ColumnSpec(
                "tenants",
                dtype="operators",
                aliases=(
                    "nha mang su dung",
                    "doanh nghiep su dung",
                    "doanh nghiep thue",
                    "dung chung",
                    "operators",
                    "tenant",
                ),
            ),
        ),
        geometry="point",
        id_column="mast_id",
    ),
    "commitments": LayerSpec(
        "commitments",
        (
            ColumnSpec("village_id", required=True, aliases=("ma thon", "ma ap", "id")),
            _OPERATOR,
            _TECH,
            ColumnSpec(
                "due",
                dtype="date",
                required=True,
                aliases=("han", "thoi han", "han hoan thanh", "due date", "deadline", "ngay"),
            ),
        ),
        geometry="none",
    ),
    "challenges": LayerSpec(
        "challenges",
        (
            ColumnSpec("challenge_id", required=True, aliases=("id", "ma khieu nai")),
            ColumnSpec("village_id", required=True, aliases=("ma thon", "ma ap")),
            _OPERATOR,
            ColumnSpec("tech", required=True, aliases=("technology", "cong nghe")),
            # covered | not_covered: what the challenger says of the operator's service.
            ColumnSpec("claim", required=True),
            # open | answered | decided
            ColumnSpec("status", required=True),
            ColumnSpec("filed_by"),
            ColumnSpec("filed_at"),
            ColumnSpec("due"),
            ColumnSpec("evidence"),
            ColumnSpec("decision"),
        ),
        geometry="none",
        id_column="challenge_id",
        record=False,
        workflow=True,
    ),
    "candidates": LayerSpec(
        "candidates",
        (
            ColumnSpec(
                "candidate_id",
                required=True,
                aliases=("site_id", "id", "ma vi tri", "ma tram", "vi tri", "candidate", "ma"),
            ),
            ColumnSpec("operator", aliases=_OPERATOR.aliases),
            ColumnSpec("cost", dtype="float", aliases=("chi phi", "gia", "price")),
            ColumnSpec("height_m", dtype="float", aliases=("height", "do cao", "chieu cao cot")),
            ColumnSpec("tech", aliases=("technology", "cong nghe", "rat")),
            ColumnSpec("env", default="rural", aliases=("environment", "moi truong", "khu vuc")),
        ),
        geometry="point",
        id_column="candidate_id",
        record=False,
    ),
}

#: Input kinds, in the order the contract lists them: the one list of them, and what
#: ``validate`` reads. Each kind's file stem, command-line option and geometry are on its
#: :class:`LayerSpec` (:func:`spec_for`).
KINDS: tuple[str, ...] = tuple(kind for kind, spec in _SPECS.items() if not spec.workflow)

#: The kinds of a province's record: the inputs of ``coverage`` (each its ``--option``), of a
#: scenario and of the service; every kind but the planner's candidates.
RECORD_KINDS: tuple[str, ...] = tuple(kind for kind, spec in _SPECS.items() if spec.record)

#: The vector layers of a province, read whole: every kind of the record with a geometry but
#: the streamed samples. A scenario names them under ``data:``, the service accepts them as
#: uploads, and the demo province writes them.
LAYER_KINDS: tuple[str, ...] = tuple(
    kind for kind in RECORD_KINDS if _SPECS[kind].geometry != "none" and not _SPECS[kind].streamed
)

#: Every kind the record's store keeps: the record's kinds read whole, and the kinds the
#: service's own steps write (challenges).
STORED_KINDS: tuple[str, ...] = tuple(
    kind for kind, spec in _SPECS.items() if (spec.record and not spec.streamed) or spec.workflow
)

#: Inputs that are not tables of the contract: the road network, the DEM and the population
#: raster (each also a command-line option, ``--roads`` ...).
OTHER_INPUTS: tuple[str, ...] = ("roads", "dem", "population")

#: The admin levels of each hierarchy, top down: ``old`` before the reform of 1 July 2025
#: (province, district, commune), ``new`` after it (province, commune: districts were
#: removed). See :mod:`hatangso.geo.units`.
UNIT_LEVELS: dict[str, tuple[str, ...]] = {
    "old": ("province", "district", "commune"),
    "new": ("province", "commune"),
}

#: The columns a village gains from :func:`hatangso.geo.units.resolve_units`: for each level of
#: each hierarchy its official code (zero-padded text: ``79``, ``774``, ``27316``) and its
#: full official name (``Phường 7``), ``<level>_code_<old|new>`` and ``<level>_<old|new>``;
#: blank where the village file does not tell (never guessed). The village keeps its
#: ``village_id`` and its own ``province``, ``district`` and ``commune`` as written.
UNIT_COLUMNS: tuple[str, ...] = tuple(
    column
    for hierarchy, levels in UNIT_LEVELS.items()
    for level in levels
    for column in (f"{level}_code_{hierarchy}", f"{level}_{hierarchy}")
)


def spec_for(kind: str) -> LayerSpec:
    """Return the :class:`LayerSpec` of input `kind`.

    Parameters
    ----------
    kind
        One of :data:`KINDS`, in any case; ``access_points`` is accepted for ``access-points``.

    Raises
    ------
    InputError
        If `kind` is unknown.
    """
    key = kind.replace("_", "-").lower()
    if key not in _SPECS:
        from difflib import get_close_matches

        close = get_close_matches(key, KINDS, n=1)
        guess = f" ('{kind}' looks like {close[0]})" if close else ""
        raise InputError(
            Problem(
                file="KIND",
                message=f"unknown input kind {kind!r}",
                fix=f"use one of {', '.join(KINDS)}{guess}",
            )
        )
    return _SPECS[key]


COORDINATE_ALIASES: dict[str, tuple[str, ...]] = _COORDS
