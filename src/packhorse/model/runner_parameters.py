"""Runner parameter schemas: the parameters each StackStorm runner type declares.

Names, types, defaults and the immutable, secret and required flags match StackStorm's
``runner.yaml`` files, because actions override them and users pass them; the descriptions are
our own. ``runner_types.py`` builds the catalogue from this data.
"""

from __future__ import annotations

from typing import Any

RUNNER_PARAMETERS: dict[str, dict[str, Any]] = {
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
