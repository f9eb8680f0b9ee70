"""authentication.k8s.io/v1 in the registry: `serviceaccounts/token` (TokenRequest).

kube's TokenREST: a POST on a service account's `token` subresource answers a signed, bound JWT;
nothing is stored. The same module gives the authenticator its lookup, so a token dies with the
service account (or the Pod or Secret it is bound to).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from kapisup.apimachinery import errors
from kapisup.apimachinery.errors import Cause, StatusError
from kapisup.auth.authenticator import review_token
from kapisup.auth.serviceaccount import (
    BoundObject,
    Lookup,
    TokenIssuer,
    service_account_claims,
)
from kapisup.auth.user import user_info_json
from kapisup.registry.authorization_v1 import UNSECURED, ReviewStrategy
from kapisup.registry.resource import Obj, ResourceDef
from kapisup.registry.store import Store, WriteOptions, WriteResult

GROUP = "authentication.k8s.io"
VERSION = "v1"
DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600  # kube's MinTokenAgeSec: 10 minutes
MAX_EXPIRATION = 1 << 32
BINDABLE = ("Pod", "Secret")


def _rfc3339(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class TokenRequestREST:
    """POST /api/v1/namespaces/<ns>/serviceaccounts/<name>/token."""

    group = GROUP
    version = VERSION
    kind = "TokenRequest"
    verbs = ("create",)

    def __init__(self, service_accounts: Store, pods: Store, secrets: Store,
                 issuer: TokenIssuer, audiences: Sequence[str], max_expiration: int = 0):
        self.service_accounts = service_accounts
        self.bindable = {"Pod": pods, "Secret": secrets}
        self.issuer = issuer
        self.audiences = list(audiences)
        self.max_expiration = max_expiration

    def create(self, namespace: str, name: str, obj: Obj, opts: WriteOptions) -> Obj:
        metadata = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        if not isinstance(metadata, dict) or not isinstance(spec, dict):
            raise errors.bad_request("TokenRequest: metadata and spec must be objects")
        causes = self._validate(name, namespace, metadata, spec)
        if causes:
            raise errors.invalid(self.kind, name, causes, GROUP)
        account = self.service_accounts.get(namespace, name)  # 404 when missing
        audiences = list(spec.get("audiences") or self.audiences)
        expiration = spec.get("expirationSeconds")
        expiration = DEFAULT_EXPIRATION if expiration is None else expiration
        if self.max_expiration and expiration > self.max_expiration:
            expiration = self.max_expiration
        ref = spec.get("boundObjectRef")
        bound = self._bind(namespace, name, ref) if ref else None
        now = time.time()
        uid = account["metadata"].get("uid", "")
        claims = service_account_claims(self.issuer.issuer, audiences, namespace, name, uid,
                                        expiration, now, bound)
        out_spec: Obj = {"audiences": audiences, "expirationSeconds": expiration,
                         "boundObjectRef": None}
        if bound is not None:
            out_spec["boundObjectRef"] = {"kind": bound.kind, "apiVersion": "v1",
                                          "name": bound.name, "uid": bound.uid}
        return {
            "kind": self.kind,
            "apiVersion": f"{GROUP}/{VERSION}",
            "metadata": {"name": name, "namespace": namespace,
                         "creationTimestamp": _rfc3339(now)},
            "spec": out_spec,
            "status": {"token": "" if opts.dry_run else self.issuer.issue(claims),
                       "expirationTimestamp": _rfc3339(claims["exp"])},
        }

    @staticmethod
    def _validate(name: str, namespace: str, metadata: Obj, spec: Obj) -> list[Cause]:
        causes: list[Cause] = []
        if metadata.get("name") and metadata["name"] != name:
            causes.append(errors.field_invalid("metadata.name", metadata["name"],
                                               "must match the service account name if "
                                               "specified"))
        if metadata.get("namespace") and metadata["namespace"] != namespace:
            causes.append(errors.field_invalid("metadata.namespace", metadata["namespace"],
                                               "must match the service account namespace if "
                                               "specified"))
        audiences = spec.get("audiences")
        if audiences is not None and (not isinstance(audiences, list) or
                                      not all(isinstance(a, str) for a in audiences)):
            causes.append(errors.field_type_invalid("spec.audiences", audiences,
                                                    "must be a list of strings"))
        expiration = spec.get("expirationSeconds")
        if expiration is not None:
            if not isinstance(expiration, int) or isinstance(expiration, bool):
                causes.append(errors.field_type_invalid("spec.expirationSeconds", expiration,
                                                        "must be an integer"))
            elif expiration < MIN_EXPIRATION:
                causes.append(errors.field_invalid("spec.expirationSeconds", expiration,
                                                   "may not specify a duration less than 10 "
                                                   "minutes"))
            elif expiration > MAX_EXPIRATION:
                causes.append(errors.field_invalid("spec.expirationSeconds", expiration,
                                                   "may not specify a duration larger than "
                                                   "2^32 seconds"))
        ref = spec.get("boundObjectRef")
        if ref is not None and not isinstance(ref, dict):
            causes.append(errors.field_type_invalid("spec.boundObjectRef", ref,
                                                    "must be an object"))
        return causes

    def _bind(self, namespace: str, account: str, ref: dict[str, Any]) -> BoundObject:
        """kube's rules: a Pod (running as this account) or a Secret of core/v1, which must
        exist; a uid given must be the live object's."""
        kind, api_version = ref.get("kind") or "", ref.get("apiVersion") or ""
        name = ref.get("name") or ""
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        if kind not in BINDABLE or group:
            shown = f"{api_version}, Kind={kind}" if api_version else f"Kind={kind}"
            raise errors.bad_request(f"cannot bind token to object of type {shown}")
        if not name:
            raise errors.invalid(self.kind, account, [errors.field_required(
                "spec.boundObjectRef.name")], GROUP)
        obj = self.bindable[kind].get(namespace, name)  # 404 when missing
        if kind == "Pod" and (obj.get("spec") or {}).get("serviceAccountName") != account:
            raise errors.bad_request(f'cannot bind token for serviceaccount "{account}" to pod '
                                     "running with different serviceaccount name.")
        uid = obj["metadata"].get("uid", "")
        if ref.get("uid") and ref["uid"] != uid:
            raise errors.conflict(kind, name, f"the UID in the bound object reference "
                                  f"({ref['uid']}) does not match the UID in record. The object "
                                  "might have been deleted and then recreated")
        return BoundObject(kind, name, uid)


def live_uid_lookup(service_accounts: Store, pods: Store, secrets: Store) -> Lookup:
    """The authenticator's lookup: the uid of a live object, None when gone or deleting."""
    stores = {"ServiceAccount": service_accounts, "Pod": pods, "Secret": secrets}

    def lookup(kind: str, namespace: str, name: str) -> str | None:
        store = stores.get(kind)
        if store is None:
            return None
        try:
            obj = store.get(namespace, name)
        except StatusError as exc:
            if exc.code == 404:
                return None
            raise
        meta = obj.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            return None
        return meta.get("uid") or None

    return lookup


class AuthenticationReviewStore(Store):
    """SelfSubjectReview (`kubectl auth whoami`) and TokenReview: create-only, answered from
    the request's user or the configured token authenticators, never stored."""

    def __init__(self, resource: ResourceDef, storage: Any, schemas: Any,
                 authenticators: Sequence[Any], **kwargs: Any):
        super().__init__(resource, storage, schemas, **kwargs)
        self.authenticators = tuple(authenticators)

    def create(self, namespace: str, obj: Obj, opts: WriteOptions,
               keep_managed_fields: bool = False) -> WriteResult:
        warnings = self.check_fields(obj, opts.field_validation)
        kind = self.resource.kind
        answer: Obj = {"kind": kind, "apiVersion": f"{GROUP}/{VERSION}",
                       "metadata": {"creationTimestamp": None}}
        if kind == "SelfSubjectReview":
            user = opts.user if opts.user is not None else UNSECURED
            answer["status"] = {"userInfo": user_info_json(user)}
            return WriteResult(answer, created=True, warnings=warnings)
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        token = spec.get("token")
        if not isinstance(token, str) or not token:
            raise errors.invalid(kind, "", [errors.field_required("spec.token")], GROUP)
        audiences = [a for a in spec.get("audiences") or () if isinstance(a, str)]
        user, why = review_token(self.authenticators, token, audiences)
        status: Obj = {"authenticated": user is not None}
        if user is not None:
            status["user"] = user_info_json(user)
            if audiences:
                status["audiences"] = audiences
        else:
            status["error"] = why
        answer["spec"] = {"token": "", "audiences": audiences} if audiences else {"token": ""}
        answer["status"] = status
        return WriteResult(answer, created=True, warnings=warnings)


def authentication_review_resources() -> list[ResourceDef]:
    """SelfSubjectReview and TokenReview: cluster-scoped, create is their only verb."""
    return [ResourceDef(GROUP, VERSION, kind, plural, kind.lower(), False,
                        f"io.k8s.api.authentication.v1.{kind}", ReviewStrategy(),
                        verbs=("create",))
            for kind, plural in (("SelfSubjectReview", "selfsubjectreviews"),
                                 ("TokenReview", "tokenreviews"))]
