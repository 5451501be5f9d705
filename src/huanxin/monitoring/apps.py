from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "huanxin.monitoring"
    label = "monitoring"
    verbose_name = "监测调度"

    def ready(self) -> None:
        from huanxin.core import metrics
        from huanxin.monitoring import inbox, jobs, ledgers  # noqa: F401 - inbox and jobs register theirs

        metrics.register_prefix("ledger.", ledgers.resolve_metric)
