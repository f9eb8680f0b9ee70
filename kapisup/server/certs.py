"""Key-material building blocks shared by the master's PKI, kubeconfig and service-account key:
PEM encoding and atomic writes. The certificates themselves come from kapisup.server.pki."""

from __future__ import annotations

import contextlib
import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def write_atomic(path: str, data: bytes, mode: int) -> None:
    """Write beside `path`, sync, then rename over it: readers see the old file or the new
    one, never half of one, and a key is never readable by others even for a moment."""
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)  # O_CREAT's mode went through the umask
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
