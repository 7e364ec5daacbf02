import time

import pytest

from components.movielens.tfds_source import SourceUnavailableError, load_tfds


def test_unreachable_download_fails_fast_naming_the_offline_sources(tmp_path):
    started = time.monotonic()
    with pytest.raises(SourceUnavailableError) as error:
        # Port 9 on loopback refuses at once, as an offline machine does for GroupLens.
        load_tfds(data_dir=str(tmp_path), download_url="http://127.0.0.1:9/ml-100k.zip",
                  timeout_seconds=2.0)
    assert time.monotonic() - started < 30
    message = str(error.value)
    assert "--data synthetic" in message and "--data PATH" in message
    assert "127.0.0.1:9" in message
