"""etcdmon-gui: a desktop monitor for etcd clusters."""

__version__ = "0.1.0"
