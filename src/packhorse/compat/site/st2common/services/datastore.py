"""``st2common.services.datastore``: datastore access with StackStorm's local key prefix."""

from _packhorse_pack.datastore import (
    ActionDatastoreService,
    BaseDatastoreService,
    SensorDatastoreService,
)

__all__ = ["ActionDatastoreService", "BaseDatastoreService", "SensorDatastoreService"]
