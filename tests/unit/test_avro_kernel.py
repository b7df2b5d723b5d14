"""Issue 22: the compiled Avro kernel (schemas/avro_kernel.pyx) writes and reads as fastavro does.

fastavro is the reference (what the codec used before the kernel). For every schema registered,
generated records must come out byte for byte the same through the kernel, and read back the
same; records the kernel is not sure of (wrong types, missing fields, integers out of range,
lone surrogates) and bytes it is not sure of (truncated, flipped, out of range) must be left to
fastavro, which writes or reads them, or refuses them, as before.
"""

from __future__ import annotations

import types

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import avro_fast
from schemas.avro_fast import AvroKernel, Unsupported, fastavro_read, fastavro_write, plan_of
from schemas.codec import HEADER, MAGIC_BYTE, EventCodec, _entry_to_dict
from projections.journal import JournalEntry, Posting

REGISTRY = EventCodec().registry
SUBJECTS = sorted(REGISTRY.latest)
_INT32, _INT64 = 2**31, 2**63


def datums(schema, named):
    """Valid records of a fastavro-parsed schema (what the codec hands the writer)."""
    if isinstance(schema, str):
        simple = {"null": st.none(), "boolean": st.booleans(), "int": st.integers(-_INT32, _INT32 - 1),
                  "long": st.integers(-_INT64, _INT64 - 1), "string": st.text(max_size=12),
                  "bytes": st.binary(max_size=12)}
        return simple[schema] if schema in simple else datums(named[schema], named)
    if isinstance(schema, list):
        return st.one_of(*(datums(branch, named) for branch in schema))
    kind = schema["type"]
    if kind == "record":
        return st.fixed_dictionaries({f["name"]: datums(f["type"], named) for f in schema["fields"]})
    if kind == "array":  # a tuple too: fastavro writes it as the list, and so must the kernel
        items = st.lists(datums(schema["items"], named), max_size=4)
        return items | items.map(tuple)
    if kind == "map":
        return st.dictionaries(st.text(max_size=6), datums(schema["values"], named), max_size=3)
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    return datums(kind, named)


# What a record from outside might carry instead of a valid value.
ODD = st.sampled_from([True, False, 2**64, -2**63 - 1, 2**31, 1.5, "x\udc80", b"raw", None, "", 0, [], {}])


def spoiled(record, data):
    """The record with one value (at any depth) replaced by an odd one, or one field removed."""
    if not isinstance(record, dict) or not record:
        return data.draw(ODD)
    name = data.draw(st.sampled_from(sorted(record)))
    out = dict(record)
    if data.draw(st.booleans()):
        del out[name]
    elif isinstance(out[name], dict) and out[name]:
        out[name] = spoiled(out[name], data)
    else:
        out[name] = data.draw(ODD)
    return out


def _outcome(write):
    try:
        return "bytes", write()
    except Exception as exc:  # noqa: BLE001 - the refusal's type is what is compared
        return "refused", type(exc).__name__


def per_schema(examples: int):
    """A property test run on every registered schema, ``examples`` records each."""
    def decorate(test):
        test = given(data=st.data())(test)
        test = settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])(test)
        return pytest.mark.parametrize("subject", SUBJECTS)(test)
    return decorate


def generated(subject: str, data) -> tuple:
    """(the schema's registration, a record drawn for it, the kernel's plan of it)."""
    reg = REGISTRY.latest_of(subject)
    record = data.draw(datums(reg.parsed, reg.parsed["__named_schemas"]))
    return reg, record, AvroKernel().plan(reg.schema_id, reg.parsed)


def test_the_kernel_is_built():
    # Without it every test below would compare fastavro with itself.
    assert avro_fast.COMPILED, "schemas/avro_kernel.pyx is not built: pip install -e . (needs Cython and gcc)"


@pytest.mark.parametrize("subject", SUBJECTS)
def test_every_written_schema_has_a_plan(subject):
    reg = REGISTRY.latest_of(subject)
    assert AvroKernel().plan(reg.schema_id, reg.parsed) is not None


@per_schema(60)
def test_kernel_writes_fastavros_bytes(subject, data):
    reg, record, plan = generated(subject, data)
    header = HEADER.pack(MAGIC_BYTE, reg.schema_id)
    # The kernel itself, not the fallback: a valid record must be written by it, and equal.
    assert avro_fast.avro_kernel.write(header, plan, record) == fastavro_write(header, reg.parsed, record)


@per_schema(60)
def test_odd_records_are_left_to_fastavro(subject, data):
    reg, record, _ = generated(subject, data)
    record = spoiled(record, data)
    header = HEADER.pack(MAGIC_BYTE, reg.schema_id)
    ours = _outcome(lambda: AvroKernel().write(header, reg.schema_id, reg.parsed, record))
    assert ours == _outcome(lambda: fastavro_write(header, reg.parsed, record))


_ACCOUNTS = st.text(max_size=12)


@st.composite
def journal_entries(draw):
    """Balanced entries as the fold makes them (frozen dataclasses, postings a tuple)."""
    amounts = draw(st.lists(st.integers(-_INT64 // 8, _INT64 // 8), min_size=1, max_size=3))
    postings = tuple(Posting(draw(_ACCOUNTS), a) for a in [*amounts, -sum(amounts)])
    return JournalEntry(draw(st.text(max_size=12)), draw(_ACCOUNTS), draw(st.sampled_from(["usage", "payment"])),
                        draw(st.integers(-_INT64, _INT64 - 1)), draw(st.text(max_size=3)), postings)


@given(entries=st.lists(journal_entries(), max_size=5))
@settings(max_examples=80, deadline=None)
def test_journal_entries_are_written_from_their_attributes_as_fastavro_writes_their_dicts(entries):
    reg = REGISTRY.latest_of("voiceledger.JournalEntryBatch")
    header = HEADER.pack(MAGIC_BYTE, reg.schema_id)
    plan = AvroKernel().plan(reg.schema_id, reg.parsed)
    reference = fastavro_write(header, reg.parsed, {"entries": [_entry_to_dict(e) for e in entries]})
    assert avro_fast.avro_kernel.write(header, plan, {"entries": entries}) == reference  # the kernel itself
    assert EventCodec().encode_journal_batch(entries) == reference


def test_an_object_the_kernel_may_not_read_goes_to_fastavro_as_its_dicts():
    """A type not registered for attributes, or one without a field's attribute: the kernel
    gives up and ``as_dicts`` is what fastavro writes."""
    reg = REGISTRY.latest_of("voiceledger.JournalEntryBatch")
    header = HEADER.pack(MAGIC_BYTE, reg.schema_id)
    entry = JournalEntry("c:x/1", "a", "usage", 5, "EUR", (Posting("customer:a", 3), Posting("revenue:usage:domestic", -3)))
    as_dicts = {"entries": [_entry_to_dict(entry)]}
    reference = fastavro_write(header, reg.parsed, as_dicts)
    odd = types.SimpleNamespace(**{f: getattr(entry, f) for f in ("entry_id", "account_id", "kind", "occurred_at_ms",
                                                                   "currency", "postings")})
    for record in ({"entries": [odd]}, {"entries": [Posting("customer:a", 3)]}):
        with pytest.raises(Exception):  # noqa: B017 - Unfit or AttributeError: either hands over to fastavro
            avro_fast.avro_kernel.write(header, AvroKernel().plan(reg.schema_id, reg.parsed), record)
        assert AvroKernel().write(header, reg.schema_id, reg.parsed, record, lambda: as_dicts) == reference


@pytest.mark.parametrize("odd", [True, 2**63, -2**63 - 1, 1.5, "1"])
def test_the_kernel_refuses_what_is_not_exactly_a_long(odd):
    plan = plan_of("long", {})
    with pytest.raises(Exception):  # noqa: B017 - Unfit or OverflowError: either hands over to fastavro
        avro_fast.avro_kernel.write(b"", plan, odd)


def test_an_int_field_out_of_32_bits_is_left_to_fastavro():
    with pytest.raises(avro_fast.avro_kernel.Unfit):
        avro_fast.avro_kernel.write(b"", plan_of("int", {}), 2**31)


@pytest.mark.parametrize("schema", [{"type": "long", "logicalType": "timestamp-millis"}, ["null", "string", "long"],
                                    {"type": "fixed", "name": "f", "size": 4}, "voiceledger.Nowhere"])
def test_schemas_the_kernel_does_not_know_have_no_plan(schema):
    with pytest.raises(Unsupported):
        plan_of(schema, {})


def _mutated(body: bytes, data) -> bytes:
    """Bytes from outside: the body cut short, a byte flipped or set, or bytes added."""
    how = data.draw(st.sampled_from(["cut", "flip", "set", "grow"]))
    if how == "cut" or not body:
        return body[:data.draw(st.integers(0, max(0, len(body) - 1)))]
    at = data.draw(st.integers(0, len(body) - 1))
    if how == "flip":
        return body[:at] + bytes([body[at] ^ (1 << data.draw(st.integers(0, 7)))]) + body[at + 1:]
    if how == "set":
        return body[:at] + bytes([data.draw(st.sampled_from([0x00, 0x01, 0x02, 0x7F, 0x80, 0xFF]))]) + body[at + 1:]
    return body[:at] + data.draw(st.binary(min_size=1, max_size=11)) + body[at:]


@per_schema(60)
def test_kernel_reads_what_fastavro_reads(subject, data):
    reg, record, plan = generated(subject, data)
    value = fastavro_write(HEADER.pack(MAGIC_BYTE, reg.schema_id), reg.parsed, record)
    # The kernel itself: valid bytes must be read by it, to the same record and the same end.
    assert avro_fast.avro_kernel.read(value, HEADER.size, plan) == fastavro_read(value, HEADER.size, reg.parsed)


@per_schema(100)
def test_mutated_bytes_read_as_fastavro_reads_them(subject, data):
    reg, record, plan = generated(subject, data)
    value = _mutated(fastavro_write(b"", reg.parsed, record), data)
    try:
        ours = avro_fast.avro_kernel.read(value, 0, plan)
    except Exception:  # noqa: BLE001 - the kernel gives up: fastavro reads it, tested below
        ours = None
    if ours is not None:  # what the kernel reads, fastavro reads the same
        assert ours == fastavro_read(value, 0, reg.parsed)
    assert _outcome(lambda: AvroKernel().read(value, 0, reg.schema_id, reg.parsed)) == \
        _outcome(lambda: fastavro_read(value, 0, reg.parsed))


@pytest.mark.parametrize("body", [b"", b"\x80", b"\xff" * 11, b"\x03", b"\x02\xff\xfe"])
def test_the_kernel_refuses_bytes_it_is_not_sure_of(body):
    # cut short, a varint past 64 bits, a negative length, a string that is not UTF-8
    with pytest.raises(avro_fast.avro_kernel.Unfit):
        avro_fast.avro_kernel.read(body, 0, plan_of("string", {}) if body != b"\xff" * 11 else plan_of("long", {}))


def test_a_boolean_byte_other_than_0_or_1_is_left_to_fastavro():
    with pytest.raises(avro_fast.avro_kernel.Unfit):
        avro_fast.avro_kernel.read(b"\x02", 0, plan_of("boolean", {}))


@pytest.mark.parametrize("schema,body", [(["null", "long"], b"\x04\x02"), (["null", "long"], b"\x01"),
                                         ({"type": "enum", "name": "e", "symbols": ["a", "b"]}, b"\x04"),
                                         ({"type": "enum", "name": "e", "symbols": ["a", "b"]}, b"\x01")])
def test_an_index_out_of_range_is_left_to_fastavro(schema, body):
    # A union's branch or an enum's symbol that the schema does not have. fastavro refuses them,
    # but for an enum index of -1, which it reads as the last symbol (a Python index): the
    # kernel leaves that to it too, so the codec reads such a record as it did before.
    with pytest.raises(avro_fast.avro_kernel.Unfit):
        avro_fast.avro_kernel.read(body, 0, plan_of(schema, {}))


def test_a_worker_with_the_kernel_and_one_without_write_the_same_bytes():
    """A group may mix installs with and without a compiler, and a rebuild may run on either:
    the whole batch path (decode, fold, every output and every state) must give the same bytes."""
    from streams.config.settings import Settings
    from streams.dev.simulate import SimulationSpec, simulate
    from streams.kafka.producer import plan_messages
    from streams.worker.fold_settings import fold_settings_from
    from streams.worker.processor import BatchProcessor, InMessage

    events = simulate(SimulationSpec(accounts=60, calls=3_000, days=2, seed=11, duplicate_ratio_percent=5,
                                     correction_ratio_percent=5))
    outputs = []
    for kernel in (AvroKernel(), AvroKernel(compiled=False)):
        codec = EventCodec(kernel=kernel)
        planned = list(plan_messages(events, codec, 2, 50))
        messages = [InMessage("events", p, i, 2**62, v) for i, (p, _, v) in enumerate(planned)]
        processor, states, written = BatchProcessor(codec, fold_settings_from(Settings()), 2), {}, []
        for i in range(0, len(messages), 40):
            result = processor.process(messages[i:i + 40], states.get)
            states.update(result.states)
            written.append(([v for _, _, v in planned[i:i + 40]], sorted(
                (a, codec.encode_state(s)) for a, s in result.states.items()), result.entries, result.rated_calls,
                result.status_changes, result.invoices, result.numbering, result.dead_letters, result.call_rows,
                result.journal_rows, sorted(result.counts.items())))
        outputs.append(written)
    assert outputs[0] == outputs[1]
    assert sum(len(batch[2]) + len(batch[3]) for batch in outputs[0]) > 0  # something was written
