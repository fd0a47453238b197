__version__ = "0.1.0"

# bitsandbytes logs a warning when it is imported on a machine without CUDA (its optional CPU kernels are missing).
# polypersona quantizes only on CUDA, so on a CPU that warning says nothing about a run: every module of the
# library (this file runs before any of them) raises it to an error level, for notebooks and commands alike.
import logging
logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
