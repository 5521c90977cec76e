"""Where an index catch-up starts reading (updated_since) relative to its watermark."""

from datetime import UTC, datetime

from gateway.provisioning.user_index import EPOCH, catch_up_from

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


def test_no_watermark_reads_everything():
    assert catch_up_from(EPOCH, NOW) is None


def test_recent_watermark_rereads_the_overlap_window():
    assert catch_up_from("2026-11-28T11:59:50Z", NOW) == "2026-11-28T11:59:48Z"


def test_settled_watermark_starts_just_after_it():
    assert catch_up_from("2026-11-28T11:00:00Z", NOW) == "2026-11-28T11:00:01Z"
