from django.apps import AppConfig


class SupervisionConfig(AppConfig):
    name = "huanxin.supervision"
    label = "supervision"
    verbose_name = "任务调度与督办"

    def ready(self) -> None:
        from huanxin.supervision import inbox  # noqa: F401 - registers the app's inbox provider
