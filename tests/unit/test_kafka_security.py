"""R35: Kafka TLS and SASL options (streams/kafka/security.py). Config level only: no broker
with TLS or SASL can be started on these machines (see the README)."""

from dataclasses import replace

import faust
import pytest

from streams.config.settings import ConfigError, Settings, load_settings
from streams.kafka.security import PASSWORD_ENV, client_kwargs, faust_credentials

SASL = replace(Settings(), kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_mechanism="SCRAM-SHA-512",
               kafka_sasl_username="ledger")


def test_plaintext_adds_nothing():
    assert client_kwargs(Settings()) == {} and faust_credentials(Settings()) is None


def test_R35_sasl_reads_the_password_from_a_file_or_the_environment_never_from_settings(tmp_path, monkeypatch):
    secret = tmp_path / "kafka-password"
    secret.write_text("s3cret-from-file\n")
    kwargs = client_kwargs(replace(SASL, kafka_sasl_password_file=str(secret)))
    assert kwargs == {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
                      "sasl_plain_username": "ledger", "sasl_plain_password": "s3cret-from-file"}
    monkeypatch.setenv(PASSWORD_ENV, "s3cret-from-env")
    assert client_kwargs(SASL)["sasl_plain_password"] == "s3cret-from-env"
    credentials = faust_credentials(SASL)
    assert isinstance(credentials, faust.SASLCredentials) and credentials.password == "s3cret-from-env"
    assert "s3cret" not in repr(SASL)


def test_R35_missing_secrets_and_bad_tls_files_are_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    with pytest.raises(ConfigError, match=f"kafka_sasl_password_file: SASL needs a password.*{PASSWORD_ENV}"):
        client_kwargs(SASL)
    with pytest.raises(ConfigError, match="kafka_ssl_"):
        client_kwargs(replace(Settings(), kafka_security_protocol="SSL", kafka_ssl_cafile=str(tmp_path / "none.pem")))
    context = client_kwargs(replace(Settings(), kafka_security_protocol="SSL"))["ssl_context"]
    assert context.verify_mode.name == "CERT_REQUIRED"  # brokers' certificates are checked


@pytest.mark.parametrize("env,setting", [
    ({"VOICELEDGER_KAFKA_SECURITY_PROTOCOL": "TLS"}, "kafka_security_protocol"),
    ({"VOICELEDGER_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "kafka_sasl_username"),
    ({"VOICELEDGER_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "VOICELEDGER_KAFKA_SASL_USERNAME": "u",
      "VOICELEDGER_KAFKA_SASL_MECHANISM": "GSSAPI"}, "kafka_sasl_mechanism"),
])
def test_bad_security_settings_name_themselves(env, setting):
    with pytest.raises(ConfigError) as info:
        load_settings(None, env=env)
    assert str(info.value).startswith(setting + ":")
