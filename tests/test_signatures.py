"""File signatures, which resume checks and chunk caches compare: any change to a file's bytes changes its signature
(files up to 256 MiB are hashed whole; beyond, every region longer than the spacing of the sampled blocks)."""

from __future__ import annotations

from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import negrec.data.io as io
from negrec.data.io import file_signature, folder_signature


def flipped(path, position: int) -> None:
    data = bytearray(path.read_bytes())
    data[position] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_byte_changed_in_the_middle_of_a_model_sized_file_changes_its_signature(tmp_path):
    """The regression: only the first and last MiB were hashed, so a 3 MiB file's middle went unseen."""
    path = tmp_path / "model.safetensors"
    path.write_bytes(np.random.default_rng(0).bytes(3 * 2**20))
    before = file_signature(path)
    flipped(path, 3 * 2**19)
    assert file_signature(path)[0] == before[0] and file_signature(path) != before


def test_equal_contents_sign_equally_wherever_they_are(tmp_path):
    payload = np.random.default_rng(1).bytes(5000)
    for name in ("a/x.bin", "b/x.bin"):
        (tmp_path / name).parent.mkdir()
        (tmp_path / name).write_bytes(payload)
    assert folder_signature(tmp_path / "a") == folder_signature(tmp_path / "b")
    (tmp_path / "b" / "y.bin").write_bytes(b"")
    assert folder_signature(tmp_path / "a") != folder_signature(tmp_path / "b")  # an added file is a change


@settings(max_examples=60, deadline=None)
@given(size=st.integers(300, 3000), start=st.data())
def test_large_files_any_changed_region_longer_than_the_block_spacing_is_seen(tmp_path_factory, size, start):
    """Large files are signed by their edges and evenly spaced blocks (scaled down here to a few bytes)."""
    edge, blocks, block = 16, 8, 4
    with mock.patch.multiple(io, WHOLE_FILE_BYTES=0, EDGE_BYTES=edge, BLOCKS=blocks, BLOCK_BYTES=block):
        path = tmp_path_factory.mktemp("large") / "weights.bin"
        path.write_bytes(np.random.default_rng(size).bytes(size))
        before = file_signature(path)
        length = -(-(size - 2 * edge) // blocks) + 1  # one more than the distance between block starts
        first = start.draw(st.integers(0, size - length))
        data = bytearray(path.read_bytes())
        data[first : first + length] = bytes(b ^ 0xFF for b in data[first : first + length])
        path.write_bytes(bytes(data))
        assert file_signature(path) != before
