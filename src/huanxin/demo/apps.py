from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data for `make run`. Sits on top of every domain app (it may import them all; none imports it)."""

    name = "huanxin.demo"
    label = "demo"
    verbose_name = "演示数据"
