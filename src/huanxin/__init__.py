"""Huanxin (焕新): running a city's programme of equipment renewal and consumer-goods trade-in."""
