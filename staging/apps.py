from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.signals import setting_changed


class StagingConfig(AppConfig):
    name = "staging"
    verbose_name = "Staging"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The copy engine reads no settings (it runs without Django too): it is told here.
        _configure_database_addresses()
        setting_changed.connect(_on_setting_changed)


def _configure_database_addresses() -> None:
    from staging.dbcopy.addresses import allow_private_addresses_by_default

    allow_private_addresses_by_default(settings.STAGING_ALLOW_PRIVATE_DATABASE_ADDRESSES)


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "STAGING_ALLOW_PRIVATE_DATABASE_ADDRESSES":
        _configure_database_addresses()
