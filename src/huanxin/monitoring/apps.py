from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "huanxin.monitoring"
    label = "monitoring"
    verbose_name = "监测调度"
