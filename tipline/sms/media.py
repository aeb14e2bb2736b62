"""MMS: photos and documents a tipster texts, added to their tip in the worker.

The webhook only writes a ``fetch_media`` outbox row (message SID and media URLs, sealed
under the relay key) and answers at once. Here, in the worker: download each item with
the account credentials, scrub it with the same registry as web attachments, seal it to
the tip key, and commit the files with a ``purge_message`` row in the same transaction,
so the message is deleted at Twilio only once its media is safely sealed. An item we
cannot clean is never stored; the tipster gets a one-line text saying so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import delete

from tipline import outbox
from tipline.db import transaction
from tipline.followup.thread import add_files
from tipline.intake.attachments import CleanFile, discard_uncommitted, safe_name, seal_files
from tipline.intake.scrub import ScrubError, UnsupportedType, scrub
from tipline.models import OutboxEntry, Tip
from tipline.outbox import Work
from tipline.runtime import Runtime
from tipline.sms import provider

log = logging.getLogger("tipline.sms.media")

# What the tipster is told about items we did not keep (SEND_SMS "notice" payloads).
NOTICE_UNSUPPORTED = "media_unsupported"
NOTICE_TOO_LARGE = "media_too_large"


@dataclass(frozen=True)
class MediaResult:
    kept: int  # items scrubbed, sealed and committed
    refused: tuple[str, ...]  # a notice per item not kept (NOTICE_*)
    work: tuple[Work, ...]  # committed outbox rows to enqueue (purge, notice)


class _AlreadyDone(Exception):
    """Another delivery of the same job committed first (rolls this one back)."""


def attach_media(runtime: Runtime, outbox_id: int) -> MediaResult | None:
    """Do one ``fetch_media`` row; None when it was done before (idempotent).

    Raises :class:`provider.ProviderError` when Twilio cannot be reached or refuses the
    download (anything but 404, gone): the row stays and the job is retried (and swept);
    the message is not deleted at Twilio before its media is sealed."""
    settings = runtime.settings
    with transaction(runtime.sessions) as session:
        entry = session.get(OutboxEntry, outbox_id)
        if entry is None or entry.job != outbox.FETCH_MEDIA:
            return None
        payload = outbox.payload_of(entry, settings.relay_key)
        tip = session.get(Tip, entry.tip_id) if entry.tip_id is not None else None
    message_sid: str = payload["message_sid"]
    urls: list[str] = payload["media"]
    lang: str = payload.get("lang", "en")

    files: list[CleanFile] = []
    refused: list[str] = []
    if tip is not None:
        client = provider.make_client(settings)
        if client is None:
            raise provider.ProviderError("Twilio is not configured: cannot fetch MMS media")
        total = 0
        for index, url in enumerate(urls, start=1):
            try:
                data, _announced_type = provider.fetch_media(
                    client, settings, url, settings.max_attachment_bytes
                )
            except provider.MediaTooLarge:
                refused.append(NOTICE_TOO_LARGE)
                continue
            except provider.ProviderError as exc:
                if exc.status != 404:
                    # Unreachable, or refused (a rotated token answers 401): never drop the
                    # item; the row stays, the job is retried, then swept, then reported.
                    raise
                # Gone at Twilio already: nothing to keep, nothing to tell.
                log.warning("MMS item %d of outbox %d is gone at Twilio", index, outbox_id)
                continue
            total += len(data)
            if total > settings.max_attachments_bytes:
                refused.append(NOTICE_TOO_LARGE)
                continue
            try:
                # The type is detected from the content, never taken from Twilio's header.
                cleaned = scrub(data)
            except (UnsupportedType, ScrubError):
                refused.append(NOTICE_UNSUPPORTED)
                continue
            finally:
                del data
            files.append(CleanFile(safe_name(f"mms-{index}", cleaned.extension, index), cleaned))

    written: list[str] = []
    try:
        with transaction(runtime.sessions) as session:
            done = session.execute(delete(OutboxEntry).where(OutboxEntry.id == outbox_id)).rowcount
            if done != 1:  # another delivery of this job got here first
                raise _AlreadyDone
            work = []
            if tip is not None and files:
                rows = seal_files(files, runtime.store, tip.public_key, tip.reference, written)
                add_files(session, tip, rows, settings.time_granularity_minutes)
            if tip is not None and refused:
                # One text for all refused items: the first reason is enough to act on.
                work.append(
                    outbox.add(
                        session,
                        outbox.SEND_SMS,
                        tip_id=tip.id,
                        payload={"notice": refused[0], "lang": lang},
                        relay_key=settings.relay_key,
                        granularity_minutes=settings.time_granularity_minutes,
                    )
                )
            # The message (and its media) is deleted at Twilio only now that what we
            # keep of it is committed.
            work.append(
                outbox.add(
                    session,
                    outbox.PURGE_MESSAGE,
                    tip_id=None,
                    payload={"sid": message_sid},
                    relay_key=settings.relay_key,
                    granularity_minutes=settings.time_granularity_minutes,
                )
            )
    except BaseException as exc:
        # Not committed: the sealed files written for it go too.
        discard_uncommitted(runtime.store, written, exc)
        if isinstance(exc, _AlreadyDone):
            return None
        raise
    log.info("MMS for outbox %d: %d item(s) kept, %d refused", outbox_id, len(files), len(refused))
    return MediaResult(len(files), tuple(refused), tuple(work))
