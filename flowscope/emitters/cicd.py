"""Rules the CI/CD recognizers (github_actions, gitlab, jenkins) share.

CI systems name a workflow by a path ("owner/repo", "group/project", a Jenkins folder path).
Flowscope's API addresses a workflow in one URL path segment (`/api/workflows/{id}/...`,
`/ws/workflows/{id}`), where a "/" (even as %2F, which the server decodes before routing)
cannot stand, so the parts of such an identity are joined with ":" instead.
"""

from __future__ import annotations

from typing import Any

from flowscope import workflow_meaning as m
from flowscope.emitters import ForeignSpan

SEPARATOR = ":"


def workflow_key(*parts: str | None) -> str | None:
    """A stable workflow id from the non-empty `parts` (e.g. repository path, workflow name),
    each "/" of a path made a ":" so that the id fits one URL path segment; None when no part."""
    kept = [part.strip("/").replace("/", SEPARATOR) for part in parts if part and part.strip("/")]
    return SEPARATOR.join(kept) or None


def attribute(span: ForeignSpan, key: str) -> Any:
    """A span attribute, else the same key on its resource: the collector-contrib CI receivers
    put a run's or job's own attributes on the resource of the spans they build for it."""
    value = span.attributes.get(key)
    return value if value is not None else span.resource.get(key)


def text_of(span: ForeignSpan, key: str) -> str | None:
    return m.text(attribute(span, key))


def integer_of(span: ForeignSpan, key: str) -> int | None:
    return m.integer(attribute(span, key))
