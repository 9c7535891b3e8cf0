"""The disk quota per learner: kernel-bounded layers where the engine allows, the rest measured.

* :mod:`~bot.sandbox.disk.storage`: whether the engine's storage driver bounds a container's
  writable layer in the kernel (btrfs: ``--storage-opt size``), and the option to pass.
* :mod:`~bot.sandbox.disk.meter`: the tutor's own meter container, measuring volumes, the
  workspace, layers (on overlay engines) and deleted-but-open files, bounded per learner.
* :mod:`~bot.sandbox.disk.lease`: one watcher per engine and namespace, across processes.
* :mod:`~bot.sandbox.disk.watch`: the watcher thread, its adaptive interval, and stopping
  only the containers proven to grow.
"""
