from .cpu_allocator import keep_freed_cpu_memory

__all__ = ['keep_freed_cpu_memory']
