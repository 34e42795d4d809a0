"""An instance an upgrade command works on: a folder on this machine, or a Packhorse API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from packhorse.client.http import ApiClient
    from packhorse.settings import Settings


@dataclass(frozen=True, slots=True)
class LocalInstance:
    """An instance folder on this machine."""

    settings: Settings

    @property
    def name(self) -> str:
        return str(self.settings.home)


@dataclass(frozen=True, slots=True)
class RemoteInstance:
    """A Packhorse reached over its API."""

    api: ApiClient

    @property
    def name(self) -> str:
        return self.api.url


InstanceArg = LocalInstance | RemoteInstance
