"""The one declaration of every setting.

CLI flags, `KAPISUP_*` environment variables, YAML config keys, `conf/kapisup.yaml` and
`docs/configuration.md` are all derived from `SETTINGS`; nothing else lists a setting.
Flag names follow kube-apiserver where it has one, gunicorn for the supervisor's knobs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kapisup.options.types import (
    BOOL,
    CERT_KEYS,
    DURATION,
    INT,
    PATH,
    STRING,
    STRING_LIST,
    ValueType,
)

Check = Callable[[Any], str | None]


@dataclass(frozen=True)
class Setting:
    """One setting: `name` is the flag without dashes and the YAML key."""

    name: str
    type: ValueType
    default: Any
    help: str
    group: str
    check: Check | None = None
    default_doc: str | None = None  # shown instead of `default` when it is derived at run time

    @property
    def flag(self) -> str:
        return f"--{self.name}"

    @property
    def env(self) -> str:
        return "KAPISUP_" + self.name.upper().replace("-", "_")

    @property
    def attr(self) -> str:
        return self.name.replace("-", "_")


def _port(value: int) -> str | None:
    return None if 0 <= value <= 65535 else f"must be a port from 0 to 65535, got {value}"


def _at_least(low: int | float) -> Check:
    def check(value: int | float) -> str | None:
        return None if value >= low else f"must be at least {low}, got {value}"

    return check


def _ip(value: str) -> str | None:
    import ipaddress

    try:
        ipaddress.ip_address(value)
    except ValueError:
        return f"must be an IP address, got {value!r}"
    return None


def _regexps(values: tuple[str, ...]) -> str | None:
    for pattern in values:
        try:
            re.compile(pattern)
        except re.error as err:
            return f"invalid regular expression {pattern!r}: {err}"
    return None


AUTHORIZATION_MODES = ("AlwaysAllow", "AlwaysDeny", "ABAC", "RBAC")


def _authz_modes(values: tuple[str, ...]) -> str | None:
    if not values:
        return "needs at least one mode"
    for mode in values:
        if mode not in AUTHORIZATION_MODES:
            return f"unknown mode {mode!r} (known: {', '.join(AUTHORIZATION_MODES)})"
    if len(set(values)) != len(values):
        return "lists a mode twice"
    return None


def _non_empty(values: tuple[str, ...]) -> str | None:
    return None if values else "needs at least one value"


def _max_expiration(value: float) -> str | None:
    if value == 0 or 3600 <= value <= 2**32:
        return None
    return f"must be 0 or between 1h and 2^32 seconds, got {value:g}s"


def _tls_version(value: str) -> str | None:
    versions = ("VersionTLS12", "VersionTLS13")
    return None if value in versions else f"must be one of {', '.join(versions)}, got {value!r}"


def _sync_level(value: str) -> str | None:
    return None if value in ("NORMAL", "FULL") else f"must be NORMAL or FULL, got {value!r}"


def _urls(values: tuple[str, ...]) -> str | None:
    for url in values:
        if not re.fullmatch(r"(https?://)?[^/:\s]+(:\d{1,5})?/?", url):
            return f"must be http(s)://host:port URLs, got {url!r}"
    return None


def _log_level(value: str) -> str | None:
    levels = ("debug", "info", "warning", "error")
    return None if value in levels else f"must be one of {', '.join(levels)}, got {value!r}"


SERVING = "Secure and insecure serving"
LIMITS = "Request handling"
AUTH = "Authentication, authorization and audit"
PROCESS = "Process supervision"
OBSERVE = "Logging and metrics"
STORAGE = "Storage"

SETTINGS: tuple[Setting, ...] = (
    Setting("config", PATH, "", "YAML file whose keys are these flag names.", SERVING),
    Setting("bind-address", STRING, "0.0.0.0", "IP address the secure port listens on.",
            SERVING, _ip),
    Setting("secure-port", INT, 6443, "HTTPS port; 0 turns secure serving off.", SERVING, _port),
    Setting("insecure-bind-address", STRING, "127.0.0.1",
            "IP address of the plain-HTTP port; keep it on loopback.", SERVING, _ip),
    Setting("insecure-port", INT, 8080,
            "Plain-HTTP port without authentication or authorization; 0 turns it off.",
            SERVING, _port),
    Setting("tls-cert-file", PATH, "", "PEM certificate (chain allowed) for the secure port; "
            "without it a serving pair signed by a generated CA is made in --cert-dir.",
            SERVING),
    Setting("tls-private-key-file", PATH, "", "PEM private key matching --tls-cert-file.",
            SERVING),
    Setting("tls-min-version", STRING, "VersionTLS12",
            "Lowest TLS version of the secure port: VersionTLS12 or VersionTLS13 (1.0 and 1.1 "
            "are refused).", SERVING, _tls_version),
    Setting("tls-cipher-suites", STRING_LIST, (),
            "TLS 1.2 cipher suites by their IANA names (kube's, such as "
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256); empty keeps OpenSSL's defaults. TLS 1.3 "
            "suites are accepted but change nothing: OpenSSL always offers all of them.",
            SERVING),
    Setting("tls-sni-cert-key", CERT_KEYS, (),
            "Extra serving pairs chosen by SNI: cert.crt,key.key or "
            "cert.crt,key.key:name1,*.name2 (names default to the certificate's CN and DNS "
            "SANs; exact names beat wildcards, explicit names beat the certificate's). Repeat "
            "the flag for more pairs; in the env separate them with ';'.", SERVING),
    Setting("cert-dir", PATH, "",
            "Where the generated CA and serving pair (without --tls-cert-file) and the admin "
            "client pair (without --client-ca-file too) are made once and reused.",
            SERVING, default_doc="<data-dir>/pki"),
    Setting("tls-handshake-timeout", DURATION, 10.0,
            "Deadline for a client to finish the TLS handshake.", SERVING, _at_least(0.1)),
    Setting("read-header-timeout", DURATION, 10.0,
            "Deadline for a request's line and headers once its first byte arrived (slowloris).",
            SERVING, _at_least(0.1)),
    Setting("keepalive-timeout", DURATION, 90.0,
            "How long an idle keep-alive connection is kept open.", SERVING, _at_least(0.1)),
    Setting("max-header-bytes", INT, 1 << 20,
            "Largest request header block; larger gets 431.", LIMITS, _at_least(1024)),
    Setting("max-request-line-bytes", INT, 65536,
            "Longest request line; longer gets 414.", LIMITS, _at_least(256)),
    Setting("max-requests-inflight", INT, 400,
            "Read-only requests served at once per worker before 429; 0 = no limit.",
            LIMITS, _at_least(0)),
    Setting("max-mutating-requests-inflight", INT, 200,
            "Mutating requests served at once per worker before 429; 0 = no limit.",
            LIMITS, _at_least(0)),
    Setting("request-timeout", DURATION, 60.0,
            "Deadline of a request that is not long-running (watch and proxy are); 504 after.",
            LIMITS, _at_least(0.001)),
    Setting("min-request-timeout", INT, 1800,
            "Shortest lifetime of a watch without timeoutSeconds, in seconds (up to twice it).",
            LIMITS, _at_least(1)),
    Setting("cors-allowed-origins", STRING_LIST, (),
            "Regular expressions matched against Origin; empty turns CORS off.", LIMITS,
            _regexps),
    Setting("client-ca-file", PATH, "",
            "PEM bundle of CAs whose client certificates authenticate (user = CN, groups = O); "
            "with neither this nor --tls-cert-file the generated CA is used and "
            "<data-dir>/admin.kubeconfig written.", AUTH),
    Setting("anonymous-auth", BOOL, True,
            "Serve requests without credentials as system:anonymous on the secure port "
            "(never together with AlwaysAllow: kube-apiserver's rule).", AUTH),
    Setting("token-auth-file", PATH, "",
            "CSV of static bearer tokens: token,user,uid[,\"group1,group2\"].", AUTH),
    Setting("service-account-key-file", STRING_LIST, (),
            "PEM files of keys (public or private, or certificates) that verify service-account "
            "tokens; the signing key always verifies too.", AUTH,
            default_doc="the signing key"),
    Setting("service-account-signing-key-file", PATH, "",
            "PEM private key (RSA, or EC P-256/384/521) that signs service-account tokens; with "
            "neither key flag given, <data-dir>/pki/sa.key is made once and used for both.",
            AUTH, default_doc="<data-dir>/pki/sa.key"),
    Setting("service-account-issuer", STRING_LIST,
            ("https://kubernetes.default.svc.cluster.local",),
            "Issuer (iss) of service-account tokens: the first signs, all are accepted.", AUTH,
            _non_empty),
    Setting("api-audiences", STRING_LIST, (),
            "Audiences a service-account token must name one of; requested tokens get them by "
            "default.", AUTH, default_doc="the first issuer"),
    Setting("service-account-max-token-expiration", DURATION, 0.0,
            "Longest lifetime a TokenRequest is granted (longer requests are shortened); "
            "0 = no limit, else 1h to 2^32 s (kube's bounds).", AUTH, _max_expiration),
    Setting("authorization-mode", STRING_LIST, ("RBAC",),
            "Authorizers tried in order on the secure port: AlwaysAllow, AlwaysDeny, ABAC, RBAC "
            "(system:masters is allowed ahead of them all).", AUTH, _authz_modes),
    Setting("authorization-policy-file", PATH, "",
            "ABAC policy file (kube's JSON lines); needed by, and only with, mode ABAC.", AUTH),
    Setting("audit-log-path", PATH, "",
            "File the audit log is appended to as JSON lines; empty turns audit off.", AUTH),
    Setting("audit-policy-file", PATH, "",
            "audit.k8s.io/v1 Policy (YAML or JSON) saying which requests are audited at which "
            "level; empty = the built-in default policy (see docs/operations.md).", AUTH),
    Setting("audit-log-maxsize", INT, 100,
            "Size in megabytes at which the audit log is rotated; 0 = never (rotate it "
            "externally and send SIGUSR1).", AUTH, _at_least(0)),
    Setting("audit-log-maxbackup", INT, 0,
            "Rotated audit log files kept; 0 = all.", AUTH, _at_least(0)),
    Setting("audit-log-maxage", INT, 0,
            "Days a rotated audit log file is kept, by the time in its name; 0 = forever.",
            AUTH, _at_least(0)),
    Setting("data-dir", PATH, "kapisup-data", "Directory for state: certificates, database.",
            STORAGE),
    Setting("storage-sync", STRING, "NORMAL",
            "SQLite synchronous level: NORMAL survives any process crash; FULL also an OS "
            "crash or power loss, at a quarter of the write rate.", STORAGE, _sync_level),
    Setting("event-ttl", DURATION, 3600.0,
            "How long a core/v1 Event is kept after its last change (kube-apiserver's flag).",
            STORAGE, _at_least(1.0)),
    Setting("storage-history", DURATION, 300.0,
            "How long the change history is kept for watches and paginated lists that start "
            "in the past; older starting points get 410 Expired.", STORAGE, _at_least(1.0)),
    Setting("etcd-servers", STRING_LIST, (),
            "etcd members (http(s)://host:port, comma separated) to store objects in, as "
            "kube-apiserver does; empty = the embedded SQLite database in --data-dir.",
            STORAGE, _urls),
    Setting("etcd-prefix", STRING, "/registry",
            "Key prefix in etcd; the default gives kube's layout /registry/<resource>/<ns>/"
            "<name>.", STORAGE),
    Setting("etcd-cafile", PATH, "", "CA bundle that signed the etcd members' certificates.",
            STORAGE),
    Setting("etcd-certfile", PATH, "", "Client certificate presented to etcd (TLS).",
            STORAGE),
    Setting("etcd-keyfile", PATH, "", "Private key of --etcd-certfile.", STORAGE),
    Setting("workers", INT, 0, "Worker processes; 0 = one per CPU.", PROCESS, _at_least(0),
            default_doc="0 (one per CPU)"),
    Setting("worker-connections", INT, 10000,
            "Connections one worker serves at once (each open watch holds one).",
            PROCESS, _at_least(1)),
    Setting("graceful-timeout", DURATION, 30.0,
            "How long a stopping worker may drain in-flight requests before it is killed.",
            PROCESS, _at_least(0)),
    Setting("worker-timeout", DURATION, 30.0,
            "A worker whose event loop has not beaten its heartbeat for this long is killed; "
            "0 turns the check off.", PROCESS, _at_least(0)),
    Setting("max-requests", INT, 0,
            "Recycle a worker after this many requests; 0 = never.", PROCESS, _at_least(0)),
    Setting("max-requests-jitter", INT, 0,
            "Random extra requests (0..N) added per worker to --max-requests.", PROCESS,
            _at_least(0)),
    Setting("log-level", STRING, "info", "debug, info, warning or error.", OBSERVE, _log_level),
    Setting("access-log", BOOL, True, "Log one line per request.", OBSERVE),
    Setting("profiling", BOOL, True,
            "Serve /debug/pprof/profile?seconds=N (a cProfile of one worker).", OBSERVE),
    Setting("metrics-dir", PATH, "",
            "Directory of prometheus_client's multiprocess files; wiped at start.",
            OBSERVE, default_doc="a fresh directory in /dev/shm"),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
