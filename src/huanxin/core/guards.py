"""The last line: no row of ours is saved with text longer than its column or with control characters.

Forms and services check their own fields with messages that name them (core/inputs.py); this catches what a
path forgot, before the database does. A string too long for its column is a DataError on PostgreSQL (silently
kept whole on SQLite) and NUL cannot be stored at all — both 500s. The guard raises a ValidationError instead,
which a view shows next to the form or, uncaught, core/middleware.py answers with a 400. It runs on every save,
so the fields to check are worked out once per model.
"""

from __future__ import annotations

import functools
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.signals import pre_save

from huanxin.core.middleware import has_control_characters

OUR_APPS = frozenset({"core", "plans", "monitoring", "supervision", "recycling", "subsidies", "projects"})


@functools.cache
def _text_fields(model: type[models.Model]) -> tuple[tuple[str, str, int | None], ...]:
    """(attribute, label, max_length) of the model's text columns."""
    return tuple(
        (field.attname, str(field.verbose_name), field.max_length)
        for field in model._meta.concrete_fields
        if isinstance(field, (models.CharField, models.TextField))
    )


def refuse_bad_text(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    if sender._meta.app_label not in OUR_APPS:
        return
    errors: dict[str, ValidationError] = {}
    for attname, label, limit in _text_fields(sender):
        value = getattr(instance, attname, None)
        if not isinstance(value, str):
            continue
        if limit is not None and len(value) > limit:
            errors[attname] = ValidationError(f"{label}过长（最多{limit}个字，现为{len(value)}个）", code="too_long")
        elif has_control_characters(value):
            errors[attname] = ValidationError(f"{label}含有不可见的控制字符", code="invalid_characters")
    if errors:
        raise ValidationError(errors)


def connect() -> None:
    pre_save.connect(refuse_bad_text, dispatch_uid="huanxin.core.guards.refuse_bad_text")
