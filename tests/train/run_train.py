"""Run ``python -m jcnn train ...`` in a subprocess, with the data stand-in installed if needed.

``JCNN_TEST_BATCH_DELAY=seconds`` slows every training batch down, so a test
can kill the process at a step of its choosing.
"""

import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))


class _Slow:
    def __init__(self, it, delay):
        self.it, self.delay = it, delay

    def __iter__(self):
        return self

    def __next__(self):
        time.sleep(self.delay)
        return next(self.it)

    def get_state(self):
        return self.it.get_state()

    def set_state(self, state):
        self.it.set_state(state)


if __name__ == "__main__":
    delay = float(os.environ.get("JCNN_TEST_BATCH_DELAY", "0") or 0)
    if delay:
        import jcnn.data
        from jcnn.train import loop

        real = loop.train_iterator
        loop.train_iterator = lambda cfg, b: _Slow(real(cfg, b), delay)
    from jcnn.__main__ import main

    sys.exit(main(["train", *sys.argv[1:]]))
