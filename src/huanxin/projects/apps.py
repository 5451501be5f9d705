from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "huanxin.projects"
    label = "projects"
    verbose_name = "设备更新项目"

    def ready(self) -> None:
        from huanxin.projects import inbox, jobs, metrics  # noqa: F401 - register the inbox, metrics and job kinds
