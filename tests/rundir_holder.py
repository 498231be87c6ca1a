"""Opens a RunFolder and holds its lock until killed (for the lock tests).

Usage: python tests/rundir_holder.py DIR
"""

import sys
import threading

from rnn_jax.runs import RunFolder

if __name__ == "__main__":
    with RunFolder(sys.argv[1], {"kind": "holder"}):
        print("locked", flush=True)
        threading.Event().wait()  # until the test kills this process
