"""The demo's last step (issue 19): ``voiceledger api`` on the demo's log and ClickHouse, with a
portal link for one demo customer and the operator console's address.

The API runs as its own process, as in production. The demo makes it a token file (a fresh
operator token) and a portal secret in its work directory, checks that the link opens the
customer's portal and that the console answers, prints both, and then either stops the API (the
default: ``make demo`` ends) or, with ``--serve``, keeps it and the broker up until Ctrl-C.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

from streams.api.links import Signer, portal_link
from streams.config.settings import Settings
from streams.dev.embedded import free_port
from streams.worker.supervise import say, worker_env


class DemoApiError(RuntimeError):
    pass


def start_api(settings: Settings, workdir: Path) -> tuple[subprocess.Popen, str, str, Settings]:
    """(process, base URL, operator token, its settings) once it answers."""
    token = secrets.token_urlsafe(24)
    tokens, secret = workdir / "api-tokens.txt", workdir / "portal-secret"
    tokens.write_text(f"{token} operator\n")
    secret.write_text(secrets.token_urlsafe(48))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = replace(settings, api_tokens_file=str(tokens.resolve()), portal_secret_file=str(secret.resolve()),
                       portal_base_url=base)
    with open(workdir / "api.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "streams.cli", "api", "--listen", f"127.0.0.1:{port}"],
                                   env=worker_env(settings), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/v1/openapi.json", timeout=1).close()
            return process, base, token, settings
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise DemoApiError(f"voiceledger api did not start; see {workdir / 'api.log'}") from None
            time.sleep(0.2)


def show_api(settings: Settings, workdir: Path, account_id: str, serve: bool) -> int:
    process, base, token, settings = start_api(settings, workdir)
    try:
        url, _ = portal_link(Signer.from_file(settings.portal_secret_file), base, account_id, settings.portal_link_days)
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())  # keeps the session cookie
        portal = browser.open(url, timeout=30)  # follows the login's redirect to the account page
        page = portal.read().decode()
        console = urllib.request.urlopen(base + "/console/login", timeout=30).status
        ok = portal.status == 200 and account_id in page and "Balance" in page and console == 200
        print("\nThe API, the customer portal and the operator console (voiceledger api):")
        print(f"  API:       {base}/v1  (OpenAPI {base}/v1/openapi.json; bearer token {token})")
        print(f"  Portal of {account_id}: {url}")
        print(f"  Console:   {base}/console  (sign in with the token above)")
        print(f"  Portal and console answer: {'yes' if ok else 'NO'}")
        if serve:
            say("serving until Ctrl-C")
            try:
                process.wait()
            except KeyboardInterrupt:
                pass
        else:
            print("  (stopped with the demo; `voiceledger demo --serve` keeps them up until Ctrl-C)")
        return 0 if ok else 1
    finally:
        process.terminate()
        process.wait(30)
