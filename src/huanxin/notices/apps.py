from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "huanxin.notices"
    label = "notices"
    verbose_name = "消息与短信"

    def ready(self) -> None:
        from huanxin.notices import jobs  # noqa: F401 - registers the daily check of SMS delivery
