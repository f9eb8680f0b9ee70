"""The secure port's TLS context: built per worker after fork (and once in the master to fail
fast on a bad pair before anything binds)."""

from __future__ import annotations

import ssl


class TLSConfigError(Exception):
    """The certificate or key cannot be loaded."""


def build_server_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(cert_file, key_file)
    except FileNotFoundError as err:
        raise TLSConfigError(f"cannot read {err.filename}: no such file") from None
    except (ssl.SSLError, OSError) as err:
        raise TLSConfigError(
            f"cannot load certificate {cert_file} with key {key_file}: {err}") from None
    return context
