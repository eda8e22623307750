"""etcdmon_gui.model"""
