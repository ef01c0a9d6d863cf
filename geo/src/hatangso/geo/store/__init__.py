"""The province's record: villages, sites, fiber ... as rows with stable ids and a history.

One interface (:class:`RecordStore`), two back ends sharing one SQLAlchemy Core code base:

* embedded (the default): one GeoPackage file per workspace, ``<workspace>/record.gpkg``,
  no server; QGIS and GDAL open it as they open any GeoPackage;
* PostGIS, when ``HATANGSO_DATABASE_URL=postgresql://...`` is set (:func:`store_url`).

Alembic migrations run on open, so a newer hatangso upgrades an older store in place.

An upload becomes a :class:`ChangeSet` (:meth:`RecordStore.diff`: adds, updates, retirements
by stable id, checked with ``hatangso validate``'s checks), which :meth:`RecordStore.apply`
applies in one transaction or refuses whole, listing every problem. Every change keeps who,
when, and each record's state before and after (:meth:`RecordStore.history`); every read
takes ``as_of``, the record as it stood at the end of that day.

The workspace's own store also keeps the service's users (:meth:`SqlStore.add_user`,
:meth:`SqlStore.authenticate`): a salted hash of each one's token, never the token.

Examples
--------
>>> import tempfile
>>> import geopandas as gpd
>>> from shapely import Point
>>> store = open_store(tempfile.mkdtemp())
>>> villages = gpd.GeoDataFrame(
...     {"village_id": ["T1"], "name": ["Nà Hin"], "population": [420]},
...     geometry=[Point(105.8, 21.0)], crs="EPSG:4326",
... )
>>> change = store.diff("villages", villages, actor="so-tt-tt")
>>> change.counts()
{'add': 1, 'update': 0, 'retire': 0}
>>> store.apply(change).version
1
>>> store.read("villages")[["village_id", "name", "population"]].to_dict("records")
[{'village_id': 'T1', 'name': 'Nà Hin', 'population': 420.0}]
>>> store.close()
"""

from __future__ import annotations

from hatangso.geo.store._api import AppliedChange, ChangeSet, HistoryEntry, Record, RecordStore
from hatangso.geo.store._records import id_column, record_ids
from hatangso.geo.store._sql import STORE_FILE, SqlStore, open_store, store_url
from hatangso.geo.store._users import USER_ROLES, NewUser, User

__all__ = [
    "STORE_FILE",
    "USER_ROLES",
    "AppliedChange",
    "ChangeSet",
    "HistoryEntry",
    "NewUser",
    "Record",
    "RecordStore",
    "SqlStore",
    "User",
    "id_column",
    "open_store",
    "record_ids",
    "store_url",
]
