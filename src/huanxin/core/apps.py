from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "huanxin.core"
    label = "core"
    verbose_name = "基础数据"

    def ready(self) -> None:
        from huanxin.core import guards

        guards.connect()  # the last-line text check before every save of our models
