"""coordination.k8s.io/v1 leases: what controllers' leader election reads and renews."""

from __future__ import annotations

from kapisup.apimachinery.errors import Cause, field_invalid
from kapisup.registry.resource import Obj, ResourceDef, Strategy


class LeaseStrategy(Strategy):
    #: kube's lease strategy allows create on PUT (leader election may write before reading)
    allow_create_on_update = True

    def validate(self, obj: Obj) -> list[Cause]:
        spec = obj.get("spec") or {}
        causes = []
        duration = spec.get("leaseDurationSeconds")
        if duration is not None and (not isinstance(duration, int) or duration <= 0):
            causes.append(field_invalid("spec.leaseDurationSeconds", duration,
                                        "must be greater than 0"))
        transitions = spec.get("leaseTransitions")
        if transitions is not None and (not isinstance(transitions, int) or transitions < 0):
            causes.append(field_invalid("spec.leaseTransitions", transitions,
                                        "must be greater than or equal to 0"))
        return causes


def coordination_resources() -> list[ResourceDef]:
    return [ResourceDef("coordination.k8s.io", "v1", "Lease", "leases", "lease", True,
                        "io.k8s.api.coordination.v1.Lease", LeaseStrategy())]
