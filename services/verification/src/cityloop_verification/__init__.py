"""CityLoop verification service — 核查结案: on-site check, closing, rework."""
