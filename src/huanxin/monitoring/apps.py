from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "huanxin.monitoring"
    label = "monitoring"
    verbose_name = "监测调度"

    def ready(self) -> None:
        from huanxin.monitoring import inbox  # noqa: F401 - registers the app's inbox provider
