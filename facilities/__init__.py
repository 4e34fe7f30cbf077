"""Facilities: categories, loaders for OSM, Amap/Baidu tables and registers, cleaning."""
