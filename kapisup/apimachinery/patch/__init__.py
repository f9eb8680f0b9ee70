"""Patches: JSON patch, JSON merge patch, strategic merge patch, server-side apply.

All functions are pure (inputs are never mutated) and raise `StatusError` for a client's
mistake, with the code and reason kube-apiserver answers.
"""

from kapisup.apimachinery.patch.jsonpatch import json_patch
from kapisup.apimachinery.patch.managed import apply, record_update
from kapisup.apimachinery.patch.mergepatch import merge_patch
from kapisup.apimachinery.patch.strategic import strategic_merge_patch

__all__ = ["apply", "json_patch", "merge_patch", "record_update", "strategic_merge_patch"]
