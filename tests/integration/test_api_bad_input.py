"""Random, malformed API requests: every answer is a Status below 500 (kube's 504 for a too-new
resourceVersion aside) and every worker survives. Bounded in count and time, seeded."""

from __future__ import annotations

import json
import random
import time

import pytest
import requests

from tests.integration.server import running

PATHS = ["/api/v1/namespaces/fz/configmaps", "/api/v1/namespaces/fz/pods",
         "/api/v1/namespaces/fz/services", "/api/v1/namespaces", "/api/v1/namespaces/fz/secrets",
         "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
         "/apis/coordination.k8s.io/v1/namespaces/fz/leases", "/api/v1/nodes",
         "/api/v1/namespaces/fz/events", "/api/v1/namespaces/fz/endpoints",
         "/api/v1/namespaces/fz/serviceaccounts"]
KEYS = ["metadata", "spec", "data", "name", "labels", "containers", "status", "ports", "kind",
        "apiVersion", "x", "$patch", "finalizers", "image", "port", "versions", "names"]
QUERIES = ["", "?dryRun=All", "?fieldValidation=Strict", "?fieldManager=f",
           "?labelSelector=a%20in%20(", "?fieldSelector=x=y", "?limit=-1", "?continue=zz",
           "?resourceVersion=abc", "?watch=1&timeoutSeconds=1", "?force=true&fieldManager=z",
           "?dryRun=Some", "?fieldValidation=Loud", "?timeoutSeconds=x&watch=true"]
PATCH_TYPES = ["application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml"]
REQUESTS = 400
BUDGET = 90.0


def _value(rnd: random.Random, depth: int = 0):
    roll = rnd.random()
    if depth > 3 or roll < 0.3:
        return rnd.choice([None, True, 0, -1, 1.5, "", "x", "a/b", "\u00ff", 2 ** 70, [], {}])
    if roll < 0.6:
        return {rnd.choice(KEYS): _value(rnd, depth + 1) for _ in range(rnd.randint(0, 4))}
    return [_value(rnd, depth + 1) for _ in range(rnd.randint(0, 3))]


@pytest.mark.timeout(240)
def test_random_api_requests_get_a_status_below_500_and_no_worker_dies(tmp_path):
    rnd = random.Random(20261126)
    with running(tmp_path, secure=False) as server:
        workers = set(server.workers())
        base = server.url
        session = requests.Session()
        assert session.post(f"{base}/api/v1/namespaces",
                            json={"metadata": {"name": "fz"}}).status_code == 201
        assert session.post(f"{base}/api/v1/namespaces/fz/pods", json={
            "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}},
        ).status_code == 201
        failures = []
        started = time.monotonic()
        for _ in range(REQUESTS):
            if time.monotonic() - started > BUDGET:
                break
            method = rnd.choice(["POST", "PUT", "PATCH", "DELETE", "GET"])
            target = rnd.choice(PATHS)
            if method in ("PUT", "PATCH", "DELETE") or rnd.random() < 0.3:
                target += "/" + rnd.choice(["c", "p", "x", "fz", "default"]) + \
                    rnd.choice(["", "/status", "/finalize"])
            body = _value(rnd)
            if isinstance(body, dict) and rnd.random() < 0.5:
                body.setdefault("metadata", {"name": rnd.choice(["c", "p", "a", "Bad_", ""])})
            content_type = rnd.choice(PATCH_TYPES) if method == "PATCH" else \
                rnd.choice(["application/json", "application/yaml", "text/plain"])
            answer = session.request(method, base + target + rnd.choice(QUERIES),
                                     data=json.dumps(body),
                                     headers={"Content-Type": content_type}, timeout=30)
            if answer.status_code >= 500:
                failures.append((method, target, answer.status_code, answer.text[:200]))
            elif answer.status_code >= 400:
                assert answer.json()["kind"] == "Status", (method, target, answer.text)
        assert failures == []
        assert set(server.workers()) == workers
