// One line per reference adapter, each from src/memory-<port>.ts:
