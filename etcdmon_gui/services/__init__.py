"""Qt-free services that combine the core packages into what runs for a long time:
the desktop app's workers run them in their threads, ``etcdmon watch`` in its own."""
