"""The event codec a process uses: the configured Schema Registry's, or the committed files'."""

from __future__ import annotations

from schemas.codec import EventCodec
from streams.config.settings import Settings


def codec_for(settings: Settings) -> EventCodec:
    """The codec with the configured registry: a Schema Registry's, or the committed files'."""
    if settings.schema_registry_url:
        from schemas.confluent import ConfluentSchemaRegistry

        return EventCodec(ConfluentSchemaRegistry(settings.schema_registry_url))
    return EventCodec()
