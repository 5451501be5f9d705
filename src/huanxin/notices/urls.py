from django.urls import path

from huanxin.notices import views

app_name = "notices"

urlpatterns = [path("messages/", views.messages_page, name="messages")]
