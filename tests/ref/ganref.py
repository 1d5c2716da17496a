"""ganref.py — writer of GANREF1 reference files, shared by the gen_*.py
scripts (the format is described in tests/testutil.h; the C tests read it).

    ref = RefFile("layers_dense.bin")      # a name under tests/ref/
    put = ref.case()                        # records named "c<i>.<what>"
    put("x", x); put("y", y)
    ref.write()                             # adds "ncases" when cases were used
"""
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SIZE_LIMIT = 300 * 1024  # keep committed reference files small


def as_f32(t):
    """A torch tensor, numpy array or number as a float32 array of 1-4 dims."""
    if hasattr(t, "detach"):
        t = t.detach().cpu().numpy()
    a = np.asarray(t, dtype=np.float32)
    return a.reshape(1) if a.ndim == 0 else a


class RefFile:
    def __init__(self, name):
        self.path = name if os.path.isabs(name) else os.path.join(HERE, name)
        self.records = []
        self.ncases = 0

    def add(self, name, t):
        a = as_f32(t)
        assert 1 <= a.ndim <= 4, (name, a.shape)
        self.records.append((name, a))

    def case(self):
        i = self.ncases
        self.ncases += 1
        return lambda what, t: self.add("c%d.%s" % (i, what), t)

    def write(self):
        """Write the file; returns its size in bytes."""
        if self.ncases:
            self.add("ncases", np.array([self.ncases]))
        assert len(self.records) < 256, (self.path, len(self.records))
        with open(self.path, "wb") as f:
            f.write(b"GANREF1\n")
            for name, a in self.records:
                nb = name.encode()
                f.write(struct.pack("<I", len(nb)) + nb)
                f.write(struct.pack("<I", a.ndim))
                f.write(struct.pack("<%dI" % a.ndim, *a.shape))
                f.write(a.astype("<f4").tobytes())
        size = os.path.getsize(self.path)
        assert size < SIZE_LIMIT, (self.path, size)
        print("%s: %d records, %d bytes" % (os.path.basename(self.path), len(self.records), size))
        return size
