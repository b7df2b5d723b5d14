"""TLS and SASL for every Kafka client the ledger opens (R35).

Settings (all optional; the default is plaintext, as on the embedded broker):

- ``kafka_security_protocol``: ``PLAINTEXT``, ``SSL``, ``SASL_PLAINTEXT`` or ``SASL_SSL``;
- ``kafka_ssl_cafile`` (the CA that signed the brokers), ``kafka_ssl_certfile`` and
  ``kafka_ssl_keyfile`` (a client certificate, for mutual TLS);
- ``kafka_sasl_mechanism``: ``PLAIN``, ``SCRAM-SHA-256`` or ``SCRAM-SHA-512``, with
  ``kafka_sasl_username``.

The SASL password is a secret and never a setting (settings are printed in errors and passed
to worker processes): it is read from the file named by ``kafka_sasl_password_file`` or, when
that is empty, from the environment variable ``VOICELEDGER_KAFKA_SASL_PASSWORD``, when a client
is created, and it is never logged.

``client_kwargs`` feeds aiokafka's producers, consumers and admin clients; ``faust_credentials``
feeds the Faust app (its ``broker_credentials``).
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Any

from streams.config.settings import ConfigError, Settings

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
PASSWORD_ENV = "VOICELEDGER_KAFKA_SASL_PASSWORD"


def _ssl_context(settings: Settings) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile or None)
        if settings.kafka_ssl_certfile:
            context.load_cert_chain(settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile or None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"kafka_ssl_*: cannot load the TLS files: {exc}") from None
    return context


def _password(settings: Settings) -> str:
    if settings.kafka_sasl_password_file:
        try:
            return Path(settings.kafka_sasl_password_file).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"kafka_sasl_password_file: cannot read {settings.kafka_sasl_password_file}: "
                              f"{exc.strerror}") from None
    password = os.environ.get(PASSWORD_ENV, "")
    if not password:
        raise ConfigError(f"kafka_sasl_password_file: SASL needs a password: name a file, or set {PASSWORD_ENV}")
    return password


def client_kwargs(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client: nothing for plaintext."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    out: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        out["ssl_context"] = _ssl_context(settings)
    if protocol.startswith("SASL"):
        out.update(sasl_mechanism=settings.kafka_sasl_mechanism, sasl_plain_username=settings.kafka_sasl_username,
                   sasl_plain_password=_password(settings))
    return out


def faust_credentials(settings: Settings) -> object | None:
    """Faust's ``broker_credentials`` for the same settings, or None for plaintext."""
    import faust

    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = _ssl_context(settings) if protocol in ("SSL", "SASL_SSL") else None
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    # With an SSL context Faust speaks SASL_SSL, without one SASL_PLAINTEXT.
    return faust.SASLCredentials(username=settings.kafka_sasl_username, password=_password(settings),
                                 ssl_context=context, mechanism=settings.kafka_sasl_mechanism)
