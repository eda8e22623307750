"""etcdmon_gui.bench"""
