"""etcdmon_gui.notify"""
