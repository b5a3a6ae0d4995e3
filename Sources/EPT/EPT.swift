/// EPT: guest-physical memory (memory map, frame allocator, EPT tables).
