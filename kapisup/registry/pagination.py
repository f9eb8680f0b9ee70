"""Where a list or watch starts: resourceVersion parameters and kube's opaque continue tokens.

A continue token carries the revision of the first page and the last key returned, so every
page of one list is read at the same revision.
"""

from __future__ import annotations

import base64
import json

from kapisup.apimachinery import errors
from kapisup.apimachinery.errors import StatusError

CONTINUE_EXPIRED = ("The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter.")


def too_large(wanted: int, current: int) -> StatusError:
    return StatusError(504, "Timeout", f"Too large resource version: {wanted}, current: {current}",
                       {"causes": [{"reason": "ResourceVersionTooLarge",
                                    "message": "Too large resource version"}],
                        "retryAfterSeconds": 1})


def parse_resource_version(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise errors.bad_request(f'resourceVersion: Invalid value: "{text}": must be an integer')
    return value


def encode_continue(revision: int, last_key: str, prefix: str) -> str:
    start = last_key[len(prefix):] if last_key.startswith(prefix) else last_key
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": start + "\x00"},
                     separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(token: str, prefix: str) -> tuple[int, str]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        revision = int(data["rv"])
        start = str(data["start"])
        if data.get("v") != "meta.k8s.io/v1" or not start.endswith("\x00") or revision <= 0:
            raise ValueError(token)
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        raise errors.bad_request("continue key is not valid: the continue token could not be "
                                 "decoded") from None
    start = start[:-1]
    if "/" in start.strip("/") and start.startswith(".."):
        raise errors.bad_request("continue key is not valid: the continue token is not valid")
    return revision, prefix + start
