"""A full disk under coin.chain.blockfiles, for the tests of its failure handling."""

__all__ = ["fill_disk_under_open_blk_file"]


class _DiskFull:
    """The open blk file as a full disk makes it behave: writes are buffered, flushing
    fails with ENOSPC, closing drops the buffer (as BufferedWriter.close does after a
    failed flush)."""

    def __init__(self, f):
        self.f = f

    def write(self, data):
        return self.f.write(data)

    def flush(self):
        raise OSError(28, "No space left on device")

    def close(self):
        self.f.raw.close()


def fill_disk_under_open_blk_file(blockfiles) -> None:
    """From now on, flushing `blockfiles`' open blk file fails (one must be open)."""
    appender = blockfiles._appenders["blk"]
    appender[1] = _DiskFull(appender[1])
