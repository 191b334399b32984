"""Venues: the simulated market (a vnpy gateway) and the paper broker that fills its orders."""
