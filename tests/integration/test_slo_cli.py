"""`steward slo` on the history the app kept of a REAL llama-server's answers: each model's
objectives, error budget left and burn-rate alert, exit 1 while an alert burns. The objective is
set strict on purpose (first token within 1 ms) so real answers miss it: a real alert, from real
traffic, read back by the real command in its own process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.support.cli import run_steward, steward_env
from tests.support.fake_keyring import FakeKeyring
from tests.support.llama import LlamaServer

from steward.config import SecretStore, Settings
from steward.engine.events import Completed
from steward.runtime import RuntimeOptions
from steward.service import StewardService

MODEL = "small/SmolLM2-135M-Instruct.Q4_1"
ANSWERS = 12


@pytest.mark.timeout(200)
async def test_slo_reads_the_kept_history_and_exits_1_while_an_alert_burns(
    tmp_path: Path, llama_small: LlamaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.toml").write_text(
        f"""
[[endpoints]]
id = "small"
kind = "llamacpp"
base_url = "{llama_small.url}"

[embedded]
enabled = false

[discovery]
ports = [9]

[slo]
ttft_s = 0.001
"""
    )
    for name, value in steward_env(tmp_path).items():
        if name.startswith("STEWARD_"):
            monkeypatch.setenv(name, value)
    settings = Settings.model_validate(
        {
            "endpoints": [{"id": "small", "kind": "llamacpp", "base_url": llama_small.url}],
            "slo": {"ttft_s": 0.001},
        }
    )
    options = RuntimeOptions(
        settings=settings,
        settings_path=config / "settings.toml",
        embedded=False,
        discover=False,
        health_monitor=False,
        secrets=SecretStore(FakeKeyring()),
    )
    service = await StewardService.start(options)
    try:
        for _ in range(ANSWERS):
            request = service.build_request([("user", "Say hi.")], model=MODEL, max_tokens=4, fallback=False)
            events = [e async for e in service.ask(request)]
            assert isinstance(events[-1], Completed)
    finally:
        await service.stop()

    done = run_steward("slo", "--json", dirs=tmp_path, text=True, timeout=120)
    assert done.returncode == 1, (done.stdout, done.stderr)  # an alert burns
    views = {v["model"]: v for v in json.loads(done.stdout)}
    view = views[MODEL]
    assert view["samples"] == ANSWERS and view["alert"] == "fast"
    success, ttft = view["objectives"][:2]
    assert (success["objective"], success["good"], success["total"], success["budget_left"]) == (
        "success",
        ANSWERS,
        ANSWERS,
        1.0,
    )
    assert (ttft["objective"], ttft["good"], ttft["total"], ttft["alert"]) == ("ttft", 0, ANSWERS, "fast")
    assert ttft["budget_left"] < 0

    text = run_steward("slo", dirs=tmp_path, text=True, timeout=120)
    print(text.stdout)
    assert text.returncode == 1
    assert f"{MODEL}: {ANSWERS} requests in 7 days" in text.stdout and "[fast alert]" in text.stdout
    assert "first token in time" in text.stdout and "overspent" in text.stdout
