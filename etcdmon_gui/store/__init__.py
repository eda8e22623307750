"""etcdmon_gui.store"""
