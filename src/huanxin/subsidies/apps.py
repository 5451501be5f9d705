from django.apps import AppConfig


class SubsidiesConfig(AppConfig):
    name = "huanxin.subsidies"
    label = "subsidies"
    verbose_name = "以旧换新补贴"

    def ready(self) -> None:
        from huanxin.subsidies import batch_job, inbox, jobs, metrics  # noqa: F401 - register the inbox, metrics and job kinds
