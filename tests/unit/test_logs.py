"""Structured logs (streams/observe/logs.py): every line is one JSON object, extra ids included."""

import json
import logging

from streams.observe.logs import JsonFormatter


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
