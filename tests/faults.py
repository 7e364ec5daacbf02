"""Faults injected into the real file layer, shared by the tests of write failures."""


def full_disk_on_call(real_copy, number: int):
    """`real_copy` (shutil.copyfile's signature) that fails with ENOSPC on its `number`-th
    call, as a disk filling up half way through a copy would; `.calls` lists the sources."""
    calls = []

    def copy(src, dst, **kwargs):
        calls.append(src)
        if len(calls) == number:
            raise OSError(28, "No space left on device")
        return real_copy(src, dst, **kwargs)

    copy.calls = calls
    return copy
