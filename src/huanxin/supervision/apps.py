from django.apps import AppConfig


class SupervisionConfig(AppConfig):
    name = "huanxin.supervision"
    label = "supervision"
    verbose_name = "任务调度与督办"
