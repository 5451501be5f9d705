from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "huanxin.plans"
    label = "plans"
    verbose_name = "实施方案"

    def ready(self) -> None:
        from huanxin.plans import inbox, jobs  # noqa: F401 - they register the inbox provider and the import job
