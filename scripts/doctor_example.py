"""The README's `cascade-tui doctor` example: a real doctor run against the local venue servers
of the test suite (tests/wsservers), one of each kind: Bybit healthy (its clock 0.25 s behind),
OKX silent, Binance geo-blocked (HTTP 451), Gate refused (closed port), Kraken DNS failure (a
`.invalid` name). Nothing leaves the machine.

    .venv/bin/python scripts/doctor_example.py            # plain text, as when piped
    .venv/bin/python scripts/doctor_example.py --json
"""

from __future__ import annotations

import asyncio
import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests package (local servers)

from cascade_tui.doctor.cli import main_doctor
from cascade_tui.feeds.connection import Backoff, ConnectionOptions
from tests.wsservers.binance import BinanceProtocol
from tests.wsservers.core import ProtocolServer
from tests.wsservers.doctor import (
    UNRESOLVABLE_HOST,
    LiveClockBybit,
    RewritingTransport,
    closed_port,
    feeding,
    host_map,
    serve_bybit_instruments,
)
from tests.wsservers.okx import OkxProtocol


async def main(extra: list[str]) -> int:
    async with (
        ProtocolServer(LiveClockBybit(lag_s=0.25)) as healthy,
        ProtocolServer(OkxProtocol()) as silent,
        ProtocolServer(BinanceProtocol()) as blocked,
    ):
        serve_bybit_instruments(healthy)
        silent.mute = True
        blocked.reject_status = 451
        rewrite = host_map(
            {
                "bybit": f"ws://127.0.0.1:{healthy.port}",
                "okx": f"ws://127.0.0.1:{silent.port}",
                "binance": f"ws://127.0.0.1:{blocked.port}",
                "gate": f"ws://127.0.0.1:{closed_port()}",
                "kraken": f"ws://{UNRESOLVABLE_HOST}",
            }
        )
        options = ConnectionOptions(
            backoff=Backoff(base_s=0.2, cap_s=1.0),
            open_timeout_s=3.0,
            send_interval_s=0.0,
            url_rewrite=rewrite,
        )
        argv = ["--venues", "bybit,okx,binance,gate,kraken", "--seconds", "8", "--symbols", "BTC", *extra]
        out = io.StringIO()
        async with feeding(healthy, every_s=0.2):
            code = await asyncio.to_thread(
                main_doctor, argv, connection_options=options, http_transport=RewritingTransport(rewrite), out=out,
                tty=False,
            )  # fmt: skip
    print(out.getvalue(), end="")
    print(f"(exit code {code})")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
