"""CPU/RAM/GPU detection, hardware tiers, memory-fit estimates and the model catalog."""
