"""Every model of ours can be scoped: its default manager has `visible_to(user)`, and anonymous users get nothing.

A new model without it fails here, so scoping cannot be forgotten (the lesson of netbox#22283).
"""

import pytest
from django.apps import apps
from django.contrib.auth.models import AnonymousUser

OUR_APPS = ["core", "plans"]


def our_models():
    for label in OUR_APPS:
        yield from apps.get_app_config(label).get_models()


@pytest.mark.parametrize("model", list(our_models()), ids=lambda m: m._meta.label)
def test_model_has_visible_to(model) -> None:
    assert callable(getattr(model._default_manager, "visible_to", None)), f"{model._meta.label} has no visible_to()"


@pytest.mark.django_db
@pytest.mark.parametrize("model", list(our_models()), ids=lambda m: m._meta.label)
def test_anonymous_sees_nothing(model, plan) -> None:
    assert model._default_manager.exists() or model._meta.model_name in {
        "measureaction",
        "user",
        "organisation",
    }
    assert not model._default_manager.visible_to(AnonymousUser()).exists()
