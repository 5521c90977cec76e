"""Where an index catch-up starts reading (updated_since) relative to its watermark."""

from gateway.provisioning.user_index import EPOCH, catch_up_from


def test_no_watermark_reads_everything():
    assert catch_up_from(EPOCH) is None


def test_a_read_that_found_nobody_rereads_only_what_it_could_have_missed():
    # An org indexed while empty: whoever was stamped long before that read was seen.
    assert catch_up_from(f"{EPOCH} 2026-11-28T12:00:00Z") == "2026-11-28T11:55:00Z"


def test_read_soon_after_newest_change_rereads_the_overlap_window():
    # A write stamped 11:59:50 may commit after a read that began at 11:59:51.
    assert catch_up_from("2026-11-28T11:59:50Z 2026-11-28T11:59:51Z") == "2026-11-28T11:59:48Z"


def test_read_long_after_newest_change_starts_just_after_it():
    assert catch_up_from("2026-11-28T11:00:00Z 2026-11-28T11:30:00Z") == "2026-11-28T11:00:01Z"


def test_old_time_since_the_read_alone_does_not_settle_it():
    # Hours may pass between catch-ups; only the read's own start time counts.
    assert catch_up_from("2026-11-28T11:00:00Z 2026-11-28T11:00:01Z") == "2026-11-28T10:59:58Z"


def test_watermark_without_read_time_rereads_the_overlap():
    assert catch_up_from("2026-11-28T11:00:00Z") == "2026-11-28T10:59:58Z"
