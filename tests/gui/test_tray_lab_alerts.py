"""SLO alerts and drift reach the desktop as tray notifications (and the tray's own log, which
exists without a system tray); a cleared alert says nothing."""

from __future__ import annotations

from steward.gui.tray import notification_for
from steward.service.model_watch import DriftDetected, SloAlertChanged

KEY = "small/m"


def test_an_slo_alert_and_a_drift_are_notified_and_a_cleared_alert_is_not() -> None:
    burning = SloAlertChanged(
        0.0, None, KEY, "success", "fast", "success 90.0% (target 99%): budget overspent"
    )
    assert notification_for(burning) == (f"{KEY} is burning its error budget", burning.detail)
    assert notification_for(SloAlertChanged(0.0, None, KEY, "success", None, "success 99.5%")) is None
    drift = DriftDetected(0.0, None, KEY, "ttft", 0.38, 0.0, "slower than usual since 14:02 (+38%)")
    assert notification_for(drift) == (f"{KEY} changed", "slower than usual since 14:02 (+38%)")
