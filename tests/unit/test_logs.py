"""Structured logs (streams/observe/logs.py): every line is one JSON object, extra ids included."""

import json
import logging

import pytest

from streams.observe.logs import JsonFormatter, logging_config


def test_a_log_line_is_json_with_its_event_id_even_with_quotes_and_newlines():
    record = logging.LogRecord("voiceledger.worker", logging.WARNING, __file__, 1, 'bad "event"\nsecond line %s',
                               ("x",), None)
    record.event_id = "cdr-42"
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["msg"] == 'bad "event"\nsecond line x'
    assert (parsed["level"], parsed["logger"], parsed["event_id"]) == ("WARNING", "voiceledger.worker", "cdr-42")
    assert parsed["time"].endswith("+00:00")


@pytest.fixture
def root_logger_restored():
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("level,expected", [("warning", logging.WARNING), ("error", logging.ERROR),
                                            ("info", logging.INFO)])
def test_the_worker_leaves_the_root_logger_at_its_level(root_logger_restored, level, expected):
    """Issue 22: Faust's worker set the root logger to DEBUG for its terminal spinner at any level
    from WARN up, so every debug call of aiokafka and Faust built a record (~5% of a busy worker)."""
    import faust

    from streams.worker.run import _faust_worker_class

    def set_up(worker_class) -> int:
        worker = worker_class(faust.App("logging-test", broker="kafka://127.0.0.1:1"), loglevel=level, quiet=True,
                              logging_config=logging_config(level))
        worker._setup_logging()  # noqa: SLF001 - what Worker.execute_from_commandline does first
        return root_logger_restored.level

    assert set_up(_faust_worker_class()) == expected
    assert not logging.getLogger("aiokafka.producer.producer").isEnabledFor(logging.DEBUG)
    if expected >= logging.WARNING:  # what Faust's own class does, and why the override exists
        assert set_up(faust.Worker) == logging.DEBUG
