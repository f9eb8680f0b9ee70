#!/usr/bin/env python3
"""RBAC decision cost with 0 and 1,000 bindings (and 10,000), in-process.

The authorizer looks only at the bindings of the requesting user's name and groups, in the
request's namespace and cluster-wide, so the number of other bindings should not change the
cost. Each case times the same allowed and denied requests; numbers are printed as decisions per
second and microseconds per decision (a request through the API costs a few hundred).

    .venv/bin/python scripts/bench_rbac.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import time

from kapisup.auth.authorizer import Attributes, build_authorizer
from kapisup.auth.rbac import RBACAuthorizer
from kapisup.auth.user import UserInfo
from kapisup.controlplane.bootstrappolicy import cluster_role_bindings, cluster_roles

GROUP = "rbac.authorization.k8s.io"
USER = UserInfo("alice", groups=("devs", "system:authenticated"))


def build(bindings: int) -> RBACAuthorizer:
    """The bootstrap policy, plus `bindings` RoleBindings of other users over 100 namespaces,
    plus alice's own binding to `edit` in ns-7 (so an allowed request has to find it)."""
    authorizer = build_authorizer(("RBAC",))
    rbac = next(a for a in authorizer.members if isinstance(a, RBACAuthorizer))  # type: ignore
    index = rbac.index
    roles = cluster_roles()
    index.replace("clusterroles", roles)
    index.replace("clusterrolebindings", cluster_role_bindings())
    index.replace("roles", [])
    edit_rules = [r for role in roles if role["metadata"]["name"] == "system:aggregate-to-edit"
                  for r in role["rules"]]
    index.apply("clusterroles", "MODIFIED", {"metadata": {"name": "edit"}, "rules": edit_rules})
    items = [{"metadata": {"name": f"rb-{i}", "namespace": f"ns-{i % 100}"},
              "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": "edit"},
              "subjects": [{"apiGroup": GROUP, "kind": "User", "name": f"user-{i}"}]}
             for i in range(bindings)]
    items.append({"metadata": {"name": "alice-edit", "namespace": "ns-7"},
                  "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": "edit"},
                  "subjects": [{"apiGroup": GROUP, "kind": "User", "name": "alice"}]})
    index.replace("rolebindings", items)
    return authorizer  # type: ignore[return-value]


def attrs(verb: str, namespace: str) -> Attributes:
    return Attributes(user=USER, verb=verb, is_resource_request=True, api_version="v1",
                      resource="configmaps", namespace=namespace, name="cm")


def rate(authorizer: RBACAuthorizer, request: Attributes, seconds: float) -> float:
    """Decisions per second over about `seconds` (bounded by time and by count)."""
    authorize = authorizer.authorize
    done, start = 0, time.perf_counter()
    while done < 10_000_000:
        for _ in range(1000):
            authorize(request)
        done += 1000
        if time.perf_counter() - start >= seconds:
            break
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    args = parser.parse_args()
    cases = [("allowed (RoleBinding in ns-7)", attrs("update", "ns-7")),
             ("denied (no binding in ns-8)", attrs("update", "ns-8")),
             ("non-resource GET /version", Attributes(user=USER, verb="get",
                                                      is_resource_request=False,
                                                      path="/version"))]
    rate(build(0), cases[0][1], min(args.seconds, 0.3))  # warm up before the first number
    print(f"{'bindings':>9}  {'request':<32} {'decisions/s':>12} {'us/decision':>12}")
    for count in (0, 1_000, 10_000):
        authorizer = build(count)
        for label, request in cases:
            per_second = rate(authorizer, request, args.seconds)
            print(f"{count:>9,}  {label:<32} {per_second:>12,.0f} {1e6 / per_second:>12.2f}")


if __name__ == "__main__":
    main()
