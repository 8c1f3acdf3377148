from django.apps import AppConfig


class StagingConfig(AppConfig):
    name = "staging"
    verbose_name = "Staging"
    default_auto_field = "django.db.models.BigAutoField"
