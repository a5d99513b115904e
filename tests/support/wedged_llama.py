"""A stand-in "llama-server binary" for a managed profile: the REAL llama-server behind a FaultProxy.

Started by Steward's supervisor with llama-server's own command line, it starts the real
llama-server on a free inner port and listens on the `--port` Steward chose with a FaultProxy in
front of it. On its FIRST start (no marker file yet) the proxy wedges the server the way users
report it: `/health` and `/v1/models` answer while every `/v1/chat/completions` hangs. Later starts
(a restart by Steward) forward everything: the restart fixed it. `make_wedged_binary` writes the
executable script a profile's `binary_path` points at.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MARKER_ENV, BINARY_ENV = "WEDGED_LLAMA_MARKER", "WEDGED_LLAMA_BINARY"


def make_wedged_binary(folder: Path) -> Path:
    """An executable script (this Python) that runs `main()`; point a profile's binary_path at it."""
    script = folder / "wedged-llama-server"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path[:0] = [{str(REPO)!r}, {str(REPO / 'app')!r}]\n"
        "from tests.support.wedged_llama import main\n"
        "main()\n"
    )
    script.chmod(0o755)
    return script


def main() -> None:
    from tests.support.fault_proxy import FaultProxy, OnPaths, Timeout
    from tests.support.llama import free_port

    args = sys.argv[1:]
    at = args.index("--port") + 1
    outer, inner = int(args[at]), free_port()
    args[at] = str(inner)
    marker = Path(os.environ[MARKER_ENV])
    wedged = not marker.exists()
    marker.write_text("started before\n")
    llama = subprocess.Popen([os.environ[BINARY_ENV], *args])
    signal.signal(signal.SIGTERM, lambda *_: llama.terminate())
    proxy = FaultProxy("127.0.0.1", inner, listen_port=outer).start()
    if wedged:
        proxy.set_fault(OnPaths(("/v1/chat/completions",), Timeout()))
    state = "completions hang" if wedged else "everything forwarded"
    print(f"wedged_llama: port {outer} -> llama-server on {inner}; {state}", flush=True)
    code = llama.wait()
    proxy.stop()
    sys.exit(code)
