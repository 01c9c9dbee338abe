"""Facts about this machine's memory for tests that count page faults: the
C library, and how much memory one fault maps (which depends on the
kernel's transparent-huge-page mode)."""
import platform

SMALL_PAGE = 4096
HUGE_PAGE = 2 * 2**20
THP_MODE = '/sys/kernel/mm/transparent_hugepage/enabled'
# Whether the allocator tuning can apply (glibc on Linux).
ON_GLIBC = platform.system() == 'Linux' and platform.libc_ver()[0] == 'glibc'


def fault_granularity(thp_mode_file: str = THP_MODE) -> int:
    """Bytes mapped per page fault of a large anonymous block: 2 MiB when
    transparent huge pages are on for every mapping (``[always]`` in
    ``thp_mode_file``), else 4 KiB."""
    try:
        with open(thp_mode_file) as f:
            return HUGE_PAGE if '[always]' in f.read() else SMALL_PAGE
    except OSError:
        return SMALL_PAGE


def expected_faults(nbytes: int) -> int:
    """Page faults of a first write to ``nbytes`` of fresh memory."""
    return nbytes // fault_granularity()
