"""The progress line: speed measured after the first chunk, the bar rewritten in place."""

import io

from rnn_jax._src.runs.progress import Progress


def test_progress_speed_excludes_the_first_chunk():
    out = io.StringIO()
    bar = Progress(300, file=out)
    bar.chunk(100, 5.0, 100)  # compiles
    assert bar.seeds_per_second is None and "eta after the second chunk" in out.getvalue()
    bar.chunk(100, 0.5, 200)
    bar.chunk(100, 0.5, 300)
    assert bar.seeds_per_second == 200.0
    text = out.getvalue()
    assert "\r[####################" in text and text.endswith("\n")
    assert "(compile + first chunk 5.0s)" in text
    t = bar.timings()
    assert t["first_chunk_seconds"] == 5.0 and t["seeds_per_second"] == 200.0


def test_a_disabled_progress_prints_nothing_but_keeps_time():
    out = io.StringIO()
    bar = Progress(10, enabled=False, file=out)
    bar.say("hello")
    bar.chunk(10, 1.0, 10)
    assert out.getvalue() == "" and bar.timings()["first_chunk_seconds"] == 1.0
