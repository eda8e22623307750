"""etcdmon_gui.monitor"""
