"""etcdmon_gui.workers"""
