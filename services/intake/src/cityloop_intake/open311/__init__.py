"""Open311 GeoReport v2 (公众举报 by any 311 client): services are categories, requests cases.

The specification: http://wiki.open311.org/GeoReport_v2 and its Service Discovery page.
"""
