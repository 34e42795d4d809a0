"""``/api/v1/sensortypes``: StackStorm's ``SensorTypeAPI``, plus what the sensor container
last reported about each sensor (``state``, ``pid``, ``restarts``...) under ``status``.
Reads need ``viewer``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from packhorse import bootstrap
from packhorse.api.errors import fault
from packhorse.api.v1.listing import SettingsDep, Viewer, page, select_attributes
from packhorse.engine.shapes import object_id
from packhorse.model.content import Kind, Resource
from packhorse.model.events import SensorStatus
from packhorse.settings import Settings


def sensor_record(sensor: Resource, status: SensorStatus | None) -> dict[str, Any]:
    body = dict(sensor.body)
    record = {
        **body,
        "id": object_id("sensor_type", sensor.ref),
        "uid": f"sensor_type:{sensor.pack}:{sensor.name}",
        "ref": sensor.ref,
        "name": sensor.name,
        "pack": sensor.pack,
        "description": body.get("description", ""),
        "enabled": sensor.enabled,
        "trigger_types": list(body.get("trigger_types") or []),
        "artifact_uri": f"file:///{sensor.pack}/sensors/{body.get('entry_point', '')}",
        "metadata_file": sensor.metadata_file,
    }
    if status is not None:
        record["status"] = status.fields()
    return record


def router() -> APIRouter:
    routes = APIRouter(prefix="/api/v1/sensortypes", tags=["sensors"])

    def records(config: Settings, pack: str | None = None) -> list[dict[str, Any]]:
        statuses = {s.ref: s for s in bootstrap.sensor_statuses(config)}
        sensors = bootstrap.content_registry(config).list_resources(Kind.SENSOR, pack)
        return [sensor_record(s, statuses.get(s.ref)) for s in sensors]

    @routes.get("", response_model=None)
    @routes.get("/", include_in_schema=False, response_model=None)
    def list_sensors(
        *,
        response: Response,
        pack: str | None = None,
        name: str | None = None,
        enabled: bool | None = None,
        include_attributes: str | None = None,
        exclude_attributes: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        _principal: Viewer,
        config: SettingsDep,
    ) -> list[dict[str, Any]]:
        """Registered sensors by ref, each with the container's last report."""
        found = [
            r
            for r in records(config, pack)
            if (name is None or r["name"] == name) and (enabled is None or r["enabled"] is enabled)
        ]
        return [
            select_attributes(r, include_attributes, exclude_attributes)
            for r in page(found, response, limit, offset)
        ]

    @routes.get("/{ref_or_id}", response_model=None)
    def get_sensor(
        *,
        ref_or_id: str,
        _principal: Viewer,
        config: SettingsDep,
    ) -> dict[str, Any] | JSONResponse:
        for record in records(config):
            if ref_or_id in (record["ref"], record["id"]):
                return record
        return fault(404, f'Resource with a reference or id "{ref_or_id}" not found')

    return routes
