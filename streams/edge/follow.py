"""``voiceledger ingest --follow``: a growing CDR file (Asterisk's Master.csv, or JSON Lines)
tailed as the switch writes it, through the same parsing, call assembly, number directory and
dead letters as file ingest.

**Position.** After each chunk of complete lines is on the broker (acknowledged, including its
dead letters), the follower writes its position to a small JSON file (``--position``, default
``<PATH>.position``): the file's inode, the byte offset after the last line taken, and the line
number. The write is atomic (a temporary file renamed over the old one), so a restart resumes
exactly after the last acknowledged chunk: no line is skipped. A line still being written (no
newline yet) is left for the next read.

**Rotation.** logrotate renames the file and the switch opens a new one (``create``), or it
copies and truncates it (``copytruncate``). The follower notices either at end of file (the
path's inode changed, or the file is shorter than the position), finishes the old file, and
starts the new one at its first line. After a restart, an old position's inode is looked for
among the files of the directory (``Master.csv.1``), and the rest of that file is read first.

**Nothing twice.** Before a chunk is sent, the position file records, per partition of the
events and dead-letter topics, an offset at or before where the chunk's records can land (the
offsets the broker acknowledged to this follower, else the end offsets it reported at start:
Tansu may report too little, never too much). A follower killed mid-chunk finds that mark at its
restart, reads the two topics from there, and does not send again the calls (by call key,
revision and times: what is in clear on the log) and dead letters (by file line) that reached
them. So a kill at any point neither skips nor repeats a line, with no transactional producer
(the embedded broker has none).

Legs of one call are assembled within a chunk: Asterisk writes a call's rows together when it
ends, so they arrive in one read.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from projections.events import CallDetailRecord
from streams.config.settings import Settings
from streams.edge.cdr_sink import CdrSink
from streams.edge.ingest import log_directory
from streams.edge.source import Source, parse_lines
from streams.kafka.reader import end_offsets, read_topic
from streams.kafka.security import client_kwargs

CHUNK_LINES = 2_000  # lines sent, acknowledged and recorded together
POLL_S = 0.25  # how often the end of the file is looked at again
LINE_BYTES_MAX = 64 * 1024  # a "line" longer than this without a newline is cut and refused
DIRECTORY_REFRESH_S = 60.0  # a newly opened account's numbers are found within this


@dataclass
class Position:
    inode: int = 0
    offset: int = 0  # bytes taken from the file: the start of the next line
    line: int = 0  # lines taken
    # While a chunk is being sent: per topic and partition, an offset at or before its first
    # record (``{"topic": {"partition": offset}}``), so that a restart can see what reached the log.
    pending: dict | None = None

    @classmethod
    def load(cls, path: Path) -> Position:
        try:
            data = json.loads(path.read_text())
            pending = data.get("pending")
            if pending is not None and not isinstance(pending, dict):
                raise TypeError("pending")
            return cls(int(data["inode"]), int(data["offset"]), int(data["line"]), pending)
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a follow position file ({exc}); move it away to start over") from None

    def save(self, path: Path) -> None:
        temporary = path.with_name(path.name + ".tmp")
        with open(temporary, "w") as handle:
            json.dump({"inode": self.inode, "offset": self.offset, "line": self.line, "pending": self.pending}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


def _rotated_file(path: Path, inode: int) -> Path | None:
    """The file that now holds inode ``inode`` (the followed file renamed by a rotation)."""
    for candidate in sorted(path.parent.iterdir()):
        if candidate != path and candidate.is_file() and candidate.stat().st_ino == inode:
            return candidate
    return None


class Follower:
    def __init__(self, settings: Settings, path: Path, source: Source, position_file: Path,
                 report: Callable[[str], None]) -> None:
        self.settings, self.path, self.source, self.position_file = settings, path, source, position_file
        self.report = report
        self.position = Position.load(position_file)
        self.sink = CdrSink(settings)
        self.stopping = asyncio.Event()
        self.csv_directory = source.directory  # the --directory file, over the log's numbers
        self._directory_due = 0.0
        self._bases: dict[str, dict[int, int]] = {}
        self._sent_calls: set[tuple] = set()  # of the chunk a kill interrupted: already on the log
        self._sent_letters: set[int] = set()

    async def run(self) -> None:
        await self.sink.start()
        try:
            await self._bases_and_recovery()
            await self._reload_directory()
            await self._switch_if_rotated()  # a rotation while the follower was stopped
            while not self.stopping.is_set():
                if await self._take(self.path) or await self._switch_if_rotated():
                    continue
                await self._reload_directory()
                try:
                    await asyncio.wait_for(self.stopping.wait(), POLL_S)
                except asyncio.TimeoutError:
                    pass
        finally:
            await self.sink.stop()

    async def _reload_directory(self) -> None:
        """The log's numbers (the accounts changelog) at the start and every ``DIRECTORY_REFRESH_S``."""
        now = asyncio.get_running_loop().time()
        if self.source.fmt != "avro" and now >= self._directory_due:
            self.source = replace(self.source, directory=await log_directory(self.settings, self.csv_directory))
            self._directory_due = now + DIRECTORY_REFRESH_S

    async def _switch_if_rotated(self) -> bool:
        """At end of file: a new file under the path (renamed away: its last lines are read
        first), or the same one truncated (copytruncate). Either way, the new one from line 1."""
        inode = _inode(self.path)
        if inode is None or not self.position.inode:
            return False
        if inode == self.position.inode and self._size() >= self.position.offset:
            return False
        old = _rotated_file(self.path, self.position.inode) if inode != self.position.inode else None
        if old is not None:
            while await self._take(old):
                pass
        self.report(f"follow: {self.path} was rotated or truncated after {self.position.line} lines; "
                    "starting the new file")
        self.position = Position(inode)
        self.position.save(self.position_file)
        return True

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    async def _take(self, path: Path) -> bool:
        """One chunk of complete lines from the position on: sent, acknowledged, recorded."""
        try:
            with open(path, "rb") as handle:
                inode = os.fstat(handle.fileno()).st_ino
                if self.position.inode and inode != self.position.inode:
                    return False
                handle.seek(self.position.offset)
                lines, taken = _complete_lines(handle, CHUNK_LINES)
        except FileNotFoundError:
            return False
        if not lines:
            return False
        self.position.inode = inode
        self.position.pending = self._starts()
        self.position.save(self.position_file)  # write-ahead: where this chunk's records can be
        await self._send(lines)
        self.position = Position(inode, self.position.offset + taken, self.position.line + len(lines))
        self.position.save(self.position_file)
        return True

    def _starts(self) -> dict:
        """Per topic and partition, an offset at or before the next record this follower sends."""
        return {topic: {str(p): max(base, self.sink.acked.get((topic, p), 0)) for p, base in bases.items()}
                for topic, bases in self._bases.items()}

    async def _bases_and_recovery(self) -> None:
        """The topics' end offsets now (lower bounds of what comes next), and after a kill in the
        middle of a chunk, what of it reached the log: those records are not sent again."""
        s, security = self.settings, client_kwargs(self.settings)
        topics = (s.events_topic, s.dead_letter_topic)
        self._bases = {t: await end_offsets(s.broker, t, security) for t in topics}
        pending = self.position.pending
        if not pending:
            return
        starts = {t: {int(p): o for p, o in pending.get(t, {}).items()} for t in topics}
        for record in await read_topic(s.broker, s.events_topic, security=security, starts=starts[s.events_topic]):
            events, _ = self.sink.codec.decode_message(record.value)
            self._sent_calls.update(_identity(e) for e in events if isinstance(e, CallDetailRecord))
        for record in await read_topic(s.broker, s.dead_letter_topic, security=security,
                                       starts=starts[s.dead_letter_topic]):
            letter = self.sink.codec.decode_dead_letter(record.value)
            if letter["source_topic"] == f"file:{self.path}":
                self._sent_letters.add(letter["source_offset"])
        self.report(f"follow: after a stop mid-chunk, {len(self._sent_calls)} calls and {len(self._sent_letters)} dead "
                    "letters of it were already on the log; they are not sent again")

    async def _send(self, lines: list[str]) -> None:
        chunk = []
        for parsed in parse_lines(lines, self.source, self.position.line + 1):
            rejected = parsed.rejected if parsed.cdr is None else self.sink.refusal(parsed.cdr)
            if rejected is None:
                if _identity(parsed.cdr) not in self._sent_calls:
                    chunk.append(parsed.cdr)
            elif parsed.line not in self._sent_letters:
                self.report(f"  {self.path}:{parsed.line}: {rejected.code}: {rejected}")
                await self.sink.reject(f"file:{self.path}", parsed.line, parsed.raw, rejected)
        if chunk:
            await self.sink.calls(chunk)
        await self.sink.flush()
        self._sent_calls.clear()  # only the chunk in flight at a kill can be on the log already
        self._sent_letters.clear()


def _identity(cdr: CallDetailRecord) -> tuple:
    """A call as the log holds it, by what is in clear there (the numbers may be sealed)."""
    return cdr.call_key, cdr.revision, cdr.start_at_ms, cdr.answer_at_ms, cdr.end_at_ms, cdr.disposition


def _complete_lines(handle, limit: int) -> tuple[list[str], int]:  # noqa: ANN001 - a binary file
    """Up to ``limit`` lines that end with a newline, and their bytes; a partial last line waits.
    A line longer than ``LINE_BYTES_MAX`` is taken as it is (it will be refused, not wait forever)."""
    lines, taken = [], 0
    while len(lines) < limit:
        raw = handle.readline(LINE_BYTES_MAX)
        if not raw or (not raw.endswith(b"\n") and len(raw) < LINE_BYTES_MAX):
            break
        lines.append(raw.decode("utf-8", errors="replace"))
        taken += len(raw)
    return lines, taken


async def follow(settings: Settings, path: Path, source: Source, position_file: Path,
                 report: Callable[[str], None]) -> None:
    """Tail ``path`` until SIGTERM or SIGINT; each chunk is on the log before its position is saved."""
    follower = Follower(settings, path, source, position_file, report)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, follower.stopping.set)
    await follower.run()
