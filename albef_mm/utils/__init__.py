from .config_finder import config_path, config_root
from .cpu_allocator import keep_freed_cpu_memory

__all__ = ['config_path', 'config_root', 'keep_freed_cpu_memory']
