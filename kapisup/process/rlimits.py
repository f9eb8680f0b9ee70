"""Raise the open-files soft limit to the hard limit, as Go programs (kube-apiserver) do.

Every watch holds a socket for its whole life, so a worker serving thousands of watches needs
thousands of descriptors; distributions often ship a soft limit of 1024 under a far higher hard one.
"""

from __future__ import annotations

import resource


def raise_nofile_limit() -> tuple[int, int]:
    """Returns the (soft, hard) limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft, hard
