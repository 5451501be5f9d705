from django.apps import AppConfig


class SubsidiesConfig(AppConfig):
    name = "huanxin.subsidies"
    label = "subsidies"
    verbose_name = "以旧换新补贴"
