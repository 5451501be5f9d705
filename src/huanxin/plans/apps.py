from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "huanxin.plans"
    label = "plans"
    verbose_name = "实施方案"
