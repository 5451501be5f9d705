from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "huanxin.jobs"
    label = "jobs"
    verbose_name = "后台任务"

    def ready(self) -> None:
        from huanxin.jobs import builtin, inbox  # noqa: F401 - they register the inbox provider and core's kinds
