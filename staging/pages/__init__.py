"""The portal for account managers: pages inside the Django admin that call ``staging.runs``."""
