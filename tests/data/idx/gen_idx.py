#!/usr/bin/env python3
"""Writes the tiny IDX files tests/test_idx.c reads: valid ones (plain and
gzip) and one hostile file per way an IDX reader can be fooled.

    python3 tests/data/idx/gen_idx.py      # rewrites the files beside it

Every file is deterministic (gzip mtime 0), so re-running changes nothing.
"""
import gzip
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def header(dtype, dims):
    return bytes([0, 0, dtype, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


# images: 3 x 4 x 5, pixel k = (37 k + 11) mod 256 except k = 0 -> 0, k = 1 -> 255
pixels = bytes([0, 255] + [(37 * k + 11) % 256 for k in range(2, 60)])
images = header(0x08, [3, 4, 5]) + pixels
# colour images, idx4 (N, C, H, W) = 2 x 3 x 4 x 5, the same pixel rule for k < 120
pixels4 = bytes([0, 255] + [(37 * k + 11) % 256 for k in range(2, 120)])
images4 = header(0x08, [2, 3, 4, 5]) + pixels4
labels = header(0x08, [3]) + bytes([7, 0, 255])

# --- valid
write("images_3x4x5.idx", images)
write("images_3x4x5.idx.gz", gz(images))
write("images_concat.idx.gz", gz(images[:30]) + gz(images[30:]))   # two gzip members
write("labels_3.idx", labels)
write("labels_3.idx.gz", gz(labels))
write("labels_4.idx", header(0x08, [4]) + bytes([1, 2, 3, 4]))
write("images_2x3x4x5.idx", images4)
write("images_2x3x4x5.idx.gz", gz(images4))

# --- hostile, plain
write("empty.idx", b"")
write("short_magic.idx", b"\x00\x00\x08")
write("bad_magic.idx", b"\x01\x02\x08\x03" + images[4:])
write("unknown_dtype.idx", header(0x07, [3, 4, 5]) + pixels)
write("float_dtype.idx", header(0x0D, [1, 1, 1]) + struct.pack(">f", 0.5))
write("ndim0.idx", bytes([0, 0, 8, 0]))
write("zero_dim.idx", header(0x08, [3, 0, 5]))
write("short_dims.idx", header(0x08, [3, 4, 5])[:9])
write("truncated.idx", images[:-1])
write("trailing.idx", images + b"\x00")
write("huge_claim.idx", header(0x08, [60000000, 28, 28]) + pixels)    # 47 GB claimed
write("overflow.idx", header(0x08, [0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF]) + pixels)

# --- hostile, plain idx4 (and a fifth dimension)
write("ndim5.idx", header(0x08, [1, 1, 1, 1, 1]) + b"\x00")
write("idx4_zero_dim.idx", header(0x08, [2, 0, 4, 5]))
write("idx4_short_dims.idx", header(0x08, [2, 3, 4, 5])[:16])        # 3 of the 4 sizes
write("idx4_truncated.idx", images4[:-1])
write("idx4_trailing.idx", images4 + b"\x00")
write("idx4_huge_claim.idx", header(0x08, [60000, 3, 64, 64]) + pixels4)  # 737 MB claimed
write("idx4_overflow.idx", header(0x08, [0xFFFFFFFF] * 4) + pixels4)
write("idx4_big_dims.idx", header(0x08, [1, 0x7FFFFFFF, 0x7FFFFFFF, 2]) + pixels4)  # ~2^63 bytes

# --- hostile, gzip
write("gz_huge_claim.idx.gz", gz(header(0x08, [1000000, 1000, 1000]) + pixels))
write("gz_idx4_huge_claim.idx.gz", gz(header(0x08, [1000000, 3, 64, 64]) + pixels4))
write("gz_idx4_short_data.idx.gz", gz(images4[:-1]))
full = gz(images)
write("gz_cut.idx.gz", full[: len(full) // 2])                       # stream cut short
bad_crc = bytearray(full)
bad_crc[-8] ^= 0xFF                                                    # CRC32 of the trailer
write("gz_bad_crc.idx.gz", bytes(bad_crc))
write("gz_short_data.idx.gz", gz(images[:-1]))                         # inflates fine, too short
write("gz_trailing_data.idx.gz", gz(images + b"\x00"))                # inflates fine, too long
write("gz_garbage_after.idx.gz", full + b"garbage!")                   # not another gzip member
