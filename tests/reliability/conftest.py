"""Fixtures for reliability tests."""

import logging

import pytest


@pytest.fixture
def dlt_logs(caplog):
    """caplog that also sees dlt's logger (which does not propagate to the root logger)."""
    dlt_logger = logging.getLogger("dlt")
    dlt_logger.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG, logger="dlt")
    yield caplog
    dlt_logger.removeHandler(caplog.handler)
