"""etcdmon_gui.ui"""
