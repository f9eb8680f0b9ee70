"""coordination.k8s.io/v1: Lease, the lock leader election and node heartbeats use.

Field numbers follow k8s.io/api coordination/v1 generated.proto.
"""

from __future__ import annotations

from kapisup.types.dsl import Schema, integer, kind, micro_time, obj, ref, string

GROUP = "coordination.k8s.io"
PREFIX = "io.k8s.api.coordination.v1."

SCHEMAS: dict[str, Schema] = {
    PREFIX + "LeaseSpec": obj(
        "Who holds a lease and until when.",
        {
            "holderIdentity": string("Identity of the current holder.", 1),
            "leaseDurationSeconds": integer(
                "Seconds others wait after renewTime before taking the lease over.", 2),
            "acquireTime": micro_time("When the current holder acquired the lease.", 3),
            "renewTime": micro_time("When the current holder last renewed the lease.", 4),
            "leaseTransitions": integer("How many times the lease changed holders.", 5),
            "strategy": string("How a leader is picked under coordinated leader election.", 6),
            "preferredHolder": string("Holder the current one should hand the lease to.", 7),
        }),
    PREFIX + "Lease": kind(GROUP, "v1", "Lease", "A lease: a shared lock with a holder.", {
        "spec": ref(PREFIX + "LeaseSpec", "Holder and timing of the lease.", 2),
    }),
}

KINDS: list[tuple[str, str, str, str]] = [(GROUP, "v1", "Lease", PREFIX + "Lease")]
