"""Other systems' telemetry read as workflows (issue 13): one recognizer per emitter.

A recognizer looks at one span that does not follow Flowscope's own conventions (no
`workflow.id`, `workflow.step.id` or `workflow.step.attempt`) and says what it means in
those conventions: it returns the `flowscope.conventions` attributes the span would carry
had our engine emitted it (`workflow.id`, `workflow.step.id`, `workflow.status`, ...), or
None when the span is not one of its emitter's runs or tasks. The collector adds them to
the stored span at ingest (`flowscope.workflow_meaning.recognize`), so every reader after
it (REST, the live feed, `/metrics`, Grafana, the SQL views, Jaeger) reads one meaning.

Each recognizer names, in comments, the emitter's source file or page behind each rule.
"""

from __future__ import annotations

# The interface lives with the rules that read what recognizers derive (workflow_meaning, a
# layer below this package's emitters, which use its readers of attribute values).
from flowscope.workflow_meaning import ForeignSpan, Recognizer

__all__ = ["ForeignSpan", "Recognizer"]
