from django.apps import AppConfig


class RecyclingConfig(AppConfig):
    name = "huanxin.recycling"
    label = "recycling"
    verbose_name = "回收网络"

    def ready(self) -> None:
        from huanxin.recycling import inbox, jobs, metrics  # noqa: F401 - register the inbox, metrics and job kinds
