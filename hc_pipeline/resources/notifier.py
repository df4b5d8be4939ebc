"""Notifications to people: the log by default; SNS and Slack share this interface."""

import logging
from abc import ABC, abstractmethod

import dagster as dg

logger = logging.getLogger("hc_pipeline.notifier")


class Notifier(dg.ConfigurableResource, ABC):
    """Sends a short message with a subject; messages never carry patient identifiers."""

    @abstractmethod
    def notify(self, subject: str, message: str) -> None:
        """Deliver one message."""


class LogNotifier(Notifier):
    """Writes notifications to the log."""

    def notify(self, subject: str, message: str) -> None:
        logger.warning("%s: %s", subject, message)
