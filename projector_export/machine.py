"""What this machine gives the process: the CPUs it may run on and the memory it may still take.

Declared sizes (an `.npy` header, an HDF5 dataset, a checkpoint's index) are checked with
`check_memory` before anything is allocated, so a lying header costs an error message, not the
machine's memory. Reads only the kernel's own files (`/proc`, `/sys/fs/cgroup`).
"""

from __future__ import annotations

import os

from projector_export.errors import ProjectorExportError


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, as in a container), for worker counts."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def check_memory(nbytes: int, what: str, fix: str) -> None:
    """Refuse to allocate `nbytes` for `what` when this process cannot have them.

    Declared sizes (an `.npy` header, an HDF5 dataset, a word2vec header) are
    checked before anything is allocated, so a lying header costs an error
    message, not the machine's memory.
    """
    available = available_memory()
    if available is not None and nbytes > available:
        raise ProjectorExportError(
            f"{what} needs {format_bytes(nbytes)} of memory, but this process has {format_bytes(available)}; {fix}"
        )


def available_memory() -> int | None:
    """Bytes this process may still allocate: the system's available memory, lowered by a
    cgroup limit and by RLIMIT_AS/RLIMIT_DATA; None where none of these can be read."""
    limits = []
    meminfo = _read_key_values("/proc/meminfo")
    if "MemAvailable" in meminfo:
        limits.append(meminfo["MemAvailable"])
    cgroup = _cgroup_room()
    if cgroup is not None:
        limits.append(cgroup)
    try:
        import resource
    except ImportError:  # not on Unix
        return min(limits, default=None)
    status = _read_key_values("/proc/self/status")
    for limit, used in ((resource.RLIMIT_AS, "VmSize"), (resource.RLIMIT_DATA, "VmData")):
        soft = resource.getrlimit(limit)[0]
        if soft != resource.RLIM_INFINITY and used in status:
            limits.append(max(0, soft - status[used]))
    return min(limits, default=None)


def _read_key_values(path: str) -> dict[str, int]:
    """`Key:   123 kB` lines of a /proc file, in bytes."""
    values = {}
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                key, _, rest = line.partition(":")
                parts = rest.split()
                if parts and parts[0].isdigit():
                    values[key] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    except OSError:
        pass
    return values


def _cgroup_room() -> int | None:
    """What a cgroup v2 memory limit leaves, if this process has one."""
    try:
        with open("/proc/self/cgroup", encoding="ascii") as f:
            path = next((line.split("::", 1)[1].strip() for line in f if line.startswith("0::")), None)
        if path is None:
            return None
        folder = os.path.join("/sys/fs/cgroup", path.lstrip("/"))
        with open(os.path.join(folder, "memory.max"), encoding="ascii") as f:
            limit = f.read().strip()
        with open(os.path.join(folder, "memory.current"), encoding="ascii") as f:
            current = int(f.read().strip())
    except (OSError, ValueError):
        return None
    return None if limit == "max" else max(0, int(limit) - current)


def format_bytes(count: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if count < 1000 or unit == "PB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")
