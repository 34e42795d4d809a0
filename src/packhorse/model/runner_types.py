"""The runner catalogue: every runner type a StackStorm action may name.

Parameter names, types, defaults and the ``immutable``/``secret``/``required`` flags match the
runner types StackStorm ships, because packs depend on them: an action may redeclare a runner
parameter and only change its default, description, enum, immutable or required flag. The
descriptions are our own.

Runner types StackStorm has removed are listed in :data:`REMOVED_RUNNER_TYPES` with their
replacement, so that validation can say what to use instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, slots=True)
class RunnerType:
    """One runner type: what it needs from an action and which parameters it declares."""

    name: str
    description: str
    parameters: Mapping[str, Mapping[str, Any]]
    """Runner parameter schemas (the action parameter dialect), by parameter name."""
    output_key: str
    """Key of the result that holds the main output ("" when the runner has none)."""
    entry_point_required: bool
    """The action must name a file in ``entry_point``."""
    entry_point_forbidden: bool
    """The action must leave ``entry_point`` empty (the command comes from ``cmd``)."""
    implemented: bool
    """Packhorse can run actions of this type today."""
    workflow: bool
    """The entry point is a workflow definition that must parse as a YAML mapping."""


#: Runner types StackStorm no longer has: old name -> what to use instead ("" when nothing).
REMOVED_RUNNER_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "mistral-v2": "orquesta (Mistral workflows must be rewritten as Orquesta workflows)",
        "mistral-v1": "orquesta (Mistral workflows must be rewritten as Orquesta workflows)",
        "run-local": "local-shell-cmd",
        "run-local-script": "local-shell-script",
        "run-remote": "remote-shell-cmd",
        "run-remote-script": "remote-shell-script",
        "run-python": "python-script",
        "windows-cmd": "winrm-cmd",
        "windows-script": "winrm-ps-script",
        "cloudslang": "",
    }
)

_CATALOGUE: dict[str, dict[str, Any]] = {
    "action-chain": {
        "parameters": {
            "display_published": {
                "default": True,
                "description": "Keep and show the variables each task published.",
                "type": "boolean",
            },
            "skip_notify": {
                "default": [],
                "description": "Names of the tasks that send no notification.",
                "type": "array",
            },
        },
        "output_key": "published",
    },
    "announcement": {
        "parameters": {
            "experimental": {
                "default": False,
                "description": "Acknowledge that this runner is experimental.",
                "required": True,
                "type": "boolean",
            },
            "route": {
                "default": "general",
                "description": "Routing value consumers use to pick the message up.",
                "maxLength": 255,
                "minLength": 1,
                "type": "string",
            },
        },
        "output_key": "",
    },
    "http-request": {
        "parameters": {
            "allow_redirects": {
                "default": False,
                "description": "Follow redirects for POST, PUT and DELETE.",
                "type": "boolean",
            },
            "cookies": {"description": "Request cookies.", "type": "object"},
            "headers": {"description": "Request headers.", "type": "object"},
            "http_proxy": {"description": "Proxy for http addresses.", "type": "string"},
            "https_proxy": {"description": "Proxy for https addresses.", "type": "string"},
            "password": {"description": "Login password.", "secret": True, "type": "string"},
            "url": {"description": "Address to request.", "required": True, "type": "string"},
            "url_hosts_blacklist": {
                "description": "Hosts the request may not reach.",
                "items": {"type": "string"},
                "required": False,
                "type": "array",
            },
            "url_hosts_whitelist": {
                "description": "If set, the only hosts the request may reach.",
                "items": {"type": "string"},
                "required": False,
                "type": "array",
            },
            "username": {"description": "Login user.", "type": "string"},
            "verify_ssl_cert": {
                "default": True,
                "description": "Check the server's TLS certificate.",
                "type": "boolean",
            },
        },
        "output_key": "body",
    },
    "inquirer": {
        "parameters": {
            "roles": {
                "default": [],
                "description": "Roles allowed to respond (all when empty).",
                "required": False,
                "type": "array",
            },
            "route": {
                "default": "",
                "description": "Routing value consumers use to pick the message up.",
                "required": False,
                "type": "string",
            },
            "schema": {
                "default": {
                    "title": "response_data",
                    "type": "object",
                    "properties": {
                        "continue": {
                            "type": "boolean",
                            "description": "Continue the workflow?",
                            "required": True,
                        }
                    },
                },
                "description": "JSON schema the response must satisfy.",
                "required": True,
                "type": "object",
            },
            "ttl": {
                "default": 1440,
                "description": "Minutes to wait for a response before the inquiry times out.",
                "required": True,
                "type": "integer",
            },
            "users": {
                "default": [],
                "description": "Users allowed to respond (all when empty).",
                "required": False,
                "type": "array",
            },
        },
        "output_key": "",
    },
    "local-shell-cmd": {
        "parameters": {
            "cmd": {"description": "Command line to run.", "type": "string"},
            "cwd": {"description": "Working folder for the command.", "type": "string"},
            "env": {
                "description": "Extra environment variables, a mapping of name to value.",
                "type": "object",
            },
            "kwarg_op": {
                "default": "--",
                "description": "Prefix put before named arguments.",
                "type": "string",
            },
            "sudo": {"default": False, "description": "Run through sudo.", "type": "boolean"},
            "sudo_password": {
                "default": None,
                "description": "Password for sudo when sudo asks for one.",
                "required": False,
                "secret": True,
                "type": "string",
            },
            "timeout": {
                "default": 60,
                "description": "Seconds before the run is killed and marked timeout.",
                "type": "integer",
            },
        },
        "output_key": "",
    },
    "local-shell-script": {
        "parameters": {
            "content_version": {
                "description": "Git revision of the "
                "pack to run (packs "
                "that are git "
                "checkouts only).",
                "required": False,
                "type": "string",
            },
            "cwd": {"description": "Working folder for the command.", "type": "string"},
            "debug": {
                "default": False,
                "description": "Turn on the runner's debug output.",
                "required": False,
                "type": "boolean",
            },
            "env": {
                "description": "Extra environment variables, a mapping of name to value.",
                "type": "object",
            },
            "kwarg_op": {
                "default": "--",
                "description": "Prefix put before named arguments.",
                "type": "string",
            },
            "sudo": {"default": False, "description": "Run through sudo.", "type": "boolean"},
            "sudo_password": {
                "default": None,
                "description": "Password for sudo when sudo asks for one.",
                "required": False,
                "secret": True,
                "type": "string",
            },
            "timeout": {
                "default": 60,
                "description": "Seconds before the run is killed and marked timeout.",
                "type": "integer",
            },
        },
        "output_key": "",
    },
    "noop": {"parameters": {}, "output_key": ""},
    "orquesta": {
        "parameters": {
            "notify": {
                "default": [],
                "description": "Names of the tasks that send notifications.",
                "items": {"type": "string", "minLength": 1, "pattern": "^\\w+$"},
                "type": "array",
                "uniqueItems": True,
            }
        },
        "output_key": "output",
    },
    "python-script": {
        "parameters": {
            "content_version": {
                "description": "Git revision of the pack "
                "to run (packs that are "
                "git checkouts only).",
                "required": False,
                "type": "string",
            },
            "debug": {
                "default": False,
                "description": "Turn on the runner's debug output.",
                "required": False,
                "type": "boolean",
            },
            "env": {
                "description": "Extra environment variables, a mapping of name to value.",
                "type": "object",
            },
            "log_level": {
                "default": "DEBUG",
                "description": "Log level of the action's logger.",
                "enum": ["AUDIT", "CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"],
                "type": "string",
            },
            "timeout": {
                "default": 600,
                "description": "Seconds before the run is killed and marked timeout.",
                "type": "integer",
            },
        },
        "output_key": "result",
    },
    "remote-shell-cmd": {
        "parameters": {
            "bastion_host": {
                "description": "Jump host to connect through.",
                "required": False,
                "type": "string",
            },
            "cmd": {"description": "Command line to run.", "type": "string"},
            "cwd": {
                "default": "/tmp",  # noqa: S108 - the remote default, as in StackStorm
                "description": "Working folder for the command.",
                "type": "string",
            },
            "dir": {
                "default": "/tmp",  # noqa: S108 - the remote default, as in StackStorm
                "description": "Remote folder the script and libraries are copied to.",
                "immutable": True,
                "type": "string",
            },
            "env": {
                "description": "Extra environment variables, a mapping of name to value.",
                "type": "object",
            },
            "hosts": {
                "description": "Comma-separated hosts to run on (host or host:port).",
                "required": True,
                "type": "string",
            },
            "kwarg_op": {
                "default": "--",
                "description": "Prefix put before named arguments.",
                "type": "string",
            },
            "parallel": {
                "default": False,
                "description": "Run on every host at once.",
                "immutable": True,
                "type": "boolean",
            },
            "passphrase": {
                "description": "Passphrase of the private key.",
                "required": False,
                "secret": True,
                "type": "string",
            },
            "password": {
                "description": "Login password.",
                "required": False,
                "secret": True,
                "type": "string",
            },
            "port": {"description": "Port to connect to.", "required": False, "type": "integer"},
            "private_key": {
                "description": "Private key text (the key itself, not a file path).",
                "required": False,
                "secret": True,
                "type": "string",
            },
            "sudo": {"default": False, "description": "Run through sudo.", "type": "boolean"},
            "sudo_password": {
                "default": None,
                "description": "Password for sudo when sudo asks for one.",
                "required": False,
                "secret": True,
                "type": "string",
            },
            "timeout": {
                "default": 60,
                "description": "Seconds before the run is killed and marked timeout.",
                "type": "integer",
            },
            "username": {"description": "Login user.", "required": False, "type": "string"},
        },
        "output_key": "",
    },
    "remote-shell-script": {
        "parameters": {
            "bastion_host": {
                "description": "Jump host to connect through.",
                "required": False,
                "type": "string",
            },
            "cwd": {
                "default": "/tmp",  # noqa: S108 - the remote default, as in StackStorm
                "description": "Working folder for the command.",
                "type": "string",
            },
            "dir": {
                "default": "/tmp",  # noqa: S108 - the remote default, as in StackStorm
                "description": "Remote folder the script and libraries are copied to.",
                "type": "string",
            },
            "env": {
                "description": "Extra environment variables, a mapping of name to value.",
                "type": "object",
            },
            "hosts": {
                "description": "Comma-separated hosts to run on (host or host:port).",
                "required": True,
                "type": "string",
            },
            "kwarg_op": {
                "default": "--",
                "description": "Prefix put before named arguments.",
                "type": "string",
            },
            "parallel": {
                "default": False,
                "description": "Run on every host at once.",
                "immutable": True,
                "type": "boolean",
            },
            "passphrase": {
                "description": "Passphrase of the private key.",
                "required": False,
                "secret": True,
                "type": "string",
            },
            "password": {
                "description": "Login password.",
                "required": False,
                "secret": True,
                "type": "string",
            },
            "port": {"description": "Port to connect to.", "required": False, "type": "integer"},
            "private_key": {
                "description": "Private key text (the key itself, not a file path).",
                "required": False,
                "secret": True,
                "type": "string",
            },
            "sudo": {"default": False, "description": "Run through sudo.", "type": "boolean"},
            "sudo_password": {
                "default": None,
                "description": "Password for sudo when sudo asks for one.",
                "required": False,
                "secret": True,
                "type": "string",
            },
            "timeout": {
                "default": 60,
                "description": "Seconds before the run is killed and marked timeout.",
                "type": "integer",
            },
            "username": {"description": "Login user.", "required": False, "type": "string"},
        },
        "output_key": "",
    },
    "winrm-cmd": {
        "parameters": {
            "cmd": {"description": "Command line to run.", "type": "string"},
            "cwd": {"description": "Working folder for the command.", "type": "string"},
            "env": {
                "description": "Extra environment variables, a mapping of name to value.",
                "type": "object",
            },
            "host": {"description": "Host to run on.", "required": True, "type": "string"},
            "kwarg_op": {
                "default": "-",
                "description": "Prefix put before named arguments.",
                "type": "string",
            },
            "password": {
                "description": "Login password.",
                "required": True,
                "secret": True,
                "type": "string",
            },
            "port": {
                "default": 5986,
                "description": "Port to connect to.",
                "required": False,
                "type": "integer",
            },
            "scheme": {
                "default": "https",
                "description": "URL scheme of the WinRM endpoint.",
                "required": False,
                "type": "string",
            },
            "timeout": {
                "default": 60,
                "description": "Seconds before the run is killed and marked timeout.",
                "type": "integer",
            },
            "transport": {
                "default": "ntlm",
                "description": "WinRM transport.",
                "enum": ["basic", "certificate", "credssp", "kerberos", "ntlm", "plaintext", "ssl"],
                "required": False,
                "type": "string",
            },
            "username": {"description": "Login user.", "required": True, "type": "string"},
            "verify_ssl_cert": {
                "default": True,
                "description": "Check the server's TLS certificate.",
                "type": "boolean",
            },
        },
        "output_key": "",
    },
    "winrm-ps-cmd": {
        "parameters": {
            "cmd": {"description": "Command line to run.", "type": "string"},
            "cwd": {"description": "Working folder for the command.", "type": "string"},
            "env": {
                "description": "Extra environment variables, a mapping of name to value.",
                "type": "object",
            },
            "host": {"description": "Host to run on.", "required": True, "type": "string"},
            "kwarg_op": {
                "default": "-",
                "description": "Prefix put before named arguments.",
                "type": "string",
            },
            "password": {
                "description": "Login password.",
                "required": True,
                "secret": True,
                "type": "string",
            },
            "port": {
                "default": 5986,
                "description": "Port to connect to.",
                "required": False,
                "type": "integer",
            },
            "scheme": {
                "default": "https",
                "description": "URL scheme of the WinRM endpoint.",
                "required": False,
                "type": "string",
            },
            "timeout": {
                "default": 60,
                "description": "Seconds before the run is killed and marked timeout.",
                "type": "integer",
            },
            "transport": {
                "default": "ntlm",
                "description": "WinRM transport.",
                "enum": ["basic", "certificate", "credssp", "kerberos", "ntlm", "plaintext", "ssl"],
                "required": False,
                "type": "string",
            },
            "username": {"description": "Login user.", "required": True, "type": "string"},
            "verify_ssl_cert": {
                "default": True,
                "description": "Check the server's TLS certificate.",
                "type": "boolean",
            },
        },
        "output_key": "",
    },
    "winrm-ps-script": {
        "parameters": {
            "cwd": {"description": "Working folder for the command.", "type": "string"},
            "env": {
                "description": "Extra environment variables, a mapping of name to value.",
                "type": "object",
            },
            "host": {"description": "Host to run on.", "required": True, "type": "string"},
            "kwarg_op": {
                "default": "-",
                "description": "Prefix put before named arguments.",
                "type": "string",
            },
            "password": {
                "description": "Login password.",
                "required": True,
                "secret": True,
                "type": "string",
            },
            "port": {
                "default": 5986,
                "description": "Port to connect to.",
                "required": False,
                "type": "integer",
            },
            "scheme": {
                "default": "https",
                "description": "URL scheme of the WinRM endpoint.",
                "required": False,
                "type": "string",
            },
            "timeout": {
                "default": 60,
                "description": "Seconds before the run is killed and marked timeout.",
                "type": "integer",
            },
            "transport": {
                "default": "ntlm",
                "description": "WinRM transport.",
                "enum": ["basic", "certificate", "credssp", "kerberos", "ntlm", "plaintext", "ssl"],
                "required": False,
                "type": "string",
            },
            "username": {"description": "Login user.", "required": True, "type": "string"},
            "verify_ssl_cert": {
                "default": True,
                "description": "Check the server's TLS certificate.",
                "type": "boolean",
            },
        },
        "output_key": "",
    },
}


_DESCRIPTIONS = {
    "action-chain": "Runs a linear chain of actions defined in a YAML file (legacy workflows).",
    "announcement": "Publishes a message on the event stream.",
    "http-request": "Sends an HTTP request.",
    "inquirer": "Pauses a workflow until a person answers an inquiry.",
    "local-shell-cmd": "Runs a shell command on the Packhorse host.",
    "local-shell-script": "Runs a script from the pack on the Packhorse host.",
    "noop": "Does nothing and succeeds.",
    "orquesta": "Runs an Orquesta workflow.",
    "python-script": "Runs the run() method of a Python Action class from the pack.",
    "remote-shell-cmd": "Runs a shell command on remote hosts over SSH.",
    "remote-shell-script": "Copies a script from the pack to remote hosts and runs it over SSH.",
    "winrm-cmd": "Runs a Command Prompt command on a Windows host over WinRM.",
    "winrm-ps-cmd": "Runs a PowerShell command on a Windows host over WinRM.",
    "winrm-ps-script": "Runs a PowerShell script from the pack on a Windows host over WinRM.",
}

_ENTRY_POINT_REQUIRED = frozenset(
    {
        "action-chain",
        "local-shell-script",
        "orquesta",
        "python-script",
        "remote-shell-script",
        "winrm-ps-script",
    }
)
_ENTRY_POINT_FORBIDDEN = frozenset({"local-shell-cmd", "remote-shell-cmd"})
_NOT_IMPLEMENTED = frozenset({"announcement", "winrm-cmd", "winrm-ps-cmd", "winrm-ps-script"})
_WORKFLOWS = frozenset({"orquesta", "action-chain"})


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({key: _freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(item) for item in value)
    return value


def _build() -> Mapping[str, RunnerType]:
    runners = {}
    for name, entry in sorted(_CATALOGUE.items()):
        runners[name] = RunnerType(
            name=name,
            description=_DESCRIPTIONS[name],
            parameters=_freeze(entry["parameters"]),
            output_key=entry["output_key"],
            entry_point_required=name in _ENTRY_POINT_REQUIRED,
            entry_point_forbidden=name in _ENTRY_POINT_FORBIDDEN,
            implemented=name not in _NOT_IMPLEMENTED,
            workflow=name in _WORKFLOWS,
        )
    return MappingProxyType(runners)


#: Every runner type, by name.
RUNNER_TYPES: Mapping[str, RunnerType] = _build()


def thaw(value: Any) -> Any:
    """A plain (mutable, JSON-ready) copy of a frozen catalogue value."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [thaw(item) for item in value]
    return value
