"""Telling people a run has ended. A notification that fails is logged, never fatal."""

from __future__ import annotations

import logging

import httpx
from django.conf import settings
from django.core.mail import send_mail

from staging.models import Run, RunStatus

logger = logging.getLogger("staging.notify")


def _summary(run: Run) -> str:
    environment = run.environment
    what = f"{run.get_operation_display()} of staging '{environment.name}' for {environment.site}"
    if run.status == RunStatus.SUCCEEDED:
        return f"{what} is done." + (f" {environment.url}" if environment.url else "")
    return f"{what} ended {run.status}: {run.error_message} (code {run.error_code})"


def run_finished(run: Run) -> None:
    text = _summary(run)
    if settings.SLACK_WEBHOOK_URL:
        try:
            # https://api.slack.com/messaging/webhooks
            httpx.post(
                settings.SLACK_WEBHOOK_URL, json={"text": text}, timeout=10
            ).raise_for_status()
        except httpx.HTTPError as error:
            logger.warning(
                "Slack notification failed: %s", type(error).__name__, extra={"run_id": run.pk}
            )
    user = run.triggered_by
    if user is not None and user.email:
        try:
            send_mail(f"Understudy: {text[:120]}", text, None, [user.email])
        except Exception as error:  # a mail server problem must not fail the run
            logger.warning(
                "email notification failed: %s", type(error).__name__, extra={"run_id": run.pk}
            )
