"""Moved to `flowscope.storage.anyvalue`: the store decodes stored values, and the layers
let the collector import from storage, not the other way round. Its last importers here
switch to the new place, then this module goes."""

from flowscope.storage.anyvalue import (
    MAX_DEPTH,
    any_value_to_python,
    any_value_to_text,
    attributes_to_dict,
    to_jsonable,
)

__all__ = ["MAX_DEPTH", "any_value_to_python", "any_value_to_text", "attributes_to_dict", "to_jsonable"]
