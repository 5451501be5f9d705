from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "huanxin.plans"
    label = "plans"
    verbose_name = "实施方案"

    def ready(self) -> None:
        from huanxin.plans import inbox  # noqa: F401 - registers the app's inbox provider
