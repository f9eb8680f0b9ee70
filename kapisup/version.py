"""What /version reports: kube's version.Info, at the Kubernetes API level kapisup serves.

kubectl's version dispatcher picks its binary by `minor`, and kubectl warns on skew, so the
API level is the one kapisup implements (1.32), and kapisup's own version rides in gitVersion's
build metadata.
"""

from __future__ import annotations

import platform
import sys

from kapisup import __version__

KUBERNETES_MAJOR = "1"
KUBERNETES_MINOR = "32"
BUILD_DATE = "2026-11-26T00:00:00Z"


def version_info() -> dict[str, str]:
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return {
        "major": KUBERNETES_MAJOR,
        "minor": KUBERNETES_MINOR,
        "gitVersion": f"v{KUBERNETES_MAJOR}.{KUBERNETES_MINOR}.0+kapisup-{__version__}",
        "gitCommit": "unknown",
        "gitTreeState": "clean",
        "buildDate": BUILD_DATE,
        "goVersion": f"python{platform.python_version()}",
        "compiler": sys.implementation.name,
        "platform": f"{sys.platform}/{machine}",
    }
