"""Settings → policy rules, by field name, in one place.

A policy's rules are a frozen dataclass that knows nothing of settings; a step builds them with
:func:`rules_from_settings`. Every rule field takes the setting of the same name from the one settings
section that has it; only the fields whose setting differs in name, unit or shape are spelled out, in
``derived``. A new setting therefore needs two lines: the setting in ``settings.py`` and the field, of the
same name, in the rule dataclass.

The mapping is strict so that it cannot drift: a rule field no section provides (and ``derived`` does not
give), a name found in two of the sections, and a ``derived`` key that is not a rule field are errors, the
first time the rules are built (a default of the dataclass is never used silently).
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

R = TypeVar("R")


class RulesMappingError(TypeError):
    """The settings sections and a rules dataclass do not line up: a programming error, not a user's."""


def rules_from_settings(
    rules_type: type[R], sections: Sequence[BaseModel], derived: Mapping[str, Any] | None = None
) -> R:
    """An instance of the dataclass ``rules_type`` whose fields come from ``sections`` by name.

    ``derived`` gives the fields that have no setting of their own name (or need a conversion) explicitly.
    A list setting becomes the field's container when the field is a tuple or a frozenset.
    """
    derived = dict(derived or {})
    kind: type = rules_type  # the caches key on the class itself
    names = _field_names(kind)
    unknown = sorted(set(derived) - set(names))
    if unknown:
        raise RulesMappingError(f"{rules_type.__name__} has no field {', '.join(unknown)} (given in derived)")
    containers = _containers(kind)
    owner = _owners(kind, tuple(type(s) for s in sections), frozenset(derived))
    values: dict[str, Any] = {}
    for name in names:
        if name in derived:
            values[name] = derived[name]
        else:
            values[name] = _as_field(getattr(sections[owner[name]], name), containers.get(name))
    return rules_type(**values)


@functools.cache
def _field_names(rules_type: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(rules_type))


# The mapping depends only on the types: it is worked out (and checked) once per combination, since the steps
# build their rules on every run and, in a replay, on every slot.
@functools.cache
def _owners(rules_type: type, section_types: tuple[type[BaseModel], ...], derived: frozenset[str]) -> dict[str, int]:
    """Each field not in ``derived``: the index of the one section type that has a setting of its name."""
    owner: dict[str, int] = {}
    for name in _field_names(rules_type):
        if name in derived:
            continue
        owners = [i for i, t in enumerate(section_types) if name in t.model_fields]
        if len(owners) != 1:
            where = ", ".join(section_types[i].__name__ for i in owners) or "none of " + ", ".join(
                t.__name__ for t in section_types
            )
            raise RulesMappingError(
                f"{rules_type.__name__}.{name} needs exactly one setting of that name, found in {where}: "
                "add the setting, or give the field in derived"
            )
        owner[name] = owners[0]
    return owner


def symbol_values(symbols: Mapping[str, BaseModel], *keys: str) -> dict[str, dict[str, Any]]:
    """The per-symbol rule fields ``symbol_<key>`` (symbol -> value) from the ``[symbols.<TICKER>]`` tables:
    only the symbols whose table sets the key, so an unset key leaves the section default."""
    return {
        f"symbol_{key}": {t: getattr(o, key) for t, o in symbols.items() if getattr(o, key) is not None}
        for key in keys
    }


@functools.cache
def _containers(rules_type: type) -> dict[str, type]:
    """The fields of ``rules_type`` declared as a tuple or a frozenset, with that container type."""
    hints = typing.get_type_hints(rules_type)
    found: dict[str, type] = {}
    for name, hint in hints.items():
        origin = typing.get_origin(hint) or hint
        if origin in (tuple, frozenset):
            found[name] = origin
    return found


def _as_field(value: Any, container: type | None) -> Any:
    if container is not None and isinstance(value, list):
        return container(value)
    return value
